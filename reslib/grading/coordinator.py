"""The coordinator: one writer of the instructor's course (issue 14, items 2 and 3).

``autograde(course, assignment, ...)`` reads the instructor's course directory, builds the
assignment's template (its source and a gradebook that knows only it, made by
``nbgrader generate_assignment`` in a temporary folder), hands every submission to workers
(``reslib.grading.worker.grade_submission``: a process pool, or Dask distributed) and, as each
result arrives, merges it, alone, through nbgrader's ``Gradebook`` API: the student's grades,
comments and late penalty, the autograded notebook, the feedback, and the review record.
Re-grading one student touches that student's rows and folders only.
"""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path

from reslib.grading.sandbox import Limits, check_available
from reslib.grading.worker import QUIET, grade_submission, helper_sources

REVIEW_FILE = "grading/review.json"
"""The tool's record, in the course directory: per assignment and student, what needs review
(``problems``), the flags, seconds and peak memory."""


def course_directory(course: Path):
    """nbgrader's ``CourseDirectory`` configured by ``course/nbgrader_config.py``."""
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    if not (course / "nbgrader_config.py").is_file():
        raise ValueError(f"--course must be an nbgrader course directory with an "
                         f"nbgrader_config.py; got {str(course)!r}, which has none.")
    config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    coursedir = CourseDirectory(config=config)
    coursedir.root = str(course)
    return coursedir


def submissions(coursedir, assignment: str, students: list[str] | None = None) -> list[str]:
    """The students with a ``submitted/<student>/<assignment>`` folder (or those asked for)."""
    root = Path(coursedir.root) / coursedir.submitted_directory
    found = sorted(path.parent.name for path in root.glob(f"*/{assignment}") if path.is_dir())
    if students:
        missing = sorted(set(students) - set(found))
        if missing:
            raise ValueError(f"--student: no submission of {assignment!r} by {missing}; "
                             f"submitted: {found}.")
        return [student for student in found if student in students]
    return found


def template(coursedir, assignment: str) -> tuple[bytes, str]:
    """A zip of the throwaway course every worker starts from: the instructor's config, the
    assignment's source, and a gradebook made by ``generate_assignment`` with the assignment's
    due date copied from the instructor's gradebook."""
    from nbgrader.api import Gradebook, MissingEntry

    course = Path(coursedir.root)
    source = Path(coursedir.format_path(coursedir.source_directory, ".", assignment))
    with Gradebook(coursedir.db_url, coursedir.course_id) as gradebook:
        try:
            duedate = gradebook.find_assignment(assignment).duedate
        except MissingEntry:
            raise ValueError(f"assignment {assignment!r} is not in the gradebook of {course}: "
                             f"run `nbgrader generate_assignment {assignment}` there first.")
    with tempfile.TemporaryDirectory(prefix="reslib-grading-template-") as folder:
        tmp = Path(folder)
        shutil.copy(course / "nbgrader_config.py", tmp / "nbgrader_config.py")
        relative = source.relative_to(course)
        shutil.copytree(source, tmp / relative)
        env = {**os.environ, **QUIET,
               "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])}
        done = subprocess.run(
            [sys.executable, "-m", "nbgrader", "generate_assignment", assignment, "--force",
             f"--CourseDirectory.root={tmp}", f"--CourseDirectory.db_url=sqlite:///{tmp}/gb.db"],
            cwd=tmp, env=env, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"nbgrader generate_assignment {assignment} failed in the "
                               f"template:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
        if duedate is not None:
            with Gradebook(f"sqlite:///{tmp}/gb.db") as gradebook:
                gradebook.update_or_create_assignment(assignment, duedate=duedate)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
            bundle.write(tmp / "nbgrader_config.py", "nbgrader_config.py")
            bundle.write(tmp / "gb.db", "gradebook.db")
            for path in sorted((tmp / relative).rglob("*")):
                if path.is_file():
                    bundle.write(path, str(path.relative_to(tmp)))
        return buffer.getvalue(), str(relative)


def tasks(coursedir, assignment: str, students: list[str], limits: Limits, sandbox: bool,
          cell_timeout: int | None) -> Iterator[dict]:
    """One task per student: the template, the submission's files, the limits."""
    bundle, source = template(coursedir, assignment)
    helpers = helper_sources()
    for student in students:
        folder = Path(coursedir.format_path(coursedir.submitted_directory, student, assignment))
        files = {str(path.relative_to(folder)): path.read_bytes()
                 for path in sorted(folder.rglob("*")) if path.is_file()}
        yield {"assignment": assignment, "student": student, "template": bundle,
               "source": source, "files": files, "limits": asdict(limits), "sandbox": sandbox,
               "cell_timeout": cell_timeout, "helpers": helpers}


def _replace_folder(folder: Path, files: dict[str, bytes], read_only: bool) -> None:
    if folder.exists():
        for item in [folder, *folder.rglob("*")]:
            item.chmod(item.stat().st_mode | stat.S_IWUSR)
        shutil.rmtree(folder)
    for name, data in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        if read_only:  # as nbgrader leaves autograded files (444)
            path.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)


def merge(coursedir, result: dict) -> None:
    """Write one worker's result into the instructor's course: gradebook (through nbgrader's
    API), ``autograded/``, ``feedback/`` and the review record. Only the coordinator calls it."""
    from nbgrader.api import Gradebook

    student, assignment = result["student"], result["assignment"]
    timestamp = result["autograded"].get("timestamp.txt", b"").decode().strip() or None
    review = bool(result["problems"] or result["flags"])
    with Gradebook(coursedir.db_url, coursedir.course_id) as gradebook, \
            warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*not in session")  # nbgrader's own API
        gradebook.update_or_create_student(student)
        extra = {"timestamp": timestamp} if timestamp else {}
        submission = gradebook.update_or_create_submission(assignment, student, **extra)
        for notebook in submission.notebooks:
            graded = result["grades"].get(notebook.name)
            notebook.flagged = review
            notebook.late_submission_penalty = graded["late_submission_penalty"] if graded else None
            for grade in notebook.grades:
                cell = (graded or {}).get("grades", {}).get(grade.name)
                grade.auto_score = cell["auto_score"] if cell else None
                grade.needs_manual_grade = (cell["needs_manual_grade"] if cell else True) or (
                    grade.manual_score is not None)
            for comment in notebook.comments:
                comment.auto_comment = (graded or {}).get("comments", {}).get(comment.name)
        gradebook.db.commit()
    root = Path(coursedir.root)
    _replace_folder(Path(coursedir.format_path(coursedir.autograded_directory, student,
                                               assignment)), result["autograded"], True)
    _replace_folder(Path(coursedir.format_path(coursedir.feedback_directory, student,
                                               assignment)), result["feedback"], False)
    record_review(root, result)


def record_review(root: Path, result: dict) -> None:
    """Update ``REVIEW_FILE`` with this result (written whole, then renamed into place)."""
    path = root / REVIEW_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    reviews = json.loads(path.read_text()) if path.exists() else {}
    reviews.setdefault(result["assignment"], {})[result["student"]] = {
        key: result[key] for key in ("problems", "flags", "seconds", "peak_mib")}
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(reviews, indent=1, sort_keys=True))
    partial.replace(path)


