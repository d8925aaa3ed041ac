// actscope static playground: the page. Trains both arms in this page with net.js, draws
// their decision boundaries and loss curves, keeps the settings in the URL.
"use strict";

const B = globalThis.ACTSCOPE_BUNDLE, ACTS = globalThis.ACTSCOPE_ACTIVATIONS;
const Net = globalThis.ActscopeNet, St = globalThis.ActscopeState;
const $ = (s) => document.querySelector(s);
const form = $("#controls");
const page = { cfg: null, arms: [], playing: false, timer: null, grid: null, seeds: {} };
const FIELDS = ["dataset", "depth", "width", "init", "act_a", "act_b", "optimizer", "lr", "batch_size",
                "seed", "epochs", "epochs_per_update"];

function fillSelect(name, values) {
  const sel = form.elements[name];
  sel.innerHTML = "";
  values.forEach((v) => sel.add(new Option(String(v), String(v))));
}

function showErrors(lines) {
  const box = $("#error");
  box.hidden = lines.length === 0;
  box.textContent = lines.join("\n");
}

function fillForm(cfg) {
  for (const key of FIELDS) form.elements[key].value = String(cfg[key]);
  for (const el of form.elements) el.classList.remove("invalid");
}

// the form's settings: the valid ones applied, every invalid one marked and listed
function readForm() {
  const cfg = { ...page.cfg }, errors = [];
  for (const key of FIELDS) {
    const el = form.elements[key];
    const r = St.parseField(key, el.value, B);
    el.classList.toggle("invalid", Boolean(r.error));
    if (r.error) errors.push(r.error); else cfg[key] = r.value;
  }
  return { cfg, errors };
}

function seedOf(seed) {
  if (!page.seeds[seed]) {
    const s = B.seeds[String(seed)];
    page.seeds[seed] = { raw: Net.decodeF64(s.raw), batch: s.batch };
  }
  return page.seeds[seed];
}

function dataOf(name) {
  const d = B.datasets[name];
  return { d: d.d, X_train: Float64Array.from(d.X_train), y_train: Float64Array.from(d.y_train),
           X_test: Float64Array.from(d.X_test), y_test: Float64Array.from(d.y_test), raw: d };
}

function makeGrid(data, G) {
  let lo = [Infinity, Infinity], hi = [-Infinity, -Infinity];
  for (const X of [data.X_train, data.X_test]) {
    for (let j = 0; j < X.length; j += 2) {
      for (let i = 0; i < 2; i++) { lo[i] = Math.min(lo[i], X[j + i]); hi[i] = Math.max(hi[i], X[j + i]); }
    }
  }
  lo = lo.map((v, i) => v - 0.15 * (hi[i] - v + 1e-9)); hi = hi.map((v, i) => v + 0.15 * (v - lo[i]));
  const P = new Float64Array(G * G * 2);
  for (let r = 0; r < G; r++) {
    for (let c = 0; c < G; c++) {
      P[(r * G + c) * 2] = lo[0] + (c + 0.5) / G * (hi[0] - lo[0]);
      P[(r * G + c) * 2 + 1] = hi[1] - (r + 0.5) / G * (hi[1] - lo[1]);
    }
  }
  return { G, P, lo, hi };
}

function rebuild() {
  const cfg = page.cfg, data = dataOf(cfg.dataset), seed = seedOf(cfg.seed), spec = St.armSpec(cfg, B);
  page.data = data;
  page.grid = makeGrid(data, 60);
  page.arms = [cfg.act_a, cfg.act_b].map((name) => {
    const acts = spec.hidden.map(() => ({ ...ACTS[name], ...B.activations[name] }));
    return new Net.Arm(spec, acts, data, seed);
  });
  const search = St.stateToSearch(cfg, B);
  try { history.replaceState(null, "", location.pathname + search); } catch (e) { /* file: in some browsers */ }
  const toml = St.exportToml(cfg, B);
  $("#export").href = "data:text/plain;charset=utf-8," + encodeURIComponent(toml);
  $("#epochs").textContent = String(cfg.epochs);
  draw();
}

