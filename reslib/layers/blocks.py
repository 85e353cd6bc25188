"""The ResNet block family: ``BasicBlock`` and ``BottleneckBlock``.

One configurable family (timm's approach): post-activation blocks as in He, Zhang, Ren and Sun,
"Deep Residual Learning for Image Recognition", CVPR 2016 (He et al. 2016a), pre-activation blocks
as in He, Zhang, Ren and Sun, "Identity Mappings in Deep Residual Networks", ECCV 2016
(He et al. 2016b), ResNeXt cardinality, zero-initialised branches, stochastic depth, LayerScale
and ReZero on the branch (``reslib.layers.regularizers``), and a ``residual=False`` plain twin that
differs from the residual block in nothing but the skip.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from reslib import _validation as check
from reslib.layers._initializers import fresh_initializer
from reslib.layers.regularizers import (
    check_branch_options,
    make_branch_layers,
    scale_and_drop,
)
from reslib.layers.shortcut import SHORTCUT_MODES, Shortcut


class _ResNetBlock(keras.layers.Layer):
    """What ``BasicBlock`` and ``BottleneckBlock`` share: a chain of conv/norm units, the
    shortcut, post- or pre-activation ordering, the plain switch, zero-init of the branch and the
    branch's scale (LayerScale/ReZero) and stochastic depth.

    Subclasses only say which convolutions the branch holds (``_conv_specs``).
    """

    def __init__(
        self,
        filters: int,
        strides: int = 1,
        preact: bool = False,
        residual: bool = True,
        shortcut: str = "B",
        zero_init_residual: bool = False,
        kernel_initializer: Any = "he_normal",
        kernel_regularizer: Any = None,
        momentum: float = 0.9,
        epsilon: float = 1e-5,
        drop_path: float = 0.0,
        layer_scale: float | None = None,
        rezero: bool = False,
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.filters = check.positive_int("filters", filters)
        self.strides = check.positive_int("strides", strides)
        self.preact = check.boolean("preact", preact)
        self.residual = check.boolean("residual", residual)
        self.shortcut = check.one_of("shortcut", shortcut, SHORTCUT_MODES)
        self.zero_init_residual = check.boolean("zero_init_residual", zero_init_residual)
        if self.zero_init_residual and not self.residual:
            raise ValueError(
                "zero_init_residual=True needs residual=True: a plain block whose branch starts "
                "at zero outputs zeros and blocks the signal."
            )
        self.kernel_initializer = check.initializer("kernel_initializer", kernel_initializer)
        self.kernel_regularizer = check.regularizer("kernel_regularizer", kernel_regularizer)
        self.momentum = check.momentum("momentum", momentum)
        self.epsilon = check.positive_number("epsilon", epsilon)
        self.drop_path, self.layer_scale, self.rezero = check_branch_options(
            drop_path, layer_scale, rezero, self.residual
        )
        self.data_format = check.data_format("data_format", data_format)
        self.convs: list[keras.layers.Layer] = []
        self.norms: list[keras.layers.Layer] = []
        self.shortcut_layer: Shortcut | None = None
        self.branch_scale: keras.layers.Layer | None = None
        self.drop_path_layer: keras.layers.Layer | None = None

    @property
    def output_channels(self) -> int:
        """Channels of the block's output."""
        return self._conv_specs()[-1]["filters"]

    def _conv_specs(self) -> list[dict[str, Any]]:
        """One dict of ``Conv2D`` arguments per convolution of the branch, in order."""
        raise NotImplementedError

    def build(self, input_shape: tuple) -> None:
        check.input_rank(type(self).__name__, input_shape, (4,), self.data_format)
        axis = check.channel_axis(self.data_format)
        specs = self._conv_specs()
        shape = input_shape
        for index, spec in enumerate(specs, start=1):
            last = index == len(specs)
            conv = keras.layers.Conv2D(
                **spec,
                padding="same",
                use_bias=False,
                kernel_initializer=(
                    "zeros" if last and self.preact and self.zero_init_residual
                    else fresh_initializer(self.kernel_initializer)
                ),
                kernel_regularizer=self.kernel_regularizer,
                data_format=self.data_format,
                name=f"conv{index}",
                dtype=self.dtype_policy,
            )
            norm = keras.layers.BatchNormalization(
                axis=axis,
                momentum=self.momentum,
                epsilon=self.epsilon,
                gamma_initializer=(
                    "zeros" if last and not self.preact and self.zero_init_residual else "ones"
                ),
                name=f"norm{index}",
                dtype=self.dtype_policy,
            )
            if self.preact:
                norm.build(shape)
            conv.build(shape)
            shape = conv.compute_output_shape(shape)
            if not self.preact:
                norm.build(shape)
            self.convs.append(conv)
            self.norms.append(norm)
        if self.residual:
            self.shortcut_layer = Shortcut(
                self.shortcut,
                filters=self.output_channels,
                strides=self.strides,
                normalize=not self.preact,
                kernel_initializer=fresh_initializer(self.kernel_initializer),
                kernel_regularizer=self.kernel_regularizer,
                momentum=self.momentum,
                epsilon=self.epsilon,
                data_format=self.data_format,
                name="shortcut",
                dtype=self.dtype_policy,
            )
            self.shortcut_layer.build(input_shape)
            self.branch_scale, self.drop_path_layer = make_branch_layers(
                self.drop_path, self.layer_scale, self.rezero, shape, self.dtype_policy,
                axis=axis,
            )

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        check.float_inputs(type(self).__name__, inputs)
        hidden, shortcut_input = inputs, inputs
        last = len(self.convs) - 1
        for index, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            if self.preact:
                hidden = ops.relu(norm(hidden, training=training))
                if index == 0 and self.shortcut_layer is not None and self.shortcut_layer.projects:
                    shortcut_input = hidden  # He et al. 2016b project the pre-activated input
                hidden = conv(hidden)
            else:
                hidden = norm(conv(hidden), training=training)
                if index < last:
                    hidden = ops.relu(hidden)
        if self.shortcut_layer is not None:
            hidden = scale_and_drop(hidden, self.branch_scale, self.drop_path_layer, training)
            hidden = ops.add(self.shortcut_layer(shortcut_input, training=training), hidden)
        if not self.preact:
            hidden = ops.relu(hidden)
        return hidden

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        first = self.data_format == "channels_first"
        spatial = tuple(
            None if size is None else -(-size // self.strides)
            for size in (input_shape[2:4] if first else input_shape[1:3])
        )
        if first:
            return (input_shape[0], self.output_channels, *spatial)
        return (input_shape[0], *spatial, self.output_channels)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            filters=self.filters,
            strides=self.strides,
            preact=self.preact,
            residual=self.residual,
            shortcut=self.shortcut,
            zero_init_residual=self.zero_init_residual,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            kernel_regularizer=keras.regularizers.serialize(self.kernel_regularizer),
            momentum=self.momentum,
            epsilon=self.epsilon,
            drop_path=self.drop_path,
            layer_scale=self.layer_scale,
            rezero=self.rezero,
            data_format=self.data_format,
        )
        return config


