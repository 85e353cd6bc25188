"""Specification of the DenseNet builders: keras.applications' ImageNet nets, the CIFAR nets."""

from collections.abc import Callable

import keras
import numpy as np
import pytest
from keras import ops

from reslib import models
from reslib.models.densenet import IMAGENET_BLOCKS, cifar_densenet, densenet
from tests.layer_checks import random_inputs, trainable_parameter_count

# Trainable parameters of keras.applications.DenseNet121/169/201(weights=None), measured with
# keras 3.15.1 (TensorFlow and JAX backends agree) as
#   model = keras.applications.DenseNet121(weights=None)
#   sum(int(np.prod(w.shape)) for w in model.trainable_weights)
# Hard-coded because building them takes 1.5 s (TensorFlow) to 9 s (JAX, cold) each.
KERAS_APPLICATIONS_TRAINABLE = {121: 7_978_856, 169: 14_149_480, 201: 20_013_928}


def shapes_only(make_model: Callable[[], keras.Model]) -> keras.Model:
    """``make_model()`` with its variables' shapes but no values: enough for parameter counts and
    output shapes. Initializing would cost 1-2 s per ImageNet DenseNet on TensorFlow, and on JAX,
    which compiles each initializer once per new variable shape, about 50 s for DenseNet-40."""
    with keras.StatelessScope(initialize_variables=False):
        model = make_model()
    keras.utils.clear_session()  # drop the pending initialization of those variables
    return model


@pytest.mark.parametrize("depth", [121, 169, 201])
def test_imagenet_densenet_trainable_parameters_equal_keras_applications(depth):
    # built through the registry, which records the count (one build checks both)
    model = shapes_only(lambda: models.get(f"densenet{depth}"))
    assert model.name == f"densenet{depth}"
    assert models.spec(model.name).options["blocks"] == IMAGENET_BLOCKS[depth]
    assert trainable_parameter_count(model) == KERAS_APPLICATIONS_TRAINABLE[depth]
    assert models.spec(model.name).parameters == KERAS_APPLICATIONS_TRAINABLE[depth]


def test_densenet121_block_outputs_have_the_papers_channels_and_sizes():
    # stem 2k = 64; blocks add 6/12/24/16 x 32 maps; transitions halve channels and size
    model = shapes_only(lambda: densenet(blocks=(1, 1, 1, 1), growth_rate=4, include_top=False,
                                         input_shape=(224, 224, 3)))
    sizes = [model.get_layer(f"block{i}").output.shape[1:] for i in (1, 2, 3, 4)]
    assert sizes == [(56, 56, 12), (28, 28, 10), (14, 14, 9), (7, 7, 8)]


def test_cifar_densenet_bc_100_has_769162_trainable_parameters():
    # Huang et al. 2017, Table 2: DenseNet-BC (L=100, k=12), 0.8M parameters
    model = shapes_only(cifar_densenet)
    assert model.name == "densenet100_cifar"
    assert model.output_shape == (None, 10)
    assert trainable_parameter_count(model) == 769_162
    # 24 stem maps + 16 x 12 = 216 -> 108, + 192 = 300 -> 150, + 192 = 342
    channels = [model.get_layer(name).output.shape[-1] for name in
                ("block1", "transition1", "block2", "transition2", "block3")]
    assert channels == [216, 108, 300, 150, 342]
    assert model.get_layer("block3").output.shape[1:3] == (8, 8)


@pytest.mark.parametrize(
    "depth, growth_rate, bottleneck, compression, paper_millions",
    [(40, 12, False, 1.0, 1.0), (100, 12, False, 1.0, 7.0)],
)
def test_cifar_densenet_parameters_round_to_the_papers_table_2(
    depth, growth_rate, bottleneck, compression, paper_millions
):
    """Measured: DenseNet L=40 k=12 1,019,722; L=100 k=12 6,979,642; L=100 k=24 27,249,082
    (paper 27.2M); DenseNet-BC L=250 k=24 15,324,406 (15.3M); L=190 k=40 25,624,430 (25.6M).
    Those three hold 15-27M parameters and are left out."""
    model = shapes_only(lambda: cifar_densenet(depth, growth_rate=growth_rate,
                                               bottleneck=bottleneck, compression=compression))
    assert round(trainable_parameter_count(model) / 1e6, 1) == paper_millions


