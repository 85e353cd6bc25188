"""Specification of reslib.models.transformer_classifier: pre-LN and post-LN encoder classifiers."""

import keras
import numpy as np
import pytest

from reslib.layers.transformer import PositionEmbedding, TransformerBlock
from reslib.models.transformer import transformer_classifier
from tests.layer_checks import trainable_parameter_count

VOCAB, LENGTH, CLASSES = 20, 12, 3


def tokens(batch: int = 16, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, VOCAB, (batch, LENGTH)).astype("int32")


def small(sequence_length: int | None = LENGTH, **options) -> keras.Model:
    return transformer_classifier(VOCAB, sequence_length, CLASSES, num_layers=2, d_model=16,
                                  num_heads=2, ff_dim=32, **options)


# The tests call the models on batches of shape (4, 12) and (4, 8) only: on JAX every new shape
# compiles every operation again.
def padded_tokens(lengths: tuple[int, ...], sequence: int, seed: int = 0) -> np.ndarray:
    """Tokens in [1, VOCAB) followed by the padding token 0, one row per length."""
    real = np.random.default_rng(seed).integers(1, VOCAB, (len(lengths), sequence))
    return np.where(np.arange(sequence) < np.array(lengths)[:, None], real, 0).astype("int32")


def test_output_is_one_logit_per_class():
    model = small()
    assert model.output_shape == (None, CLASSES)
    assert model(tokens(4)).shape == (4, CLASSES)


@pytest.mark.parametrize("norm", ["pre", "post"])
def test_only_the_pre_ln_stack_ends_with_a_final_layer_norm(norm):
    model = small(norm=norm)
    names = [layer.name for layer in model.layers]
    assert ("final_norm" in names) == (norm == "pre")
    assert names[-2:] == ["pool", "classifier"]
    blocks = [layer for layer in model.layers if isinstance(layer, TransformerBlock)]
    assert len(blocks) == 2 and all(block.norm == norm for block in blocks)


def test_parameter_count_is_embeddings_blocks_final_norm_and_classifier():
    d_model, ff_dim = 16, 32
    block = 4 * (d_model * d_model + d_model) + 2 * d_model * ff_dim + ff_dim + d_model
    block += 2 * 2 * d_model
    embeddings = VOCAB * d_model + LENGTH * d_model
    head = 2 * d_model + d_model * CLASSES + CLASSES
    assert trainable_parameter_count(small()) == embeddings + 2 * block + head
    assert trainable_parameter_count(small(norm="post")) == embeddings + 2 * block + head - 32
    longest = small(None, max_sequence_length=3 * LENGTH)  # one position vector per position
    more_positions = 2 * LENGTH * d_model
    assert trainable_parameter_count(longest) == embeddings + more_positions + 2 * block + head


@pytest.mark.parametrize("norm", ["pre", "post"])
def test_a_few_training_steps_give_a_finite_decreasing_loss(norm):
    x = tokens(32)
    y = (x[:, 0] % CLASSES).astype("int32")  # the class is written in the first token
    model = small(norm=norm, dropout=0.1)
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        run_eagerly=True,  # compiling takes longer than these few steps
    )
    losses = model.fit(x, y, epochs=6, batch_size=32, verbose=0).history["loss"]
    assert np.all(np.isfinite(losses))
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("norm", ["pre", "post"])
def test_padding_appended_to_a_sequence_leaves_its_logits_unchanged(norm):
    model = small(None, norm=norm, mask_zero=True, max_sequence_length=LENGTH)
    assert model.input_shape == (None, None)
    batch = padded_tokens((8, 5, 2, 1), LENGTH)  # a batch of sequences of different lengths
    logits = keras.ops.convert_to_numpy(model(batch))
    shorter = keras.ops.convert_to_numpy(model(batch[:, :8]))  # the first row is unpadded
    np.testing.assert_allclose(logits, shorter, rtol=1e-5, atol=1e-5)
    unmasked = small(None, norm=norm, max_sequence_length=LENGTH)
    unmasked.set_weights(model.get_weights())
    assert not np.allclose(keras.ops.convert_to_numpy(unmasked(batch)), logits, atol=1e-3)


def test_a_classifier_of_any_length_accepts_sequences_up_to_its_positions():
    model = small(None, max_sequence_length=LENGTH)
    assert model(tokens(4)[:, :8]).shape == model(tokens(4)).shape == (4, CLASSES)
    assert model.get_layer("position_embedding").sequence_length == LENGTH
    with pytest.raises(ValueError, match=r"sequence_length=12\) cannot embed 13 positions"):
        model(np.ones((4, LENGTH + 1), "int32"))


def test_num_classes_still_works_but_is_deprecated_for_classes():
    with pytest.warns(DeprecationWarning, match="use `classes`"):
        model = transformer_classifier(VOCAB, LENGTH, num_classes=CLASSES, num_layers=1,
                                       d_model=16, num_heads=2, ff_dim=32)
    assert model.output_shape == (None, CLASSES)


def test_a_saved_masked_classifier_of_any_length_predicts_the_same(tmp_path):
    model = small(None, causal=True, mask_zero=True, max_sequence_length=LENGTH)
    model.save(tmp_path / "transformer.keras")
    restored = keras.saving.load_model(tmp_path / "transformer.keras")
    assert isinstance(restored.get_layer("position_embedding"), PositionEmbedding)
    batch = padded_tokens((12, 7, 3, 1), LENGTH)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(restored(batch)),
        keras.ops.convert_to_numpy(model(batch)),
        rtol=1e-5, atol=1e-5,
    )


@pytest.mark.parametrize(
    "options, message",
    [
        ({"d_model": 10, "num_heads": 4}, "`num_heads` must divide `d_model`.*d_model=10"),
        ({"norm": "sandwich"}, "`norm` must be one of 'pre', 'post'; got 'sandwich'"),
        ({"num_layers": 0}, "`num_layers` must be a positive integer, got 0"),
        ({"dropout": 1.0}, r"`dropout` must be a (finite )?number in \[0, 1\), got 1.0"),
        ({"num_classes": 3}, "Pass the number of classes once.*classes=3 and num_classes=3"),
        ({"max_sequence_length": 8}, "at most `max_sequence_length`.*sequence_length=12"),
        ({"sequence_length": None}, "`max_sequence_length`.* is required when `sequence_length` "
                                    "is None"),
        ({"classes": None}, "`classes` must be a positive integer, got None"),
    ],
)
def test_bad_arguments_say_what_is_allowed(options, message):
    arguments = {"vocab_size": VOCAB, "sequence_length": LENGTH, "classes": CLASSES, **options}
    with pytest.raises(ValueError, match=message):
        transformer_classifier(**arguments)
