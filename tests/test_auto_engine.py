"""engine = "auto": the fastest engine available, named in the run's metadata."""

from __future__ import annotations

import importlib.util

import pytest

from actscope import engines
from actscope.config import parse_spec
from actscope.engines import get_engine
from actscope.experiment import run_experiment


def test_auto_on_cpu_is_fast_with_numba_else_numpy(monkeypatch):
    has_numba = importlib.util.find_spec("numba") is not None
    assert get_engine("auto", dtype="float32").name == ("fast" if has_numba else "numpy")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "numba" else real(n, *a))
    assert engines.auto_engine_name("cpu") == "numpy"
    assert get_engine("auto").name == "numpy"


def test_auto_refuses_cuda_without_a_device(monkeypatch):
    monkeypatch.setattr("actscope.engines.gpu_engine.cuda_available", lambda: False)
    with pytest.raises(ValueError, match="CUDA"):
        get_engine("auto", device="cuda")
    assert get_engine("auto", device="auto").name in ("fast", "numpy")


def test_run_metadata_names_the_engine_picked():
    spec = parse_spec({"name": "auto", "data": {"n_samples": 80}, "train": {"epochs": 2, "engine": "auto"},
                       "arms": [{"name": "relu", "activation": "relu"}], "seeds": {"count": 3},
                       "report": {"enabled": False}})
    run = run_experiment(spec)
    assert run.metrics["engine"]["name"] == engines.auto_engine_name("cpu")
    assert run.metrics["engine"]["name"] != "auto"
    assert run.arms["relu"].history.values["train/running_loss"].shape == (2, 3)


# the policy, through its estimate (never through timings) ---------------------------------
from actscope.engines.auto_policy import MARGIN, Workload, decide, kernel_estimate, numpy_estimate  # noqa: E402


def _work(members, epochs, sizes=(2, 8, 8, 1), dtype="float32"):
    return Workload(members=members, epochs=epochs, n=300, batch=64, sizes=sizes, dtype=dtype,
                    threads=2, lanes=16 if dtype == "float32" else 8)


def test_numpy_wins_a_small_job_whose_kernels_are_not_compiled():
    # 2 members x 5 epochs of a 16-16-16 tanh network: compiling costs more than the work
    w = _work(2, 5, sizes=(2, 16, 16, 16, 1))
    est, why = decide(w, {"generic": False, "specialised": False}, numba_loaded=False, allow_numpy=True)
    assert est.engine == "numpy" and est.kernel is None
    assert "numpy" in why and "compile" in why
    # the same job with the generic kernels in numba's cache: nothing to compile, and
    # the estimate is still honest about the work (whichever wins, it is the cheaper)
    est2, _ = decide(w, {"generic": True, "specialised": False}, numba_loaded=True, allow_numpy=True)
    ref, gen = numpy_estimate(w), kernel_estimate(w, "generic", True, True)
    assert est2.engine == ("fast" if gen.total_s < MARGIN * ref.total_s else "numpy")


def test_fast_wins_a_large_job_even_when_it_must_compile():
    w = _work(1000, 800)
    est, why = decide(w, {"generic": False, "specialised": False}, numba_loaded=False, allow_numpy=True)
    assert est.engine == "fast"
    assert est.total_s < MARGIN * numpy_estimate(w).total_s
    assert "1000 members x 800 epochs" in why


def test_numpy_wins_a_sweep_cell_of_wide_layers_even_with_the_kernels_loaded():
    # 10 members x 800 epochs at width 64 (the inference-cost sweep's widest cells): BLAS
    # makes NumPy's matrix products cheaper per MAC than the generic kernels' lanes, and 10
    # members fill 10 of 16 float64 lanes (measured: NumPy 1.4x faster at 64, the kernels
    # 1.2x faster at 32, within the margin that keeps NumPy)
    w = _work(10, 800, sizes=(2, 64, 64, 1), dtype="float64")
    est, _ = decide(w, {"generic": True, "specialised": False}, numba_loaded=True, allow_numpy=True,
                    loaded=("generic",))
    assert est.engine == "numpy"
    # and the kernels' share of the work shrinks as layers narrow (where they win)
    def ratio(wd):
        c = _work(10, 800, sizes=(2, wd, wd, 1), dtype="float64")
        return kernel_estimate(c, "generic", True, True, loaded=True).total_s / numpy_estimate(c).total_s

    assert ratio(8) < ratio(32) < ratio(64) and ratio(8) < MARGIN < ratio(64)


