"""Lesson 03: what a bottleneck block costs next to a basic block, and the shortcut options.

He, Zhang, Ren and Sun, "Deep Residual Learning for Image Recognition", CVPR 2016 (He et al.
2016a): section 4.1 ("Deeper Bottleneck Architectures", Fig. 5) replaces two 3x3 convolutions by
1x1 (reduce), 3x3, 1x1 (expand); section 3.3 defines the shortcut options and section 4.1
(Table 3) compares A, B and C on ImageNet.

Costs are counted twice: by formula (``basic_cost``, ``bottleneck_cost``) and from the kernels of
the real ``reslib`` blocks (``counted_cost``); the two must agree. MACs are multiply-accumulates
of the convolutions (the papers' "FLOPs" count multiply-adds the same way).
"""

from __future__ import annotations

import math
from typing import Any

import keras

from reslib import papers
from reslib.data import load_dataset
from reslib.experiments._registry import Experiment, register
from reslib.layers.blocks import BasicBlock, BottleneckBlock
from reslib.models import cifar_resnet, resnet
from reslib.training import train

# He et al. 2016a, Table 1: multiply-adds of one 224x224 forward pass, in units of 1e9, and
# Table 3: ImageNet top-1 error (%, 10-crop) of ResNet-34 with options A, B, C (views of
# reslib.papers).
PAPER_GIGA_MACS = papers.view({f"resnet-{d}": f"he2016a.table1.resnet-{d}.gflops"
                               for d in (34, 50)})
PAPER_RESNET34_TOP1 = papers.view({o: f"he2016a.table3.resnet-34-{o}.top1" for o in "ABC"})


def conv_cost(kernel: int, channels_in: int, channels_out: int, height: int, width: int,
              groups: int = 1) -> dict[str, int]:
    """Parameters ``k*k*c_in*c_out/g`` and MACs ``h*w*k*k*c_in*c_out/g`` of one bias-free
    convolution whose output is ``height x width``."""
    params = kernel * kernel * channels_in * channels_out // groups
    return {"params": params, "macs": height * width * params}


def basic_cost(channels: int, height: int, width: int) -> dict[str, int]:
    """Formula cost of a ``BasicBlock`` (He et al. 2016a, Fig. 5 left) on ``channels`` in and out,
    stride 1: two 3x3 convolutions, ``2 * 9 c^2`` weights, and two batch norms (2c each)."""
    conv = conv_cost(3, channels, channels, height, width)
    return {"params": 2 * conv["params"] + 2 * 2 * channels, "macs": 2 * conv["macs"]}


def bottleneck_cost(channels: int, height: int, width: int, expansion: int = 4) -> dict[str, int]:
    """Formula cost of a ``BottleneckBlock`` with ``channels`` in and out and ``channels /
    expansion`` inside (He et al. 2016a, Fig. 5 right), stride 1:
    ``c^2/4 + 9 c^2/16 + c^2/4 = 17 c^2 / 16`` weights at expansion 4, plus three batch norms."""
    if channels % expansion:
        raise ValueError(
            f"bottleneck_cost needs channels divisible by expansion={expansion}; got "
            f"channels={channels}."
        )
    inner = channels // expansion
    convs = [conv_cost(1, channels, inner, height, width),
             conv_cost(3, inner, inner, height, width),
             conv_cost(1, inner, channels, height, width)]
    return {"params": sum(c["params"] for c in convs) + 2 * (2 * inner + channels),
            "macs": sum(c["macs"] for c in convs)}


def counted_cost(block: keras.layers.Layer, input_shape: tuple[int, int, int]) -> dict[str, int]:
    """Build ``block`` (a ``BasicBlock`` or ``BottleneckBlock``) on ``(height, width, channels)``
    and count its trainable parameters and the MACs of its real convolution kernels, including
    a projection shortcut if it has one."""
    block.build((1, *input_shape))
    params = sum(math.prod(w.shape) for w in block.trainable_weights)
    return {"params": int(params), "macs": _block_macs(block, input_shape)}


def _kernel_macs(layer: keras.layers.Layer, output_shape: tuple) -> int:
    """Output positions times the weights each output channel's position uses."""
    positions = math.prod(output_shape[1:-1])
    return positions * math.prod(layer.kernel.shape)


def model_macs(model: keras.Model) -> int:
    """MACs of one forward pass of a functional ResNet with fixed input size: its top-level
    ``Conv2D`` and ``Dense`` layers and every ``BasicBlock``/``BottleneckBlock`` counted from
    their kernels (``counted_cost``)."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, (BasicBlock, BottleneckBlock)):
            total += _block_macs(layer, tuple(layer.input.shape[1:]))
        elif isinstance(layer, keras.layers.Conv2D):
            total += _kernel_macs(layer, tuple(layer.output.shape))
        elif isinstance(layer, keras.layers.Dense):
            total += math.prod(layer.kernel.shape)
    return total


def _block_macs(block: keras.layers.Layer, input_shape: tuple) -> int:
    """MACs of a built ResNet block's convolutions, shortcut projection included."""
    shape, macs = (1, *input_shape), 0
    for conv in block.convs:
        shape = conv.compute_output_shape(shape)
        macs += _kernel_macs(conv, shape)
    projection = block.shortcut_layer.projection if block.shortcut_layer is not None else None
    if projection is not None:
        macs += _kernel_macs(projection, projection.compute_output_shape((1, *input_shape)))
    return macs


