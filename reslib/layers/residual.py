"""The generic residual connection: ``y = shortcut(x) + branch(x)`` around any layer.

He, Zhang, Ren and Sun, "Deep Residual Learning for Image Recognition", CVPR 2016
(He et al. 2016a), eq. 1 (identity shortcut) and eq. 2 (projection shortcut). The branch can be
scaled (LayerScale, ReZero) and dropped (stochastic depth) before the addition, see
``reslib.layers.regularizers``. The ResNet blocks themselves live in ``reslib.layers.blocks``.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from reslib import _validation as check
from reslib.layers.regularizers import (
    check_branch_options,
    make_branch_layers,
    scale_and_drop,
)
from reslib.layers.shortcut import SHORTCUT_MODES, Shortcut


@keras.saving.register_keras_serializable(package="reslib")
class Residual(keras.layers.Layer):
    """``y = activation(shortcut(x) + drop_path(scale * branch(x)))`` around any Keras layer.

    He et al. 2016a, eq. 1 (identity shortcut) and eq. 2 (projection ``W_s x``).

    Args:
        branch: the residual function F, any Keras layer or model.
        shortcut: ``"identity"`` (default), ``"A"``, ``"B"`` or ``"C"`` (see ``Shortcut``; the
            output channels and stride are read off the branch's output shape), or any Keras
            layer that maps x to the branch's output shape.
        activation: applied after the addition (``"relu"`` in He et al. 2016a); ``None`` keeps
            the identity path clean as in He et al. 2016b.
        residual: ``False`` drops the shortcut and returns ``activation(branch(x))``, the plain
            twin with exactly the same branch.
        drop_path: stochastic depth (Huang et al. 2016): the probability of dropping the branch
            of each example in training (``DropPath``, per-sample, inverted scaling); in [0, 1).
        layer_scale: ``None``, or the initial value of a per-channel ``LayerScale`` on the
            branch (Touvron et al. 2021), e.g. 1e-5.
        rezero: multiply the branch by a learned scalar that starts at 0 (``ReZero``,
            Bachlechner et al. 2020), so the block starts as the identity. Not with
            ``layer_scale``; none of the three with ``residual=False``.
        data_format: where the channels of a sequence or image are, for a projection or
            option-A shortcut and a LayerScale: ``"channels_last"`` or ``"channels_first"``;
            default Keras' ``keras.config.image_data_format()``.

    Input shape: whatever ``branch`` accepts, ``(batch, ..., channels)``.
    Output shape: the branch's output shape; the shortcut's output must have the same shape,
    otherwise ``build`` raises a ``ValueError`` that names both.

    Example:
        >>> block = Residual(keras.layers.Dense(8, activation="relu"))
        >>> tuple(block(keras.ops.ones((2, 8))).shape)
        (2, 8)
    """

    def __init__(
        self,
        branch: keras.layers.Layer,
        shortcut: str | keras.layers.Layer = "identity",
        activation: Any = None,
        residual: bool = True,
        drop_path: float = 0.0,
        layer_scale: float | None = None,
        rezero: bool = False,
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.branch = check.layer("branch", branch)
        if not isinstance(shortcut, keras.layers.Layer):
            shortcut = check.one_of("shortcut", shortcut, SHORTCUT_MODES)
        self.shortcut = shortcut
        self.activation = check.activation("activation", activation)
        self.residual = check.boolean("residual", residual)
        self.drop_path, self.layer_scale, self.rezero = check_branch_options(
            drop_path, layer_scale, rezero, self.residual
        )
        self.data_format = check.data_format("data_format", data_format)
        self.shortcut_layer: keras.layers.Layer | None = None  # built from `shortcut`
        self.branch_scale: keras.layers.Layer | None = None
        self.drop_path_layer: keras.layers.Layer | None = None

    def build(self, input_shape: tuple) -> None:
        if not self.branch.built:
            self.branch.build(input_shape)
        branch_shape = _output_shape(self.branch, input_shape)
        if not self.residual:
            return
        self.shortcut_layer = self._make_shortcut(input_shape, branch_shape)
        if not self.shortcut_layer.built:
            self.shortcut_layer.build(input_shape)
        shortcut_shape = _output_shape(self.shortcut_layer, input_shape)
        if tuple(shortcut_shape[1:]) != tuple(branch_shape[1:]):
            raise ValueError(
                f"Residual cannot add the shortcut output of shape {tuple(shortcut_shape)} to the "
                f"branch output of shape {tuple(branch_shape)} (input shape {tuple(input_shape)}). "
                "Make the branch keep the input's shape, or use shortcut='B' (a projection) or 'A'."
            )
        self.branch_scale, self.drop_path_layer = make_branch_layers(
            self.drop_path, self.layer_scale, self.rezero, branch_shape, self.dtype_policy,
            axis=self._channel_axis(len(branch_shape)),
        )

    def _channel_axis(self, rank: int) -> int:
        return 1 if rank > 2 and self.data_format == "channels_first" else -1

    def _make_shortcut(self, input_shape: tuple, branch_shape: tuple) -> keras.layers.Layer:
        if isinstance(self.shortcut, keras.layers.Layer):
            return self.shortcut
        if self.shortcut == "identity":  # a mismatch is reported by build(), naming both shapes
            return Shortcut("identity", name="shortcut", dtype=self.dtype_policy)
        axis = self._channel_axis(len(branch_shape))
        strides = _stride_between(input_shape, branch_shape, axis)
        return Shortcut(
            self.shortcut, filters=branch_shape[axis], strides=strides,
            data_format=self.data_format, name="shortcut", dtype=self.dtype_policy,
        )

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        outputs = self.branch(inputs, training=training)
        if self.shortcut_layer is not None:
            outputs = scale_and_drop(outputs, self.branch_scale, self.drop_path_layer, training)
            outputs = ops.add(self.shortcut_layer(inputs, training=training), outputs)
        return self.activation(outputs)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return _output_shape(self.branch, input_shape)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        shortcut = self.shortcut
        if isinstance(shortcut, keras.layers.Layer):
            shortcut = keras.saving.serialize_keras_object(shortcut)
        config.update(
            branch=keras.saving.serialize_keras_object(self.branch),
            shortcut=shortcut,
            activation=keras.activations.serialize(self.activation),
            residual=self.residual,
            drop_path=self.drop_path,
            layer_scale=self.layer_scale,
            rezero=self.rezero,
            data_format=self.data_format,
        )
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Residual:
        config = dict(config)
        config["branch"] = keras.saving.deserialize_keras_object(config["branch"])
        if isinstance(config.get("shortcut"), dict):
            config["shortcut"] = keras.saving.deserialize_keras_object(config["shortcut"])
        return cls(**config)


def _output_shape(layer: keras.layers.Layer, input_shape: tuple) -> tuple:
    """The output shape of a built ``layer`` for ``input_shape``, traced symbolically if needed."""
    try:
        return tuple(layer.compute_output_shape(input_shape))
    except NotImplementedError:
        spec = layer.compute_output_spec(keras.KerasTensor(input_shape))
        return tuple(spec.shape)


def _stride_between(input_shape: tuple, output_shape: tuple, channel_axis: int = -1) -> int:
    """The spatial subsampling factor that turns ``input_shape`` into ``output_shape``."""
    spatial = slice(2, None) if channel_axis == 1 else slice(1, -1)
    sizes = [(i, o) for i, o in zip(input_shape[spatial], output_shape[spatial]) if i and o]
    if len(input_shape) != len(output_shape) or not sizes:
        return 1
    strides = {-(-i // o) for i, o in sizes}
    return strides.pop() if len(strides) == 1 else 1
