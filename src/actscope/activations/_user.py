"""User activations given as NumPy callables (no expression: compiled engines run them on
the NumPy path)."""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from actscope.activations._define import second_moment_gain
from actscope.activations._registry import (
    FAMILIES,
    Activation,
    Array,
    is_builtin,
    list_activations,
    register_user,
)
from actscope.errors import InputError

_CHECK_X = np.concatenate([np.linspace(-4.0, 4.0, 41) + 0.0123, [-0.37, 0.29, 1.7]])


def numerical_grad(fn: Callable[[Array], Array], h: float = 1e-5) -> Callable[[Array], Array]:
    """Central-difference derivative of ``fn`` with a step relative to |z|."""
    def grad(z: Array) -> Array:
        step = h * np.maximum(1.0, np.abs(z))
        return (fn(z + step) - fn(z - step)) / (2.0 * step)
    return grad


def register_activation(
    name: str,
    fn: Callable[[Array], Array] | None = None,
    grad: Callable[[Array], Array] | None = None,
    *,
    family: str = "smooth",
    gain: float | None = None,
    range: tuple[float, float] = (-np.inf, np.inf),
    torch_fn: Callable | None = None,
    torch_grad: Callable | None = None,
    overwrite: bool = False,
) -> Activation:
    """Register a user activation written with NumPy; returns the registry object.

    ``fn`` (and ``grad``) take and return float arrays of any shape. Without ``grad`` a
    central-difference derivative is used, checked at registration (two step sizes must
    agree); a given ``grad`` is checked against finite differences. Without ``torch_fn``
    the torch engine evaluates ``fn`` through NumPy on the CPU. ``gain`` defaults to the
    variance-preserving 1 / sqrt(E[f(z)^2]).

    A torch callable is accepted too, as ``fn`` (``torch.nn.functional.hardswish``: detected
    by failing on an array and working on a tensor) or as ``torch_fn`` alone: the torch
    engine runs it on its tensors, its derivative by autograd, and every other engine runs
    it through torch on the CPU (float64).
    """
    if fn is None or _is_torch_callable(fn):
        fn, grad, torch_fn, torch_grad = _from_torch(name, torch_fn if fn is None else fn)
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.\-]*", str(name)):
        raise InputError(f"register_activation: name = {name!r}: use letters, digits, _ . -")
    if is_builtin(name):
        raise InputError(f"register_activation: name = {name!r} is a built-in activation")
    if name in list_activations() and not overwrite:
        raise InputError(f"register_activation: name = {name!r} is already registered "
                         "(pass overwrite=True to replace it)")
    grad = _checked_grad(name, fn, grad)
    if family not in FAMILIES:
        raise InputError(f"register_activation {name!r}: family = {family!r}; allowed: {', '.join(FAMILIES)}")
    act = Activation(name, fn, grad, family, gain=second_moment_gain(fn) if gain is None else float(gain),
                     range=range, description="registered from Python",
                     torch_fn=torch_fn or _through_numpy(fn), torch_grad=torch_grad or _through_numpy(grad))
    return register_user(act)


def _checked_grad(name: str, fn: Callable, grad: Callable | None) -> Callable:
    """``grad``, checked against finite differences of ``fn`` (or those differences)."""
    z = _CHECK_X.copy()
    with np.errstate(all="ignore"):
        try:
            y = np.asarray(fn(z), dtype=np.float64)
        except Exception as err:  # noqa: BLE001 - user code: report, do not crash
            raise InputError(f"register_activation {name!r}: fn failed on an array: {err}") from None
        if y.shape != z.shape or not np.all(np.isfinite(y)):
            raise InputError(f"register_activation {name!r}: fn must map a float array to finite "
                             "values of the same shape")
        num = numerical_grad(fn)(z)
        if grad is None:
            coarse = numerical_grad(fn, 1e-3)(z)
            bad = ~np.isfinite(num) | (np.abs(num - coarse) > 1e-3 * (1 + np.abs(num)))
            if bad.any():
                raise InputError(f"register_activation {name!r}: fn is not differentiable near "
                                 f"x = {z[bad][0]:.4g}; pass grad=")
            return numerical_grad(fn)
        g = np.asarray(grad(z), dtype=np.float64)
        if (g.shape != z.shape) or np.any(np.abs(g - num) > 1e-4 * (1 + np.abs(num))):
            raise InputError(f"register_activation {name!r}: grad does not match the finite-"
                             "difference derivative of fn")
    return grad


def _is_torch_callable(fn: Callable) -> bool:
    """Whether ``fn`` refuses a NumPy array but maps a torch tensor (a torch function)."""
    try:
        with np.errstate(all="ignore"):
            fn(_CHECK_X[:2].copy())
        return False
    except TypeError:
        pass
    except Exception:  # noqa: BLE001 - fn's own check reports it, in one line
        return False
    try:
        import torch

        return hasattr(fn(torch.zeros(2, dtype=torch.float64)), "dtype")
    except Exception:  # noqa: BLE001 - not a torch callable either: fn's own check reports it
        return False


def _from_torch(name: str, tfn: Callable | None) -> tuple[Callable, Callable, Callable, Callable]:
    """(fn, grad, torch_fn, torch_grad) of a torch callable: its derivative by autograd,
    NumPy forms through torch on the CPU."""
    if tfn is None:
        raise InputError(f"register_activation {name!r}: give fn (NumPy or torch) or torch_fn")
    try:
        import torch
    except ImportError:
        raise InputError(f"register_activation {name!r}: a torch activation needs PyTorch: "
                         "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu, "
                         "then pip install 'actscope[torch]'") from None

    def tgrad(z):
        with torch.enable_grad():
            x = z.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(tfn(x).sum(), x)
        return g

    def bridge(f):
        def on_arrays(z):
            z = np.asarray(z)
            with torch.no_grad() if f is tfn else torch.enable_grad():
                return f(torch.as_tensor(z if z.dtype.kind == "f" else z.astype(np.float64))).detach().numpy()
        return on_arrays
    return bridge(tfn), bridge(tgrad), tfn, tgrad


def _through_numpy(fn: Callable[[Array], Array]) -> Callable:
    """A tensor function that evaluates a NumPy function on the CPU (no autograd)."""
    def tfn(z):
        import torch

        out = fn(z.detach().cpu().double().numpy())
        return torch.as_tensor(np.asarray(out), dtype=z.dtype, device=z.device)
    return tfn


__all__ = ["numerical_grad", "register_activation"]