function train(epochs) {  // up to `epochs` epochs, yielding to the page after 100 ms
  const t0 = performance.now();
  for (let e = 0; e < epochs; e++) {
    if (page.arms[0].epoch >= page.cfg.epochs) break;
    for (const arm of page.arms) arm.runEpoch();
    if (performance.now() - t0 > 100) break;
  }
  draw();
  if (page.arms[0].epoch >= page.cfg.epochs) setPlaying(false, "done");
}

function setPlaying(on, label) {
  page.playing = on;
  $("#play").innerHTML = on ? "&#x23f8; Pause" : "&#x25b6; Play";
  $("#state").textContent = label || (on ? "playing" : "paused");
  if (page.timer) { clearTimeout(page.timer); page.timer = null; }
  if (on) tick();
}

function tick() {
  if (!page.playing) return;
  train(page.cfg.epochs_per_update);
  if (page.playing) page.timer = setTimeout(tick, 16);
}

// drawing ------------------------------------------------------------------------------------

function mix(p) {  // P(class 1) -> orange .. white .. blue
  const c0 = [245, 147, 34], c1 = [8, 119, 189], w = [255, 255, 255];
  const t = Math.abs(p - 0.5) * 2, c = p < 0.5 ? c0 : c1;
  return c.map((v, i) => Math.round(w[i] + (v - w[i]) * t * 0.75));
}

function drawBoundary(canvas, arm) {
  const ctx = canvas.getContext("2d"), { G, P, lo, hi } = page.grid, W = canvas.width, H = canvas.height;
  const prob = arm.predict(P), img = ctx.createImageData(G, G);
  for (let k = 0; k < G * G; k++) {
    const [r, g, b] = mix(prob[k]);
    img.data.set([r, g, b, 255], k * 4);
  }
  const off = document.createElement("canvas");
  off.width = G; off.height = G; off.getContext("2d").putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(off, 0, 0, W, H);
  const px = (x, y) => [(x - lo[0]) / (hi[0] - lo[0]) * W, (hi[1] - y) / (hi[1] - lo[1]) * H];
  const dots = (X, y, filled) => {
    for (let j = 0; j < y.length; j++) {
      const [u, v] = px(X[2 * j], X[2 * j + 1]);
      ctx.beginPath(); ctx.arc(u, v, 2.6, 0, 2 * Math.PI);
      const col = y[j] > 0.5 ? "#0877bd" : "#f59322";
      if (filled) { ctx.fillStyle = col; ctx.fill(); ctx.strokeStyle = "#fff"; ctx.lineWidth = 0.6; ctx.stroke(); }
      else { ctx.strokeStyle = col; ctx.lineWidth = 1.4; ctx.stroke(); }
    }
  };
  dots(page.data.X_train, page.data.y_train, true);
  dots(page.data.X_test, page.data.y_test, false);
}

function drawCurves(canvas, arm, color) {
  const ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height, m = { l: 40, r: 8, t: 8, b: 26 };
  ctx.clearRect(0, 0, W, H); ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, W, H);
  const h = arm.history, n = Math.max(page.cfg.epochs, 1);
  const all = [...h.train_loss, ...h.test_loss].filter(Number.isFinite);
  const top = all.length ? Math.max(...all) * 1.05 : 1;
  const X = (e) => m.l + e / n * (W - m.l - m.r), Y = (v) => H - m.b - v / top * (H - m.t - m.b);
  ctx.strokeStyle = "#999"; ctx.fillStyle = "#666"; ctx.font = "10px sans-serif"; ctx.lineWidth = 1;
  ctx.beginPath(); ctx.moveTo(m.l, m.t); ctx.lineTo(m.l, H - m.b); ctx.lineTo(W - m.r, H - m.b); ctx.stroke();
  for (let i = 0; i <= 4; i++) {
    const v = top * i / 4, e = Math.round(n * i / 4);
    ctx.textAlign = "right"; ctx.fillText(v.toPrecision(2), m.l - 3, Y(v) + 3);
    ctx.textAlign = "center"; ctx.fillText(String(e), X(e), H - m.b + 12);
  }
  ctx.fillText("epoch", (W + m.l) / 2, H - 2);
  const line = (vals, dash) => {
    ctx.setLineDash(dash); ctx.strokeStyle = color; ctx.lineWidth = 1.6; ctx.beginPath();
    vals.forEach((v, e) => { if (Number.isFinite(v)) ctx[e ? "lineTo" : "moveTo"](X(e + 1), Y(v)); });
    ctx.stroke(); ctx.setLineDash([]);
  };
  line(h.train_loss, [4, 3]);
  line(h.test_loss, []);
}

