"""Lesson 07: deep residual nets at initialisation: normalisation, zero-init, ReZero, LayerScale.

The pitfall "residuals without normalisation": with ``x_{l+1} = x_l + F_l(x_l)`` and branches
that are independent of ``x_l`` in sign, the variances add, ``Var x_{l+1} ~ Var x_l + Var F_l``,
so a deep stack without normalisation at its default (He) initialisation multiplies the signal's
variance by a constant factor per block: it grows exponentially with depth. Batch norm at the
end of every branch makes ``Var F_l ~ 1`` (linear growth, He et al. 2016a); a branch that starts
at zero (Goyal et al. 2017's zero-init, Fixup: Zhang, Dauphin and Ma 2019; ReZero: Bachlechner
et al. 2020) makes every block the identity, and a small LayerScale (Touvron et al. 2021) nearly
so. Stochastic depth (Huang et al. 2016) shortens the expected depth in training.

Measured on a batch of real images, at initialisation, block by block.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from reslib import _validation as check
from reslib import papers
from reslib.data import channel_statistics, load_dataset
from reslib.experiments._registry import Experiment, register
from reslib.layers import Residual
from reslib.models import cifar_resnet

# Options of the toy ResNet's residual branches: (norm, zero-init last layer, Residual kwargs).
OPTIONS: dict[str, tuple[bool, bool, dict[str, Any]]] = {
    "no norm, He init": (False, False, {}),
    "batch norm": (True, False, {}),
    "no norm, zero-init branch": (False, True, {}),
    "no norm, ReZero": (False, False, {"rezero": True}),
    "no norm, LayerScale 1e-2": (False, False, {"layer_scale": 1e-2}),
}
# Huang et al. 2016, section 3: ResNet-110 (54 blocks) with a survival probability p_L = 0.5 for
# the last block trains with about 40 blocks on average and about 25% less training time (a view
# of reslib.papers).
PAPER_EXPECTED_BLOCKS = {
    "blocks": int(papers.value("huang2016.resnet-110.blocks")),
    "expected_blocks": int(papers.value("huang2016.resnet-110.expected_blocks")),
}


def toy_resnet(
    blocks: int,
    width: int,
    input_shape: tuple[int, ...],
    classes: int,
    layer: str = "conv",
    residual: bool = True,
    norm: bool = False,
    zero_init: bool = False,
    kernel_initializer: str = "he_normal",
    **branch_options: Any,
) -> keras.Model:
    """A stem, ``blocks`` residual blocks ``x + F(x)`` and a classifier: the course's small ResNet.

    ``F`` is two layers (3x3 convolutions of ``width`` channels, or dense layers of ``width``
    units) with a ReLU between them and, with ``norm``, a batch norm after each (He et al.
    2016a's post-activation branch, without its ReLU after the addition so that the identity
    path stays clean, He et al. 2016b). ``zero_init`` starts the last layer of every branch at
    zero; ``branch_options`` (``rezero``, ``layer_scale``, ``drop_path``) go to ``Residual``.
    ``residual=False`` drops the skips (the plain twin).

    Input shape: ``(batch, *input_shape)``, images for ``"conv"``, anything for ``"dense"``
    (flattened). Output shape: ``(batch, classes)`` logits. The blocks are the layers named
    ``block1 .. block{blocks}``.
    """
    check.positive_int("blocks", blocks)
    check.positive_int("width", width)
    check.one_of("layer", layer, ("conv", "dense"))
    inputs = keras.Input(input_shape)
    x = inputs if layer == "conv" else keras.layers.Flatten(name="flatten")(inputs)
    x = _weighted(layer, width, kernel_initializer, "stem")(x)
    for index in range(1, blocks + 1):
        units = []
        for unit in (1, 2):
            last = unit == 2
            init = "zeros" if last and zero_init else kernel_initializer
            units.append(_weighted(layer, width, init, f"block{index}_{layer}{unit}", norm))
            if norm:
                units.append(keras.layers.BatchNormalization(name=f"block{index}_norm{unit}"))
            if not last:
                units.append(keras.layers.ReLU(name=f"block{index}_relu"))
        branch = keras.Sequential(units, name=f"block{index}_branch")
        x = Residual(branch, residual=residual, name=f"block{index}", **branch_options)(x)
    if layer == "conv":
        x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(classes, name="classifier")(x)
    return keras.Model(inputs, outputs, name=f"{'res' if residual else 'plain'}{layer}{blocks}")


def _weighted(layer: str, width: int, init: str, name: str, norm: bool = False) -> Any:
    """A 3x3 same-padded convolution or a dense layer (no bias before a batch norm)."""
    if layer == "conv":
        return keras.layers.Conv2D(width, 3, padding="same", use_bias=not norm,
                                   kernel_initializer=init, name=name)
    return keras.layers.Dense(width, use_bias=not norm, kernel_initializer=init, name=name)


def block_outputs(model: keras.Model, x: np.ndarray, training: bool = True) -> list[np.ndarray]:
    """The outputs of the layers ``block1, block2, ...`` of ``model`` on ``x``, in order."""
    names = sorted(
        (layer.name for layer in model.layers if layer.name.startswith("block")),
        key=lambda name: int(name.removeprefix("block")),
    )
    probe = keras.Model(model.input, [model.get_layer(name).output for name in names])
    with keras.StatelessScope():
        outputs = probe(x, training=training)
    return [keras.ops.convert_to_numpy(output) for output in outputs]


def signal_by_depth(
    model: keras.Model, x: np.ndarray, y: np.ndarray, training: bool = True
) -> dict[str, Any]:
    """Mean square of the signal after every block, and the loss at initialisation.

    ``training=True`` (default) measures what the first training step sees: batch norm
    normalises with the batch's statistics (its moving statistics start as the identity).

    Returns ``{"mean_square": [stem output, block1, ...], "distance_from_identity":
    ||x_L - x_0|| / ||x_0||, "initial_loss": cross-entropy of the logits}``.
    """
    stem = keras.Model(model.input, model.get_layer("stem").output)
    x0 = keras.ops.convert_to_numpy(stem(x, training=training))
    outputs = block_outputs(model, x, training)
    logits = keras.ops.convert_to_numpy(model(x, training=training))
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, logits)
    return {
        "mean_square": [float(np.mean(np.square(v))) for v in [x0, *outputs]],
        "distance_from_identity": float(np.linalg.norm(outputs[-1] - x0) / np.linalg.norm(x0)),
        "initial_loss": float(keras.ops.convert_to_numpy(loss)),
    }


def stochastic_depth_rates(blocks_per_stage: int, drop_path: float = 0.5) -> list[float]:
    """The drop rates that ``cifar_resnet`` gives its blocks: Huang et al.'s linear decay."""
    depth = 6 * blocks_per_stage + 2
    model = cifar_resnet(depth, drop_path=drop_path)
    return [float(layer.drop_path) for layer in model.layers if hasattr(layer, "drop_path")]


