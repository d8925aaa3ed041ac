"""Diagnostics: pure functions of parameters and data. They never train.

Every probe works on an ensemble and returns one value (or array) per member. They go
through the engine contract only (``forward(record=True)``, ``loss_and_grad``), so they
run on any engine, and branch on an activation's family, never on its name.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from actscope.activations import Activation, get_activation
from actscope.analysis.stats import spearman
from actscope.config import PointSpec, ProbesSpec
from actscope.data.boundaries import grid_distance, grid_over, true_score
from actscope.data.generators import Dataset
from actscope.errors import InputError
from actscope.nn.model import Layer, MLPSpec, Params


def _np(x) -> np.ndarray:
    return np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x, dtype=np.float64)


def hidden_std(engine, spec: MLPSpec, params: Params, X: np.ndarray) -> np.ndarray:
    """Std of each hidden layer's post-activations over all points and units: (K, L)."""
    out = engine.forward(spec, params, X, record=True)
    return np.stack([_np(a).reshape(_np(a).shape[0], -1).std(axis=1) for a in out.a], axis=1)


def stage_names(spec: MLPSpec) -> list[str]:
    """The stages of a signal trace: z1, a1, ..., zL, aL, z_out."""
    names = []
    for i in range(spec.depth):
        names += [f"z{i + 1}", f"a{i + 1}"]
    return names + ["z_out"]


def signal_trace(engine, spec: MLPSpec, params: Params, x: np.ndarray) -> np.ndarray:
    """Mean |value| at every stage for each point of ``x``: (K, n_points, 2L + 1)."""
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    out = engine.forward(spec, params, x, record=True)
    stages = []
    for z, a in zip(out.z, out.a):
        stages += [np.abs(_np(z)).mean(axis=-1), np.abs(_np(a)).mean(axis=-1)]
    stages.append(np.abs(_np(out.logits)).mean(axis=-1))
    return np.stack(stages, axis=-1)


def resolve_point(point: PointSpec, data: Dataset) -> np.ndarray:
    """The input vector a PointSpec names: given, or the point of its class (in its split)
    farthest from ``farthest_from``, as the first reference article picks its far points."""
    if point.x is not None:
        return np.asarray(point.x, dtype=np.float64)
    X, y = data.split(point.split)
    if point.label is not None:
        X = X[y == point.label]
    ref = np.asarray(point.farthest_from, dtype=np.float64)
    return X[np.argmax(np.linalg.norm(X - ref, axis=1))]


def resolve_points(points: list[PointSpec], data: Dataset) -> dict[str, np.ndarray]:
    return {p.name: resolve_point(p, data) for p in points}


def input_grid(X: np.ndarray, step: float = 0.025, pad: float = 0.5, max_side: int = 400):
    """A regular grid over the 2-D extent of ``X`` (the article's: step 0.025, pad 0.5)."""
    lo, hi = X.min(axis=0) - pad, X.max(axis=0) + pad
    step = max(step, float((hi - lo).max()) / max_side)
    xs = np.arange(lo[0], hi[0], step)
    ys = np.arange(lo[1], hi[1], step)
    xx, yy = np.meshgrid(xs, ys)
    return xx, yy


