"""The vocabulary of the exercises' checks: fail with a message that says what to look at.

Checks raise ``CheckFailed`` (an ``AssertionError``, so nbgrader and pytest both count it as a
failed test) whose message names what was expected, what came back, and a hint; a passing check
prints one line starting with a tick, so a learner on Colab (no nbgrader) sees the same verdicts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


class CheckFailed(AssertionError):
    """A check of a learner's code failed; the message says what to look at."""


def expect(condition: bool, message: str) -> None:
    """Raise ``CheckFailed(message)`` unless ``condition`` holds."""
    if not condition:
        raise CheckFailed(message)


def passed(what: str) -> None:
    """Tell the learner that a check passed."""
    print(f"\u2714 {what}")


def _with_hint(message: str, hint: str) -> str:
    return f"{message}: {hint}" if hint else message


def expect_shape(what: str, actual: Any, expected: Sequence[int | None], hint: str = "") -> None:
    """``actual`` (a tensor, an array or a shape) has shape ``expected``; ``None`` matches any."""
    shape = tuple(actual) if isinstance(actual, (tuple, list)) else tuple(np.shape(actual))
    matches = len(shape) == len(expected) and all(
        want is None or want == got for want, got in zip(expected, shape)
    )
    expect(matches, _with_hint(f"expected {what} of shape {tuple(expected)}, got {shape}", hint))


def expect_close(
    what: str, actual: Any, expected: Any, atol: float = 1e-5, rtol: float = 1e-5, hint: str = ""
) -> None:
    """``actual`` equals ``expected`` within ``atol + rtol * |expected|`` everywhere."""
    actual, expected = np.asarray(actual, dtype="float64"), np.asarray(expected, dtype="float64")
    expect_shape(what, actual, expected.shape, hint)
    error = np.abs(actual - expected)
    worst = float(np.max(error - rtol * np.abs(expected))) if error.size else 0.0
    expect(
        worst <= atol,
        _with_hint(f"{what} differs from the expected value by up to {float(np.max(error)):.3g}"
                   f" (tolerance {atol:g} + {rtol:g}*|expected|)", hint),
    )


def expect_equal(what: str, actual: Any, expected: Any, hint: str = "") -> None:
    """``actual == expected`` (ints, strings, tuples)."""
    expect(actual == expected, _with_hint(f"expected {what} = {expected!r}, got {actual!r}", hint))


def learner_model(make: Callable[..., Any], shape: tuple[int, ...], call: str, hint: str,
                  **kwargs: Any) -> Any:
    """``make(x, **kwargs)`` on a ``keras.Input(shape)``, wrapped into a ``keras.Model``.

    A realistic wrong answer (a block without its projection, a wrong stride) makes Keras raise
    deep inside, e.g. "Inputs have incompatible shapes"; the learner gets a ``CheckFailed`` that
    names the call, Keras' first line and the ``hint`` instead of a traceback.
    """
    import keras

    inputs = keras.Input(shape)
    try:
        return keras.Model(inputs, make(inputs, **kwargs))
    except CheckFailed:
        raise
    except Exception as error:  # the learner's code: any failure is a finding, with a hint
        first_line = (str(error).strip().splitlines() or [""])[0][:300]
        raise CheckFailed(
            f"{call} on an input of shape {(None, *shape)} raised {type(error).__name__}: "
            f"{first_line}. Hint: {hint}"
        ) from error

