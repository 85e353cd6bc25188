"""Loading ``.keras`` files that hold reslib's layers, with an error that says what is missing.

A ``.keras`` file names each custom class by its registered name (``"reslib>BasicBlock"``), and
Keras only finds classes whose modules have been imported. ``keras.saving.load_model`` called
before ``import reslib`` therefore fails, and its message ("<class Functional> could not be
deserialized properly ...") hides the useful sentence ("Could not locate class 'BasicBlock'")
deep inside the model's whole configuration. ``load_model`` imports every reslib module that
registers a class (layers, models, the training schedule and optimizer) first, and when a class
is still missing (one's own layer, say) raises an error whose first sentence names it.
"""

from __future__ import annotations

import os
import re
from typing import Any

import keras

_MISSING_CLASS = re.compile(r"Could not locate (?:class|function) '(?P<name>[^']+)'")
_MODULE = re.compile(r"'module': '(?P<module>[^']+)', 'class_name': '(?P<name>[^']+)'")


def load_model(
    filepath: str | os.PathLike,
    custom_objects: dict[str, Any] | None = None,
    compile: bool = True,
    safe_mode: bool = True,
) -> keras.Model:
    """``keras.saving.load_model`` with reslib's classes registered first.

    Args:
        filepath: a ``.keras`` file written by ``model.save``.
        custom_objects, compile, safe_mode: as for ``keras.saving.load_model``.

    Returns:
        The model, compiled if it was saved compiled and ``compile`` is true.

    Raises:
        TypeError: the file uses a class that is not registered; the message starts with the
            class and the module that defines it, and says how to register it.
    """
    import reslib.layers  # noqa: F401  (registers the layers)
    import reslib.training  # noqa: F401  (registers L2SGD and WarmupSchedule)

    try:
        return keras.saving.load_model(
            filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode
        )
    except TypeError as error:
        message = str(error)
        missing = _MISSING_CLASS.search(message)
        if missing is None:
            raise
        name = missing["name"]
        modules = {m["module"] for m in _MODULE.finditer(message) if m["name"] == name}
        where = f" (module {', '.join(sorted(modules))})" if modules else ""
        registered = re.search(rf"'registered_name': '([^']*>{re.escape(name)})'", message)
        key = registered.group(1) if registered else name
        raise TypeError(
            f"{os.fspath(filepath)!r} uses the class {name!r}{where}, which is not registered "
            "with Keras. reslib's own classes are; for another class, import the module that "
            "defines it (its class needs @keras.saving.register_keras_serializable()) or pass "
            f"custom_objects={{{key!r}: {name}}}. Keras' message follows.\n\n{message}"
        ) from error
