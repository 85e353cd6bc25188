"""The skip path of a residual block: identity, or the shortcut options A, B and C.

He, Zhang, Ren and Sun, "Deep Residual Learning for Image Recognition", CVPR 2016 (He et al. 2016a),
section 3.3 and Table 3, compare three ways to add ``x`` to a branch whose output has more channels
or a smaller spatial size than ``x``:

* option **A**: subsample ``x`` with the branch's stride and pad the new channels with zeros; no
  parameters (the CIFAR-10 networks of section 4.2 use it);
* option **B**: a 1x1 convolution with the branch's stride (plus batch norm) *only* where the shape
  changes, identity elsewhere;
* option **C**: that projection on every block.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from reslib import _validation as check
from reslib.layers._initializers import fresh_initializer

SHORTCUT_MODES = ("identity", "A", "B", "C")


@keras.saving.register_keras_serializable(package="reslib")
class Shortcut(keras.layers.Layer):
    """Identity or projection shortcut (He et al. 2016a, section 3.3).

    Args:
        mode: ``"identity"`` (the shapes must already match), ``"A"`` (strided subsampling and
            zero-padded channels, parameter-free), ``"B"`` (1x1 projection only where the shape
            changes) or ``"C"`` (1x1 projection always).
        filters: channels of the output; ``None`` keeps the input's channels.
        strides: spatial subsampling factor, the stride of the branch beside this shortcut.
        normalize: put a batch norm after the projection (post-activation ResNets); the
            pre-activation ResNet of He et al. 2016b projects without one.
        kernel_initializer, kernel_regularizer: for the projection.
        momentum, epsilon: of the projection's batch norm.
        data_format: ``"channels_last"`` or ``"channels_first"`` (where the channel axis of a
            sequence or an image is); default Keras' ``keras.config.image_data_format()``.

    Input shape: ``(batch, channels)``, ``(batch, length, channels)`` or
    ``(batch, height, width, channels)`` (channels-first: the channels right after the batch).
    Output shape: the same rank, every spatial size ``ceil(size / strides)``, ``filters`` channels.

    Example:
        >>> tuple(Shortcut("A", filters=32, strides=2)(keras.ops.ones((1, 8, 8, 16))).shape)
        (1, 4, 4, 32)
    """

    def __init__(
        self,
        mode: str = "B",
        filters: int | None = None,
        strides: int = 1,
        normalize: bool = True,
        kernel_initializer: Any = "he_normal",
        kernel_regularizer: Any = None,
        momentum: float = 0.9,
        epsilon: float = 1e-5,
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.mode = check.one_of("mode", mode, SHORTCUT_MODES)
        self.filters = check.optional_positive_int("filters", filters)
        self.strides = check.positive_int("strides", strides)
        self.normalize = check.boolean("normalize", normalize)
        self.kernel_initializer = check.initializer("kernel_initializer", kernel_initializer)
        self.kernel_regularizer = check.regularizer("kernel_regularizer", kernel_regularizer)
        self.momentum = check.momentum("momentum", momentum)
        self.epsilon = check.positive_number("epsilon", epsilon)
        self.data_format = check.data_format("data_format", data_format)
        self.projection = None
        self.norm = None

    @property
    def projects(self) -> bool:
        """True when this shortcut holds a learned projection (known once the layer is built)."""
        return self.projection is not None

    def build(self, input_shape: tuple) -> None:
        rank = check.input_rank("Shortcut", input_shape, (2, 3, 4), self.data_format)
        channels = input_shape[self._channel_axis(rank)]
        filters = self.filters or channels
        if rank == 2 and self.strides != 1:
            raise ValueError(
                f"Shortcut on features of shape {tuple(input_shape)} has no spatial axes to "
                f"stride; got strides={self.strides}, expected 1."
            )
        changes_shape = self.strides != 1 or filters != channels
        if self.mode == "identity" and changes_shape:
            raise ValueError(
                f"An identity shortcut cannot turn {channels} channels into {filters} or stride by "
                f"{self.strides} (input shape {tuple(input_shape)}); use mode 'A', 'B' or 'C'."
            )
        if self.mode == "A" and filters < channels:
            raise ValueError(
                f"Shortcut option 'A' only pads channels with zeros, so it cannot reduce "
                f"{channels} channels to filters={filters}; use option 'B' or 'C'."
            )
        if self.mode == "C" or (self.mode == "B" and changes_shape):
            self.projection = self._make_projection(rank, filters)
            self.projection.build(input_shape)
            if self.normalize:
                self.norm = keras.layers.BatchNormalization(
                    axis=self._channel_axis(rank),
                    momentum=self.momentum,
                    epsilon=self.epsilon,
                    name="norm",
                    dtype=self.dtype_policy,
                )
                self.norm.build(self.projection.compute_output_shape(input_shape))

    def _channel_axis(self, rank: int) -> int:
        return 1 if rank > 2 and self.data_format == "channels_first" else -1

    def _make_projection(self, rank: int, filters: int) -> keras.layers.Layer:
        common = dict(
            use_bias=False,
            kernel_initializer=fresh_initializer(self.kernel_initializer),
            kernel_regularizer=self.kernel_regularizer,
            name="projection",
            dtype=self.dtype_policy,
        )
        if rank == 2:
            return keras.layers.Dense(filters, **common)
        conv = keras.layers.Conv1D if rank == 3 else keras.layers.Conv2D
        return conv(
            filters, 1, strides=self.strides, padding="same", data_format=self.data_format,
            **common,
        )

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        if self.projection is not None:
            outputs = self.projection(inputs)
            return self.norm(outputs, training=training) if self.norm is not None else outputs
        if self.mode == "identity":
            return inputs
        return self._pad_option_a(inputs)

    def _pad_option_a(self, inputs: Any) -> Any:
        rank = len(inputs.shape)
        axis = self._channel_axis(rank) % rank
        if self.strides > 1:
            every, whole = slice(None, None, self.strides), slice(None)
            inputs = inputs[tuple(whole if i in (0, axis) else every for i in range(rank))]
        channels = inputs.shape[axis]
        extra = (self.filters or channels) - channels
        if extra == 0:
            return inputs
        return ops.pad(inputs, [[0, extra] if i == axis else [0, 0] for i in range(rank)])

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        rank = len(input_shape)
        axis = self._channel_axis(rank) % rank
        return tuple(
            size if i == 0
            else (self.filters or size) if i == axis
            else None if size is None else -(-size // self.strides)
            for i, size in enumerate(input_shape)
        )

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            mode=self.mode,
            filters=self.filters,
            strides=self.strides,
            normalize=self.normalize,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            kernel_regularizer=keras.regularizers.serialize(self.kernel_regularizer),
            momentum=self.momentum,
            epsilon=self.epsilon,
            data_format=self.data_format,
        )
        return config
