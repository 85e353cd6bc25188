"""Specification of lesson 07's experiments: U-Net skips, residual LSTM stacks, the branch
tricks of deep nets at initialisation, and loss landscapes with and without skips."""

import keras
import numpy as np
import pytest

from reslib.diagnostics import Landscape
from reslib.experiments import (
    EXPERIMENTS,
    deep_tricks,
    landscape,
    recurrent_residual,
    run_experiment,
    unet_skips,
)
from reslib.models import unet

LESSON_07 = ("unet_skips", "recurrent_residual", "deep_tricks", "landscape")


def test_lesson_07_experiments_are_registered_with_quick_and_full_configs():
    for name in LESSON_07:
        experiment = EXPERIMENTS[name]
        assert experiment.lesson == "07_skips_elsewhere" and experiment.claim
        assert set(experiment.configs) == {"quick", "full"}


# ---------------------------------------------------------------- U-Net
def test_shapes_dataset_is_labelled_synthetic_and_its_masks_mark_the_bright_pixels():
    data = unet_skips.shapes_dataset(16, size=32, noise=0.0, seed=3)
    assert data.images.shape == (16, 32, 32, 1) and data.masks.shape == (16, 32, 32)
    assert "synthetic" in data.description and "16 images" in data.description
    assert set(np.unique(data.masks)) == {0, 1}
    # without noise, every shape pixel is brighter than the shading allows the background to be
    shapes, background = data.images[..., 0][data.masks == 1], data.images[..., 0][data.masks == 0]
    assert shapes.mean() > background.mean() + 0.5
    again = unet_skips.shapes_dataset(16, size=32, noise=0.0, seed=3)
    np.testing.assert_array_equal(data.masks, again.masks)


def test_shapes_dataset_refuses_an_empty_set():
    with pytest.raises(ValueError, match="count"):
        unet_skips.shapes_dataset(0)


def test_foreground_iou_is_one_for_a_perfect_mask_and_zero_for_a_disjoint_one():
    masks = np.zeros((1, 4, 4), "int32")
    masks[0, :2] = 1
    perfect = np.stack([1 - masks, masks], axis=-1).astype("float32")
    assert unet_skips.foreground_iou(masks, perfect) == 1.0
    assert unet_skips.foreground_iou(masks, perfect[..., ::-1]) == 0.0


def test_recalibrate_batch_norm_sets_the_moving_statistics_to_those_of_the_images():
    keras.utils.set_random_seed(0)
    model = unet(depth=1, base_filters=4, input_shape=(8, 8, 1))
    images = np.random.default_rng(0).normal(3.0, 2.0, (16, 8, 8, 1)).astype("float32")
    unet_skips.recalibrate_batch_norm(model, images)
    first = model.get_layer("encoder1_norm1")
    features = keras.ops.convert_to_numpy(model.get_layer("encoder1_conv1")(images))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(first.moving_mean),
                               features.mean(axis=(0, 1, 2)), rtol=1e-4, atol=1e-4)
    assert first.momentum == 0.99  # restored


def test_unet_skips_quick_segments_better_with_skips(tmp_path):
    record = run_experiment("unet_skips", "quick", out=tmp_path, progress=False)
    models = record["models"]
    assert record["claim_holds"], {k: v["test_iou"] for k, v in models.items()}
    assert "synthetic" in record["dataset"]
    assert np.shape(models["with skips"]["test_predictions"]) == (4, 32, 32)
    assert models["with skips"]["parameters"] > models["without skips"]["parameters"]


# ---------------------------------------------------------------- recurrent
def test_delayed_recall_targets_are_the_symbols_seen_delay_steps_earlier():
    data = recurrent_residual.delayed_recall(5, steps=10, symbols=6, delay=3, seed=1)
    symbols = data.inputs.argmax(-1)
    assert data.inputs.shape == (5, 10, 6) and "synthetic" in data.description
    np.testing.assert_array_equal(data.targets[:, 3:], symbols[:, :-3])
    np.testing.assert_array_equal(data.targets[:, :3], symbols[:, :3])


def test_delayed_recall_refuses_a_delay_as_long_as_the_sequence():
    with pytest.raises(ValueError, match="delay.*steps"):
        recurrent_residual.delayed_recall(4, steps=5, delay=5)


def test_residual_lstm_stack_differs_from_its_plain_twin_only_by_the_skips():
    keras.utils.set_random_seed(0)
    residual = recurrent_residual.lstm_stack(3, 8, symbols=5, residual=True)
    keras.utils.set_random_seed(0)
    plain = recurrent_residual.lstm_stack(3, 8, symbols=5, residual=False)
    assert residual.count_params() == plain.count_params()
    x = np.random.default_rng(0).normal(size=(2, 7, 5)).astype("float32")
    assert residual(x).shape == plain(x).shape == (2, 7, 5)
    # the same weights, yet different outputs: the skips change the function
    assert not np.allclose(keras.ops.convert_to_numpy(residual(x)),
                           keras.ops.convert_to_numpy(plain(x)))


