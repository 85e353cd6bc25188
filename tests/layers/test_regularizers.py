"""Specification of reslib.layers.regularizers: DropPath (stochastic depth), LayerScale, ReZero."""

import numpy as np
import pytest
from keras import ops

from reslib.layers.regularizers import DropPath, LayerScale, ReZero, check_branch_options
from tests.layer_checks import check_layer, random_inputs, trainable_parameter_count


@pytest.mark.parametrize("mode", ["per_sample", "batch"])
def test_drop_path_passes_the_layer_checks(mode, tmp_path):
    def make(**kwargs):
        return DropPath(0.2, mode=mode, seed=3, **kwargs)

    check_layer(make, (4, 5, 6), (4, 5, 6), expected_trainable_parameters=0, tmp_path=tmp_path)


def test_layer_scale_passes_the_layer_checks(tmp_path):
    def make(**kwargs):
        return LayerScale(0.1, **kwargs)

    check_layer(make, (2, 4, 4, 8), (2, 4, 4, 8), expected_trainable_parameters=8,
                tmp_path=tmp_path)


def test_rezero_passes_the_layer_checks(tmp_path):
    check_layer(ReZero, (3, 6), (3, 6), expected_trainable_parameters=1, tmp_path=tmp_path)


def test_per_sample_drop_path_drops_or_rescales_whole_examples_independently():
    x = random_inputs((32, 4, 3))
    y = ops.convert_to_numpy(DropPath(0.5, seed=7)(x, training=True))
    dropped = np.all(y == 0, axis=(1, 2))
    kept = np.all(np.isclose(y, 2 * x, rtol=1e-6), axis=(1, 2))
    assert np.all(dropped | kept)  # every example: all of it dropped, or all of it scaled by 2
    assert 0 < dropped.sum() < 32  # different examples of one batch are treated differently


def test_batch_drop_path_drops_or_keeps_the_whole_batch_unscaled():
    x = random_inputs((8, 3))
    layer = DropPath(0.5, mode="batch", seed=7)
    outcomes = set()
    for _ in range(20):
        y = ops.convert_to_numpy(layer(x, training=True))
        assert np.array_equal(y, x) or np.array_equal(y, np.zeros_like(x))
        outcomes.add(bool(np.array_equal(y, x)))
    assert outcomes == {True, False}  # the seed generator advances between calls


@pytest.mark.parametrize("mode", ["per_sample", "batch"])
def test_drop_path_with_rate_near_one_drops_every_branch_in_training(mode):
    x = random_inputs((16, 5))
    y = DropPath(0.999999, mode=mode, seed=1)(x, training=True)
    np.testing.assert_array_equal(ops.convert_to_numpy(y), np.zeros_like(x))


def test_per_sample_drop_path_is_the_identity_at_inference():
    x = random_inputs((4, 5))
    np.testing.assert_array_equal(ops.convert_to_numpy(DropPath(0.7)(x, training=False)), x)


def test_batch_drop_path_scales_by_the_survival_probability_at_inference():
    x = random_inputs((4, 5))
    y = ops.convert_to_numpy(DropPath(0.25, mode="batch")(x, training=False))
    np.testing.assert_allclose(y, 0.75 * x, rtol=1e-6)


def test_drop_path_at_inference_outputs_the_expected_training_output_in_both_modes():
    x = np.ones((2000, 1), dtype="float32")
    per_sample = DropPath(0.3, seed=2)
    training_mean = ops.convert_to_numpy(per_sample(x, training=True)).mean()
    assert training_mean == pytest.approx(1.0, abs=0.05)  # inverted scaling: E[y] = x
    batch = DropPath(0.3, mode="batch", seed=2)
    draws = [float(ops.convert_to_numpy(batch(x[:1], training=True))[0, 0]) for _ in range(300)]
    inference = float(ops.convert_to_numpy(batch(x[:1], training=False))[0, 0])
    assert inference == pytest.approx(0.7) and np.mean(draws) == pytest.approx(0.7, abs=0.06)


def test_layer_scale_starts_at_its_init_value_per_channel():
    x = random_inputs((2, 3, 4))
    layer = LayerScale(1e-3)
    y = ops.convert_to_numpy(layer(x))
    assert ops.convert_to_numpy(layer.gamma).shape == (4,)
    np.testing.assert_allclose(y, 1e-3 * x, rtol=1e-6)
    assert trainable_parameter_count(layer) == 4


def test_rezero_outputs_zeros_at_init_and_alpha_times_x_after():
    x = random_inputs((3, 4))
    layer = ReZero()
    np.testing.assert_array_equal(ops.convert_to_numpy(layer(x)), np.zeros_like(x))
    layer.alpha.assign(0.5)
    np.testing.assert_allclose(ops.convert_to_numpy(layer(x)), 0.5 * x, rtol=1e-6)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: DropPath(1.0), r"`rate` must be a number in \[0, 1\), got 1.0"),
        (lambda: DropPath(-0.1), r"`rate` must be a number in \[0, 1\), got -0.1"),
        (lambda: DropPath(0.1, mode="row"), "`mode` must be one of 'per_sample', 'batch'"),
        (lambda: LayerScale(0.0), "`init_value` must be a positive number, got 0.0"),
        (lambda: check_branch_options(0.0, 1e-5, True), "choose one"),
        (lambda: check_branch_options(0.1, None, False, residual=False), "drop_path=0.1"),
        (
            lambda: check_branch_options(0.0, None, True, residual=False),
            "options rezero=True need residual=True",
        ),
    ],
)
def test_bad_arguments_say_what_is_allowed(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_layer_scale_refuses_inputs_without_known_channels():
    with pytest.raises(ValueError, match="known channels; got shape"):
        LayerScale().build((None, None))
