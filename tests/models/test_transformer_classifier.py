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


def small(**options) -> keras.Model:
    return transformer_classifier(VOCAB, LENGTH, CLASSES, num_layers=2, d_model=16,
                                  num_heads=2, ff_dim=32, **options)


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


def test_a_saved_classifier_predicts_the_same(tmp_path):
    model = small(causal=True)
    model.save(tmp_path / "transformer.keras")
    restored = keras.saving.load_model(tmp_path / "transformer.keras")
    assert isinstance(restored.get_layer("position_embedding"), PositionEmbedding)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(restored(tokens(4))),
        keras.ops.convert_to_numpy(model(tokens(4))),
        rtol=1e-5, atol=1e-5,
    )


@pytest.mark.parametrize(
    "options, message",
    [
        ({"d_model": 10, "num_heads": 4}, "`num_heads` must divide `d_model`.*d_model=10"),
        ({"norm": "sandwich"}, "`norm` must be one of 'pre', 'post'; got 'sandwich'"),
        ({"num_layers": 0}, "`num_layers` must be a positive integer, got 0"),
        ({"dropout": 1.0}, r"`dropout` must be a number in \[0, 1\), got 1.0"),
    ],
)
def test_bad_arguments_say_what_is_allowed(options, message):
    with pytest.raises(ValueError, match=message):
        transformer_classifier(VOCAB, LENGTH, CLASSES, **options)
