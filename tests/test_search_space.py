"""The search space: grammar, canonical candidates (one function, one key) and strategies."""

from __future__ import annotations

import json

import numpy as np
import pytest

from actscope.activations import compile_expression, get_activation
from actscope.search import grammar as g
from actscope.search.canonical import (
    GRID,
    Candidate,
    Rejected,
    builtin_keys,
    canonicalise,
    count_operations,
    evaluate,
    from_term,
    reference_candidates,
    screen,
)
from actscope.search.notation import to_expr, to_formula
from actscope.search.strategies import Evolution, RandomSearch, exhaustive, mutate

SEARCH_SMALL_SIZE = 3  # the max_size the search-small preset uses

@pytest.fixture(scope="module")
def space() -> list[Candidate]:
    return list(exhaustive(SEARCH_SMALL_SIZE, 2000))


def test_equivalent_formulas_collapse_to_one_key():
    texts = ["z * sigmoid(z)", "silu", "x / (1 + exp(-x))", "x*sigmoid(x)", "z / (1.0 + exp(-z))"]
    cands = [canonicalise(t) for t in texts]
    cands += [from_term(("gate", "x", "x"), "exhaustive"),
              from_term(("mul", ("sigmoid", "x"), "x"), "exhaustive")]
    assert all(isinstance(c, Candidate) for c in cands)
    assert {c.key for c in cands} == {cands[0].key}
    assert {c.builtin for c in cands} == {"silu"}
    # a different function (swish with beta 2, or x * tanh(x)) gets a different key
    other = canonicalise("x * sigmoid(2 * x)")
    assert isinstance(other, Candidate) and other.key != cands[0].key and other.builtin is None
    assert canonicalise("x * tanh(x)").key != cands[0].key


@pytest.mark.parametrize(("name", "term"), [
    ("relu", ("relu", "x")), ("tanh", ("tanh", "x")),
    ("silu", ("mul", "x", ("sigmoid", "x"))), ("gelu", ("mul", "x", ("phi", "x")))])
def test_references_are_in_the_space_as_builtins(name, term, space):
    cand = from_term(term, "exhaustive")
    assert isinstance(cand, Candidate) and cand.builtin == name
    assert g.size(term) <= SEARCH_SMALL_SIZE
    assert cand.key in {c.key for c in space}
    ref = reference_candidates([name])[0]
    assert ref.key == cand.key and ref.builtin == name and ref.origin == "reference"
    assert cand.activation() is get_activation(name)
    assert cand.name == name


def test_canonicalise_refuses_text_outside_the_languages():
    for bad in ("z * (", "x + z", "open('f')", "z.real"):
        with pytest.raises(ValueError):
            canonicalise(bad)


def test_reference_candidates_refuse_non_builtins_and_linear():
    with pytest.raises(ValueError, match="not a built-in"):
        reference_candidates(["nope"])
    with pytest.raises(ValueError, match="linear"):
        reference_candidates(["identity"])


@pytest.mark.parametrize(("text", "reason"), [
    ("sin(z) * 0.0 + 2.0", "constant"),
    ("2 * x - 1", "linear"),
    ("max(z, 0.0) + min(z, 0.0)", "linear"),
    ("log(abs(z))", "non-finite"),  # f = -inf at 0
    ("sqrt(abs(z))", "non-finite"),  # f finite, f' infinite at 0
    ("z ** 8", "too-large"),  # 6 ** 8 > 1e6
])
def test_screens_reject_with_the_right_reason(text, reason):
    out = canonicalise(text)
    assert isinstance(out, Rejected) and out.reason == reason


def test_screen_passes_a_nonlinear_function():
    f = np.tanh(GRID)
    assert screen(f, 1 - f * f) is None
    assert screen(f * 1e-3, (1 - f * f) * 1e-3) is None  # small scale is not "constant"


def test_exhaustive_gives_2000_distinct_screened_candidates_in_a_fixed_order(space):
    assert len(space) == 2000
    assert len({c.key for c in space}) == 2000
    assert [c.key for c in space[:50]] == [c.key for c in exhaustive(SEARCH_SMALL_SIZE, 50)]
    sizes = [c.size for c in space]
    assert sizes == sorted(sizes) and max(sizes) <= SEARCH_SMALL_SIZE
    for c in space[::97]:
        with np.errstate(all="ignore"):
            f, df = evaluate(g.parse_term(c.term))
        assert screen(f, df) is None
    builtins = {c.builtin for c in space if c.builtin}
    assert {"relu", "tanh", "silu", "gelu"} <= builtins


