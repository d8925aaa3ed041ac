// actscope playground: the page. It holds no model: it sends settings and actions to the
// server, receives snapshots over server-sent events and draws them on canvas.
"use strict";

const $ = (sel, el = document) => el.querySelector(sel);
const C0 = [245, 147, 34];   // class 0
const C1 = [8, 119, 189];    // class 1
const ARM_COLORS = ["#7b3fa0", "#16804a"];
const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];

const page = { options: null, defaults: null, sid: null, latest: null, events: null, seq: 0, chain: Promise.resolve() };
const form = $("#controls");
form.addEventListener("submit", (e) => e.preventDefault());  // no inline handler: the CSP forbids them

// ---------------------------------------------------------------------------------------
// talking to the server

async function api(method, path, body) {
  const init = { method, headers: {} };
  if (body === undefined && (method === "POST" || method === "PUT")) body = {};  // the server wants JSON
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
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

function showError(message) {
  const box = $("#error");
  box.textContent = message;
  box.hidden = !message;
  for (const el of form.elements) el.classList.remove("invalid");
  const m = message && message.match(/^(\w+) =/);
  if (m && form.elements[m[1]]) form.elements[m[1]].classList.add("invalid");
}

function connect() {
  if (page.events) page.events.close();
  const es = new EventSource(`/api/sessions/${page.sid}/events`);
  es.onmessage = (e) => render(JSON.parse(e.data));
  es.addEventListener("gone", () => recreate());
  es.onerror = async () => {
    if (es.readyState !== EventSource.CLOSED) return;   // the browser retries by itself
    try { await api("GET", `/api/sessions/${page.sid}`); connect(); } catch (e) { recreate(); }
  };
  page.events = es;
}

async function createSession(cfg) {
  const snap = await api("POST", "/api/sessions", cfg);
  page.sid = snap.session;
  page.latest = null;
  $("#export").href = `/api/sessions/${page.sid}/config.toml`;
  fillForm(snap.config);
  updateURL(snap.config);
  render(snap);
  connect();
}

async function recreate() {
  try { await createSession(readForm()); } catch (e) { showError(e.message); }
}

async function action(name) {
  try {
    render(await api("POST", `/api/sessions/${page.sid}/${name}`));
  } catch (e) {
    if (e.status === 404) { await recreate(); return; }
    showError(e.message);
  }
}

// Changes are sent one at a time, and only the latest one is sent and applied to the form,
// so quick successive edits can never be undone by a late reply.
function configChanged() {
  const seq = ++page.seq;
  page.chain = page.chain.then(() => sendConfig(seq));
}

async function sendConfig(seq) {
  if (seq !== page.seq) return;
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
    if (e.status === 404) { await recreate(); return; }
    if (seq === page.seq) showError(e.message);
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

function readForm() {
  const cfg = {};
  for (const [key, def] of Object.entries(page.defaults)) {
    const el = form.elements[key];
    if (!el) continue;
    const raw = el.value.trim();
    cfg[key] = typeof def === "number" ? (raw === "" ? null : Number(raw)) : raw;
  }
  return cfg;
}

function fillForm(cfg) {
  setLayerOptions(cfg.depth);
  for (const [key, value] of Object.entries(cfg)) {
    const el = form.elements[key];
    if (el) el.value = String(value);
  }
  for (const el of form.elements) el.classList.remove("invalid");
}

function configFromURL() {
  const params = new URLSearchParams(location.search);
  const cfg = { ...page.defaults };
  for (const [key, value] of params) {
    if (!(key in cfg)) continue;
    cfg[key] = typeof page.defaults[key] === "number" ? Number(value) : value;
  }
  return cfg;
}

function updateURL(cfg) {
  const params = new URLSearchParams();
  for (const key of Object.keys(page.defaults)) params.set(key, String(cfg[key]));
  history.replaceState(null, "", `${location.pathname}?${params}`);
}

// ---------------------------------------------------------------------------------------
// drawing

function bytesOf(b64) {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function mix(a, b, t) { return [0, 1, 2].map((i) => Math.round(a[i] + (b[i] - a[i]) * t)); }

function probColor(p) {
  const white = [255, 255, 255];
  const c = p < 0.5 ? mix(C0, white, p / 0.5) : mix(white, C1, (p - 0.5) / 0.5);
  return mix(c, white, 0.35);
}

function viridis(t) {
  const x = Math.min(Math.max(t, 0), 1) * (VIRIDIS.length - 1);
  const i = Math.min(Math.floor(x), VIRIDIS.length - 2);
  return mix(VIRIDIS[i], VIRIDIS[i + 1], x - i);
}

// a grid of bytes (row 0 = lowest y) as an image, flipped so that up is +y
function gridImage(bytes, nx, ny, colour) {
  const off = document.createElement("canvas");
  off.width = nx; off.height = ny;
  const ctx = off.getContext("2d");
  const img = ctx.createImageData(nx, ny);
  for (let r = 0; r < ny; r++) {
    for (let c = 0; c < nx; c++) {
      const [R, G, B] = colour(bytes[r * nx + c] / 255);
      const o = ((ny - 1 - r) * nx + c) * 4;
      img.data[o] = R; img.data[o + 1] = G; img.data[o + 2] = B; img.data[o + 3] = 255;
    }
  }
  ctx.putImageData(img, 0, 0);
  return off;
}

function drawBoundary(canvas, b, data, epoch) {
  const ctx = canvas.getContext("2d");
  const W = canvas.width, H = canvas.height;
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(gridImage(bytesOf(b.data), b.nx, b.ny, probColor), 0, 0, W, H);
  const [x0, x1, y0, y1] = b.extent;
  const sx = (x) => ((x - x0) / (x1 - x0)) * W;
  const sy = (y) => H - ((y - y0) / (y1 - y0)) * H;
  const dot = (p, label, ring) => {
    ctx.beginPath();
    ctx.arc(sx(p[0]), sy(p[1]), 3.2, 0, 2 * Math.PI);
    ctx.fillStyle = `rgb(${label ? C1 : C0})`;
    ctx.fill();
    ctx.lineWidth = ring ? 1.4 : 0.8;
    ctx.strokeStyle = ring ? "#111" : "#fff";
    ctx.stroke();
  };
  data.train.x.forEach((p, i) => dot(p, data.train.y[i], false));
  data.test.x.forEach((p, i) => dot(p, data.test.y[i], true));
  canvas.dataset.drawn = "1";
  canvas.dataset.epoch = String(epoch);
}

function axes(ctx, x, y, w, h, lo, hi, label) {
  ctx.strokeStyle = "#999"; ctx.lineWidth = 1;
  ctx.beginPath(); ctx.moveTo(x, y); ctx.lineTo(x, y + h); ctx.lineTo(x + w, y + h); ctx.stroke();
  ctx.fillStyle = "#666"; ctx.font = "10px sans-serif"; ctx.textAlign = "right";
  ctx.fillText(fmt(hi, 2), x - 3, y + 8);
  ctx.fillText(fmt(lo, 2), x - 3, y + h);
  ctx.textAlign = "left";
  ctx.fillText(label, x + 4, y + 10);
}

function line(ctx, xs, ys, sx, sy, colour, dashed) {
  ctx.strokeStyle = colour; ctx.lineWidth = 1.6;
  ctx.setLineDash(dashed ? [4, 3] : []);
  ctx.beginPath();
  let pen = false;
  xs.forEach((x, i) => {
    const v = ys[i];
    if (v === null || v === undefined) { pen = false; return; }
    if (pen) ctx.lineTo(sx(x), sy(v)); else ctx.moveTo(sx(x), sy(v));
    pen = true;
  });
  ctx.stroke();
  ctx.setLineDash([]);
}

function drawCurves(canvas, arm, colour, scale, epochs) {
  const ctx = canvas.getContext("2d");
  const W = canvas.width, H = canvas.height;
  ctx.clearRect(0, 0, W, H);
  const c = arm.curves, L = 34, w = W - L - 8, h = H / 2 - 26;
  const xmax = Math.max(epochs, 1);
  const sx = (e) => L + (e / xmax) * w;
  const panels = [
    { top: 8, lo: 0, hi: scale.loss, keys: ["train_loss", "test_loss"], label: "loss" },
    { top: H / 2 + 8, lo: 0, hi: 1, keys: ["train_acc", "test_acc"], label: "accuracy" },
  ];
  for (const p of panels) {
    axes(ctx, L, p.top, w, h, p.lo, p.hi, p.label);
    const sy = (v) => p.top + h - ((Math.min(v, p.hi) - p.lo) / (p.hi - p.lo)) * h;
    line(ctx, c.epoch, c[p.keys[0]], sx, sy, "#888", true);
    line(ctx, c.epoch, c[p.keys[1]], sx, sy, colour, false);
  }
  ctx.fillStyle = "#666"; ctx.font = "10px sans-serif"; ctx.textAlign = "right";
  ctx.fillText(`epoch ${xmax}`, W - 8, H - 4);
}

function drawSignal(canvas, arm, colour, vmax) {
  const ctx = canvas.getContext("2d");
  const W = canvas.width, H = canvas.height;
  ctx.clearRect(0, 0, W, H);
  const { stages, values } = arm.signal;
  const L = 34, top = 8, w = W - L - 10, h = H - top - 26;
  axes(ctx, L, top, w, h, 0, vmax, "");
  const step = w / stages.length;
  ctx.font = "10px sans-serif"; ctx.textAlign = "center";
  stages.forEach((s, i) => {
    const v = values[i] === null ? 0 : values[i];
    const bh = (Math.min(v, vmax) / vmax) * h;
    ctx.fillStyle = s.startsWith("a") ? colour : "#bbb";
    ctx.fillRect(L + i * step + step * 0.18, top + h - bh, step * 0.64, bh);
    ctx.fillStyle = "#444";
    ctx.fillText(s, L + (i + 0.5) * step, H - 12);
  });
}

function drawScatter(canvas, sc) {
  const ctx = canvas.getContext("2d");
  const W = canvas.width, H = canvas.height;
  ctx.clearRect(0, 0, W, H);
  const pts = sc.points.filter((p) => p[0] !== null && p[1] !== null);
  let m = 1e-9;
  for (const p of pts) m = Math.max(m, Math.abs(p[0]), Math.abs(p[1]));
  const pad = 12, s = (Math.min(W, H) / 2 - pad) / m;
  const cx = W / 2, cy = H / 2;
  ctx.strokeStyle = "#eee";
  ctx.beginPath(); ctx.moveTo(0, cy); ctx.lineTo(W, cy); ctx.moveTo(cx, 0); ctx.lineTo(cx, H); ctx.stroke();
  sc.points.forEach((p, i) => {
    if (p[0] === null || p[1] === null) return;
    ctx.beginPath();
    ctx.arc(cx + p[0] * s, cy - p[1] * s, 2.6, 0, 2 * Math.PI);
    ctx.fillStyle = `rgba(${sc.labels[i] ? C1 : C0},0.8)`;
    ctx.fill();
  });
  ctx.fillStyle = "#666"; ctx.font = "10px sans-serif"; ctx.textAlign = "right";
  ctx.fillText(sc.axes[0], W - 4, cy - 4);
  ctx.textAlign = "left";
  ctx.fillText(sc.axes[1], cx + 4, 10);
  ctx.fillText(`scale ±${fmt(m, 2)}`, 4, H - 4);
}

function drawNeurons(box, nv) {
  while (box.children.length > nv.maps.length) box.lastChild.remove();
  while (box.children.length < nv.maps.length) {
    const c = document.createElement("canvas");
    c.width = nv.side; c.height = nv.rows;
    box.appendChild(c);
  }
  nv.maps.forEach((m, j) => {
    const c = box.children[j];
    c.width = nv.side; c.height = nv.rows;
    c.title = `layer ${nv.layer}, unit ${j + 1}`;
    c.getContext("2d").drawImage(gridImage(bytesOf(m), nv.side, nv.rows, viridis), 0, 0);
  });
}

function fmt(v, digits = 3) {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  if (Math.abs(v) >= 1000 || (Math.abs(v) < 0.01 && v !== 0)) return v.toExponential(1);
  return v.toFixed(digits);
}

function finiteMax(arrays, floor) {
  let m = floor;
  for (const a of arrays) for (const v of a) if (v !== null && Number.isFinite(v)) m = Math.max(m, v);
  return m;
}

function armSection(i) {
  const sec = $(`#arm-${i}`);
  if (!sec.firstElementChild) {
    sec.appendChild($("#arm-template").content.cloneNode(true));
    sec.querySelector(".boundary").id = `boundary-${i}`;
    sec.querySelector(".test-acc").id = `acc-${i}`;
  }
  return sec;
}

function render(snap) {
  const prev = page.latest;
  if (prev && prev.session === snap.session && snap.version < prev.version) return;
  page.latest = snap;
  $("#epoch").textContent = snap.epoch;
  $("#epochs").textContent = snap.epochs;
  $("#state").textContent = snap.state;
  $("#play").innerHTML = snap.state === "playing" ? "&#x275a;&#x275a; Pause" : "&#x25b6; Play";
  document.body.dataset.state = snap.state;
  const arms = snap.arms;
  const scale = {
    loss: Math.min(finiteMax(arms.map((a) => a.curves.test_loss.concat(a.curves.train_loss)), 0.8), 5),
  };
  const signalMax = finiteMax(arms.map((a) => a.signal.values), 1e-6) * 1.05;
  arms.forEach((arm, i) => {
    const sec = armSection(i);
    const colour = ARM_COLORS[i];
    sec.querySelector(".tag").textContent = i === 0 ? "A" : "B";
    sec.querySelector(".act").textContent = arm.activation;
    const acc = sec.querySelector(".test-acc");
    acc.textContent = fmt(arm.last.test_acc);
    acc.dataset.value = arm.last.test_acc === null ? "" : String(arm.last.test_acc);
    sec.querySelector(".test-loss").textContent = fmt(arm.last.test_loss);
    sec.querySelector(".train-loss").textContent = fmt(arm.last.train_loss);
    sec.querySelector(".init").textContent = arm.init;
    sec.querySelector(".weights").title = `initial weights ${arm.init}, current weights ${arm.weights}`;
    sec.querySelector(".diverged").hidden = !arm.diverged;
    drawBoundary(sec.querySelector(".boundary"), arm.boundary, snap.data, snap.epoch);
    drawCurves(sec.querySelector(".curves"), arm, colour, scale, snap.epochs);
    drawSignal(sec.querySelector(".signal"), arm, colour, signalMax);
    const sig = arm.signal, pct = (v) => (v === null ? "–" : `${Math.round(v * 100)}%`);
    let health = "";
    if (sig.saturated) health += ` · saturated: ${sig.saturated.map(pct).join(", ")}`;
    if (sig.dead) health += ` · dead units: ${sig.dead.map(pct).join(", ")}`;
    sec.querySelector(".signal-caption").textContent = `Signal trace: mean |value| per stage (test set)${health}`;
    const sc = arm.scatter;
    sec.querySelector(".scatter-caption").textContent =
      `Hidden space of layer ${sc.layer} (${sc.axes.filter(Boolean).join(" / ")}), std ${fmt(sc.std)}` +
      ` · std per layer: ${arm.hidden_std.map((s) => fmt(s, 2)).join(", ")}`;
    drawScatter(sec.querySelector(".scatter"), sc);
    const nv = arm.neurons;
    sec.querySelector(".neuron-caption").textContent =
      `Neurons of layer ${nv.layer} over the input plane (colour: ${fmt(nv.lo, 2)} to ${fmt(nv.hi, 2)})`;
    drawNeurons(sec.querySelector(".neurons"), nv);
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
  fillSelect("act_a", acts, actLabels);
  fillSelect("act_b", acts, actLabels);
  fillSelect("dataset", opts.datasets);
  fillSelect("init", opts.inits);
  fillSelect("optimizer", opts.optimizers);
  for (const [key, lim] of Object.entries(opts.limits)) {
    const el = form.elements[key];
    if (el && el.type === "number") { el.min = lim.min; el.max = lim.max; }
  }
  const wanted = configFromURL();
  try {
    await createSession(wanted);
  } catch (e) {
    await createSession({ ...page.defaults });
    showError(`The settings in the link were refused (${e.message}); showing the defaults.`);
  }
  form.addEventListener("change", configChanged);
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
    if (page.sid && document.visibilityState === "visible")
      api("POST", `/api/sessions/${page.sid}/heartbeat`).catch(() => {});
  }, 60000);
  window.addEventListener("pagehide", () => {
    if (page.sid) fetch(`/api/sessions/${page.sid}`, { method: "DELETE", keepalive: true });
  });
}

main().catch((e) => showError(`The playground could not start: ${e.message}`));
