"""Specification of the benchmark harness (``benchmarks/``): its logic, never its timings.

The figures themselves come from ``make bench`` on an idle machine; these tests check that the
table and the JSON record say what was measured, that ratios and verdicts follow the goals, that
missing notebooks are skipped, and that one tiny benchmark runs end to end in a subprocess.
"""

import argparse
import json
import math

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from benchmarks import cifar, course, models, system
from benchmarks.__main__ import main, parse_sections
from benchmarks.isolate import Outcome, run_worker
from benchmarks.report import Goal, Result, format_table, record, summary

AT_LEAST_98 = Goal("ratio", ">=", 0.98)


def test_ratio_is_value_over_reference_and_the_goal_decides_the_verdict():
    fast = Result("s", "reslib", 99.0, "img/s", 100.0, "keras", AT_LEAST_98)
    slow = Result("s", "reslib", 97.0, "img/s", 100.0, "keras", AT_LEAST_98)
    assert fast.ratio == pytest.approx(0.99) and fast.verdict == "pass"
    assert slow.ratio == pytest.approx(0.97) and slow.verdict == "FAIL"


def test_value_goals_compare_the_value_not_the_ratio():
    goal = Goal("value", "<=", 120, "s")
    assert Result("s", "lesson", 119.0, "s", goal=goal).passed is True
    assert Result("s", "lesson", 121.0, "s", goal=goal).passed is False


def test_an_unmeasured_figure_is_never_a_pass():
    for value, reference in ((None, 100.0), (100.0, None), (math.nan, 100.0)):
        result = Result("s", "x", value, "img/s", reference, goal=AT_LEAST_98)
        assert result.passed is None and result.verdict == "n/a"
    assert Result("s", "x", None, "s").verdict == "n/a"
    assert Result("s", "x", 3.0, "s").verdict == "-", "measured, but no goal"


def test_goal_rejects_unknown_targets_and_comparisons():
    with pytest.raises(ValueError, match="target"):
        Goal("speed", ">=", 1.0)
    with pytest.raises(ValueError, match="comparison"):
        Goal("ratio", ">", 1.0)


def test_table_has_the_issue_columns_a_row_per_result_and_section_headers():
    results = [
        Result("1. models", "ResNet-50 train", 1234.5, "img/s", 1250.0, "keras.applications",
               AT_LEAST_98),
        Result("2. cifar", "mixed precision", None, "img/s", note="not measured: CPU"),
    ]
    lines = format_table(results).splitlines()
    assert lines[0].split() == ["figure", "value", "reference", "ratio", "goal", "result"]
    assert "[1. models]" in lines and "[2. cifar]" in lines
    row = next(line for line in lines if line.startswith("ResNet-50 train"))
    for cell in ("1,234 img/s", "1,250 img/s (keras.applications)", "0.988x", ">= 0.98x", "pass"):
        assert cell in row
    assert "not measured: CPU" in lines[-1] and "n/a" in lines[-1]
    assert summary(results) == "2 figures: 1 pass, 0 FAIL, 1 without a verdict"


def test_record_names_hardware_versions_settings_and_every_result_with_its_verdict():
    environment = {"hardware": system.hardware(), "versions": system.versions()}
    results = [Result("s", "a", 99.0, "img/s", 100.0, "b", AT_LEAST_98, details={"k": 1}),
               Result("s", "c", math.nan, "s")]
    document = json.loads(json.dumps(record(results, environment, {"quick": True})))
    assert {"schema", "environment", "settings", "summary", "results"} <= set(document)
    assert document["environment"]["hardware"]["cpu_cores"] >= 1
    assert document["environment"]["versions"]["keras"]
    first, second = document["results"]
    assert first["ratio"] == pytest.approx(0.99) and first["passed"] is True
    assert first["goal"] == ">= 0.98x" and first["details"] == {"k": 1}
    assert second["value"] is None and second["verdict"] == "n/a", "NaN is written as null"


