"""Specification of reslib.export: batch norm folded into the convolutions for inference.

Every model gets random batch-norm statistics and affine parameters, and random biases, first (a
fresh network's batch norms are the identity and its biases zero, which would hide a wrong fold).
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from reslib.export import count_layers, fold_batchnorm, folded_conv
from reslib.layers import BasicBlock, BottleneckBlock, DenseBlock, Residual, Transition
from reslib.models import cifar_densenet, cifar_resnet
from tests.layer_checks import random_inputs

BN = keras.layers.BatchNormalization
TOLERANCE = 1e-4  # issue 16: outputs equal within 1e-4 in float32


def randomize_batchnorm(model: keras.Model, seed: int = 0) -> keras.Model:
    """Random BN statistics and affine parameters, and random biases where convs have one."""
    rng = np.random.default_rng(seed)
    for layer in model._flatten_layers():
        if getattr(layer, "bias", None) is not None:
            layer.bias.assign(rng.normal(0.0, 0.5, layer.bias.shape).astype("float32"))
        if isinstance(layer, BN):
            channels = layer.moving_mean.shape[0]
            layer.moving_mean.assign(rng.normal(0.0, 0.5, channels).astype("float32"))
            layer.moving_variance.assign(rng.uniform(0.3, 2.0, channels).astype("float32"))
            layer.gamma.assign(rng.uniform(0.5, 1.5, channels).astype("float32"))
            layer.beta.assign(rng.normal(0.0, 0.5, channels).astype("float32"))
    return model


def predict(model: keras.Model, inputs: np.ndarray) -> np.ndarray:
    return keras.ops.convert_to_numpy(model(inputs, training=False))


def assert_same_outputs(model: keras.Model, exported: keras.Model, shape: tuple) -> None:
    inputs = random_inputs(shape, seed=1)
    expected, actual = predict(model, inputs), predict(exported, inputs)
    assert actual.shape == expected.shape
    assert np.max(np.abs(actual - expected)) < TOLERANCE
    assert np.std(expected) > 1e-2  # the comparison is not between two near-constant outputs


def remaining_norms(model: keras.Model) -> set[str]:
    return {layer.name for layer in model.layers if isinstance(layer, BN)}


def test_post_activation_resnet_folds_every_batch_norm_and_keeps_its_outputs():
    # ResNet v1 (He et al. 2016a): every BN follows a conv, projections included (option B).
    model = randomize_batchnorm(cifar_resnet(
        8, shortcut="B", input_shape=(16, 16, 3), classifier_activation=None))
    report: dict[str, str] = {}
    exported = fold_batchnorm(model, report=report)
    assert remaining_norms(exported) == set()
    assert len(report) == count_layers(model, BN, nested=True) == 9
    assert all("(conv -> BN)" in reason for reason in report.values())
    convs = count_layers(exported, keras.layers.Conv2D)
    assert convs == count_layers(model, keras.layers.Conv2D, nested=True) == 9
    conv_layers = [layer for layer in exported.layers if isinstance(layer, keras.layers.Conv2D)]
    assert all(layer.use_bias for layer in conv_layers)
    assert_same_outputs(model, exported, (2, 16, 16, 3))


def test_preact_resnet_keeps_only_the_norms_that_read_the_residual_stream():
    # ResNet v2 (He et al. 2016b): BN-ReLU-conv. Inside a block conv1->BN2 and conv2->BN3 fold;
    # a block's first BN reads the stream (shared with the identity path) and stays, except in
    # the first block, whose projection reads the pre-activated input, so the stem conv feeds
    # that BN alone and absorbs it; the final BN reads the last addition.
    model = randomize_batchnorm(cifar_resnet(
        11, version=2, input_shape=(16, 16, 3), classifier_activation=None))
    report: dict[str, str] = {}
    exported = fold_batchnorm(model, report=report)
    assert remaining_norms(exported) == {"stage2_block1_norm1", "stage3_block1_norm1", "final_norm"}
    assert report["stage1_block1_norm1"] == "folded into stem_conv (conv -> BN)"
    assert "not a convolution" in report["final_norm"]
    assert "not linear" in report["stage2_block1_norm1"]
    assert_same_outputs(model, exported, (2, 16, 16, 3))


def test_densenet_folds_the_norm_after_each_bottleneck_conv_only():
    # DenseNet-BC (Huang et al. 2017): BN-ReLU-conv1x1-BN-ReLU-conv3x3. The second BN follows a
    # conv and folds; the first reads a concatenation (or a pooling), as do transitions and the
    # final BN.
    model = randomize_batchnorm(cifar_densenet(
        10, growth_rate=4, input_shape=(16, 16, 3), classifier_activation=None))
    report: dict[str, str] = {}
    exported = fold_batchnorm(model, report=report)
    folded = {name for name, reason in report.items() if reason.startswith("folded")}
    assert folded == {f"block{b}_layer1_norm2" for b in (1, 2, 3)}
    assert len(remaining_norms(exported)) == 3 + 2 + 1  # norm1s, transitions, final
    assert_same_outputs(model, exported, (2, 16, 16, 3))


def composite_model() -> keras.Model:
    """reslib's composite layers with their options: a grouped bottleneck (ResNeXt) striding on
    the 1x1 with LayerScale and DropPath on the branch, a pre-activation block with projections
    (option C), and a generic Residual wrapper, with a zero-padding shortcut (option A), around
    a Sequential conv-BN branch (a nested model, folded in its turn)."""
    inputs = keras.Input((8, 8, 4))
    x = keras.layers.Conv2D(8, 3, padding="same", name="stem")(inputs)
    x = BN(name="stem_bn")(x)
    x = BottleneckBlock(4, strides=2, groups=2, stride_on="1x1", layer_scale=0.5,
                        drop_path=0.1, name="bottleneck")(x)
    x = BasicBlock(8, preact=True, shortcut="C", name="preact")(x)
    branch = keras.Sequential([keras.layers.Conv2D(12, 1, strides=2), BN()], name="branch")
    x = Residual(branch, shortcut="A", activation="relu", name="wrapper")(x)
    return randomize_batchnorm(keras.Model(inputs, keras.layers.Flatten()(x)))


def test_composite_blocks_are_expanded_and_folded_with_their_options():
    model = composite_model()
    exported = fold_batchnorm(model)
    # the preact block's first BN reads the bottleneck's output, shared with its shortcut
    assert remaining_norms(exported) == {"preact_norm1"}
    assert count_layers(exported, BN, nested=True) == 1
    assert count_layers(exported, keras.layers.Conv2D, nested=True) == count_layers(
        model, keras.layers.Conv2D, nested=True)
    assert_same_outputs(model, exported, (2, 8, 8, 4))


def test_channels_first_layers_fold_on_their_channel_axis():
    # data_format="channels_first": BN on axis 1, dense blocks concatenate on axis 1, option A
    # pads axis 1; the kernels have the same layout as in channels-last.
    fmt = {"data_format": "channels_first"}
    inputs = keras.Input((4, 8, 8))
    x = keras.layers.Conv2D(8, 3, padding="same", name="stem", **fmt)(inputs)
    x = BN(axis=1, name="stem_bn")(x)
    x = DenseBlock(2, growth_rate=4, name="dense", **fmt)(x)
    x = Transition(0.5, name="transition", **fmt)(x)
    x = BasicBlock(12, strides=2, shortcut="A", name="basic", **fmt)(x)
    model = randomize_batchnorm(keras.Model(inputs, x))
    report: dict[str, str] = {}
    exported = fold_batchnorm(model, report=report)
    kept = {"dense_layer1_norm1", "dense_layer2_norm1", "transition_norm1"}
    if keras.backend.backend() == "tensorflow":  # its padded channels-first conv + bias is wrong
        kept |= {"stem_bn", "basic_norm1", "basic_norm2"}
        assert "TensorFlow adds its bias wrongly" in report["stem_bn"]
    assert remaining_norms(exported) == kept
    assert all(reason.startswith("folded") for name, reason in report.items() if name not in kept)
    assert_same_outputs(model, exported, (2, 4, 8, 8))


def test_norm_before_a_1x1_conv_folds_forward_but_not_before_a_padded_3x3():
    inputs = keras.Input((6, 6, 4))
    pointwise = keras.layers.Conv2D(6, 1, groups=2, name="pointwise")(BN(name="bn_a")(inputs))
    padded = keras.layers.Conv2D(6, 3, padding="same", name="padded")(BN(name="bn_b")(inputs))
    model = randomize_batchnorm(keras.Model(inputs, [pointwise, padded]))
    report: dict[str, str] = {}
    exported = fold_batchnorm(model, report=report)
    assert report["bn_a"] == "folded into pointwise (BN -> conv)"
    assert "pads its input" in report["bn_b"]
    assert remaining_norms(exported) == {"bn_b"}
    images = random_inputs((2, 6, 6, 4), seed=1)
    for expected, actual in zip(model(images), exported(images)):
        np.testing.assert_allclose(actual, expected, atol=TOLERANCE)


def test_folding_forward_through_same_padding_would_change_only_the_border():
    # Why BN -> 3x3 "same" conv is refused: the original pads the normalised map with zeros.
    inputs = keras.Input((6, 6, 3))
    norm, conv = BN(), keras.layers.Conv2D(4, 3, padding="same")
    model = randomize_batchnorm(keras.Model(inputs, conv(norm(inputs))))
    images = random_inputs((1, 6, 6, 3), seed=1)
    wrong = predict(keras.Sequential([inputs, folded_conv(conv, before=norm)]), images)
    difference = np.abs(wrong - predict(model, images))[0].max(axis=-1)
    assert difference[1:-1, 1:-1].max() < TOLERANCE
    assert difference[0].min() > TOLERANCE and difference[:, -1].min() > TOLERANCE


def test_conv_with_a_second_reader_or_an_activation_keeps_its_norm():
    inputs = keras.Input((6, 6, 3))
    shared = keras.layers.Conv2D(3, 3, padding="same", name="shared")(inputs)
    activated = keras.layers.Conv2D(3, 3, padding="same", activation="relu", name="relu_conv")(
        inputs)
    summed = keras.layers.Add()([shared, BN(name="after_shared")(shared)])
    outputs = keras.layers.Add()([summed, BN(name="after_relu")(activated)])
    model = randomize_batchnorm(keras.Model(inputs, outputs))
    report: dict[str, str] = {}
    exported = fold_batchnorm(model, report=report)
    assert "read by 2 layers" in report["after_shared"]
    assert "activation" in report["after_relu"]
    assert remaining_norms(exported) == {"after_shared", "after_relu"}
    assert_same_outputs(model, exported, (2, 6, 6, 3))


def test_exported_model_is_independent_of_the_original_and_round_trips_a_keras_file(tmp_path):
    # LayerScale, DropPath and the option-A Shortcut stay reslib layers: custom objects to load
    model = composite_model()
    exported = fold_batchnorm(model)
    images = random_inputs((2, 8, 8, 4), seed=1)
    before = predict(exported, images)
    path = tmp_path / "folded.keras"
    exported.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(predict(loaded, images), before, atol=1e-6)
    for weight in model.weights:
        weight.assign(np.zeros(weight.shape, dtype=weight.dtype))
    np.testing.assert_allclose(predict(exported, images), before, atol=1e-6)


def test_subclassed_model_is_refused_with_a_clear_error():
    class Subclassed(keras.Model):
        def call(self, inputs):
            return inputs

    with pytest.raises(ValueError, match="subclassed"):
        fold_batchnorm(Subclassed())
    with pytest.raises(ValueError, match="keras.Model"):
        fold_batchnorm(keras.layers.Dense(2))