def test_recurrent_residual_quick_residual_stack_trains_to_a_lower_loss(tmp_path):
    record = run_experiment("recurrent_residual", "quick", out=tmp_path, progress=False)
    losses = {k: v["train_loss"][-1] for k, v in record["stacks"].items()}
    assert record["claim_holds"], losses
    assert losses["residual"] < record["chance_loss"]


# ---------------------------------------------------------------- deep tricks
def test_zero_init_and_rezero_branches_make_a_deep_toy_resnet_the_identity_at_init():
    x = np.random.default_rng(0).normal(size=(4, 8, 8, 3)).astype("float32")
    y = np.zeros(4, "int32")
    for options in ({"zero_init": True}, {"rezero": True}):
        model = deep_tricks.toy_resnet(6, 8, (8, 8, 3), 10, **options)
        signal = deep_tricks.signal_by_depth(model, x, y)
        assert signal["distance_from_identity"] == 0.0
        assert np.allclose(signal["mean_square"], signal["mean_square"][0])


def test_a_toy_resnet_without_normalisation_grows_its_signal_exponentially_at_he_init():
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(8, 8, 8, 3)).astype("float32")
    model = deep_tricks.toy_resnet(12, 16, (8, 8, 3), 10)
    squares = deep_tricks.signal_by_depth(model, x, np.zeros(8, "int32"))["mean_square"]
    assert squares[-1] / squares[0] > 1.5**12
    assert all(later > earlier for earlier, later in zip(squares, squares[1:]))


def test_stochastic_depth_rates_decay_linearly_to_the_last_block():
    rates = deep_tricks.stochastic_depth_rates(3, drop_path=0.5)  # ResNet-20: 9 blocks
    np.testing.assert_allclose(rates, [0.5 * i / 9 for i in range(1, 10)])
    assert sum(1 - r for r in rates) == pytest.approx((3 * 9 - 1) / 4)


def test_toy_resnet_refuses_an_unknown_layer_kind():
    with pytest.raises(ValueError, match="layer"):
        deep_tricks.toy_resnet(2, 4, (8, 8, 3), 10, layer="lstm")


def test_deep_tricks_quick_no_norm_explodes_and_zero_branches_stay_identity(tmp_path):
    record = run_experiment("deep_tricks", "quick", out=tmp_path, progress=False)
    assert record["claim_holds"], record["growth"]
    assert record["stochastic_depth"]["expected_blocks"] == pytest.approx((3 * 54 - 1) / 4)
    assert record["growth"]["no norm, LayerScale 1e-2"] < 1.1


# ---------------------------------------------------------------- landscape
def _grid(function):
    alphas = np.linspace(-1.0, 1.0, 7)
    a, b = np.meshgrid(alphas, alphas, indexing="ij")
    return Landscape(alphas, function(a, b), np.full(a.shape, np.nan), alphas.copy())


def test_non_convex_fraction_is_zero_for_a_bowl_and_one_for_a_saddle():
    assert landscape.non_convex_fraction(_grid(lambda a, b: a**2 + b**2)) == 0.0
    assert landscape.non_convex_fraction(_grid(lambda a, b: a**2 - b**2)) == 1.0


def test_rise_grows_with_the_curvature_of_a_1d_slice():
    alphas = np.linspace(-1.0, 1.0, 21)
    nan = np.full(21, np.nan)
    flat, sharp = Landscape(alphas, alphas**2, nan), Landscape(alphas, 10 * alphas**2, nan)
    assert landscape.rise(flat, 0.5) == pytest.approx(0.25)
    assert landscape.rise(sharp, 0.5) == pytest.approx(2.5)
    with pytest.raises(ValueError, match="1-D"):
        landscape.rise(_grid(lambda a, b: a + b))
    with pytest.raises(ValueError, match="2-D"):
        landscape.non_convex_fraction(flat)


def test_landscape_survives_a_json_round_trip():
    original = _grid(lambda a, b: a**2 + 2 * b**2)
    restored = landscape.landscape_from_dict(landscape.as_dict(original))
    np.testing.assert_allclose(restored.losses, original.losses)
    np.testing.assert_allclose(restored.betas, original.betas)
    assert restored.two_d


def test_landscape_quick_without_skips_is_less_convex(tmp_path):
    record = run_experiment("landscape", "quick", out=tmp_path, progress=False)
    summary = {k: (v["rise_at_half"], v["non_convex_fraction"]) for k, v in record["nets"].items()}
    assert record["claim_holds"], summary
    slice_2d = record["nets"]["with skips"]["slice_2d"]
    assert np.shape(slice_2d["losses"]) == (9, 9) and "images" in record["dataset"]
