"""One submission, graded by real nbgrader in a throwaway course directory (issue 14, item 1).

``grade_submission(task)`` is the unit of work that the process pool or a Dask worker runs. Its
``task`` carries everything as bytes (the assignment's template course and the student's files),
so a worker on another machine needs only this environment, nbgrader and bubblewrap. It:

1. unpacks the template (the instructor's ``nbgrader_config.py``, the assignment's source, a
   gradebook that knows only this assignment) and the one submission into a temporary folder;
2. checks the notebooks (corrupt? edited metadata?) and scans the student's cells for flags;
3. runs ``nbgrader autograde ASSIGNMENT --student S`` there, with the sandboxed kernel and
   ``GuardedExecute``, under a hard wall clock, then ``nbgrader generate_feedback``;
4. ends every process it started (its session, and as root every process of its sandbox uid);
5. returns the grades read through nbgrader's ``Gradebook``, the autograded and feedback files,
   what needs review and why, the flags, the time and the peak memory of its processes.

It never touches the instructor's course directory: the coordinator merges the result.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from reslib.grading.flags import flags, read, repair
from reslib.grading.sandbox import (
    KERNEL_NAME,
    Limits,
    sandbox_uid,
    write_kernel_spec,
    write_settings,
)

HERE = Path(__file__).resolve().parent
QUIET = {"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore", "MPLBACKEND": "Agg"}
STARTUP_MARGIN = 120
"""Seconds nbgrader gets beyond the notebook's wall clock (its own start-up, saving, feedback)
before the worker stops it."""


def helper_sources() -> dict[str, str]:
    """The files a worker writes into its throwaway folder: the kernel launcher and the guarded
    Execute preprocessor (shipped as text, so remote Dask workers need no matching paths)."""
    return {name: (HERE / name).read_text() for name in ("sandbox.py", "execute.py")}


def overrides(course: Path, tmp: Path, limits: Limits, cell_timeout: int | None) -> str:
    """Appended to the instructor's ``nbgrader_config.py`` in the throwaway course."""
    lines = [
        "import importlib.util as _util",
        "_spec = _util.spec_from_file_location('reslib_grading_execute',",
        f"                                      {str(tmp / 'execute.py')!r})",
        "_module = _util.module_from_spec(_spec); _spec.loader.exec_module(_module)",
        "from nbgrader.preprocessors import (IgnorePattern, LimitOutput, SaveAutoGrades,",
        "    AssignLatePenalties, CheckCellMetadata)",
        "from nbconvert.preprocessors import ClearMetadataPreprocessor",
        "c.Autograde.autograde_preprocessors = [_module.GuardedExecute, IgnorePattern,",
        "    ClearMetadataPreprocessor, LimitOutput, SaveAutoGrades, AssignLatePenalties,",
        "    CheckCellMetadata]",
        f"c.CourseDirectory.root = {str(course)!r}",
        f"c.CourseDirectory.db_url = {'sqlite:///' + str(course / 'gradebook.db')!r}",
        f"c.Execute.kernel_name = {KERNEL_NAME!r}",
        f"c.GuardedExecute.notebook_timeout = {limits.wall}",
        f"c.GuardedExecute.events_file = {str(tmp / 'events.jsonl')!r}",
        "c.KernelManager.transport = 'ipc'",
        f"c.KernelManager.ip = {str(tmp / 'runtime' / 'kernel')!r}",
        f"c.KernelManager.connection_file = {str(tmp / 'runtime' / 'kernel.json')!r}",
    ]
    if cell_timeout:
        lines.append(f"c.Execute.timeout = {cell_timeout}")
    return "\n\n# reslib.grading: this throwaway course's settings\n" + "\n".join(lines) + "\n"


def _nbgrader_env(tmp: Path) -> dict[str, str]:
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return {**os.environ, **QUIET, "PATH": path, "JUPYTER_PATH": str(tmp / "jupyter"),
            "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
            "JUPYTER_CONFIG_DIR": str(tmp / "jupyter-config"),
            "JUPYTER_DATA_DIR": str(tmp / "jupyter-data")}


def _tree_rss(process) -> int:
    try:
        return sum(p.memory_info().rss for p in [process, *process.children(recursive=True)])
    except Exception:  # processes come and go while we measure
        return 0


def run_nbgrader(course: Path, tmp: Path, args: list[str], seconds: float) -> dict:
    """``nbgrader ARGS`` in its own session under a hard wall clock; then ends its session and
    (as root) every process of this worker's sandbox uid. Exit code, output tail, peak RSS."""
    import psutil

    process = subprocess.Popen([sys.executable, "-m", "nbgrader", *args], cwd=course,
                               env=_nbgrader_env(tmp), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, start_new_session=True)
    watched, peak, deadline = psutil.Process(process.pid), 0, time.monotonic() + seconds
    output = io.BytesIO()
    os.set_blocking(process.stdout.fileno(), False)
    while process.poll() is None and time.monotonic() < deadline:
        peak = max(peak, _tree_rss(watched))
        output.write(process.stdout.read() or b"")
        time.sleep(0.25)
    killed = process.poll() is None
    end_processes(process.pid)
    process.wait()
    output.write(process.stdout.read() or b"")
    tail = output.getvalue().decode("utf-8", "replace").strip().splitlines()[-40:]
    return {"returncode": process.returncode, "killed": killed, "tail": tail, "peak": peak}


