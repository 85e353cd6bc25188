"""Every public constructor rejects every bad argument with a clear error (issue 16, section 3).

A fuzzer: for every class in ``reslib.layers.__all__`` and every builder in
``reslib.models.__all__``, each argument gets the bad values of its kind (``BAD_VALUES``); each
call must raise a ``ValueError`` or ``TypeError`` whose message names the argument. A call that
succeeds is a *silent acceptance*; any other exception, or a message that does not name the
argument, is a *cryptic* error. A new argument without a kind fails the test until it gets one.
NumPy scalars (``np.int64(8)``, ``np.float32(0.1)``, ``np.bool_(True)``) must be accepted
wherever a Python number or boolean is, and converted, so ``get_config`` stays JSON.

Builders validate before they build anything, so the fuzz itself builds no model.
``python -m tests.test_fuzz_arguments`` prints the counts and lists every failure.
"""

from __future__ import annotations

import inspect
import json
import math
from collections import Counter
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import pytest

import reslib.layers
import reslib.models
from reslib import _validation as check

NAN, INF = math.nan, math.inf
_BAD_CHOICES = ["", "bogus", 3.5, True]
BAD_VALUES: dict[str, list[Any]] = {
    "positive_int": [0, -1, 2.5, "8", True, None, NAN],
    "positive_int_or_none": [0, -1, 2.5, "8", True, NAN],
    "bool": ["no", 2, None, 1.0, "True"],
    "rate": [-0.1, 1.0, 1.5, NAN, INF, "0.1", True, None],
    "fraction": [0, -0.5, 1.5, NAN, INF, "0.5", True, None],
    "momentum": [-0.5, 1.5, NAN, INF, "0.9", True, None],
    "epsilon": [0, -1.0, NAN, INF, "1e-5", True, None],
    "finite": [NAN, INF, -INF, "x", True, None],
    "positive": [0, -1.0, NAN, INF, "x", True, None],
    "positive_or_none": [0, -1.0, NAN, INF, "x", True],
    "choice": [*_BAD_CHOICES, None],
    "choice_or_none": _BAD_CHOICES,
    "choice_or_layer": [*_BAD_CHOICES, None],
    "activation": ["bogus", 3, ""],  # None is the linear activation, as in Keras
    "initializer": ["bogus", 3, "", None],
    "regularizer": ["bogus", 3, ""],
    "data_format": ["NHWC", "channels", "", 3],
    "image_shape": [(8,), (8, 8), (0, 8, 3), (-1, 8, 3), (8, 8, None), (8.5, 8, 3), "8", 8, None],
    "shape": [(), (0,), (-1, 4), (4.5,), (None,), "4", 4, None],
    "int_tuple": [(), (0,), (1, -1), (1.5,), (True,), "1", 1, None],
    "layer": ["dense", 3, None, keras.layers.Dense],
    "seed": ["x", 2.5, True, -1],
    "axis": [2.5, "x", True, None],
    "name": [3, "a/b", ""],
    "input_tensor": [3, "x", np.zeros((2, 8, 8, 3))],
    "weights": ["imagenet", "cifar10", 3, ""],
}
_INTS = (
    "filters strides expansion groups width_per_group growth_rate bottleneck_width num_layers "
    "num_heads key_dim ff_dim sequence_length kernel_size width classes base_filters vocab_size "
    "d_model depth"
)
_BOOLS = "preact residual zero_init_residual rezero normalize bottleneck causal highway include_top"
KINDS: dict[str, str] = {
    **dict.fromkeys(_INTS.split(), "positive_int"),
    **dict.fromkeys(_BOOLS.split() + ["mask_zero"], "bool"),
    **dict.fromkeys(["drop_path", "dropout", "rate"], "rate"),
    **dict.fromkeys(["stride_on", "mode", "norm", "stem", "version", "shortcut"], "choice"),
    **dict.fromkeys(["pooling", "skips", "block"], "choice_or_none"),
    **dict.fromkeys(["kernel_initializer", "bias_initializer", "initializer"], "initializer"),
    **dict.fromkeys(["max_sequence_length", "num_classes"], "positive_int_or_none"),
    "compression": "fraction",
    "momentum": "momentum",
    "epsilon": "epsilon",
    "gate_bias": "finite",
    "init_value": "positive",
    "layer_scale": "positive_or_none",
    "activation": "activation",
    "classifier_activation": "activation",
    "kernel_regularizer": "regularizer",
    "data_format": "data_format",
    "input_shape": "image_shape",
    "input_tensor": "input_tensor",
    "blocks": "int_tuple",
    "branch": "layer",
    "seed": "seed",
    "axis": "axis",
    "name": "name",
}
# where one constructor's argument is of another kind than the name's usual one
KIND_OVERRIDES: dict[tuple[str, str], str] = {
    ("Shortcut", "filters"): "positive_int_or_none",
    ("Residual", "shortcut"): "choice_or_layer",
    ("cifar_resnet", "shortcut"): "choice_or_none",
    ("highway_net", "input_shape"): "shape",
    ("transformer_classifier", "sequence_length"): "positive_int_or_none",
    ("get", "name"): "choice",
    ("get", "weights"): "weights",
}
# bad values that only one constructor's argument has
EXTRA_BAD_VALUES: dict[tuple[str, str], list[Any]] = {
    ("unet", "input_shape"): [(9, 8, 1), (8, 10, 1)],  # not divisible by 2**depth = 4
    ("cifar_resnet", "depth"): [21, 9],  # not 6n + 2
    ("cifar_densenet", "depth"): [11, 7],  # not 6n + 4
    ("resnet", "depth"): [19],
    ("cifar_resnet", "version"): [3, 0],
    ("resnet", "version"): [3, 0],
}


