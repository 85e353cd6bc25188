"""Specification of lessons/: notebooks that teach, open on Colab, and run in quick mode.

Each lesson is executed top to bottom in a real Jupyter kernel with ``RESLIB_QUICK=1`` (the
quick mode CI and a 2-core laptop use); the full mode is the papers' scale on a GPU.
"""

import json
import re

import pytest

from reslib.course import colab_url, pip_requirement
from tests.notebooks.kernel import ROOT, cells_with_outputs, execute, figures, read, source

LESSONS = sorted((ROOT / "lessons").glob("[0-9][0-9]_*.ipynb"))


def lesson_id(path):
    return path.stem


def test_there_are_seven_lessons():
    assert [p.name[:2] for p in LESSONS] == ["01", "02", "03", "04", "05", "06", "07"], LESSONS


@pytest.mark.parametrize("path", LESSONS, ids=lesson_id)
def test_lesson_is_committed_with_outputs_cleared(path):
    assert cells_with_outputs(read(path)) == [], f"clear the outputs of {path.name}"


@pytest.mark.parametrize("path", LESSONS, ids=lesson_id)
def test_lesson_opens_on_colab_with_a_pinned_install_and_a_parameters_cell(path):
    notebook = read(path)
    first_markdown = next(c for c in notebook.cells if c.cell_type == "markdown").source
    assert colab_url(f"lessons/{path.name}") in first_markdown, "Open-in-Colab badge"
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert pip_requirement() in code[0].source and "--no-deps" in code[0].source
    assert "setup(" in code[0].source, "the first cell prints versions and the device"
    parameters = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(parameters) == 1 and "QUICK" in parameters[0].source


@pytest.mark.parametrize("path", LESSONS, ids=lesson_id)
def test_lesson_has_goals_math_a_paper_comparison_and_a_summary(path):
    text = source(read(path), "markdown").lower()
    for heading in ("learning goals", "prerequisites", "compare with the paper", "summary",
                    "where next"):
        assert heading in text, f"{path.name} lacks a '{heading}' section"
    assert "$" in text, "the math in LaTeX"
    assert re.search(r"estimated time", text)
    if not path.name.startswith("07"):
        assert f"exercises/{path.name[:2]}_" in text, "a link to the matching exercise"


@pytest.mark.parametrize("path", LESSONS, ids=lesson_id)
def test_lesson_links_point_at_files_that_exist(path):
    text = source(read(path), "markdown")
    for target in re.findall(r"\]\((\.\./[^)#\s]+)", text):
        assert (path.parent / target).resolve().exists(), f"{path.name} links to missing {target}"


@pytest.mark.parametrize("path", LESSONS, ids=lesson_id)
def test_lesson_runs_in_quick_mode_and_reproduces_its_claims(path, tmp_path):
    # Its wall time and memory are measured by benchmarks/ (the course budgets), not asserted here.
    claims_file = tmp_path / "claims.json"
    notebook, _ = execute(path, RESLIB_QUICK="1", RESLIB_CLAIMS_FILE=str(claims_file))
    errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors == []
    assert figures(notebook) >= 2, f"{path.name} should draw at least two figures"
    claims = json.loads(claims_file.read_text())
    assert claims, f"{path.name} records no claims (reslib.course.claims)"
    failed = {name: c["evidence"] for name, c in claims.items() if not c["holds"]}
    assert failed == {}, f"{path.name}: claims not reproduced in quick mode"


def test_readme_links_every_lesson_and_exercise_with_colab_badges_and_binder():
    from reslib.course import binder_url

    readme = (ROOT / "README.md").read_text()
    assert binder_url() in readme
    for path in [*LESSONS, *sorted((ROOT / "exercises").glob("*.ipynb"))]:
        relative = path.relative_to(ROOT).as_posix()
        assert f"]({relative})" in readme and colab_url(relative) in readme, relative
