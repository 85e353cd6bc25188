"""Lesson 02: how the gradient reaches the early layers, with and without shortcuts.

He et al. 2016b, section 3: through identity shortcuts the gradient of the loss reaches every
block directly (dx_L/dx_l = I + ...). Per block of a CIFAR ResNet and its plain twin, on one
batch of real images, this measures ``||dL/dx||`` at the block's input:

* at initialisation with batch norm in training mode (batch statistics, what the first step of
  training sees): the plain stack's gradient *grows* towards the input by orders of magnitude,
  as Yang et al. 2019 ("A mean field theory of batch normalization", ICLR) predict for deep
  batch-normalised nets; the ResNet's stays within about one order of magnitude;
* at initialisation with batch norm in inference mode (moving statistics, which at
  initialisation make every batch norm the identity): what the nets do without normalisation;
* after ``steps`` SGD steps on the batch, again in training mode;

and the forward signal: the root-mean-square of every block's output at initialisation.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from reslib.data import channel_statistics, load_dataset
from reslib.diagnostics import gradient_norms
from reslib.experiments._registry import Experiment, register
from reslib.layers.blocks import BasicBlock
from reslib.models import cifar_resnet
from reslib.training import WarmupSchedule


def run(
    depth: int = 56,
    batch: int = 128,
    steps: int = 0,
    learning_rate: float = 0.1,
    progress: bool = True,
    seed: int = 0,
) -> dict[str, Any]:
    """Gradient norms w.r.t. each block's input, plain vs residual, at init and after training.

    Args:
        depth: of ``cifar_resnet`` and its plain twin (``6n + 2``).
        batch: images of CIFAR-10's training set the gradients are measured on.
        steps: SGD steps (momentum 0.9, ``learning_rate``, warm-up over the first half) on that
            batch before the second measurement; 0 skips it.
        learning_rate: peak learning rate of those steps.

    Returns:
        Per-model norms (input to output order) under ``"models"``: ``input_gradient_norms``
        and ``first_to_last_ratio`` (training-mode batch norm, at init),
        ``inference_input_gradient_norms`` and ``inference_first_to_last_ratio``,
        ``activation_rms`` (each block's output), and with ``steps`` the
        ``trained_input_gradient_norms``, ``trained_first_to_last_ratio``, ``trained_loss``
        and the loss before each step (``step_losses``). ``claim_holds``: at init, the
        first-to-last ratio is closer to 1 (in log scale) for the residual net than for the
        plain one. (After a few steps the plain net's ratio is no longer extreme: He et al.
        2016a, section 4.1, find healthy gradient norms in their trained plain nets.)
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
        record = _probe(model, x, data.labels, training=True)
        inference = _probe(model, x, data.labels, training=False)
        record.update(
            inference_input_gradient_norms=inference["input_gradient_norms"],
            inference_first_to_last_ratio=inference["first_to_last_ratio"],
            activation_rms=block_output_rms(model, x),
        )
        if steps:
            losses = sgd_steps(model, x, data.labels, steps, learning_rate)
            trained = _probe(model, x, data.labels, training=True)
            record.update(
                trained_input_gradient_norms=trained["input_gradient_norms"],
                trained_first_to_last_ratio=trained["first_to_last_ratio"],
                trained_loss=trained["loss"],
                step_losses=losses,
            )
        models[label] = record
        if progress:
            after = f", after {steps} steps {record['trained_first_to_last_ratio']:.3g}"
            print(f"{label}: ||dL/dx|| first block / last block = "
                  f"{record['first_to_last_ratio']:.3g} (batch statistics), "
                  f"{record['inference_first_to_last_ratio']:.3g} (moving statistics)"
                  f"{after if steps else ''}")
    distance = {k: abs(np.log10(v["first_to_last_ratio"])) for k, v in models.items()}
    return {
        "dataset": data.description,
        "models": models,
        "claim_holds": bool(distance[f"resnet-{depth}"] < distance[f"plain-{depth}"]),
    }


def sgd_steps(
    model: keras.Model, x: np.ndarray, y: np.ndarray, steps: int, learning_rate: float
) -> list[float]:
    """``steps`` full-batch SGD steps (momentum 0.9, linear warm-up over the first half, weight
    decay 1e-4) on ``(x, y)``, run eagerly: a handful of steps does not pay for compiling.

    Returns the training loss before each step.
    """
    schedule = WarmupSchedule(learning_rate, total_steps=steps, warmup_steps=steps // 2,
                              schedule="constant")
    model.compile(
        optimizer=keras.optimizers.SGD(schedule, momentum=0.9, weight_decay=1e-4),
        loss=keras.losses.SparseCategoricalCrossentropy(), run_eagerly=True,
    )
    return [float(model.train_on_batch(x, y)) for _ in range(steps)]


def _probe(model: keras.Model, x: np.ndarray, y: np.ndarray, training: bool) -> dict[str, Any]:
    """Input-gradient norms of the model's ``BasicBlock``s and their first-to-last ratio."""
    norms = gradient_norms(model, x, y, training=training).select("BasicBlock")
    return {
        "blocks": list(norms.layers),
        "input_gradient_norms": [float(v) for v in norms.activations],
        "first_to_last_ratio": float(norms.activations[0] / norms.activations[-1]),
        "loss": float(norms.loss),
    }


def block_output_rms(model: keras.Model, x: np.ndarray, training: bool = True) -> list[float]:
    """Root-mean-square of every top-level ``BasicBlock``'s output on ``x``, input to output.

    The forward half of signal propagation: in a post-activation ResNet every block adds a
    batch-normalised branch to the stream, so the stream's RMS grows with depth while each
    branch stays of unit scale (De and Smith 2020); in the plain twin every block's output is
    normalised afresh. Runs in a ``keras.StatelessScope``: batch norm's moving statistics are
    not updated.
    """
    blocks = [layer for layer in model.layers if isinstance(layer, BasicBlock)]
    if not blocks:
        raise ValueError(f"Model {model.name!r} has no top-level BasicBlock layers.")
    probe = keras.Model(model.inputs, [block.output for block in blocks])
    with keras.StatelessScope():
        outputs = probe(x, training=training)
    return [float(np.sqrt(np.mean(np.square(keras.ops.convert_to_numpy(o))))) for o in outputs]


def figures(record: dict[str, Any]) -> dict[str, Any]:
    """Gradient norm by block, plain vs residual, at init and (if measured) after training."""
    from types import SimpleNamespace

    from reslib.plots import gradient_norms_by_depth

    results, labels = [], []
    for label, model in record["models"].items():
        for key, when in (("input_gradient_norms", "init"),
                          ("trained_input_gradient_norms", "after training")):
            if key in model:
                results.append(SimpleNamespace(activations=np.array(model[key])))
                labels.append(f"{label}, {when}")
    figure = gradient_norms_by_depth(results, labels, kind="activations",
                                     dataset=record.get("dataset"))
    figure.axes[0].set_xlabel("block (1 = nearest the input)")
    return {"gradient-norms": figure}


EXPERIMENT = register(
    Experiment(
        name="gradient_flow",
        lesson="02_residual_math",
        claim="the gradient reaching the first block stays closer to the last block's with "
        "shortcuts than without (He et al. 2016b, section 3)",
        configs={
            "quick": dict(depth=56, batch=32, steps=10, learning_rate=0.05),
            "full": dict(depth=110, batch=128, steps=50, learning_rate=0.1),
        },
        run=run,
        figures=figures,
    )
)