def test_machine_slug_is_a_file_name_naming_the_gpu_or_the_cpu():
    assert system.machine_slug({"gpus": [{"name": "NVIDIA H100 80GB HBM3"}]}) == (
        "nvidia-h100-80gb-hbm3")
    assert system.machine_slug({"cpu": "Intel(R) Xeon(R) CPU @ 2.20GHz", "cpu_cores": 2,
                                "gpus": []}) == "intel-xeon-2cpu"


def test_sections_are_selectable_and_make_test_is_only_run_on_request():
    assert parse_sections("pipeline, models") == ["models", "pipeline"]
    with pytest.raises(argparse.ArgumentTypeError, match="got 'model'"):
        parse_sections("model")
    from benchmarks.__main__ import arguments

    assert "make-test" not in arguments([]).only
    assert arguments(["--only", "make-test"]).only == ["make-test"]


def test_backends_and_networks_are_selectable_and_checked():
    from benchmarks.__main__ import arguments, installed_backends, parse_backends, parse_networks

    assert arguments([]).backends == installed_backends()
    assert parse_backends("jax") == ["jax"]
    with pytest.raises(argparse.ArgumentTypeError, match="got 'torch'"):
        parse_backends("torch")
    assert parse_networks("plain-56, ResNet-20") == ["plain-56", "ResNet-20"]
    with pytest.raises(argparse.ArgumentTypeError, match="ResNet-20, ResNet-56, plain-20"):
        parse_networks("ResNet-110")


def _timed(jit, images_per_second, precision="float32"):
    return {"jit_compile": jit, "precision": precision, "images_per_second": images_per_second}


def test_cifar_default_is_compared_with_the_fastest_combination():
    outcome = Outcome({"timed": [_timed(False, 100.0), _timed(True, 50.0)], "dataset": "d",
                       "default": {"jit_compile": True, "precision": "float32"}})
    rows = cifar._network_rows("ResNet-20", "tensorflow", outcome, {})
    default = rows[-1]
    assert "reslib default (XLA on, float32)" in default.figure
    assert default.value == 50.0 and default.reference == 100.0 and default.verdict == "FAIL"
    assert "fastest: XLA off, float32" in default.reference_name
    assert cifar.fastest_training(rows).value == 100.0


def test_cifar_measures_mixed_precision_only_on_accelerators():
    assert {precision for _, precision in cifar.combinations("cpu")} == {"float32"}
    assert {precision for _, precision in cifar.combinations("gpu")} == {"float32", "auto"}


def test_model_memory_is_process_rss_on_cpu_and_device_peak_on_gpu():
    config = {"image_size": 32, "batch_size": 2}
    cpu = [Outcome({"images_per_second": v, "device_peak_mib": None}, peak_rss_mib=m)
           for v, m in ((10.0, 1000.0), (10.0, 1010.0))]
    throughput, memory = models._rows("ResNet-50", *cpu, config)
    assert throughput.ratio == 1.0 and "process peak RSS" in memory.figure
    assert memory.ratio == pytest.approx(1000 / 1010) and memory.verdict == "pass"
    gpu = [Outcome({"images_per_second": 10.0, "device_peak_mib": m}, peak_rss_mib=1.0)
           for m in (300.0, 200.0)]
    memory = models._rows("ResNet-50", *gpu, config)[1]
    assert "GPU peak" in memory.figure and memory.ratio == 1.5 and memory.verdict == "FAIL"


def test_compute_rate_credits_the_architecture_that_does_more_work_per_image():
    config = {"image_size": 32, "batch_size": 2}
    outcomes = [Outcome({"images_per_second": v}, peak_rss_mib=1.0) for v in (94.5, 100.0)]
    rows = models._rows("ResNet-50", *outcomes, config)
    assert rows[0].verdict == "FAIL", "5.5% fewer images per second"
    flops = {"resnet50": 8.2, "ResNet50": 7.75}
    compute = models._compute_row("ResNet-50", rows, flops, ("resnet50", "ResNet50"))
    assert compute.ratio == pytest.approx(94.5 * 8.2 / (100 * 7.75))
    assert compute.verdict == "pass" and "reslib 8.2, keras 7.75" in compute.note


