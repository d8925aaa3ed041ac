"""Probes of the hidden representations: their effective dimension, and how well a linear
classifier reads the classes off them."""

from __future__ import annotations

import warnings

import numpy as np

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
    """Import what `probe_accuracy` uses (scikit-learn, 1-2 s) now: a run does it while its
    arms train, so that measuring them after does not wait for it."""
    import sklearn.exceptions  # noqa: F401
    import sklearn.linear_model  # noqa: F401
    import sklearn.preprocessing  # noqa: F401


def probe_accuracy(H_fit, y_fit, H_eval, y_eval, C: float = PROBE_C) -> np.ndarray | float:
    """Accuracy on (H_eval, y_eval) of a logistic regression fitted on (H_fit, y_fit)
    after standardising the features (scikit-learn, lbfgs). H may be (N, d) or (K, N, d)."""
    # deferred: scikit-learn takes over a second to load (the report stack never needs it)
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
