"""Grading a class safely (issue 14): the instructor's tool on top of the real nbgrader.

``python -m reslib.grading autograde ASSIGNMENT --course DIR`` grades every submission of
ASSIGNMENT in its own throwaway nbgrader course directory, with the kernel inside a bubblewrap
sandbox (no view of the course, the gradebook, classmates or the home directory; no network;
limits on memory, CPU time, file size, processes and wall clock), in parallel (a process pool,
or Dask distributed with ``--scheduler``), and merges each result into the instructor's
gradebook from one process. Submissions whose kernel died or timed out, corrupt notebooks,
edited metadata and answer cells that touch the grading machinery are listed as *needs review*
in the summary and the CSV export. Installed with the ``reslib[grading]`` extra; see
INSTRUCTORS.md.

Modules: ``sandbox`` (the sandboxed kernel), ``execute`` (nbgrader's Execute, keeping the cells
that ran), ``flags`` (what needs review, read from the notebook), ``worker`` (one submission),
``coordinator`` (the one writer), ``report`` (summary and CSV).
"""

from reslib.grading.coordinator import autograde
from reslib.grading.report import export, summary
from reslib.grading.sandbox import Limits

__all__ = ["Limits", "autograde", "export", "summary"]
