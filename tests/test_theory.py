"""Mean-field signal-propagation theory: known results, closed forms, experiment, CLI."""

from __future__ import annotations

import math

import numpy as np
import pytest
from click.testing import CliRunner
from scipy.special import erf

from actscope import MLPSpec, list_activations, theory
from actscope.activations import Activation
from actscope.cli import main
from actscope.errors import InputError
from actscope.nn import inits, model

# Activations built here, never registered: theory must need nothing but fn and grad.
ERF = Activation("erf-test", erf, lambda z: 2 / math.sqrt(math.pi) * np.exp(-z * z), "saturating")
CLIP = Activation("clip-test", lambda z: np.clip(z, -1.0, 1.0),
                  lambda z: ((z > -1) & (z < 1)).astype(float), "piecewise-linear")
RELU3 = Activation("relu3-test", lambda z: 3 * np.maximum(z, 0.0), lambda z: 3.0 * (z > 0),
                   "piecewise-linear")


# Known results -----------------------------------------------------------------------------

def test_relu_is_critical_at_he_initialisation():
    assert theory.critical_sigma_w2("relu", 0.0) == pytest.approx(2.0, abs=1e-9)
    fp = theory.fixed_point("relu", 2.0, 0.0)
    assert fp.chi1 == pytest.approx(1.0, abs=1e-12) and fp.phase == "critical"
    # at σw² = 2 every length is a fixed point: one neutral stretch from 0 to the scan's end
    assert fp.q_star == 0.0 and theory.fixed_point("relu", 2.0, 0.0, q0=1.0).q_star == 1.0
    (root,) = fp.roots
    assert root.kind == "neutral" and root.upper >= theory.Q_CAP and "every q in [0, inf]" in root.describe()


def test_tanh_without_bias_is_critical_at_one():
    assert theory.critical_sigma_w2("tanh", 0.0) == pytest.approx(1.0, abs=1e-5)
    assert theory.fixed_point("tanh", 0.8, 0.0).phase == "ordered"
    assert theory.fixed_point("tanh", 1.3, 0.0).phase == "chaotic"


def test_tanh_critical_line_agrees_with_the_published_phase_diagrams():
    # Poole et al. 2016 / Schoenholz et al. 2017: at σb² = 0.05 the line is at σw² ≈ 1.76
    # (read off their figures to about ±0.01); our own value is 1.76095.
    assert theory.critical_sigma_w2("tanh", 0.05) == pytest.approx(1.76, abs=0.01)
    line = theory.critical_line("tanh", [0.0, 0.05, 0.1, 0.2, 0.3])
    assert np.all(np.diff(line) > 0)  # more bias needs larger weights to reach chaos
    assert line[1] == pytest.approx(theory.critical_sigma_w2("tanh", 0.05), rel=1e-6)


def test_user_activation_needs_no_special_code():
    # φ = 3 relu: χ₁ = 9 σw² / 2, so the critical σw² is 2/9 at any σb².
    assert theory.critical_sigma_w2(RELU3, 0.0) == pytest.approx(2 / 9, rel=1e-9)
    assert theory.critical_sigma_w2(RELU3, 0.1) == pytest.approx(2 / 9, rel=1e-6)


# Quadrature against closed forms ----------------------------------------------------------

@pytest.mark.parametrize("q", [1e-4, 0.3, 1.0, 7.0, 60.0])
def test_length_map_matches_the_erf_closed_form(q):
    # E[erf(√q z)²] = (2/π) arcsin(2q / (1 + 2q))
    exact = 2 / math.pi * math.asin(2 * q / (1 + 2 * q))
    assert theory.length_map(ERF, q, 1.0, 0.0) == pytest.approx(exact, rel=1e-8)


@pytest.mark.parametrize("c", [-0.5, 0.0, 0.3, 0.9, 1.0])
def test_bivariate_expectation_matches_closed_forms(c):
    q = 1.7
    erf_exact = 2 / math.pi * math.asin(2 * q * c / (1 + 2 * q))
    got = theory.bivariate_expectation(ERF.fn, ERF.fn, q, q, c)
    assert got == pytest.approx(erf_exact, abs=1e-8)
    # ReLU: the arc-cosine kernel, q / (2π) (sin θ + (π - θ) cos θ), θ = arccos c
    th = math.acos(c)
    relu_exact = q / (2 * math.pi) * (math.sin(th) + (math.pi - th) * math.cos(th))
    relu = theory.resolve_activation("relu")
    got = theory.bivariate_expectation(relu.fn, relu.fn, q, q, c, theory.breakpoints(relu))
    assert got == pytest.approx(relu_exact, abs=1e-8)


