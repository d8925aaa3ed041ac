// actscope playground: the page. It holds no model: it sends settings and actions to the
// server, receives snapshots over server-sent events and draws them (draw.js). It tells the
// user when the server cannot be reached, and what was lost when the server restarted.
"use strict";

const $ = (sel, el = document) => el.querySelector(sel);
const ARM_COLORS = ["#7b3fa0", "#16804a"];
const ARMS = ["a", "b"];
const RETRY_MS = 2000;

const page = { options: null, defaults: null, sid: null, latest: null, events: null, seq: 0,
               chain: Promise.resolve(), offline: false, lost: false };
const form = $("#controls");
form.addEventListener("submit", (e) => e.preventDefault());  // no inline handler: the CSP forbids them

// ---------------------------------------------------------------------------------------
// talking to the server

class Offline extends Error {}

async function api(method, path, body) {
  const init = { method, headers: {} };
  if (body === undefined && (method === "POST" || method === "PUT")) body = {};  // the server wants JSON
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try { res = await fetch(path, init); } catch (e) { throw new Offline("the server cannot be reached"); }
  const text = await res.text();
  let data;
  try { data = JSON.parse(text); } catch (e) { data = { detail: text }; }
  if (!res.ok) {
    const err = new Error(typeof data.detail === "string" ? data.detail : res.statusText);
    err.status = res.status;
    throw err;
  }
  return data;
}

// one message (or a list under a title) in the error box; a formula's error goes beside its box
function showError(message, list) {
  const box = $("#error");
  box.textContent = "";
  for (const el of form.elements) el.classList.remove("invalid");
  for (const arm of ARMS) { const fe = $(`#formula-error-${arm}`); fe.hidden = true; fe.textContent = ""; }
  const m = message && !list && message.match(/^(\w+) =/);
  if (m && (m[1] === "act_a" || m[1] === "act_b")) {
    const arm = m[1].slice(-1), fe = $(`#formula-error-${arm}`);
    fe.textContent = message.replace(/^act_[ab] = /, "");
    fe.hidden = false;
    form.elements[`formula_${arm}`].classList.add("invalid");
    box.hidden = true;
    return;
  }
  if (m && form.elements[m[1]]) form.elements[m[1]].classList.add("invalid");
  box.append(message || "");
  if (list && list.length) {
    const ul = document.createElement("ul");
    for (const item of list) { const li = document.createElement("li"); li.textContent = item; ul.append(li); }
    box.append(ul);
  }
  box.hidden = !message;
}

function showBanner(text, resume) {
  $("#banner-text").textContent = text;
  $("#resume").hidden = !resume;
  $("#banner").hidden = !text;
}

// the server is down: say so (never PLAYING), stop listening, and try again every RETRY_MS
function goOffline() {
  if (page.offline || page.lost) return;
  page.offline = true;
  if (page.events) { page.events.close(); page.events = null; }
  $("#state").textContent = "offline";
  document.body.dataset.state = "offline";
  $("#play").innerHTML = "&#x25b6; Play";
  showBanner("Connection to the server lost: nothing is training or updating. Retrying every 2 s…", false);
  setTimeout(retry, RETRY_MS);
}

async function retry() {
  try {
    await api("GET", `/api/sessions/${page.sid}`);
    page.offline = false;
    showBanner("");
    connect();
  } catch (e) {
    if (e instanceof Offline) { setTimeout(retry, RETRY_MS); return; }
    page.offline = false;
    sessionLost("The server restarted, or this session expired");
  }
}

// the session is gone: say what was lost and offer to start again from the link's settings
function sessionLost(why) {
  if (page.lost) return;
  page.lost = true;
  if (page.events) { page.events.close(); page.events = null; }
  const snap = page.latest || {};
  const upload = snap.upload ? ` and the uploaded points (${snap.upload.name}: upload them again)` : "";
  $("#state").textContent = "lost";
  document.body.dataset.state = "lost";
  showBanner(`${why}: its training (epoch ${snap.epoch ?? 0} of both arms)${upload} was lost. ` +
             "The settings are kept in this page's link.", true);
}

async function resume() {
  try {
    const { config, errors } = await checkLink();
    await createSession(config);
    page.lost = false;
    showBanner("");
    showError(errors.length ? "Some settings of the link were refused; the others were kept:" : "", errors);
  } catch (e) {
    if (e instanceof Offline) showBanner("The server still cannot be reached; try again in a moment.", true);
    else showError(e.message);
  }
}

