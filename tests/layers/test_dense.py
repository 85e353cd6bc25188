"""Specification of the DenseNet layers DenseLayer, DenseBlock, Transition (Huang et al. 2017)."""

import keras
import numpy as np
import pytest
from keras import ops

from reslib.layers.dense import DenseBlock, DenseLayer, Transition
from tests.layer_checks import check_layer, random_inputs, trainable_parameter_count

BN = 2  # trainable parameters per batch-norm channel (gamma, beta)


@pytest.mark.parametrize("bottleneck, dropout", [(True, 0.0), (False, 0.0), (True, 0.2)])
def test_dense_layer_passes_the_layer_checks(bottleneck, dropout, tmp_path):
    def make(**kwargs):
        return DenseLayer(4, bottleneck=bottleneck, dropout=dropout, **kwargs)

    check_layer(make, (2, 6, 6, 8), (2, 6, 6, 4), tmp_path=tmp_path)


@pytest.mark.parametrize("bottleneck", [True, False])
def test_dense_block_passes_the_layer_checks(bottleneck, tmp_path):
    def make(**kwargs):
        return DenseBlock(3, growth_rate=4, bottleneck=bottleneck, **kwargs)

    check_layer(make, (2, 6, 6, 8), (2, 6, 6, 8 + 3 * 4), tmp_path=tmp_path)


@pytest.mark.parametrize("compression, channels", [(0.5, 4), (1.0, 8)])
def test_transition_passes_the_layer_checks(compression, channels, tmp_path):
    def make(**kwargs):
        return Transition(compression, **kwargs)

    check_layer(make, (2, 6, 6, 8), (2, 3, 3, channels), tmp_path=tmp_path)


@pytest.mark.parametrize("c0, num_layers, k", [(8, 1, 4), (16, 3, 12), (24, 6, 12), (5, 4, 3)])
def test_dense_block_output_has_c0_plus_l_times_k_channels(c0, num_layers, k):
    block = DenseBlock(num_layers, growth_rate=k)
    outputs = block(random_inputs((1, 4, 4, c0)))
    assert outputs.shape == (1, 4, 4, c0 + num_layers * k)
    assert block.compute_output_shape((None, 4, 4, c0)) == (None, 4, 4, c0 + num_layers * k)


def test_dense_block_output_starts_with_its_input_untouched():
    x = random_inputs((2, 4, 4, 8))  # negative entries: no BN or ReLU on the concatenated path
    outputs = ops.convert_to_numpy(DenseBlock(3, growth_rate=4)(x, training=True))
    np.testing.assert_array_equal(outputs[..., :8], x)


def test_each_dense_layer_sees_the_input_and_all_earlier_layers_outputs():
    block = DenseBlock(4, growth_rate=12, bottleneck=False)
    block(random_inputs((1, 4, 4, 24)))
    seen = [layer.norms[0].gamma.shape[0] for layer in block.dense_layers]
    assert seen == [24, 36, 48, 60]