def load_reviews(root: Path) -> dict:
    path = root / REVIEW_FILE
    return json.loads(path.read_text()) if path.exists() else {}


def run_pool(items: list[dict], workers: int) -> Iterator[dict]:
    """Results in completion order from a process pool of ``workers`` (forked: the workers
    reuse this process's imports instead of loading them again)."""
    from concurrent.futures import ProcessPoolExecutor, as_completed

    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = [pool.submit(grade_submission, item) for item in items]
        for future in as_completed(futures):
            yield future.result()


def run_dask(items: list[dict], scheduler: str, workers: int) -> Iterator[dict]:
    """Results from Dask distributed: ``scheduler`` ``"local"`` starts a ``LocalCluster`` of
    ``workers`` single-threaded processes; otherwise it is a scheduler address (tcp://...)."""
    import cloudpickle
    from dask.distributed import Client, LocalCluster, as_completed

    from reslib.grading import flags, sandbox, worker

    for module in (worker, flags, sandbox):  # shipped by value: workers need not import
        cloudpickle.register_pickle_by_value(module)  # reslib (which loads Keras)
    cluster = None
    if scheduler == "local":
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
    try:
        with Client(cluster or scheduler) as client:
            futures = [client.submit(grade_submission, item, pure=False) for item in items]
            for future in as_completed(futures):
                yield future.result()
    finally:
        if cluster is not None:
            cluster.close()


def autograde(course: Path, assignment: str, workers: int | None = None,
              scheduler: str | None = None, limits: Limits = Limits(), sandbox: bool = True,
              students: list[str] | None = None, cell_timeout: int | None = None,
              on_result: Callable[[dict], None] | None = None) -> list[dict]:
    """Grade every submission of ``assignment`` in ``course`` and merge the results; returns
    them (without file contents) in the order they finished."""
    if sandbox:
        check_available()
    coursedir = course_directory(Path(course).resolve())
    workers = workers or os.cpu_count() or 1
    if workers < 1:
        raise ValueError(f"--workers must be at least 1; got {workers}.")
    chosen = submissions(coursedir, assignment, students)
    items = list(tasks(coursedir, assignment, chosen, limits, sandbox, cell_timeout))
    results = []
    stream = run_dask(items, scheduler, workers) if scheduler else run_pool(items, workers)
    for result in stream:
        merge(coursedir, result)
        summary = {key: value for key, value in result.items()
                   if key not in ("autograded", "feedback")}
        results.append(summary)
        if on_result is not None:
            on_result(summary)
    return results
