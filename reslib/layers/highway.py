"""Highway layers: a learned, gated skip connection.

Srivastava, Greff and Schmidhuber, "Highway Networks", arXiv:1505.00387, 2015, and "Training Very
Deep Networks", NeurIPS 2015 (Srivastava et al. 2015). A highway layer computes

    y = T(x) * H(x) + (1 - T(x)) * x

with a transform ``H(x) = activation(W_H x + b_H)`` and a transform gate
``T(x) = sigmoid(W_T x + b_T)``; the carry gate ``C = 1 - T`` is coupled to it (eq. 3). A negative
initial gate bias ``b_T`` (-1 to -3 in the paper) makes every layer start close to the identity,
which is what lets plain SGD train 100-layer highway networks where the plain twin stalls.
A ResNet block is the gate-free special case ``y = H(x) + x``.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from reslib import _validation as check
from reslib.layers._initializers import fresh_initializer


@keras.saving.register_keras_serializable(package="reslib")
class Highway(keras.layers.Layer):
    """``y = T(x) * H(x) + (1 - T(x)) * x`` on features or images (Srivastava et al. 2015, eq. 3).

    On features ``(batch, units)`` both ``H`` and ``T`` are dense layers of ``units`` outputs; on
    images ``(batch, height, width, channels)`` they are ``kernel_size`` x ``kernel_size``
    convolutions with ``channels`` filters and "same" padding (the convolutional highway networks
    of section 4). Either way the output has the input's shape: the width of a highway layer is
    the width of its input.

    The gate is public: ``layer.gate(x)`` returns ``T(x)`` (values in (0, 1), the input's shape)
    for plotting gate statistics, as in the paper's Fig. 2, with no change to the model.

    Args:
        activation: of the transform ``H`` (``"relu"`` by default; the paper also uses tanh).
        gate_bias: initial bias of the transform gate; -2 starts each gate near
            ``sigmoid(-2) = 0.12``, i.e. the layer mostly carries its input. A very negative value
            (-30) makes a fresh layer numerically the identity.
        kernel_size: size of the convolutions on images; unused on features.
        kernel_initializer, kernel_regularizer: for the kernels of ``H`` and ``T``.
        bias_initializer: for the bias of ``H`` (the gate's bias starts at ``gate_bias``).
        data_format: of images, ``"channels_last"`` or ``"channels_first"``; default Keras'
            ``keras.config.image_data_format()``; unused on features.

    Input shape: ``(batch, units)`` or ``(batch, height, width, channels)`` (channels-first:
    ``(batch, channels, height, width)``).
    Output shape: the input's shape.

    Example:
        >>> layer = Highway(gate_bias=-2.0)
        >>> tuple(layer(keras.ops.ones((2, 16))).shape)
        (2, 16)
        >>> round(float(keras.ops.mean(layer.gate(keras.ops.zeros((2, 16))))), 4)  # sigmoid(-2)
        0.1192
    """

    def __init__(
        self,
        activation: Any = "relu",
        gate_bias: float = -2.0,
        kernel_size: int = 3,
        kernel_initializer: Any = "he_normal",
        kernel_regularizer: Any = None,
        bias_initializer: Any = "zeros",
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.activation = check.activation("activation", activation)
        self.gate_bias = check.finite_number("gate_bias", gate_bias)
        self.kernel_size = check.positive_int("kernel_size", kernel_size)
        self.kernel_initializer = check.initializer("kernel_initializer", kernel_initializer)
        self.kernel_regularizer = check.regularizer("kernel_regularizer", kernel_regularizer)
        self.bias_initializer = check.initializer("bias_initializer", bias_initializer)
        self.data_format = check.data_format("data_format", data_format)
        self.transform: keras.layers.Layer | None = None
        self.transform_gate: keras.layers.Layer | None = None

    def build(self, input_shape: tuple) -> None:
        rank = check.input_rank("Highway", input_shape, (2, 4), self.data_format)
        units = input_shape[-1 if rank == 2 else check.channel_axis(self.data_format)]
        self.transform = self._make(rank, units, "transform", self.bias_initializer)
        self.transform_gate = self._make(
            rank, units, "transform_gate", keras.initializers.Constant(self.gate_bias)
        )
        self.transform.build(input_shape)
        self.transform_gate.build(input_shape)

    def _make(self, rank: int, units: int, name: str, bias_initializer: Any) -> keras.layers.Layer:
        common = {
            # H's and the gate's kernels must not start equal (see fresh_initializer)
            "kernel_initializer": fresh_initializer(self.kernel_initializer),
            "kernel_regularizer": self.kernel_regularizer,
            "bias_initializer": bias_initializer,
            "name": name,
            "dtype": self.dtype_policy,
        }
        if rank == 2:
            return keras.layers.Dense(units, **common)
        return keras.layers.Conv2D(
            units, self.kernel_size, padding="same", data_format=self.data_format, **common
        )

    def gate(self, inputs: Any) -> Any:
        """The transform gate ``T(x) = sigmoid(W_T x + b_T)``, of the input's shape.

        Builds the layer on first use, so ``Highway().gate(x)`` works on a fresh layer.
        """
        check.float_inputs("Highway", inputs)
        if not self.built:
            self.build(tuple(inputs.shape))
        return ops.sigmoid(self.transform_gate(inputs))

    def call(self, inputs: Any) -> Any:
        gate = self.gate(inputs)
        transformed = self.activation(self.transform(inputs))
        return gate * transformed + (1.0 - gate) * inputs

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            activation=keras.activations.serialize(self.activation),
            gate_bias=self.gate_bias,
            kernel_size=self.kernel_size,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            kernel_regularizer=keras.regularizers.serialize(self.kernel_regularizer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
            data_format=self.data_format,
        )
        return config
