"""Specification of reslib.layers.transformer: pre-LN and post-LN TransformerBlock, positions."""

import keras
import numpy as np
import pytest
from keras import ops

from reslib.layers.transformer import PositionEmbedding, TransformerBlock
from tests.layer_checks import check_layer, random_inputs, trainable_parameter_count

D_MODEL, HEADS, KEY_DIM, FF_DIM = 16, 2, 8, 32
VOCAB = 20


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


def masked_stack(norm: str, causal: bool) -> keras.Model:
    """Embedding(mask_zero=True) -> two blocks -> (the sequence, pooled logits)."""
    tokens = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(VOCAB, D_MODEL, mask_zero=True)(tokens)
    for _ in range(2):  # the second block only sees the padding if the first passes the mask on
        x = block(norm=norm, causal=causal)(x)
    logits = keras.layers.Dense(3)(keras.layers.GlobalAveragePooling1D()(x))
    return keras.Model(tokens, [x, logits])


def padding_mask_of(lengths: tuple[int, ...], sequence: int) -> np.ndarray:
    return np.arange(sequence)[None, :] < np.array(lengths)[:, None]


# The shapes (2, 5, ...) and (2, 7, ...) are those of the tests above: on JAX every new shape
# compiles every operation again.
@pytest.mark.parametrize("norm, causal", [("pre", False), ("post", False), ("pre", True)])
def test_padding_changes_neither_the_outputs_at_real_tokens_nor_the_pooled_logits(norm, causal):
    model = masked_stack(norm, causal)
    lengths = (5, 3)  # token 0 is padding: the first row of `short` has none
    short = np.where(padding_mask_of(lengths, 5), np.arange(1, 6) * [[3], [7]] % VOCAB + 1, 0)
    long = np.pad(short, ((0, 0), (0, 2))).astype("int32")
    (short_sequences, short_logits), (long_sequences, long_logits) = (
        [ops.convert_to_numpy(v) for v in model(tokens)] for tokens in (short, long)
    )
    np.testing.assert_allclose(long_logits, short_logits, rtol=1e-5, atol=1e-5)
    for row, length in enumerate(lengths):
        np.testing.assert_allclose(long_sequences[row, :length], short_sequences[row, :length],
                                   rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("causal", [False, True])
def test_explicit_padding_mask_hides_the_padded_keys(causal):
    x = random_inputs((2, 7, D_MODEL))  # the padding holds random vectors, not zeros
    lengths = (5, 3)
    layer = block(causal=causal)
    y = ops.convert_to_numpy(layer(x, padding_mask=padding_mask_of(lengths, 7)))
    shorter = ops.convert_to_numpy(layer(x[:, :5], padding_mask=padding_mask_of(lengths, 5)))
    np.testing.assert_allclose(y[0, :5], ops.convert_to_numpy(layer(x[:, :5]))[0],
                               rtol=1e-5, atol=1e-5)  # the first row, unpadded
    np.testing.assert_allclose(y[1, :3], shorter[1, :3], rtol=1e-5, atol=1e-5)
    if not causal:  # (a causal block never sees the keys after a real token anyway)
        assert not np.allclose(ops.convert_to_numpy(layer(x))[1, :3], y[1, :3], atol=1e-4)


def test_attention_mask_and_padding_mask_both_restrict_the_keys():
    x = random_inputs((2, 7, D_MODEL))
    segments = np.zeros((2, 7, 7))  # tokens 0-4 see only each other, tokens 5-6 only themselves
    segments[:, :5, :5] = segments[:, 5:, 5:] = 1
    layer = block(norm="post")
    y = ops.convert_to_numpy(layer(x, attention_mask=segments))
    np.testing.assert_allclose(y[:, :5], ops.convert_to_numpy(layer(x[:, :5])),
                               rtol=1e-5, atol=1e-5)
    padding_mask = padding_mask_of((4, 4), 7)  # token 4 is padding too
    y = ops.convert_to_numpy(layer(x, padding_mask=padding_mask, attention_mask=segments))
    expected = ops.convert_to_numpy(layer(x[:, :5], padding_mask=padding_mask[:, :5]))
    np.testing.assert_allclose(y[:, :4], expected[:, :4], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "masks, message",
    [
        ({"padding_mask": np.ones((2, 5, 5))},
         r"`padding_mask` must have shape \(batch, sequence\) for inputs of shape \(2, 5, 16\); "
         r"got shape \(2, 5, 5\)"),
        ({"padding_mask": np.ones((2, 4))}, r"`padding_mask` must .* got shape \(2, 4\)"),
        ({"attention_mask": np.ones((2, 5))},
         r"`attention_mask` must have shape \(batch, sequence, sequence\).* got shape \(2, 5\)"),
        ({"attention_mask": np.ones((2, 5, 4))}, r"`attention_mask` .* got shape \(2, 5, 4\)"),
    ],
)
def test_masks_of_the_wrong_shape_say_which_shape_is_expected(masks, message):
    with pytest.raises(ValueError, match=message):
        block()(random_inputs((2, 5, D_MODEL)), **masks)


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
        (lambda: block(dropout=1.5), r"`dropout` must be a (finite )?number in \[0, 1\), got 1.5"),
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


def test_position_embedding_of_any_length_refuses_longer_sequences_when_called():
    inputs = keras.Input((None, 3))
    model = keras.Model(inputs, PositionEmbedding(4)(inputs))
    assert model(random_inputs((1, 4, 3))).shape == (1, 4, 3)
    with pytest.raises(ValueError, match=r"sequence_length=4\) cannot embed 6 positions"):
        model(random_inputs((1, 6, 3)))
