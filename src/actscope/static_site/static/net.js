// actscope static playground: the network, its training and its random numbers, in float64.
// The same arithmetic as actscope's NumPy engine and training loop (training.stepper):
// initial weights are the seed's raw normal draws (embedded by the builder, drawn by NumPy)
// times the init scheme's scale; each epoch's batch order is numpy's Generator.permutation,
// drawn here by numpy's PCG64 from the seed's embedded batch-stream state, bit for bit.
(function (root) {
"use strict";

const M128 = (1n << 128n) - 1n;
const M64 = (1n << 64n) - 1n;
const MULT = (2549297995355413924n << 64n) + 4865540595714422341n;

// numpy's PCG64 (XSL-RR 128/64) with its buffered 32-bit draws, and Generator.permutation
class Pcg64 {
  constructor(st) {
    this.state = BigInt(st.state); this.inc = BigInt(st.inc);
    this.has = st.has_uint32 ? 1 : 0; this.uint = BigInt(st.uinteger || 0);
  }
  next64() {
    this.state = (this.state * MULT + this.inc) & M128;
    const hi = this.state >> 64n, lo = this.state & M64;
    const x = hi ^ lo, rot = hi >> 58n;
    return ((x >> rot) | (x << ((64n - rot) & 63n))) & M64;
  }
  next32() {
    if (this.has) { this.has = 0; return Number(this.uint); }
    const v = this.next64();
    this.has = 1; this.uint = v >> 32n;
    return Number(v & 0xFFFFFFFFn);
  }
  interval(mx) {  // random_interval(max), max < 2**32
    let mask = mx;
    mask |= mask >>> 1; mask |= mask >>> 2; mask |= mask >>> 4; mask |= mask >>> 8; mask |= mask >>> 16;
    mask >>>= 0;
    let v = (this.next32() & mask) >>> 0;
    while (v > mx) v = (this.next32() & mask) >>> 0;
    return v;
  }
  permutation(n) {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.interval(i);
      const t = out[i]; out[i] = out[j]; out[j] = t;
    }
    return out;
  }
}

function decodeF64(b64) {  // little-endian float64 from base64
  const s = typeof atob === "function" ? atob(b64) : Buffer.from(b64, "base64").toString("binary");
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
  return new Float64Array(bytes.buffer);
}

// the init schemes whose raw draws are normal and whose biases are zero (nn.inits)
const SCHEMES = {
  he: (fi, fo, act) => Math.sqrt(2.0 / fi),
  xavier: (fi, fo, act) => Math.sqrt(1.0 / fi),
  auto: (fi, fo, act) => (act.relu_family ? Math.sqrt(2.0 / fi) : Math.sqrt(1.0 / fi)),
  he_normal: (fi, fo, act) => act.gain / Math.sqrt(fi),
  xavier_normal: (fi, fo, act) => act.gain * Math.sqrt(2.0 / (fi + fo)),
  lecun_normal: (fi, fo, act) => Math.sqrt(1.0 / fi),
};

// sizes [d, h1, ..., 1]; acts: one {f, df, gain, relu_family} per hidden layer; raw: Float64Array
function initParams(sizes, acts, scheme, raw) {
  const layers = [];
  let off = 0;
  for (let l = 0; l + 1 < sizes.length; l++) {
    const fi = sizes[l], fo = sizes[l + 1];
    const act = l < acts.length ? acts[l] : acts[acts.length - 1];
    const scale = SCHEMES[scheme](fi, fo, act);
    if (off + fi * fo > raw.length) throw new Error("the network is larger than the embedded draws");
    const W = new Float64Array(fi * fo);
    for (let p = 0; p < fi * fo; p++) W[p] = raw[off + p] * scale;
    off += fi * fo;
    layers.push({ W, b: new Float64Array(fo), fi, fo });
  }
  return layers;
}

function sigmoid(s) {
  const e = Math.exp(s >= 0 ? -s : s), r = 1 / (1 + e);
  return s >= 0 ? r : e * r;
}

function bce(s, y) {  // numpy's logaddexp(0, s) - s * y
  const lae = s === 0 ? Math.LN2 : (s < 0 ? Math.log1p(Math.exp(s)) : s + Math.log1p(Math.exp(-s)));
  return lae - s * y;
}

// forward pass of points idx (rows of X, n x d, flat); returns logits and (if record) z, a
function forward(layers, acts, X, d, idx, record) {
  const n = idx.length;
  let a = new Float64Array(n * d);
  for (let j = 0; j < n; j++) for (let i = 0; i < d; i++) a[j * d + i] = X[idx[j] * d + i];
  const zs = [], as = [a];
  for (let l = 0; l < layers.length; l++) {
    const { W, b, fi, fo } = layers[l];
    const z = new Float64Array(n * fo);
    for (let j = 0; j < n; j++) {
      for (let o = 0; o < fo; o++) {
        let s = 0;
        for (let i = 0; i < fi; i++) s += a[j * fi + i] * W[i * fo + o];
        z[j * fo + o] = s + b[o];
      }
    }
    if (l === layers.length - 1) return { logits: z, zs, as };
    const act = acts[l], h = new Float64Array(n * fo);
    for (let p = 0; p < n * fo; p++) h[p] = act.f(z[p]);
    if (record) zs.push(z);
    as.push(h);
    a = h;
  }
}

function lossAndAccuracy(layers, acts, X, y, d, idx) {
  const { logits } = forward(layers, acts, X, d, idx, false);
  let loss = 0, correct = 0;
  for (let j = 0; j < idx.length; j++) {
    loss += bce(logits[j], y[idx[j]]);
    correct += ((logits[j] >= 0) === (y[idx[j]] > 0.5)) ? 1 : 0;
  }
  return { loss: loss / idx.length, correct };
}

// mean loss over the minibatch idx, its gradients (as the NumPy engine's backprop) and the
// points classified right
function lossAndGrad(layers, acts, X, y, d, idx) {
  const n = idx.length;
  const { logits, zs, as } = forward(layers, acts, X, d, idx, true);
  let loss = 0, correct = 0;
  let delta = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    const s = logits[j], yv = y[idx[j]];
    loss += bce(s, yv);
    correct += ((s >= 0) === (yv > 0.5)) ? 1 : 0;
    delta[j] = (sigmoid(s) - yv) / n;
  }
  const grads = new Array(layers.length);
  for (let l = layers.length - 1; l >= 0; l--) {
    const { W, fi, fo } = layers[l], a = as[l];
    const gW = new Float64Array(fi * fo), gb = new Float64Array(fo);
    for (let j = 0; j < n; j++) {
      for (let o = 0; o < fo; o++) {
        const dv = delta[j * fo + o];
        gb[o] += dv;
        for (let i = 0; i < fi; i++) gW[i * fo + o] += a[j * fi + i] * dv;
      }
    }
    grads[l] = { W: gW, b: gb };
    if (l > 0) {
      const nd = new Float64Array(n * fi), z = zs[l - 1], act = acts[l - 1];
      for (let j = 0; j < n; j++) {
        for (let i = 0; i < fi; i++) {
          let s = 0;
          for (let o = 0; o < fo; o++) s += delta[j * fo + o] * W[i * fo + o];
          nd[j * fi + i] = s * act.df(z[j * fi + i], a[j * fi + i]);
        }
      }
      delta = nd;
    }
  }
  return { loss: loss / n, grads, correct };
}