def test_dense_block_appends_each_layers_new_maps_in_order():
    x = random_inputs((2, 4, 4, 8))
    block = DenseBlock(2, growth_rate=4)
    outputs = ops.convert_to_numpy(block(x, training=False))
    first = ops.convert_to_numpy(block.dense_layers[0](x, training=False))
    second = ops.convert_to_numpy(block.dense_layers[1](outputs[..., :12], training=False))
    np.testing.assert_allclose(outputs[..., 8:12], first, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(outputs[..., 12:], second, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("bottleneck", [True, False])
def test_dense_layer_outputs_only_its_k_new_maps(bottleneck):
    layer = DenseLayer(12, bottleneck=bottleneck)
    assert layer(random_inputs((2, 8, 8, 64))).shape == (2, 8, 8, 12)


def test_bc_dense_layer_parameter_count_matches_the_paper_arithmetic():
    # DenseNet-121's first layer: 64 maps in, k = 32, bottleneck 4k = 128:
    # BN(64), 1x1 conv 64->128, BN(128), 3x3 conv 128->32, no biases
    c, k = 64, 32
    expected = BN * c + c * 4 * k + BN * 4 * k + 3 * 3 * 4 * k * k
    layer = DenseLayer(k)
    layer(random_inputs((1, 4, 4, c)))
    assert trainable_parameter_count(layer) == expected == 45440


def test_plain_dense_layer_parameter_count_is_bn_plus_one_3x3_conv():
    c, k = 24, 12
    layer = DenseLayer(k, bottleneck=False)
    layer(random_inputs((1, 4, 4, c)))
    assert trainable_parameter_count(layer) == BN * c + 3 * 3 * c * k == 2640


def test_bottleneck_width_sets_the_1x1_filters():
    layer = DenseLayer(8, bottleneck_width=2)
    layer(random_inputs((1, 4, 4, 16)))
    assert [conv.filters for conv in layer.convs] == [16, 8]
    assert [conv.kernel_size for conv in layer.convs] == [(1, 1), (3, 3)]


def test_transition_halves_channels_and_spatial_size_with_compression_half():
    transition = Transition(0.5)
    assert transition(random_inputs((2, 8, 8, 24))).shape == (2, 4, 4, 12)
    # floor on odd sizes, as keras.applications (valid 2x2 pooling, int(c * theta))
    assert Transition(0.5)(random_inputs((2, 9, 9, 25))).shape == (2, 4, 4, 12)
    assert transition.compute_output_shape((None, None, 9, 25)) == (None, None, 4, 12)


def test_transition_parameter_count_is_bn_plus_a_compressing_1x1_conv():
    transition = Transition(0.5)
    transition(random_inputs((1, 4, 4, 216)))  # DenseNet-BC-100's first transition
    assert trainable_parameter_count(transition) == BN * 216 + 216 * 108 == 23760


def test_transition_averages_2x2_windows_of_the_convolved_maps():
    x = random_inputs((1, 4, 4, 6))
    transition = Transition(1.0)
    outputs = ops.convert_to_numpy(transition(x, training=False))
    convolved = transition.convs[0](ops.relu(transition.norms[0](x, training=False)))
    convolved = ops.convert_to_numpy(convolved)
    expected = convolved.reshape(1, 2, 2, 2, 2, 6).mean(axis=(2, 4))
    np.testing.assert_allclose(outputs, expected, rtol=1e-5, atol=1e-5)


def test_convolutions_have_no_bias_and_distinct_he_normal_kernels():
    block = DenseBlock(3, growth_rate=8, bottleneck=False)
    block(random_inputs((1, 4, 4, 8)))
    convs = [layer.convs[0] for layer in block.dense_layers]
    assert all(not conv.use_bias for conv in convs)
    assert all(type(conv.kernel_initializer).__name__ == "HeNormal" for conv in convs)
    # one shared unseeded initializer would draw the same numbers for every layer
    firsts = [ops.convert_to_numpy(conv.kernel).ravel()[:16] for conv in convs]
    ratios = [np.corrcoef(firsts[0], other)[0, 1] for other in firsts[1:]]
    assert max(abs(r) for r in ratios) < 0.9


def test_dropout_is_active_in_training_only():
    x = random_inputs((2, 4, 4, 8))
    layer = DenseLayer(4, dropout=0.5)
    inference = [ops.convert_to_numpy(layer(x, training=False)) for _ in range(2)]
    np.testing.assert_array_equal(*inference)
    training = ops.convert_to_numpy(layer(x, training=True))
    assert not np.allclose(training, inference[0])


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: DenseLayer(0), "`growth_rate` must be a positive integer, got 0"),
        (lambda: DenseBlock(4, growth_rate=0), "`growth_rate` must be a positive integer, got 0"),
        (lambda: DenseBlock(0, growth_rate=12), "`num_layers` must be a positive integer, got 0"),
        (lambda: DenseLayer(12, bottleneck_width=0), "`bottleneck_width` must be a positive"),
        (lambda: DenseLayer(12, dropout=1.0), r"`dropout` must be a number in \[0, 1\), got 1.0"),
        (lambda: Transition(0.0), r"`compression` must be a number in \(0, 1\], got 0.0"),
        (lambda: Transition(1.5), r"`compression` must be a number in \(0, 1\], got 1.5"),
        (lambda: Transition(-0.5), r"`compression` must be a number in \(0, 1\], got -0.5"),
        (lambda: Transition("half"), r"`compression` must be a number in \(0, 1\], got 'half'"),
    ],
)
def test_bad_arguments_say_what_is_allowed(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize(
    "make", [lambda: DenseLayer(4), lambda: DenseBlock(2, growth_rate=4), lambda: Transition()]
)
def test_dense_family_refuses_inputs_that_are_not_images(make):
    with pytest.raises(ValueError, match=r"expects images of shape \(batch, height, width, chan"):
        make()(random_inputs((2, 8, 4)))


def test_transition_refuses_to_keep_zero_channels():
    with pytest.raises(ValueError, match=r"keeps floor\(1 \* 0.5\) = 0 of the input's 1 channels"):
        Transition(0.5)(random_inputs((1, 4, 4, 1)))


def test_dense_block_survives_a_keras_round_trip_inside_a_model(tmp_path):
    model = keras.Sequential(
        [keras.Input((8, 8, 6)), DenseBlock(2, growth_rate=4), Transition(0.5), DenseBlock(1, 4)]
    )
    x = random_inputs((2, 8, 8, 6))
    model.save(tmp_path / "dense.keras")
    restored = keras.saving.load_model(tmp_path / "dense.keras")
    np.testing.assert_allclose(
        ops.convert_to_numpy(restored(x, training=False)),
        ops.convert_to_numpy(model(x, training=False)),
        rtol=1e-5, atol=1e-5,
    )
