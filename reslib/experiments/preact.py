"""Lesson 03: post-activation against pre-activation residual blocks at the start of training.

He, Zhang, Ren and Sun, "Identity Mappings in Deep Residual Networks", ECCV 2016 (He et al.
2016b): moving batch norm and ReLU in front of the convolutions (Fig. 4e) leaves nothing on the
identity path, ``x_{l+1} = x_l + F(x_l)``, so ``x_L = x_l + sum_i F(x_i)`` and the gradient
``dL/dx_L`` reaches every earlier block unchanged (eq. 4 and 5). With post-activation
(He et al. 2016a) a ReLU follows each addition, ``x_{l+1} = relu(x_l + F(x_l))``.

What the paper finds (Table 3 and section 4.2): the optimisation gain is large at 1001 layers,
where the original unit's training error falls very slowly at the start (Fig. 1) and the test
error drops from 7.61% to 4.92%. At 164 layers and fewer the ReLU after the addition is "not
severe": the original unit is a little slower at the start of training and then trains well
(Fig. 6), and pre-activation mostly regularises (slightly higher training loss at convergence,
lower test error: 6.61% against 6.37% at 110 layers, 5.93% against 5.46% at 164).

This experiment measures the part a short run can show: the *start* of training. The same CIFAR
ResNet (basic blocks) is built both ways and trained alike, on the paper's recipe at a learning
rate of 0.1 without warm-up (He et al. 2016a warmed up only their ResNet-110), with several
seeds. The claim holds when every post-activation run has a higher mean training loss over the
first ``early_epochs`` epochs than every pre-activation run, by more than the seed-to-seed spread.
Each run also records its loss before the first step (``initial_loss``): in small quick-mode
nets most of the gap is already there, since the post-activation stack's output is not
normalised and grows with depth, while the pre-activation net ends in batch norm and ReLU. The
final test errors are recorded, and compared with Table 3 only in full mode; no ordering of them
is claimed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import keras
import numpy as np

from reslib import _validation as check
from reslib import papers
from reslib.data import ImageDataset, channel_statistics, downsample, load_dataset
from reslib.experiments._registry import Experiment, register
from reslib.logits import logits_model
from reslib.models import cifar_resnet
from reslib.training import train

# He et al. 2016b, Table 3: CIFAR-10 test error (%), 50k augmented training images (a view of
# reslib.papers).
PAPER_TEST_ERROR = papers.view({name: f"he2016b.table3.{name}.error" for name in (
    "resnet-110", "resnet-110-preact", "resnet-164", "resnet-164-preact", "resnet-1001",
    "resnet-1001-preact")})
VERSIONS = {1: "post-activation", 2: "pre-activation"}


def build(depth: int, version: int, input_shape: tuple[int, int, int], classes: int,
          seed: int, width: int = 16) -> keras.Model:
    """CIFAR ResNet-``depth`` with basic blocks, post- (1) or pre-activation (2), seeded.

    ``width`` is the first stage's filters (the paper's 16); the shortcuts are each version's
    paper default (option A for post-activation, B for pre-activation).
    """
    keras.utils.set_random_seed(seed)
    return cifar_resnet(depth, version=version, block="basic", input_shape=input_shape,
                        classes=classes, width=width)


def initial_loss(model: keras.Model, dataset: ImageDataset, batch_size: int = 250) -> float:
    """Mean cross-entropy of ``model`` on ``dataset`` before any training (the loss at step 0).

    Images are normalised as ``reslib.training.train`` does (per-channel statistics of the
    dataset, no augmentation); batch norm runs in training mode, on batch statistics, as in the
    first steps, and the moving statistics it updates are put back, so ``model`` is unchanged.
    The loss is taken on the float32 logits. Inputs ``(N, H, W, C)`` uint8 images.
    """
    batch_size = check.positive_int("batch_size", batch_size)
    mean, std = channel_statistics(dataset)
    trainer, weights = logits_model(model), model.get_weights()
    total = 0.0
    for start in range(0, len(dataset), batch_size):
        images = (dataset.images[start:start + batch_size].astype("float32") / 255.0 - mean) / std
        labels = dataset.labels[start:start + batch_size]
        logits = trainer(images, training=True)
        losses = keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
        total += float(keras.ops.sum(losses))
    model.set_weights(weights)
    return total / len(dataset)


def early_loss(train_loss: Sequence[float], epochs: int) -> float:
    """The mean training loss over the first ``epochs`` epochs of a per-epoch curve: how fast a
    network starts (the area under the start of its curve). Keras' epoch loss is itself the
    mean over the epoch's steps, so this is the mean over the first ``epochs`` epochs' steps."""
    epochs = check.positive_int("early_epochs", epochs)
    if epochs > len(train_loss):
        raise ValueError(f"`early_epochs` must be at most the {len(train_loss)} epochs trained; "
                         f"got {epochs}.")
    return float(np.mean(train_loss[:epochs]))


def compare_seeds(early: Mapping[str, Sequence[float]]) -> dict[str, float | bool]:
    """Whether post-activation starts worse than pre-activation by more than seed noise.

    Args:
        early: ``{"post-activation": [...], "pre-activation": [...]}``, one early loss per seed.

    Returns:
        ``gap_of_means`` (post minus pre), ``separation`` (the lowest post-activation value minus
        the highest pre-activation one: the gap between the closest runs), ``spread`` (the
        larger of the two versions' max-minus-min over seeds; 0 with one seed) and ``holds``:
        ``separation > spread``, i.e. every post-activation run lies above every pre-activation
        run, and by more than the seeds scatter either version.
    """
    missing = sorted(set(VERSIONS.values()) - set(early))
    if missing or any(len(values) == 0 for values in early.values()):
        raise ValueError(f"`early` must hold a non-empty list for each of "
                         f"{sorted(VERSIONS.values())}; got {dict(early)!r}.")
    post, pre = np.asarray(early["post-activation"]), np.asarray(early["pre-activation"])
    spread = max(float(np.ptp(post)), float(np.ptp(pre)))
    separation = float(post.min() - pre.max())
    return {"gap_of_means": float(post.mean() - pre.mean()), "separation": separation,
            "spread": spread, "holds": bool(separation > spread)}


def run(
    depth: int = 110,
    width: int = 16,
    image_size: int = 32,
    train_images: int | None = None,
    test_images: int | None = None,
    epochs: int = 164,
    batch_size: int = 128,
    learning_rate: float = 0.1,
    milestones: tuple[float, ...] = (0.5, 0.75),
    repeats: int = 3,
    early_epochs: int = 1,
    progress: bool = True,
    seed: int = 0,
) -> dict[str, Any]:
    """Train post- and pre-activation ResNet-``depth`` alike, without warm-up, ``repeats`` times.

    Args:
        depth, width: the CIFAR ResNet (basic blocks, ``6n + 2`` layers; first-stage filters).
        image_size: images are average-pooled to this size (32 keeps CIFAR-10's).
        train_images, test_images: how many images of each split (``None``: all of it);
            ``test_images=0`` trains without a test set (quick mode claims nothing about it).
        epochs, batch_size, learning_rate, milestones: SGD as ``reslib.training.train``, with
            no warm-up.
        repeats: seeds ``seed, seed + 1, ...`` trained per version (the claim needs at least
            two to measure a spread; one seed gives a spread of 0).
        early_epochs: the claim's window, the first epochs of each run.
        progress: print a line per model and a progress bar per training.
        seed: the first seed.

    Returns:
        ``models`` (``"<version>, seed <s>"`` -> parameters, ``initial_train_loss`` (before the
        first step, ``initial_loss``) and ``TrainingHistory.summary()``),
        ``seeds``, ``early_train_loss`` (version -> one value per seed), ``comparison``
        (``compare_seeds``), the datasets, the paper's numbers and ``claim_holds``.
    """
    repeats = check.positive_int("repeats", repeats)
    check.positive_int("early_epochs", early_epochs)
    if early_epochs > epochs:
        raise ValueError(f"`early_epochs` must be at most `epochs` ({epochs}); got "
                         f"{early_epochs}.")
    train_set = downsample(load_dataset("cifar10", "train", limit=train_images), image_size)
    test_set = None if test_images == 0 else downsample(
        load_dataset(train_set.name, "test", limit=test_images), image_size)
    seeds = [seed + offset for offset in range(repeats)]
    models: dict[str, Any] = {}
    early: dict[str, list[float]] = {label: [] for label in VERSIONS.values()}
    for run_seed in seeds:
        for version, label in VERSIONS.items():
            if progress:
                print(f"ResNet-{depth} {label}, seed {run_seed}, on {train_set.description}")
            model = build(depth, version, train_set.images.shape[1:],
                          len(train_set.class_names), run_seed, width)
            at_start = initial_loss(model, train_set)
            history = train(model, train_set, test_set, epochs=epochs, batch_size=batch_size,
                            learning_rate=learning_rate, milestones=milestones,
                            warmup_epochs=0.0, seed=run_seed, progress=progress)
            summary = history.summary()
            models[f"{label}, seed {run_seed}"] = {
                "version": label, "seed": run_seed, "parameters": model.count_params(),
                "initial_train_loss": at_start, **summary}
            early[label].append(early_loss(summary["train_loss"], early_epochs))
    comparison = compare_seeds(early)
    return {
        "dataset": train_set.description,
        "test_dataset": None if test_set is None else test_set.description,
        "depth": depth,
        "width": width,
        "seeds": seeds,
        "early_epochs": early_epochs,
        "models": models,
        "early_train_loss": early,
        "comparison": {k: v for k, v in comparison.items() if k != "holds"},
        "paper_test_error_percent": PAPER_TEST_ERROR,
        "claim_holds": comparison["holds"],
    }


CLAIM = (
    "trained alike (learning rate 0.1, no warm-up), the post-activation ResNet starts slower: on "
    "every seed its mean training loss over the first epochs is above every pre-activation "
    "run's, by more than the seed-to-seed spread (He et al. 2016b, section 4.2: the original "
    "unit is slower at the start, a little at 164 layers, much at 1001)"
)

EXPERIMENT = register(
    Experiment(
        name="preact",
        lesson="03_bottleneck_preact",
        claim=CLAIM,
        configs={
            # ~6 s per model on 2 CPU cores, mostly graph tracing: narrow (width 8), 16x16
            # images, no test set; 3 seeds x 2 versions.
            "quick": dict(depth=32, width=8, image_size=16, train_images=1000, test_images=0,
                          epochs=2, batch_size=64, learning_rate=0.1, milestones=(),
                          repeats=3, early_epochs=2),
            # The paper's recipe for ResNet-110 on all of CIFAR-10; the claim's window is the
            # first epoch (391 steps, about the length of He et al. 2016a's warm-up).
            "full": dict(depth=110, width=16, image_size=32, epochs=164, batch_size=128,
                         learning_rate=0.1, milestones=(0.5, 0.75), repeats=3,
                         early_epochs=1),
        },
        run=run,
    )
)
