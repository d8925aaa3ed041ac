"""Prediction against experiment: q^l and c^l from the maps next to those measured in
deep random networks of finite width."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import numpy as np

from actscope.errors import InputError
from actscope.seeding import aux_rng
from actscope.theory.checks import check_variance, resolve_activation
from actscope.theory.length import length_map
from actscope.theory.maps import FixedPoint, fixed_point
from actscope.theory.quadrature import bivariate_expectation, breakpoints

PROPAGATION_PURPOSE = 5  # spawn key of the random streams of `propagate`


def predict_layers(activation, sigma_w2: float, sigma_b2: float, q_in: float,
                   c_in: float | None, depth: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Predicted q^l and c^l, l = 1..depth, for two inputs with |x|²/n = q_in and
    correlation c_in (layer 1 is linear in the input: q^1 = σw² q_in + σb²).
    With ``c_in=None`` only q^l is computed."""
    act = resolve_activation(activation)
    q = sigma_w2 * q_in + sigma_b2
    q12 = sigma_w2 * (c_in or 0.0) * q_in + sigma_b2
    qs, cs = [q], [q12 / q if q > 0 else 1.0]
    for _ in range(depth - 1):
        if c_in is not None:
            c = q12 / q if q > 0 else 1.0
            q12 = float(sigma_w2 * bivariate_expectation(act.fn, act.fn, q, q, c, breakpoints(act))
                        + sigma_b2)
        q = float(length_map(act, q, sigma_w2, sigma_b2))
        qs.append(q)
        cs.append(q12 / q if q > 0 else 1.0)
    return np.asarray(qs), (np.asarray(cs) if c_in is not None else None)


@dataclass
class Propagation:
    """Predicted and measured q^l and c^l of deep random networks at (σw², σb²)."""

    activation: str
    sigma_w2: float
    sigma_b2: float
    depth: int
    width: int
    n_networks: int
    seed: int
    q0: np.ndarray                # (n_q,) input lengths
    c0: np.ndarray                # (n_c,) input correlations (inputs of length q_c)
    q_c: float
    q_pred: np.ndarray            # (n_q, depth)
    q_meas: np.ndarray            # (n_q, depth): mean over units, inputs and networks
    q_meas_std: np.ndarray        # (n_q, depth): std over networks
    c_pred: np.ndarray            # (n_c, depth)
    c_meas: np.ndarray            # (n_c, depth): mean over input pairs and networks
    c_meas_std: np.ndarray        # (n_c, depth)
    fixed: FixedPoint | None = field(default=None)

    @property
    def q_rel_err(self) -> np.ndarray:
        return self.q_meas / self.q_pred - 1.0

    def table(self) -> str:
        """Layer by layer: predicted and measured q (first q0) and c (first c0)."""
        head = (f"{'layer':>5} {'q pred':>11} {'q meas':>11} {'rel err':>8} "
                f"{'c pred':>8} {'c meas':>8}")
        rows = [head]
        for layer in range(self.depth):
            rows.append(f"{layer + 1:>5} {self.q_pred[0, layer]:>11.5g} {self.q_meas[0, layer]:>11.5g} "
                        f"{self.q_rel_err[0, layer]:>+8.2%} {self.c_pred[0, layer]:>8.4f} "
                        f"{self.c_meas[0, layer]:>8.4f}")
        return "\n".join(rows)


def _inputs(rng: np.random.Generator, width: int, q0, n_per: int, q_c: float, c0) -> np.ndarray:
    """Rows with |x|²/width exactly q0 (n_per each), then n_per pairs per c0 of length q_c
    and correlation exactly c0 (pair members adjacent)."""
    rows = []
    for q in q0:
        x = rng.standard_normal((n_per, width))
        rows.append(x * np.sqrt(q * width) / np.linalg.norm(x, axis=1, keepdims=True))
    s = np.sqrt(q_c * width)
    for c in c0:
        for _ in range(n_per):
            a, b = rng.standard_normal((2, width))
            a /= np.linalg.norm(a)
            b -= (b @ a) * a
            b /= np.linalg.norm(b)
            rows.append(np.stack([s * a, s * (c * a + np.sqrt(1.0 - c * c) * b)]))
    return np.concatenate(rows)