def run(
    blocks: int = 30,
    width: int = 16,
    batch: int = 32,
    image_size: int = 16,
    drop_path: float = 0.5,
    sd_blocks_per_stage: int = 18,
    progress: bool = True,
    seed: int = 0,
) -> dict[str, Any]:
    """Signal statistics at initialisation, block by block, for every option in ``OPTIONS``.

    The toy ResNet (``toy_resnet``: ``blocks`` blocks of two 3x3 convolutions, ``width``
    channels) sees ``batch`` real images, centre-cropped to ``image_size``. Also the linear
    stochastic-depth decay of a CIFAR ResNet with ``sd_blocks_per_stage`` blocks per stage
    (18: ResNet-110) and its expected number of active blocks.

    ``claim_holds``: without normalisation the mean square grows by more than 100x over the
    blocks at He initialisation, while zero-init and ReZero keep it unchanged (every block is
    the identity, to 1e-4) and batch norm keeps the growth below 2x the number of blocks.
    """
    data = load_dataset("cifar10", "train", limit=batch)
    mean, std = channel_statistics(data)
    x = ((data.images / 255.0 - mean) / std).astype("float32")
    start = (x.shape[1] - image_size) // 2
    x = x[:, start:start + image_size, start:start + image_size]
    options = {}
    for label, (norm, zero_init, branch_options) in OPTIONS.items():
        keras.utils.set_random_seed(seed)
        model = toy_resnet(blocks, width, x.shape[1:], len(data.class_names), norm=norm,
                           zero_init=zero_init, **branch_options)
        options[label] = signal_by_depth(model, x, data.labels)
        if progress:
            growth = options[label]["mean_square"][-1] / options[label]["mean_square"][0]
            print(f"{label:28} mean square grows x{growth:.3g} over {blocks} blocks")
    rates = stochastic_depth_rates(sd_blocks_per_stage, drop_path)
    growth = {k: v["mean_square"][-1] / v["mean_square"][0] for k, v in options.items()}
    identity = all(options[k]["distance_from_identity"] < 1e-4
                   for k in ("no norm, zero-init branch", "no norm, ReZero"))
    return {
        "dataset": f"{data.description}, centre {image_size}x{image_size} crops",
        "blocks": blocks,
        "options": options,
        "growth": growth,
        "stochastic_depth": {"rates": rates, "expected_blocks": float(sum(1 - r for r in rates))},
        "paper_stochastic_depth": PAPER_EXPECTED_BLOCKS,
        "claim_holds": bool(
            growth["no norm, He init"] > 100 and identity
            and growth["batch norm"] < 2 * (blocks + 1)
        ),
    }


EXPERIMENT = register(
    Experiment(
        name="deep_tricks",
        lesson="07_skips_elsewhere",
        claim="without normalisation a deep ResNet's signal grows exponentially with depth at He "
        "initialisation; zero-initialised branches and ReZero start every block as the identity",
        configs={
            "quick": dict(blocks=30, width=16, batch=32, image_size=16),
            "full": dict(blocks=50, width=64, batch=128, image_size=32),
        },
        run=run,
    )
)
