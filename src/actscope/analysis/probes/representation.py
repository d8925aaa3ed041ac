"""Probes of the hidden representations: their effective dimension, and how well a linear
classifier reads the classes off them."""

from __future__ import annotations

import numpy as np

from actscope.analysis.probes.logistic import fit_logistic
from actscope.analysis.probes.logistic import preload as preload_logistic
from actscope.data.sklearn_exact import standard_scaler

PROBE_C = 10.0  # inverse L2 strength of the logistic probes (on standardised features)


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


def preload() -> None:
    """Import what `probe_accuracy` uses (SciPy's optimiser) now: a run does it while its
    arms train, so that measuring them after does not wait for it."""
    preload_logistic()


def probe_accuracy(H_fit, y_fit, H_eval, y_eval, C: float = PROBE_C) -> np.ndarray | float:
    """Accuracy on (H_eval, y_eval) of a logistic regression fitted on (H_fit, y_fit)
    after standardising the features: scikit-learn's StandardScaler and LogisticRegression
    (lbfgs), repeated without loading scikit-learn (`logistic`, `data.sklearn_exact`).
    H may be (N, d) or (K, N, d)."""
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
            mean, scale = standard_scaler(H_fit[k])
            Z_fit, Z_eval = (H_fit[k] - mean) / scale, (H_eval[k] - mean) / scale
        if not (np.isfinite(Z_fit).all() and np.isfinite(Z_eval).all()):
            continue  # finite but astronomically large (a diverging member): no probe
        acc[k] = fit_logistic(Z_fit, y_fit, C=C, max_iter=1000).score(Z_eval, y_eval)
    return float(acc[0]) if single else acc
