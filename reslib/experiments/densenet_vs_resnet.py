"""Lesson 04: DenseNet-BC against a ResNet of the same parameter budget, and what concatenation
costs in memory.

Huang, Liu, van der Maaten and Weinberger, "Densely Connected Convolutional Networks", CVPR 2017
(Huang et al. 2017), Table 2: DenseNet-BC (L=100, k=12) has 0.8M parameters and 4.51% error on
CIFAR-10 (augmented), ResNet-110 1.7M and 6.41% (Huang et al. 2016's re-training of it;
He et al. 2016a, Table 6, report 6.43%). Pleiss, Chen, Huang, Li, van der Maaten and
Weinberger, "Memory-Efficient Implementation of DenseNets", 2017: a naive implementation keeps a
new copy of the growing concatenation (and of its batch norm and ReLU) for every layer, so the
feature maps held for the backward pass grow quadratically with the depth of a block; writing
the concatenation and the batch-norm outputs into shared buffers (recomputed in the backward
pass) makes the growth linear.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
from keras import ops

from reslib import papers
from reslib.data import downsample, load_dataset
from reslib.experiments._registry import Experiment, register
from reslib.layers.dense import DenseBlock
from reslib.models import cifar_densenet, cifar_resnet
from reslib.training import train

# Huang et al. 2017, Table 2 (C10+, 50k augmented training images): parameters and test error
# (a view of reslib.papers).
PAPER = {
    name: {"params_millions": papers.value(f"huang2017.table2.{name}.params"),
           "test_error_percent": papers.value(f"huang2017.table2.{name}.error")}
    for name in ("densenet-bc-100", "resnet-110")
}


def block_channels(c0: int, num_layers: int, growth_rate: int) -> list[int]:
    """Channels entering each layer of a dense block, then its output: ``c0 + l * k``."""
    return [c0 + index * growth_rate for index in range(num_layers + 1)]


def naive_block_values(c0: int, num_layers: int, growth_rate: int,
                       bottleneck_width: int = 4) -> int:
    """Feature-map values per pixel that a naive bottleneck dense block creates and keeps:
    per layer, BN and ReLU of its input (``2 c_{l-1}``), the 1x1 output with its BN and ReLU
    (``3 * 4k``), the 3x3 output (``k``) and the new concatenation (``c_l``). Quadratic in L."""
    inner = bottleneck_width * growth_rate
    channels = block_channels(c0, num_layers, growth_rate)
    return sum(2 * channels[i] + 3 * inner + growth_rate + channels[i + 1]
               for i in range(num_layers))


def shared_block_values(c0: int, num_layers: int, growth_rate: int,
                        bottleneck_width: int = 4) -> int:
    """Values per pixel in the spirit of Pleiss et al. 2017: one shared concatenation buffer of
    ``c0 + L k`` maps, two shared scratch buffers for BN and ReLU of the largest input
    (``c0 + (L-1) k`` each, recomputed in the backward pass), and per layer the 1x1 output with
    its BN and ReLU (``3 * 4k``). Linear in L."""
    channels = block_channels(c0, num_layers, growth_rate)
    return channels[-1] + 2 * channels[-2] + num_layers * 3 * bottleneck_width * growth_rate


def traced_block_bytes(block: DenseBlock, x: Any) -> dict[str, Any]:
    """Run a built bottleneck ``DenseBlock`` on ``x`` unit by unit and add up the bytes of every
    intermediate tensor it creates (BN, ReLU, convolution outputs and each concatenation).

    Returns ``{"bytes", "tensors", "matches_block"}``; ``matches_block`` checks that the traced
    pass gives the block's own output (inference mode, no dropout).
    """
    if block.dropout:
        raise ValueError(f"traced_block_bytes needs a block without dropout; got "
                         f"dropout={block.dropout}.")
    features, sizes = ops.convert_to_tensor(x), []
    for layer in block.dense_layers:
        hidden = features
        for norm, conv in zip(layer.norms, layer.convs):
            normed = norm(hidden, training=False)
            activated = ops.relu(normed)
            hidden = conv(activated)
            sizes += [normed, activated, hidden]
        features = ops.concatenate([features, hidden], axis=-1)
        sizes.append(features)
    total = sum(math.prod(t.shape) * _itemsize(t) for t in sizes)
    expected = ops.convert_to_numpy(block(x, training=False))
    same = bool(np.allclose(ops.convert_to_numpy(features), expected, atol=1e-5))
    return {"bytes": int(total), "tensors": len(sizes), "matches_block": same}


def _itemsize(tensor: Any) -> int:
    return np.dtype(keras.backend.standardize_dtype(tensor.dtype)).itemsize


def memory_by_depth(c0: int, growth_rate: int, depths: tuple[int, ...], size: int,
                    batch: int) -> dict[str, Any]:
    """Bytes (float32) of a dense block's feature maps vs its number of layers: naive formula,
    traced from reslib's ``DenseBlock``, and the shared-buffer footprint."""
    rows = []
    for num_layers in depths:
        block = DenseBlock(num_layers, growth_rate)
        x = np.random.default_rng(0).normal(size=(batch, size, size, c0)).astype("float32")
        block.build(x.shape)
        traced = traced_block_bytes(block, x)
        scale = 4 * batch * size * size
        rows.append({
            "layers": num_layers,
            "naive_formula_bytes": scale * naive_block_values(c0, num_layers, growth_rate),
            "traced_bytes": traced["bytes"],
            "shared_bytes": scale * shared_block_values(c0, num_layers, growth_rate),
            "output_bytes": scale * block_channels(c0, num_layers, growth_rate)[-1],
            "traced_matches_block": traced["matches_block"],
        })
    return {"c0": c0, "growth_rate": growth_rate, "map_size": size, "batch": batch,
            "rows": rows}


