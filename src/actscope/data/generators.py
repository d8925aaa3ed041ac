"""Datasets: the train / val / test splits of an experiment, built from a data spec.

Moons, circles, the splits and the standardisation are scikit-learn's, repeated bit for
bit in NumPy (`data.sklearn_exact`), so that a run of the built-in 2-D data never imports
scikit-learn (1.5-2.5 s, SciPy's statistics and pandas with it: longer than training the
first article's networks); its bundled datasets (iris, ...) still load it, where they
are used. Standardisation is fitted either on the training split (the right default) or
on the whole set before splitting (what the first reference article does,
``standardize = "all"``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from actscope.data.csv_files import load_csv
from actscope.data.sklearn_exact import make_circles, make_moons, standard_scaler, train_test_split
from actscope.errors import InputError


class DataSpecLike(Protocol):
    """What a generator and `load_dataset` read from a spec (``actscope.config.DataSpec``
    has these; generators read their own fields, such as ``factor`` or ``path``, too)."""

    name: str
    n_samples: int
    noise: float
    random_state: int
    test_size: float
    val_size: float
    split_seed: int

    @property
    def standardize(self) -> str: ...  # read-only: a spec may narrow it to its literals


@dataclass
class Dataset:
    """The splits of one experiment, every array float64 (X) and int64 (y)."""

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    X_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    n_classes: int = 2
    feature_names: list[str] = field(default_factory=list)
    class_names: list[str] = field(default_factory=list)
    # the standardisation applied, raw x -> (x - mean) / scale; None for standardize = "none"
    scaler: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]

    @property
    def is_2d(self) -> bool:
        return self.n_features == 2

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(X, y) of 'train', 'val' or 'test'."""
        X, y = getattr(self, f"X_{name}"), getattr(self, f"y_{name}")
        if X is None:
            raise KeyError(f"this dataset has no {name!r} split")
        return X, y

    @property
    def splits(self) -> list[str]:
        return ["train"] + (["val"] if self.X_val is not None else []) + ["test"]


# Generators: name -> f(spec) -> (X, y, feature_names, class_names). A spec's [data] name
# is validated against this registry, so a generator registered here can be named in TOML.
GENERATORS: dict[str, Callable[[DataSpecLike], tuple]] = {}


def register_generator(name: str, fn: Callable[[DataSpecLike], tuple]) -> None:
    """Make ``[data] name = "<name>"`` generate its data with ``fn(spec)``.

    ``fn`` returns ``(X, y, feature_names, class_names)``: X of shape (n, features), y the
    class of each row (0, 1, ...); ``load_dataset`` splits and standardises them.
    """
    GENERATORS[name] = fn


def _moons(spec: DataSpecLike):
    X, y = make_moons(n_samples=spec.n_samples, noise=spec.noise, random_state=spec.random_state)
    return X, y, ["x1", "x2"], ["0", "1"]


def class_curves(name: str, spec: Any) -> list[np.ndarray] | None:
    """The noiseless points each class of generator ``name`` is drawn around, one (T, 2)
    array per class, from the very function the generator calls: for moons and circles
    the points scikit-learn places before adding its noise (n // 2 on class 0's curve,
    the rest on class 1's); for spiral 256 quantiles of each arm (`spiral_arm`).
    None for the other generators. The true boundary (``data.boundaries``) is built on
    these, so the two cannot drift apart."""
    if name in ("moons", "circles"):
        if name == "moons":
            X, y = make_moons(n_samples=spec.n_samples, noise=None, shuffle=False)
        else:
            X, y = make_circles(n_samples=spec.n_samples, noise=None, shuffle=False, factor=spec.factor)
        return [X[y == 0], X[y == 1]]
    if name == "spiral":
        t = np.sqrt((np.arange(256) + 0.5) / 256)  # quantiles of the arms' radius distribution
        return [spiral_arm(t, spec.turns, c) for c in (0, 1)]
    return None


def class_sizes(name: str, spec: DataSpecLike) -> list[int]:
    """How many points the generator draws per class (moons, circles, spiral: n // 2 for
    class 0, the rest for class 1)."""
    n0 = spec.n_samples // 2
    return [n0, spec.n_samples - n0]


register_generator("moons", _moons)


def _xy(spec: DataSpecLike) -> np.random.Generator:
    return np.random.default_rng(spec.random_state)


def _circles(spec: Any):  # Any: a generator also reads its own fields (factor here)
    X, y = make_circles(n_samples=spec.n_samples, noise=spec.noise, factor=spec.factor,
                        random_state=spec.random_state)
    return X, y, ["x1", "x2"], ["outer", "inner"]


