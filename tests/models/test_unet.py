"""Specification of reslib.models.unet: the U-Net of Ronneberger et al. 2015 and its plain twin."""

import keras
import numpy as np
import pytest

from reslib.models.unet import unet
from tests.layer_checks import random_inputs, trainable_parameter_count


@pytest.mark.parametrize("skips", ["concat", "add", None])
def test_output_is_one_logit_per_class_and_pixel(skips):
    model = unet(depth=2, base_filters=4, classes=3, skips=skips)
    assert model.output_shape == (None, None, None, 3)
    assert model(random_inputs((1, 8, 12, 1))).shape == (1, 8, 12, 3)


def test_concatenation_adds_exactly_the_weights_that_read_the_skipped_channels():
    # only the first 3x3 conv after each up-sampling sees more channels: 2f instead of f
    depth, base = 3, 4
    extra = sum(3 * 3 * (base * 2**level) ** 2 for level in range(depth))
    counts = {
        skips: trainable_parameter_count(unet(depth, base, skips=skips))
        for skips in ("concat", "add", None)
    }
    assert counts["concat"] - counts[None] == extra
    assert counts["add"] == counts[None]


def test_filters_double_at_every_level_down_to_the_bottleneck():
    # the paper's depth 4; its base of 64 filters gives 1024 at the bottleneck, ours 8 * 16
    model = unet(depth=4, base_filters=8, input_shape=(32, 32, 1))
    widths = [model.get_layer(f"encoder{level}_conv2").output.shape[-1] for level in (1, 2, 3, 4)]
    assert widths == [8, 16, 32, 64]
    assert model.get_layer("bottleneck_conv2").output.shape == (None, 2, 2, 128)
    assert model.get_layer("decoder1_skip").output.shape == (None, 32, 32, 16)
    assert model.output_shape == (None, 32, 32, 2)


def test_the_no_skip_twin_reaches_the_decoder_only_through_the_bottleneck():
    def skip_layers(model):
        return sorted(layer.name for layer in model.layers if layer.name.endswith("_skip"))

    assert skip_layers(unet(depth=2, skips=None)) == []
    assert skip_layers(unet(depth=2)) == ["decoder1_skip", "decoder2_skip"]
    encoder_output = unet(depth=2, skips=None).get_layer("encoder1_relu2").output
    decoder_inputs = unet(depth=2, skips=None).get_layer("decoder1_conv1").input
    assert encoder_output.shape[-1] == decoder_inputs.shape[-1] == 16


def test_a_unet_trains_and_its_saved_copy_predicts_the_same(tmp_path):
    x = random_inputs((4, 8, 8, 1))
    y = (x[..., 0] > 0).astype("int32")  # segment the positive pixels
    model = unet(depth=2, base_filters=4, input_shape=(8, 8, 1))
    model.compile(
        optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        run_eagerly=True,  # compiling takes longer than these few steps
    )
    losses = model.fit(x, y, epochs=3, verbose=0).history["loss"]
    assert np.all(np.isfinite(losses))
    model.save(tmp_path / "unet.keras")
    restored = keras.saving.load_model(tmp_path / "unet.keras")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(restored(x)), keras.ops.convert_to_numpy(model(x)),
        rtol=1e-5, atol=1e-5,
    )


@pytest.mark.parametrize(
    "options, message",
    [
        ({"depth": 3, "input_shape": (20, 24, 1)}, "height must be divisible by 2\\*\\*depth = 8"),
        ({"depth": 2, "input_shape": (None, 10, 3)}, "width must be divisible by 2\\*\\*depth = 4"),
        ({"skips": "sum"}, "`skips` must be one of 'concat', 'add', None; got 'sum'"),
        ({"depth": 0}, "`depth` must be a positive integer, got 0"),
        ({"input_shape": (32, 32)}, r"`input_shape` must be \(height, width, channels\)"),
    ],
)
def test_bad_arguments_say_what_is_allowed(options, message):
    with pytest.raises(ValueError, match=message):
        unet(**options)
