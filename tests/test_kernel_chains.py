"""Sums in the generated kernels: ``common.sum_expr`` splits a layer's sum into chains that
run side by side, keeping every term once and in order; the CUDA body keeps one chain."""

from __future__ import annotations

import re

import pytest

from actscope.engines.codegen.common import ParamLayout, forward_lines, sum_expr
from actscope.engines.codegen.numba_source import PYTHON

TERMS = [f"t{i}" for i in range(9)]


def test_one_chain_is_the_plain_sum():
    assert sum_expr(TERMS) == " + ".join(TERMS)


@pytest.mark.parametrize("chains", [2, 3, 4])
def test_chains_keep_every_term_in_order(chains):
    expr = sum_expr(TERMS, chains)
    groups = re.findall(r"\(([^()]*)\)", expr)
    assert len(groups) == chains
    assert [t for g in groups for t in g.split(" + ")] == TERMS
    sizes = [len(g.split(" + ")) for g in groups]
    assert max(sizes) - min(sizes) <= 1  # balanced: the longest chain is as short as it can be
    values = {t: 2.0 ** i for i, t in enumerate(TERMS)}
    assert eval(expr, {}, values) == sum(values.values())  # exact in binary: same value


def test_short_sums_stay_one_chain():
    assert sum_expr(["a", "b", "c"], 2) == "a + b + c"  # a chain of one term gains nothing


def test_forward_sums_split_only_when_asked():
    from actscope.engines.codegen.cuda_source import dialect

    nm = ParamLayout([2, 8, 1])
    acts = [(("max(z, 0.0)", {}), ("1.0 if z > 0.0 else 0.0", {}))]
    numba = forward_lines(nm, acts, ["x0", "x1"], "", PYTHON, 2)
    cuda = forward_lines(nm, acts, ["x0", "x1"], "", dialect("float"))
    out_numba = next(line for line in numba if line.startswith("v_s"))
    out_cuda = next(line for line in cuda if "v_s =" in line)
    assert out_numba.count("(") >= 2  # the 9-term output sum is split
    assert out_cuda.count(" + ") == 8 and ") + (" not in out_cuda



def test_training_body_computes_the_loss_value_after_the_gradient():
    """The sigmoid comes before the backward pass (the deltas need it), the loss value and
    correctness after it (nothing waits on them): the body's order is the core's."""
    from actscope.engines.codegen.numba_source import model_source

    acts = [(("max(z, 0.0)", {}), ("1.0 if z > 0.0 else 0.0", {}))] * 2
    src = model_source((2, 4, 3, 1), acts, "float32", 16)
    train = src[src.index("def train_epoch"):src.index("def evaluate")]
    assert train.index("v_p = ") < train.index("d0_0 = ") < train.rindex("dd0_2 = ") < train.index("v_lp = ")
