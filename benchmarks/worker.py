"""Subprocess entry point: ``python -m benchmarks.worker MODULE:FUNCTION RESULT_PATH``.

Reads the keyword arguments as JSON from stdin, calls the function and writes its returned dict
as JSON to ``RESULT_PATH``. ``benchmarks.isolate.run_worker`` is the caller.
"""

from __future__ import annotations

import importlib
import json
import sys


def main(argv: list[str]) -> None:
    function_name, result_path = argv
    module_name, _, name = function_name.partition(":")
    function = getattr(importlib.import_module(module_name), name)
    arguments = json.loads(sys.stdin.read() or "{}")
    result = function(**arguments)
    with open(result_path, "w") as file:
        json.dump(result, file)


if __name__ == "__main__":
    main(sys.argv[1:])
