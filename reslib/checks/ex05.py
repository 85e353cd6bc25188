"""Self-checks of exercise 05, highway networks: the gated mix, the layer, its gate statistics.

Srivastava, Greff and Schmidhuber, "Training Very Deep Networks", NeurIPS 2015 (Srivastava et al.
2015): ``y = T(x) * H(x) + (1 - T(x)) * x`` with ``H(x) = relu(W_H x + b_H)`` and the transform
gate ``T(x) = sigmoid(W_T x + b_T)``; a negative initial gate bias ``b_T`` makes a fresh layer
carry most of its input. The checks call the learner's code on concrete inputs and compare with
the formula or with ``reslib.layers.Highway``, never with stored tensors.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np

from reslib.checks._core import expect, expect_close, expect_equal, expect_shape, passed
from reslib.layers import Highway


def features(batch: int = 4, width: int = 16, seed: int = 0) -> np.ndarray:
    """Random features ``(batch, width)``, float32, with negative entries."""
    return np.random.default_rng(seed).normal(size=(batch, width)).astype("float32")


def _numpy(value: Any) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(value), dtype="float64")


def check_highway_mix(highway_mix: Callable[[Any, Any, Any], Any]) -> None:
    """``highway_mix(x, transformed, gate) = gate * transformed + (1 - gate) * x``."""
    x, transformed = features(seed=1), features(seed=2)
    gate = np.random.default_rng(3).uniform(size=x.shape).astype("float32")
    got = _numpy(highway_mix(x, transformed, gate))
    swapped = gate * x + (1 - gate) * transformed
    expect(not np.allclose(got, swapped, atol=1e-5),
           "T(x) and 1 - T(x) are swapped: the gate T multiplies the transform H(x), the carry "
           "1 - T multiplies the input x")
    expect_close("highway_mix with gates in (0, 1)", got, gate * transformed + (1 - gate) * x,
                 hint="y = T * H + (1 - T) * x, elementwise")
    for value, meaning, expected in ((0.0, "carries x", x), (1.0, "transforms", transformed)):
        gate = np.full_like(x, value)
        expect_close(
            f"highway_mix with the gate at {value:g}", _numpy(highway_mix(x, transformed, gate)),
            expected, hint=f"a gate of {value:g} {meaning}: the output must equal "
            f"{'x' if value == 0 else 'the transformed H(x)'}",
        )
    passed("highway_mix: T*H(x) + (1-T)*x, all of x at T=0, all of H(x) at T=1")


def check_highway_layer(highway: Callable[..., Any], width: int = 16) -> None:
    """The learner's ``Highway(gate_bias=...)`` layer: shape, parameters, gate range and bias,
    identity with a very negative gate bias, the transform alone with a very positive one."""
    x = features(width=width)
    layer = highway(gate_bias=-2.0)
    outputs = _numpy(layer(x))
    expect_shape("the highway layer's output", outputs, x.shape,
                 "a highway layer keeps the width of its input: H and T have `units` = its width")
    expect_equal(
        "the highway layer's parameter count", layer.count_params(), 2 * (width * width + width),
        "two Dense layers of the input's width, H and the gate T, each with kernel and bias",
    )
    gate = _numpy(layer.gate(x))
    expect_shape("layer.gate(x)", gate, x.shape, "one gate value per unit and example")
    expect(bool(np.all((gate > 0) & (gate < 1))),
           f"gates must lie strictly in (0, 1), got values in [{gate.min():.3g}, {gate.max():.3g}]"
           ": T(x) = sigmoid(W_T x + b_T)")
    expect(float(gate.std()) > 1e-3, "the gate is the same for every input: T(x) must depend on x "
           "through the gate's own Dense layer")
    expect_close(
        "the gate of a zero input", _numpy(layer.gate(np.zeros_like(x))),
        np.full(x.shape, 1 / (1 + math.exp(2.0))), atol=1e-5,
        hint="with x = 0 the gate is sigmoid(b_T): initialise the gate's bias with "
        "keras.initializers.Constant(gate_bias)",
    )
    carry = highway(gate_bias=-30.0)
    expect_close("the output of a layer with gate_bias=-30", _numpy(carry(x)), x, atol=1e-5,
                 hint="with T ~ 0 the layer must return its input: the carry 1 - T multiplies x")
    transform = _numpy(highway(gate_bias=30.0)(x))
    expect(bool(np.all(transform >= -1e-6)) and float(np.abs(transform - x).max()) > 1e-3,
           "with gate_bias=+30 (T ~ 1) the output should be H(x) = relu(W_H x + b_H), never "
           "negative and not x: does T multiply H(x), and does H use activation='relu'?")
    passed(f"Highway: width {width} kept, {layer.count_params()} parameters, gates in (0, 1) "
           "starting at sigmoid(gate_bias), the identity at gate_bias=-30")


def stack_gates(layers: Sequence[Highway], x: np.ndarray, propagate: bool = True) -> list:
    """Each layer's gate ``T`` on what it receives (``propagate``) or on ``x`` itself."""
    gates, hidden = [], x
    for layer in layers:
        gates.append(_numpy(layer.gate(hidden if propagate else x)))
        if propagate:
            hidden = layer(hidden)
    return gates


def check_gate_statistics(gate_statistics: Callable[[Sequence[Any], Any], dict]) -> None:
    """``gate_statistics(layers, x)`` returns each layer's mean, min and max gate, each layer
    measured on the input it receives in the stack."""
    keras.utils.set_random_seed(5)
    x = features(batch=32, width=8, seed=4)
    layers = [Highway(gate_bias=bias) for bias in (-1.0, -2.0, -3.0, 1.0)]
    gates = stack_gates(layers, x)
    stats = gate_statistics(layers, x)
    expect(isinstance(stats, dict) and set(stats) >= {"mean", "min", "max"},
           f"return a dict with the keys 'mean', 'min' and 'max', got {type(stats).__name__}"
           f"{sorted(stats) if isinstance(stats, dict) else ''}")
    for key, reduce in (("mean", np.mean), ("min", np.min), ("max", np.max)):
        got = np.asarray(stats[key], dtype="float64")
        expect_shape(f"stats[{key!r}]", got, (len(layers),), "one value per layer")
        first_only = np.array([reduce(g) for g in stack_gates(layers, x, propagate=False)])
        expect(not (np.allclose(got, first_only, atol=1e-5) and key == "mean"),
               "every gate was measured on x: layer 2's gate must see layer 1's output, "
               "so pass x through the layers one after the other")
        expect_close(f"stats[{key!r}]", got, np.array([reduce(g) for g in gates]), atol=1e-5,
                     hint=f"the {key} over the batch and the units of each layer's gate T")
    passed("gate statistics: mean, min and max of each layer's gate, on the input it receives")


def check_gate_bias_for(gate_bias_for: Callable[[float], float]) -> None:
    """``gate_bias_for(carry)`` is the bias ``b`` with ``1 - sigmoid(b) = carry`` at x = 0."""
    for carry in (0.5, 0.88, 0.95, 0.2):
        bias = float(gate_bias_for(carry))
        got = 1 - 1 / (1 + math.exp(-bias))
        expect_close(
            f"the carry 1 - sigmoid(b) for b = gate_bias_for({carry})", got, carry, atol=1e-6,
            hint="solve 1 - sigmoid(b) = carry: b = log((1 - carry) / carry); a carry above 0.5 "
            "needs a negative bias",
        )
    passed("gate_bias_for: log((1 - carry) / carry), -2 for a carry of 0.88")
