"""Argument checks shared by reslib's layers and model builders.

Every check raises a ``ValueError`` that names the argument, the value received and what is
allowed, so a learner or practitioner can fix the call without reading the source. NumPy
scalars (``np.int64(8)``, ``np.float32(0.1)``, ``np.bool_(True)``) are accepted wherever a
Python number or boolean is, and every check returns a plain Python value, so that
``get_config`` stays JSON-serialisable.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import keras
import numpy as np

DATA_FORMATS = ("channels_last", "channels_first")


def _is_bool(value: Any) -> bool:
    return isinstance(value, (bool, np.bool_))


def _is_integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not _is_bool(value)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not _is_bool(value)


def integer(name: str, value: Any, minimum: int | None = None) -> int:
    """Return ``value`` as a Python ``int`` if it is an integer >= ``minimum``, else raise."""
    at_least = "" if minimum is None else f" >= {minimum}"
    if not _is_integer(value) or (minimum is not None and value < minimum):
        raise ValueError(f"`{name}` must be an integer{at_least}, got {value!r}.")
    return int(value)


def positive_int(name: str, value: Any) -> int:
    """Return ``value`` as an ``int`` if it is an integer >= 1, else raise."""
    if not _is_integer(value) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer, got {value!r}.")
    return int(value)


def optional_positive_int(name: str, value: Any) -> int | None:
    """``None``, or ``value`` as an ``int`` if it is an integer >= 1."""
    return None if value is None else positive_int(name, value)


def non_negative_int(name: str, value: Any) -> int:
    """Return ``value`` as an ``int`` if it is an integer >= 0, else raise."""
    return integer(name, value, minimum=0)


def boolean(name: str, value: Any) -> bool:
    """Return ``value`` as a ``bool`` if it is ``True`` or ``False`` (or a NumPy bool).

    Strict: ``"no"``, ``2``, ``1.0`` and ``None`` are not booleans, though Python's ``bool()``
    would turn them into one.
    """
    if not _is_bool(value):
        raise ValueError(f"`{name}` must be True or False, got {value!r}.")
    return bool(value)


def number(
    name: str,
    value: Any,
    low: float = -math.inf,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a ``float`` if it is a finite real number in the given interval.

    ``low``/``high`` bound the interval, closed unless ``low_open``/``high_open``.
    """
    if math.isfinite(low) and math.isfinite(high):
        what = f"a number in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    elif low == 0 and low_open and high == math.inf:
        what = "a positive number"
    elif math.isfinite(low) or math.isfinite(high):
        what = f"a finite number {'>' if low_open else '>='} {low:g}" if math.isfinite(low) else (
            f"a finite number {'<' if high_open else '<='} {high:g}"
        )
    else:
        what = "a finite real number"
    allowed = f"`{name}` must be {what}, got {value!r}."
    if not _is_real(value):
        raise ValueError(allowed)
    value = float(value)
    above = value > low if low_open else value >= low
    below = value < high if high_open else value <= high
    if not (math.isfinite(value) and above and below):
        raise ValueError(allowed)
    return value


def finite_number(name: str, value: Any) -> float:
    """Return ``value`` as a ``float`` if it is a finite real number, else raise."""
    return number(name, value)


def positive_number(name: str, value: Any) -> float:
    """Return ``value`` as a ``float`` if it is a finite real number > 0, else raise."""
    return number(name, value, low=0.0, low_open=True)


def fraction(name: str, value: Any, low_open: bool = True, high_open: bool = False) -> float:
    """Return ``value`` as a ``float`` if it lies in (0, 1] (default) or [0, 1), else raise."""
    return number(name, value, 0.0, 1.0, low_open=low_open, high_open=high_open)


def rate(name: str, value: Any) -> float:
    """Return a dropout or drop-path rate ``value`` if it lies in [0, 1), else raise."""
    return fraction(name, value, low_open=False, high_open=True)


def momentum(name: str, value: Any) -> float:
    """A batch-norm momentum in [0, 1): at 1 the moving statistics would never move."""
    return fraction(name, value, low_open=False, high_open=True)