def test_cifar_stem_has_2k_filters_with_bottleneck_and_16_without():
    bc = shapes_only(lambda: cifar_densenet(10, growth_rate=4))
    assert bc.get_layer("stem_conv").filters == 8
    plain = shapes_only(lambda: cifar_densenet(7, growth_rate=4, bottleneck=False))
    assert plain.get_layer("stem_conv").filters == 16


def test_imagenet_stem_matches_keras_applications():
    model = shapes_only(lambda: densenet(blocks=(1,), include_top=False, input_shape=(224, 224, 3)))
    conv = model.get_layer("stem_conv")
    assert (conv.filters, conv.kernel_size, conv.strides, conv.use_bias) == (
        64, (7, 7), (2, 2), False
    )
    assert model.get_layer("stem_pool").output.shape[1:] == (56, 56, 64)


@pytest.mark.parametrize("pooling, shape", [(None, (None, 4, 4, 10)), ("avg", (None, 10)),
                                            ("max", (None, 10))])
def test_densenet_without_top_returns_features_or_pools_them(pooling, shape):
    # 32x32 -> stem /4 -> 8x8 with 2k = 8 maps, + 4 = 12 -> transition: 4x4, 6, + 4 = 10
    model = shapes_only(lambda: densenet(blocks=(1, 1), growth_rate=4, include_top=False,
                                         pooling=pooling, input_shape=(32, 32, 3)))
    assert model.output_shape == shape


def test_small_cifar_densenet_classifies_and_survives_a_keras_round_trip(tmp_path):
    model = cifar_densenet(10, growth_rate=4, dropout=0.2, input_shape=(8, 8, 3))
    x = random_inputs((2, 8, 8, 3))
    outputs = ops.convert_to_numpy(model(x, training=False))
    np.testing.assert_allclose(outputs.sum(axis=-1), 1.0, rtol=1e-5)
    model.save(tmp_path / "densenet.keras")
    restored = keras.saving.load_model(tmp_path / "densenet.keras")
    np.testing.assert_allclose(
        ops.convert_to_numpy(restored(x, training=False)), outputs, rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: densenet(stem="vgg"), "`stem` must be one of 'imagenet', 'cifar'; got 'vgg'"),
        (lambda: densenet(growth_rate=0), "`growth_rate` must be a positive integer, got 0"),
        (lambda: cifar_densenet(growth_rate=0), "`growth_rate` must be a positive integer, got 0"),
        (lambda: densenet(compression=0), r"`compression` must be a number in \(0, 1\], got 0"),
        (lambda: cifar_densenet(compression=1.5), r"must be a number in \(0, 1\], got 1.5"),
        (lambda: densenet(blocks=()), r"`blocks` must be a non-empty tuple of positive integers"),
        (lambda: densenet(blocks=(6, 0)), r"\(6, 12, 24, 16\) for DenseNet-121; got \(6, 0\)"),
        (lambda: densenet(pooling="mean"), "`pooling` must be one of None, 'avg', 'max'"),
        (lambda: cifar_densenet(99), r"6n\+4 for n >= 1 \(10, 16, 100, 190, 250, ...\); got 99"),
        (lambda: cifar_densenet(4), "`depth` with bottleneck layers must be 6n\\+4 .*; got 4"),
        (lambda: cifar_densenet(41, bottleneck=False),
         r"without bottleneck layers must be 3n\+4 for n >= 1 \(7, 10, 40, 100, ...\); got 41"),
        (lambda: cifar_densenet(100.0), r"; got 100.0\."),
    ],
)
def test_bad_arguments_say_what_is_allowed(make, message):
    with pytest.raises(ValueError, match=message):
        make()

