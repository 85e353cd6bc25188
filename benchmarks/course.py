"""Issue 8, item 4: the course's own budgets: lessons, autograding and ``make test``.

* Each ``lessons/NN_*.ipynb`` runs top to bottom in a real ``python3`` Jupyter kernel in quick
  mode (``RESLIB_QUICK=1``), as ``tests/notebooks/kernel.py`` runs it; the figures are its wall
  time and the kernel process's peak resident memory (``VmHWM`` from ``/proc``, read just before
  the kernel shuts down).
* Each ``solutions/NN_*.ipynb`` is released and autograded by ``nbgrader`` in a temporary course
  directory, with the solution itself as the student's submission; the figure is the wall time
  of ``nbgrader autograde`` (its score is kept in the record as a sanity check).
* ``make test`` (optional: about 25 minutes) is timed as a whole.

Notebooks that do not exist yet are skipped, and the table says so.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.isolate import ROOT
from benchmarks.report import Goal, Result

SECTION = "4. course budgets (quick mode, this machine)"
LESSON_TIME_GOAL = Goal("value", "<=", 120, "s", "DESIGN.md: a lesson in about 2 min on 2 cores")
FIRST_LESSON_TIME_GOAL = Goal("value", "<=", 150, "s", "helpers' note: lesson 01 at most ~2.5 min")
MEMORY_GOAL = Goal("value", "<=", 1536, "MiB",
                   "issue 6: about 1.5 GB, under mybinder.org's 2 GB (make bench-binder measures "
                   "Binder's tensorflow-cpu environment)")
QUICK_ENV = {"RESLIB_QUICK": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
STUDENT = "benchmark_student"


def notebooks(folder: str, root: Path = ROOT) -> list[Path]:
    """``root/folder/NN_*.ipynb``, sorted; empty when the folder does not exist yet."""
    return sorted((root / folder).glob("[0-9][0-9]_*.ipynb"))


def peak_resident_mib(pid: int) -> float | None:
    """``VmHWM`` (peak resident set size) of process ``pid`` in MiB; ``None`` if unreadable."""
    try:
        with open(f"/proc/{pid}/status") as file:
            for line in file:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def execute_lesson(path: Path, timeout: int = 900) -> dict[str, Any]:
    """Run ``path`` in quick mode in a fresh kernel: seconds, kernel peak MiB, claims, error."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory(prefix="reslib-bench-claims-") as scratch:
        claims_file = Path(scratch) / "claims.json"
        env = dict(os.environ, **QUICK_ENV, RESLIB_CLAIMS_FILE=str(claims_file),
                   MPLBACKEND="module://matplotlib_inline.backend_inline")
        client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}})
        error, peak = None, None
        start = time.perf_counter()
        with client.setup_kernel(env=env, stderr=subprocess.DEVNULL):  # TF's start-up logs
            try:
                for index, cell in enumerate(notebook.cells):
                    client.execute_cell(cell, index)
            except Exception as exception:  # a failing cell is a result, not a crash
                last = (re.sub(r"\x1b\[[0-9;]*m", "", str(exception)).strip().splitlines()
                        or [""])[-1]
                error = f"failed: {type(exception).__name__}: {last}"
            seconds = time.perf_counter() - start
            pid = getattr(getattr(client.km, "provisioner", None), "pid", None)
            peak = peak_resident_mib(pid) if pid else None
        claims = json.loads(claims_file.read_text()) if claims_file.exists() else {}
    return {"seconds": seconds, "kernel_peak_mib": peak, "claims": claims, "error": error}


def lesson_results(root: Path = ROOT) -> list[Result]:
    """Wall time and kernel peak memory of every lesson in quick mode."""
    paths = notebooks("lessons", root)
    if not paths:
        return [Result(SECTION, "lessons", None, "s", note="no lessons/NN_*.ipynb yet: skipped")]
    results = []
    for path in paths:
        run = execute_lesson(path)
        note = run["error"][:160] if run["error"] else ""
        time_goal = FIRST_LESSON_TIME_GOAL if path.name.startswith("01") else LESSON_TIME_GOAL
        completed = run["error"] is None  # a lesson that stopped early has no budget figure
        results.append(Result(SECTION, f"lesson {path.stem}, quick, wall",
                              run["seconds"] if completed else None, "s",
                              goal=time_goal, note=note, details=run))
        results.append(Result(SECTION, f"lesson {path.stem}, kernel peak RSS",
                              run["kernel_peak_mib"] if completed else None, "MiB",
                              goal=MEMORY_GOAL, note=note))
    return results


