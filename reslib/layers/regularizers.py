"""What a residual branch can pass through before the addition: DropPath, LayerScale, ReZero.

All three act on the branch ``F(x)`` of ``y = x + F(x)`` and leave the identity path alone:

* ``DropPath`` (stochastic depth): Huang, Sun, Liu, Sedra and Weinberger, "Deep Networks with
  Stochastic Depth", ECCV 2016: in training, drop the branch at random so that ``y = x``;
* ``LayerScale``: Touvron, Cord, Sablayrolles, Synnaeve and Jegou, "Going deeper with Image
  Transformers", ICCV 2021 (CaiT): multiply the branch by a learned per-channel scale that
  starts at a small ``epsilon``;
* ``ReZero``: Bachlechner, Majumder, Mao, Cottrell and McAuley, "ReZero is All You Need: Fast
  Convergence at Large Depth", 2020: multiply the branch by one learned scalar that starts at 0,
  so the block starts as the identity.

The blocks of ``reslib`` take them as the options ``drop_path``, ``layer_scale`` and ``rezero``
(``check_branch_options``, ``make_branch_layers`` and ``scale_and_drop`` below) and apply them in
this order: the scale, then DropPath, then the addition.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from reslib import _validation as check

DROP_PATH_MODES = ("per_sample", "batch")


@keras.saving.register_keras_serializable(package="reslib")
class DropPath(keras.layers.Layer):
    """Stochastic depth on a residual branch (Huang et al. 2016), applied *before* the addition.

    Args:
        rate: probability of dropping the branch, in ``[0, 1)``; ``1 - rate`` is the paper's
            survival probability ``p_l``.
        mode: how the drop is drawn and compensated:

            * ``"per_sample"`` (timm's ``drop_path``, the modern convention): every example's
              branch is dropped independently with probability ``rate``, kept ones are scaled
              by ``1 / (1 - rate)`` in training ("inverted" scaling, as in dropout), and the
              layer is the identity at inference.
            * ``"batch"`` (**the paper's original convention**, Huang et al. 2016, eq. 2 and
              section 3): in training one draw drops or keeps the branch of the whole batch,
              unscaled; at inference the branch is multiplied by its survival probability
              ``1 - rate`` instead.
        seed: for the ``keras.random.SeedGenerator`` that draws the drops.

    Input shape: any, ``(batch, ...)``: the output of a residual branch.
    Output shape: the same.

    Example:
        >>> branch = keras.ops.ones((4, 3))
        >>> keras.ops.convert_to_numpy(DropPath(0.5, mode="batch")(branch))[0]  # times 1 - rate
        array([0.5, 0.5, 0.5], dtype=float32)
    """

    def __init__(
        self, rate: float, mode: str = "per_sample", seed: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.rate = check.rate("rate", rate)
        self.mode = check.one_of("mode", mode, DROP_PATH_MODES)
        self.seed = check.seed("seed", seed)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        if self.rate == 0.0:
            return inputs
        rank = len(inputs.shape)
        if self.mode == "per_sample":
            if not training:
                return inputs
            noise_shape = (None,) + (1,) * (rank - 1)  # one draw per example
            return keras.random.dropout(
                inputs, self.rate, noise_shape=noise_shape, seed=self.seed_generator
            )
        if not training:
            return ops.multiply(inputs, ops.cast(1.0 - self.rate, inputs.dtype))
        draw = keras.random.uniform((1,) * rank, seed=self.seed_generator)
        keep = ops.cast(ops.less(draw, 1.0 - self.rate), inputs.dtype)
        return ops.multiply(inputs, keep)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(rate=self.rate, mode=self.mode, seed=self.seed)
        return config


@keras.saving.register_keras_serializable(package="reslib")
class LayerScale(keras.layers.Layer):
    """``y = gamma * x`` with a learned per-channel ``gamma`` initialised at ``init_value``.

    Touvron et al. 2021 (CaiT), section 2: on a residual branch, ``x + diag(gamma) F(x)`` with
    ``gamma = epsilon`` (1e-5 to 0.1 depending on depth) makes a deep block start close to the
    identity while every channel can grow on its own.

    Args:
        init_value: the initial value of every entry of ``gamma``, a positive number.
        axis: the channel axis, which ``gamma`` scales: -1 (channels-last, the default) or 1
            (channels-first images).

    Input shape: ``(batch, ..., channels)`` (or ``(batch, channels, ...)`` with ``axis=1``)
    with known channels.
    Output shape: the same.

    Example:
        >>> tuple(LayerScale(0.1)(keras.ops.ones((2, 4))).shape)
        (2, 4)
    """

    def __init__(self, init_value: float = 1e-5, axis: int = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.init_value = check.positive_number("init_value", init_value)
        self.axis = check.one_of("axis", axis, (-1, 1))
        self.gamma = None

    def build(self, input_shape: tuple) -> None:
        if len(input_shape) < 2 or input_shape[self.axis] is None:
            where = "(batch, ..., channels)" if self.axis == -1 else "(batch, channels, ...)"
            raise ValueError(
                f"LayerScale(axis={self.axis}) needs inputs of shape {where} with known "
                f"channels; got shape {tuple(input_shape)}."
            )
        self.gamma = self.add_weight(
            name="gamma",
            shape=(input_shape[self.axis],),
            initializer=keras.initializers.Constant(self.init_value),
        )

    def call(self, inputs: Any) -> Any:
        gamma = ops.cast(self.gamma, inputs.dtype)
        if self.axis == 1:  # broadcast over the axes after the channels
            gamma = ops.reshape(gamma, (-1,) + (1,) * (len(inputs.shape) - 2))
        return ops.multiply(inputs, gamma)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(init_value=self.init_value, axis=self.axis)
        return config


@keras.saving.register_keras_serializable(package="reslib")
class ReZero(keras.layers.Layer):
    """``y = alpha * x`` with one learned scalar ``alpha`` initialised at 0.

    Bachlechner et al. 2020, eq. 5: ``x + alpha F(x)`` with ``alpha = 0`` at initialisation, so
    every block, and therefore the whole network, starts as the identity map and its
    input-output Jacobian is exactly ``I`` ("dynamical isometry").

    Input shape: any, ``(batch, ...)``.
    Output shape: the same.

    Example:
        >>> keras.ops.convert_to_numpy(ReZero()(keras.ops.ones((2, 4))))[0]  # until trained
        array([0., 0., 0., 0.], dtype=float32)
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.alpha = None

    def build(self, input_shape: tuple) -> None:
        self.alpha = self.add_weight(name="alpha", shape=(), initializer="zeros")

    def call(self, inputs: Any) -> Any:
        return ops.multiply(inputs, ops.cast(self.alpha, inputs.dtype))

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape)


