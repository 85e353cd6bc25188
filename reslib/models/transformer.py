"""A small transformer encoder classifier, pre-LN or post-LN, for the warm-up experiment.

Vaswani et al., "Attention Is All You Need", NeurIPS 2017 (post-LN) and Xiong et al., "On Layer
Normalization in the Transformer Architecture", ICML 2020 (pre-LN): a post-LN transformer
trained without learning-rate warm-up lags or diverges, a pre-LN one does not (lesson 06).
"""

from __future__ import annotations

import warnings

import keras

from reslib import _validation as check
from reslib.layers.transformer import NORM_PLACEMENTS, PositionEmbedding, TransformerBlock

LAYER_NORM_EPSILON = 1e-6


def transformer_classifier(
    vocab_size: int,
    sequence_length: int | None,
    classes: int | None = None,
    num_layers: int = 4,
    d_model: int = 64,
    num_heads: int = 4,
    ff_dim: int = 128,
    norm: str = "pre",
    dropout: float = 0.0,
    causal: bool = False,
    name: str | None = None,
    mask_zero: bool = False,
    max_sequence_length: int | None = None,
    num_classes: int | None = None,
) -> keras.Model:
    """Token and position embeddings, ``num_layers`` ``TransformerBlock``s, mean pooling, logits.

    ``tokens -> Embedding(vocab_size, d_model) + PositionEmbedding -> dropout -> blocks ->
    [final LayerNorm] -> mean over the sequence -> Dense(classes)``. The final LayerNorm is
    there for ``norm="pre"`` only: a pre-LN stack never normalises its residual stream, whose
    norm grows with depth (Xiong et al. 2020), while a post-LN block already ends in one.

    With ``mask_zero=True`` token 0 is padding, as in ``keras.layers.Embedding``: its Keras mask
    goes through every block (the attention ignores padded keys) to the mean pooling, which
    averages over the real tokens only, so padding appended to a sequence leaves its logits
    unchanged. Pad at the end: padding in front would shift the positions. A sequence of
    padding only has no mean (its logits are NaN).

    Args:
        vocab_size: number of token ids; inputs are integers in ``[0, vocab_size)``.
        sequence_length: tokens per example, or ``None`` for sequences of any length up to
            ``max_sequence_length`` (batches of different lengths).
        classes: size of the output (``keras.applications``' name).
        num_layers: transformer blocks.
        d_model: width of the residual stream; each of the ``num_heads`` heads has
            ``d_model // num_heads`` dimensions, so ``num_heads`` must divide it.
        num_heads: attention heads per block.
        ff_dim: hidden units of each block's feed-forward network.
        norm: ``"pre"`` (Xiong et al. 2020) or ``"post"`` (Vaswani et al. 2017).
        dropout: on the embeddings, the attention weights and the end of every branch.
        causal: causal self-attention (each position sees only itself and earlier ones).
        name: model name; default ``transformer_{norm}ln``.
        mask_zero: token 0 is padding, masked in the attention and the pooling.
        max_sequence_length: the longest sequence, the positions of the position embedding;
            default ``sequence_length`` (required when that is ``None``).
        num_classes: deprecated name of ``classes``.

    Returns:
        A ``keras.Model`` mapping int tokens ``(batch, sequence_length)`` to logits
        ``(batch, classes)`` (train with ``from_logits=True``).

    Example:
        >>> transformer_classifier(100, 16, 2, num_layers=1).output_shape
        (None, 2)
        >>> transformer_classifier(100, None, 2, num_layers=1, mask_zero=True,
        ...                        max_sequence_length=64).input_shape
        (None, None)
    """
    classes = _classes(classes, num_classes)
    vocab_size = check.positive_int("vocab_size", vocab_size)
    sequence_length, max_sequence_length = _sequence_lengths(sequence_length, max_sequence_length)
    num_layers = check.positive_int("num_layers", num_layers)
    d_model = check.positive_int("d_model", d_model)
    num_heads = check.positive_int("num_heads", num_heads)
    ff_dim = check.positive_int("ff_dim", ff_dim)
    norm = check.one_of("norm", norm, NORM_PLACEMENTS)
    dropout = check.rate("dropout", dropout)
    causal = check.boolean("causal", causal)
    mask_zero = check.boolean("mask_zero", mask_zero)
    name = check.model_name("name", name)
    if d_model % num_heads:
        raise ValueError(
            f"`num_heads` must divide `d_model` (each head gets d_model // num_heads "
            f"dimensions); got d_model={d_model}, num_heads={num_heads}."
        )

    inputs = keras.Input(shape=(sequence_length,), dtype="int32", name="tokens")
    tokens = keras.layers.Embedding(
        vocab_size, d_model, mask_zero=mask_zero, name="token_embedding"
    )(inputs)
    positions = PositionEmbedding(max_sequence_length, name="position_embedding")(tokens)
    x = keras.layers.Add(name="embedding")([tokens, positions])
    x = keras.layers.Dropout(dropout, name="embedding_dropout")(x)
    for index in range(1, num_layers + 1):
        x = TransformerBlock(
            num_heads, d_model // num_heads, ff_dim, norm=norm, dropout=dropout, causal=causal,
            epsilon=LAYER_NORM_EPSILON, name=f"block{index}",
        )(x)
    if norm == "pre":
        x = keras.layers.LayerNormalization(epsilon=LAYER_NORM_EPSILON, name="final_norm")(x)
    x = keras.layers.GlobalAveragePooling1D(name="pool")(x)  # over the unmasked tokens
    outputs = keras.layers.Dense(classes, name="classifier")(x)
    return keras.Model(inputs, outputs, name=name or f"transformer_{norm}ln")


def _classes(classes: int | None, num_classes: int | None) -> int:
    """``classes``, or the deprecated ``num_classes`` with a ``DeprecationWarning``."""
    if num_classes is not None:
        if classes is not None:
            raise ValueError(
                "Pass the number of classes once, as `classes` (`num_classes` is its deprecated "
                f"name); got classes={classes!r} and num_classes={num_classes!r}."
            )
        warnings.warn(
            "transformer_classifier(num_classes=...) is deprecated; use `classes`, the name "
            "keras.applications and reslib's other builders use.",
            DeprecationWarning,
            stacklevel=3,
        )
        classes = num_classes
    return check.positive_int("classes", classes)


def _sequence_lengths(
    sequence_length: int | None, max_sequence_length: int | None
) -> tuple[int | None, int]:
    """The input's length (``None``: any) and the positions to embed, which default to it."""
    if sequence_length is not None:
        sequence_length = check.positive_int("sequence_length", sequence_length)
    if max_sequence_length is None:
        if sequence_length is None:
            raise ValueError(
                "`max_sequence_length` (the positions of the position embedding) is required "
                "when `sequence_length` is None (sequences of any length); got "
                "max_sequence_length=None."
            )
        return sequence_length, sequence_length
    max_sequence_length = check.positive_int("max_sequence_length", max_sequence_length)
    if sequence_length is not None and sequence_length > max_sequence_length:
        raise ValueError(
            f"`sequence_length` must be at most `max_sequence_length`; got "
            f"sequence_length={sequence_length}, max_sequence_length={max_sequence_length}."
        )
    return sequence_length, max_sequence_length