// the optimisers of training.optimizers (torch.optim's conventions)
function makeOptimizer(train) {
  const lr = train.lr, mu = train.momentum, b1 = train.betas[0], b2 = train.betas[1], eps = train.eps;
  let t = 0, m1 = null, m2 = null;
  const each = (layers, fn) => layers.forEach((L, l) => ["W", "b"].forEach((k) => fn(L[k], l, k)));
  return function update(layers, grads) {
    if (train.optimizer === "sgd") {
      each(layers, (P, l, k) => { const g = grads[l][k]; for (let p = 0; p < P.length; p++) P[p] -= lr * g[p]; });
    } else if (train.optimizer === "momentum" || train.optimizer === "nesterov") {
      const nest = train.optimizer === "nesterov";
      if (m1 === null) m1 = grads.map((g) => ({ W: Float64Array.from(g.W), b: Float64Array.from(g.b) }));
      else each(layers, (P, l, k) => { const B = m1[l][k], g = grads[l][k]; for (let p = 0; p < B.length; p++) B[p] = mu * B[p] + g[p]; });
      each(layers, (P, l, k) => {
        const B = m1[l][k], g = grads[l][k];
        for (let p = 0; p < P.length; p++) P[p] -= lr * (nest ? g[p] + mu * B[p] : B[p]);
      });
    } else if (train.optimizer === "adam") {
      t += 1;
      const zero = () => grads.map((g) => ({ W: new Float64Array(g.W.length), b: new Float64Array(g.b.length) }));
      if (m1 === null) { m1 = zero(); m2 = zero(); }
      const c1 = 1 - b1 ** t, c2 = Math.sqrt(1 - b2 ** t);
      each(layers, (P, l, k) => {
        const m = m1[l][k], v = m2[l][k], g = grads[l][k];
        for (let p = 0; p < P.length; p++) {
          m[p] = b1 * m[p] + (1 - b1) * g[p];
          v[p] = b2 * v[p] + (1 - b2) * g[p] * g[p];
          P[p] -= (lr / c1) * m[p] / (Math.sqrt(v[p]) / c2 + eps);
        }
      });
    } else {
      throw new Error("unknown optimizer " + train.optimizer);
    }
  };
}