def _nbgrader(course: Path, *arguments: str, timeout: int = 1800) -> tuple[int, float, str]:
    """Run ``nbgrader ARGUMENTS`` in ``course``: exit status, seconds, the end of its output."""
    # nbgrader runs ``alembic`` from PATH: put this interpreter's scripts (the venv's) first
    scripts = os.path.dirname(sys.executable)
    env = dict(os.environ, **QUICK_ENV, PATH=os.pathsep.join([scripts, os.environ["PATH"]]))
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "nbgrader", *arguments], cwd=course, env=env,
                          capture_output=True, text=True, timeout=timeout)
    output = (done.stdout + done.stderr).strip().splitlines()
    return done.returncode, time.perf_counter() - start, " | ".join(output[-3:])


def _score(course: Path, assignment: str) -> dict[str, Any]:
    """The benchmark student's ``score``, ``max_score`` and the grade cells that lost points."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        submission = gradebook.find_submission(assignment, STUDENT)
        lost = [grade.name for notebook in submission.notebooks for grade in notebook.grades
                if (grade.score or 0) < grade.max_score]
        return {"score": float(submission.score), "max_score": float(submission.max_score),
                "cells_losing_points": lost}


def _configure(course: Path, root: Path) -> str:
    """Put the course's ``nbgrader_config.py`` (or a minimal one) in ``course``; return the
    folder nbgrader reads sources from."""
    config = root / "nbgrader_config.py"
    if config.exists():  # the instructors' set-up (INSTRUCTORS.md): sources under solutions/
        shutil.copy(config, course / "nbgrader_config.py")
        return "solutions"
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        "c.CourseDirectory.course_id = 'residual-connections'\n"
        "c.Execute.timeout = 300\n"
    )
    return "source"


def autograde(solution: Path, root: Path = ROOT) -> dict[str, Any]:
    """Release ``solution`` and autograde it as a submission in a temporary nbgrader course
    configured by ``root``'s ``nbgrader_config.py`` when there is one."""
    assignment = solution.stem
    with tempfile.TemporaryDirectory(prefix="reslib-bench-course-") as scratch:
        course = Path(scratch)
        source = _configure(course, root)
        for folder in (source, f"submitted/{STUDENT}"):
            (course / folder / assignment).mkdir(parents=True)
            shutil.copy(solution, course / folder / assignment / solution.name)
        status, seconds, output = _nbgrader(course, "generate_assignment", assignment, "--force")
        if status:
            return {"seconds": None, "error": f"generate_assignment failed: {output}"}
        status, seconds, output = _nbgrader(course, "autograde", assignment, "--force")
        if status:
            return {"seconds": seconds, "error": f"autograde failed: {output}"}
        return {"seconds": seconds, **_score(course, assignment), "error": None}


def grading_results(root: Path = ROOT) -> list[Result]:
    """Autograde time of every exercise (its solution submitted as the student's work)."""
    paths = notebooks("solutions", root)
    if not paths:
        note = "no solutions/NN_*.ipynb yet: skipped"
        return [Result(SECTION, "autograde", None, "s", note=note)]
    results = []
    for path in paths:
        run = autograde(path, root)
        note = run["error"][:160] if run["error"] else ""
        if not note and run["score"] < run["max_score"]:
            note = (f"solution scored {run['score']:g} of {run['max_score']:g}, lost in "
                    f"{', '.join(run['cells_losing_points'])}")
        results.append(Result(SECTION, f"autograde {path.stem}", run["seconds"], "s",
                              note=note, details=run))
    return results


def make_test_results(root: Path = ROOT) -> list[Result]:
    """Wall time of the whole ``make test`` (TensorFlow suite, then the JAX subset)."""
    start = time.perf_counter()
    done = subprocess.run(["make", "test"], cwd=root, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    tail = (done.stdout + done.stderr).strip().splitlines()[-1:]
    note = f"exit status {done.returncode}: {' '.join(tail)}"[:160] if done.returncode else ""
    return [Result(SECTION, "make test (TensorFlow + JAX)", seconds, "s", note=note,
                   details={"returncode": done.returncode, "last_line": tail})]
