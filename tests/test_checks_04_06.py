"""Specification of the self-checks of exercises 04-06 (reslib.checks.ex04, ex05, ex06): each
accepts a correct implementation (reslib's own layers where they fit) and rejects a typical
mistake with a message that points at it."""

import math

import keras
import numpy as np
import pytest
from keras import ops

from reslib.checks import CheckFailed, ex04, ex05, ex06
from reslib.layers import DenseBlock, DenseLayer, Highway, TransformerBlock, Transition
from reslib.models import cifar_densenet


def sequential(*layers):
    return keras.Sequential(list(layers))


def bn_relu():
    return [keras.layers.BatchNormalization(), keras.layers.ReLU()]


# ---- exercise 04: DenseNet --------------------------------------------------------------------


def test_channel_arithmetic_accepts_c0_plus_lk_and_floor_theta_c():
    ex04.check_channel_arithmetic(lambda c0, n, k: c0 + n * k, lambda c, t: int(c * t))


def test_channel_arithmetic_rejects_a_block_that_forgets_its_input():
    with pytest.raises(CheckFailed, match=r"c0 \+ L \* k"):
        ex04.check_channel_arithmetic(lambda c0, n, k: n * k, lambda c, t: int(c * t))


def test_channel_arithmetic_rejects_rounding_up_the_kept_channels():
    with pytest.raises(CheckFailed, match="floor"):
        ex04.check_channel_arithmetic(lambda c0, n, k: c0 + n * k, lambda c, t: math.ceil(c * t))


def test_dense_layer_check_accepts_reslibs_bc_layer():
    ex04.check_dense_layer(lambda k: DenseLayer(k, bottleneck=True))


def test_dense_layer_check_rejects_a_layer_without_the_bottleneck():
    with pytest.raises(CheckFailed, match="1x1 convolution to 4k"):
        ex04.check_dense_layer(lambda k: DenseLayer(k, bottleneck=False))


def test_dense_layer_check_rejects_post_activation_order():
    def conv_bn_relu(k):
        return sequential(
            keras.layers.Conv2D(4 * k, 1, use_bias=False), *bn_relu(),
            keras.layers.Conv2D(k, 3, padding="same", use_bias=False), *bn_relu(),
        )

    with pytest.raises(CheckFailed, match="batch norm first"):
        ex04.check_dense_layer(conv_bn_relu)


class _ChainedDenseBlock(keras.layers.Layer):
    """A mistake: each layer sees only the previous layer's new maps, not the concatenation."""

    def __init__(self, num_layers, growth_rate, **kwargs):
        super().__init__(**kwargs)
        self.dense_layers = [DenseLayer(growth_rate) for _ in range(num_layers)]

    def call(self, inputs, training=None):
        features, latest = inputs, inputs
        for layer in self.dense_layers:
            latest = layer(latest, training=training)
            features = ops.concatenate([features, latest], axis=-1)
        return features


class _NewMapsFirstBlock(DenseBlock):
    """A mistake: the new maps go in front of the features."""

    def call(self, inputs, training=None):
        features = inputs
        for layer in self.dense_layers:
            features = ops.concatenate([layer(features, training=training), features], axis=-1)
        return features


def test_dense_block_check_accepts_reslibs_dense_block():
    ex04.check_dense_block(lambda n, k: DenseBlock(n, k))


def test_dense_block_check_rejects_layers_that_see_only_the_previous_layer():
    with pytest.raises(CheckFailed, match="not only the previous layer's k maps"):
        ex04.check_dense_block(_ChainedDenseBlock)


def test_dense_block_check_rejects_new_maps_in_front_of_the_input():
    with pytest.raises(CheckFailed, match="input must come out unchanged in front"):
        ex04.check_dense_block(_NewMapsFirstBlock)


def test_transition_check_accepts_reslibs_transition():
    ex04.check_transition(lambda channels, theta: Transition(theta))


def test_transition_check_rejects_a_transition_without_pooling():
    def no_pool(channels, theta):
        return sequential(*bn_relu(), keras.layers.Conv2D(int(channels * theta), 1, use_bias=False))

    with pytest.raises(CheckFailed, match="2x2 average pooling"):
        ex04.check_transition(no_pool)


def test_cifar_densenet_check_accepts_reslibs_cifar_densenet():
    ex04.check_cifar_densenet(lambda n, k: cifar_densenet(depth=6 * n + 4, growth_rate=k))


def test_cifar_densenet_check_rejects_transitions_without_compression():
    with pytest.raises(CheckFailed, match="theta 0.5"):
        ex04.check_cifar_densenet(
            lambda n, k: cifar_densenet(depth=6 * n + 4, growth_rate=k, compression=1.0)
        )


# ---- exercise 05: highway networks ------------------------------------------------------------


def test_highway_mix_check_accepts_the_gated_sum():
    ex05.check_highway_mix(lambda x, h, t: t * h + (1 - t) * x)


def test_highway_mix_check_rejects_swapped_gates():
    with pytest.raises(CheckFailed, match="swapped"):
        ex05.check_highway_mix(lambda x, h, t: t * x + (1 - t) * h)


class _CarriesTheTransform(Highway):
    """A mistake: the carry gate multiplies H(x) and the transform gate multiplies x."""

    def call(self, inputs):
        gate = self.gate(inputs)
        return (1.0 - gate) * self.activation(self.transform(inputs)) + gate * inputs


def test_highway_layer_check_accepts_reslibs_highway():
    ex05.check_highway_layer(lambda gate_bias: Highway(gate_bias=gate_bias))


def test_highway_layer_check_rejects_a_gate_bias_that_is_not_used():
    with pytest.raises(CheckFailed, match=r"Constant\(gate_bias\)"):
        ex05.check_highway_layer(lambda gate_bias: Highway(gate_bias=0.0))


