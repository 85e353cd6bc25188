"""Self-checks for the course's exercises, shipped with the library so that learners on Colab
(who have no nbgrader) see the same pass/fail messages as the autograder.

One module per exercise (``reslib.checks.ex01`` for ``exercises/01_*.ipynb``, ...); each check
calls the learner's function or layer on concrete inputs and raises ``CheckFailed`` with a hint.
"""

from reslib.checks._core import (
    CheckFailed,
    expect,
    expect_close,
    expect_equal,
    expect_shape,
    passed,
)

__all__ = ["CheckFailed", "expect", "expect_close", "expect_equal", "expect_shape", "passed"]
