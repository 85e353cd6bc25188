"""Run one measurement in a fresh Python subprocess and read back its result and peak memory.

Each measurement gets its own process so that backends (``KERAS_BACKEND`` is read once, at
import), dtype policies and memory high-water marks never leak from one figure into the next.
The child runs ``python -m benchmarks.worker MODULE:FUNCTION``, which calls the function with
keyword arguments and writes its dict as JSON to a file; the parent waits with ``os.wait4`` to
get that one child's resource usage: ``ru_maxrss``, the peak resident set size of the process
(Python, the framework's libraries and every buffer the measurement touched, in host RAM).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
QUIET_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}


@dataclass
class Outcome:
    """What a worker returned: its result dict, or the error and the tail of its log."""

    result: dict[str, Any] = field(default_factory=dict)
    peak_rss_mib: float | None = None
    seconds: float = 0.0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def run_worker(
    function: str,
    arguments: dict[str, Any],
    backend: str = "tensorflow",
    timeout: float = 1800,
    env: dict[str, str] | None = None,
) -> Outcome:
    """Call ``function`` (``"benchmarks.models:measure"``) with ``arguments`` in a subprocess.

    Args:
        function: ``"module:name"`` of a function returning a JSON-ready dict.
        arguments: its keyword arguments (JSON-ready).
        backend: the ``KERAS_BACKEND`` of the child.
        timeout: seconds before the child is killed and the outcome is an error.
        env: more environment variables for the child.

    Returns:
        An ``Outcome`` with the result, the child's peak RSS in MiB and its wall time.
    """
    with tempfile.TemporaryDirectory(prefix="reslib-bench-") as scratch:
        result_path, log_path = Path(scratch) / "result.json", Path(scratch) / "log.txt"
        command = [sys.executable, "-m", "benchmarks.worker", function, str(result_path)]
        child_env = dict(os.environ, **QUIET_ENV, KERAS_BACKEND=backend, **(env or {}))
        start = time.perf_counter()
        with open(log_path, "w") as log:
            process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT,
                cwd=ROOT, env=child_env, text=True,
            )
            process.stdin.write(json.dumps(arguments))
            process.stdin.close()
            status, usage = _wait(process, timeout)
        seconds = time.perf_counter() - start
        peak = usage.ru_maxrss / 1024 if usage is not None else None  # KiB on Linux
        if status is None:
            error = f"timed out after {timeout:.0f} s"
            return Outcome(peak_rss_mib=peak, seconds=seconds, error=error)
        if status != 0 or not result_path.exists():
            return Outcome(peak_rss_mib=peak, seconds=seconds, error=_failure(status, log_path))
        return Outcome(json.loads(result_path.read_text()), peak, seconds)


def _wait(process: subprocess.Popen, timeout: float) -> tuple[int | None, Any]:
    """Reap ``process`` with ``os.wait4`` (its own rusage); kill it after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            return process.returncode, usage
        if time.monotonic() > deadline:
            process.kill()
            _, _, usage = os.wait4(process.pid, 0)
            process.returncode = -9
            return None, usage
        time.sleep(0.1)


def _failure(status: int, log_path: Path, lines: int = 8) -> str:
    """The exit status and the last lines of the child's output, for the table's note."""
    tail = log_path.read_text(errors="replace").strip().splitlines()[-lines:]
    return f"exit status {status}: " + " | ".join(line.strip() for line in tail)
