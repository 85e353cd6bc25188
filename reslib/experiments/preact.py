"""Lesson 03: post-activation against pre-activation residual blocks on a deep stack.

He, Zhang, Ren and Sun, "Identity Mappings in Deep Residual Networks", ECCV 2016 (He et al.
2016b): moving batch norm and ReLU in front of the convolutions (Fig. 4e) leaves nothing on the
identity path, ``x_{l+1} = x_l + F(x_l)``, so ``x_L = x_l + sum_i F(x_i)`` and the gradient
``dL/dx_L`` reaches every earlier block unchanged (eq. 4 and 5). With post-activation
(He et al. 2016a) a ReLU follows each addition, ``x_{l+1} = relu(x_l + F(x_l))``. He et al.
2016b, Table 3: CIFAR-10 test error of ResNet-110 6.61% (original) vs 6.37% (pre-activation),
ResNet-164 5.93% vs 5.46%, ResNet-1001 7.61% vs 4.92%; their training curves show
pre-activation training more easily, most of all at 1001 layers.

The same CIFAR ResNet (basic blocks) is built both ways and trained alike at a learning rate
of 0.1 *without* warm-up (He et al. 2016a needed a warm-up for the post-activation ResNet-110).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from reslib import papers
from reslib.data import ImageDataset, load_dataset
from reslib.experiments._registry import Experiment, register
from reslib.models import cifar_resnet
from reslib.training import train

# He et al. 2016b, Table 3: CIFAR-10 test error (%), 50k augmented training images (a view of
# reslib.papers).
PAPER_TEST_ERROR = papers.view({name: f"he2016b.table3.{name}.error" for name in (
    "resnet-110", "resnet-110-preact", "resnet-164", "resnet-164-preact", "resnet-1001",
    "resnet-1001-preact")})
VERSIONS = {1: "post-activation", 2: "pre-activation"}


def downsample(dataset: ImageDataset, size: int) -> ImageDataset:
    """``dataset`` with its images average-pooled to ``size x size`` (a divisor of their size);
    the same dataset when ``size`` is already theirs. The description says so."""
    height = dataset.images.shape[1]
    if size == height:
        return dataset
    if size <= 0 or height % size:
        raise ValueError(f"downsample needs a size that divides the image size {height}; got "
                         f"size={size}.")
    factor, channels = height // size, dataset.images.shape[-1]
    images = dataset.images.reshape(len(dataset), size, factor, size, factor, channels)
    pooled = images.mean(axis=(2, 4)).round().astype(dataset.images.dtype)
    return ImageDataset(dataset.name, dataset.split, pooled, dataset.labels,
                        dataset.class_names, f"{dataset.source}, pooled to {size}x{size}")


def build(depth: int, version: int, input_shape: tuple[int, int, int], classes: int,
          seed: int) -> keras.Model:
    """CIFAR ResNet-``depth`` with basic blocks, post- (1) or pre-activation (2), seeded."""
    keras.utils.set_random_seed(seed)
    return cifar_resnet(depth, version=version, block="basic", input_shape=input_shape,
                        classes=classes)


def run(
    depth: int = 110,
    image_size: int = 32,
    train_images: int | None = None,
    test_images: int | None = None,
    epochs: int = 164,
    batch_size: int = 128,
    learning_rate: float = 0.1,
    milestones: tuple[float, ...] = (0.5, 0.75),
    progress: bool = True,
    seed: int = 0,
) -> dict[str, Any]:
    """Train post- and pre-activation ResNet-``depth`` alike, without warm-up.

    Returns per-version histories, the dataset, the paper's numbers
    and ``claim_holds``: the pre-activation net reaches the lower training loss, averaged over
    the epochs (the area under the training curve: faster and lower).
    """
    train_set = downsample(load_dataset("cifar10", "train", limit=train_images), image_size)
    test_set = downsample(load_dataset(train_set.name, "test", limit=test_images), image_size)
    models: dict[str, Any] = {}
    for version, label in VERSIONS.items():
        if progress:
            print(f"ResNet-{depth} {label} on {train_set.title}")
        model = build(depth, version, train_set.images.shape[1:], len(train_set.class_names),
                      seed)
        history = train(model, train_set, test_set, epochs=epochs, batch_size=batch_size,
                        learning_rate=learning_rate, milestones=milestones, warmup_epochs=0.0,
                        seed=seed, progress=progress)
        models[label] = {"parameters": model.count_params(), **history.summary()}
    mean_loss = {label: float(np.mean(m["train_loss"])) for label, m in models.items()}
    return {
        "dataset": train_set.description,
        "test_dataset": test_set.description,
        "depth": depth,
        "models": models,
        "mean_train_loss": mean_loss,
        "paper_test_error_percent": PAPER_TEST_ERROR,
        "claim_holds": bool(mean_loss["pre-activation"] < mean_loss["post-activation"]),
    }


EXPERIMENT = register(
    Experiment(
        name="preact",
        lesson="03_bottleneck_preact",
        claim="trained alike without warm-up, the pre-activation deep ResNet reaches lower "
        "training loss than the post-activation one (He et al. 2016b)",
        configs={
            "quick": dict(depth=56, image_size=16, train_images=1000, test_images=500,
                          epochs=3, batch_size=64, learning_rate=0.1, milestones=()),
            "full": dict(depth=110, image_size=32, epochs=164, batch_size=128,
                         learning_rate=0.1, milestones=(0.5, 0.75)),
        },
        run=run,
    )
)