class Fresh:
    """A base argument made anew for every call (a layer cannot be shared between calls)."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make


# the smallest valid call of each constructor; the fuzz changes one argument at a time
BASE_ARGUMENTS: dict[str, dict[str, Any]] = {
    "BasicBlock": {"filters": 4},
    "BottleneckBlock": {"filters": 4, "width_per_group": 16},
    "DenseBlock": {"num_layers": 1, "growth_rate": 4},
    "DenseLayer": {"growth_rate": 4},
    "DropPath": {"rate": 0.1},
    "PositionEmbedding": {"sequence_length": 8},
    "Residual": {"branch": Fresh(lambda: keras.layers.Dense(4))},
    "TransformerBlock": {"num_heads": 2, "key_dim": 4, "ff_dim": 8},
    "cifar_densenet": {"depth": 10, "growth_rate": 4},
    "cifar_resnet": {"depth": 8, "width": 2},
    "densenet": {"blocks": (1, 1), "growth_rate": 4, "input_shape": (32, 32, 3)},
    "highway_net": {"depth": 1, "width": 4, "input_shape": (4,)},
    "resnet": {"depth": 18, "input_shape": (32, 32, 3)},
    "transformer_classifier": {
        "vocab_size": 10, "sequence_length": 8, "classes": 2, "num_layers": 1, "d_model": 8,
        "num_heads": 2, "ff_dim": 8,
    },
    "unet": {"depth": 2, "base_filters": 2, "input_shape": (8, 8, 1)},
    "get": {"name": "resnet20_cifar"},
}


def constructors() -> dict[str, Callable[..., Any]]:
    """Every public layer class and model builder, by name."""
    found = {}
    for module in (reslib.layers, reslib.models):
        for name in module.__all__:
            value = getattr(module, name)
            is_layer = inspect.isclass(value) and issubclass(value, keras.layers.Layer)
            is_builder = inspect.isfunction(value) and inspect.signature(
                value
            ).return_annotation in ("keras.Model", keras.Model)
            if is_layer or is_builder:
                found[name] = value
    return found


def signatures(constructor: Callable[..., Any]) -> list[inspect.Signature]:
    """A builder's signature, or a layer's ``__init__`` signatures along its reslib ancestry."""
    if not inspect.isclass(constructor):
        return [inspect.signature(constructor)]
    return [
        inspect.signature(owner.__init__)
        for owner in constructor.__mro__
        if owner.__module__.startswith("reslib") and "__init__" in vars(owner)
    ]


def arguments(constructor: Callable[..., Any]) -> list[str]:
    """The named arguments of a constructor (``**kwargs`` are Keras' own)."""
    names: dict[str, None] = {}
    for signature in signatures(constructor):
        for parameter in signature.parameters.values():
            if parameter.kind is parameter.POSITIONAL_OR_KEYWORD and parameter.name != "self":
                names[parameter.name] = None
    return list(names)


def bad_values(constructor_name: str, argument: str) -> list[Any]:
    kind = KIND_OVERRIDES.get((constructor_name, argument), KINDS.get(argument))
    if kind is None:
        raise KeyError(f"{constructor_name}({argument}=...) has no kind in KINDS: add one")
    return BAD_VALUES[kind] + EXTRA_BAD_VALUES.get((constructor_name, argument), [])


def call(constructor_name: str, **overrides: Any) -> Any:
    base = {
        key: value.make() if isinstance(value, Fresh) else value
        for key, value in BASE_ARGUMENTS.get(constructor_name, {}).items()
    }
    return constructors()[constructor_name](**{**base, **overrides})


def outcome(constructor_name: str, argument: str, value: Any) -> tuple[str, str]:
    """``("clear" | "cryptic" | "silent", message)`` of one call with one bad argument."""
    try:
        call(constructor_name, **{argument: value})
    except (ValueError, TypeError) as error:
        message = str(error)
        return ("clear" if argument in message else "cryptic"), message
    except Exception as error:  # noqa: BLE001 - any other exception is a cryptic one
        return "cryptic", f"{type(error).__name__}: {error}"
    return "silent", ""


def fuzz(constructor_name: str) -> list[tuple[str, Any, str, str]]:
    """``(argument, value, outcome, message)`` for every bad value of every argument."""
    results = []
    for argument in arguments(constructors()[constructor_name]):
        for value in bad_values(constructor_name, argument):
            results.append((argument, value, *outcome(constructor_name, argument, value)))
    return results


def test_the_fuzzer_covers_every_public_layer_and_builder():
    layers = {name for name in reslib.layers.__all__ if name.upper() != name}  # not constants
    builders = {
        name for name in reslib.models.__all__ if inspect.isfunction(getattr(reslib.models, name))
    }
    assert layers <= set(constructors())
    assert {"cifar_resnet", "resnet", "densenet", "highway_net", "unet"} <= set(constructors())
    assert set(constructors()) <= layers | builders
    for name in constructors():
        bad_values_of = [bad_values(name, argument) for argument in arguments(constructors()[name])]
        assert all(bad_values_of), name  # every argument has a kind, hence bad values


@pytest.mark.parametrize("constructor_name", sorted(constructors()))
def test_every_bad_argument_raises_an_error_that_names_it(constructor_name):
    failures = [
        f"{constructor_name}({argument}={value!r}): {kind} {message[:160]}"
        for argument, value, kind, message in fuzz(constructor_name)
        if kind != "clear"
    ]
    assert not failures, "\n".join(failures)


def as_numpy(value: Any) -> Any:
    """``value`` with every Python bool, int and float (also inside tuples) as a NumPy scalar."""
    if isinstance(value, bool):
        return np.bool_(value)
    if isinstance(value, int):
        return np.int64(value)
    if isinstance(value, float):
        return np.float32(value)
    if isinstance(value, tuple):
        return tuple(as_numpy(item) for item in value)
    return value


def numpy_arguments(constructor_name: str) -> dict[str, Any]:
    """The base call with every numeric or boolean argument (given or default) in NumPy types."""
    defaults = {}
    for signature in signatures(constructors()[constructor_name]):
        for parameter in signature.parameters.values():
            if parameter.default is not parameter.empty:
                defaults.setdefault(parameter.name, parameter.default)
    base = {
        key: value.make() if isinstance(value, Fresh) else value
        for key, value in BASE_ARGUMENTS.get(constructor_name, {}).items()
    }
    return {key: as_numpy(value) for key, value in {**defaults, **base}.items()}


LAYERS = sorted(name for name, c in constructors().items() if inspect.isclass(c))
SMALL_BUILDS = {  # builders cheap enough to build here, with NumPy arguments
    "cifar_resnet", "highway_net", "transformer_classifier", "unet", "cifar_densenet",
}


@pytest.mark.parametrize("constructor_name", LAYERS)
def test_numpy_scalars_are_accepted_and_stored_as_python_values(constructor_name):
    layer = call(constructor_name, **numpy_arguments(constructor_name))
    config = layer.get_config()
    numpy_values = {k: v for k, v in config.items() if isinstance(v, np.generic)}
    assert not numpy_values, f"get_config keeps NumPy scalars: {numpy_values}"
    json.dumps(config)  # what a .keras file needs
    assert type(layer).from_config(config).get_config() == config


@pytest.mark.parametrize("constructor_name", sorted(SMALL_BUILDS))
def test_builders_accept_numpy_scalars(constructor_name):
    arguments_ = numpy_arguments(constructor_name)
    assert any(isinstance(value, np.integer) for value in arguments_.values())
    model = call(constructor_name, **arguments_)
    assert isinstance(model, keras.Model)


@pytest.mark.parametrize(
    "check_, value, expected",
    [
        (check.positive_int, np.int64(8), 8),
        (check.rate, np.float32(0.25), 0.25),
        (check.boolean, np.bool_(True), True),
        (lambda name, value: check.one_of(name, value, (1, 2)), np.int32(2), 2),
        (lambda name, value: check.image_shape(name, value, "channels_last"),
         (np.int64(32), None, np.int64(3)), (32, None, 3)),
    ],
)
def test_checks_return_plain_python_values(check_, value, expected):
    result = check_("argument", value)
    assert result == expected and not isinstance(result, np.generic)
    json.dumps(result)


@pytest.mark.parametrize(
    "make, inputs, expected",
    [
        (lambda: reslib.layers.BasicBlock(4), np.ones((2, 8, 4), "float32"),
         r"BasicBlock expects images of shape \(batch, height, width, channels\).*\(2, 8, 4\)"),
        (lambda: reslib.layers.BasicBlock(4, data_format="channels_first"),
         np.ones((2, 8, 4), "float32"),
         r"BasicBlock expects images of shape \(batch, channels, height, width\)"),
        (lambda: reslib.layers.DenseBlock(1, 4), np.ones((2, 8, 8, 3), "int32"),
         r"DenseBlock expects floating-point inputs; got dtype int32 .*\(2, 8, 8, 3\)"),
        (lambda: reslib.layers.Highway(), np.ones((2, 5, 8), "float32"),
         r"Highway expects inputs of shape \(batch, features\) or .*got shape \(2, 5, 8\)"),
        (lambda: reslib.layers.TransformerBlock(2, 4, 8), np.ones((2, 8), "float32"),
         r"TransformerBlock expects inputs of shape \(batch, sequence, d_model\).*\(2, 8\)"),
        (lambda: reslib.models.unet(2, base_filters=2), np.ones((1, 10, 12, 1), "float32"),
         r"U-Net .* divisible by 4: inputs of shape \(batch, 4\*i, 4\*j, channels\); got shape "
         r"\(1, 10, 12, 1\)"),
    ],
    ids=["basic-rank-3", "basic-channels-first", "dense-int32", "highway-rank-3",
         "transformer-rank-2", "unet-size"],
)
def test_call_time_errors_name_the_layer_the_shape_received_and_expected(make, inputs, expected):
    with pytest.raises(ValueError, match=expected):
        make()(inputs)

def report() -> Counter:
    """Print the fuzz's counts and every call that is not a clear error."""
    counts: Counter = Counter()
    for constructor_name in sorted(constructors()):
        for argument, value, kind, message in fuzz(constructor_name):
            counts[kind] += 1
            if kind != "clear":
                print(f"{kind:8} {constructor_name}({argument}={value!r}) {message[:150]!r}")
    print(f"calls {sum(counts.values())}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return counts


if __name__ == "__main__":
    report()