def test_highway_layer_check_rejects_a_carry_on_the_transform():
    with pytest.raises(CheckFailed, match="carry 1 - T multiplies x"):
        ex05.check_highway_layer(lambda gate_bias: _CarriesTheTransform(gate_bias=gate_bias))


def _gate_statistics(layers, x, propagate=True):
    gates = ex05.stack_gates(layers, x, propagate=propagate)
    return {name: np.array([reduce(g) for g in gates])
            for name, reduce in (("mean", np.mean), ("min", np.min), ("max", np.max))}


def test_gate_statistics_check_accepts_gates_measured_on_each_layers_input():
    ex05.check_gate_statistics(_gate_statistics)


def test_gate_statistics_check_rejects_gates_all_measured_on_x():
    with pytest.raises(CheckFailed, match="every gate was measured on x"):
        ex05.check_gate_statistics(lambda layers, x: _gate_statistics(layers, x, False))


def test_gate_bias_check_accepts_the_inverse_of_the_carry():
    ex05.check_gate_bias_for(lambda carry: math.log((1 - carry) / carry))


def test_gate_bias_check_rejects_the_wrong_sign():
    with pytest.raises(CheckFailed, match="needs a negative bias"):
        ex05.check_gate_bias_for(lambda carry: math.log(carry / (1 - carry)))


# ---- exercise 06: transformer residuals -------------------------------------------------------


def _sublayer(x, branch, norm, placement):
    if placement == "pre":
        return x + branch(norm(x))
    if placement == "post":
        return norm(x + branch(x))
    raise ValueError(f"placement must be 'pre' or 'post', got {placement!r}")


def test_residual_sublayer_check_accepts_both_placements():
    ex06.check_residual_sublayer(_sublayer)


def test_residual_sublayer_check_rejects_normalising_the_pre_ln_stream():
    def normalised_stream(x, branch, norm, placement):
        return norm(x) + branch(norm(x)) if placement == "pre" else _sublayer(x, branch, norm,
                                                                             placement)

    with pytest.raises(CheckFailed, match=r'"pre" computed LN\(x\) \+ F\(LN\(x\)\)'):
        ex06.check_residual_sublayer(normalised_stream)


def test_residual_sublayer_check_rejects_an_unknown_placement_without_error():
    def lenient(x, branch, norm, placement):
        return _sublayer(x, branch, norm, "post" if placement == "post" else "pre")

    with pytest.raises(AssertionError, match="should raise a ValueError"):
        ex06.check_residual_sublayer(lenient)


class _MisplacedNorm(TransformerBlock):
    """A mistake: pre-LN normalises the stream, post-LN normalises only the branch."""

    def _sublayer(self, x, branch, norm, scale, drop_path, training):
        if self.norm == "pre":
            return norm(x) + branch(norm(x), training)
        return x + norm(branch(x, training))


def _reslib_block(**kwargs):
    return TransformerBlock(kwargs.pop("num_heads"), kwargs.pop("key_dim"), kwargs.pop("ff_dim"),
                            **kwargs)


def test_transformer_block_check_accepts_reslibs_block():
    ex06.check_transformer_block(_reslib_block)


def test_transformer_block_check_rejects_a_normalised_pre_ln_stream():
    with pytest.raises(CheckFailed, match="must pass through unnormalised"):
        ex06.check_transformer_block(lambda **kwargs: _MisplacedNorm(
            kwargs.pop("num_heads"), kwargs.pop("key_dim"), kwargs.pop("ff_dim"), **kwargs))


def test_transformer_block_check_rejects_post_ln_that_normalises_only_the_branch():
    def post_only_misplaced(**kwargs):
        if kwargs["norm"] == "pre":
            return _reslib_block(**kwargs)
        return _MisplacedNorm(kwargs.pop("num_heads"), kwargs.pop("key_dim"),
                              kwargs.pop("ff_dim"), **kwargs)

    with pytest.raises(CheckFailed, match="post-LN ends each sublayer with LN"):
        ex06.check_transformer_block(post_only_misplaced)


def _stream_norms(blocks, x, per_token=True):
    norms, hidden = [], x
    for block in [None, *blocks]:
        hidden = hidden if block is None else block(hidden)
        values = ops.convert_to_numpy(hidden)
        norms.append(np.linalg.norm(values, axis=-1).mean() if per_token
                     else np.linalg.norm(values))
    return np.array(norms)


def test_stream_norms_check_accepts_the_mean_token_norm():
    ex06.check_stream_norms(_stream_norms)


def test_stream_norms_check_rejects_the_norm_of_the_whole_batch():
    with pytest.raises(CheckFailed, match="norm of the whole batch"):
        ex06.check_stream_norms(lambda blocks, x: _stream_norms(blocks, x, per_token=False))


class _Warmup(keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, peak, warmup_steps, offset=0.0):
        self.peak, self.warmup_steps, self.offset = peak, warmup_steps, offset

    def __call__(self, step):
        step = ops.cast(step, "float32") + self.offset
        return self.peak * ops.minimum(1.0, step / self.warmup_steps)


def test_warmup_check_accepts_a_linear_warmup_from_zero():
    ex06.check_warmup_schedule(_Warmup)


def test_warmup_check_rejects_a_warmup_that_is_one_step_ahead():
    with pytest.raises(CheckFailed, match="learning rate at step 0"):
        ex06.check_warmup_schedule(lambda peak, steps: _Warmup(peak, steps, offset=1.0))


def test_warmup_check_rejects_a_plain_function():
    with pytest.raises(CheckFailed, match="LearningRateSchedule"):
        ex06.check_warmup_schedule(lambda peak, steps: (lambda step: peak))
