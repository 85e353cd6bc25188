"""``python -m reslib.grading autograde ASSIGNMENT --course DIR [options]`` and ``export``."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from reslib.grading.coordinator import autograde
from reslib.grading.report import export, summary
from reslib.grading.sandbox import Limits, parse_size


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number; got {text!r}.")
    return value


def size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error))


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m reslib.grading",
                                     description=__doc__.splitlines()[0].strip("`"))
    commands = parser.add_subparsers(dest="command", required=True)
    grade = commands.add_parser("autograde", help="grade every submission of an assignment")
    grade.add_argument("assignment")
    grade.add_argument("--course", type=Path, required=True, help="the nbgrader course directory")
    grade.add_argument("--workers", type=positive, default=os.cpu_count() or 1,
                       help="parallel submissions (default: the number of cores)")
    grade.add_argument("--scheduler", default=None,
                       help="grade on Dask distributed: 'local' for a LocalCluster of --workers "
                            "processes, or a scheduler address such as tcp://host:8786")
    grade.add_argument("--memory", type=size, default=Limits.memory,
                       help="memory per kernel (default 3GiB)")
    grade.add_argument("--timeout", type=positive, default=Limits.wall,
                       help=f"seconds per notebook, wall clock (default {Limits.wall})")
    grade.add_argument("--cell-timeout", type=positive, default=None,
                       help="seconds per cell (default: Execute.timeout of nbgrader_config.py)")
    grade.add_argument("--cpu", type=positive, default=Limits.cpu_seconds,
                       help=f"CPU seconds per kernel (default {Limits.cpu_seconds})")
    grade.add_argument("--student", action="append", default=None,
                       help="grade only this student (repeatable)")
    grade.add_argument("--csv", type=Path, default=Path("grades.csv"),
                       help="the CSV export, relative to the course (default grades.csv)")
    grade.add_argument("--no-sandbox", action="store_true",
                       help="UNSAFE: run kernels without bubblewrap (student code then sees "
                            "your files and the network)")
    grade.add_argument("--no-progress", action="store_true", help="no progress bar")
    out = commands.add_parser("export", help="the CSV export with the review columns")
    out.add_argument("--course", type=Path, required=True)
    out.add_argument("--to", type=Path, default=Path("grades.csv"))
    return parser.parse_args(argv)


def progress_bar(total: int, enabled: bool):
    """A tqdm bar: done, failed (needs review), seconds per notebook, ETA."""
    from tqdm import tqdm

    bar = tqdm(total=total, unit="notebook", disable=not enabled, file=sys.stderr,
               bar_format="{l_bar}{bar}| {n}/{total} [{elapsed}<{remaining}] {postfix}")
    state = {"failed": 0, "start": time.perf_counter()}

    def update(result: dict) -> None:
        state["failed"] += bool(result["problems"] or result["flags"])
        bar.update(1)
        per = (time.perf_counter() - state["start"]) / bar.n
        bar.set_postfix_str(f"done {bar.n}, needs review {state['failed']}, "
                            f"{per:.1f} s/notebook, last {result['student']} "
                            f"{result['seconds']:.0f} s")
    return bar, update


def main(argv: list[str] | None = None) -> int:
    options = arguments(argv)
    course = options.course.expanduser().resolve()
    if options.command == "export":
        rows = export(course, options.to if options.to.is_absolute() else course / options.to)
        print(f"wrote {len(rows)} rows to {options.to}")
        return 0
    if options.no_sandbox:
        print("WARNING: --no-sandbox: student code runs with your permissions, sees your course "
              "directory, gradebook and home, and has network access.", file=sys.stderr)
    limits = Limits(memory=options.memory, wall=options.timeout, cpu_seconds=options.cpu)
    from reslib.grading.coordinator import course_directory, submissions

    try:
        total = len(submissions(course_directory(course), options.assignment, options.student))
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    bar, update = progress_bar(total, not options.no_progress)
    try:
        results = autograde(course, options.assignment, options.workers, options.scheduler,
                            limits, not options.no_sandbox, options.student,
                            options.cell_timeout, on_result=update)
    except (ValueError, RuntimeError) as error:
        bar.close()
        print(f"error: {error}", file=sys.stderr)
        return 2
    bar.close()
    print(summary(course, options.assignment, results))
    to = options.csv if options.csv.is_absolute() else course / options.csv
    export(course, to)
    print(f"CSV export (with needs_review): {to}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