def end_processes(session: int) -> None:
    """SIGKILL the session ``session`` and, as root, every process of the sandbox uid."""
    import psutil

    uid = sandbox_uid()
    for process in psutil.process_iter(["pid", "uids"]):
        try:
            mine = os.getsid(process.pid) == session
            sandboxed = uid is not None and process.info["uids"].real == uid
            if (mine or sandboxed) and process.pid != os.getpid():
                process.kill()
        except (psutil.Error, OSError):
            continue


def _collect(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def _grades(course: Path, assignment: str, student: str) -> dict:
    """The submission's grades, comments and penalties, read through nbgrader's Gradebook."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        try:
            submission = gradebook.find_submission(assignment, student)
        except MissingEntry:
            return {}
        return {notebook.name: {
            "grades": {grade.name: {"auto_score": grade.auto_score,
                                    "needs_manual_grade": grade.needs_manual_grade}
                       for grade in notebook.grades},
            "comments": {comment.name: comment.auto_comment for comment in notebook.comments},
            "late_submission_penalty": notebook.late_submission_penalty,
        } for notebook in submission.notebooks}


EVENTS = {"kernel_died": "kernel died", "timed_out": "timed out", "cell_timeout": "timed out",
          "tampered": "tampering"}


def _events(tmp: Path) -> list[str]:
    """What ``GuardedExecute`` recorded, as review reasons."""
    path = tmp / "events.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [f"{EVENTS[event['kind']]}: {event['message']}" for event in map(json.loads, lines)
            if event["kind"] in EVENTS]


def prepare(task: dict, tmp: Path) -> tuple[Path, list[str], list[str], bool]:
    """Unpack the template and the submission; ``(course, problems, flags, gradable)``."""
    course = tmp / "course"
    with zipfile.ZipFile(io.BytesIO(task["template"])) as template:
        template.extractall(course)
    source = course / task["source"]
    submitted = course / "submitted" / task["student"] / task["assignment"]
    submitted.mkdir(parents=True)
    problems, found, gradable = [], [], False
    for name, data in task["files"].items():
        target = submitted / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    for reference in sorted(source.glob("*.ipynb")):
        if reference.name not in task["files"]:
            problems.append(f"missing notebook: {reference.name}")
            continue
        notebook, why = read(task["files"][reference.name])
        if notebook is None:
            problems.append(f"{reference.name}: {why}")
            (submitted / reference.name).unlink()
            continue
        source_notebook, _ = read(reference.read_bytes())
        found += [f"{reference.name}: {flag}" for flag in flags(notebook, source_notebook)]
        notebook, edits = repair(notebook, source_notebook)
        problems += [f"{reference.name}: {edit}" for edit in edits]
        (submitted / reference.name).write_text(__import__("nbformat").writes(notebook))
        gradable = True
    for name, text in task["helpers"].items():
        (tmp / name).write_text(text)
    with open(course / "nbgrader_config.py", "a") as config:
        config.write(overrides(course, tmp, Limits(**task["limits"]), task.get("cell_timeout")))
    return course, problems, found, gradable


def grade_submission(task: dict) -> dict:
    """Grade one submission (see the module docstring); a JSON-able result, files as bytes."""
    start = time.perf_counter()
    student, assignment = task["student"], task["assignment"]
    limits = Limits(**task["limits"])
    result = {"student": student, "assignment": assignment, "problems": [], "flags": [],
              "grades": {}, "autograded": {}, "feedback": {}, "peak_mib": 0.0, "log": []}
    with tempfile.TemporaryDirectory(prefix="reslib-grading-") as folder:
        tmp = Path(folder)
        course, result["problems"], result["flags"], gradable = prepare(task, tmp)
        for name in ("scratch", "runtime", "jupyter"):
            (tmp / name).mkdir()
        settings = write_settings(tmp / "settings.json", tmp / "scratch", tmp / "runtime",
                                  limits, task["sandbox"])
        write_kernel_spec(tmp / "jupyter", tmp / "sandbox.py", settings)
        if gradable:
            run = run_nbgrader(course, tmp, ["autograde", assignment, "--student", student,
                                             "--create", "--force"],
                               limits.wall + STARTUP_MARGIN)
            result["peak_mib"] = run["peak"] / 2**20
            result["problems"] += _events(tmp)
            if run["killed"]:
                result["problems"].append(f"timed out: grading ran past {limits.wall} s "
                                          f"+ {STARTUP_MARGIN} s and was stopped")
            graded = course / "autograded" / student / assignment
            if graded.is_dir():
                result["grades"] = _grades(course, assignment, student)
                result["autograded"] = _collect(graded)
                run_nbgrader(course, tmp, ["generate_feedback", assignment, "--student",
                                           student, "--force"], STARTUP_MARGIN)
                result["feedback"] = _collect(course / "feedback" / student / assignment)
            elif not run["killed"]:
                result["problems"].append("grading failed: nbgrader autograde produced no "
                                          "graded notebook (see the log)")
            result["log"] = run["tail"]
    result["seconds"] = time.perf_counter() - start
    result["needs_review"] = bool(result["problems"])
    return result
