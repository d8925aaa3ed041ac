"""Learning-rate tuning: the selection rule, the resolved spec, and `lr = "tune"` in a run."""

from __future__ import annotations

import numpy as np
import pytest

from actscope.config import parse_spec
from actscope.errors import InputError
from actscope.training.tuning import DEFAULT_LR_GRID, lr_grid, n_trials, select_rate, selection_scores

ARM = [{"name": "relu", "activation": "relu"}]


def test_select_rate_prefers_mean_validation_accuracy():
    acc = [[0.8, 0.8], [0.9, 0.7], [0.95, 0.9]]
    assert select_rate(acc) == 2


def test_ties_go_to_the_lower_validation_loss():
    acc = [[0.9, 0.9], [0.9, 0.9]]
    assert select_rate(acc, [[0.3, 0.3], [0.2, 0.25]]) == 1
    assert select_rate(acc, [[0.1, 0.1], [0.2, 0.25]]) == 0


def test_a_diverged_member_counts_as_failure():
    acc = [[0.9, 0.9], [1.0, np.nan]]
    assert select_rate(acc, diverged=[[False, False], [False, True]]) == 0
    mean, loss = selection_scores(acc, [[0.1, 0.1], [0.1, 0.1]], [[False, False], [False, True]])
    assert mean[1] == pytest.approx(0.5) and loss[1] == np.inf


def test_tuned_spec_is_resolved_explicitly():
    spec = parse_spec({"train": {"lr": "tune"}, "arms": ARM})
    assert spec.train.lr_grid == list(DEFAULT_LR_GRID)
    assert spec.data.val_size == spec.train.tune_val_size == 0.2
    assert n_trials(spec.train) == len(DEFAULT_LR_GRID)
    again = parse_spec(__import__("tomllib").loads(spec.to_toml()))
    assert again == spec  # the resolved spec round-trips
    own = parse_spec({"data": {"val_size": 0.3}, "train": {"lr": "tune", "lr_grid": [0.5, 0.1, 0.5]},
                      "arms": ARM})
    assert own.data.val_size == 0.3 and lr_grid(own.train) == [0.1, 0.5]


def test_a_fixed_rate_is_one_trial():
    spec = parse_spec({"train": {"lr": 0.2}, "arms": ARM})
    assert lr_grid(spec.train) == [0.2] and spec.data.val_size == 0.0


@pytest.mark.parametrize("bad, message", [
    ({"lr": "tun"}, r'train\.lr = .tun.: must be a positive number or "tune"'),
    ({"lr": "tune", "lr_grid": []}, r"train\.lr_grid"),
    ({"lr": "tune", "lr_grid": [0.1, -1.0]}, r"train\.lr_grid\[1\]"),
    ({"lr": "tune", "tune_val_size": 1.0}, r"train\.tune_val_size"),
])
def test_bad_tuning_options_are_refused(bad, message):
    with pytest.raises(InputError, match=message):
        parse_spec({"train": bad, "arms": ARM})


def test_run_with_tuned_rate_keeps_the_rate_validation_chose():
    from actscope.experiment import run_experiment
    from actscope.report.sweep_report import lr_tuning_section

    spec = parse_spec({"name": "t", "data": {"n_samples": 120},
                       "train": {"lr": "tune", "lr_grid": [0.001, 0.5], "epochs": 15},
                       "arms": ARM + [{"name": "sig", "activation": "sigmoid"}], "seeds": {"count": 3}})
    run = run_experiment(spec)
    for arm in run.metrics["arms"].values():
        t = arm["lr_tuning"]
        assert t["grid"] == [0.001, 0.5]
        i = t["grid"].index(t["chosen"])
        assert t["val_accuracy"][i] == max(t["val_accuracy"])
        # the arm's reported members are the ensemble trained at the chosen rate
        acc = np.mean([m["test_accuracy"] for m in arm["members"]])
        assert acc == pytest.approx(t["test_accuracy"][i])
        assert all("val_accuracy" in m for m in arm["members"])
    html = lr_tuning_section(run)
    assert "(chosen)" in html and "validation" in html