def test_kinked_activation_matches_its_closed_form():
    # φ = clip(u, -1, 1): q map and χ₁ in closed form; kinks at ±1 found from fn and grad.
    assert theory.breakpoints(CLIP) == pytest.approx([-1.0, 1.0], abs=1e-9)
    sw2, sb2, q = 1.4, 0.2, 0.9
    a = 1 / math.sqrt(q)
    pdf = math.exp(-a * a / 2) / math.sqrt(2 * math.pi)
    exact = sw2 * (q * (erf(a / math.sqrt(2)) - 2 * a * pdf) + 1 - erf(a / math.sqrt(2))) + sb2
    assert theory.length_map(CLIP, q, sw2, sb2) == pytest.approx(exact, rel=1e-9)
    qs = theory.fixed_point(CLIP, sw2, sb2).q_star
    chi = theory.fixed_point(CLIP, sw2, sb2).chi1
    assert chi == pytest.approx(sw2 * erf(1 / math.sqrt(2 * qs)), rel=1e-9)


# Fixed points and depth scales ------------------------------------------------------------

def test_fixed_points_are_fixed_and_depth_scales_are_rates():
    sw2, sb2 = 2.5, 0.05
    fp = theory.fixed_point("tanh", sw2, sb2)
    assert fp.phase == "chaotic" and 0 < fp.c_star < 1
    assert theory.length_map("tanh", fp.q_star, sw2, sb2) == pytest.approx(fp.q_star, rel=1e-10)
    c_next = theory.correlation_map("tanh", fp.c_star, fp.q_star, sw2, sb2)
    assert c_next == pytest.approx(fp.c_star, abs=1e-9)
    assert fp.xi_c == pytest.approx(-1 / math.log(fp.chi_c))
    # ξ_q: iterating the length map, q^l - q* shrinks by exp(-1/ξ_q) per layer
    q, gaps = 3.0, []
    for _ in range(12):
        q = float(theory.length_map("tanh", q, sw2, sb2))
        gaps.append(q - fp.q_star)
    assert gaps[-1] / gaps[-2] == pytest.approx(math.exp(-1 / fp.xi_q), rel=1e-3)


def test_correlation_depth_diverges_at_the_critical_line():
    crit = theory.critical_sigma_w2("tanh", 0.05)
    xis = [theory.fixed_point("tanh", crit * f, 0.05).xi_c for f in (0.6, 0.9, 0.99)]
    assert xis[0] < xis[1] < xis[2] and xis[2] > 50
    assert theory.fixed_point("tanh", crit * 0.6, 0.05).c_star == 1.0


def test_diverging_length_map_is_reported_as_unbounded():
    fp = theory.fixed_point("relu", 2.5, 0.1)
    assert not fp.bounded and fp.chi1 == pytest.approx(1.25) and fp.phase == "chaotic"
    assert theory.fixed_point("relu", 1.5, 0.1).q_star == pytest.approx(0.1 / (1 - 0.75))


# Every registered activation --------------------------------------------------------------

@pytest.mark.parametrize("name", list_activations())
def test_every_registered_activation(name):
    fp = theory.fixed_point(name, 1.5, 0.1)
    assert fp.chi1 >= 0 and fp.phase in ("ordered", "chaotic", "critical")
    if fp.bounded:
        assert theory.length_map(name, fp.q_star, 1.5, 0.1) == pytest.approx(fp.q_star, rel=1e-7)
    try:
        cp = theory.critical_point(name, 0.05)
    except theory.NoCriticalPointError as err:
        assert "no critical point" in str(err)
    else:
        assert cp.chi_below < 1.0 <= cp.chi_above
        if cp.continuous:
            assert float(theory.chi1(name, cp.sigma_w2, 0.05)) == pytest.approx(1.0, abs=1e-6)
            assert theory.fixed_point(name, cp.sigma_w2, 0.05).phase == "critical"
        else:  # χ₁ jumps across 1 where q* changes branch (GELU, SiLU, ...)
            assert cp.chi_above - cp.chi_below > 1e-3 and "jumps" in cp.note()
    q, c = theory.predict_layers(name, 1.5, 0.1, 1.0, 0.5, 3)
    assert np.all(np.isfinite(q)) and np.all(np.abs(c) <= 1 + 1e-9)


# Prediction against experiment ------------------------------------------------------------

