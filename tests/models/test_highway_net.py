"""Specification of highway_net: the highway MLP of Srivastava et al. 2015 and its plain twin."""

import keras
import numpy as np
import pytest
from keras import ops

from reslib.diagnostics import gradient_norm_ratio
from reslib.layers.highway import Highway
from reslib.models.highway import highway_net
from tests.layer_checks import random_inputs, trainable_parameter_count


def hidden_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The layers between the projection and the classifier."""
    names = [layer.name for layer in model.layers]
    return model.layers[names.index("projection") + 1 : names.index("classifier")]


@pytest.mark.parametrize("highway", [True, False])
def test_highway_net_maps_examples_to_class_probabilities(highway):
    model = highway_net(depth=3, width=16, input_shape=(8, 8), classes=10, highway=highway)
    assert model.output_shape == (None, 10)
    outputs = ops.convert_to_numpy(model(random_inputs((4, 8, 8))))
    assert outputs.shape == (4, 10)
    np.testing.assert_allclose(outputs.sum(axis=-1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("depth", [1, 10, 20])
def test_highway_net_has_depth_highway_layers_of_the_given_width(depth):
    model = highway_net(depth=depth, width=12, input_shape=(20,), classes=3)
    hidden = hidden_layers(model)
    assert len(hidden) == depth and all(isinstance(layer, Highway) for layer in hidden)
    assert all(layer.output.shape == (None, 12) for layer in hidden)
    assert model.name == f"highway{depth}_mlp"


def test_plain_twin_has_the_same_depth_and_width_and_no_gates():
    highway = highway_net(depth=10, width=12, input_shape=(20,), classes=3)
    plain = highway_net(depth=10, width=12, input_shape=(20,), classes=3, highway=False)
    hidden = hidden_layers(plain)
    assert len(hidden) == len(hidden_layers(highway)) == 10
    assert all(type(layer) is keras.layers.Dense and layer.units == 12 for layer in hidden)
    assert not any("gate" in weight.path for weight in plain.weights)
    assert sum("gate" in weight.path for weight in highway.weights) == 2 * 10  # kernel + bias
    assert plain.name == "plain10_mlp"


def test_a_highway_layer_holds_twice_the_parameters_of_a_plain_layer():
    depth, width, inputs, classes = 5, 12, 20, 3
    outer = inputs * width + width + width * classes + classes  # projection and classifier
    plain = highway_net(depth, width, (inputs,), classes, highway=False)
    highway = highway_net(depth, width, (inputs,), classes)
    assert trainable_parameter_count(plain) == outer + depth * (width * width + width)
    assert trainable_parameter_count(highway) == outer + depth * 2 * (width * width + width)


def test_gate_bias_reaches_every_highway_layer():
    model = highway_net(depth=4, width=8, input_shape=(6,), classes=2, gate_bias=-3.0)
    for layer in hidden_layers(model):
        np.testing.assert_array_equal(ops.convert_to_numpy(layer.transform_gate.bias), -3.0)


def test_hidden_layers_start_with_different_kernels():
    # a shared unseeded initializer instance would draw the same kernel for every layer
    model = highway_net(depth=3, width=8, input_shape=(6,), classes=2, highway=False,
                        kernel_initializer=keras.initializers.HeNormal())
    kernels = [ops.convert_to_numpy(layer.kernel) for layer in hidden_layers(model)]
    assert not np.allclose(kernels[0], kernels[1])


def test_very_negative_gate_bias_makes_a_deep_highway_net_carry_the_projection_through():
    model = highway_net(depth=50, width=16, input_shape=(8,), classes=4, gate_bias=-30.0)
    x = random_inputs((4, 8))
    projection = model.get_layer("projection")(x)
    last = keras.Model(model.input, hidden_layers(model)[-1].output)
    np.testing.assert_allclose(
        ops.convert_to_numpy(last(x)), ops.convert_to_numpy(projection), rtol=0, atol=1e-5
    )


def test_gradient_reaches_the_input_of_a_carrying_highway_net_unchanged():
    """With gate_bias=-30 every layer is the identity, so is the Jacobian of the 100 layers;
    the plain twin's ratio is far from it (measured: 0.01-0.4 at depth 100
    for width 16, 3 seeds)."""
    x = random_inputs((8, 16))
    model = highway_net(depth=100, width=16, input_shape=(16,), classes=4, gate_bias=-30.0)
    body = keras.Sequential([keras.Input((16,)), *hidden_layers(model)])
    assert gradient_norm_ratio(body, x) == pytest.approx(1.0, abs=1e-4)


def test_highway_net_survives_a_keras_round_trip(tmp_path):
    model = highway_net(depth=3, width=8, input_shape=(4, 4), classes=3)
    x = random_inputs((2, 4, 4))
    model.save(tmp_path / "highway.keras")
    restored = keras.saving.load_model(tmp_path / "highway.keras")
    np.testing.assert_allclose(
        ops.convert_to_numpy(restored(x)), ops.convert_to_numpy(model(x)), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: highway_net(depth=0), "`depth` must be a positive integer, got 0"),
        (lambda: highway_net(depth=2.5), "`depth` must be a positive integer, got 2.5"),
        (lambda: highway_net(width=0), "`width` must be a positive integer, got 0"),
        (lambda: highway_net(classes=0), "`classes` must be a positive integer, got 0"),
        (lambda: highway_net(gate_bias="low"), "`gate_bias` must be a finite real number"),
    ],
)
def test_bad_arguments_say_what_is_allowed(make, message):
    with pytest.raises(ValueError, match=message):
        make()