def _xor(spec: DataSpecLike):
    """Uniform on [-1, 1]^2; class 1 where x1 * x2 > 0; Gaussian noise added afterwards."""
    rng = _xy(spec)
    X = rng.uniform(-1.0, 1.0, size=(spec.n_samples, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)
    return X + spec.noise * rng.standard_normal(X.shape), y, ["x1", "x2"], ["0", "1"]


def spiral_arm(t: np.ndarray, turns: float, c: int) -> np.ndarray:
    """Points (len(t), 2) of arm ``c`` of the spiral at radii ``t`` in [0, 1]: angle
    2 pi turns t, plus pi for the second arm."""
    angle = 2 * np.pi * turns * t + np.pi * c
    return np.c_[t * np.cos(angle), t * np.sin(angle)]


def _spiral(spec: Any):  # reads turns
    """Two interleaved arms of ``turns`` turns each (the second is the first rotated by pi)."""
    rng = _xy(spec)
    n1 = spec.n_samples // 2
    counts = (n1, spec.n_samples - n1)
    Xs, ys = [], []
    for c, n in enumerate(counts):
        t = np.sqrt(rng.uniform(0.0, 1.0, n))  # uniform density along the arm's area
        pts = spiral_arm(t, spec.turns, c)
        Xs.append(pts + spec.noise * rng.standard_normal(pts.shape))
        ys.append(np.full(n, c))
    X, y = np.vstack(Xs), np.concatenate(ys)
    order = rng.permutation(len(y))
    return X[order], y[order], ["x1", "x2"], ["spiral 0", "spiral 1"]


def _blobs(spec: Any):  # reads centers
    """``centers`` Gaussian blobs with centres on a circle of radius 1, std = noise."""
    rng = _xy(spec)
    k = spec.centers
    angles = 2 * np.pi * np.arange(k) / k
    centres = np.c_[np.cos(angles), np.sin(angles)]
    y = np.arange(spec.n_samples) % k
    rng.shuffle(y)
    X = centres[y] + spec.noise * rng.standard_normal((spec.n_samples, 2))
    return X, y, ["x1", "x2"], [str(c) for c in range(k)]


def _checkerboard(spec: Any):  # reads cells
    """Uniform on [0, cells)^2, the class of a point is the colour of its square."""
    rng = _xy(spec)
    X = rng.uniform(0.0, spec.cells, size=(spec.n_samples, 2))
    y = (np.floor(X[:, 0]) + np.floor(X[:, 1])).astype(np.int64) % 2
    return X + spec.noise * rng.standard_normal(X.shape), y, ["x1", "x2"], ["0", "1"]


def _sklearn(loader: str):
    """A generator for ``sklearn.datasets.<loader>``."""
    def load(spec: DataSpecLike):
        import sklearn.datasets

        d = getattr(sklearn.datasets, loader)()
        return d.data, d.target, [str(f) for f in d.feature_names], [str(c) for c in d.target_names]
    return load


def _csv(spec: Any):  # reads path, label, ...
    return load_csv(spec.path, label=spec.label, features=getattr(spec, "features", None),
                    drop=getattr(spec, "drop", None), delimiter=getattr(spec, "delimiter", None))


register_generator("circles", _circles)
register_generator("xor", _xor)
register_generator("spiral", _spiral)
register_generator("blobs", _blobs)
register_generator("checkerboard", _checkerboard)
register_generator("breast_cancer", _sklearn("load_breast_cancer"))
register_generator("iris", _sklearn("load_iris"))
register_generator("wine", _sklearn("load_wine"))
register_generator("digits", _sklearn("load_digits"))
register_generator("csv", _csv)


def load_dataset(spec: DataSpecLike) -> Dataset:
    """Generate, standardise and split the data that ``spec`` describes."""
    X, y, features, classes = GENERATORS[spec.name](spec)
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    n_test = int(np.ceil(spec.test_size * len(y)))
    if len(y) - n_test < 2 or n_test < 1:
        raise InputError(f"data: {len(y)} rows are too few to split with test_size = {spec.test_size}")
    n_val = int(np.ceil(spec.val_size * (len(y) - n_test)))  # as train_test_split rounds
    if len(y) - n_test - n_val < 2:
        raise InputError(f"data: data.val_size = {spec.val_size}: leaves {len(y) - n_test - n_val} of "
                         f"{len(y)} rows for training ({n_test} test, {n_val} validation); at least 2")
    scaler = None
    if spec.standardize == "all":
        scaler = _fit_scaler(X)
        X = (X - scaler[0]) / scaler[1]
    n_classes = int(y.max()) + 1
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=spec.test_size, random_state=spec.split_seed)
    X_va = y_va = None
    if spec.val_size > 0:
        X_tr, X_va, y_tr, y_va = train_test_split(
            X_tr, y_tr, test_size=spec.val_size, random_state=spec.split_seed
        )
    if spec.standardize == "train":
        scaler = _fit_scaler(X_tr)
        X_tr, X_te = (X_tr - scaler[0]) / scaler[1], (X_te - scaler[0]) / scaler[1]
        if X_va is not None:
            X_va = (X_va - scaler[0]) / scaler[1]
    return Dataset(
        name=spec.name, X_train=X_tr, y_train=y_tr, X_test=X_te, y_test=y_te,
        X_val=X_va, y_val=y_va, n_classes=max(n_classes, 2),
        feature_names=list(features), class_names=list(classes),
        scaler=scaler,
    )


def _fit_scaler(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``StandardScaler().fit(X)``'s (mean_, scale_): in NumPy for finite data (all the
    built-in generators and CSV files give), scikit-learn's NaN-aware fit otherwise."""
    if np.isfinite(X).all():
        return standard_scaler(X)
    from sklearn.preprocessing import StandardScaler  # deferred: 1.5-2.5 s

    fitted = StandardScaler().fit(X)
    return fitted.mean_.copy(), fitted.scale_.copy()