def test_measured_tanh_lengths_follow_the_prediction():
    res = theory.propagate("tanh", 1.5, 0.05, depth=20, width=1000, q0=(1.0,), c0=(0.5,),
                           n_networks=3, n_per=4, seed=0)
    assert res.q_pred.shape == (1, 20) and res.q_meas.shape == (1, 20)
    assert np.max(np.abs(res.q_rel_err)) < 0.05         # within a few percent over 20 layers
    assert np.max(np.abs(res.c_meas - res.c_pred)) < 0.05
    assert res.q_pred[0, 0] == pytest.approx(1.5 * 1.0 + 0.05)  # the first layer is linear
    assert res.q_pred[0, -1] == pytest.approx(res.fixed.q_star, rel=1e-3)


# Critical initialisation ------------------------------------------------------------------

def test_critical_init_scheme_puts_weights_on_the_critical_line():
    spec = MLPSpec(n_inputs=3, hidden=[50, 50], activation="tanh", init="critical")
    assert [w for w, _ in model.init_variances(spec)][1] == pytest.approx(1.0, abs=1e-5)
    relu = MLPSpec(n_inputs=3, hidden=[50, 50], activation="relu", init="critical")
    assert model.init_variances(relu)[1] == pytest.approx((2.0, 0.0))
    params = model.init_params(relu, [0])
    he = model.init_params(MLPSpec(n_inputs=3, hidden=[50, 50], activation="relu", init="he"), [0])
    assert np.allclose(params[1].W, he[1].W)  # same raw draws, same scale as He
    assert np.all(params[1].b == 0)


def test_critical_scheme_with_bias(monkeypatch):
    monkeypatch.setattr(inits, "_SCHEMES", dict(inits._SCHEMES))
    monkeypatch.setattr(inits, "_BIAS_SCHEMES", dict(inits._BIAS_SCHEMES))
    inits.register_critical_scheme("critical-b005", 0.05)
    spec = MLPSpec(n_inputs=3, hidden=[40, 40], activation="tanh", init="critical-b005")
    sw2, sb2 = model.init_variances(spec)[1]
    assert sw2 == pytest.approx(1.76095, abs=1e-4) and sb2 == pytest.approx(0.05)
    assert np.std(model.init_params(spec, [1])[1].b) > 0


# Bad input ----------------------------------------------------------------------------------

@pytest.mark.parametrize("call", [
    lambda: theory.fixed_point("no-such-activation", 1.0, 0.0),
    lambda: theory.fixed_point("tanh", 1.0, -0.1),
    lambda: theory.fixed_point("tanh", 0.0, 0.0),
    lambda: theory.critical_sigma_w2("tanh", float("nan")),
    lambda: theory.propagate("tanh", 1.0, 0.0, depth=0),
    lambda: theory.propagate("tanh", 1.0, 0.0, c0=(1.5,)),
])
def test_bad_input_is_an_input_error(call):
    with pytest.raises(InputError):
        call()


# Report and command line ------------------------------------------------------------------

class _Arm:
    def __init__(self, mlp):
        self.mlp = mlp


class _Run:
    def __init__(self, **arms):
        self.arms = {name: _Arm(mlp) for name, mlp in arms.items()}


def test_report_places_each_arm_in_the_phase_diagram():
    from actscope.report import theory_figures

    run = _Run(relu=MLPSpec(n_inputs=2, hidden=[8, 8], activation="relu"),
               linear=MLPSpec(n_inputs=2, hidden=[8, 8], activation="identity", init="xavier"))
    pts = theory_figures.experiment_init_points(run)
    assert [(p.arm, p.layer) for p in pts] == [("relu", 1), ("relu", 2), ("linear", 1), ("linear", 2)]
    assert {p.point.phase for p in pts} == {"critical"}  # He for relu, xavier for identity
    html = theory_figures.init_phase_section(run)
    assert "relu" in html and "layers 1-2" in html and "critical" in html
    fig = theory_figures.init_phase_figure(run)
    assert len([ax for ax in fig.axes if ax.get_title()]) == 2


def test_cli_critical_prints_a_plain_number_last():
    res = CliRunner().invoke(main, ["theory", "critical", "--activation", "relu", "--sigma-b2", "0"])
    assert res.exit_code == 0
    assert float(res.output.strip().splitlines()[-1]) == pytest.approx(2.0)


def test_cli_reports_bad_input_and_missing_critical_point_in_one_line():
    runner = CliRunner()
    res = runner.invoke(main, ["theory", "critical", "--activation", "nope"])
    assert res.exit_code == 2 and "activation" in res.output and "Traceback" not in res.output
    res = runner.invoke(main, ["theory", "critical", "--activation", "sigmoid", "--search", "0.1", "10"])
    assert res.exit_code == 2 and "no critical point" in res.output
    res = runner.invoke(main, ["theory", "fixed-point", "--activation", "tanh", "--sigma-w2", "1",
                               "--sigma-b2", "-1"])
    assert res.exit_code == 2 and "sigma_b2" in res.output


