"""Specification of reslib.diagnostics: gradients, Jacobians, lesions, landscapes and probes."""

import keras
import numpy as np
import pytest
from keras import ops

from reslib.diagnostics import (
    block_jacobian,
    filter_normalized_direction,
    gate_statistics,
    gradient_norm_ratio,
    gradient_norms,
    jacobian,
    jacobian_singular_values,
    lesion_study,
    loss_landscape,
    path_lengths,
    residual_stream_norms,
    vector_jacobian_product,
)
from reslib.layers import BasicBlock, Residual
from reslib.models import cifar_resnet, highway_net, transformer_classifier
from tests.layer_checks import random_inputs


def weights_of(model):
    return [ops.convert_to_numpy(w).copy() for w in model.weights]


def assert_weights_equal(before, model):
    for old, new in zip(before, weights_of(model)):
        np.testing.assert_array_equal(old, new)


def residual_mlp(residual=True, depth=4, width=16, features=16, classes=4):
    """Dense projection, ``depth`` (plain or residual) Dense-ReLU blocks, logits."""
    inputs = keras.Input((features,))
    x = keras.layers.Dense(width, activation="relu", name="projection")(inputs)
    for index in range(1, depth + 1):
        branch = keras.layers.Dense(width, activation="relu")
        x = Residual(branch, residual=residual, name=f"block{index}")(x)
    outputs = keras.layers.Dense(classes, name="classifier")(x)
    return keras.Model(inputs, outputs)


