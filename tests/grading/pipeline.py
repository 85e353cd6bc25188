"""The instructor's nbgrader pipeline, step by step, on a course directory (see INSTRUCTORS.md).

Every step runs the real ``nbgrader`` command line, exactly as INSTRUCTORS.md lists it, in a
course directory holding a copy of the repository's ``nbgrader_config.py``. The tests in this
folder and ``make exercises`` / ``make grade-demo`` use it:

    python tests/grading/pipeline.py init COURSE      # a course directory for every exercise
    python tests/grading/pipeline.py exercises        # regenerate exercises/ from solutions/
    python tests/grading/pipeline.py demo [COURSE]    # grade the simulated class, print the table
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import nbformat

if __package__ in (None, ""):  # run as a script: make `tests.grading` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.grading.students import CLASS, LATE_STUDENT, build_class  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS, EXERCISES = ROOT / "solutions", ROOT / "exercises"
ENVIRONMENT = {"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore", "MPLBACKEND": "Agg"}
"""Added to nbgrader's (and so the kernels') environment: TensorFlow must not write to stderr.
nbgrader also runs ``alembic`` from the PATH: the environment's ``bin`` is put first."""


def assignments() -> list[str]:
    """The assignment names: the stems of ``solutions/NN_topic.ipynb``, in order."""
    return sorted(path.stem for path in SOLUTIONS.glob("[0-9][0-9]_*.ipynb"))