def test_exhaustive_counts_rejections():
    ex = exhaustive(2, 10_000)
    found = list(ex)
    summary = ex.summary()
    assert set(ex.rejected) <= {"constant", "linear", "non-finite", "too-large"}
    assert ex.rejected["linear"] >= 3  # -x, x/2, 2x at least
    assert summary["raw"] == len(found) + summary["duplicates"] + sum(ex.rejected.values())


def test_fast_path_derivative_matches_the_compiled_one(space):
    for c in space[::20]:
        with np.errstate(all="ignore"):
            f, df = evaluate(g.parse_term(c.term))
            comp = compile_expression(c.expr)
            f2, df2 = comp.fn(GRID.copy()), comp.grad(GRID.copy())
        scale = max(1.0, float(np.abs(f).max()))
        np.testing.assert_allclose(f2, f, rtol=0, atol=1e-9 * scale, err_msg=c.expr)
        dscale = max(1.0, float(np.abs(df).max()))
        np.testing.assert_allclose(df2, df, rtol=0, atol=1e-7 * dscale, err_msg=c.expr)


def test_canonicalise_of_a_candidates_expr_gives_its_key(space):
    for c in space[::111]:
        again = canonicalise(c.expr)
        assert isinstance(again, Candidate) and again.key == c.key
        assert canonicalise(c.formula).key == c.key


def test_json_round_trip(space):
    for c in [space[0], space[-1], reference_candidates(["gelu"])[0]]:
        back = Candidate.from_dict(json.loads(json.dumps(c.to_dict())))
        assert back == c


def test_activation_of_a_new_function_is_registered_and_resolves():
    from actscope.nn.model import MLPSpec

    cand = from_term(("max", "x", ("half", ("neg", "x"))), "exhaustive")  # max(x, -x/2)
    assert isinstance(cand, Candidate) and cand.builtin is None
    act = cand.activation()
    assert act.name == f"cand_{cand.key}" and get_activation(act.name) is act
    assert cand.activation() is act  # cached
    assert act.family == "piecewise-linear"
    z = np.linspace(-3, 3, 13)
    np.testing.assert_allclose(act.fn(z), np.maximum(z, -z / 2))
    e2 = np.mean(np.maximum(np.random.default_rng(0).standard_normal(200_000), 0) ** 2 * 1.25)
    assert act.gain == pytest.approx(1 / np.sqrt(e2), rel=1e-2)
    spec = MLPSpec(2, (4, 3), activation=act.name)
    assert spec.activation == (act.name, act.name) and spec._acts[0] is act
    smooth = from_term(("mul", "x", ("tanh", "x")), "exhaustive").activation()
    assert smooth.family == "smooth"


def test_notation_round_trip():
    assert to_expr("max(x, 0, -x) + pi") == f"max(max(z, 0), -z) + {np.pi!r}"
    assert to_formula("log1p(abs(z)) + expm1(z) + clip(z, -1.0, 1.0)") == \
        "log(1 + abs(x)) + (exp(x) - 1) + min(max(x, -1), 1)"
    with pytest.raises(ValueError, match="conditional"):
        to_formula("z if z > 0.0 else 0.0")


def test_grammar_rows_flops_follow_the_counting_convention():
    for name, row in {**g.UNARY, **g.BINARY}.items():
        assert count_operations(row.expr.format(a="z", b="z"))[1] == row.flops, name
    assert g.flops(("mul", "x", ("phi", "x"))) == 5  # as nn.flops counts gelu
    assert from_term(("gate", "x", "x"), "exhaustive").flops == 6  # silu: nn.flops' own row


def test_grammar_sizes_and_counts():
    assert g.size("x") == 1 and g.size(("sin", "x")) == 1 and g.size(("sin", ("cos", "x"))) == 2
    assert g.size(("mul", "x", ("sigmoid", "x"))) == 3
    for n in (1, 2, 3):
        terms = g._terms(n)
        assert len(set(terms)) == len(terms)
        assert all(g.size(t) == n for t in terms)
    commutative = sum(1 for r in g.BINARY.values() if r.commutative)
    u = len(g.UNARY) + 1
    assert len(g._terms(3)) == (len(g.BINARY) - commutative) * u * u + commutative * u * (u + 1) // 2 \
        + len(g.UNARY) ** 3


