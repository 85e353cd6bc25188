"""The simulated class: one submission per way a real class goes right or wrong.

Every submission is made from the released notebook (what learners download) and the solution
notebook (``solutions/NN_topic.ipynb``), cell by cell, matching cells by their nbgrader
``grade_id``. With ``T`` the exercise's total and ``P`` its partial score
(``expected_scores.json``), the expected scores are exact.
"""

from __future__ import annotations

import copy

import nbformat

CLASS = {
    "solution": "every answer cell filled in with the solution's code: T",
    "untouched": "the release as downloaded: 0, every test cell still graded",
    "partial": "only the first answer cell (in notebook order) solved: P",
    "infinite-loop": "partial, and the second answer cell loops forever (times out): P",
    "raises-at-import": "partial, and the second answer cell imports a missing module: P",
    "edited-tests": "the release with every test cell replaced by a print: restored, 0",
    "deleted-tests": "the solution with every test cell deleted: re-added and run, T",
    "late": "first the release (0), then the solution, re-graded with --force: T",
}
LATE_STUDENT = "late"


def expected_score(student: str, total: float, partial: float) -> float:
    """The exact score of ``student`` on an exercise worth ``total``, partial score ``partial``."""
    return {"solution": total, "untouched": 0.0, "partial": partial, "infinite-loop": partial,
            "raises-at-import": partial, "edited-tests": 0.0, "deleted-tests": total,
            "late": total}[student]


def _nbgrader(cell: nbformat.NotebookNode) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def answer_ids(notebook: nbformat.NotebookNode) -> list[str]:
    """The ``grade_id`` of every autograded-answer cell, in notebook order."""
    return [_nbgrader(cell)["grade_id"] for cell in notebook.cells
            if _nbgrader(cell).get("solution") and cell.cell_type == "code"]


def _is_test(cell: nbformat.NotebookNode) -> bool:
    return bool(_nbgrader(cell).get("grade")) and not _nbgrader(cell).get("solution")


def _answered(release: nbformat.NotebookNode, solution: nbformat.NotebookNode,
              grade_ids: list[str]) -> nbformat.NotebookNode:
    """The release with the answer cells ``grade_ids`` replaced by the solution's code."""
    code = {_nbgrader(cell).get("grade_id"): cell.source for cell in solution.cells}
    notebook = copy.deepcopy(release)
    for cell in notebook.cells:
        if _nbgrader(cell).get("grade_id") in grade_ids:
            cell.source = code[_nbgrader(cell)["grade_id"]]
    return notebook


def _with_answer(notebook: nbformat.NotebookNode, grade_id: str,
                 edit) -> nbformat.NotebookNode:
    notebook = copy.deepcopy(notebook)
    for cell in notebook.cells:
        if _nbgrader(cell).get("grade_id") == grade_id:
            cell.source = edit(cell.source)
    return notebook


def submissions(release: nbformat.NotebookNode,
                solution: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    """Every student's (first) submission, as notebooks; ``late`` submits the release."""
    answers = answer_ids(release)
    if len(answers) < 2:
        raise ValueError(f"the simulated class needs at least two answer cells; got {answers}")
    solved = _answered(release, solution, answers)
    partial = _answered(release, solution, answers[:1])
    edited = copy.deepcopy(release)
    for cell in edited.cells:
        if _is_test(cell):
            cell.source = 'print("all tests passed")'
    deleted = copy.deepcopy(solved)
    deleted.cells = [cell for cell in deleted.cells if not _is_test(cell)]
    return {
        "solution": solved,
        "untouched": copy.deepcopy(release),
        "partial": partial,
        "infinite-loop": _with_answer(partial, answers[1], lambda _: "while True:\n    pass"),
        "raises-at-import": _with_answer(
            partial, answers[1],
            lambda source: "import reslib_answers  # only on the student's laptop\n" + source),
        "edited-tests": edited,
        "deleted-tests": deleted,
        "late": copy.deepcopy(release),
    }


def build_class(release_path, solution_path, students: list[str] | None = None):
    """``(first submissions, resubmissions)`` of the chosen students (default: all).

    The resubmission is the late student's solved notebook, handed in after grading.
    """
    release = nbformat.read(release_path, as_version=4)
    solution = nbformat.read(solution_path, as_version=4)
    everyone = submissions(release, solution)
    chosen = students or list(CLASS)
    first = {name: everyone[name] for name in chosen}
    late = {}
    if LATE_STUDENT in chosen:
        late = {LATE_STUDENT: _answered(release, solution, answer_ids(release))}
    return first, late