function failed(e) {
  if (e instanceof Offline) goOffline();
  else if (e.status === 404) sessionLost("This session no longer exists on the server");
  else showError(e.message);
}

function connect() {
  if (page.events) page.events.close();
  const es = new EventSource(`/api/sessions/${page.sid}/events`);
  es.onmessage = (e) => render(JSON.parse(e.data));
  es.addEventListener("gone", () => sessionLost("This session expired on the server"));
  es.onerror = async () => {
    try { await api("GET", `/api/sessions/${page.sid}`); } catch (e) { failed(e); }
  };
  page.events = es;
}

async function createSession(cfg) {
  const snap = await api("POST", "/api/sessions", cfg);
  page.sid = snap.session;
  page.latest = null;
  $("#export").href = `/api/sessions/${page.sid}/config.toml`;
  $("#weights").href = `/api/sessions/${page.sid}/weights.json`;
  fillForm(snap.config);
  updateURL(snap.config);
  render(snap);
  connect();
}

async function action(name) {
  try { render(await api("POST", `/api/sessions/${page.sid}/${name}`)); } catch (e) { failed(e); }
}

// Changes are sent one at a time, and only the latest one is sent and applied to the form,
// so quick successive edits can never be undone by a late reply.
function configChanged() {
  const seq = ++page.seq;
  page.chain = page.chain.then(() => sendConfig(seq));
}

async function sendConfig(seq) {
  if (seq !== page.seq || page.lost) return;
  const cfg = readForm();
  if (cfg.layer > cfg.depth) cfg.layer = cfg.depth;
  try {
    const snap = await api("PUT", `/api/sessions/${page.sid}/config`, cfg);
    render(snap);
    if (seq !== page.seq) return;
    showError("");
    fillForm(snap.config);
    updateURL(snap.config);
  } catch (e) {
    if (e.status === undefined || e.status === 404) { failed(e); return; }
    if (seq === page.seq) showError(e.message);
  }
}

async function uploadPoints() {
  const input = $("#upload"), box = $("#upload-error"), file = input.files[0];
  box.hidden = true;
  if (!file) return;
  const lim = page.options.upload;
  try {
    if (file.size > lim.max_bytes)
      throw new Error(`${file.name}: ${file.size.toLocaleString("en")} bytes; an upload holds at most ` +
                      `${lim.max_bytes.toLocaleString("en")} bytes (${lim.min_rows} to ${lim.max_rows} rows)`);
    render(await api("POST", `/api/sessions/${page.sid}/points`, { name: file.name, csv: await file.text() }));
    fillForm(page.latest.config);
    updateURL(page.latest.config);
  } catch (e) {
    if (e instanceof Offline || e.status === 404) { failed(e); return; }
    box.textContent = e.message;
    box.hidden = false;
  } finally {
    input.value = "";
  }
}

// ---------------------------------------------------------------------------------------
// the settings: form <-> config <-> URL

function fillSelect(name, values, labels) {
  const sel = form.elements[name];
  sel.innerHTML = "";
  values.forEach((v, i) => sel.add(new Option(labels ? labels[i] : v, v)));
}

function setLayerOptions(depth) {
  const sel = form.elements.layer;
  const cur = sel.value;
  fillSelect("layer", Array.from({ length: depth }, (_, i) => String(i + 1)));
  if (Number(cur) >= 1 && Number(cur) <= depth) sel.value = cur;
}

function setDatasetOptions(upload) {
  const sel = form.elements.dataset, cur = sel.value;
  fillSelect("dataset", page.options.datasets);
  if (upload) sel.add(new Option(`your points (${upload.name}, ${upload.rows} rows)`, "upload"));
  sel.value = cur;
}

function readForm() {
  const cfg = {};
  for (const [key, def] of Object.entries(page.defaults)) {
    const el = form.elements[key];
    if (!el) continue;
    const raw = el.value.trim();
    cfg[key] = typeof def === "number" ? (raw === "" ? null : Number(raw)) : raw;
  }
  for (const arm of ARMS) {
    const typed = form.elements[`formula_${arm}`].value.trim();
    if (typed) cfg[`act_${arm}`] = typed;
  }
  return cfg;
}

function fillForm(cfg) {
  setLayerOptions(cfg.depth);
  for (const [key, value] of Object.entries(cfg)) {
    const el = form.elements[key];
    if (el) el.value = String(value);
  }
  const names = page.options.activations.map((a) => a.name);
  for (const arm of ARMS) {  // a formula or parameterised name: in the box, the list on "formula"
    const act = cfg[`act_${arm}`], custom = !names.includes(act);
    form.elements[`act_${arm}`].value = custom ? "" : act;
    form.elements[`formula_${arm}`].value = custom ? act : "";
  }
  for (const el of form.elements) el.classList.remove("invalid");
}