def measure_layers(activation, sigma_w2: float, sigma_b2: float, X: np.ndarray, depth: int,
                   seed: int) -> np.ndarray:
    """Pre-activations' mean square per input and layer, (depth, n_inputs), and their
    Gram matrices, for one random network of width X.shape[1] (weights drawn layer by
    layer from ``aux_rng(seed)``, so memory stays at one weight matrix)."""
    act = resolve_activation(activation)
    rng = aux_rng(seed, PROPAGATION_PURPOSE)
    a = X
    grams = []
    for _ in range(depth):
        n = a.shape[1]
        W = rng.standard_normal((n, n)) * np.sqrt(sigma_w2 / n)
        b = rng.standard_normal(n) * np.sqrt(sigma_b2)
        z = a @ W + b
        grams.append(z @ z.T / n)
        a = act.fn(z)
    return np.stack(grams)


def propagate(activation, sigma_w2: float, sigma_b2: float, depth: int = 30, width: int = 1000,
              q0=(0.5, 1.0, 2.0), c0=(0.2, 0.6, 0.9), q_c: float = 1.0, n_networks: int = 4,
              n_per: int = 4, seed: int = 0) -> Propagation:
    """Predicted q^l, c^l next to those measured in ``n_networks`` random networks.

    Inputs have dimension ``width``; ``n_per`` inputs per q0 and ``n_per`` pairs per c0,
    averaged. Network k uses seed ``seed + k``.
    """
    act = resolve_activation(activation)
    sw2 = check_variance("sigma_w2", sigma_w2, positive=True)
    sb2 = check_variance("sigma_b2", sigma_b2)
    q0 = np.asarray([check_variance("q0", v, positive=True) for v in np.atleast_1d(q0)])
    c0 = np.atleast_1d(np.asarray(c0, dtype=np.float64))
    if np.any(np.abs(c0) > 1):
        raise InputError(f"c0 = {c0.tolist()}: correlations must lie in [-1, 1]")
    for name, v, least in (("depth", depth, 1), ("width", width, 2), ("n_networks", n_networks, 1),
                           ("n_per", n_per, 1)):
        if int(v) != v or v < least:
            raise InputError(f"{name} = {v!r}: must be an integer >= {least}")
    q_c = check_variance("q_c", q_c, positive=True)
    pred_q = np.stack([predict_layers(act, sw2, sb2, q, None, depth)[0] for q in q0])
    pred_c = np.stack([cast(np.ndarray, predict_layers(act, sw2, sb2, q_c, c, depth)[1]) for c in c0])
    X = _inputs(aux_rng(seed, PROPAGATION_PURPOSE + 1), int(width), q0, n_per, q_c, c0)
    nq = len(q0) * n_per
    runs_q, runs_c = [], []
    for k in range(n_networks):
        G = measure_layers(act, sw2, sb2, X, depth, seed + k)      # (depth, M, M)
        diag = np.diagonal(G, axis1=1, axis2=2)                     # (depth, M)
        runs_q.append(diag[:, :nq].reshape(depth, len(q0), n_per).mean(axis=2).T)
        i = nq + 2 * np.arange(len(c0) * n_per)
        c = G[:, i, i + 1] / np.sqrt(diag[:, i] * diag[:, i + 1])  # (depth, n_c * n_per)
        runs_c.append(c.reshape(depth, len(c0), n_per).mean(axis=2).T)
    mq, mc = np.stack(runs_q), np.stack(runs_c)
    return Propagation(act.name, sw2, sb2, int(depth), int(width), int(n_networks), int(seed),
                       q0, c0, q_c, pred_q, mq.mean(0), mq.std(0), pred_c, mc.mean(0), mc.std(0),
                       fixed_point(act, sw2, sb2))

