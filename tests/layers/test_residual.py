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


def test_residual_with_layer_scale_and_drop_path_passes_the_layer_checks(tmp_path):
    def make(dtype=None):
        branch = keras.layers.Dense(8, activation="tanh", dtype=dtype)
        return Residual(branch, drop_path=0.1, layer_scale=0.1, dtype=dtype)

    check_layer(make, (4, 8), (4, 8), expected_trainable_parameters=8 * 8 + 8 + 8,
                tmp_path=tmp_path)


def test_residual_with_rezero_passes_the_layer_checks(tmp_path):
    def make(dtype=None):
        block = Residual(keras.layers.Dense(8, dtype=dtype), rezero=True, dtype=dtype)
        block.build((None, 8))
        block.branch_scale.alpha.assign(0.5)  # at alpha = 0 the branch gets no gradient at first
        return block

    check_layer(make, (4, 8), (4, 8), expected_trainable_parameters=8 * 8 + 8 + 1,
                tmp_path=tmp_path)


def test_rezero_residual_is_exactly_the_identity_at_init():
    x = random_inputs((3, 8))
    block = Residual(keras.layers.Dense(8), rezero=True)
    np.testing.assert_array_equal(ops.convert_to_numpy(block(x, training=True)), x)


def test_layer_scale_near_zero_is_numerically_the_identity():
    x = random_inputs((3, 8))
    block = Residual(keras.layers.Dense(8), layer_scale=1e-12)
    np.testing.assert_allclose(ops.convert_to_numpy(block(x)), x, rtol=1e-7, atol=1e-9)


def test_the_branch_is_scaled_before_the_addition():
    branch = keras.layers.Dense(8)
    x = random_inputs((3, 8))
    y = Residual(branch, layer_scale=0.5)(x)
    np.testing.assert_allclose(
        ops.convert_to_numpy(y), x + 0.5 * ops.convert_to_numpy(branch(x)), rtol=1e-5, atol=1e-6
    )


def test_drop_path_near_one_leaves_the_shortcut_in_training_and_the_sum_at_inference():
    branch = keras.layers.Dense(8)
    x = random_inputs((16, 8))
    block = Residual(branch, drop_path=0.999999)
    np.testing.assert_array_equal(ops.convert_to_numpy(block(x, training=True)), x)
    np.testing.assert_allclose(
        ops.convert_to_numpy(block(x, training=False)), x + ops.convert_to_numpy(branch(x)),
        rtol=1e-6, atol=1e-6,
    )


@pytest.mark.parametrize(
    "options, message",
    [
        ({"drop_path": 1.0}, r"`drop_path` must be a number in \[0, 1\), got 1.0"),
        ({"layer_scale": -1.0}, "`layer_scale` must be a positive number, got -1.0"),
        ({"layer_scale": 1e-5, "rezero": True}, "both scale the residual branch"),
        ({"rezero": True, "residual": False}, "options rezero=True need residual=True"),
        ({"drop_path": 0.2, "residual": False}, "options drop_path=0.2 need residual=True"),
    ],
)
def test_branch_options_are_validated(options, message):
    with pytest.raises(ValueError, match=message):
        Residual(keras.layers.Dense(4), **options)