// the link's settings, checked by the server: every error listed, every valid setting kept
async function checkLink() {
  const params = new URLSearchParams(location.search), raw = {};
  for (const [key, value] of params) {
    const def = page.defaults[key], num = Number(value);
    raw[key] = typeof def === "number" && value.trim() !== "" && Number.isFinite(num) ? num : value;
  }
  return api("POST", "/api/check", raw);
}

function updateURL(cfg) {
  const params = new URLSearchParams();
  for (const key of Object.keys(page.defaults)) params.set(key, String(cfg[key]));
  history.replaceState(null, "", `${location.pathname}?${params}`);
}

// ---------------------------------------------------------------------------------------
// drawing a snapshot

function finite(arrays, pick) {
  let m = null;
  for (const a of arrays) for (const v of a) if (v !== null && Number.isFinite(v) && v > 0) m = m === null ? v : pick(m, v);
  return m;
}

function armSection(i) {
  const sec = $(`#arm-${i}`);
  if (!sec.firstElementChild) {
    sec.appendChild($("#arm-template").content.cloneNode(true));
    sec.querySelector(".boundary").id = `boundary-${i}`;
    sec.querySelector(".gradients").id = `gradients-${i}`;
    sec.querySelector(".test-acc").id = `acc-${i}`;
    Draw.colourBar(sec.querySelector(".prob-bar"), Draw.probColor);
    Draw.colourBar(sec.querySelector(".neuron-bar"), Draw.viridis);
  }
  return sec;
}

function captions(sec, arm) {
  const sig = arm.signal, pct = (v) => (v === null ? "–" : `${Math.round(v * 100)}%`);
  let health = "";
  if (sig.saturated) health += ` · saturated: ${sig.saturated.map(pct).join(", ")}`;
  if (sig.dead) health += ` · dead units: ${sig.dead.map(pct).join(", ")}`;
  sec.querySelector(".signal-caption").textContent = `Signal trace: mean |value| per stage (test set)${health}`;
  const sc = arm.scatter;
  sec.querySelector(".scatter-caption").textContent =
    `Hidden space of layer ${sc.layer} (${sc.axes.filter(Boolean).join(" / ")}), std ${Draw.fmt(sc.std)}` +
    ` · std per layer: ${arm.hidden_std.map((s) => Draw.fmt(s, 2)).join(", ")}`;
  const nv = arm.neurons;
  sec.querySelector(".neuron-caption").textContent = `Neurons of layer ${nv.layer} over the input plane`;
  sec.querySelector(".nv-lo").textContent = Draw.fmt(nv.lo, 2);
  sec.querySelector(".nv-hi").textContent = Draw.fmt(nv.hi, 2);
}

// why the two init hashes differ (or not): the same raw draws, each arm's scheme scaling them
function initNote(arm, other, i) {
  const v = arm.init_sigma_w2.map((x) => x.toFixed(2));
  const s2 = v.every((x) => x === v[0]) ? `σw² = ${v[0]} in every layer` : `σw² = ${v.join(", ")} by layer`;
  if (arm.init === other.init) return `Same initial weights as arm ${i ? "A" : "B"}: same raw draws, same scaling (${s2}).`;
  return `Init hash differs from arm ${i ? "A" : "B"}'s although both start from the same raw random draws: ` +
    `this arm's init scheme scales them to ${s2}.`;
}

