"""Keep TensorFlow's C++ start-up log lines out of learners' notebooks.

Importing TensorFlow loads C++ libraries that log through absl *before* TensorFlow reads
``TF_CPP_MIN_LOG_LEVEL``: "All log messages before absl::InitializeLog() ...", oneDNN and CUDA
notices, and on a machine without a GPU a "failed call to cuInit" error. They are written to file
descriptor 2, so Python cannot filter them and Jupyter shows them as red stderr in the first cell
of every lesson. ``native_stderr_filtered`` captures descriptor 2 around the import (and around
the first device query in ``reslib.course.setup``), drops those lines, and writes everything else
back to ``sys.stderr``.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Iterator

ABSL_HEADER = ("WARNING: All log messages before absl::InitializeLog() is called are written "
               "to STDERR")
ABSL_LINE = re.compile(r"^([IWEF])\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\] ")
SEVERITY = {"I": 0, "W": 1, "E": 2, "F": 3}
CONTINUATIONS = ("To enable the following instructions",)  # cpu_feature_guard's second line
NO_GPU = ("failed call to cuInit", "Could not find cuda drivers")
"""Errors that only say there is no GPU; ``reslib.course.setup`` prints the device instead."""


def without_start_up_noise(text: str, min_level: int | None = None) -> list[str]:
    """The lines of captured stderr ``text`` to keep: all but TensorFlow's start-up log.

    Dropped: the absl header, absl records below ``min_level`` (default ``TF_CPP_MIN_LOG_LEVEL``,
    at least 1, so INFO always goes) with their known continuation lines, and "no GPU" errors.
    Kept: everything else, e.g. Python warnings, tracebacks and other absl warnings.
    """
    if min_level is None:
        level = os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0")
        min_level = max(1, int(level) if level.isdigit() else 0)
    kept, dropping = [], False
    for line in text.splitlines():
        record = ABSL_LINE.match(line)
        if record:
            dropping = (SEVERITY[record.group(1)] < min_level
                        or any(marker in line for marker in NO_GPU))
        elif not line.startswith(CONTINUATIONS):  # a continuation shares its record's fate
            dropping = line == ABSL_HEADER
        if not dropping:
            kept.append(line)
    return kept


@contextlib.contextmanager
def native_stderr_filtered() -> Iterator[None]:
    """Capture file descriptor 2 for the ``with`` body; then write back what
    ``without_start_up_noise`` keeps.

    Does nothing where descriptor 2 cannot be duplicated (e.g. a closed stderr).
    """
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as capture:
        sys.stderr.flush()
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            kept = without_start_up_noise(capture.read().decode(errors="replace"))
            if kept:
                sys.stderr.write("\n".join(kept) + "\n")