def test_simplify():
    assert g.simplify(("neg", ("neg", ("sin", "x")))) == ("sin", "x")
    assert g.simplify(("add", ("sin", "x"), ("sin", "x"))) == ("double", ("sin", "x"))
    assert g.simplify(("mul", ("sigmoid", "x"), "x")) == g.simplify(("mul", "x", ("sigmoid", "x")))
    assert g.simplify(("abs", ("neg", ("tanh", "x")))) == ("abs", ("tanh", "x"))
    assert g.simplify(("double", ("half", ("erf", "x")))) == ("erf", "x")
    with pytest.raises(ValueError):
        g.parse_term("mul(x, sigmoid(x)")
    t = ("div", ("neg", "x"), ("add", "x", ("exp", "x")))
    assert g.parse_term(g.term_text(t)) == t


def test_random_search_is_deterministic_and_distinct():
    a = [c.key for c in RandomSearch(4, seed=7).ask(60)]
    r = RandomSearch(4, seed=7)
    b = [c.key for c in r.ask(25) + r.ask(35)]
    assert a == b and len(set(a)) == 60
    assert a != [c.key for c in RandomSearch(4, seed=8).ask(60)]
    assert all(c.size <= 4 for c in r.ask(20))


def _score(c: Candidate) -> float:
    """A deterministic stand-in for accuracy: prefers functions near x * tanh(x)."""
    with np.errstate(all="ignore"):
        f = evaluate(g.parse_term(c.term))[0]
    return -float(np.mean((f - GRID * np.tanh(GRID))[2:-2] ** 2))


def test_evolution_is_resumable_by_replaying_tells():
    a = Evolution(4, seed=3, population=20, sample=5)
    history = []
    for _ in range(4):
        for c in a.ask(15):
            s = _score(c)
            a.tell(c.key, s)
            history.append((c, s))
    b = Evolution(4, seed=3, population=20, sample=5)
    for c, s in history:
        b.tell(c.key, s, candidate=Candidate.from_dict(c.to_dict()))
    nxt_a, nxt_b = a.ask(12), b.ask(12)
    assert [c.key for c in nxt_a] == [c.key for c in nxt_b]
    keys = [c.key for c, _ in history] + [c.key for c in nxt_a]
    assert len(set(keys)) == len(keys)  # distinct across asks
    assert all(c.origin == "evolution" and c.size <= 4 for c in nxt_a)
    with pytest.raises(ValueError, match="unknown key"):
        Evolution(4).tell("0123456789abcdef", 1.0)


def test_evolution_tournament_picks_the_best_of_the_population_only():
    evo = Evolution(3, seed=0, population=3, sample=3)
    cands = evo.ask(4)
    for c, s in zip(cands, [10.0, 1.0, float("nan"), 3.0]):  # the 10 has aged out
        evo.tell(c.key, s)
    parent = evo._parent(np.random.default_rng(0))
    assert parent == g.parse_term(cands[3].term)


def test_evolution_improves_on_its_random_start():
    evo = Evolution(4, seed=0, population=30, sample=10)
    scores = []
    for _ in range(10):
        for c in evo.ask(20):
            s = _score(c)
            evo.tell(c.key, s)
            scores.append(s)
    first, last = np.median(scores[:30]), np.median(scores[-60:])
    assert last > first


def test_mutation_stays_within_the_size_limit():
    rng = np.random.default_rng(1)
    term = ("mul", "x", ("sigmoid", "x"))
    children = [mutate(term, rng, 4) for _ in range(200)]
    assert all(g.size(c) <= 4 and c != term for c in children)
    assert len(set(children)) > 50


def test_builtin_keys_are_distinct_functions():
    keys = builtin_keys()
    assert {"relu", "tanh", "silu", "gelu", "sigmoid", "softplus", "elu"} <= set(keys.values())
    assert len(set(keys.values())) == len(keys)


def test_candidates_resolve_by_name_but_are_not_listed_among_the_activations():
    """A search registers thousands of candidates: they resolve by name (MLPSpec, pickling)
    but do not crowd list_activations (the names an error message offers)."""
    from actscope.activations import get_activation, list_activations

    cand = canonicalise("z * z * z + sin(z)", "user")
    assert not isinstance(cand, Rejected) and cand.builtin is None
    act = cand.activation()
    assert get_activation(act.name) is act
    assert act.name not in list_activations()
    assert not [n for n in list_activations() if n.startswith("cand_")]
