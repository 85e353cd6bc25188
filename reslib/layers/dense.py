"""The DenseNet family: ``DenseLayer``, ``DenseBlock`` and ``Transition``.

Huang, Liu, van der Maaten and Weinberger, "Densely Connected Convolutional Networks", CVPR 2017
(Huang et al. 2017). A dense block does not *add* a layer's output to its input, it
*concatenates* it: layer ``l`` sees the feature maps of all the layers before it,
``x_l = H_l([x_0, x_1, ..., x_{l-1}])`` (eq. 2), and contributes ``k`` new maps, the growth rate.
A block of ``L`` layers on ``c0`` channels therefore outputs ``c0 + L * k`` channels. Transitions
between blocks shrink the channels by the compression factor and halve the spatial size.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from reslib import _validation as check
from reslib.layers._initializers import fresh_initializer


def _check_images(layer: keras.layers.Layer, input_shape: tuple) -> None:
    check.input_rank(type(layer).__name__, input_shape, (4,), layer.data_format)


def _with_channels(layer: keras.layers.Layer, shape: tuple, channels: int) -> tuple:
    """``shape`` with its channel axis (per the layer's ``data_format``) set to ``channels``."""
    if layer.data_format == "channels_first":
        return (shape[0], channels, *shape[2:])
    return (*shape[:-1], channels)


class _DenseFamilyLayer(keras.layers.Layer):
    """What the three DenseNet layers share: dropout, conv initializer/regularizer, BN settings,
    and the BN-ReLU-Conv(-Dropout) unit they are all made of (Huang et al. 2017, section 3).
    """

    def __init__(
        self,
        dropout: float = 0.0,
        kernel_initializer: Any = "he_normal",
        kernel_regularizer: Any = None,
        momentum: float = 0.9,
        epsilon: float = 1e-5,
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.dropout = check.rate("dropout", dropout)
        self.kernel_initializer = check.initializer("kernel_initializer", kernel_initializer)
        self.kernel_regularizer = check.regularizer("kernel_regularizer", kernel_regularizer)
        self.momentum = check.momentum("momentum", momentum)
        self.epsilon = check.positive_number("epsilon", epsilon)
        self.data_format = check.data_format("data_format", data_format)
        self.norms: list[keras.layers.Layer] = []
        self.convs: list[keras.layers.Layer] = []
        self.dropouts: list[keras.layers.Layer] = []

    def _add_unit(self, index: int, shape: tuple, filters: int, kernel_size: int) -> tuple:
        """Create and build BN-ReLU-Conv(-Dropout) number ``index``; return its output shape."""
        norm = keras.layers.BatchNormalization(
            axis=check.channel_axis(self.data_format),
            momentum=self.momentum,
            epsilon=self.epsilon,
            name=f"norm{index}",
            dtype=self.dtype_policy,
        )
        conv = keras.layers.Conv2D(
            filters,
            kernel_size,
            padding="same",
            use_bias=False,
            kernel_initializer=fresh_initializer(self.kernel_initializer),
            kernel_regularizer=self.kernel_regularizer,
            data_format=self.data_format,
            name=f"conv{index}",
            dtype=self.dtype_policy,
        )
        norm.build(shape)
        conv.build(shape)
        self.norms.append(norm)
        self.convs.append(conv)
        if self.dropout > 0:
            drop = keras.layers.Dropout(
                self.dropout, name=f"dropout{index}", dtype=self.dtype_policy
            )
            drop.build(conv.compute_output_shape(shape))
            self.dropouts.append(drop)
        return conv.compute_output_shape(shape)

    def _units(self, inputs: Any, training: bool | None) -> Any:
        check.float_inputs(type(self).__name__, inputs)
        hidden = inputs
        for index, (norm, conv) in enumerate(zip(self.norms, self.convs)):
            hidden = conv(ops.relu(norm(hidden, training=training)))
            if self.dropouts:
                hidden = self.dropouts[index](hidden, training=training)
        return hidden

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            dropout=self.dropout,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            kernel_regularizer=keras.regularizers.serialize(self.kernel_regularizer),
            momentum=self.momentum,
            epsilon=self.epsilon,
            data_format=self.data_format,
        )
        return config


@keras.saving.register_keras_serializable(package="reslib")
class DenseLayer(_DenseFamilyLayer):
    """One layer ``H_l`` of a dense block (Huang et al. 2017, section 3): the ``k`` NEW maps.

    ``bottleneck=False``: BN-ReLU-Conv3x3(k). ``bottleneck=True`` (DenseNet-B, "Bottleneck
    layers"): BN-ReLU-Conv1x1(bottleneck_width * k)-BN-ReLU-Conv3x3(k). The layer returns only its
    own ``k`` feature maps; ``DenseBlock`` concatenates them to its input.

    Args:
        growth_rate: ``k``, the feature maps this layer adds.
        bottleneck: put the 1x1 bottleneck convolution in front of the 3x3.
        bottleneck_width: the 1x1 convolution has ``bottleneck_width * k`` filters (4 in the paper).
        dropout: rate of a dropout after each convolution (the paper uses 0.2 on CIFAR without
            data augmentation), 0 for none.
        kernel_initializer, kernel_regularizer: for every convolution (no biases, he_normal).
        momentum, epsilon: of every batch norm.
        data_format: ``"channels_last"`` or ``"channels_first"``; default Keras'
            ``keras.config.image_data_format()``.

    Input shape: ``(batch, height, width, channels)`` (channels-first:
    ``(batch, channels, height, width)``).
    Output shape: ``(batch, height, width, growth_rate)`` (channels-first:
    ``(batch, growth_rate, height, width)``).

    Example:
        >>> tuple(DenseLayer(12)(keras.ops.ones((1, 8, 8, 24))).shape)
        (1, 8, 8, 12)
    """

    def __init__(
        self,
        growth_rate: int,
        bottleneck: bool = True,
        bottleneck_width: int = 4,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.growth_rate = check.positive_int("growth_rate", growth_rate)
        self.bottleneck = check.boolean("bottleneck", bottleneck)
        self.bottleneck_width = check.positive_int("bottleneck_width", bottleneck_width)

    def build(self, input_shape: tuple) -> None:
        _check_images(self, input_shape)
        shape = input_shape
        if self.bottleneck:
            shape = self._add_unit(1, shape, self.bottleneck_width * self.growth_rate, 1)
        self._add_unit(len(self.convs) + 1, shape, self.growth_rate, 3)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        return self._units(inputs, training)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return _with_channels(self, tuple(input_shape), self.growth_rate)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            growth_rate=self.growth_rate,
            bottleneck=self.bottleneck,
            bottleneck_width=self.bottleneck_width,
        )
        return config


@keras.saving.register_keras_serializable(package="reslib")
class DenseBlock(keras.layers.Layer):
    """``num_layers`` dense layers, each fed the concatenation of everything before it.

    Huang et al. 2017, section 3 ("Dense connectivity", eq. 2, Fig. 1): the output is
    ``[x_0, H_1(x_0), H_2([x_0, x_1]), ...]``, concatenated on the channel axis.

    Args:
        num_layers: ``L``, the number of ``DenseLayer``s.
        growth_rate: ``k``, the feature maps each layer adds.
        bottleneck, bottleneck_width, dropout, kernel_initializer, kernel_regularizer, momentum,
            epsilon, data_format: passed to every ``DenseLayer``.

    Input shape: ``(batch, height, width, c0)`` (channels-first: ``(batch, c0, height, width)``,
    and the output's channels come first too).
    Output shape: ``(batch, height, width, c0 + num_layers * growth_rate)``; the first ``c0``
    channels are the input, untouched.

    Example:
        >>> tuple(DenseBlock(4, growth_rate=12)(keras.ops.ones((1, 8, 8, 24))).shape)
        (1, 8, 8, 72)
    """

    def __init__(
        self,
        num_layers: int,
        growth_rate: int,
        bottleneck: bool = True,
        bottleneck_width: int = 4,
        dropout: float = 0.0,
        kernel_initializer: Any = "he_normal",
        kernel_regularizer: Any = None,
        momentum: float = 0.9,
        epsilon: float = 1e-5,
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.num_layers = check.positive_int("num_layers", num_layers)
        self.growth_rate = check.positive_int("growth_rate", growth_rate)
        self.bottleneck = check.boolean("bottleneck", bottleneck)
        self.bottleneck_width = check.positive_int("bottleneck_width", bottleneck_width)
        self.dropout = check.rate("dropout", dropout)
        self.kernel_initializer = check.initializer("kernel_initializer", kernel_initializer)
        self.kernel_regularizer = check.regularizer("kernel_regularizer", kernel_regularizer)
        self.momentum = check.momentum("momentum", momentum)
        self.epsilon = check.positive_number("epsilon", epsilon)
        self.data_format = check.data_format("data_format", data_format)
        self.dense_layers: list[DenseLayer] = []

    def build(self, input_shape: tuple) -> None:
        _check_images(self, input_shape)
        channels = input_shape[check.channel_axis(self.data_format)]
        for index in range(1, self.num_layers + 1):
            layer = DenseLayer(
                self.growth_rate,
                bottleneck=self.bottleneck,
                bottleneck_width=self.bottleneck_width,
                dropout=self.dropout,
                kernel_initializer=fresh_initializer(self.kernel_initializer),
                kernel_regularizer=self.kernel_regularizer,
                momentum=self.momentum,
                epsilon=self.epsilon,
                data_format=self.data_format,
                name=f"layer{index}",
                dtype=self.dtype_policy,
            )
            layer.build(_with_channels(self, tuple(input_shape), channels))
            channels += self.growth_rate
            self.dense_layers.append(layer)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        check.float_inputs("DenseBlock", inputs)
        features, axis = inputs, check.channel_axis(self.data_format)
        for layer in self.dense_layers:
            features = ops.concatenate([features, layer(features, training=training)], axis=axis)
        return features

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        channels = input_shape[check.channel_axis(self.data_format)]
        return _with_channels(
            self, tuple(input_shape), channels + self.num_layers * self.growth_rate
        )

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            num_layers=self.num_layers,
            growth_rate=self.growth_rate,
            bottleneck=self.bottleneck,
            bottleneck_width=self.bottleneck_width,
            dropout=self.dropout,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            kernel_regularizer=keras.regularizers.serialize(self.kernel_regularizer),
            momentum=self.momentum,
            epsilon=self.epsilon,
            data_format=self.data_format,
        )
        return config


@keras.saving.register_keras_serializable(package="reslib")
class Transition(_DenseFamilyLayer):
    """The layer between two dense blocks: BN-ReLU-Conv1x1-AvgPool2x2 (Huang et al. 2017,
    section 3, "Pooling layers" and "Compression").

    The 1x1 convolution keeps ``floor(channels * compression)`` maps (DenseNet-C/-BC use 0.5;
    1 keeps them all), the 2x2 average pooling with stride 2 halves height and width.

    Args:
        compression: ``theta`` in (0, 1].
        dropout: rate of a dropout after the convolution, 0 for none.
        kernel_initializer, kernel_regularizer: for the convolution (no bias, he_normal).
        momentum, epsilon: of the batch norm.
        data_format: ``"channels_last"`` or ``"channels_first"``; default Keras'
            ``keras.config.image_data_format()``.

    Input shape: ``(batch, height, width, channels)`` (or channels-first).
    Output shape: ``(batch, height // 2, width // 2, floor(channels * compression))`` (or
    channels-first).

    Example:
        >>> tuple(Transition(0.5)(keras.ops.ones((1, 8, 8, 24))).shape)
        (1, 4, 4, 12)
    """

    def __init__(self, compression: float = 0.5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.compression = check.fraction("compression", compression)
        self.pool: keras.layers.Layer | None = None

    def output_channels(self, input_channels: int) -> int:
        """``floor(input_channels * compression)``, the channels this transition keeps."""
        return int(input_channels * self.compression)

    def build(self, input_shape: tuple) -> None:
        _check_images(self, input_shape)
        channels = input_shape[check.channel_axis(self.data_format)]
        filters = self.output_channels(channels)
        if filters < 1:
            raise ValueError(
                f"Transition with compression={self.compression} keeps floor("
                f"{channels} * {self.compression}) = 0 of the input's {channels} "
                "channels; raise compression or give it more channels."
            )
        shape = self._add_unit(1, input_shape, filters, 1)
        self.pool = keras.layers.AveragePooling2D(
            2, strides=2, data_format=self.data_format, name="pool", dtype=self.dtype_policy
        )
        self.pool.build(shape)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        return self.pool(self._units(inputs, training))

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        first = self.data_format == "channels_first"
        spatial = tuple(
            None if size is None else size // 2
            for size in (input_shape[2:4] if first else input_shape[1:3])
        )
        channels = self.output_channels(input_shape[check.channel_axis(self.data_format)])
        if first:
            return (input_shape[0], channels, *spatial)
        return (input_shape[0], *spatial, channels)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(compression=self.compression)
        return config