def _trainable(model: keras.Model) -> int:
    return int(sum(math.prod(w.shape) for w in model.trainable_weights))


def parameter_budgets(densenet_depth: int, resnet_depths: tuple[int, ...]) -> dict[str, int]:
    """Trainable parameters of DenseNet-BC-``densenet_depth`` (k=12) and CIFAR ResNets."""
    counts = {f"densenet-bc-{densenet_depth}": _trainable(cifar_densenet(densenet_depth))}
    counts.update({f"resnet-{d}": _trainable(cifar_resnet(d)) for d in resnet_depths})
    return counts


def train_pair(
    densenet_depth: int, resnet_depth: int, image_size: int, train_images: int | None,
    test_images: int | None, seed: int, progress: bool, **recipe: Any,
) -> dict[str, Any]:
    """Train DenseNet-BC-``densenet_depth`` (k=12) and ResNet-``resnet_depth`` alike."""
    train_set = downsample(load_dataset("cifar10", "train", limit=train_images), image_size)
    test_set = downsample(load_dataset(train_set.name, "test", limit=test_images), image_size)
    shape, classes = train_set.images.shape[1:], len(train_set.class_names)
    builders = {
        f"densenet-bc-{densenet_depth}": lambda: cifar_densenet(
            densenet_depth, input_shape=shape, classes=classes),
        f"resnet-{resnet_depth}": lambda: cifar_resnet(
            resnet_depth, input_shape=shape, classes=classes),
    }
    models = {}
    for label, build in builders.items():
        if progress:
            print(f"{label} on {train_set.title}")
        keras.utils.set_random_seed(seed)
        model = build()
        history = train(model, train_set, test_set, seed=seed, progress=progress, **recipe)
        models[label] = {"parameters": _trainable(model), **history.summary()}
    return {"dataset": train_set.description, "test_dataset": test_set.description,
            "models": models}


def run(
    densenet_depth: int = 100,
    resnet_depth: int = 56,
    budget_depths: tuple[int, ...] = (56, 110),
    memory_layers: tuple[int, ...] = (1, 2, 4, 8, 16),
    memory_size: int = 32,
    memory_batch: int = 1,
    image_size: int = 32,
    train_images: int | None = None,
    test_images: int | None = None,
    epochs: int = 300,
    batch_size: int = 64,
    learning_rate: float = 0.1,
    milestones: tuple[float, ...] = (0.5, 0.75),
    progress: bool = True,
    seed: int = 0,
) -> dict[str, Any]:
    """Parameter budgets, the memory of concatenation, and a DenseNet-BC vs ResNet training run.

    ``claim_holds``: the traced bytes of every dense block equal the naive formula, the naive
    footprint grows faster than the number of layers while the shared one grows no faster, and
    the trained DenseNet-BC has no more parameters than the ResNet it is compared with.
    """
    memory = memory_by_depth(2 * 12, 12, memory_layers, memory_size, memory_batch)
    trained = train_pair(densenet_depth, resnet_depth, image_size, train_images, test_images,
                         seed, progress, epochs=epochs, batch_size=batch_size,
                         learning_rate=learning_rate, milestones=milestones)
    rows = memory["rows"]
    exact = all(r["traced_bytes"] == r["naive_formula_bytes"] and r["traced_matches_block"]
                for r in rows)
    growth = rows[-1]["layers"] / rows[-2]["layers"]
    superlinear = rows[-1]["naive_formula_bytes"] / rows[-2]["naive_formula_bytes"] > growth
    linear = rows[-1]["shared_bytes"] / rows[-2]["shared_bytes"] <= growth
    params = [m["parameters"] for m in trained["models"].values()]
    return {
        "dataset": trained["dataset"],
        "budgets": parameter_budgets(densenet_depth, budget_depths),
        "memory": memory,
        "training": trained,
        "paper": PAPER,
        "claim_holds": bool(exact and superlinear and linear and params[0] <= params[1]),
    }


EXPERIMENT = register(
    Experiment(
        name="densenet_vs_resnet",
        lesson="04_densenet",
        claim="DenseNet-BC is trained against a ResNet with at least as many parameters; "
        "naively, the feature maps a dense block keeps grow quadratically with its layers, with "
        "shared buffers linearly (Huang et al. 2017; Pleiss et al. 2017)",
        configs={
            "quick": dict(densenet_depth=22, resnet_depth=8, budget_depths=(8, 56),
                          memory_layers=(1, 2, 4, 8, 16), memory_size=16, memory_batch=1,
                          image_size=16, train_images=1000, test_images=500, epochs=3,
                          batch_size=64, learning_rate=0.1, milestones=()),
            "full": dict(densenet_depth=100, resnet_depth=56, budget_depths=(56, 110),
                         memory_layers=(1, 2, 4, 8, 16, 32), memory_size=32, memory_batch=64,
                         image_size=32, epochs=300, batch_size=64, learning_rate=0.1,
                         milestones=(0.5, 0.75)),
        },
        run=run,
    )
)
