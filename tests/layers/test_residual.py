"""Specification of reslib.layers.Residual: y = shortcut(x) + branch(x) around any Keras layer."""

import keras
import numpy as np
import pytest
from keras import ops

from reslib.layers import Residual, Shortcut
from tests.layer_checks import check_layer, random_inputs


def conv_branch(filters: int = 16, strides: int = 1, dtype: str | None = None) -> keras.Sequential:
    return keras.Sequential(
        [
            keras.layers.Conv2D(
                filters, 3, strides=strides, padding="same", activation="relu", dtype=dtype
            ),
            keras.layers.Conv2D(filters, 3, padding="same", dtype=dtype),
        ]
    )


def test_residual_around_a_dense_layer_passes_the_layer_checks(tmp_path):
    def make(dtype=None):
        branch = keras.layers.Dense(8, activation="tanh", dtype=dtype)
        return Residual(branch, activation="relu", dtype=dtype)

    check_layer(make, (4, 8), (4, 8), expected_trainable_parameters=8 * 8 + 8, tmp_path=tmp_path)


def test_residual_around_a_sequential_branch_with_a_projection_passes_the_layer_checks(tmp_path):
    def make(dtype=None):
        return Residual(conv_branch(32, strides=2, dtype=dtype), shortcut="B", dtype=dtype)

    branch_parameters = (3 * 3 * 16 * 32 + 32) + (3 * 3 * 32 * 32 + 32)
    projection_parameters = 16 * 32 + 2 * 32
    check_layer(
        make, (2, 8, 8, 16), (2, 4, 4, 32),
        expected_trainable_parameters=branch_parameters + projection_parameters,
        tmp_path=tmp_path,
    )


def test_output_is_the_sum_of_the_input_and_the_branch():
    branch = keras.layers.Dense(8)
    x = random_inputs((3, 8))
    y = Residual(branch)(x)
    np.testing.assert_allclose(
        ops.convert_to_numpy(y), x + ops.convert_to_numpy(branch(x)), rtol=1e-6, atol=1e-6
    )


def test_a_killed_branch_leaves_exactly_the_identity():
    zero_branch = keras.layers.Dense(8, kernel_initializer="zeros", bias_initializer="zeros")
    x = random_inputs((3, 8))
    np.testing.assert_array_equal(ops.convert_to_numpy(Residual(zero_branch)(x)), x)


def test_plain_twin_returns_only_the_branch():
    branch = keras.layers.Dense(8)
    x = random_inputs((3, 8))
    plain = Residual(branch, residual=False)
    np.testing.assert_array_equal(ops.convert_to_numpy(plain(x)), ops.convert_to_numpy(branch(x)))
    assert plain.count_params() == branch.count_params()


def test_option_a_shortcut_reads_stride_and_channels_off_the_branch():
    x = random_inputs((2, 8, 8, 16))
    block = Residual(conv_branch(32, strides=2), shortcut="A")
    y = ops.convert_to_numpy(block(x))
    branch_y = ops.convert_to_numpy(block.branch(x))
    np.testing.assert_allclose(y[..., :16] - branch_y[..., :16], x[:, ::2, ::2, :], atol=1e-5)
    np.testing.assert_allclose(y[..., 16:], branch_y[..., 16:], atol=1e-6)


def test_any_layer_can_be_the_shortcut_and_is_serialized_with_the_block(tmp_path):
    block = Residual(conv_branch(32), shortcut=Shortcut("C", filters=32, normalize=False))
    model = keras.Sequential([keras.Input((4, 4, 16)), block])
    x = random_inputs((2, 4, 4, 16))
    model.save(tmp_path / "m.keras")
    restored = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(restored.layers[0].shortcut, Shortcut)
    np.testing.assert_allclose(
        ops.convert_to_numpy(restored(x)), ops.convert_to_numpy(model(x)), rtol=1e-5, atol=1e-5
    )


def test_a_model_can_be_the_branch():
    inputs = keras.Input((6,))
    hidden = keras.layers.Dense(12, activation="relu")(inputs)
    branch = keras.Model(inputs, keras.layers.Dense(6)(hidden))
    assert Residual(branch)(random_inputs((5, 6))).shape == (5, 6)


def test_shapes_that_cannot_be_added_name_both_shapes():
    with pytest.raises(ValueError) as error:
        Residual(keras.layers.Dense(4))(random_inputs((3, 8)))
    message = str(error.value)
    assert "(3, 8)" in message and "(3, 4)" in message and "shortcut='B'" in message


def test_bad_branch_or_shortcut_arguments_are_refused():
    with pytest.raises(ValueError, match="`branch` must be a Keras layer or model, got function"):
        Residual(lambda x: x)
    with pytest.raises(ValueError, match="`shortcut` must be one of 'identity', 'A', 'B', 'C'"):
        Residual(keras.layers.Dense(4), shortcut="projection")
