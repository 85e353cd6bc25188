"""Issue 8, item 3: ``reslib.data.training_pipeline`` alone (augmentation on), in images/s.

The pipeline (shuffle, pad-and-crop, flip, normalise, batch 128, prefetch) is iterated over the
CIFAR-10 training images available, epoch after epoch, without a model; the first epoch warms up
(tf.data autotuning) and the figure is the median epoch. Its reference is the fastest training
throughput of item 2 measured in the same run: the pipeline must deliver at least that many
images per second, or it would be the bottleneck.
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks.isolate import run_worker
from benchmarks.report import Goal, Result

SECTION = "3. input pipeline (reslib.data, augmentation on)"
GOAL = Goal("ratio", ">=", 1.0, source="issue 8: the pipeline must not be the bottleneck of (2)")


def settings(quick: bool) -> dict[str, Any]:
    """Images, batch and epochs; ``quick`` uses 512 images."""
    if quick:
        return {"limit": 512, "batch_size": 128, "epochs": 3}
    return {"limit": None, "batch_size": 128, "epochs": 4}


def measure(limit: int | None, batch_size: int, epochs: int) -> dict[str, Any]:
    """Child side: images/s of ``epochs - 1`` timed passes over the augmented pipeline."""
    import numpy as np

    from reslib.data import ArrayPipeline, load_dataset, training_pipeline

    dataset = load_dataset("cifar10", "train", limit=limit)
    pipeline = training_pipeline(dataset, batch_size, augment=True, seed=0)
    seconds = []
    for _ in range(epochs):
        start = time.perf_counter()
        images = sum(int(batch.shape[0]) for batch, _ in pipeline)
        seconds.append(time.perf_counter() - start)
        if isinstance(pipeline, ArrayPipeline):  # it reshuffles between epochs
            pipeline.on_epoch_end()
    timed = seconds[1:] or seconds
    return {"images_per_second": images / float(np.median(timed)), "epoch_seconds": seconds,
            "images_per_epoch": images, "dataset": dataset.description,
            "engine": "numpy" if isinstance(pipeline, ArrayPipeline) else "tf.data",
            "batch_size": batch_size}


def run(quick: bool, training: Result | None, backend: str = "tensorflow") -> list[Result]:
    """Parent side: measure in a subprocess (tf.data where TensorFlow is installed, else the
    NumPy engine); compare with ``training`` (item 2)."""
    config = settings(quick)
    outcome = run_worker("benchmarks.pipeline:measure", config, backend=backend)
    note = outcome.error[:160] if outcome.error else ""
    if training is None and not note:
        note = "no training reference: run with --only cifar,pipeline"
    return [Result(
        SECTION, f"training_pipeline ({outcome.result.get('engine', '?')}), "
        f"batch {config['batch_size']}, augmented",
        outcome.result.get("images_per_second"), "img/s",
        training.value if training else None,
        f"fastest training, {training.figure}" if training else "", GOAL, note=note,
        details=dict(outcome.result, settings=config),
    )]
