"""The instructor's pipeline, end to end, with the real nbgrader CLI in a temporary course.

Every exercise: the solution scores full marks, the untouched release 0, the partial submission
its exact expected score (``expected_scores.json``). Exercise 01 also grades the pathological
students (an infinite loop, edited and deleted test cells, an import that raises, a late
resubmission re-graded with ``--force``); ``make grade-demo`` runs them on every exercise.
One ``nbgrader autograde`` call per assignment grades its whole class.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import nbformat
import pytest

from tests.grading import pipeline
from tests.grading.students import CLASS, expected_score

NAMES = pipeline.assignments()
EXPECTED = json.loads((Path(__file__).parent / "expected_scores.json").read_text())
FULL_CLASS = "01_degradation"
"""The exercise on which CI runs every pathological student (all of them: make grade-demo)."""
TIMEOUT = int(os.environ.get("RESLIB_GRADING_TIMEOUT", "60"))
"""Seconds per cell before the infinite loop is interrupted. Every real cell needs far less on
an idle machine, but the set-up cell's TensorFlow import ignores the interrupt: if it is still
running at the limit, nbgrader drops the whole notebook, so leave a wide margin."""


def students_of(name: str) -> list[str]:
    return list(CLASS) if name == FULL_CLASS else ["solution", "untouched", "partial"]


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A course directory with every exercise released."""
    course = pipeline.init_course(tmp_path_factory.mktemp("course"), NAMES)
    for name in NAMES:
        pipeline.release(course, name)
    return course


@pytest.fixture(scope="module")
def graded(course: Path) -> dict[tuple[str, str], float]:
    """Release, submit, collect, autograde and give feedback on every exercise; the CSV's scores."""
    for name in NAMES:
        pipeline.grade_class(course, name, students_of(name), timeout=TIMEOUT,
                             give_feedback=name == FULL_CLASS)
    return pipeline.export(course)


def _comparable(notebook: nbformat.NotebookNode) -> list[tuple]:
    """What a learner sees and nbgrader checks: cell types, sources and nbgrader metadata."""
    return [(cell.cell_type, cell.source, cell.metadata.get("nbgrader"))
            for cell in notebook.cells]


def _cells(name: str) -> list[nbformat.NotebookNode]:
    return nbformat.read(pipeline.SOLUTIONS / f"{name}.ipynb", as_version=4).cells


def _grade_id(cell: nbformat.NotebookNode) -> dict:
    return cell.metadata.get("nbgrader", {})


@pytest.mark.parametrize("name", NAMES)
def test_committed_exercise_is_what_generate_assignment_makes_of_the_solution(
    name: str, course: Path
) -> None:
    fresh = nbformat.read(course / "release" / name / f"{name}.ipynb", as_version=4)
    committed_path = pipeline.EXERCISES / f"{name}.ipynb"
    assert committed_path.exists(), f"exercises/{name}.ipynb is missing: run `make exercises`"
    committed = nbformat.read(committed_path, as_version=4)
    assert _comparable(committed) == _comparable(fresh), (
        f"exercises/{name}.ipynb is stale: run `make exercises`")


@pytest.mark.parametrize("name", NAMES)
def test_expected_scores_are_recorded_and_total_the_points(name: str) -> None:
    assert name in EXPECTED, f"add {name!r}: {{'total': T, 'partial': P}} to expected_scores.json"
    points = sum(_grade_id(cell).get("points", 0) for cell in _cells(name))
    assert EXPECTED[name]["total"] == points


@pytest.mark.parametrize("name", NAMES)
def test_every_test_cell_follows_an_answer_or_test_cell(name: str) -> None:
    """nbgrader 0.9.6 re-adds a deleted test cell after the graded cell before it in the source
    and crashes (KeyError) when that one is a plain or read-only cell."""
    cells = [cell for cell in _cells(name) if _grade_id(cell).get("grade_id")]
    for before, cell in zip(cells, cells[1:]):
        if _grade_id(cell).get("grade") and not _grade_id(cell).get("solution"):
            previous = _grade_id(before)
            assert previous.get("grade") or previous.get("solution"), (
                f"{name}: test cell {_grade_id(cell)['grade_id']!r} follows "
                f"{previous['grade_id']!r}, which is neither an answer nor a test cell")


@pytest.mark.parametrize("name", NAMES)
def test_exported_scores_are_exact(name: str, graded: dict[tuple[str, str], float]) -> None:
    total, partial = EXPECTED[name]["total"], EXPECTED[name]["partial"]
    got = {student: graded.get((name, student)) for student in students_of(name)}
    want = {student: expected_score(student, total, partial) for student in students_of(name)}
    assert got == want


def test_every_test_cell_of_the_untouched_release_was_graded(
    course: Path, graded: dict[tuple[str, str], float]
) -> None:
    notebook = nbformat.read(
        course / "autograded" / "untouched" / FULL_CLASS / f"{FULL_CLASS}.ipynb", as_version=4)
    tests = [cell for cell in notebook.cells
             if _grade_id(cell).get("grade") and not _grade_id(cell).get("solution")]
    assert tests and all(
        any(output.output_type == "error" for output in cell.outputs) for cell in tests)


def test_infinite_loop_is_interrupted_and_graded(
    course: Path, graded: dict[tuple[str, str], float]
) -> None:
    notebook = nbformat.read(
        course / "autograded" / "infinite-loop" / FULL_CLASS / f"{FULL_CLASS}.ipynb",
        as_version=4)
    errors = {output.get("ename") for cell in notebook.cells
              for output in cell.get("outputs", []) if output.output_type == "error"}
    assert "CellTimeoutError" in errors


def test_deleted_test_cells_are_restored(
    course: Path, graded: dict[tuple[str, str], float]
) -> None:
    notebook = nbformat.read(
        course / "autograded" / "deleted-tests" / FULL_CLASS / f"{FULL_CLASS}.ipynb",
        as_version=4)
    restored = {_grade_id(cell).get("grade_id") for cell in notebook.cells}
    expected = {_grade_id(cell).get("grade_id") for cell in _cells(FULL_CLASS)
                if _grade_id(cell).get("grade")}
    assert expected <= restored


def test_autograded_files_are_read_only_and_the_late_student_was_regraded(
    course: Path, graded: dict[tuple[str, str], float]
) -> None:
    graded_notebook = course / "autograded" / "late" / FULL_CLASS / f"{FULL_CLASS}.ipynb"
    assert not os.stat(graded_notebook).st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert graded[FULL_CLASS, "late"] == EXPECTED[FULL_CLASS]["total"]
    timestamp = (course / "autograded" / "late" / FULL_CLASS / "timestamp.txt").read_text()
    assert timestamp.startswith("2026-01-07")


def test_feedback_is_generated_for_every_student(
    course: Path, graded: dict[tuple[str, str], float]
) -> None:
    for student in CLASS:
        assert (course / "feedback" / student / FULL_CLASS / f"{FULL_CLASS}.html").exists()


def test_validate_passes_on_the_solution_and_fails_on_the_release(
    course: Path, graded: dict[tuple[str, str], float]
) -> None:
    # On exercise 01 only (CI time): the autograded solutions above already show that every
    # solution passes its own tests, and `make grade-demo` validates them all.
    solution = course / "solutions" / FULL_CLASS / f"{FULL_CLASS}.ipynb"
    release = course / "release" / FULL_CLASS / f"{FULL_CLASS}.ipynb"
    assert pipeline.validate(course, [solution]) == 1
    assert pipeline.validate(course, [release]) == 0
