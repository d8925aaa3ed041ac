"""One trained network out of a run directory: one member of one arm, with the input
standardisation it was trained behind, in plain NumPy (what the exporters translate)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from actscope.errors import InputError, shown
from actscope.experiment.rundir import Run, load_run
from actscope.nn.model import MLPSpec
from actscope.nn.params import finite_members


@dataclass(frozen=True)
class Member:
    """One network: weights ``(fan_in, fan_out)`` and biases ``(fan_out,)`` per layer.

    Attributes
    ----------
    arm, index, seed : str, int, int
        Where it comes from: the arm's name, the member's index in its ensemble and seed.
    mlp : MLPSpec
        Its architecture (sizes, activations, classes).
    layers : list of (W, b)
        Float64 arrays, input to output.
    scaler : (mean, scale) or None
        The standardisation the network was trained behind: raw features ``x`` entered the
        network as ``(x - mean) / scale``; None when the spec had ``standardize = "none"``.
    feature_names, class_names : list of str
        The data's columns and classes.
    """

    arm: str
    index: int
    seed: int
    mlp: MLPSpec
    layers: list[tuple[np.ndarray, np.ndarray]]
    scaler: tuple[np.ndarray, np.ndarray] | None
    feature_names: list[str]
    class_names: list[str]

    def standardize(self, X: np.ndarray) -> np.ndarray:
        """Raw features as the network saw them in training."""
        X = np.asarray(X, dtype=np.float64)
        return X if self.scaler is None else (X - self.scaler[0]) / self.scaler[1]


def pick_member(run: Run | str | Path, arm: str | None = None, member: int = 0) -> Member:
    """Member ``member`` of arm ``arm`` (the only arm when None) of a run or run directory.

    Raises
    ------
    InputError
        One line naming ``--arm`` or ``--member``, the value and what is allowed: an arm the
        run does not have, a member out of range, or one whose parameters diverged.
    """
    if not isinstance(run, Run):
        run = load_run(run)
    names = list(run.arms)
    if arm is None:
        if len(names) != 1:
            raise InputError(f"--arm is missing: the run has {len(names)} arms; "
                             f"choose one of {', '.join(names)}")
        arm = names[0]
    if arm not in run.arms:
        raise InputError(f"--arm = {shown(arm)}: the run has no such arm; known: {', '.join(names)}")
    result = run.arms[arm]
    K = len(result.seeds)
    if isinstance(member, bool) or not 0 <= int(member) < K:
        raise InputError(f"--member = {shown(member)}: arm {arm!r} has members 0 to {K - 1}")
    member = int(member)
    layers = [(np.asarray(W[member], dtype=np.float64), np.asarray(b[member], dtype=np.float64))
              for W, b in result.params]
    if not all(np.isfinite(W).all() and np.isfinite(b).all() for W, b in layers):
        finite = ", ".join(str(k) for k in np.flatnonzero(finite_members(result.params))) or "none"
        raise InputError(f"--member = {member}: member {member} of arm {arm!r} diverged (its parameters "
                         f"are not finite); finite members: {finite}")
    ds = run.dataset
    return Member(arm=arm, index=member, seed=int(result.seeds[member]), mlp=result.mlp, layers=layers,
                  scaler=getattr(ds, "scaler", None), feature_names=list(ds.feature_names),
                  class_names=list(ds.class_names))


def reference_proba(m: Member, X: np.ndarray) -> np.ndarray:
    """Class probabilities ``(N, C)`` of raw features ``X`` by actscope's own NumPy engine:
    the numbers an export must reproduce."""
    from actscope.engines import get_engine
    from actscope.nn.model import Layer

    params = [Layer(W[None], b[None]) for W, b in m.layers]
    prob = np.asarray(get_engine("numpy").forward(m.mlp, params, m.standardize(X)).prob)[0]
    return np.stack([1.0 - prob, prob], axis=1) if prob.ndim == 1 else prob


__all__ = ["Member", "pick_member", "reference_proba"]
