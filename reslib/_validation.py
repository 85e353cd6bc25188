"""Argument checks shared by reslib's layers and model builders.

Every check raises a ``ValueError`` that names the argument, the value received and what is
allowed, so a learner or practitioner can fix the call without reading the source.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def positive_int(name: str, value: Any) -> int:
    """Return ``value`` if it is an integer >= 1, else raise a ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer, got {value!r}.")
    return value


def non_negative_int(name: str, value: Any) -> int:
    """Return ``value`` if it is an integer >= 0, else raise a ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"`{name}` must be a non-negative integer, got {value!r}.")
    return value


def one_of(name: str, value: Any, allowed: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``allowed``, else raise a ``ValueError`` listing them."""
    allowed = tuple(allowed)
    if value not in allowed:
        choices = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"`{name}` must be one of {choices}; got {value!r}.")
    return value


def positive_number(name: str, value: Any) -> float:
    """Return ``value`` if it is a real number > 0, else raise a ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"`{name}` must be a positive number, got {value!r}.")
    return value


def fraction(name: str, value: Any, low_open: bool = True, high_open: bool = False) -> float:
    """Return ``value`` if it lies in the interval (0, 1] (default) or [0, 1), else raise."""
    low, high = ("(" if low_open else "["), (")" if high_open else "]")
    is_number = not isinstance(value, bool) and isinstance(value, (int, float))
    inside = is_number and (value > 0 if low_open else value >= 0) and (
        value < 1 if high_open else value <= 1
    )
    if not inside:
        raise ValueError(f"`{name}` must be a number in {low}0, 1{high}, got {value!r}.")
    return float(value)


def rate(name: str, value: Any) -> float:
    """Return a dropout or drop-path rate ``value`` if it lies in [0, 1), else raise."""
    return fraction(name, value, low_open=False, high_open=True)


def channels_last_rank(layer_name: str, shape: tuple, allowed: Iterable[int]) -> int:
    """Check that an input ``shape`` (batch first) has one of the ``allowed`` ranks."""
    allowed = tuple(allowed)
    if len(shape) not in allowed:
        ranks = " or ".join(str(r) for r in allowed)
        raise ValueError(
            f"{layer_name} expects a channels-last input of rank {ranks} "
            f"(batch, ..., channels); got shape {tuple(shape)} of rank {len(shape)}."
        )
    if shape[-1] is None:
        raise ValueError(
            f"{layer_name} needs a known number of channels (the last axis); "
            f"got shape {tuple(shape)}."
        )
    return len(shape)
