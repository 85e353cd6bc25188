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
HONEST = list(CLASS)

HOSTILE = {
    "hostile-gradebook": "the release, and its answer cell edits gradebook.db (own score to the "
                         "maximum plus extra credit, a classmate to 0, another deleted): 0",
    "hostile-files": "the release, and its answer cell replaces a classmate's submission, deletes "
                     "another's autograded folder, rewrites the source's hidden tests, appends "
                     "to nbgrader_config.py and prints the course directory: 0",
    "hostile-startup": "the release, and its answer cell writes an IPython start-up file that "
                       "would blank every later kernel's tests: 0",
    "hostile-daemon": "the release, and its answer cell starts a detached process that outlives "
                      "the kernel to edit the gradebook later: 0",
    "memory-hog": "partial, and the second answer cell allocates 5 GiB (MemoryError): P",
    "kernel-exit": "partial, and the second answer cell calls os._exit: P, needs review",
    "ignores-sigint": "partial, and the second answer cell loops ignoring SIGINT: P, needs review",
    "corrupt": "not valid JSON: no grades, needs review",
    "renamed-grade-id": "the solution with a test cell's grade_id renamed: re-added, T, needs "
                        "review",
    "patches-checks": "the release, and its answer cell replaces reslib.checks' functions: 0",
    "rebinds-checks": "the release, and its answer cell rebinds `checks` to a pass-everything "
                      "object: 0",
    "blanks-tests": "the release, and its answer cell adds an input transformer that blanks every "
                    "later cell: 0",
}
"""One hostile submission of every kind in issue 14, graded on exercise 01 by reslib.grading."""
DAEMON_TOKEN = "reslib-hostile-daemon"
"""In the hostile background process's command line, so a test can look for it."""

_FIND_COURSE = """
import os, pathlib, shutil, sqlite3, subprocess, sys
_here = pathlib.Path.cwd()
_course = _here.parents[2] if len(_here.parents) > 2 else _here
_name = _here.name
def _try(action):
    try:
        action()
    except Exception as error:
        print("blocked:", type(error).__name__)
"""
_ATTACKS = {
    "hostile-gradebook": _FIND_COURSE + """
def _gradebook():
    db = sqlite3.connect(_course / "gradebook.db")
    db.execute("UPDATE grade SET extra_credit = 100, auto_score = 100")
    db.execute("UPDATE grade SET auto_score = 0, extra_credit = 0 WHERE notebook_id IN (SELECT "
               "sn.id FROM submitted_notebook sn JOIN submitted_assignment sa ON "
               "sn.assignment_id = sa.id WHERE sa.student_id = 'solution')")
    db.execute("DELETE FROM submitted_assignment WHERE student_id = 'partial'")
    db.commit()
_try(_gradebook)
""",
    "hostile-files": _FIND_COURSE + r"""
_try(lambda: (_course / "submitted" / "deleted-tests" / _name / f"{_name}.ipynb").write_text("{}"))
_try(lambda: shutil.rmtree(_course / "autograded" / "solution"))
_try(lambda: (_course / "solutions" / _name / f"{_name}.ipynb").write_text("{}"))
_try(lambda: (_course / "nbgrader_config.py").open("a").write("\nc.Execute.timeout = 1\n"))
_try(lambda: print("CLASS" "MATES:", sorted(os.listdir(_course / "submitted"))))
_try(lambda: print("SOU" "RCE:", (_course / "solutions" / _name / f"{_name}.ipynb").read_text()))
""",
    "hostile-startup": _FIND_COURSE + r"""
_blank = "get_ipython().input_transformers_post.append(lambda lines: [])\n"
for _home in {pathlib.Path.home(), pathlib.Path(os.environ.get("IPYTHONDIR", "/tmp")).parent,
              pathlib.Path("/root")}:
    _startup = _home / ".ipython" / "profile_default" / "startup"
    _try(lambda: (_startup.mkdir(parents=True, exist_ok=True),
                  (_startup / "00-grades.py").write_text(_blank)))
""",
    "hostile-daemon": _FIND_COURSE + r"""
_later = ("import time, sqlite3, pathlib\ntime.sleep(5)\n"
          f"db = sqlite3.connect({str(_course / 'gradebook.db')!r})\n"
          "db.execute('UPDATE grade SET auto_score = 0'); db.commit()\ntime.sleep(900)\n")
_try(lambda: subprocess.Popen([sys.executable, "-c", _later, "%s"], start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
""",
    "patches-checks": """
import reslib.checks.ex01 as _module
for _name in dir(_module):
    if _name.startswith("check_"):
        setattr(_module, _name, lambda *args, **kwargs: None)
""",
    "rebinds-checks": """
class _PassEverything:
    def __getattr__(self, name):
        return lambda *args, **kwargs: None
checks = _PassEverything()
""",
    "blanks-tests": """
get_ipython().input_transformers_post.append(lambda lines: [])
""",
}
_SECOND_ANSWER = {
    "memory-hog": '_hog = b"\\x01" * (5 * 2**30)  # 5 GiB, written\n',
    "kernel-exit": "import os\nos._exit(1)\n",
    "ignores-sigint": "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                      "while True:\n    pass\n",
}


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


def hostile_submissions(
    release: nbformat.NotebookNode,
    solution: nbformat.NotebookNode,
) -> dict[str, nbformat.NotebookNode | bytes]:
    """Every hostile submission (``corrupt`` is raw bytes: no notebook can hold it)."""
    answers = answer_ids(release)
    partial = _answered(release, solution, answers[:1])
    notebooks: dict[str, nbformat.NotebookNode | bytes] = {}
    for name, attack in _ATTACKS.items():
        code = attack.replace('"%s"', repr(DAEMON_TOKEN))
        notebooks[name] = _with_answer(release, answers[0],
                                       lambda source, code=code: source + "\n" + code)
    for name, code in _SECOND_ANSWER.items():
        notebooks[name] = _with_answer(partial, answers[1], lambda _, code=code: code)
    notebooks["corrupt"] = b'{"cells": [{"cell_type": "code", "source": "print(1)"'
    renamed = _answered(release, solution, answers)
    last_test = [cell for cell in renamed.cells if _is_test(cell)][-1]
    last_test.metadata["nbgrader"]["grade_id"] += "_renamed"
    notebooks["renamed-grade-id"] = renamed
    return notebooks


def hostile_expected(student: str, total: float, partial: float) -> float:
    """The exact score each hostile submission deserves."""
    return {"memory-hog": partial, "kernel-exit": partial, "ignores-sigint": partial,
            "renamed-grade-id": total}.get(student, 0.0)


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
