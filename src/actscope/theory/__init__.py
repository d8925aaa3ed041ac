"""Mean-field theory of signal propagation in wide random networks, for any activation.

Poole et al. 2016 ("Exponential expressivity in deep neural networks through transient
chaos") and Schoenholz et al. 2017 ("Deep information propagation"). A layer computes
``z = W a + b`` with ``W_ij ~ N(0, σw²/fan_in)`` and ``b_i ~ N(0, σb²)``, ``a = φ(z)``.
In the wide limit the pre-activations are Gaussian and their moments follow maps
(`length_map`, `correlation_map`) whose fixed points and slopes say whether signals
and gradients survive depth (`fixed_point`, `chi1`, `critical_sigma_w2`).

Every expectation is a Gaussian quadrature over ``Activation.fn`` and ``Activation.grad``
from the registry (`quadrature`): there is no per-activation code here, so activations
registered later (and user formulas) work unchanged.

Conventions: every fixed point of the length map is found by a scan of q over 24 decades
and a bracketed solve in each sign change (`length_fixed_points`: none is skipped); q*, χ₁
and the phase are those of the lowest stable fixed point (`fixed_point_q` from q0 -> 0; any
q0 on request), where the critical line is defined, as Hayou et al. 2019 define the edge of
chaos at a stable fixed point; where the map has other stable fixed points they are listed.
The critical σw² is the first crossing of χ₁ = 1 in σw² ∈ [0.01, 1000]; none there raises
NoCriticalPointError (an InputError: one line, exit status 2 on the command line).

Modules: ``checks`` (arguments), ``quadrature`` (Gaussian expectations), ``length`` (the
length map and all its fixed points), ``maps`` (correlation map, χ, the state at a point),
``critical`` (critical point and line, phase diagram), ``propagation`` (prediction against
random networks).
"""

from actscope.theory.checks import check_variance, resolve_activation
from actscope.theory.critical import (
    SEARCH_SIGMA_W2,
    CriticalPoint,
    NoCriticalPointError,
    PhaseDiagram,
    cached_critical_sigma_w2,
    critical_line,
    critical_point,
    critical_sigma_w2,
    phase_diagram,
)
from actscope.theory.length import (
    Q_CAP,
    LengthRoot,
    fixed_point_q,
    gradient_gain,
    length_fixed_points,
    length_map,
    length_map_slope,
)
from actscope.theory.maps import (
    CRITICAL_TOL,
    FixedPoint,
    chi1,
    chi_c,
    classify,
    correlation_map,
    fixed_point,
    fixed_point_c,
)
from actscope.theory.propagation import (
    PROPAGATION_PURPOSE,
    Propagation,
    measure_layers,
    predict_layers,
    propagate,
)
from actscope.theory.quadrature import (
    Q_FLOOR,
    bivariate_expectation,
    breakpoints,
    gaussian_expectation,
    hermite_expectation,
)

__all__ = [
    "CRITICAL_TOL", "PROPAGATION_PURPOSE", "Q_CAP", "Q_FLOOR", "SEARCH_SIGMA_W2",
    "CriticalPoint", "FixedPoint", "LengthRoot", "NoCriticalPointError", "PhaseDiagram",
    "Propagation",
    "bivariate_expectation", "breakpoints", "cached_critical_sigma_w2", "check_variance", "chi1",
    "chi_c", "classify", "correlation_map", "critical_line", "critical_point", "critical_sigma_w2",
    "fixed_point", "fixed_point_c", "fixed_point_q", "gaussian_expectation", "gradient_gain",
    "hermite_expectation", "length_fixed_points", "length_map", "length_map_slope",
    "measure_layers", "phase_diagram", "predict_layers",
    "propagate", "resolve_activation",
]