@keras.saving.register_keras_serializable(package="reslib")
class BasicBlock(_ResNetBlock):
    """Two 3x3 convolutions with a shortcut around them (He et al. 2016a, Fig. 2 and 5 left).

    Args:
        filters: output channels of both convolutions.
        strides: stride of the first 3x3 convolution and of the shortcut (2 at a stage's start).
        preact: ``False``: conv-BN-ReLU units and a ReLU after the addition (He et al. 2016a).
            ``True``: BN-ReLU-conv units and nothing after the addition, so the identity path
            carries ``x`` untouched (He et al. 2016b, Fig. 4e).
        residual: ``False`` builds the plain twin: the same units without the shortcut.
        shortcut: ``"A"``, ``"B"`` or ``"C"`` (see ``Shortcut``); where the shape does not change,
            A and B are the identity. ``"identity"`` insists on it.
        zero_init_residual: start the branch at zero so the block starts as the identity: the
            last batch norm's gamma is 0 (post-activation; Goyal et al. 2017), or the last
            convolution's kernel is 0 (pre-activation, which ends in a convolution).
        kernel_initializer, kernel_regularizer: for every convolution (He et al. use he_normal).
        momentum, epsilon: of every batch norm (PyTorch's defaults, as in the reference code).
        drop_path: stochastic depth (Huang et al. 2016): probability of dropping the branch of
            each example in training, in [0, 1) (``DropPath``, per-sample, inverted scaling).
        layer_scale: ``None``, or the initial value of a per-channel ``LayerScale`` on the
            branch output (Touvron et al. 2021).
        rezero: multiply the branch by a learned scalar that starts at 0 (``ReZero``,
            Bachlechner et al. 2020). Not with ``layer_scale``; none of the three with
            ``residual=False``. Order on the branch: scale, DropPath, then the addition.
        data_format: ``"channels_last"`` or ``"channels_first"``; default (``None``) Keras'
            ``keras.config.image_data_format()``. The weights are the same in both.

    Input shape: ``(batch, height, width, channels)`` (channels-first:
    ``(batch, channels, height, width)``).
    Output shape: ``(batch, ceil(height / strides), ceil(width / strides), filters)``
    (channels-first: ``(batch, filters, ceil(height / strides), ceil(width / strides))``).

    Example:
        >>> tuple(BasicBlock(32, strides=2)(keras.ops.ones((1, 8, 8, 16))).shape)
        (1, 4, 4, 32)
    """

    def _conv_specs(self) -> list[dict[str, Any]]:
        return [
            dict(filters=self.filters, kernel_size=3, strides=self.strides),
            dict(filters=self.filters, kernel_size=3),
        ]