def test_cli_fixed_point_diagram_and_propagate(tmp_path):
    runner = CliRunner()
    res = runner.invoke(main, ["theory", "fixed-point", "--activation", "tanh", "--sigma-w2", "2.5",
                               "--sigma-b2", "0.05"])
    assert res.exit_code == 0
    for key in ("q*", "chi1", "xi_c", "chaotic"):
        assert key in res.output
    out = tmp_path / "d.png"
    res = runner.invoke(main, ["theory", "diagram", "--activation", "tanh", "--out", str(out),
                               "--resolution", "10", "--sigma-w2", "1.76", "--sigma-b2", "0.05"])
    assert res.exit_code == 0 and out.stat().st_size > 0 and res.output.strip().endswith(str(out))
    out = tmp_path / "p.png"
    res = runner.invoke(main, ["theory", "propagate", "--activation", "tanh", "--sigma-w2", "1.5",
                               "--sigma-b2", "0.05", "--depth", "4", "--width", "60",
                               "--networks", "1", "--out", str(out)])
    assert res.exit_code == 0 and out.stat().st_size > 0 and "q pred" in res.output


def test_the_default_phase_diagram_grid_holds_the_included_points():
    """sigmoid's critical σw² is near 100; an init at σw² = 1 must still be on the diagram."""
    d = theory.phase_diagram("sigmoid", n_w=20, n_b=8, include=[(1.0, 0.0), (2.0, 0.7)], rtol=1e-4)
    assert d.sigma_w2.min() <= 1.0 <= d.sigma_w2.max() and d.sigma_b2.max() >= 0.7
    assert np.nanmax(d.critical_w2) > 50  # the range still reaches the critical line


def test_a_default_grid_over_decades_is_geometric_and_drawn_on_a_log_axis():
    """sigmoid: the init at σw² = 1 and the critical line near 100 both get cells."""
    from actscope.report import theory_figures

    d = theory.phase_diagram("sigmoid", n_w=20, n_b=8, include=[(1.0, 0.0)], rtol=1e-4)
    ratios = d.sigma_w2[1:] / d.sigma_w2[:-1]
    assert d.sigma_w2.max() > 10 * d.sigma_w2.min() and np.allclose(ratios, ratios[0])
    assert (d.sigma_w2 < 10).sum() >= 5  # a linear grid would give the first decade one cell
    fig = theory_figures.phase_diagram_figure(d, points=[(1.0, 0.0, "sigmoid")])
    assert fig.axes[0].get_xscale() == "log"
    narrow = theory.phase_diagram("relu", sigma_w2=np.linspace(1.5, 2.5, 6), n_b=4, rtol=1e-4)
    assert theory_figures.phase_diagram_figure(narrow).axes[0].get_xscale() == "linear"


def test_cli_fixed_point_lists_every_fixed_point_and_the_definition():
    res = CliRunner().invoke(main, ["theory", "fixed-point", "--activation", "silu", "--sigma-w2", "2.11",
                                    "--sigma-b2", "0.3"])
    assert res.exit_code == 0, res.output
    out = res.output
    assert "q*   = 1.62468" in out and "chi1 = 0.871501  (ordered" in out and "lowest stable" in out
    assert "3 fixed points (2 stable" in out and "q = 1.62468: stable" in out
    assert "unstable" in out and "q -> inf: diverges, chi1 = 1.055" in out
    assert "several stable fixed points" in out
    res = CliRunner().invoke(main, ["theory", "fixed-point", "--activation", "silu", "--sigma-w2", "2.11",
                                    "--sigma-b2", "0.3", "--q0", "5"])
    assert "q*   = inf" in res.output and "reached from q0 = 5" in res.output and "chaotic" in res.output


def test_cli_critical_states_the_definition_and_the_other_stable_point():
    res = CliRunner().invoke(main, ["theory", "critical", "--activation", "silu", "--sigma-b2", "0.3"])
    assert res.exit_code == 0, res.output
    lines = res.output.strip().splitlines()
    assert "lowest stable fixed point" in lines[0] and "jumps" in res.output
    assert "other stable fixed points here: q -> inf" in res.output
    assert float(lines[-1]) == pytest.approx(theory.critical_sigma_w2("silu", 0.3), rel=1e-9)