const fmt = (v, d) => (Number.isFinite(v) ? v.toFixed(d) : "–");

function draw() {
  const colors = ["#7b3fa0", "#16804a"];
  $("#epoch").textContent = String(page.arms[0].epoch);
  document.querySelectorAll(".arm").forEach((sec, i) => {
    const arm = page.arms[i], h = arm.history, last = h.test_loss.length - 1;
    sec.querySelector(".tag").textContent = i ? "B" : "A";
    sec.querySelector(".act").textContent = i ? page.cfg.act_b : page.cfg.act_a;
    sec.querySelector(".test-acc").textContent = last >= 0 ? fmt(h.test_acc[last] * 100, 1) + "%" : "–";
    sec.querySelector(".test-loss").textContent = last >= 0 ? fmt(h.test_loss[last], 4) : "–";
    sec.querySelector(".train-loss").textContent = last >= 0 ? fmt(h.train_loss[last], 4) : "–";
    sec.querySelector(".diverged").hidden = !arm.diverged;
    drawBoundary(sec.querySelector(".boundary"), arm);
    drawCurves(sec.querySelector(".curves"), arm, colors[i]);
  });
}

// wiring -------------------------------------------------------------------------------------

function init() {
  const tpl = $("#arm-template");
  document.querySelectorAll(".arm").forEach((sec) => sec.appendChild(tpl.content.cloneNode(true)));
  fillSelect("dataset", Object.keys(B.datasets));
  fillSelect("init", B.inits);
  fillSelect("optimizer", B.optimizers);
  fillSelect("seed", Object.keys(B.seeds));
  fillSelect("act_a", Object.keys(B.activations));
  fillSelect("act_b", Object.keys(B.activations));
  const d = B.defaults;
  $("#fixed-data").textContent = `noise ${d.noise}, ${d.n_samples} points, test fraction ${d.test_fraction}, data seed ${d.data_seed} (fixed in this build)`;
  const { cfg, errors } = St.parseState(location.search, B);
  page.cfg = cfg;
  fillForm(cfg);
  showErrors(errors.length ? ["This link has settings this page cannot use (the valid ones are kept):", ...errors] : []);
  rebuild();
  form.addEventListener("change", () => {
    const { cfg: next, errors: errs } = readForm();
    showErrors(errs);
    const keep = FIELDS.every((k) => k === "epochs" || k === "epochs_per_update" || next[k] === page.cfg[k]);
    page.cfg = next;
    if (!keep) { setPlaying(false); rebuild(); } else { $("#epochs").textContent = String(next.epochs); rebuild0(); }
  });
  form.addEventListener("submit", (e) => e.preventDefault());
  $("#play").addEventListener("click", () => setPlaying(!page.playing));
  $("#step").addEventListener("click", () => { setPlaying(false); train(1); });
  $("#reset").addEventListener("click", () => { setPlaying(false); rebuild(); });
  $("#share").addEventListener("click", async () => {
    try { await navigator.clipboard.writeText(location.href); $("#share").textContent = "Link copied"; }
    catch (e) { window.prompt("Copy this link:", location.href); }
  });
}

function rebuild0() {  // a view-only change: keep training, refresh the link and the export
  try { history.replaceState(null, "", location.pathname + St.stateToSearch(page.cfg, B)); } catch (e) { /* */ }
  $("#export").href = "data:text/plain;charset=utf-8," + encodeURIComponent(St.exportToml(page.cfg, B));
}

init();