@keras.saving.register_keras_serializable(package="reslib")
class BottleneckBlock(_ResNetBlock):
    """1x1 reduce, 3x3, 1x1 expand, with a shortcut around them (He et al. 2016a, Fig. 5 right).

    With ``groups > 1`` the 3x3 convolution is grouped: the ResNeXt block of Xie, Girshick,
    Dollar, Tu and He, "Aggregated Residual Transformations for Deep Neural Networks", CVPR 2017.

    Args:
        filters: channels of the bottleneck (64 in the first stage of ImageNet ResNet-50).
        strides: stride of the block's shortcut and of the convolution ``stride_on`` names.
        stride_on: ``"3x3"`` (torchvision's "ResNet v1.5", the default) or ``"1x1"``: the
            first 1x1 convolution strides, as in He et al.'s released Caffe models and
            ``keras.applications.ResNet50``. Same parameters; "1x1" runs the 3x3 convolution at
            a quarter of the positions (about 6% fewer FLOPs in ResNet-50), "3x3" sees every
            input pixel and is about half a point more accurate on ImageNet.
        preact, residual, shortcut, zero_init_residual, kernel_initializer, kernel_regularizer,
            momentum, epsilon, drop_path, layer_scale, rezero, data_format: as for
            ``BasicBlock``.
        expansion: output channels are ``filters * expansion`` (4 in the paper).
        groups: cardinality of the 3x3 convolution (ResNeXt); 1 for ResNet.
        width_per_group: channels per group of the 3x3 convolution at ``filters=64``; the inner
            width is ``filters * width_per_group // 64 * groups`` (torchvision's convention: 64
            with ``groups=1`` for ResNet, 4 with ``groups=32`` for ResNeXt-50 32x4d).

    Input shape: ``(batch, height, width, channels)`` (or channels-first, see ``BasicBlock``).
    Output shape: ``(batch, ceil(height / strides), ceil(width / strides), filters * expansion)``.

    Example:
        >>> tuple(BottleneckBlock(16)(keras.ops.ones((1, 8, 8, 64))).shape)
        (1, 8, 8, 64)
    """

    def __init__(
        self,
        filters: int,
        strides: int = 1,
        expansion: int = 4,
        groups: int = 1,
        width_per_group: int = 64,
        stride_on: str = "3x3",
        **kwargs: Any,
    ) -> None:
        self.stride_on = check.one_of("stride_on", stride_on, ("3x3", "1x1"))
        super().__init__(filters, strides=strides, **kwargs)
        self.expansion = check.positive_int("expansion", expansion)
        self.groups = check.positive_int("groups", groups)
        self.width_per_group = check.positive_int("width_per_group", width_per_group)
        if self.filters * self.width_per_group < 64:
            raise ValueError(
                f"BottleneckBlock gives each of its {groups} groups filters * width_per_group "
                f"// 64 channels; filters={filters}, width_per_group={width_per_group} give 0. "
                "Raise filters or width_per_group."
            )

    @property
    def width(self) -> int:
        """Channels of the inner 1x1 and 3x3 convolutions."""
        return self.filters * self.width_per_group // 64 * self.groups

    def _conv_specs(self) -> list[dict[str, Any]]:
        first, middle = (self.strides, 1) if self.stride_on == "1x1" else (1, self.strides)
        return [
            dict(filters=self.width, kernel_size=1, strides=first),
            dict(filters=self.width, kernel_size=3, strides=middle, groups=self.groups),
            dict(filters=self.filters * self.expansion, kernel_size=1),
        ]

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            expansion=self.expansion, groups=self.groups, width_per_group=self.width_per_group,
            stride_on=self.stride_on,
        )
        return config
