"""The scikit-learn calls of the built-in data path, in NumPy, bit for bit.

Importing scikit-learn takes 1.5-2.5 s (it loads SciPy's statistics and, when installed,
pandas), longer than training the first article's two networks. A run of the moons or
circles data needs only four of its functions: ``make_moons``, ``make_circles``,
``train_test_split`` without stratification, and ``StandardScaler``. They are repeated
here operation for operation (the same NumPy calls in the same order on arrays of the
same memory layout, so that every float rounds the same way), and
``tests/test_sklearn_exact.py`` checks that the arrays are identical to scikit-learn's,
byte for byte, over many sizes, seeds and layouts. Each function names the scikit-learn
code (version 1.9) it repeats.
"""

from __future__ import annotations

import math

import numpy as np


def _moons_or_circles(n_samples: int, outer, inner, noise: float | None, random_state: int | None,
                      shuffle: bool) -> tuple[np.ndarray, np.ndarray]:
    """The part ``make_moons`` and ``make_circles`` share: stack, shuffle, add noise
    (``sklearn.datasets._samples_generator``; shuffling is ``sklearn.utils.shuffle``,
    i.e. ``resample(replace=False)``: ``RandomState.shuffle`` of ``arange``)."""
    generator = np.random.RandomState(random_state)  # check_random_state(int); None: see make_moons
    X = np.vstack([np.append(outer[0], inner[0]), np.append(outer[1], inner[1])]).T
    n_out = n_samples // 2
    y = np.hstack([np.zeros(n_out, dtype=np.intp), np.ones(n_samples - n_out, dtype=np.intp)])
    if shuffle:
        indices = np.arange(n_samples)
        generator.shuffle(indices)
        X, y = X[indices, ...], y[indices, ...]  # utils._indexing._array_indexing
    if noise is not None:
        X += generator.normal(scale=noise, size=X.shape)
    return X, y


def make_moons(n_samples: int = 100, *, shuffle: bool = True, noise: float | None = None,
               random_state: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``sklearn.datasets.make_moons`` for an int ``n_samples`` and an int seed.

    Returns X (n_samples, 2) and y (n_samples,) as scikit-learn does: class 0's half
    circle (n_samples // 2 points) then class 1's, shuffled, then Gaussian noise. With
    ``random_state=None`` the draws come from fresh entropy (scikit-learn's from NumPy's
    global generator): only noiseless, unshuffled points are then the same.
    """
    n_out = n_samples // 2
    n_in = n_samples - n_out
    outer = (np.cos(np.linspace(0, np.pi, n_out)), np.sin(np.linspace(0, np.pi, n_out)))
    inner = (1 - np.cos(np.linspace(0, np.pi, n_in)), 1 - np.sin(np.linspace(0, np.pi, n_in)) - 0.5)
    return _moons_or_circles(n_samples, outer, inner, noise, random_state, shuffle)


def make_circles(n_samples: int = 100, *, shuffle: bool = True, noise: float | None = None,
                 random_state: int | None = None, factor: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    """``sklearn.datasets.make_circles`` for an int ``n_samples`` and an int seed (None: as
    in `make_moons`): an outer circle (class 0) and one ``factor`` times smaller (class 1)."""
    n_out = n_samples // 2
    n_in = n_samples - n_out
    lin_out = np.linspace(0, 2 * np.pi, n_out, endpoint=False)
    lin_in = np.linspace(0, 2 * np.pi, n_in, endpoint=False)
    outer = (np.cos(lin_out), np.sin(lin_out))
    inner = (np.cos(lin_in) * factor, np.sin(lin_in) * factor)
    return _moons_or_circles(n_samples, outer, inner, noise, random_state, shuffle)


def train_test_split(X: np.ndarray, y: np.ndarray, *, test_size: float,
                     random_state: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``sklearn.model_selection.train_test_split(X, y, test_size=..., random_state=...)``
    for NumPy arrays, a fractional ``test_size`` and no stratification: X_train, X_test,
    y_train, y_test.

    ``_validate_shuffle_split`` rounds the test size up; ``ShuffleSplit`` takes one
    ``RandomState(random_state).permutation``: its first n_test indices are the test
    split, the rest the training split, in that order.
    """
    n_samples = len(X)
    n_test = math.ceil(test_size * n_samples)
    n_train = n_samples - n_test
    if n_train <= 0 or n_test <= 0:
        raise ValueError(f"test_size = {test_size} leaves an empty split of {n_samples} samples")
    permutation = np.random.RandomState(random_state).permutation(n_samples)
    test, train = permutation[:n_test], permutation[n_test:n_test + n_train]
    return X[train, ...], X[test, ...], y[train, ...], y[test, ...]


def standard_scaler(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``StandardScaler().fit(X)``'s ``(mean_, scale_)`` for a finite float64 X.

    ``utils.extmath._incremental_mean_and_var`` from nothing seen (the corrected two-pass
    variance), then ``_is_constant_feature`` and ``_handle_zeros_in_scale``: a feature
    whose variance is within rounding of 0 gets scale 1. Transform with
    ``(X - mean_) / scale_``, as ``StandardScaler.transform`` does in place.
    """
    X = np.asarray(X, dtype=np.float64)
    if not np.isfinite(X).all():
        raise ValueError("standard_scaler takes finite data (scikit-learn's NaN handling is not repeated)")
    new_sum = np.sum(X, axis=0)
    new_count = X.shape[0] - np.sum(np.isnan(X).astype(X.dtype), axis=0)  # float, as sklearn's
    mean = (0.0 + new_sum) / new_count  # last_sum (0.0) + new_sum, over last (0) + new count
    temp = X - new_sum / new_count
    correction = np.sum(temp, axis=0)
    temp **= 2
    unnormalized = np.sum(temp, axis=0)
    unnormalized -= correction ** 2 / new_count
    var = unnormalized / new_count
    n_seen = new_count[0]  # StandardScaler keeps one count when every feature has it
    eps = np.finfo(np.float64).eps
    constant = var <= n_seen * eps * var + (n_seen * mean * eps) ** 2
    scale = np.sqrt(var)
    scale[constant] = 1.0
    return mean, scale
