"""Specification of reslib.models.resnet: the papers' architectures, parameter for parameter."""

import keras
import numpy as np
import pytest

from reslib import models
from reslib.layers import BasicBlock, BottleneckBlock
from reslib.models import cifar_resnet, resnet
from tests.layer_checks import random_inputs, trainable_parameter_count


# He et al. 2016a, section 4.2 (CIFAR-10, option A: 0.27M / 0.85M / 1.7M). Derivation for
# ResNet-20: stem 3*3*3*16 + BN 32; stage 1: 6 convs of 3*3*16*16 + BN 32; stage 2: 3*3*16*32 + 64,
# then 5 of 3*3*32*32 + 64; stage 3: 3*3*32*64 + 128, then 5 of 3*3*64*64 + 128; dense 64*10 + 10.
@pytest.mark.parametrize(
    "depth, shortcut, expected",
    [(20, "A", 269_722), (20, "B", 272_474), (56, "A", 853_018), (110, "A", 1_727_962)],
)
def test_cifar_resnet_has_the_papers_parameter_count(depth, shortcut, expected):
    assert trainable_parameter_count(cifar_resnet(depth, shortcut=shortcut)) == expected


def test_option_b_adds_exactly_two_projections_with_batch_norm():
    projections = (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64)
    option_a = trainable_parameter_count(cifar_resnet(20, shortcut="A"))
    assert trainable_parameter_count(cifar_resnet(20, shortcut="B")) - option_a == projections


def test_resnet164_v2_bottleneck_has_1_7m_parameters():
    # He et al. 2016b, Table 2: ResNet-164 (pre-activation bottleneck, 9n+2 with n=18), 1.7M.
    # 1,703,258 is also the count of the Keras CIFAR-10 ResNet v2 example at depth 164.
    model = cifar_resnet(164, version=2)
    assert trainable_parameter_count(model) == 1_703_258
    assert model.output_shape == (None, 10)


def test_plain_twin_has_the_same_layers_without_shortcuts():
    plain, residual = cifar_resnet(20, residual=False), cifar_resnet(20, shortcut="A")
    assert trainable_parameter_count(plain) == trainable_parameter_count(residual)
    assert [type(layer) for layer in plain.layers] == [type(layer) for layer in residual.layers]
    assert all(not layer.residual for layer in plain.layers if isinstance(layer, BasicBlock))
    assert plain.name == "plain20_cifar" and residual.name == "resnet20_cifar"


def test_cifar_resnet_stages_have_16_32_64_filters_at_32_16_8_pixels():
    model = cifar_resnet(20)
    shapes = {
        layer.name: layer.output.shape for layer in model.layers if isinstance(layer, BasicBlock)
    }
    assert shapes["stage1_block3"] == (None, 32, 32, 16)
    assert shapes["stage2_block1"] == (None, 16, 16, 32)
    assert shapes["stage3_block3"] == (None, 8, 8, 64)


def test_cifar_resnet_v2_ends_with_batch_norm_and_relu_before_pooling():
    model = cifar_resnet(20, version=2, block="basic")
    names = [layer.name for layer in model.layers]
    assert names[-5:] == ["final_norm", "final_relu", "pool", "classifier", "predictions"]
    assert all(
        layer.preact for layer in model.layers if isinstance(layer, (BasicBlock, BottleneckBlock))
    )


def test_cifar_resnet_without_top_returns_the_feature_map_or_pools_it():
    # keras.applications' convention: pooling=None keeps the last (8x8) feature map
    assert cifar_resnet(20, include_top=False).output_shape == (None, 8, 8, 64)
    assert cifar_resnet(20, include_top=False, pooling="max").output_shape == (None, 64)
    v2 = cifar_resnet(164, version=2, include_top=False, pooling="avg")
    assert v2.output_shape == (None, 256)


# torchvision.models.resnet{18,34,50,101,152}(): the same numbers as torchvision's model zoo table.
@pytest.mark.parametrize(
    "depth, expected",
    [
        (18, 11_689_512),
        (34, 21_797_672),
        (50, 25_557_032),
        (101, 44_549_160),
        (152, 60_192_808),
    ],
)
def test_imagenet_resnet_v1_matches_torchvision(depth, expected):
    # built through the registry, which records the count (one build checks both)
    assert trainable_parameter_count(models.get(f"resnet{depth}")) == expected
    assert models.spec(f"resnet{depth}").options == {"depth": depth, "version": 1}
    assert models.spec(f"resnet{depth}").parameters == expected


