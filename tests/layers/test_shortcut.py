"""Specification of reslib.layers.Shortcut: identity and options A, B, C (He et al. 2016a)."""

import numpy as np
import pytest
from keras import ops

from reslib.layers import Shortcut
from tests.layer_checks import check_layer, random_inputs, trainable_parameter_count


@pytest.mark.parametrize(
    "mode, filters, strides, expected_shape, expected_parameters",
    [
        ("identity", None, 1, (2, 8, 8, 16), 0),
        ("A", 32, 2, (2, 4, 4, 32), 0),
        ("B", 16, 1, (2, 8, 8, 16), 0),  # B is the identity where the shape is unchanged
        ("B", 32, 2, (2, 4, 4, 32), 16 * 32 + 2 * 32),  # 1x1 conv without bias + BN
        ("C", 16, 1, (2, 8, 8, 16), 16 * 16 + 2 * 16),  # C projects even then
    ],
)
def test_shortcut_shapes_parameters_and_serialization(
    mode, filters, strides, expected_shape, expected_parameters, tmp_path
):
    def make(**kwargs):
        return Shortcut(mode, filters=filters, strides=strides, **kwargs)

    check_layer(make, (2, 8, 8, 16), expected_shape, expected_parameters, tmp_path=tmp_path)


def test_option_a_subsamples_and_pads_new_channels_with_zeros():
    x = random_inputs((2, 8, 8, 16))
    y = ops.convert_to_numpy(Shortcut("A", filters=32, strides=2)(x))
    np.testing.assert_array_equal(y[..., :16], x[:, ::2, ::2, :])
    np.testing.assert_array_equal(y[..., 16:], 0.0)


def test_option_a_and_identity_have_no_weights():
    x = random_inputs((2, 8, 8, 16))
    for layer in (Shortcut("A", filters=64, strides=2), Shortcut("identity")):
        layer(x)
        assert layer.weights == [] and not layer.projects


def test_option_b_projects_only_where_the_shape_changes():
    same, wider, strided = Shortcut("B"), Shortcut("B", filters=32), Shortcut("B", strides=2)
    for layer in (same, wider, strided):
        layer(random_inputs((1, 8, 8, 16)))
    assert (same.projects, wider.projects, strided.projects) == (False, True, True)


def test_projection_without_normalization_has_only_the_kernel():
    layer = Shortcut("C", filters=32, normalize=False)
    layer(random_inputs((1, 4, 4, 16)))
    assert trainable_parameter_count(layer) == 16 * 32


def test_shortcut_works_on_sequences_and_feature_vectors():
    assert Shortcut("A", filters=8, strides=2)(random_inputs((2, 10, 4))).shape == (2, 5, 8)
    assert Shortcut("C", filters=8)(random_inputs((3, 4))).shape == (3, 8)


def test_odd_sizes_round_up_like_a_same_padded_strided_conv():
    assert Shortcut("A", filters=16, strides=2)(random_inputs((1, 7, 7, 16))).shape == (1, 4, 4, 16)
    assert Shortcut("B", filters=32, strides=2)(random_inputs((1, 7, 7, 16))).shape == (1, 4, 4, 32)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(mode="D"), "`mode` must be one of 'identity', 'A', 'B', 'C'; got 'D'"),
        (dict(mode="B", filters=-4), "`filters` must be a positive integer, got -4"),
        (dict(mode="B", strides=0), "`strides` must be a positive integer, got 0"),
    ],
)
def test_bad_arguments_say_what_is_allowed(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Shortcut(**kwargs)


def test_identity_refuses_to_change_the_shape():
    with pytest.raises(ValueError, match="identity shortcut cannot turn 16 channels into 32"):
        Shortcut("identity", filters=32)(random_inputs((1, 4, 4, 16)))


def test_option_a_refuses_to_drop_channels():
    with pytest.raises(ValueError, match="cannot reduce 16 channels to filters=8"):
        Shortcut("A", filters=8)(random_inputs((1, 4, 4, 16)))


def test_feature_vectors_cannot_be_strided():
    with pytest.raises(ValueError, match="no spatial axes to stride; got strides=2"):
        Shortcut("B", strides=2)(random_inputs((2, 4)))
