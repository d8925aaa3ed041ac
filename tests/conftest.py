"""Shared fixtures: small data, and a clean working directory for CLI tests."""

from __future__ import annotations

import os

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Run in an empty temporary directory (so a default ``runs/`` lands there)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def small_moons():
    from actscope.config import make_dataset

    return make_dataset(n_samples=120, noise=0.15, random_state=0, test_size=0.25, split_seed=0)


def pytest_configure(config):
    os.environ.setdefault("MPLBACKEND", "Agg")
