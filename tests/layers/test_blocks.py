"""Specification of the ResNet block family: BasicBlock and BottleneckBlock, v1/v2, plain twins."""

import itertools

import keras
import numpy as np
import pytest
from keras import ops

from reslib.diagnostics import gradient_norm_ratio, jacobian
from reslib.layers import BasicBlock, BottleneckBlock
from tests.layer_checks import check_layer, random_inputs, trainable_parameter_count

BN = 2  # trainable parameters per batch-norm channel (gamma, beta)


@pytest.mark.parametrize(
    "preact, strides, shortcut", itertools.product([False, True], [1, 2], ["A", "B", "C"])
)
def test_basic_block_passes_the_layer_checks(preact, strides, shortcut, tmp_path):
    def make(**kwargs):
        return BasicBlock(32, strides=strides, preact=preact, shortcut=shortcut, **kwargs)

    size = 8 // strides
    check_layer(make, (2, 8, 8, 16), (2, size, size, 32), tmp_path=tmp_path)


@pytest.mark.parametrize("preact, strides", itertools.product([False, True], [1, 2]))
def test_bottleneck_block_passes_the_layer_checks(preact, strides, tmp_path):
    def make(**kwargs):
        return BottleneckBlock(8, strides=strides, preact=preact, **kwargs)

    size = 8 // strides
    check_layer(make, (2, 8, 8, 16), (2, size, size, 32), tmp_path=tmp_path)


def test_basic_block_parameter_count_matches_the_paper_arithmetic():
    # two 3x3 convolutions without bias, each followed by a batch norm
    expected = 2 * (3 * 3 * 16 * 16 + BN * 16)
    block = BasicBlock(16)
    block(random_inputs((1, 8, 8, 16)))
    assert trainable_parameter_count(block) == expected == 4672


def test_bottleneck_parameter_count_matches_the_paper_arithmetic():
    # ResNet-50's conv2_x block on 256 channels: 1x1 256->64, 3x3 64->64, 1x1 64->256
    expected = 256 * 64 + BN * 64 + 3 * 3 * 64 * 64 + BN * 64 + 64 * 256 + BN * 256
    block = BottleneckBlock(64)
    block(random_inputs((1, 8, 8, 256)))
    assert trainable_parameter_count(block) == expected == 70400


def test_resnext_bottleneck_has_a_grouped_3x3_of_cardinality_32():
    # ResNeXt-50 32x4d conv2_x: width 128, the grouped 3x3 holds 3*3*(128/32)*128 weights
    block = BottleneckBlock(64, groups=32, width_per_group=4)
    block(random_inputs((1, 8, 8, 256)))
    assert block.width == 128
    expected = 256 * 128 + BN * 128 + 3 * 3 * 4 * 128 + BN * 128 + 128 * 256 + BN * 256
    assert trainable_parameter_count(block) == expected


def test_the_stride_sits_on_the_3x3_convolution_of_a_bottleneck():
    block = BottleneckBlock(16, strides=2)
    block(random_inputs((1, 8, 8, 64)))
    assert [conv.strides for conv in block.convs] == [(1, 1), (2, 2), (1, 1)]


def test_stride_on_1x1_moves_the_stride_to_the_first_convolution_as_in_the_caffe_models(tmp_path):
    block = BottleneckBlock(16, strides=2, stride_on="1x1")
    assert block(random_inputs((1, 8, 8, 32))).shape == (1, 4, 4, 64)
    assert [conv.strides for conv in block.convs] == [(2, 2), (1, 1), (1, 1)]
    assert BottleneckBlock.from_config(block.get_config()).stride_on == "1x1"
    with pytest.raises(ValueError, match="`stride_on` must be one of '3x3', '1x1'; got '7x7'"):
        BottleneckBlock(16, stride_on="7x7")


