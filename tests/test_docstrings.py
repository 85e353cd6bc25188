"""reslib's docstring examples run as doctests, on the backend KERAS_BACKEND selects.

They must print the same on every backend: shapes as plain tuples (``tuple(x.shape)``; a
TensorFlow tensor's ``.shape`` prints ``TensorShape([...])``, a torch one's ``torch.Size``),
arrays through ``keras.ops.convert_to_numpy``. The examples that build networks (the model
builders', the export's) run on TensorFlow only: what they print, a symbolic output shape or a
parameter count, is the same on every backend by construction, while JAX spends seconds
compiling each network's initializers. The layers' examples compute on real tensors and run on
every backend.
"""

import doctest
import importlib
from pathlib import Path

import keras
import pytest

import reslib

PACKAGE = Path(reslib.__file__).parent
BUILDS_NETWORKS = {
    "reslib.export", "reslib.models.densenet", "reslib.models.highway", "reslib.models.resnet",
    "reslib.models.transformer", "reslib.models.unet",
}


def modules_with_examples() -> list[str]:
    """Every reslib module whose source holds a ``>>>`` example (found without importing)."""
    return sorted(
        ".".join(("reslib", *path.relative_to(PACKAGE).with_suffix("").parts))
        for path in PACKAGE.rglob("*.py")
        if ">>>" in path.read_text()
    )


def test_examples_are_found():
    found = modules_with_examples()
    assert {"reslib.layers.blocks", "reslib.models.registry", "reslib.papers"} <= set(found)


@pytest.mark.parametrize("module_name", modules_with_examples())
def test_docstring_examples_print_what_they_show(module_name):
    if module_name in BUILDS_NETWORKS and keras.backend.backend() != "tensorflow":
        pytest.skip("builds whole networks: run on TensorFlow")
    module = importlib.import_module(module_name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = [test for test in finder.find(module, module_name) if test.examples]
    assert tests, f"{module_name} has '>>>' in its source but no example doctest can find"
    for test in tests:
        runner.run(test, clear_globs=True)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {module_name} " \
                               "failed (their output is printed above)"