def test_a_failing_worker_is_reported_with_its_error_not_raised():
    outcome = run_worker("benchmarks.no_such_module:measure", {}, timeout=120)
    assert not outcome.ok and "No module named" in outcome.error


def test_missing_lessons_and_exercises_are_skipped_and_said_so(tmp_path):
    (lesson,) = course.lesson_results(tmp_path)
    (grading,) = course.grading_results(tmp_path)
    assert lesson.value is None and "skipped" in lesson.note
    assert grading.value is None and "skipped" in grading.note


def _write(path, cells, **metadata):
    path.parent.mkdir(parents=True, exist_ok=True)
    notebook = new_notebook(cells=cells, metadata=metadata)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    nbformat.write(notebook, path)


def test_lesson_budget_reports_wall_time_kernel_memory_and_errors(tmp_path):
    _write(tmp_path / "lessons" / "01_fine.ipynb", [
        new_code_cell("import os\nassert os.environ['RESLIB_QUICK'] == '1'\n"
                      "block = bytearray(64 * 2**20)")])
    _write(tmp_path / "lessons" / "02_broken.ipynb", [new_code_cell("1 / 0")])
    wall, memory, broken_wall, _ = course.lesson_results(tmp_path)
    assert wall.figure == "lesson 01_fine, quick, wall" and wall.value > 0 and not wall.note
    assert memory.value > 64, "the kernel's peak RSS includes the 64 MiB it allocated"
    assert "ZeroDivisionError" in broken_wall.note and broken_wall.verdict == "n/a", (
        "a lesson that fails has no wall time to meet its budget with")


def _graded_cell(source, grade_id, solution=False, points=None):
    cell = new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade_id": grade_id, "grade": points is not None,
                                 "solution": solution, "locked": not solution,
                                 "schema_version": 3, **({"points": points} if points else {})}
    return cell


def test_autograde_budget_grades_the_solution_as_a_submission(tmp_path):
    _write(tmp_path / "solutions" / "01_tiny.ipynb", [
        _graded_cell("def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n"
                     "    ### END SOLUTION", "answer", solution=True),
        _graded_cell("assert double(2) == 4\n### BEGIN HIDDEN TESTS\nassert double(3) == 6\n"
                     "### END HIDDEN TESTS", "test_double", points=2),
    ])
    (result,) = course.grading_results(tmp_path)
    assert result.figure == "autograde 01_tiny" and result.value > 0, result.note
    assert result.details["score"] == result.details["max_score"] == 2.0, result.note
    assert result.details["cells_losing_points"] == []


def test_quick_pipeline_benchmark_runs_end_to_end_and_writes_its_record(tmp_path, capsys):
    arguments = ["--only", "pipeline", "--quick", "--output", str(tmp_path), "--label", "binder"]
    assert main(arguments) == 0
    (path,) = tmp_path.glob("*-quick-binder.json")  # the label tells records of one day apart
    assert path.name.startswith(system.today())
    document = json.loads(path.read_text())
    (result,) = document["results"]
    assert result["unit"] == "img/s" and result["value"] > 0
    assert "CIFAR-10" in result["details"]["dataset"] or "digits" in result["details"]["dataset"]
    assert document["environment"]["device"]["accelerator"] in ("cpu", "gpu", "tpu")
    assert document["environment"]["device"]["default"]["precision"]
    assert "training_pipeline" in capsys.readouterr().out
    assert document["settings"]["backends"] == ["tensorflow", "jax"]
    assert document["settings"]["label"] == "binder"
