"""Specification of the Highway layer: y = T(x)·H(x) + (1 − T(x))·x (Srivastava et al. 2015)."""

import keras
import numpy as np
import pytest
from keras import ops

from reslib.layers.highway import Highway
from tests.layer_checks import check_layer, random_inputs, trainable_parameter_count


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + np.exp(-z))


@pytest.mark.parametrize(
    "options, input_shape",
    [
        ({}, (2, 16)),
        ({"activation": "tanh", "gate_bias": -1.0}, (2, 16)),
        ({}, (2, 6, 6, 8)),
        ({"kernel_size": 1}, (2, 6, 6, 8)),
    ],
)
def test_highway_passes_the_layer_checks(options, input_shape, tmp_path):
    def make(**kwargs):
        return Highway(**options, **kwargs)

    check_layer(make, input_shape, input_shape, tmp_path=tmp_path)


def test_dense_highway_holds_a_transform_and_a_gate_of_the_input_width():
    layer = Highway()
    layer(random_inputs((2, 16)))
    assert trainable_parameter_count(layer) == 2 * (16 * 16 + 16)


def test_conv_highway_holds_two_kernel_size_convolutions_with_biases():
    layer = Highway(kernel_size=3)
    layer(random_inputs((2, 6, 6, 8)))
    assert trainable_parameter_count(layer) == 2 * (3 * 3 * 8 * 8 + 8)


@pytest.mark.parametrize("input_shape", [(4, 16), (2, 6, 6, 8)])
def test_very_negative_gate_bias_makes_highway_the_identity(input_shape):
    x = random_inputs(input_shape)
    layer = Highway(gate_bias=-30.0)  # T(x) ~ sigmoid(-30) ~ 1e-13: carry everything
    np.testing.assert_allclose(ops.convert_to_numpy(layer(x)), x, rtol=0, atol=1e-6)


def test_very_positive_gate_bias_makes_highway_the_plain_transform():
    x = random_inputs((4, 16))
    layer = Highway(gate_bias=30.0)
    outputs = ops.convert_to_numpy(layer(x))
    transformed = ops.convert_to_numpy(ops.relu(layer.transform(x)))
    np.testing.assert_allclose(outputs, transformed, rtol=0, atol=1e-6)


def test_highway_mixes_transform_and_carry_by_the_gate_as_in_eq_3():
    x = random_inputs((4, 8))
    layer = Highway(activation="tanh")
    outputs = ops.convert_to_numpy(layer(x))
    w_h, b_h = (ops.convert_to_numpy(w) for w in (layer.transform.kernel, layer.transform.bias))
    w_t, b_t = (
        ops.convert_to_numpy(w) for w in (layer.transform_gate.kernel, layer.transform_gate.bias)
    )
    h, t = np.tanh(x @ w_h + b_h), sigmoid(x @ w_t + b_t)
    np.testing.assert_allclose(outputs, t * h + (1 - t) * x, rtol=1e-5, atol=1e-5)


def test_gate_and_transform_start_with_different_kernels():
    # one shared unseeded initializer instance would give W_T = W_H
    layer = Highway()
    layer(random_inputs((2, 16)))
    w_h = ops.convert_to_numpy(layer.transform.kernel)
    w_t = ops.convert_to_numpy(layer.transform_gate.kernel)
    assert abs(np.corrcoef(w_h.ravel(), w_t.ravel())[0, 1]) < 0.3


@pytest.mark.parametrize("input_shape", [(64, 32), (8, 6, 6, 8)])
def test_gate_values_lie_strictly_between_0_and_1(input_shape):
    layer = Highway()
    gate = ops.convert_to_numpy(layer.gate(random_inputs(input_shape)))
    assert gate.shape == input_shape
    assert gate.min() > 0.0 and gate.max() < 1.0


@pytest.mark.parametrize("gate_bias", [-2.0, -1.0, -3.0])
def test_gate_of_a_zero_input_is_exactly_sigmoid_of_the_gate_bias(gate_bias):
    gate = ops.convert_to_numpy(Highway(gate_bias=gate_bias).gate(np.zeros((2, 8), "float32")))
    np.testing.assert_allclose(gate, sigmoid(gate_bias), rtol=1e-6)


def test_mean_gate_at_init_is_about_sigmoid_minus_2_for_small_zero_mean_input():
    """Measured: 0.120 for inputs of std 0.1 (64 features, batch 256). For unit-variance
    inputs the he_normal gate kernel spreads the pre-activations (std about 1.4) and, sigmoid
    being convex below 0, the mean gate rises to about 0.18 (Jensen)."""
    x = 0.1 * random_inputs((256, 64))
    mean_gate = float(np.mean(ops.convert_to_numpy(Highway().gate(x))))
    assert mean_gate == pytest.approx(sigmoid(-2.0), abs=0.01)
    assert sigmoid(-2.0) == pytest.approx(0.1192, abs=1e-4)


def test_gate_is_reachable_on_a_layer_inside_a_model_without_surgery():
    model = keras.Sequential([keras.Input((8,)), Highway(name="hw1"), Highway(name="hw2")])
    x = random_inputs((4, 8))
    hidden = model.get_layer("hw1")(x)
    gate = ops.convert_to_numpy(model.get_layer("hw2").gate(hidden))
    assert gate.shape == (4, 8)


def test_highway_keeps_the_input_shape_including_unknown_sizes():
    layer = Highway()
    assert layer.compute_output_shape((None, None, None, 8)) == (None, None, None, 8)
    assert layer(random_inputs((1, 5, 7, 8))).shape == (1, 5, 7, 8)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Highway(gate_bias="low"), "`gate_bias` must be a finite real number, got 'low'"),
        (lambda: Highway(gate_bias=float("nan")), "`gate_bias` must be a finite real number"),
        (lambda: Highway(kernel_size=0), "`kernel_size` must be a positive integer, got 0"),
    ],
)
def test_bad_arguments_say_what_is_allowed(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_highway_refuses_sequences_and_names_the_allowed_ranks():
    expected = r"Highway expects inputs of shape \(batch, features\) or \(batch, height, width"
    with pytest.raises(ValueError, match=expected):
        Highway()(random_inputs((2, 5, 8)))