def one_of(name: str, value: Any, allowed: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``allowed``, else raise a ``ValueError`` listing them.

    A NumPy scalar counts as its Python value; ``True`` does not count as ``1``.
    """
    allowed = tuple(allowed)
    if isinstance(value, np.generic):
        value = value.item()
    matches = [
        choice for choice in allowed
        if choice is value
        or (not _is_bool(value) and not _is_bool(choice) and _equal(choice, value))
    ]
    if not matches:
        choices = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"`{name}` must be one of {choices}; got {value!r}.")
    return matches[0]


def _equal(choice: Any, value: Any) -> bool:
    try:
        return bool(choice == value)
    except (TypeError, ValueError):  # e.g. an array compared to a string
        return False


def _identifier(name: str, value: Any, module: Any, kind: str, allow_none: bool) -> Any:
    if value is None and not allow_none:
        raise ValueError(f"`{name}` must be {kind}, got None.")
    try:
        return module.get(value)
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"`{name}` must be {kind}: a name Keras knows, a config dict or an instance; "
            f"got {value!r} ({error})."
        ) from None


def activation(name: str, value: Any) -> Any:
    """``keras.activations.get(value)``; ``None`` is the linear activation, as in Keras."""
    return _identifier(name, value, keras.activations, "an activation", allow_none=True)


def initializer(name: str, value: Any) -> Any:
    """``keras.initializers.get(value)``, with an error that names the argument."""
    return _identifier(name, value, keras.initializers, "an initializer", allow_none=False)


def regularizer(name: str, value: Any) -> Any:
    """``keras.regularizers.get(value)``; ``None`` is no regularizer."""
    return _identifier(name, value, keras.regularizers, "a regularizer or None", allow_none=True)


def seed(name: str, value: Any) -> int | None:
    """``None`` or a non-negative integer seed."""
    return None if value is None else integer(name, value, minimum=0)


def model_name(name: str, value: Any) -> str | None:
    """``None`` (a default name) or a layer/model name: a non-empty string without ``/``."""
    if value is not None and (not isinstance(value, str) or not value or "/" in value):
        raise ValueError(
            f"`{name}` must be None or a non-empty string without '/', got {value!r}."
        )
    return value


def data_format(name: str, value: Any) -> str:
    """``"channels_last"`` or ``"channels_first"``; ``None`` is Keras' image data format."""
    if value is None:
        return keras.config.image_data_format()
    return one_of(name, value, DATA_FORMATS)


def layer(name: str, value: Any) -> Any:
    """``value`` if it is a Keras layer (or model) instance."""
    if not isinstance(value, keras.layers.Layer):
        raise ValueError(
            f"`{name}` must be a Keras layer or model, got {type(value).__name__}: "
            f"{value!r}."
        )
    return value


def shape(
    name: str,
    value: Any,
    rank: int | None = None,
    known: Iterable[int] = (),
    all_known: bool = False,
) -> tuple:
    """An example's shape (no batch axis) as a tuple of positive ``int``s or ``None``s.

    ``rank``: the required length; ``known``: the positions that must not be ``None`` (e.g. the
    channels of an image); ``all_known``: no position may be ``None``.
    """
    described = f"a tuple of {rank} sizes" if rank else "a tuple of sizes"
    if not isinstance(value, (tuple, list)) or (rank is not None and len(value) != rank):
        raise ValueError(
            f"`{name}` must be {described} (positive integers or None), got {value!r}."
        )
    if rank is None and not value:
        raise ValueError(f"`{name}` must be a non-empty tuple of sizes, got {value!r}.")
    known = set(range(len(value))) if all_known else {index % len(value) for index in known}
    for index, size in enumerate(value):
        if (size is None and index not in known) or (_is_integer(size) and size >= 1):
            continue
        must = "a positive integer" if index in known else "a positive integer or None"
        raise ValueError(
            f"`{name}` must be {described}; entry {index} must be {must}, got {value!r}."
        )
    return tuple(None if size is None else int(size) for size in value)


def image_shape(name: str, value: Any, data_format: str) -> tuple:
    """One image's ``(height, width, channels)`` (channels-last) or ``(channels, height,
    width)`` (channels-first): positive integers or ``None``, the channels known."""
    channels = -1 if data_format == "channels_last" else 0
    order = "(height, width, channels)" if channels == -1 else "(channels, height, width)"
    try:
        return shape(name, value, rank=3, known=(channels,))
    except ValueError:
        raise ValueError(
            f"`{name}` must be {order} (data_format={data_format!r}): positive integers or "
            f"None, the channels known; got {value!r}."
        ) from None


def channel_axis(data_format: str) -> int:
    """The channel axis of a batch of images in ``data_format``: -1 or 1."""
    return -1 if data_format == "channels_last" else 1


def input_rank(
    layer_name: str, shape: tuple, allowed: Iterable[int], data_format: str = "channels_last"
) -> int:
    """Check that an input ``shape`` (batch first) has one of the ``allowed`` ranks (2, 3, 4) and
    known channels; the error names the layer, the shape received and the shape expected."""
    allowed = tuple(allowed)
    first = data_format == "channels_first"
    shapes = {
        2: "(batch, features)",
        3: "(batch, channels, length)" if first else "(batch, length, channels)",
        4: "(batch, channels, height, width)" if first else "(batch, height, width, channels)",
    }
    expected = " or ".join(shapes[rank] for rank in allowed)
    noun = "images" if allowed == (4,) else "inputs"
    if len(shape) not in allowed:
        raise ValueError(
            f"{layer_name} expects {noun} of shape {expected} ({data_format}); got shape "
            f"{tuple(shape)} of rank {len(shape)}."
        )
    axis = 1 if first and len(shape) > 2 else -1
    if shape[axis] is None:
        raise ValueError(
            f"{layer_name} needs a known number of channels (axis {axis}, {data_format}); "
            f"got shape {tuple(shape)}."
        )
    return len(shape)


def channels_last_rank(layer_name: str, shape: tuple, allowed: Iterable[int]) -> int:
    """``input_rank`` for channels-last inputs."""
    return input_rank(layer_name, shape, allowed)


def float_inputs(layer_name: str, inputs: Any) -> None:
    """A layer that computes in floating point gets floating-point inputs."""
    dtype = keras.backend.standardize_dtype(inputs.dtype)
    if not keras.backend.is_float_dtype(dtype):
        raise ValueError(
            f"{layer_name} expects floating-point inputs; got dtype {dtype} for inputs of shape "
            f"{tuple(inputs.shape)}. Cast them first, e.g. keras.ops.cast(x, 'float32')."
        )
