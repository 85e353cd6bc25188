"""The transformer's residual block, post-LN or pre-LN, and a learned position embedding.

* Vaswani, Shazeer, Parmar, Uszkoreit, Jones, Gomez, Kaiser and Polosukhin, "Attention Is All You
  Need", NeurIPS 2017 (Vaswani et al. 2017): the post-LN block, ``LN(x + Sublayer(x))``.
* Xiong, Yang, He, Zheng, Zheng, Xing, Zhang, Lan, Wang and Liu, "On Layer Normalization in the
  Transformer Architecture", ICML 2020 (Xiong et al. 2020): the pre-LN block,
  ``x + Sublayer(LN(x))``, whose gradients are well behaved at initialisation, so it trains
  without the learning-rate warm-up that the post-LN block needs.

Masking follows Keras and keras-hub's ``TransformerEncoder``: padded keys are ignored, and the
padding mask passes through the block to the layers after it (see ``TransformerBlock.call``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import keras
from keras import ops

from reslib import _validation as check
from reslib.layers.regularizers import (
    check_branch_options,
    make_branch_layers,
    scale_and_drop,
)

NORM_PLACEMENTS = ("pre", "post")


@keras.saving.register_keras_serializable(package="reslib")
class TransformerBlock(keras.layers.Layer):
    """Self-attention and a feed-forward network, each inside a residual connection.

    ``norm="post"`` (Vaswani et al. 2017, section 3.1)::

        x = LN(x + Attention(x))
        x = LN(x + FeedForward(x))

    ``norm="pre"`` (Xiong et al. 2020, Fig. 1b)::

        x = x + Attention(LN(x))
        x = x + FeedForward(LN(x))

    In a post-LN block every output is normalised. In a pre-LN block the residual stream
    ``x`` itself is never normalised: each block adds to it, so its norm grows with depth
    (Xiong et al. 2020, section 3), and a stack of pre-LN blocks **needs a final LayerNorm**
    after the last block. ``reslib.models.transformer_classifier`` adds it for ``norm="pre"``
    (and only then); stack these blocks yourself and you add it yourself.

    Each branch ends with dropout (Vaswani et al. 2017, section 5.4), then the optional
    LayerScale or ReZero and stochastic depth (see ``reslib.layers.regularizers``), then the
    addition. The feed-forward network is ``Dense(ff_dim, activation)`` then ``Dense(d_model)``.

    Args:
        num_heads: attention heads.
        key_dim: size of each head's queries and keys (``d_model // num_heads`` usually).
        ff_dim: hidden units of the feed-forward network (``4 * d_model`` in the paper).
        norm: ``"pre"`` or ``"post"``: where the LayerNorms sit.
        dropout: rate of the dropout on the attention weights and at the end of both branches.
        causal: mask the attention so that position ``t`` only sees positions ``<= t``
            (a decoder / language model).
        drop_path: stochastic depth on both branches (Huang et al. 2016), in [0, 1).
        layer_scale: ``None`` or the initial value of a ``LayerScale`` on both branches
            (Touvron et al. 2021).
        rezero: a ``ReZero`` scalar, starting at 0, on both branches (Bachlechner et al. 2020);
            with ``norm="pre"`` the block then starts as the identity.
        epsilon: of the LayerNorms (1e-6, as in ViT and keras-hub).
        activation: of the feed-forward network's hidden layer.

    Masking (as keras-hub's ``TransformerEncoder``): after ``Embedding(mask_zero=True)`` the
    inputs carry a Keras mask; the attention then ignores the padded keys, and the same mask
    comes out of the block, so a following block, ``GlobalAveragePooling1D`` or loss skips the
    padding too. An explicit ``padding_mask`` and a custom ``attention_mask`` can be passed to
    ``call``; all masks and ``causal`` are combined (a key is seen only where all allow it).
    The outputs at real positions do not depend on padding appended after the sequence; the
    outputs at padded positions are not meaningful.

    Input shape: ``(batch, sequence, d_model)`` with known ``d_model``.
    Output shape: the same.

    Example:
        >>> block = TransformerBlock(num_heads=2, key_dim=8, ff_dim=32)
        >>> tuple(block(keras.ops.ones((2, 5, 16))).shape)
        (2, 5, 16)
    """

    def __init__(
        self,
        num_heads: int,
        key_dim: int,
        ff_dim: int,
        norm: str = "pre",
        dropout: float = 0.0,
        causal: bool = False,
        drop_path: float = 0.0,
        layer_scale: float | None = None,
        rezero: bool = False,
        epsilon: float = 1e-6,
        activation: Any = "gelu",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.num_heads = check.positive_int("num_heads", num_heads)
        self.key_dim = check.positive_int("key_dim", key_dim)
        self.ff_dim = check.positive_int("ff_dim", ff_dim)
        self.norm = check.one_of("norm", norm, NORM_PLACEMENTS)
        self.dropout = check.rate("dropout", dropout)
        self.causal = check.boolean("causal", causal)
        self.drop_path, self.layer_scale, self.rezero = check_branch_options(
            drop_path, layer_scale, rezero
        )
        self.epsilon = check.positive_number("epsilon", epsilon)
        self.activation = check.activation("activation", activation)
        self.supports_masking = True  # the output keeps the inputs' padding mask

    def build(self, input_shape: tuple) -> None:
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(
                "TransformerBlock expects inputs of shape (batch, sequence, d_model) with known "
                f"d_model; got shape {tuple(input_shape)}."
            )
        d_model = input_shape[-1]
        self.attention_norm = self._layer_norm("attention_norm", input_shape)
        self.attention = keras.layers.MultiHeadAttention(
            self.num_heads, self.key_dim, dropout=self.dropout, name="attention",
            dtype=self.dtype_policy,
        )
        self.attention.build(input_shape, input_shape)
        self.attention_dropout = self._dropout("attention_dropout")
        self.attention_scale, self.attention_drop_path = make_branch_layers(
            self.drop_path, self.layer_scale, self.rezero, input_shape, self.dtype_policy,
            prefix="attention_",
        )
        self.feedforward_norm = self._layer_norm("feedforward_norm", input_shape)
        self.feedforward_intermediate = keras.layers.Dense(
            self.ff_dim, activation=self.activation, name="feedforward_intermediate",
            dtype=self.dtype_policy,
        )
        self.feedforward_intermediate.build(input_shape)
        self.feedforward_output = keras.layers.Dense(
            d_model, name="feedforward_output", dtype=self.dtype_policy
        )
        self.feedforward_output.build((*input_shape[:-1], self.ff_dim))
        self.feedforward_dropout = self._dropout("feedforward_dropout")
        self.feedforward_scale, self.feedforward_drop_path = make_branch_layers(
            self.drop_path, self.layer_scale, self.rezero, input_shape, self.dtype_policy,
            prefix="feedforward_",
        )

    def _layer_norm(self, name: str, input_shape: tuple) -> keras.layers.Layer:
        norm = keras.layers.LayerNormalization(
            epsilon=self.epsilon, name=name, dtype=self.dtype_policy
        )
        norm.build(input_shape)
        return norm

    def _dropout(self, name: str) -> keras.layers.Layer:
        return keras.layers.Dropout(self.dropout, name=name, dtype=self.dtype_policy)

    def call(
        self,
        inputs: Any,
        padding_mask: Any | None = None,
        attention_mask: Any | None = None,
        training: bool | None = None,
        mask: Any | None = None,
    ) -> Any:
        """Both residual sublayers, attention restricted by the masks.

        Args:
            inputs: ``(batch, sequence, d_model)``.
            padding_mask: ``(batch, sequence)``, true (or 1) at real tokens and false (or 0)
                at padding: no position attends to a padded key.
            attention_mask: ``(batch, sequence, sequence)``; entry ``[b, i, j]`` says whether
                position ``i`` may attend to position ``j``.
            training: dropout and drop path are active only in training.
            mask: the inputs' Keras mask, ``(batch, sequence)``; Keras passes it (from
                ``Embedding(mask_zero=True)`` or ``Masking``) and it acts as a padding mask.

        Returns:
            ``(batch, sequence, d_model)``, carrying the inputs' Keras mask.
        """
        keep = attention_mask_for(inputs, padding_mask, attention_mask, mask)
        x = self._sublayer(
            inputs, functools.partial(self._attend, attention_mask=keep), self.attention_norm,
            self.attention_scale, self.attention_drop_path, training,
        )
        return self._sublayer(
            x, self._feed_forward, self.feedforward_norm, self.feedforward_scale,
            self.feedforward_drop_path, training,
        )

    def _sublayer(
        self,
        x: Any,
        branch: Callable[[Any, bool | None], Any],
        norm: keras.layers.Layer,
        scale: keras.layers.Layer | None,
        drop_path: keras.layers.Layer | None,
        training: bool | None,
    ) -> Any:
        """``x + F(LN(x))`` (pre-LN) or ``LN(x + F(x))`` (post-LN) for one branch ``F``."""
        if self.norm == "pre":
            return ops.add(x, scale_and_drop(branch(norm(x), training), scale, drop_path, training))
        return norm(ops.add(x, scale_and_drop(branch(x, training), scale, drop_path, training)))

    def _attend(self, x: Any, training: bool | None, attention_mask: Any | None = None) -> Any:
        outputs = self.attention(
            x, x, attention_mask=attention_mask, use_causal_mask=self.causal, training=training
        )
        return self.attention_dropout(outputs, training=training)

    def _feed_forward(self, x: Any, training: bool | None) -> Any:
        outputs = self.feedforward_output(self.feedforward_intermediate(x))
        return self.feedforward_dropout(outputs, training=training)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            num_heads=self.num_heads,
            key_dim=self.key_dim,
            ff_dim=self.ff_dim,
            norm=self.norm,
            dropout=self.dropout,
            causal=self.causal,
            drop_path=self.drop_path,
            layer_scale=self.layer_scale,
            rezero=self.rezero,
            epsilon=self.epsilon,
            activation=keras.activations.serialize(self.activation),
        )
        return config


def attention_mask_for(
    inputs: Any,
    padding_mask: Any | None = None,
    attention_mask: Any | None = None,
    keras_mask: Any | None = None,
) -> Any | None:
    """Merge padding masks and a custom attention mask into one boolean attention mask.

    As keras-hub's ``merge_padding_and_attention_mask``, but every given mask counts (a logical
    AND) instead of an explicit padding mask replacing the Keras mask.

    Args:
        inputs: the block's inputs ``(batch, sequence, d_model)`` (for the shape checks).
        padding_mask, keras_mask: ``(batch, sequence)``, true at the keys that may be seen.
        attention_mask: ``(batch, sequence, sequence)``, true where query ``i`` may see key ``j``.

    Returns:
        ``None`` when no mask is given, else a boolean ``(batch, 1 or sequence, sequence)``
        mask for ``keras.layers.MultiHeadAttention(attention_mask=...)``.
    """
    sequence = inputs.shape[1]
    keep = None
    for name, key_mask in (("padding_mask", padding_mask), ("mask", keras_mask)):
        if key_mask is None:
            continue
        _check_mask_shape(name, key_mask, (sequence,), "(batch, sequence)", inputs)
        key_mask = ops.expand_dims(ops.cast(key_mask, "bool"), axis=1)
        keep = key_mask if keep is None else ops.logical_and(keep, key_mask)
    if attention_mask is not None:
        _check_mask_shape("attention_mask", attention_mask, (sequence, sequence),
                          "(batch, sequence, sequence)", inputs)
        pairs = ops.cast(attention_mask, "bool")
        keep = pairs if keep is None else ops.logical_and(keep, pairs)
    return keep


def _check_mask_shape(
    name: str, mask: Any, expected: tuple, described: str, inputs: Any
) -> None:
    """A mask must have the rank of ``described`` and, where both are known, its lengths."""
    shape = tuple(mask.shape)
    fits = len(shape) == len(expected) + 1 and all(
        got is None or want is None or got == want for got, want in zip(shape[1:], expected)
    )
    if not fits:
        raise ValueError(
            f"`{name}` must have shape {described} for inputs of shape "
            f"{tuple(inputs.shape)}; got shape {shape}."
        )


@keras.saving.register_keras_serializable(package="reslib")
class PositionEmbedding(keras.layers.Layer):
    """A learned vector per position, returned in the shape of the inputs (add it to them).

    Learned absolute position embeddings, which Vaswani et al. 2017 (section 3.5) found to work
    as well as their sinusoids, as used by BERT, GPT and ViT. Like keras-hub's
    ``PositionEmbedding``, the layer returns the embeddings of positions ``0 .. sequence - 1``
    broadcast to the inputs' shape; the caller adds them to the token embeddings.

    Args:
        sequence_length: the longest sequence the layer accepts (one learned vector each).
        initializer: of the embedding table.

    Input shape: ``(batch, sequence, d_model)`` with ``sequence <= sequence_length``.
    Output shape: the same.

    Example:
        >>> tuple(PositionEmbedding(10)(keras.ops.ones((2, 4, 8))).shape)
        (2, 4, 8)
    """

    def __init__(
        self, sequence_length: int, initializer: Any = "glorot_uniform", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.sequence_length = check.positive_int("sequence_length", sequence_length)
        self.initializer = check.initializer("initializer", initializer)
        self.embeddings = None
        self.supports_masking = True  # padded positions stay padded

    def build(self, input_shape: tuple) -> None:
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(
                "PositionEmbedding expects inputs of shape (batch, sequence, d_model) with known "
                f"d_model; got shape {tuple(input_shape)}."
            )
        self._check_length(input_shape)
        self.embeddings = self.add_weight(
            name="embeddings",
            shape=(self.sequence_length, input_shape[-1]),
            initializer=self.initializer,
        )

    def _check_length(self, input_shape: tuple) -> None:
        if input_shape[1] is not None and input_shape[1] > self.sequence_length:
            raise ValueError(
                f"PositionEmbedding(sequence_length={self.sequence_length}) cannot embed "
                f"{input_shape[1]} positions (input shape {tuple(input_shape)}); raise "
                "sequence_length."
            )

    def call(self, inputs: Any) -> Any:
        self._check_length(tuple(inputs.shape))  # a model built for any length gets one here
        shape = ops.shape(inputs)
        table = ops.convert_to_tensor(self.embeddings)
        positions = ops.slice(table, (0, 0), (shape[1], shape[2]))
        return ops.broadcast_to(ops.cast(positions, self.compute_dtype), shape)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            sequence_length=self.sequence_length,
            initializer=keras.initializers.serialize(self.initializer),
        )
        return config
