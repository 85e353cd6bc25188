"""Specification of reslib.experiments and ``python -m reslib``: quick modes show their claims.

The degradation experiment's quick mode (two minutes) is run, and its claim checked, by lesson
01's notebook test (tests/notebooks/test_lessons.py), which calls it unchanged.
"""

import json
import os
import subprocess
import sys

import pytest

from reslib.experiments import EXPERIMENTS, run_experiment, stored_result


def test_every_experiment_has_a_quick_and_a_full_config_and_a_claim():
    assert {"degradation", "gradient_flow"} <= set(EXPERIMENTS)
    for experiment in EXPERIMENTS.values():
        assert set(experiment.configs) == {"quick", "full"} and experiment.claim


def test_command_line_lists_the_experiments():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    listed = subprocess.run([sys.executable, "-m", "reslib", "list"], capture_output=True,
                            text=True, env=env, check=True).stdout
    assert "degradation" in listed and "gradient_flow" in listed


def test_gradient_flow_quick_from_the_command_line_shows_how_gradients_explode(tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run(
        [sys.executable, "-m", "reslib", "run", "gradient_flow", "--quick", "--out", str(tmp_path)],
        capture_output=True, text=True, env=env, check=True,
    )
    assert "holds in this run: yes" in done.stdout
    assert "plain-56" in done.stdout and "first_to_last_ratio" in done.stdout
    record = json.loads((tmp_path / "gradient_flow-quick.json").read_text())
    assert record["claim_holds"], record["models"]
    assert record["command"] == "python -m reslib run gradient_flow --quick"
    assert "images" in record["dataset"]
    assert record["environment"]["keras"] and record["wall_time_s"] >= 0
    plain, residual = record["models"]["plain-56"], record["models"]["resnet-56"]
    assert len(plain["input_gradient_norms"]) == len(residual["input_gradient_norms"]) == 27
    # Yang et al. 2019: batch norm in training mode makes a deep plain stack's gradient grow
    # towards the input; it does not vanish.
    assert plain["first_to_last_ratio"] > 100
    # Without normalisation (moving statistics at init) full-size residual branches compound.
    assert residual["inference_first_to_last_ratio"] > plain["inference_first_to_last_ratio"]
    # The post-activation stream grows with depth; the plain net renormalises every block.
    assert residual["activation_rms"][-1] > 2 * residual["activation_rms"][0]
    assert max(plain["activation_rms"]) < 1.5 * min(plain["activation_rms"])
    steps = record["config"]["steps"]
    assert len(plain["step_losses"]) == steps and len(plain["trained_input_gradient_norms"]) == 27
    assert residual["step_losses"][-1] < residual["step_losses"][0]


def test_unknown_experiments_and_modes_are_refused():
    with pytest.raises(ValueError, match="`name` must be one of .*'degradation'.*; got 'nope'"):
        run_experiment("nope")
    with pytest.raises(ValueError, match="`mode` must be one of 'full', 'quick'; got 'medium'"):
        run_experiment("gradient_flow", "medium")


def test_a_setting_can_be_overridden_and_the_record_says_so(tmp_path):
    record = run_experiment("bottleneck_cost", "quick", out=tmp_path, progress=False,
                            overrides={"widths": (8,)})
    assert record["overrides"] == {"widths": (8,)} and record["config"]["widths"] == (8,)
    assert record["command"].endswith("--quick --set widths=(8,)")
    assert json.loads((tmp_path / "bottleneck_cost-quick.json").read_text())["overrides"]


def test_overriding_a_setting_the_experiment_does_not_have_names_the_ones_it_has():
    with pytest.raises(ValueError, match="degradation has no setting 'epoch'; it takes .*epochs"):
        run_experiment("degradation", "quick", overrides={"epoch": 3})


def test_command_line_set_takes_python_literals_and_refuses_a_bare_key():
    from reslib.__main__ import setting

    assert setting("epochs=20") == ("epochs", 20)
    assert setting("depths=(20, 56)") == ("depths", (20, 56))
    assert setting("schedule=cosine") == ("schedule", "cosine")
    bare = subprocess.run([sys.executable, "-m", "reslib", "run", "degradation", "--set", "epochs"],
                          capture_output=True, text=True)
    assert bare.returncode == 2 and "expected KEY=VALUE" in bare.stderr


def test_every_stored_result_names_its_data_device_and_any_changed_settings():
    from reslib.experiments._registry import RESULTS_DIR
    from reslib.experiments.report import run_label

    for path in sorted(RESULTS_DIR.glob("*.json")):
        name, _, mode = path.stem.rpartition("-")
        record = stored_result(name, mode)
        assert record["experiment"] == name and record["mode"] == mode, path.name
        assert record["dataset"] and record["environment"]["accelerator"], path.name
        assert set(record["overrides"]) <= set(record["config"]), path.name
        label = run_label(record)
        assert all(f"{key}=" in label for key in record["overrides"]), label
    assert stored_result("degradation", "no-such-mode") is None
