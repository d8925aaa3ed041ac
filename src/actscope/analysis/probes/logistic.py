"""The linear probes' logistic regression: scikit-learn's, without loading scikit-learn.

``LogisticRegression(C=C, max_iter=1000).fit(X, y)`` with its default solver is SciPy's
L-BFGS-B run on scikit-learn's objective (``linear_model._logistic`` and
``_linear_loss.LinearModelLoss``, version 1.9): the mean half log-loss plus
``0.5 / (C n) ||w||²`` (the intercept not penalised), from zeros, with ``gtol = tol``,
``ftol = 64 eps``, ``maxls = 50``. Two classes fit one weight vector (the binomial loss),
more classes the softmax over one vector per class. The same objective, the same start,
the same optimiser and the same options give the same fit: ``tests/test_analysis_logistic.py``
compares coefficients (to 1e-6) and accuracies (equal) with scikit-learn's. Loading
scikit-learn takes 1.5-2.5 s, SciPy's optimiser a tenth of that; a run's probes need
nothing else of scikit-learn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LogisticFit:
    """A fitted logistic regression: ``coef`` (n_classes or 1, d), ``intercept`` and the
    sorted ``classes`` it predicts."""

    coef: np.ndarray
    intercept: np.ndarray
    classes: np.ndarray

    def predict(self, X) -> np.ndarray:
        """The class of every row of ``X`` (ties to the first, as scikit-learn)."""
        scores = np.asarray(X, dtype=np.float64) @ self.coef.T + self.intercept
        if len(self.classes) == 2:
            return self.classes[(scores[:, 0] > 0).astype(int)]
        return self.classes[scores.argmax(axis=1)]

    def score(self, X, y) -> float:
        """Accuracy on ``(X, y)``."""
        return float(np.mean(self.predict(X) == np.asarray(y)))


def _binomial(w: np.ndarray, X: np.ndarray, y: np.ndarray, l2: float) -> tuple[float, np.ndarray]:
    """scikit-learn's HalfBinomialLoss through LinearModelLoss: mean loss and gradient."""
    n, d = X.shape
    raw = X @ w[:d] + w[d]
    loss = float(np.sum(np.logaddexp(0.0, raw) - y * raw) / n)
    loss += 0.5 * l2 * float(w[:d] @ w[:d])
    g = (_expit(raw) - y) / n
    grad = np.empty_like(w)
    grad[:d] = X.T @ g + l2 * w[:d]
    grad[d] = g.sum()
    return loss, grad


def _multinomial(w: np.ndarray, X: np.ndarray, y: np.ndarray, l2: float,
                 n_classes: int) -> tuple[float, np.ndarray]:
    """scikit-learn's HalfMultinomialLoss: ``w`` holds (n_classes, d + 1) in Fortran order."""
    n, d = X.shape
    W = w.reshape((n_classes, d + 1), order="F")
    raw = X @ W[:, :d].T + W[:, d]
    top = raw.max(axis=1, keepdims=True)
    lse = np.log(np.exp(raw - top).sum(axis=1)) + top[:, 0]
    rows = np.arange(n)
    loss = float(np.sum(lse - raw[rows, y]) / n)
    loss += 0.5 * l2 * float(np.sum(W[:, :d] * W[:, :d]))
    P = np.exp(raw - lse[:, None])
    P[rows, y] -= 1.0
    P /= n
    grad = np.empty((n_classes, d + 1), order="F")
    grad[:, :d] = P.T @ X + l2 * W[:, :d]
    grad[:, d] = P.sum(axis=0)
    return loss, grad.ravel(order="F")


def _expit(z: np.ndarray) -> np.ndarray:
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


def fit_logistic(X, y, C: float = 1.0, max_iter: int = 100, tol: float = 1e-4) -> LogisticFit:
    """``sklearn.linear_model.LogisticRegression(C=C, max_iter=max_iter, tol=tol).fit(X, y)``
    (lbfgs, L2, an intercept), as SciPy's L-BFGS-B on the same objective.

    ``y`` needs at least two classes. Not converging within ``max_iter`` is silent (the
    probes ignore scikit-learn's ConvergenceWarning as well).
    """
    from scipy.optimize import minimize  # deferred: the probes need it only after training

    X = np.ascontiguousarray(X, dtype=np.float64)
    y = np.asarray(y)
    classes, codes = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(f"a logistic regression needs two classes or more; y has {len(classes)}")
    n, d = X.shape
    l2 = 1.0 / (C * n)
    options = {"maxiter": max_iter, "maxls": 50, "gtol": tol, "ftol": 64 * np.finfo(float).eps}
    if len(classes) == 2:
        res = minimize(_binomial, np.zeros(d + 1), method="L-BFGS-B", jac=True,
                       args=(X, codes.astype(np.float64), l2), options=options)
        return LogisticFit(res.x[None, :d].copy(), res.x[d:].copy(), classes)
    k = len(classes)
    res = minimize(_multinomial, np.zeros(k * (d + 1)), method="L-BFGS-B", jac=True,
                   args=(X, codes, l2, k), options=options)
    W = res.x.reshape((k, d + 1), order="F")
    return LogisticFit(W[:, :d].copy(), W[:, d].copy(), classes)


def preload() -> None:
    """Import what `fit_logistic` needs (SciPy's optimiser) ahead of its first use."""
    import scipy.optimize  # noqa: F401
