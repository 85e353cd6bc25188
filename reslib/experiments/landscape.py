"""Lesson 07: the loss landscape with and without skip connections (Li et al. 2018).

Li, Xu, Taylor, Studer and Goldstein, "Visualizing the Loss Landscape of Neural Nets", NeurIPS
2018, Fig. 5: along random filter-normalised directions the loss of a deep ResNet
around its trained weights is smooth and nearly convex; without the skips, the landscape of the
same deep network turns sharp and chaotic. A small deep net (``toy_resnet``: dense blocks with
batch norm, on flattened CIFAR-10 crops) and its plain twin are trained alike, then sliced in 1-D
and 2-D with ``reslib.diagnostics.loss_landscape``.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from reslib.data import channel_statistics, load_dataset
from reslib.diagnostics import Landscape, loss_landscape
from reslib.experiments._registry import Experiment, register
from reslib.experiments.deep_tricks import toy_resnet
from reslib.training import build_optimizer

NETS = {"with skips": True, "without skips": False}


def non_convex_fraction(landscape: Landscape) -> float:
    """The fraction of a 2-D slice's interior grid points where the surface curves down.

    At every interior point the 2x2 Hessian of the loss in ``(alpha, beta)`` is estimated by
    central differences; the point counts as non-convex where its smaller eigenvalue is
    negative. A simpler stand-in for Li et al. 2018's map of ``|lambda_min / lambda_max|``
    (section 7), which also looks for negative curvature.
    """
    if not landscape.two_d:
        raise ValueError("non_convex_fraction needs a 2-D slice (loss_landscape(two_d=True)).")
    f = np.asarray(landscape.losses, dtype="float64")
    h = float(landscape.alphas[1] - landscape.alphas[0])
    k = float(landscape.betas[1] - landscape.betas[0])
    centre = f[1:-1, 1:-1]
    f_aa = (f[2:, 1:-1] - 2 * centre + f[:-2, 1:-1]) / h**2
    f_bb = (f[1:-1, 2:] - 2 * centre + f[1:-1, :-2]) / k**2
    f_ab = (f[2:, 2:] - f[2:, :-2] - f[:-2, 2:] + f[:-2, :-2]) / (4 * h * k)
    half_trace = (f_aa + f_bb) / 2
    smaller = half_trace - np.sqrt(np.maximum(half_trace**2 - (f_aa * f_bb - f_ab**2), 0.0))
    return float(np.mean(smaller < 0))


def rise(landscape: Landscape, distance: float = 0.5) -> float:
    """How much the loss of a 1-D slice rises from ``alpha = 0`` to ``alpha = +-distance``.

    The mean of the two losses nearest ``+-distance`` minus the loss nearest 0: the larger, the
    sharper the minimum in filter-normalised units.
    """
    if landscape.two_d:
        raise ValueError("rise needs a 1-D slice (loss_landscape(two_d=False)).")
    alphas, losses = np.asarray(landscape.alphas), np.asarray(landscape.losses)
    at = [int(np.argmin(np.abs(alphas - a))) for a in (-distance, distance, 0.0)]
    return float((losses[at[0]] + losses[at[1]]) / 2 - losses[at[2]])


def as_dict(landscape: Landscape) -> dict[str, Any]:
    """A ``Landscape`` as JSON-ready lists (``landscape_from_dict`` reverses it)."""
    return {
        "alphas": landscape.alphas.tolist(),
        "betas": None if landscape.betas is None else landscape.betas.tolist(),
        "losses": np.asarray(landscape.losses).tolist(),
        "errors": np.asarray(landscape.errors).tolist(),
        "dataset": landscape.dataset,
    }


def landscape_from_dict(record: dict[str, Any]) -> Landscape:
    """The ``Landscape`` stored by ``as_dict``, e.g. to plot it with ``reslib.plots.landscape``."""
    betas = record.get("betas")
    return Landscape(
        np.asarray(record["alphas"]), np.asarray(record["losses"], dtype="float64"),
        np.asarray(record["errors"], dtype="float64"),
        None if betas is None else np.asarray(betas), record.get("dataset"),
    )


def train_and_slice(
    residual: bool, x: np.ndarray, y: np.ndarray, classes: int, blocks: int, width: int,
    epochs: int,
    batch_size: int, learning_rate: float, probe_images: int, steps_1d: int, steps_2d: int,
    span: float, dataset: str, seed: int, progress: bool,
) -> dict[str, Any]:
    """Train one net with Adam, then slice its loss on ``probe_images`` training images."""
    keras.utils.set_random_seed(seed)
    model = toy_resnet(blocks, width, x.shape[1:], classes, layer="dense",
                       residual=residual, norm=True, activation="relu")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    build_optimizer(model)  # eagerly: see reslib.training.build_optimizer
    history = model.fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=True,
                        verbose=1 if progress else 0).history
    probe = (x[:probe_images], y[:probe_images])
    one = loss_landscape(model, *probe, steps=steps_1d, span=span, seed=seed, dataset=dataset)
    two = loss_landscape(model, *probe, steps=steps_2d, span=span, seed=seed, two_d=True,
                         dataset=dataset)
    return {
        "model": model.name,
        "parameters": model.count_params(),
        "train_loss": [float(v) for v in history["loss"]],
        "train_error": [1.0 - float(v) for v in history["accuracy"]],
        "slice_1d": as_dict(one),
        "slice_2d": as_dict(two),
        "rise_at_half": rise(one, 0.5 * span),
        "non_convex_fraction": non_convex_fraction(two),
    }


def run(
    blocks: int = 8,
    width: int = 64,
    train_images: int = 1000,
    crop: int = 16,
    epochs: int = 6,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    probe_images: int = 128,
    steps_1d: int = 21,
    steps_2d: int = 9,
    span: float = 1.0,
    progress: bool = True,
    seed: int = 0,
) -> dict[str, Any]:
    """Train a deep net with and without skips alike; slice both landscapes in 1-D and 2-D.

    Both nets see the same ``train_images`` CIFAR-10 images (centre ``crop x crop`` crops,
    flattened) and are sliced along directions drawn with the same seed, on the first
    ``probe_images`` of them. ``claim_holds``: the plain net's 2-D slice has the larger
    non-convex fraction. (The 1-D ``rise_at_half`` is reported too; in quick mode the plain net
    barely leaves its starting point, and which rise is larger varies with the seed.)
    """
    data = load_dataset("cifar10", "train", limit=train_images)
    mean, std = channel_statistics(data)
    x = ((data.images / 255.0 - mean) / std).astype("float32")
    start = max(0, (x.shape[1] - crop) // 2)
    x = x[:, start:start + crop, start:start + crop]
    dataset = f"{data.description}, centre {x.shape[1]}x{x.shape[2]} crops"
    nets = {}
    for label, residual in NETS.items():
        if progress:
            print(f"{blocks}-block net {label} on {dataset}")
        nets[label] = train_and_slice(
            residual, x, data.labels, len(data.class_names), blocks, width, epochs, batch_size,
            learning_rate, probe_images, steps_1d, steps_2d, span, dataset, seed, progress,
        )
    residual, plain = nets["with skips"], nets["without skips"]
    return {
        "dataset": dataset,
        "probe_images": probe_images,
        "nets": nets,
        "claim_holds": bool(plain["non_convex_fraction"] > residual["non_convex_fraction"]),
    }


EXPERIMENT = register(
    Experiment(
        name="landscape",
        lesson="07_skips_elsewhere",
        claim="around its trained weights the loss of a deep net without skips is less convex "
        "than with them, along filter-normalised directions (Li et al. 2018, Fig. 5)",
        configs={
            "quick": dict(blocks=8, width=64, train_images=1000, crop=16, epochs=6,
                          probe_images=128, steps_1d=21, steps_2d=9),
            "full": dict(blocks=28, width=128, train_images=None, crop=32, epochs=40,
                         probe_images=2500, steps_1d=51, steps_2d=51),
        },
        run=run,
    )
)
