// actscope static playground: the settings, the link that carries them, and the TOML export.
// The URL's fields are the served playground's (PlaygroundConfig); the TOML is the one the
// served playground exports (serve.schema.to_experiment), so `actscope run` trains the same.
(function (root) {
"use strict";

const INT_FIELDS = ["n_samples", "depth", "width", "batch_size", "seed", "data_seed", "epochs",
                    "epochs_per_update", "layer"];
const SAFE = /^[A-Za-z0-9_.+-]{1,100}$/;

function choices(bundle, key) {
  return {
    dataset: Object.keys(bundle.datasets),
    act_a: Object.keys(bundle.activations), act_b: Object.keys(bundle.activations),
    init: bundle.inits, optimizer: bundle.optimizers, seed: Object.keys(bundle.seeds).map(Number),
  }[key];
}

// one field's value from text, or an error line `key = 'value': reason`
function parseField(key, text, bundle) {
  const def = bundle.defaults[key];
  const shown = `${key} = '${String(text).slice(0, 60)}'`;
  if (bundle.fixed.includes(key)) {
    const v = Number(text);
    if (v !== def) return { error: `${shown}: this static build has ${key} = ${def}; other data needs a rebuild (actscope playground build --${key.replace("_", "-")}) or the server (actscope serve)` };
    return { value: def };
  }
  let v = text;
  if (typeof def === "number") {
    if (String(text).trim() === "" || !Number.isFinite(Number(text))) return { error: `${shown}: not a finite number` };
    v = Number(text);
    if (INT_FIELDS.includes(key) && !Number.isInteger(v)) return { error: `${shown}: not a whole number` };
  }
  const opts = choices(bundle, key);
  if (opts && !opts.includes(v)) {
    const extra = key === "seed" ? "; other seeds need a rebuild (--seeds) or the server" :
      key.startsWith("act_") ? "; formulas are compiled when the site is built (--activation) or typed in the served playground" : "";
    return { error: `${shown}: not offered here; known: ${opts.join(", ")}${extra}` };
  }
  const lim = bundle.limits[key === "layer" ? "depth" : key];
  if (lim && (v < lim.min || v > lim.max)) return { error: `${shown}: must be between ${lim.min} and ${lim.max}` };
  return { value: v };
}

// the settings from a query string: every error listed, every valid setting kept
function parseState(search, bundle) {
  const cfg = { ...bundle.defaults }, errors = [];
  for (const [key, text] of new URLSearchParams(search)) {
    if (!(key in bundle.defaults)) { errors.push(`${key}: unknown setting; known: ${Object.keys(bundle.defaults).join(", ")}`); continue; }
    const r = parseField(key, text, bundle);
    if (r.error) errors.push(r.error); else cfg[key] = r.value;
  }
  if (cfg.layer > cfg.depth) cfg.layer = cfg.depth;
  return { cfg, errors };
}

function stateToSearch(cfg, bundle) {
  const params = new URLSearchParams();
  for (const key of Object.keys(bundle.defaults)) params.set(key, String(cfg[key]));
  return "?" + params.toString();
}

// what one arm trains: net.js's Arm spec
function armSpec(cfg, bundle) {
  return { hidden: Array(cfg.depth).fill(cfg.width), init: cfg.init,
           train: { optimizer: cfg.optimizer, lr: cfg.lr, batch_size: cfg.batch_size, shuffle: true,
                    ...bundle.train } };
}

function tomlValue(v) {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number") return String(v);  // shortest round-trip form, valid TOML
  if (Array.isArray(v)) return "[" + v.map(tomlValue).join(", ") + "]";
  throw new Error("no TOML form for " + v);
}

const FLOATS = ["noise", "test_size", "lr"];

function table(name, obj) {
  const rows = Object.entries(obj).map(([k, v]) =>
    `${k} = ${FLOATS.includes(k) && Number.isInteger(v) ? v.toFixed(1) : tomlValue(v)}`);
  return `[${name}]\n${rows.join("\n")}\n`;
}

// the TOML file for `actscope run` that trains what this page trains
function exportToml(cfg, bundle) {
  const a = cfg.act_a, b = cfg.act_b;
  const safe = SAFE.test(a) && SAFE.test(b);
  const name = safe ? `playground-${a}-vs-${b}`.replace(/_/g, "-") : "playground-formula";
  const armNames = a === b || !safe ? ["A", "B"] : ["A-" + a, "B-" + b];
  const extras = (bundle.dataset_extras || {})[cfg.dataset] || {};
  return "# Exported from the actscope playground; run it with: actscope run <this file>\n" +
    `name = ${tomlValue(name)}\ndescription = "Exported from the actscope playground."\n\n` +
    table("data", { name: cfg.dataset, n_samples: cfg.n_samples, noise: cfg.noise, random_state: cfg.data_seed,
                    test_size: cfg.test_fraction, split_seed: cfg.data_seed, ...extras }) + "\n" +
    table("model", { hidden: Array(cfg.depth).fill(cfg.width), init: cfg.init, activation: a }) + "\n" +
    table("train", { optimizer: cfg.optimizer, lr: cfg.lr, batch_size: cfg.batch_size, epochs: cfg.epochs,
                     engine: "numpy", eval_every: 1 }) + "\n" +
    `[[arms]]\nname = ${tomlValue(armNames[0])}\nactivation = ${tomlValue(a)}\n\n` +
    `[[arms]]\nname = ${tomlValue(armNames[1])}\nactivation = ${tomlValue(b)}\n\n` +
    table("seeds", { start: cfg.seed, count: 1 });
}

const api = { parseState, parseField, stateToSearch, armSpec, exportToml };
root.ActscopeState = api;
if (typeof module !== "undefined") module.exports = api;
})(typeof globalThis !== "undefined" ? globalThis : this);