def nbgrader(course: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """``nbgrader ARGS`` run in ``course``; with ``check``, raises with nbgrader's log when it
    fails."""
    command = [sys.executable, "-m", "nbgrader", *args]
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    result = subprocess.run(command, cwd=course, env={**os.environ, **ENVIRONMENT, "PATH": path},
                            capture_output=True, text=True)
    if check and result.returncode != 0:
        raise RuntimeError(f"`nbgrader {' '.join(args)}` failed with exit code "
                           f"{result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def init_course(course: Path, names: list[str]) -> Path:
    """Make ``course`` a course directory: the config, and each solution as nbgrader's source."""
    course.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    for name in names:
        (course / "solutions" / name).mkdir(parents=True, exist_ok=True)
        shutil.copy(SOLUTIONS / f"{name}.ipynb", course / "solutions" / name / f"{name}.ipynb")
    return course


def release(course: Path, name: str) -> Path:
    """``nbgrader generate_assignment NAME --force``; the path of the student version."""
    nbgrader(course, "generate_assignment", name, "--force")
    return course / "release" / name / f"{name}.ipynb"


def make_exercises(target: Path = EXERCISES, names: list[str] | None = None) -> list[Path]:
    """Regenerate ``target/NN_topic.ipynb`` from ``solutions/`` in a temporary course directory."""
    names = names or assignments()
    target.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as temporary:
        course = init_course(Path(temporary), names)
        for name in names:
            written.append(Path(shutil.copy(release(course, name), target / f"{name}.ipynb")))
    return written


def submit(course: Path, name: str, notebooks: dict[str, nbformat.NotebookNode | bytes],
           timestamp: str, archive: str) -> Path:
    """Put the students' notebooks into one zip, as an LMS download, under
    ``downloaded/NAME/archive/``; files are named ``<student>_attempt_<timestamp>_<NAME>.ipynb``."""
    folder = course / "downloaded" / name / "archive"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{archive}.zip"
    with zipfile.ZipFile(path, "w") as bundle:
        for student, notebook in notebooks.items():
            data = notebook if isinstance(notebook, bytes) else nbformat.writes(notebook)
            bundle.writestr(f"{student}_attempt_{timestamp}_{name}.ipynb", data)
    return path


def collect(course: Path, name: str) -> None:
    """``nbgrader zip_collect NAME --force``: unpack the downloads into ``submitted/``."""
    nbgrader(course, "zip_collect", name, "--force")


def autograde(course: Path, name: str, student: str | None = None, timeout: int | None = None,
              force: bool = False) -> float:
    """``nbgrader autograde NAME [--student S] [--force]``; returns the wall time in seconds.

    Re-grading (``force``) replaces ``autograded/S/NAME``, whose files nbgrader made read-only:
    they are made writable first, so the replacement works wherever the course lives.
    """
    args = ["autograde", name, "--create"]
    if student:
        args += ["--student", student]
    if force:
        args.append("--force")
        for path in course.glob(f"autograded/{student or '*'}/{name}"):
            make_writable(path)
    if timeout:
        args.append(f"--Execute.timeout={timeout}")
    start = time.perf_counter()
    nbgrader(course, *args)
    return time.perf_counter() - start


def make_writable(path: Path) -> None:
    """Give the owner write permission on ``path`` and everything below it."""
    for item in [path, *path.rglob("*")]:
        item.chmod(item.stat().st_mode | stat.S_IWUSR)


def feedback(course: Path, name: str) -> None:
    """``nbgrader generate_feedback NAME --force``: HTML feedback under ``feedback/``."""
    nbgrader(course, "generate_feedback", name, "--force")


def export(course: Path) -> dict[tuple[str, str], float]:
    """``nbgrader export --to grades.csv``; ``{(assignment, student): score}``."""
    nbgrader(course, "export", "--to", "grades.csv")
    with open(course / "grades.csv", newline="") as file:
        return {(row["assignment"], row["student_id"]): float(row["score"])
                for row in csv.DictReader(file)}


def validate(course: Path, notebooks: list[Path]) -> int:
    """``nbgrader validate NOTEBOOK...``; how many of the notebooks pass all their tests."""
    result = nbgrader(course, "validate", *map(str, notebooks), check=False)
    return result.stdout.count("Success! Your notebook passes all the tests.")


def grade_class(course: Path, name: str, students: list[str] | None = None,
                timeout: int | None = None, give_feedback: bool = True) -> dict[str, float]:
    """Submit the simulated class (or some of it) to the released NAME, collect, autograde in
    one call, then the late student's resubmission (re-graded with --force), and feedback.

    Returns the autograde wall times: ``{"class": ..., "late": ...}``.
    """
    release_path = course / "release" / name / f"{name}.ipynb"
    first, late = build_class(release_path, SOLUTIONS / f"{name}.ipynb", students)
    submit(course, name, first, "20260105T090000", "first")
    collect(course, name)
    times = {"class": autograde(course, name, timeout=timeout)}
    if late:
        submit(course, name, late, "20260107T180000", "late")
        collect(course, name)
        times["late"] = autograde(course, name, LATE_STUDENT, timeout=timeout, force=True)
    if give_feedback:
        feedback(course, name)
    return times


def grade_safely(course: Path, name: str, students: list[str] | None = None,
                 hostile: bool = False, workers: int = 2, scheduler: str | None = None,
                 cell_timeout: int | None = None) -> dict:
    """Submit the simulated class (and, with ``hostile``, every hostile submission), collect,
    and grade it with ``reslib.grading`` (sandboxed, ``workers`` in parallel); then the late
    student's resubmission, re-graded alone. Returns ``{"class": results, "late": results}``."""
    from reslib.grading import Limits, autograde
    from tests.grading.students import hostile_submissions

    release_path = course / "release" / name / f"{name}.ipynb"
    first, late = build_class(release_path, SOLUTIONS / f"{name}.ipynb", students)
    if hostile:
        first.update(hostile_submissions(nbformat.read(release_path, as_version=4),
                                         nbformat.read(SOLUTIONS / f"{name}.ipynb",
                                                       as_version=4)))
    submit(course, name, first, "20260105T090000", "first")
    collect(course, name)
    limits = Limits(wall=GRADING_WALL)
    runs = {"class": autograde(course, name, workers, scheduler, limits,
                               cell_timeout=cell_timeout)}
    if late:
        submit(course, name, late, "20260107T180000", "late")
        collect(course, name)
        runs["late"] = autograde(course, name, workers, scheduler, limits,
                                 students=[LATE_STUDENT], cell_timeout=cell_timeout)
    return runs


GRADING_WALL = int(os.environ.get("RESLIB_GRADING_WALL", "300"))
"""Seconds per notebook (wall clock) in the tests and the demo."""


def grade_table(scores: dict[tuple[str, str], float], names: list[str]) -> str:
    """Students down, assignments across, as a Markdown table."""
    order = list(CLASS) + sorted({student for _, student in scores} - set(CLASS))
    students = sorted({student for _, student in scores}, key=order.index)
    lines = ["| student | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for student in students:
        cells = [f"{scores[name, student]:g}" if (name, student) in scores else "-"
                 for name in names]
        lines.append(f"| {student} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


DEMO_TIMEOUT = int(os.environ.get("RESLIB_GRADING_TIMEOUT", "60"))
"""Seconds per cell in the demo, so the infinite loop costs one minute, not the course's 300 s."""


def demo(course: Path, names: list[str]) -> str:
    """The whole simulated class on every exercise (and the hostile submissions on exercise
    01), graded by ``reslib.grading``; prints the summaries and returns the grade table."""
    from reslib.grading import export as export_reviewed
    from reslib.grading import summary

    init_course(course, names)
    for name in names:
        release(course, name)
        start = time.perf_counter()
        runs = grade_safely(course, name, hostile=name == names[0], cell_timeout=DEMO_TIMEOUT)
        print(summary(course, name, runs["class"] + runs.get("late", [])))
        print(f"{name}: {time.perf_counter() - start:.0f} s", flush=True)
    rows = export_reviewed(course, course / "grades.csv")
    table = grade_table({(row["assignment"], row["student_id"]): float(row["score"])
                         for row in rows}, names)
    print(table)
    solutions = [course / "solutions" / name / f"{name}.ipynb" for name in names]
    releases = [course / "release" / name / f"{name}.ipynb" for name in names]
    print(f"nbgrader validate: {validate(course, solutions)}/{len(names)} solutions pass, "
          f"{validate(course, releases)}/{len(names)} releases pass (expected 0)")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("init", "exercises", "demo"))
    parser.add_argument("course", nargs="?", type=Path,
                        help="init: the course directory to make; demo: the course directory "
                        "(default: a temporary one)")
    args = parser.parse_args()
    if args.command == "init":
        if not args.course:
            parser.error("init needs the course directory, e.g. ~/course")
        init_course(args.course.expanduser(), assignments())
        print(f"course directory {args.course}: cd there and run nbgrader (INSTRUCTORS.md)")
    elif args.command == "exercises":
        for path in make_exercises():
            print(f"wrote {path.relative_to(ROOT)}")
    elif args.course:
        demo(args.course, assignments())
    else:
        with tempfile.TemporaryDirectory() as temporary:
            demo(Path(temporary), assignments())


if __name__ == "__main__":
    main()
