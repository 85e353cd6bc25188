"""Initializers that sublayers can share safely."""

from __future__ import annotations

from typing import Any

import keras


def fresh_initializer(initializer: keras.initializers.Initializer) -> dict[str, Any]:
    """A config from which each sublayer makes its own copy of ``initializer``.

    One unseeded Keras initializer instance draws the same numbers at every call, so handing the
    same instance to several convolutions would start them with equal (or, across shapes,
    proportional) kernels. A config gives each one a fresh instance with its own seed.
    """
    return keras.initializers.serialize(initializer)