def check_branch_options(
    drop_path: Any, layer_scale: Any, rezero: Any, residual: bool = True
) -> tuple[float, float | None, bool]:
    """Validate a block's ``drop_path``, ``layer_scale`` and ``rezero``; return them normalised.

    They act on the residual branch, so they need ``residual=True``; LayerScale and ReZero both
    scale the branch, so at most one of them.
    """
    drop_path = check.rate("drop_path", drop_path)
    if layer_scale is not None:
        layer_scale = check.positive_number("layer_scale", layer_scale)
    rezero = check.boolean("rezero", rezero)
    if layer_scale is not None and rezero:
        raise ValueError(
            f"layer_scale={layer_scale} and rezero=True both scale the residual branch; "
            "choose one (per-channel LayerScale or the single ReZero scalar)."
        )
    used = [
        option
        for option, on in (
            (f"drop_path={drop_path}", drop_path > 0),
            (f"layer_scale={layer_scale}", layer_scale is not None),
            ("rezero=True", rezero),
        )
        if on
    ]
    if used and not residual:
        raise ValueError(
            f"The residual-branch options {', '.join(used)} need residual=True: a plain block "
            "has no branch to scale or drop apart from its whole output."
        )
    return drop_path, layer_scale, rezero


def make_branch_layers(
    drop_path: float,
    layer_scale: float | None,
    rezero: bool,
    branch_shape: tuple,
    dtype: Any,
    prefix: str = "",
    axis: int = -1,
) -> tuple[keras.layers.Layer | None, DropPath | None]:
    """The built ``(scale, drop_path)`` layers of a block's branch options, ``None`` where off.

    ``scale`` is a ``LayerScale`` on the channel ``axis`` (``layer_scale`` set) or a ``ReZero``
    (``rezero``); the ``DropPath`` is per-sample. Their names start with ``prefix``; they are
    built for ``branch_shape`` so that a ``.keras`` file finds their variables.
    """
    scale: keras.layers.Layer | None = None
    if layer_scale is not None:
        scale = LayerScale(layer_scale, axis=axis, name=f"{prefix}layer_scale", dtype=dtype)
    elif rezero:
        scale = ReZero(name=f"{prefix}rezero", dtype=dtype)
    drop = DropPath(drop_path, name=f"{prefix}drop_path", dtype=dtype) if drop_path > 0 else None
    for layer in (scale, drop):
        if layer is not None:
            layer.build(branch_shape)
    return scale, drop


def scale_and_drop(
    branch_outputs: Any,
    scale: keras.layers.Layer | None,
    drop_path: DropPath | None,
    training: bool | None = None,
) -> Any:
    """Apply a block's branch scale (LayerScale/ReZero), then DropPath, to the branch output."""
    if scale is not None:
        branch_outputs = scale(branch_outputs)
    if drop_path is not None:
        branch_outputs = drop_path(branch_outputs, training=training)
    return branch_outputs
