"""Issue 14's benchmark: grading a class with ``reslib.grading`` against plain nbgrader.

One exercise (``ASSIGNMENT``, among the cheapest to autograde) is released in a temporary
course directory, and ``STUDENTS`` copies of its solution are submitted. The class is then
graded four ways, each in a fresh course, timing the whole call:

* plain ``nbgrader autograde ASSIGNMENT --create`` (serial, unsandboxed): the reference;
* ``reslib.grading`` with 1 worker, without the sandbox (``--no-sandbox``);
* ``reslib.grading`` with 1 worker, sandboxed (bubblewrap);
* ``reslib.grading`` with 2 workers, sandboxed.

Figures: throughput (notebooks/min) with 1 and 2 workers (goal >= 1.7x on 2 cores), the sandbox's
time per notebook against plain nbgrader (goal <= 1.10x; the tool also writes feedback per
student, which plain ``autograde`` does not, so the no-sandbox run is recorded too), and the
peak resident memory of one worker's processes (nbgrader plus the sandboxed kernel).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.isolate import ROOT
from benchmarks.report import Goal, Result

SECTION = "5. grading a class safely (issue 14)"
ASSIGNMENT = "02_residual_math"
STUDENTS = 4
QUICK_STUDENTS = 2
SPEEDUP_GOAL = Goal("ratio", ">=", 1.7, "", "issue 14: 2 workers on 2 cores")
OVERHEAD_GOAL = Goal("ratio", "<=", 1.10, "", "issue 14: sandbox overhead <= 10%")


def _course(folder: Path, students: int) -> Path:
    """A course with ASSIGNMENT released and ``students`` copies of its solution submitted."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.grading import pipeline

    course = pipeline.init_course(folder, [ASSIGNMENT])
    pipeline.release(course, ASSIGNMENT)
    solution = pipeline.SOLUTIONS / f"{ASSIGNMENT}.ipynb"
    for index in range(students):
        target = course / "submitted" / f"student-{index:03d}" / ASSIGNMENT
        target.mkdir(parents=True)
        shutil.copy(solution, target / f"{ASSIGNMENT}.ipynb")
        (target / "timestamp.txt").write_text("2026-01-05 09:00:00 UTC")
    return course


def _run(students: int, how: str) -> dict:
    """Grade a fresh class ``how`` (plain, tool-1-nosandbox, tool-1, tool-2): seconds, peak."""
    from reslib.grading import autograde

    with tempfile.TemporaryDirectory(prefix="reslib-bench-grading-") as folder:
        course = _course(Path(folder), students)
        start = time.perf_counter()
        if how == "plain":
            from tests.grading import pipeline

            pipeline.nbgrader(course, "autograde", ASSIGNMENT, "--create")
            peaks = []
        else:
            workers = int(how.split("-")[1])
            results = autograde(course, ASSIGNMENT, workers=workers,
                                sandbox="nosandbox" not in how)
            peaks = [result["peak_mib"] for result in results]
            failed = [result["student"] for result in results if result["problems"]]
            if failed:
                raise RuntimeError(f"{how}: grading failed for {failed}")
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "per_notebook": seconds / students,
            "per_minute": 60 * students / seconds, "peak_mib": max(peaks, default=None)}


def run(quick: bool = False) -> list[Result]:
    """The section's rows (see the module docstring)."""
    from reslib.grading.sandbox import check_available

    students = QUICK_STUDENTS if quick else STUDENTS
    try:
        check_available()
    except RuntimeError as error:
        return [Result(SECTION, "sandboxed grading", None, "notebooks/min", note=str(error)[:160])]
    runs = {how: _run(students, how) for how in ("plain", "tool-1-nosandbox", "tool-1",
                                                  "tool-2")}
    settings = {"assignment": ASSIGNMENT, "students": students, "runs": runs,
                "note": "a shared machine: other work may have run at the same time"}
    return [
        Result(SECTION, f"throughput, 2 workers ({ASSIGNMENT})", runs["tool-2"]["per_minute"],
               "notebooks/min", reference=runs["tool-1"]["per_minute"],
               reference_name="1 worker", goal=SPEEDUP_GOAL, details=settings),
        Result(SECTION, "time per notebook, sandboxed (1 worker)",
               runs["tool-1"]["per_notebook"], "s", reference=runs["plain"]["per_notebook"],
               reference_name="plain nbgrader", goal=OVERHEAD_GOAL,
               note=f"unsandboxed tool: {runs['tool-1-nosandbox']['per_notebook']:.1f} s"),
        Result(SECTION, "peak memory per worker (nbgrader + kernel)",
               runs["tool-2"]["peak_mib"], "MiB"),
    ]
