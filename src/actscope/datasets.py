"""Datasets: the train / val / test splits of an experiment, built from a DataSpec.

Generators and splits come from scikit-learn; standardisation is fitted either on the
training split (the right default) or on the whole set before splitting (what the first
reference article does, ``standardize = "all"``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from sklearn.datasets import make_moons
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from .config import DataSpec


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


# Generators: name -> f(spec) -> (X, y, feature_names, class_names). Later issues add more.
GENERATORS: dict[str, Callable[[DataSpec], tuple]] = {}


def register_generator(name: str, fn: Callable[[DataSpec], tuple]) -> None:
    GENERATORS[name] = fn


def _moons(spec: DataSpec):
    X, y = make_moons(n_samples=spec.n_samples, noise=spec.noise, random_state=spec.random_state)
    return X, y, ["x1", "x2"], ["0", "1"]


register_generator("moons", _moons)


def load_dataset(spec: DataSpec) -> Dataset:
    """Generate, standardise and split the data that ``spec`` describes."""
    X, y, features, classes = GENERATORS[spec.name](spec)
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    if spec.standardize == "all":
        X = StandardScaler().fit_transform(X)
    n_classes = int(y.max()) + 1
    stratify = None
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=spec.test_size, random_state=spec.split_seed, stratify=stratify
    )
    X_va = y_va = None
    if spec.val_size > 0:
        X_tr, X_va, y_tr, y_va = train_test_split(
            X_tr, y_tr, test_size=spec.val_size, random_state=spec.split_seed
        )
    if spec.standardize == "train":
        scaler = StandardScaler().fit(X_tr)
        X_tr, X_te = scaler.transform(X_tr), scaler.transform(X_te)
        if X_va is not None:
            X_va = scaler.transform(X_va)
    return Dataset(
        name=spec.name, X_train=X_tr, y_train=y_tr, X_test=X_te, y_test=y_te,
        X_val=X_va, y_val=y_va, n_classes=max(n_classes, 2),
        feature_names=list(features), class_names=list(classes),
    )


def make_dataset(**kwargs) -> Dataset:
    """Convenience: ``make_dataset(name="moons", noise=0.2)``."""
    return load_dataset(DataSpec(**kwargs))