def test_compile_seconds_count_only_where_not_cached():
    w = _work(100, 50)
    cold = kernel_estimate(w, "specialised", compiled=False, numba_loaded=True)
    warm = kernel_estimate(w, "specialised", compiled=True, numba_loaded=True)
    assert cold.work_s == warm.work_s and cold.compile_s > 10 * warm.compile_s


def test_specialised_kernels_are_compiled_only_where_the_work_pays_for_it():
    # generic cached, specialised not: a short job keeps the generic kernels, a huge one
    # (a million model-epochs and more) compiles the faster specialised ones
    kinds = {"generic": True, "specialised": False}
    small, _ = decide(_work(50, 20), kinds, numba_loaded=True, allow_numpy=False)
    huge, _ = decide(_work(100_000, 800), kinds, numba_loaded=True, allow_numpy=False)
    assert small.kernel == "generic" and huge.kernel == "specialised"


def test_engine_fast_never_falls_back_to_numpy_for_a_covered_network():
    est, _ = decide(_work(2, 1), {"generic": False}, numba_loaded=False, allow_numpy=False)
    assert est.engine == "fast"
    none, why = decide(_work(2, 1), {}, numba_loaded=False, allow_numpy=True)
    assert none.engine == "numpy" and "no fast kernel" in why


def test_run_records_the_choice_and_its_reason():
    spec = parse_spec({"name": "auto", "data": {"n_samples": 80}, "train": {"epochs": 2, "engine": "auto"},
                       "arms": [{"name": "tanh", "activation": "tanh"}], "seeds": {"count": 2},
                       "report": {"enabled": False}})
    run = run_experiment(spec)
    if engines.auto_engine_name("cpu") != "fast":
        pytest.skip("numba is not installed: auto is the NumPy engine, which makes no choice")
    rec = run.metrics["engine"]
    assert rec["policy"] == "auto" and rec["chosen"].split("/")[0] in ("fast", "numpy")
    assert "estimated" in rec["reason"] and "2 members x 2 epochs" in rec["reason"]


def test_programs_cost_more_and_the_specialised_kernels_are_compiled_only_where_they_pay():
    from actscope.engines.fast_kernels import program_ops
    from actscope.nn.model import MLPSpec

    formula = MLPSpec(2, [8, 8], "f(x) = x * tanh(x)")
    ops = program_ops(formula)
    assert ops > 0 and program_ops(MLPSpec(2, [8, 8], "tanh")) == 0  # built-ins run from the table

    def work(members, epochs, program_ops):
        return Workload(members=members, epochs=epochs, n=240, batch=64, sizes=(2, 8, 8, 1), dtype="float32",
                        threads=2, lanes=16, program_ops=program_ops)

    assert (kernel_estimate(work(15, 100, ops), "generic", True, True).work_s
            > kernel_estimate(work(15, 100, 0), "generic", True, True).work_s)
    kinds = {"generic": True, "specialised": False}
    # a search cell (15 members, 100 epochs): the program runs now, nothing compiled
    est, _ = decide(work(15, 100, ops), kinds, numba_loaded=True, allow_numpy=False)
    assert est.kernel == "generic"
    # 10,000 members for 2,000 epochs: compiling the unrolled kernels pays for itself
    est, why = decide(work(10_000, 2_000, ops), kinds, numba_loaded=True, allow_numpy=False)
    assert est.kernel == "specialised" and "generic" in why
