"""Lesson 02: how the gradient reaches the early layers, with and without shortcuts.

He et al. 2016b, section 3: through identity shortcuts the gradient of the loss reaches every
block directly (dx_L/dx_l = I + ...). At initialisation, per block of a CIFAR ResNet and its
plain twin, measure ||dL/dx|| at the block's input on a batch of real images.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from reslib.data import channel_statistics, load_dataset
from reslib.diagnostics import gradient_norms
from reslib.experiments._registry import Experiment, register
from reslib.models import cifar_resnet


def run(
    depth: int = 56, batch: int = 128, progress: bool = True, seed: int = 0
) -> dict[str, Any]:
    """Gradient norms w.r.t. each block's input, plain vs residual, at initialisation.

    Returns per-model norms (input to output order), and ``claim_holds``: the ratio of the
    first block's to the last block's input-gradient norm is closer to 1 (in log scale) for the
    residual net than for the plain one.
    """
    data = load_dataset("cifar10", "train", limit=batch)
    mean, std = channel_statistics(data)
    x = ((data.images / 255.0 - mean) / std).astype("float32")
    models: dict[str, Any] = {}
    for residual in (False, True):
        label = f"{'resnet' if residual else 'plain'}-{depth}"
        keras.utils.set_random_seed(seed)
        model = cifar_resnet(depth, residual=residual, input_shape=x.shape[1:],
                             classes=len(data.class_names))
        norms = gradient_norms(model, x, data.labels).select("BasicBlock")
        ratio = float(norms.activations[0] / norms.activations[-1])
        models[label] = {
            "blocks": list(norms.layers),
            "input_gradient_norms": [float(v) for v in norms.activations],
            "first_to_last_ratio": ratio,
        }
        if progress:
            print(f"{label}: ||dL/dx|| first block / last block = {ratio:.3g}")
    distance = {k: abs(np.log10(v["first_to_last_ratio"])) for k, v in models.items()}
    return {
        "dataset": data.description,
        "models": models,
        "claim_holds": bool(distance[f"resnet-{depth}"] < distance[f"plain-{depth}"]),
    }


EXPERIMENT = register(
    Experiment(
        name="gradient_flow",
        lesson="02_residual_math",
        claim="the gradient reaching the first block stays closer to the last block's with "
        "shortcuts than without (He et al. 2016b, section 3)",
        configs={"quick": dict(depth=56, batch=32), "full": dict(depth=110, batch=128)},
        run=run,
    )
)
