// actscope playground: drawing a snapshot on canvas (boundaries, curves with an epoch axis,
// gradient flow, signal trace, hidden space, neuron heatmaps, colour bars). No state here.
"use strict";

const Draw = (() => {
const C0 = [245, 147, 34];   // class 0
const C1 = [8, 119, 189];    // class 1
const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];

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

function fmt(v, digits = 3) {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  if (Math.abs(v) >= 1000 || (Math.abs(v) < 0.01 && v !== 0)) return v.toExponential(1);
  return v.toFixed(digits);
}

// a horizontal colour bar: the colour map from 0 (left) to 1 (right)
function colourBar(canvas, colour) {
  const ctx = canvas.getContext("2d");
  for (let x = 0; x < canvas.width; x++) {
    ctx.fillStyle = `rgb(${colour(x / (canvas.width - 1))})`;
    ctx.fillRect(x, 0, 1, canvas.height);
  }
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

function boundary(canvas, b, data, epoch) {
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
  ctx.fillText(typeof hi === "string" ? hi : fmt(hi, 2), x - 3, y + 8);
  ctx.fillText(typeof lo === "string" ? lo : fmt(lo, 2), x - 3, y + h);
  ctx.textAlign = "left";
  ctx.fillText(label, x + 4, y + 10);
}

// "nice" epoch ticks from 0 to xmax, labelled under the axis at y
function epochTicks(ctx, sx, y, xmax, label) {
  const raw = xmax / 4, mag = 10 ** Math.floor(Math.log10(Math.max(raw, 1)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) || mag * 10;
  ctx.strokeStyle = "#999"; ctx.fillStyle = "#666"; ctx.font = "10px sans-serif"; ctx.textAlign = "center";
  for (let e = 0; e <= xmax + 1e-9; e += step) {
    ctx.beginPath(); ctx.moveTo(sx(e), y); ctx.lineTo(sx(e), y + 3); ctx.stroke();
    ctx.fillText(String(e), sx(e), y + 12);
  }
  if (label) { ctx.textAlign = "right"; ctx.fillText(label, sx(xmax), y + 22); }
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

function curves(canvas, arm, colour, scale, epochs) {
  const ctx = canvas.getContext("2d");
  const W = canvas.width, H = canvas.height;
  ctx.clearRect(0, 0, W, H);
  const c = arm.curves, L = 34, w = W - L - 10, h = H / 2 - 34;
  const xmax = Math.max(epochs, 1);
  const sx = (e) => L + (e / xmax) * w;
  const panels = [
    { top: 8, lo: 0, hi: scale.loss, keys: ["train_loss", "test_loss"], label: "loss" },
    { top: H / 2 + 4, lo: 0, hi: 1, keys: ["train_acc", "test_acc"], label: "accuracy" },
  ];
  for (const p of panels) {
    axes(ctx, L, p.top, w, h, p.lo, p.hi, p.label);
    epochTicks(ctx, sx, p.top + h, xmax, p.label === "accuracy" ? "epoch" : "");
    const sy = (v) => p.top + h - ((Math.min(v, p.hi) - p.lo) / (p.hi - p.lo)) * h;
    line(ctx, c.epoch, c[p.keys[0]], sx, sy, "#888", true);
    line(ctx, c.epoch, c[p.keys[1]], sx, sy, colour, false);
  }
}

// one line per layer, log10 of the mean gradient norm; layer 1 lightest, the output darkest
function gradients(canvas, arm, range, epochs) {
  const ctx = canvas.getContext("2d");
  const W = canvas.width, H = canvas.height;
  ctx.clearRect(0, 0, W, H);
  const g = arm.gradients, L = 44, top = 8, w = W - L - 50, h = H - top - 30;
  const xmax = Math.max(epochs, 1), [lo, hi] = range;
  const sx = (e) => L + (e / xmax) * w;
  const sy = (v) => top + h - ((Math.log10(Math.max(v, 10 ** lo)) - lo) / (hi - lo)) * h;
  axes(ctx, L, top, w, h, `1e${lo}`, `1e${hi}`, "");
  epochTicks(ctx, sx, top + h, xmax, "epoch");
  const n = g.layers.length;
  g.layers.forEach((ys, j) => {
    const shade = Math.round(200 - (160 * j) / Math.max(n - 1, 1));
    const colour = `rgb(${shade},${Math.round(shade * 0.55)},${Math.round(255 - shade * 0.6)})`;
    line(ctx, g.epoch, ys.map((v) => (v === null || v <= 0 ? null : v)), sx, sy, colour, false);
    ctx.fillStyle = colour; ctx.font = "10px sans-serif"; ctx.textAlign = "left";
    ctx.fillText(j === n - 1 ? "out" : `L${j + 1}`, W - 46 + (j % 2) * 22, top + 10 + Math.floor(j / 2) * 12);
  });
  canvas.dataset.layers = String(n);
}

function signal(canvas, arm, colour, vmax) {
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

function scatter(canvas, sc) {
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

function neurons(box, nv) {
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

return { boundary, curves, gradients, signal, scatter, neurons, colourBar, probColor, viridis, fmt };
})();