@pytest.mark.parametrize("block_class", [BasicBlock, BottleneckBlock])
@pytest.mark.parametrize("preact", [False, True])
def test_zero_init_residual_block_is_exactly_the_identity_at_init(block_class, preact):
    x = np.abs(random_inputs((2, 4, 4, 16)))  # a post-activation block sees ReLU outputs
    block = block_class(4 if block_class is BottleneckBlock else 16, preact=preact,
                        zero_init_residual=True)
    np.testing.assert_array_equal(ops.convert_to_numpy(block(x, training=True)), x)


@pytest.mark.parametrize("preact", [False, True])
def test_zero_init_residual_block_has_the_identity_jacobian(preact):
    x = np.abs(random_inputs((1, 3, 3, 2))) + 0.1  # away from the ReLU's kink
    block = BasicBlock(2, preact=preact, zero_init_residual=True)
    block(x)
    np.testing.assert_allclose(jacobian(block, x), np.eye(x.size), atol=1e-6)


def test_a_residual_block_jacobian_is_identity_plus_the_branch_jacobian():
    # He et al. 2016b, eq. 5: dx_{l+1}/dx_l = I + dF/dx_l for a pre-activation block
    x = random_inputs((1, 3, 3, 2))
    residual = BasicBlock(2, preact=True)
    residual(x)
    plain = BasicBlock(2, preact=True, residual=False)
    plain(x)
    plain.set_weights(residual.get_weights())
    np.testing.assert_allclose(
        jacobian(residual, x), np.eye(x.size) + jacobian(plain, x), atol=1e-5
    )


def test_preact_identity_path_has_no_nonlinearity():
    x = random_inputs((2, 4, 4, 8))  # negative entries survive only a clean identity path
    block = BasicBlock(8, preact=True)
    block(x)
    block.convs[-1].kernel.assign(np.zeros(block.convs[-1].kernel.shape))  # kill the branch
    np.testing.assert_array_equal(ops.convert_to_numpy(block(x, training=True)), x)


def test_postact_identity_path_ends_in_a_relu():
    x = random_inputs((2, 4, 4, 8))
    block = BasicBlock(8, zero_init_residual=True)
    np.testing.assert_array_equal(ops.convert_to_numpy(block(x)), np.maximum(x, 0.0))


@pytest.mark.parametrize("block_class", [BasicBlock, BottleneckBlock])
def test_plain_twin_differs_only_by_the_skip(block_class):
    x = random_inputs((2, 4, 4, 16))
    filters = 4 if block_class is BottleneckBlock else 16
    residual = block_class(filters, preact=True)
    plain = block_class(filters, preact=True, residual=False)
    residual(x)
    plain(x)
    assert [w.shape for w in plain.weights] == [w.shape for w in residual.weights]
    plain.set_weights(residual.get_weights())
    np.testing.assert_allclose(
        ops.convert_to_numpy(residual(x, training=False)),
        x + ops.convert_to_numpy(plain(x, training=False)),
        rtol=1e-5, atol=1e-5,
    )


def test_preact_projection_has_no_batch_norm_and_reads_the_preactivated_input():
    block = BasicBlock(16, strides=2, preact=True, shortcut="B")
    block(random_inputs((1, 8, 8, 8)))
    assert block.shortcut_layer.projects and block.shortcut_layer.norm is None


def stack(preact: bool, residual: bool, blocks: int = 50) -> keras.Sequential:
    layers = [BasicBlock(16, preact=preact, residual=residual) for _ in range(blocks)]
    return keras.Sequential([keras.Input((8, 8, 16)), *layers])


@pytest.mark.parametrize("preact", [False, True])
def test_gradient_reaches_the_input_of_50_residual_blocks_but_not_of_the_plain_twin(preact):
    """At initialization, with batch statistics (as at the start of training).

    Measured (3 seeds each on TensorFlow and JAX) for 50 blocks, 8x8x16 input, batch 8:
    gradient scale coefficient ||dL/dx||·||x|| / (||dL/dy||·||y||) (Philipp et al. 2018):
    residual 3.2-6.1, plain twin 5.6e6-2.9e7. Raw ratio ||dL/dx|| / ||dL/dy||: residual 23-41
    (the stream's norm grows about 7x over 50 blocks), plain 5.9e6-2.1e7. The plain twin's
    gradient explodes rather than vanishes: batch norm at every layer makes deep plain nets'
    gradients grow geometrically (Yang et al. 2019); without batch statistics it vanishes, see
    the next test.
    """
    x = random_inputs((8, 8, 8, 16))
    residual, plain = stack(preact, residual=True), stack(preact, residual=False)

    def in_training(model):
        return lambda inputs: model(inputs, training=True)

    assert gradient_norm_ratio(in_training(residual), x, relative=True) < 10
    assert gradient_norm_ratio(in_training(residual), x) < 100
    assert gradient_norm_ratio(in_training(plain), x, relative=True) > 1e4
    assert gradient_norm_ratio(in_training(plain), x) > 1e4