def block_comparison(widths: tuple[int, ...], size: int) -> dict[str, Any]:
    """Basic vs bottleneck block at equal width ``c`` (in = out = c) on ``size x size`` maps,
    by formula and counted from reslib's blocks."""
    rows = []
    for channels in widths:
        row = {"width": channels,
               "basic_formula": basic_cost(channels, size, size),
               "bottleneck_formula": bottleneck_cost(channels, size, size),
               "basic_counted": counted_cost(BasicBlock(channels), (size, size, channels)),
               "bottleneck_counted": counted_cost(
                   BottleneckBlock(channels // 4), (size, size, channels))}
        row["agree"] = (row["basic_formula"] == row["basic_counted"]
                        and row["bottleneck_formula"] == row["bottleneck_counted"])
        rows.append(row)
    return {"map_size": size, "rows": rows}


def shortcut_options(depth: int) -> dict[str, int]:
    """Trainable parameters of CIFAR ResNet-``depth`` with shortcut option A, B and C."""
    return {option: _trainable(cifar_resnet(depth, shortcut=option)) for option in "ABC"}


def imagenet_macs(depths: tuple[int, ...]) -> dict[str, dict[str, float]]:
    """Parameters and giga-MACs at 224x224 of ImageNet ResNet-``depth`` (torchvision v1.5)."""
    result = {}
    for depth in depths:
        model = resnet(depth, input_shape=(224, 224, 3))
        result[f"resnet-{depth}"] = {"params": _trainable(model),
                                     "giga_macs": round(model_macs(model) / 1e9, 3)}
    return result


def _trainable(model: keras.Model) -> int:
    return int(sum(math.prod(w.shape) for w in model.trainable_weights))


def train_shortcut_options(
    depth: int, train_images: int | None, test_images: int | None, seed: int, progress: bool,
    **recipe: Any,
) -> dict[str, Any]:
    """Train CIFAR ResNet-``depth`` with options A, B and C alike; final errors per option."""
    train_set = load_dataset("cifar10", "train", limit=train_images)
    test_set = load_dataset(train_set.name, "test", limit=test_images)
    models = {}
    for option in "ABC":
        keras.utils.set_random_seed(seed)
        model = cifar_resnet(depth, shortcut=option, input_shape=train_set.images.shape[1:],
                             classes=len(train_set.class_names))
        history = train(model, train_set, test_set, seed=seed, progress=progress, **recipe)
        models[option] = {"final_train_error": history.train_error[-1],
                          "final_test_error": history.test_error[-1],
                          "test_error": history.test_error}
    return {"dataset": train_set.description, "test_dataset": test_set.description,
            "models": models}


def run(
    widths: tuple[int, ...] = (64, 128, 256, 512),
    map_size: int = 56,
    shortcut_depth: int = 20,
    imagenet_depths: tuple[int, ...] = (34, 50),
    train_options: dict[str, Any] | None = None,
    progress: bool = True,
    seed: int = 0,
) -> dict[str, Any]:
    """Count block, shortcut-option and ImageNet-model costs; optionally train options A/B/C.

    ``train_options``: ``None`` (count only) or the arguments of ``train_shortcut_options``
    besides ``depth``, ``seed`` and ``progress``. ``claim_holds``: formula and counted costs agree
    at every width, the bottleneck needs at least 10x fewer parameters and MACs than the basic
    block at equal width, and option A < B < C in parameters.
    """
    blocks = block_comparison(widths, map_size)
    options = shortcut_options(shortcut_depth)
    result: dict[str, Any] = {
        "dataset": "none (parameter and MAC counts; no data)",
        "blocks": blocks,
        "shortcut_params": {f"resnet-{shortcut_depth}": options},
        "imagenet": imagenet_macs(imagenet_depths),
        "paper_giga_macs": PAPER_GIGA_MACS,
        "paper_resnet34_top1": PAPER_RESNET34_TOP1,
    }
    if train_options is not None:
        trained = train_shortcut_options(shortcut_depth, seed=seed, progress=progress,
                                         **train_options)
        result["dataset"] = trained["dataset"]
        result["shortcut_training"] = trained
    cheaper = all(
        10 * row["bottleneck_counted"][key] < row["basic_counted"][key]
        for row in blocks["rows"] for key in ("params", "macs")
    )
    result["claim_holds"] = bool(
        all(row["agree"] for row in blocks["rows"]) and cheaper
        and options["A"] < options["B"] < options["C"]
    )
    return result


EXPERIMENT = register(
    Experiment(
        name="bottleneck_cost",
        lesson="03_bottleneck_preact",
        claim="at equal width a 1x1-3x3-1x1 bottleneck needs about 17x fewer weights and MACs "
        "than two 3x3 convolutions (formula = count), and shortcut option A < B < C in "
        "parameters (He et al. 2016a)",
        configs={
            "quick": dict(widths=(64, 128, 256), map_size=16, shortcut_depth=20,
                          imagenet_depths=(34, 50)),
            "full": dict(widths=(64, 128, 256, 512, 1024, 2048), map_size=56, shortcut_depth=20,
                         imagenet_depths=(18, 34, 50, 101, 152),
                         train_options=dict(train_images=None, test_images=None, epochs=164,
                                            batch_size=128, learning_rate=0.1,
                                            milestones=(0.5, 0.75))),
        },
        run=run,
    )
)