def blobs(seed, n=256, features=16, classes=4):
    """Gaussian clusters: an easy classification problem that trains in a few epochs."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((classes, features))
    y = rng.integers(0, classes, n)
    return (centers[y] + 0.7 * rng.standard_normal((n, features))).astype("float32"), y


# --- vector-Jacobian products and Jacobians ---------------------------------------------------


def test_jacobian_of_a_linear_layer_is_its_transposed_kernel():
    layer = keras.layers.Dense(3, use_bias=False)
    x = random_inputs((1, 4))
    layer(x)
    np.testing.assert_allclose(jacobian(layer, x), ops.convert_to_numpy(layer.kernel).T, atol=1e-6)


def test_vector_jacobian_product_of_a_square_is_twice_the_input_times_the_vector():
    x, v = random_inputs((2, 3)), random_inputs((2, 3), seed=1)
    np.testing.assert_allclose(vector_jacobian_product(lambda t: t * t, x, v), 2 * x * v, rtol=1e-6)


def test_jacobian_takes_one_example_only():
    with pytest.raises(ValueError, match=r"one example of shape \(1, \.\.\.\); got \(2, 4\)"):
        jacobian(lambda t: t, random_inputs((2, 4)))


def test_gradient_norm_ratio_of_a_doubling_is_two_and_its_relative_form_one():
    x = random_inputs((4, 5))
    assert gradient_norm_ratio(lambda t: 2.0 * t, x) == pytest.approx(2.0, rel=1e-6)
    assert gradient_norm_ratio(lambda t: 2.0 * t, x, relative=True) == pytest.approx(1.0, rel=1e-6)


def test_block_jacobian_of_a_zero_init_block_is_the_identity_with_unit_singular_values():
    block = BasicBlock(4, preact=True, zero_init_residual=True)
    x = random_inputs((1, 3, 3, 4))
    block(x)
    np.testing.assert_array_equal(block_jacobian(block, x), np.eye(36))
    np.testing.assert_allclose(jacobian_singular_values(block, x), np.ones(36), rtol=1e-6)


def test_singular_values_of_a_linear_residual_are_those_of_identity_plus_kernel():
    block = Residual(keras.layers.Dense(5, use_bias=False))
    x = random_inputs((1, 5))
    block(x)
    kernel = ops.convert_to_numpy(block.branch.kernel)
    expected = np.linalg.svd(np.eye(5) + kernel, compute_uv=False)
    np.testing.assert_allclose(jacobian_singular_values(block, x), expected, rtol=1e-5)
    assert not np.allclose(expected, 1.0)  # the branch does change the singular values


# --- gradient norms per layer -----------------------------------------------------------------


def test_gradient_norms_give_one_entry_per_layer_in_call_order_all_finite():
    model = residual_mlp(depth=3)
    x, y = blobs(0, n=16)
    result = gradient_norms(model, x, y)
    assert result.layers == ("projection", "block1", "block2", "block3", "classifier")
    blocks = result.select("Residual")
    assert blocks.layers == ("block1", "block2", "block3")
    assert np.all(np.isfinite(result.weights)) and np.all(result.weights > 0)
    assert np.all(np.isfinite(result.activations)) and np.all(result.activations > 0)
    assert np.isfinite(result.loss)


def test_gradient_norms_of_a_linear_layer_match_the_closed_form():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="linear")])
    x, y = random_inputs((8, 3)), random_inputs((8, 2), seed=1)
    kernel, bias = (ops.convert_to_numpy(w) for w in model.layers[0].weights)
    residual = 2.0 * (x @ kernel + bias - y) / y.size  # d mean((xW + b - y)^2) / d output
    expected_weights = np.sqrt(np.sum((x.T @ residual) ** 2) + np.sum(residual.sum(0) ** 2))
    result = gradient_norms(model, x, y, loss="mse")
    assert result.layers == ("linear",) and result.kinds == ("Dense",)
    assert result.weights[0] == pytest.approx(expected_weights, rel=1e-5)
    assert result.activations[0] == pytest.approx(np.linalg.norm(residual @ kernel.T), rel=1e-5)


def test_gradient_norms_in_training_mode_leave_batch_norm_statistics_unchanged():
    inputs = keras.Input((6,))
    x = keras.layers.Dense(8, name="dense")(inputs)
    x = keras.layers.BatchNormalization(name="norm")(x)
    x = keras.layers.ReLU(name="relu")(x)
    x = Residual(keras.layers.Dense(8), name="block")(x)
    model = keras.Model(inputs, keras.layers.Dense(3, name="classifier")(x))
    x, y = 3.0 + random_inputs((8, 6)), np.arange(8) % 3
    before = weights_of(model)
    result = gradient_norms(model, x, y, training=True)
    assert_weights_equal(before, model)  # moving mean and variance included
    # layers without weights (ReLU) have no weight norm but do have an input gradient
    relu = result.layers.index("relu")
    assert np.isnan(result.weights[relu]) and result.activations[relu] > 0


# --- lesion study and path lengths ------------------------------------------------------------


def test_lesion_of_a_zero_init_block_changes_neither_loss_nor_error():
    model = cifar_resnet(14, input_shape=(4, 4, 3), zero_init_residual=True)
    x, y = random_inputs((4, 4, 4, 3)), np.arange(4)
    before = weights_of(model)
    result = lesion_study(model, x, y)
    assert result.blocks == ("stage1_block1", "stage1_block2", "stage2_block2", "stage3_block2")
    np.testing.assert_array_equal(result.losses, np.full(4, result.baseline_loss))
    np.testing.assert_array_equal(result.errors, np.full(4, result.baseline_error))
    assert_weights_equal(before, model)


def test_lesion_skips_blocks_that_change_the_shape_and_says_why():
    model = cifar_resnet(8, input_shape=(8, 8, 3))
    result = lesion_study(model, random_inputs((4, 8, 8, 3)), np.arange(4))
    assert result.blocks == ("stage1_block1",)
    assert set(result.skipped) == {"stage2_block1", "stage3_block1"}
    assert "changes the shape (None, 8, 8, 16) -> (None, 4, 4, 32)" in result.skipped[
        "stage2_block1"
    ]


def test_lesion_study_rejects_unknown_block_names():
    model = residual_mlp(depth=2)
    with pytest.raises(ValueError, match=r"no top-level layers named \['block9'\]"):
        lesion_study(model, *blobs(0, n=4), blocks=["block1", "block9"])


def test_deleting_a_block_hurts_a_trained_plain_net_far_more_than_its_residual_twin():
    # Veit et al. 2016, Fig. 3. Measured over 9 seeds (TF and JAX): mean error after one
    # deletion 0.2-8% for the residual MLP and 53-87% for the plain one; both train to <1%.
    x, y = blobs(0)
    mean_lesion_error = {}
    for residual in (True, False):
        model = residual_mlp(residual=residual)
        model.compile(
            keras.optimizers.Adam(0.01), keras.losses.SparseCategoricalCrossentropy(True)
        )
        model.fit(x, y, epochs=6, batch_size=32, verbose=0)
        result = lesion_study(model, x, y)
        assert result.blocks == ("block1", "block2", "block3", "block4")
        assert result.baseline_error < 0.05
        mean_lesion_error[residual] = result.errors.mean()
    assert mean_lesion_error[True] < 0.2 < 0.4 < mean_lesion_error[False]


def test_path_lengths_count_2_to_the_n_paths_with_mean_n_over_2():
    paths = path_lengths(10)
    np.testing.assert_array_equal(paths.lengths, np.arange(11))
    assert paths.counts.sum() == 2**10 and paths.counts[3] == 120  # C(10, 3)
    assert paths.mean == pytest.approx(5.0)
    np.testing.assert_allclose(paths.fractions, paths.counts / 2**10)


def test_most_paths_of_resnet_110_are_19_to_35_blocks_long():
    paths = path_lengths(54)  # Veit et al. 2016, section 5: 95% of the paths
    assert paths.fractions.sum() == pytest.approx(1.0)
    assert paths.mean == pytest.approx(27.0)
    assert paths.fractions[19:36].sum() > 0.95


def test_path_lengths_reject_a_negative_number_of_blocks():
    with pytest.raises(ValueError, match=r"`n_blocks` must be an integer in \[0, 1000\], got -1"):
        path_lengths(-1)


# --- loss landscape ---------------------------------------------------------------------------


def test_loss_landscape_at_alpha_zero_is_the_model_loss_and_weights_are_restored():
    model = residual_mlp(depth=2)
    x, y = blobs(0, n=32)
    before = weights_of(model)
    result = loss_landscape(model, x, y, steps=5)
    expected = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, model(x))
    np.testing.assert_allclose(result.alphas, [-1.0, -0.5, 0.0, 0.5, 1.0])
    assert result.losses[2] == pytest.approx(float(expected), rel=1e-5)
    assert result.losses[0] > result.losses[2] and result.losses[4] > result.losses[2]
    assert_weights_equal(before, model)


def test_2d_loss_landscape_contains_the_1d_slice_along_its_first_direction():
    model = residual_mlp(depth=1)
    x, y = blobs(0, n=16)
    line = loss_landscape(model, x, y, steps=3, seed=3)
    grid = loss_landscape(model, x, y, steps=3, seed=3, two_d=True)
    assert grid.losses.shape == (3, 3) and grid.errors.shape == (3, 3)
    np.testing.assert_allclose(grid.losses[:, 1], line.losses, rtol=1e-6)


def test_filter_normalized_direction_has_the_filter_norms_of_the_weights_and_ignores_biases():
    layer = keras.layers.Conv2D(3, 2)
    layer.build((None, 5, 5, 2))
    kernel_direction, bias_direction = filter_normalized_direction(layer.weights, seed=0)
    kernel = ops.convert_to_numpy(layer.kernel)
    np.testing.assert_allclose(
        np.linalg.norm(kernel_direction.reshape(-1, 3), axis=0),
        np.linalg.norm(kernel.reshape(-1, 3), axis=0),
        rtol=1e-5,
    )
    np.testing.assert_array_equal(bias_direction, np.zeros(3))


def test_loss_landscape_rejects_directions_of_the_wrong_shape():
    model = residual_mlp(depth=1)
    with pytest.raises(ValueError, match="one array per trainable variable"):
        loss_landscape(model, *blobs(0, n=4), directions=[np.zeros((2, 2))])


# --- highway gates and the transformer's residual stream ---------------------------------------


def test_gate_statistics_lie_in_0_1_and_equal_sigmoid_of_the_gate_bias_for_small_inputs():
    model = highway_net(depth=3, width=8, input_shape=(6,), gate_bias=-2.0)
    stats = gate_statistics(model, 1e-3 * random_inputs((16, 6)))
    assert stats.layers == ("highway1", "highway2", "highway3")
    assert np.all(stats.min > 0) and np.all(stats.max < 1)
    np.testing.assert_allclose(stats.mean, 1 / (1 + np.exp(2.0)), atol=1e-3)
    assert stats.per_unit.shape == (3, 8)


def test_gate_statistics_need_highway_layers():
    with pytest.raises(ValueError, match="has no Highway layers"):
        gate_statistics(residual_mlp(depth=1), random_inputs((2, 16)))


def test_residual_stream_grows_with_depth_in_pre_ln_and_stays_normalised_in_post_ln():
    # Xiong et al. 2020, section 3. Measured at init over 20 seeds (4 blocks, d_model 16): the
    # pre-LN stream grew at every block (ratios 1.02 to 3.4); post-LN is sqrt(d_model) = 4.
    tokens = np.random.default_rng(0).integers(0, 50, (8, 8))
    sizes = dict(num_layers=4, d_model=16, num_heads=2, ff_dim=32)
    pre = residual_stream_norms(transformer_classifier(50, 8, 2, norm="pre", **sizes), tokens)
    assert pre.names == ("embedding", "block1", "block2", "block3", "block4")
    assert np.all(np.diff(pre.norms) > 0) and pre.norms[-1] > 3 * pre.norms[0]
    post = residual_stream_norms(transformer_classifier(50, 8, 2, norm="post", **sizes), tokens)
    np.testing.assert_allclose(post.norms[1:], 4.0, rtol=1e-3)


def test_probes_say_which_layers_a_model_has_when_it_has_none_of_the_probed_kind():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="only_dense")])
    with pytest.raises(ValueError, match=r"no Highway layers at its top level; .*'only_dense'"):
        gate_statistics(model, np.zeros((2, 4), "float32"))
    with pytest.raises(ValueError, match=r"no TransformerBlock layers at its top level"):
        residual_stream_norms(model, np.zeros((2, 4), "int32"))


def test_the_gradient_probe_sees_an_example_whose_softmax_probability_is_below_1e_7():
    # Keras' probability cross-entropy clips at 1e-7, which on JAX leaves such an example no
    # gradient; the probe's default loss must not.
    inputs = keras.Input((2,))
    outputs = keras.layers.Dense(2, activation="softmax", name="classifier")(inputs)
    model = keras.Model(inputs, outputs)
    model.get_layer("classifier").set_weights([np.array([[0.0, 30.0], [0.0, 0.0]]), np.zeros(2)])
    norms = gradient_norms(model, np.array([[1.0, 0.0]], "float32"), np.array([0]))
    assert norms.loss == pytest.approx(30.0, abs=1e-3)
    # kernel gradient x (p - onehot) = [[-1, 1], [0, 0]], bias gradient [-1, 1]: norm 2
    assert norms.weights[-1] == pytest.approx(2.0, rel=1e-3)