def predict_grid(engine, spec: MLPSpec, params: Params, xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
    """Predicted probability of class 1 (binary) or the argmax class over a grid: (K, ny, nx)."""
    grid = np.c_[xx.ravel(), yy.ravel()]
    prob = _np(engine.forward(spec, params, grid).prob)
    if prob.ndim == 3:
        prob = prob.argmax(axis=-1).astype(np.float64)
    return prob.reshape(prob.shape[0], *xx.shape)



# Probes of issue 4 -------------------------------------------------------------------------
# Every probe below returns one value per member (a leading K axis). ``measure`` runs the
# probes a ProbesSpec names and returns flat metrics keyed "split/probe.quantity.L<i>",
# which is how they land in history.csv (split, metric) and in metrics.json.

PROBE_NAMES = ("signal", "gradients", "context", "representation", "regions", "heatmaps")
REGION_FAMILIES = ("piecewise-linear", "linear")
FLAT = -1e9  # region code of a flat piece: FLAT - value (no real slope comes near it)
TRUE_GRID = 100  # grid side for the true boundary (a smooth curve; 200 changes distances < 0.003)
PROBE_C = 10.0  # inverse L2 strength of the logistic probes (on standardised features)


_MAX_DERIVATIVE: dict[str, float] = {}


def max_derivative(act: str | Activation) -> float:
    """The largest |f'(z)| of an activation (numerically, over z in [-20, 20]; cached)."""
    act = get_activation(act)
    if act.name not in _MAX_DERIVATIVE:
        z = np.linspace(-20.0, 20.0, 8001)
        with np.errstate(all="ignore"):
            g = np.abs(np.asarray(act.grad(z), dtype=np.float64))
        g = g[np.isfinite(g)]
        _MAX_DERIVATIVE[act.name] = float(g.max()) if g.size and g.max() > 0 else 1.0
    return _MAX_DERIVATIVE[act.name]


def member_slice(params: Params, sl: slice) -> Params:
    """The members ``sl`` of an ensemble, as an ensemble."""
    return [Layer(W[sl], b[sl]) for W, b in params]


def finite_members(params: Params) -> np.ndarray:
    """(K,) True where every parameter of the member is finite."""
    ok = None
    for W, b in params:
        W, b = _np(W), _np(b)
        f = np.isfinite(W.reshape(W.shape[0], -1)).all(1) & np.isfinite(b).all(1)
        ok = f if ok is None else ok & f
    return ok


def _chunks(params: Params, n_points: int, budget: int = 4_000_000):
    """Slices of members such that a recorded forward of ``n_points`` stays within budget."""
    K = params[0].W.shape[0]
    width = max(int(W.shape[-1]) for W, _ in params)
    step = max(1, budget // max(1, n_points * width * 2))
    return [slice(i, min(K, i + step)) for i in range(0, K, step)]


def signal_stats(engine, spec: MLPSpec, params: Params, X: np.ndarray,
                 threshold: float = 0.01) -> dict[str, np.ndarray]:
    """Signal propagation over the points ``X``; every entry is (K, L).

    ``z_abs_mean``, ``z_abs_std``, ``a_abs_mean``, ``a_abs_std``: mean and std of |z| and
    |a| over points and units. ``saturated`` (when a layer's family is saturating): the
    fraction of (point, unit) pairs whose derivative is below ``threshold`` x its maximum.
    ``dead`` (piecewise-linear): the fraction of units below that on every point.
    Layers of another family get NaN; a key no layer has is left out.
    """
    out = engine.forward(spec, params, X, record=True)
    res: dict[str, list] = {k: [] for k in ("z_abs_mean", "z_abs_std", "a_abs_mean", "a_abs_std",
                                            "saturated", "dead")}
    for z, a, act in zip(out.z, out.a, spec.activations):
        z, a = _np(z), _np(a)
        K = z.shape[0]
        az, aa = np.abs(z).reshape(K, -1), np.abs(a).reshape(K, -1)
        res["z_abs_mean"].append(az.mean(1))
        res["z_abs_std"].append(az.std(1))
        res["a_abs_mean"].append(aa.mean(1))
        res["a_abs_std"].append(aa.std(1))
        nan = np.full(K, np.nan)
        low = None
        if act.family in ("saturating", "piecewise-linear"):
            with np.errstate(all="ignore"):
                low = np.abs(np.asarray(act.grad(z), dtype=np.float64)) < threshold * max_derivative(act)
        res["saturated"].append(low.reshape(K, -1).mean(1) if act.family == "saturating" else nan)
        res["dead"].append(low.all(axis=1).mean(-1) if act.family == "piecewise-linear" else nan)
    families = {act.family for act in spec.activations}
    if "saturating" not in families:
        del res["saturated"]
    if "piecewise-linear" not in families:
        del res["dead"]
    return {k: np.stack(v, axis=1) for k, v in res.items()}


def layer_grad_norms(grads: Params) -> np.ndarray:
    """Euclidean norm of each layer's gradient (weights and bias together): (K, L + 1)."""
    sq = [_np((W * W).sum((-2, -1)) + (b * b).sum(-1)) for W, b in grads]
    return np.sqrt(np.array(sq, dtype=np.float64).T)


def gradient_norms(engine, spec: MLPSpec, params: Params, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-layer norm of the full-batch loss gradient on (X, y): (K, L + 1), output last."""
    yv = np.asarray(y).astype(np.float64) if spec.n_outputs == 1 else np.asarray(y)
    _, grads = engine.loss_and_grad(spec, params, engine.asarray(X), engine.asarray(yv))
    return layer_grad_norms(grads)


def output_margin(logits: np.ndarray) -> np.ndarray:
    """(K, N): the logit of a binary output; top-1 minus top-2 logit with several classes."""
    logits = _np(logits)
    if logits.shape[-1] == 1:
        return logits[..., 0]
    top = np.sort(logits, axis=-1)
    return top[..., -1] - top[..., -2]


def decision_distance(engine, spec: MLPSpec, params: Params, X: np.ndarray,
                      xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
    """Distance of each point of ``X`` (2-D) to each member's learned decision boundary,
    read off the grid ``xx, yy``: (K, N); inf where a member has no boundary on the grid."""
    grid = np.c_[xx.ravel(), yy.ravel()]
    K = params[0].W.shape[0]
    dist = np.full((K, len(X)), np.nan)
    for sl in _chunks(params, len(grid)):
        logits = _np(engine.forward(spec, member_slice(params, sl), grid).logits)
        for j, k in enumerate(range(K)[sl]):
            if logits.shape[-1] == 1:
                score = logits[j, :, 0].reshape(xx.shape)
            else:
                score = logits[j].argmax(-1).reshape(xx.shape)
            if np.isfinite(logits[j]).all():
                dist[k] = grid_distance(xx, yy, score, X)
    return dist


def linearised_distance(engine, spec: MLPSpec, params: Params, X: np.ndarray,
                        eps: float = 1e-4) -> np.ndarray:
    """First-order distance to the boundary, |margin| / ||d margin / dx|| (central
    differences), for inputs that are not 2-D: (K, N)."""
    X = np.asarray(X, dtype=np.float64)
    m0 = output_margin(engine.forward(spec, params, X).logits)
    g2 = np.zeros_like(m0)
    for j in range(X.shape[1]):
        e = np.zeros(X.shape[1])
        e[j] = eps
        up = output_margin(engine.forward(spec, params, X + e).logits)
        dn = output_margin(engine.forward(spec, params, X - e).logits)
        g2 += ((up - dn) / (2 * eps)) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.abs(m0) / np.sqrt(g2)


def context_correlations(engine, spec: MLPSpec, params: Params, X: np.ndarray,
                         dist: np.ndarray) -> dict[str, np.ndarray]:
    """Spearman correlation between each point's distance to the boundary (``dist``, (N,)
    or (K, N)) and the norm of its hidden representation per layer (``rho_norm``, (K, L)),
    and with the |logit| (``rho_logit``, (K,); the top-2 margin with several classes)."""
    out = engine.forward(spec, params, X, record=True)
    norms = [np.linalg.norm(_np(a), axis=-1) for a in out.a]
    rho_norm = np.stack([np.atleast_1d(spearman(dist, n)) for n in norms], axis=1)
    rho_logit = np.atleast_1d(spearman(dist, np.abs(output_margin(out.logits))))
    return {"rho_norm": rho_norm, "rho_logit": rho_logit}


def participation_ratio(H) -> np.ndarray | float:
    """Effective dimensionality (sum of covariance eigenvalues)^2 / sum of their squares,
    of representations ``H`` (..., N, d); 0 where the representation is constant."""
    H = np.asarray(H, dtype=np.float64)
    Hc = H - H.mean(axis=-2, keepdims=True)
    C = np.einsum("...ni,...nj->...ij", Hc, Hc) / max(1, H.shape[-2] - 1)
    tr = np.trace(C, axis1=-2, axis2=-1)
    fro2 = (C * C).sum(axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        pr = np.where(fro2 > 0, tr * tr / np.where(fro2 > 0, fro2, 1.0), 0.0)
    return pr if pr.ndim else float(pr)


def probe_accuracy(H_fit, y_fit, H_eval, y_eval, C: float = PROBE_C) -> np.ndarray | float:
    """Accuracy on (H_eval, y_eval) of a logistic regression fitted on (H_fit, y_fit)
    after standardising the features (scikit-learn, lbfgs). H may be (N, d) or (K, N, d)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    H_fit, H_eval = np.asarray(H_fit, dtype=np.float64), np.asarray(H_eval, dtype=np.float64)
    single = H_fit.ndim == 2
    if single:
        H_fit, H_eval = H_fit[None], H_eval[None]
    acc = np.full(H_fit.shape[0], np.nan)
    if len(np.unique(y_fit)) < 2:
        return acc[0] if single else acc
    for k in range(H_fit.shape[0]):
        if not (np.isfinite(H_fit[k]).all() and np.isfinite(H_eval[k]).all()):
            continue
        with np.errstate(over="ignore", invalid="ignore"):
            sc = StandardScaler().fit(H_fit[k])
            Z_fit, Z_eval = sc.transform(H_fit[k]), sc.transform(H_eval[k])
        if not (np.isfinite(Z_fit).all() and np.isfinite(Z_eval).all()):
            continue  # finite but astronomically large (a diverging member): no probe
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf = LogisticRegression(C=C, max_iter=1000).fit(Z_fit, y_fit)
        acc[k] = clf.score(Z_eval, y_eval)
    return float(acc[0]) if single else acc


def regions_defined(spec: MLPSpec) -> bool:
    """Linear regions are defined when every hidden activation is piecewise linear (or linear)."""
    return all(act.family in REGION_FAMILIES for act in spec.activations)


def activation_regions(engine, spec: MLPSpec, params: Params, xx: np.ndarray,
                       yy: np.ndarray) -> np.ndarray:
    """Region id of every grid node per member, (K, ny, nx): nodes share an id when every
    unit is on the same linear piece (same slope; same value on a flat piece).

    Distinct patterns are counted, as Hanin & Rolnick do: a region smaller than the grid
    step is missed, and a pattern seen in two places counts once.
    """
    if not regions_defined(spec):
        raise ValueError("linear regions need piecewise-linear or linear activations; "
                         f"this network has {', '.join(spec.activation)}")
    grid = np.c_[xx.ravel(), yy.ravel()]
    K = params[0].W.shape[0]
    ids = np.full((K, grid.shape[0]), -1, dtype=np.int64)
    for sl in _chunks(params, len(grid)):
        out = engine.forward(spec, member_slice(params, sl), grid, record=True)
        keys = []
        for z, a, act in zip(out.z, out.a, spec.activations):
            g = np.asarray(act.grad(_np(z)), dtype=np.float64)
            # a unit's piece: its slope, or on a flat piece its value (coded below any slope)
            keys.append(np.where(g != 0, g, FLAT - _np(a)) + 0.0)  # + 0.0 turns -0.0 into 0.0
        keys = np.concatenate(keys, axis=-1)
        hashes = _row_hash(keys)
        for j, k in enumerate(range(K)[sl]):
            if np.isfinite(keys[j]).all():
                ids[k] = np.unique(hashes[j], return_inverse=True)[1].ravel()
    return ids.reshape(K, *xx.shape)


def _row_hash(keys: np.ndarray) -> np.ndarray:
    """A 64-bit hash of every row (last axis) of a float array, from the exact bits:
    equal rows hash equal; distinct rows collide with probability ~ 2**-64 per pair."""
    bits = np.ascontiguousarray(keys, dtype=np.float64).view(np.uint64)
    mult = np.random.default_rng(0x5EED).integers(1, 2**63, size=bits.shape[-1], dtype=np.uint64) * 2 + 1
    with np.errstate(over="ignore"):
        mixed = bits >> np.uint64(29)
        mixed ^= bits
        mixed *= mult
        return mixed.sum(axis=-1, dtype=np.uint64)


def linear_regions(engine, spec: MLPSpec, params: Params, xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
    """Number of distinct activation patterns on the grid per member: (K,) (NaN if diverged)."""
    ids = activation_regions(engine, spec, params, xx, yy)
    flat = ids.reshape(ids.shape[0], -1)
    return np.array([np.nan if (r < 0).any() else float(r.max() + 1) for r in flat])


def unit_heatmaps(engine, spec: MLPSpec, params: Params, xx: np.ndarray, yy: np.ndarray) -> list[np.ndarray]:
    """Every hidden unit's output over the grid, per layer: (K, width, ny, nx)."""
    grid = np.c_[xx.ravel(), yy.ravel()]
    out = engine.forward(spec, params, grid, record=True)
    return [np.moveaxis(_np(a), -1, 1).reshape(_np(a).shape[0], -1, *xx.shape) for a in out.a]


# Running the probes of a spec ---------------------------------------------------------------

@dataclass
class ProbeSetup:
    """What every probe of a run shares: the points, the grid, the true boundary."""

    split: str
    X: np.ndarray
    y: np.ndarray
    X_fit: np.ndarray
    y_fit: np.ndarray
    include: tuple[str, ...] = PROBE_NAMES
    threshold: float = 0.01
    xx: np.ndarray | None = None
    yy: np.ndarray | None = None
    true_dist: np.ndarray | None = None
    baseline: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0  # time spent in the probes so far


def _cap(X: np.ndarray, y: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    if len(X) <= n:
        return X, y
    idx = np.sort(np.random.default_rng(0).choice(len(X), n, replace=False))
    return X[idx], y[idx]


def setup_probes(data: Dataset, spec: ProbesSpec | None = None, data_spec=None) -> ProbeSetup:
    """Prepare the probes of ``spec`` on ``data`` (and the true boundary of ``data_spec``).

    At most ``spec.max_points`` points of the probe split (and of the training split, for
    the logistic probes and gradients) are used: a fixed subsample when there are more.
    """
    from threadpoolctl import threadpool_limits

    t0 = time.perf_counter()
    with threadpool_limits(1):
        setup = _setup(data, spec, data_spec)
    setup.seconds = time.perf_counter() - t0
    return setup


def _setup(data: Dataset, spec: ProbesSpec | None, data_spec) -> ProbeSetup:
    spec = spec or ProbesSpec()
    if spec.split not in data.splits:
        raise InputError(f"probes.split = {spec.split!r}: this dataset has the splits "
                         f"{', '.join(data.splits)}")
    X, y = _cap(*data.split(spec.split), spec.max_points)
    Xf, yf = _cap(data.X_train, data.y_train, spec.max_points)
    setup = ProbeSetup(split=spec.split, X=X, y=y, X_fit=Xf, y_fit=yf,
                       include=tuple(spec.include), threshold=spec.saturation)
    if data.is_2d and {"context", "regions"} & set(spec.include):
        X_all = np.vstack([data.split(s)[0] for s in data.splits])
        setup.xx, setup.yy = grid_over(X_all, spec.grid)
    if "context" in spec.include and spec.true_boundary and setup.xx is not None:
        score = true_score(data_spec, data)
        if score is not None:  # a smooth boundary: a coarser grid reads it as well
            xx, yy = grid_over(X_all, min(spec.grid, TRUE_GRID))
            S = score(np.c_[xx.ravel(), yy.ravel()]).reshape(xx.shape)
            setup.true_dist = grid_distance(xx, yy, S, X)
    if "representation" in spec.include:
        setup.baseline = {"repr.pr.L0": participation_ratio(X),
                          "repr.probe_acc.L0": probe_accuracy(Xf, yf, X, y)}
    return setup


def measure(engine, spec: MLPSpec, params: Params, setup: ProbeSetup) -> dict[str, np.ndarray]:
    """Run the probes of ``setup`` on an ensemble: ``{"split/metric": (K,) array}``.

    Layers are numbered from 1 (the first hidden layer); gradient norms go to L + 1, the
    output layer. Pure: it reads ``params`` and the data, it never trains. BLAS runs on one
    thread meanwhile: its arrays are small, and threads only contend (8x slower fits).
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return _measure(engine, spec, params, setup)


def _measure(engine, spec: MLPSpec, params: Params, setup: ProbeSetup) -> dict[str, np.ndarray]:
    inc, s, out = setup.include, setup.split, {}
    L = spec.depth
    if "signal" in inc:
        for q, arr in signal_stats(engine, spec, params, setup.X, setup.threshold).items():
            for i in range(L):
                out[f"{s}/signal.{q}.L{i + 1}"] = arr[:, i]
    if "gradients" in inc:
        g = gradient_norms(engine, spec, params, setup.X_fit, setup.y_fit)
        for i in range(L + 1):
            out[f"train/grad_norm.L{i + 1}"] = g[:, i]
    if "context" in inc:
        if setup.xx is not None:
            dist = decision_distance(engine, spec, params, setup.X, setup.xx, setup.yy)
        else:
            dist = linearised_distance(engine, spec, params, setup.X)
        for suffix, d in (("", dist), ("_true", setup.true_dist)):
            if d is None:
                continue
            c = context_correlations(engine, spec, params, setup.X, d)
            for i in range(L):
                out[f"{s}/context.rho_norm{suffix}.L{i + 1}"] = c["rho_norm"][:, i]
            out[f"{s}/context.rho_logit{suffix}"] = c["rho_logit"]
    if "representation" in inc:
        ev = engine.forward(spec, params, setup.X, record=True)
        fit = engine.forward(spec, params, setup.X_fit, record=True)
        for i in range(L):
            H = _np(ev.a[i])
            out[f"{s}/repr.pr.L{i + 1}"] = np.asarray(participation_ratio(H), dtype=np.float64)
            out[f"{s}/repr.probe_acc.L{i + 1}"] = probe_accuracy(_np(fit.a[i]), setup.y_fit, H, setup.y)
    if "regions" in inc and setup.xx is not None and regions_defined(spec):
        out["grid/regions.count"] = linear_regions(engine, spec, params, setup.xx, setup.yy)
    return out


_QUANTITY = {
    "signal.z_abs_mean": "mean |z|", "signal.z_abs_std": "std |z|", "signal.a_abs_mean": "mean |a|",
    "signal.a_abs_std": "std |a|", "signal.saturated": "saturated fraction",
    "signal.dead": "dead units", "grad_norm": "gradient norm", "batch_grad_norm": "minibatch gradient norm",
    "context.rho_norm": "ρ(distance to boundary, ‖h‖)",
    "context.rho_norm_true": "ρ(distance to true boundary, ‖h‖)",
    "context.rho_logit": "ρ(distance to boundary, |logit|)",
    "context.rho_logit_true": "ρ(distance to true boundary, |logit|)",
    "repr.pr": "participation ratio", "repr.probe_acc": "linear probe accuracy",
    "regions.count": "linear regions", "test_accuracy": "test accuracy", "test_loss": "test loss",
    "final_train_loss": "final train loss", "val_accuracy": "validation accuracy",
}


def label(key: str) -> str:
    """A readable name for a metric key: 'repr.pr.L2' -> 'participation ratio, layer 2'."""
    key = key.split("/", 1)[-1]
    base, _, layer = key.rpartition(".L")
    if base and layer.isdigit():
        name = _QUANTITY.get(base, base)
        return f"{name}, layer {layer}" if int(layer) > 0 else f"{name}, input"
    return _QUANTITY.get(key, key.replace("_", " "))


def wants_batch_gradients(spec: ProbesSpec, engine) -> bool:
    """Whether training records minibatch gradient norms: ``batch_gradients = "on"``, or
    "auto" unless the engine fuses whole epochs (where recording them would undo that)."""
    if "gradients" not in spec.include or spec.batch_gradients == "off":
        return False
    return spec.batch_gradients == "on" or not hasattr(engine, "epoch_trainer")


def final_probes(engine, spec: MLPSpec, params: Params, hist, setup: ProbeSetup) -> dict[str, np.ndarray]:
    """The probes on the final parameters, recorded into ``hist`` at its last epoch, with
    the last epoch's minibatch gradient norms: ``{metric: (K,)}`` (metric without split)."""
    t0 = time.perf_counter()
    vals = measure(engine, spec, params, setup)
    last = hist.epochs - 1
    for key, v in vals.items():
        hist.record(key, last, v)
    out = {key.split("/", 1)[1]: v for key, v in vals.items()}
    for key in hist.values:
        if key.startswith("train/batch_grad_norm."):
            out[key.split("/", 1)[1]] = hist.last(key)
    setup.seconds += time.perf_counter() - t0
    return out


def record_probes(engine, spec: MLPSpec, hist, epoch: int, setup: ProbeSetup) -> None:
    """Run the probes on ``hist.params`` (the parameters after ``epoch``) into ``hist``."""
    t0 = time.perf_counter()
    for key, v in measure(engine, spec, hist.params, setup).items():
        hist.record(key, epoch, v)
    setup.seconds += time.perf_counter() - t0


def attach_to_members(members: list[dict], values: dict[str, np.ndarray]) -> None:
    """Put each member's probe values into its metrics.json entry (``"probes"``): None
    for a diverged member or a value that is not finite."""
    for k, m in enumerate(members):
        m["probes"] = {key: (None if m.get("diverged") or not np.isfinite(v[k]) else float(v[k]))
                       for key, v in values.items()}
