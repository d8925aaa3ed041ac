"""The checks a spec can pass only once its data is loaded (a CSV file's size and columns
are known only then): run after loading the data and before any training.

Each check raises an InputError of one line, ``data: field = value: reason``, naming the
spec field to change.
"""

from __future__ import annotations

import numpy as np

from actscope.config.budget import enforce, estimate, spec_shape
from actscope.data.generators import Dataset
from actscope.errors import input_error


def check_points(spec, n_features: int, n_classes: int, dataset: str, source: str = "data") -> None:
    """Every probe point has one coordinate per feature, and a class the data has."""
    for i, p in enumerate(spec.probes.points):
        for key in ("x", "farthest_from"):
            coords = getattr(p, key)
            if coords is not None and len(coords) != n_features:
                raise input_error(source, f"probes.points[{i}].{key}", coords,
                                  f"{len(coords)} coordinates for {n_features}-feature data "
                                  f"({dataset}): give {n_features}")
        if p.label is not None and p.label >= n_classes:
            raise input_error(source, f"probes.points[{i}].class", p.label,
                              f"the data has classes 0 to {n_classes - 1}")


def check_splits(spec, data: Dataset) -> None:
    """Every split (training, validation, test) holds at least one point of every class:
    a class missing from the training split cannot be learnt, one missing from an
    evaluation split makes its per-class numbers meaningless."""
    knob = {"train": ("data.val_size", spec.data.val_size), "val": ("data.val_size", spec.data.val_size),
            "test": ("data.test_size", spec.data.test_size)}
    for split in data.splits:
        _, y = data.split(split)
        counts = np.bincount(np.asarray(y, dtype=np.int64), minlength=data.n_classes)
        missing = [data.class_names[c] if c < len(data.class_names) else str(c)
                   for c in np.flatnonzero(counts == 0)]
        if missing:
            field, value = knob.get(split, ("data.n_samples", spec.data.n_samples))
            raise input_error("data", field, value,
                              f"the {split} split ({len(y)} points) has no point of class "
                              f"{', '.join(map(repr, missing[:5]))}; every split needs every class "
                              "(more data, or a larger split)")


def check_with_data(spec, data: Dataset, source: str = "data") -> None:
    """Every check of ``spec`` against its loaded ``data`` (see the module)."""
    check_points(spec, data.n_features, data.n_classes, data.name, source)
    check_splits(spec, data)


def check_from_spec(spec, source: str = "config") -> None:
    """What can be checked against the data before loading it, where the spec alone tells
    its shape (a built-in dataset): the probe points and the resource estimate."""
    shape = spec_shape(spec)
    if shape is not None:
        check_points(spec, shape.n_features, shape.n_classes, spec.data.name, source)
        enforce(estimate(spec, shape), source)
