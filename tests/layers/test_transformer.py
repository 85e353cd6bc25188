"""Specification of reslib.layers.transformer: pre-LN and post-LN TransformerBlock, positions."""

import numpy as np
import pytest
from keras import ops

from reslib.layers.transformer import PositionEmbedding, TransformerBlock
from tests.layer_checks import check_layer, random_inputs, trainable_parameter_count

D_MODEL, HEADS, KEY_DIM, FF_DIM = 16, 2, 8, 32


def block(**options):
    return TransformerBlock(HEADS, KEY_DIM, FF_DIM, **options)


def kill_branches(layer: TransformerBlock) -> None:
    """Zero the attention's output projection and the last feed-forward layer: F(x) = 0."""
    for weight in layer.attention.weights + layer.feedforward_output.weights:
        if "attention_output" in weight.path or "feedforward_output" in weight.path:
            weight.assign(np.zeros(weight.shape))


@pytest.mark.parametrize(
    "options",
    [
        {"norm": "pre"},
        {"norm": "post", "dropout": 0.1, "causal": True},
        {"norm": "pre", "drop_path": 0.1, "layer_scale": 0.1},
    ],
)
def test_transformer_block_passes_the_layer_checks(options, tmp_path):
    def make(**kwargs):
        return block(**options, **kwargs)

    check_layer(make, (2, 5, D_MODEL), (2, 5, D_MODEL), tmp_path=tmp_path)


def test_position_embedding_passes_the_layer_checks(tmp_path):
    def make(**kwargs):
        return PositionEmbedding(8, **kwargs)

    check_layer(make, (2, 5, 4), (2, 5, 4), expected_trainable_parameters=8 * 4,
                tmp_path=tmp_path)


def test_parameter_count_matches_the_architecture():
    attention = 3 * (D_MODEL * HEADS * KEY_DIM + HEADS * KEY_DIM) + HEADS * KEY_DIM * D_MODEL
    attention += D_MODEL  # output bias
    feed_forward = D_MODEL * FF_DIM + FF_DIM + FF_DIM * D_MODEL + D_MODEL
    norms = 2 * 2 * D_MODEL
    layer = block()
    layer(random_inputs((1, 3, D_MODEL)))
    assert trainable_parameter_count(layer) == attention + feed_forward + norms


def test_pre_ln_block_with_killed_branches_returns_its_input_exactly():
    x = random_inputs((2, 5, D_MODEL))
    layer = block(norm="pre")
    layer(x)
    kill_branches(layer)
    np.testing.assert_array_equal(ops.convert_to_numpy(layer(x, training=False)), x)


def test_post_ln_block_with_killed_branches_normalises_its_input():
    x = 3.0 * random_inputs((2, 5, D_MODEL)) + 1.0
    layer = block(norm="post")
    layer(x)
    kill_branches(layer)
    y = ops.convert_to_numpy(layer(x, training=False))
    assert not np.allclose(y, x, atol=1e-3)
    np.testing.assert_allclose(y.mean(axis=-1), 0.0, atol=1e-5)
    np.testing.assert_allclose(y.std(axis=-1), 1.0, atol=1e-3)


def test_pre_ln_rezero_block_is_exactly_the_identity_at_init():
    x = random_inputs((2, 5, D_MODEL))
    np.testing.assert_array_equal(
        ops.convert_to_numpy(block(norm="pre", rezero=True)(x, training=True)), x
    )


def test_post_ln_rezero_block_is_not_the_identity_at_init():
    x = random_inputs((2, 5, D_MODEL))
    assert not np.allclose(ops.convert_to_numpy(block(norm="post", rezero=True)(x)), x)


def test_pre_ln_block_with_layer_scale_near_zero_is_numerically_the_identity():
    x = random_inputs((2, 5, D_MODEL))
    y = ops.convert_to_numpy(block(layer_scale=1e-12)(x))
    np.testing.assert_allclose(y, x, rtol=0, atol=1e-9)


def test_pre_ln_block_with_drop_path_near_one_is_the_identity_in_training():
    x = random_inputs((4, 5, D_MODEL))
    layer = block(drop_path=0.999999)
    np.testing.assert_array_equal(ops.convert_to_numpy(layer(x, training=True)), x)
    assert not np.allclose(ops.convert_to_numpy(layer(x, training=False)), x)


@pytest.mark.parametrize("causal", [True, False])
def test_causal_output_at_t_ignores_later_tokens(causal):
    t = 3
    x = random_inputs((2, 7, D_MODEL))
    changed = x.copy()
    changed[:, t + 1:] = random_inputs((2, 7 - t - 1, D_MODEL), seed=5)
    layer = block(causal=causal)
    y, y_changed = (ops.convert_to_numpy(layer(v)) for v in (x, changed))
    assert not np.allclose(y[:, t + 1:], y_changed[:, t + 1:])
    if causal:
        np.testing.assert_allclose(y[:, : t + 1], y_changed[:, : t + 1], rtol=1e-6, atol=1e-6)
    else:  # without the mask every position attends to the later tokens too
        assert not np.allclose(y[:, : t + 1], y_changed[:, : t + 1], atol=1e-4)


def test_position_embedding_returns_one_learned_vector_per_position():
    layer = PositionEmbedding(6)
    x = random_inputs((3, 4, 5))
    y = ops.convert_to_numpy(layer(x))
    table = ops.convert_to_numpy(layer.embeddings)
    np.testing.assert_array_equal(y, np.broadcast_to(table[:4], (3, 4, 5)))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: block(norm="middle"), "`norm` must be one of 'pre', 'post'; got 'middle'"),
        (lambda: TransformerBlock(0, 8, 32), "`num_heads` must be a positive integer, got 0"),
        (lambda: block(dropout=1.5), r"`dropout` must be a number in \[0, 1\), got 1.5"),
        (lambda: block(layer_scale=1e-5, rezero=True), "both scale the residual branch"),
        (lambda: PositionEmbedding(0), "`sequence_length` must be a positive integer, got 0"),
    ],
)
def test_bad_arguments_say_what_is_allowed(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_inputs_must_be_sequences_of_known_width():
    with pytest.raises(ValueError, match=r"\(batch, sequence, d_model\).*got shape \(2, 16\)"):
        block()(random_inputs((2, 16)))


def test_position_embedding_refuses_sequences_longer_than_its_table():
    with pytest.raises(ValueError, match=r"sequence_length=4\) cannot embed 6 positions"):
        PositionEmbedding(4)(random_inputs((1, 6, 3)))