@pytest.mark.parametrize("preact", [False, True])
def test_without_batch_statistics_the_plain_gradient_vanishes(preact):
    """Inference-mode batch norm is the identity at init, leaving he_normal conv-ReLU layers.

    Measured (3 seeds each on TensorFlow and JAX): plain twin ||dL/dx|| / ||dL/dy|| =
    0.0008-0.016 (a hundred ReLU layers shave it down); the residual stack explodes instead
    (5.9e5-2.4e7), which is why unnormalised
    residual nets need a zero-initialised or down-scaled branch (Goyal et al. 2017, Fixup).
    """
    x = random_inputs((8, 8, 8, 16))
    assert gradient_norm_ratio(stack(preact, residual=False), x) < 0.1
    assert gradient_norm_ratio(stack(preact, residual=True), x) > 1e4


def test_zero_init_residual_stack_passes_the_gradient_unchanged():
    layers = [BasicBlock(16, preact=True, zero_init_residual=True) for _ in range(50)]
    model = keras.Sequential([keras.Input((8, 8, 16)), *layers])
    x = random_inputs((8, 8, 8, 16))
    assert gradient_norm_ratio(lambda t: model(t, training=True), x) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: BasicBlock(-16), "`filters` must be a positive integer, got -16"),
        (lambda: BasicBlock(16, strides=0), "`strides` must be a positive integer, got 0"),
        (lambda: BasicBlock(16, shortcut="D"), "`shortcut` must be one of 'identity', 'A', 'B'"),
        (lambda: BasicBlock(16, residual=False, zero_init_residual=True), "needs residual=True"),
        (lambda: BottleneckBlock(64, groups=0), "`groups` must be a positive integer, got 0"),
        (lambda: BottleneckBlock(8, groups=32, width_per_group=4), "width_per_group=4 give 0"),
    ],
)
def test_bad_arguments_say_what_is_allowed(make, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make()


def test_blocks_refuse_inputs_that_are_not_images():
    with pytest.raises(ValueError, match=r"expects images of shape \(batch, height, width, chan"):
        BasicBlock(8)(random_inputs((2, 8, 4)))


def test_identity_shortcut_refuses_a_block_that_changes_the_shape():
    with pytest.raises(ValueError, match="identity shortcut cannot turn 8 channels into 16"):
        BasicBlock(16, shortcut="identity")(random_inputs((1, 4, 4, 8)))


def test_measuring_gradients_in_training_mode_leaves_the_moving_statistics_alone():
    model = stack(preact=True, residual=True, blocks=2)
    before = [ops.convert_to_numpy(w) for w in model.non_trainable_weights]
    gradient_norm_ratio(lambda t: model(t, training=True), random_inputs((4, 8, 8, 16)))
    after = [ops.convert_to_numpy(w) for w in model.non_trainable_weights]
    assert all(np.array_equal(b, a) for b, a in zip(before, after))


@pytest.mark.parametrize(
    "block_class, options",
    [
        (BasicBlock, {"drop_path": 0.2, "layer_scale": 1e-2}),
        (BasicBlock, {"rezero": True, "preact": True}),
        (BottleneckBlock, {"drop_path": 0.2, "rezero": True}),
    ],
)
def test_blocks_with_branch_options_pass_the_layer_checks(block_class, options, tmp_path):
    filters = 8 if block_class is BottleneckBlock else 32

    def make(**kwargs):
        block = block_class(filters, strides=2, **options, **kwargs)
        if block.rezero:  # alpha = 0 gives the branch no gradient at first, see the next test
            block.build((None, 8, 8, 16))
            block.branch_scale.alpha.assign(0.5)
        return block

    check_layer(make, (2, 8, 8, 16), (2, 4, 4, 32), tmp_path=tmp_path)


def test_the_first_step_of_a_rezero_block_trains_only_alpha():
    # Bachlechner et al. 2020: dL/dW of the branch is alpha * (...) = 0 at init; alpha moves first
    block = BasicBlock(8, preact=True, rezero=True)
    model = keras.Sequential([keras.Input((4, 4, 8)), block])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    before = [ops.convert_to_numpy(w) for w in block.trainable_weights]
    model.fit(random_inputs((4, 4, 4, 8)), random_inputs((4, 4, 4, 8), seed=1), verbose=0)
    moved = [
        w.name for w, old in zip(block.trainable_weights, before)
        if not np.array_equal(ops.convert_to_numpy(w), old)
    ]
    assert moved == ["alpha"]


@pytest.mark.parametrize("block_class", [BasicBlock, BottleneckBlock])
def test_rezero_preact_block_is_exactly_the_identity_at_init(block_class):
    x = random_inputs((2, 4, 4, 16))
    block = block_class(4 if block_class is BottleneckBlock else 16, preact=True, rezero=True)
    np.testing.assert_array_equal(ops.convert_to_numpy(block(x, training=True)), x)


def test_layer_scale_near_zero_block_is_numerically_the_identity():
    x = random_inputs((2, 4, 4, 16))
    block = BasicBlock(16, preact=True, layer_scale=1e-12)
    np.testing.assert_allclose(ops.convert_to_numpy(block(x, training=True)), x, atol=1e-9)


def test_layer_scale_adds_one_parameter_per_output_channel_and_rezero_one():
    x = random_inputs((1, 8, 8, 256))
    plain_count = 70400  # ResNet-50's conv2_x block, see above
    for options, extra in (({"layer_scale": 1e-5}, 256), ({"rezero": True}, 1)):
        block = BottleneckBlock(64, **options)
        block(x)
        assert trainable_parameter_count(block) == plain_count + extra


@pytest.mark.parametrize("preact", [False, True])
def test_drop_path_near_one_leaves_only_the_shortcut_in_training(preact):
    x = np.abs(random_inputs((4, 4, 4, 16)))  # a post-activation block ends in a ReLU
    block = BasicBlock(16, preact=preact, drop_path=0.999999)
    np.testing.assert_array_equal(ops.convert_to_numpy(block(x, training=True)), x)
    assert not np.allclose(ops.convert_to_numpy(block(x, training=False)), x)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: BasicBlock(16, drop_path=1.0), r"`drop_path` must be a number in \[0, 1\)"),
        (lambda: BasicBlock(16, layer_scale=1e-5, rezero=True), "both scale the residual"),
        (
            lambda: BasicBlock(16, residual=False, layer_scale=1e-5),
            "layer_scale=1e-05 need residual",
        ),
        (lambda: BottleneckBlock(16, residual=False, drop_path=0.1), "drop_path=0.1"),
    ],
)
def test_bad_branch_options_say_what_is_allowed(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("block_class", [BasicBlock, BottleneckBlock])
def test_every_convolution_starts_from_its_own_random_kernel(block_class):
    # one shared unseeded initializer would give conv1 and conv2 equal kernels
    block = block_class(8, strides=2, shortcut="C")
    block(random_inputs((1, 8, 8, 8 * (4 if block_class is BottleneckBlock else 1))))
    kernels = [ops.convert_to_numpy(conv.kernel).reshape(-1) for conv in block.convs]
    kernels.append(ops.convert_to_numpy(block.shortcut_layer.projection.kernel).reshape(-1))
    for a, b in itertools.combinations(kernels, 2):
        size = min(a.size, b.size)
        assert abs(np.corrcoef(a[:size], b[:size])[0, 1]) < 0.5