def test_resnext50_32x4d_matches_torchvision():
    model = models.get("resnext50_32x4d")  # resnet(50, groups=32, width_per_group=4)
    assert trainable_parameter_count(model) == 25_028_904
    assert models.spec("resnext50_32x4d").parameters == 25_028_904
    assert model.get_layer("stage1_block1").groups == 32


def conv_bias_count(model: keras.Model) -> int:
    return sum(
        int(np.prod(layer.bias.shape))
        for layer in model.layers
        if isinstance(layer, keras.layers.Conv2D) and layer.use_bias
    )


@pytest.mark.parametrize(
    "ours, reference",
    [
        (lambda: resnet(50), keras.applications.ResNet50),
        (lambda: resnet(50, version=2), keras.applications.ResNet50V2),
    ],
)
def test_imagenet_resnet_equals_keras_applications_less_its_conv_biases(ours, reference):
    # keras.applications keeps a bias in every convolution (26,560 in ResNet50, 19,008 in
    # ResNet50V2), which batch norm makes redundant; the papers and reslib have none.
    # Measured: ResNet50 25,583,592 - 26,560 = 25,557,032; ResNet50V2 25,568,360 - 19,008
    # = 25,549,352.
    keras_model = reference(weights=None)
    expected = trainable_parameter_count(keras_model) - conv_bias_count(keras_model)
    model = ours()
    assert trainable_parameter_count(model) == expected
    assert model.output_shape == keras_model.output_shape == (None, 1000)


def test_resnet50_striding_on_1x1_is_keras_applications_architecture_with_the_same_weights():
    # same parameters, same output; the downsampling blocks stride in their first 1x1 conv
    caffe_style = resnet(50, stride_on="1x1")
    assert trainable_parameter_count(caffe_style) == trainable_parameter_count(resnet(50))
    strided = [layer.convs[0].strides for layer in caffe_style.layers
               if isinstance(layer, BottleneckBlock) and layer.strides == 2]
    assert strided == [(2, 2)] * 3


def test_imagenet_resnet_feature_map_is_one_32nd_of_the_image():
    model = resnet(18, include_top=False, input_shape=(64, 64, 3))
    assert model.output_shape == (None, 2, 2, 512)
    assert resnet(50, include_top=False, pooling="avg").output_shape == (None, 2048)
    assert resnet(18, include_top=False, pooling="max").output_shape == (None, 512)


def test_imagenet_plain_twin_has_no_shortcuts_and_fewer_parameters():
    # plain-34 has no projections: the three 1x1 projection shortcuts (and their BN) are gone
    widths = [(64, 128), (128, 256), (256, 512)]
    projections = sum(c_in * c_out + 2 * c_out for c_in, c_out in widths)
    plain = resnet(34, residual=False)
    assert trainable_parameter_count(resnet(34)) - trainable_parameter_count(plain) == projections
    assert plain.name == "plain34"


def test_a_cifar_resnet_trains_and_its_saved_copy_predicts_the_same(tmp_path):
    model = cifar_resnet(8, input_shape=(8, 8, 3), classes=3)
    x = random_inputs((16, 8, 8, 3))
    y = np.arange(16) % 3
    model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
                  loss="sparse_categorical_crossentropy")
    losses = model.fit(x, y, epochs=8, batch_size=16, verbose=0).history["loss"]
    assert losses[-1] < losses[0]
    model.save(tmp_path / "resnet8.keras")
    restored = keras.saving.load_model(tmp_path / "resnet8.keras")
    np.testing.assert_allclose(restored.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: cifar_resnet(21),
            r"must be 6n\+2 for n >= 1 \(8, 14, 20, 56, 110, \.\.\.\); got depth=21",
        ),
        (lambda: cifar_resnet(26, block="bottleneck"), r"must be 9n\+2 .*got depth=26"),
        (lambda: cifar_resnet(20, version=3), r"`version` must be one of 1, 2; got 3"),
        (lambda: cifar_resnet(20, shortcut="D"), r"`shortcut` must be one of 'A', 'B', 'C'; got"),
        (lambda: cifar_resnet(20, block="dense"), r"`block` must be one of 'basic', 'bottleneck'"),
        (lambda: resnet(42), r"`depth` must be one of 18, 34, 50, 101, 152; got 42"),
        (lambda: resnet(18, groups=32), r"ResNet-18 uses basic blocks, got groups=32"),
        (lambda: resnet(34, stride_on="1x1"), r"ResNet-34 uses basic blocks, .*stride_on='1x1'"),
        (lambda: resnet(18, include_top=False, pooling="sum"), r"`pooling` must be one of None"),
    ],
)
def test_bad_arguments_say_what_is_allowed(call, message):
    with pytest.raises(ValueError, match=message):
        call()