function render(snap) {
  const prev = page.latest;
  if (prev && prev.session === snap.session && snap.version < prev.version) return;
  page.latest = snap;
  $("#epoch").textContent = snap.epoch;
  $("#epochs").textContent = snap.epochs;
  if (!page.offline && !page.lost) {
    $("#state").textContent = snap.state;
    document.body.dataset.state = snap.state;
    $("#play").innerHTML = snap.state === "playing" ? "&#x275a;&#x275a; Pause" : "&#x25b6; Play";
  }
  setDatasetOptions(snap.upload);
  const arms = snap.arms;
  const scale = { loss: Math.min(Math.max(finite(arms.map((a) => a.curves.test_loss.concat(a.curves.train_loss)), Math.max) || 0, 0.8), 5) };
  const signalMax = Math.max(finite(arms.map((a) => a.signal.values), Math.max) || 0, 1e-6) * 1.05;
  const all = arms.flatMap((a) => a.gradients.layers);
  const grange = [Math.floor(Math.log10(finite(all, Math.min) || 1e-3)), Math.ceil(Math.log10(finite(all, Math.max) || 1))];
  if (grange[1] <= grange[0]) grange[1] = grange[0] + 1;
  arms.forEach((arm, i) => {
    const sec = armSection(i), colour = ARM_COLORS[i];
    sec.querySelector(".tag").textContent = i === 0 ? "A" : "B";
    sec.querySelector(".act").textContent = arm.activation;
    const acc = sec.querySelector(".test-acc");
    acc.textContent = Draw.fmt(arm.last.test_acc);
    acc.dataset.value = arm.last.test_acc === null ? "" : String(arm.last.test_acc);
    sec.querySelector(".test-loss").textContent = Draw.fmt(arm.last.test_loss);
    sec.querySelector(".train-loss").textContent = Draw.fmt(arm.last.train_loss);
    sec.querySelector(".init").textContent = arm.init;
    sec.querySelector(".weights").title = `initial weights ${arm.init}, current weights ${arm.weights} ` +
      "(the arms share the raw random draws; each init scheme scales them, so the hashes differ)";
    sec.querySelector(".diverged").hidden = !arm.diverged;
    sec.querySelector(".init-note").textContent = initNote(arm, arms[1 - i], i);
    Draw.boundary(sec.querySelector(".boundary"), arm.boundary, snap.data, snap.epoch);
    Draw.curves(sec.querySelector(".curves"), arm, colour, scale, snap.epochs);
    Draw.gradients(sec.querySelector(".gradients"), arm, grange, snap.epochs);
    Draw.signal(sec.querySelector(".signal"), arm, colour, signalMax);
    Draw.scatter(sec.querySelector(".scatter"), arm.scatter);
    Draw.neurons(sec.querySelector(".neurons"), arm.neurons);
    captions(sec, arm);
  });
}

// ---------------------------------------------------------------------------------------
// wiring

async function main() {
  const opts = await api("GET", "/api/options");
  page.options = opts;
  page.defaults = opts.defaults;
  const acts = opts.activations.map((a) => a.name);
  const actLabels = opts.activations.map((a) => `${a.name} (${a.family})`);
  fillSelect("act_a", ["", ...acts], ["(formula →)", ...actLabels]);
  fillSelect("act_b", ["", ...acts], ["(formula →)", ...actLabels]);
  fillSelect("dataset", opts.datasets);
  fillSelect("init", opts.inits);
  fillSelect("optimizer", opts.optimizers);
  for (const [key, lim] of Object.entries(opts.limits)) {
    const el = form.elements[key];
    if (el && el.type === "number") { el.min = lim.min; el.max = lim.max; }
  }
  const { config, errors } = await checkLink();
  await createSession(config);
  if (errors.length) showError(`This link has ${errors.length} setting(s) the server refused; the others were kept:`, errors);
  for (const arm of ARMS) {  // choosing from the list clears the formula box (before the form hears it)
    form.elements[`act_${arm}`].addEventListener("change", () => { form.elements[`formula_${arm}`].value = ""; });
  }
  form.addEventListener("change", (e) => { if (e.target.id !== "upload") configChanged(); });
  $("#upload").addEventListener("change", uploadPoints);
  $("#resume").addEventListener("click", resume);
  $("#play").addEventListener("click", () =>
    action(page.latest && page.latest.state === "playing" ? "pause" : "play"));
  $("#step").addEventListener("click", () => action("step"));
  $("#reset").addEventListener("click", () => action("reset"));
  $("#share").addEventListener("click", async () => {
    const btn = $("#share");
    try { await navigator.clipboard.writeText(location.href); btn.textContent = "Link copied"; }
    catch (e) { window.prompt("Copy this link:", location.href); }
    setTimeout(() => { btn.textContent = "Copy link"; }, 1500);
  });
  // the session lives while the page is looked at: an open event stream alone does not keep it
  setInterval(() => {
    if (page.sid && !page.lost && !page.offline && document.visibilityState === "visible")
      api("POST", `/api/sessions/${page.sid}/heartbeat`).catch(failed);
  }, 60000);
  window.addEventListener("pagehide", () => {
    if (page.sid) fetch(`/api/sessions/${page.sid}`, { method: "DELETE", keepalive: true });
  });
}

main().catch((e) => showError(`The playground could not start: ${e.message}`));