function range(n) { const r = new Int32Array(n); for (let i = 0; i < n; i++) r[i] = i; return r; }

// One arm: one network trained as training.stepper.Stepper trains member 0 of an ensemble.
// data: {d, X_train, y_train, X_test, y_test} (flat arrays); seed: {raw: Float64Array, batch: state}
class Arm {
  constructor(spec, acts, data, seed) {
    this.spec = spec; this.acts = acts; this.data = data;
    this.sizes = [data.d, ...spec.hidden, 1];
    this.layers = initParams(this.sizes, acts, spec.init, seed.raw);
    this.rng = new Pcg64(seed.batch);
    this.update = makeOptimizer(spec.train);
    this.n = data.y_train.length;
    this.B = Math.min(spec.train.batch_size, this.n);
    this.epoch = 0; this.diverged = false;
    this.allTrain = range(this.n); this.allTest = range(data.y_test.length);
    this.history = { running_loss: [], running_accuracy: [], train_loss: [], train_acc: [],
                     test_loss: [], test_acc: [] };
  }
  runEpoch() {
    const { data, acts, layers } = this, n = this.n, d = data.d;
    const order = this.spec.train.shuffle === false ? this.allTrain : this.rng.permutation(n);
    let lsum = 0, csum = 0, steps = 0;
    for (let pos = 0; pos < n; pos += this.B) {
      const idx = order.subarray(pos, Math.min(pos + this.B, n));
      steps += 1;
      if (this.diverged) { lsum = NaN; continue; }
      const r = lossAndGrad(layers, acts, data.X_train, data.y_train, d, idx);
      if (!Number.isFinite(r.loss)) { this.diverged = true; lsum = NaN; continue; }
      lsum += r.loss; csum += r.correct;
      this.update(layers, r.grads);
    }
    const h = this.history, dv = this.diverged;
    h.running_loss.push(dv ? NaN : lsum / steps);
    h.running_accuracy.push(dv ? NaN : csum / n);
    const tr = lossAndAccuracy(layers, acts, data.X_train, data.y_train, d, this.allTrain);
    const te = lossAndAccuracy(layers, acts, data.X_test, data.y_test, d, this.allTest);
    h.train_loss.push(dv ? NaN : tr.loss); h.train_acc.push(dv ? NaN : tr.correct / this.n);
    h.test_loss.push(dv ? NaN : te.loss); h.test_acc.push(dv ? NaN : te.correct / data.y_test.length);
    this.epoch += 1;
  }
  // probabilities of class 1 at the points P (flat, m x d)
  predict(P) {
    const m = P.length / this.data.d;
    const { logits } = forward(this.layers, this.acts, P, this.data.d, range(m), false);
    return logits.map(sigmoid);
  }
}

const api = { Pcg64, decodeF64, SCHEMES, initParams, forward, lossAndGrad, lossAndAccuracy,
              makeOptimizer, Arm, sigmoid };
root.ActscopeNet = api;
if (typeof module !== "undefined") module.exports = api;
})(typeof globalThis !== "undefined" ? globalThis : this);
