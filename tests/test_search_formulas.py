"""Candidates' formulas (in x, read by sympy) compute what their expressions (in z) do."""

from __future__ import annotations

import numpy as np
import pytest

from actscope.activations import compile_expression
from actscope.search.canonical import GRID
from actscope.search.strategies import RandomSearch, exhaustive

pytest.importorskip("sympy")


def test_formula_and_expr_agree_on_a_sample():
    """240 of the whole size-3 space and 30 random size <= 5 candidates: sympy accepts each
    formula, and it agrees with the expression to 1e-9 of its scale on the grid."""
    from actscope.activations.formula import formula_activation

    space = list(exhaustive(3, 10_000))
    assert len(space) == 5277  # the whole size-3 space, as docs/design.md states
    rng = np.random.default_rng(0)
    sample = [space[i] for i in rng.choice(len(space), 240, replace=False)]
    sample += RandomSearch(5, seed=1).ask(30)
    for c in sample:
        act = formula_activation("check", c.formula)
        with np.errstate(all="ignore"):
            want = compile_expression(c.expr).fn(GRID.copy())
        got = act.fn(GRID.copy())
        scale = max(1.0, float(np.abs(want).max()))
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9 * scale, err_msg=c.formula)




def test_abs_of_softplus_and_sigmoid_differentiates():
    """sympy knows softplus and sigmoid are real (and positive), so |softplus(x)| has a
    derivative in the scalar language (the guarded division of the grammar needs it)."""
    from actscope.activations.formula import formula_activation

    act = formula_activation("t", "x / (1 + abs(softplus(x))) + abs(sigmoid(x))")
    z = np.linspace(-4, 4, 81)
    sp = np.logaddexp(0, z)
    sig = 1 / (1 + np.exp(-z))
    want = 1 / (1 + sp) - z * sig / (1 + sp) ** 2 + sig * (1 - sig)
    np.testing.assert_allclose(act.grad(z), want, rtol=1e-9, atol=1e-12)
