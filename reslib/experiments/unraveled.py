"""Lesson 02: the unraveled view of residual networks (Veit, Wilber and Belongie, NeurIPS 2016).

Written out, ``n`` residual blocks are ``2**n`` paths from input to output, ``C(n, k)`` of them
through ``k`` blocks: a binomial distribution of path lengths. Veit et al. 2016 (section 4,
Fig. 3) train a ResNet-110 on CIFAR-10 and delete one block at a time at test time: the error
barely moves, except for the few blocks that downsample. Deleting one layer of a plain network
(their VGG-15) breaks its only path, and the error goes to chance.

Here a CIFAR ResNet and its plain twin (the same layers without shortcuts) are trained alike,
then every block whose input and output shapes agree is deleted in turn
(``reslib.diagnostics.lesion_study``) and the error on held-out images is measured.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from reslib import _validation as check
from reslib import papers
from reslib.data import ImageDataset, channel_statistics, load_dataset
from reslib.diagnostics import lesion_study, path_lengths
from reslib.experiments._registry import Experiment, register
from reslib.models import cifar_resnet
from reslib.training import train

# Veit et al. 2016, Fig. 3 (read off the figure, CIFAR-10 test error): the intact ResNet-110,
# the same after deleting one block, and a plain VGG-15 after deleting any one layer (chance);
# Fig. 6a: the path lengths. A view of reslib.papers, as text for the stored JSON.
_BLOCKS = int(papers.value("veit2016.resnet-110.blocks"))
PAPER = {
    "resnet-110 intact": papers.quote("veit2016.fig3.resnet_intact"),
    "resnet-110, one block deleted": papers.quote("veit2016.fig3.resnet_one_deleted"),
    "vgg-15, one layer deleted": papers.quote("veit2016.fig3.vgg_one_deleted") + " (chance)",
    "resnet-110 paths": (
        f"2**{_BLOCKS}, lengths binomial B({_BLOCKS}, 1/2), 95% within "
        f"{papers.quote('veit2016.path_range_low')} to "
        f"{papers.quote('veit2016.path_range_high')} blocks"),
}


def run(
    depth: int = 110,
    plain_depth: int | None = None,
    train_images: int | None = None,
    test_images: int | None = None,
    epochs: int = 164,
    batch_size: int = 128,
    learning_rate: float = 0.1,
    warmup_epochs: float = 0.0,
    milestones: tuple[float, ...] = (0.5, 0.75),
    augment: bool = True,
    progress: bool = True,
    seed: int = 0,
) -> dict[str, Any]:
    """Train ResNet-``depth`` and plain-``plain_depth``; delete each block of each in turn.

    Args:
        depth: of the residual net (``6n + 2``; Veit et al. use 110).
        plain_depth: of the plain twin; default ``depth``. A plain net as deep as ResNet-110
            does not train (lesson 01), so the full run pairs ResNet-110 with plain-20, about
            the depth of the VGG-15 that Veit et al. lesion.
        train_images, test_images: first images of CIFAR-10's splits (``None``: all); the
            lesions are measured on the test images.
        epochs, batch_size, learning_rate, warmup_epochs, milestones: for
            ``reslib.training.train`` (SGD with momentum 0.9, weight decay 1e-4, step decay).
        augment: random crops and flips as He et al. 2016a; without, arrays are fed as they are
            (faster learning on a few images).

    Returns:
        ``"models"``: per net its training history, ``baseline_error`` and, per deleted block,
        ``lesion_errors``/``lesion_losses`` (``lesion_blocks`` names them; ``skipped`` says
        which blocks could not be deleted and why), and the ``mean_error_rise``,
        ``median_error_rise`` and ``max_error_rise`` over the deletions. ``"path_lengths"``: the
        binomial distribution for the ResNet's blocks. ``claim_holds``: the median rise in error
        from deleting one block is smaller for the ResNet than for the plain net. (In quick mode
        both nets start near 65% error, so the plain net has little room before chance; the
        ratio of the rises is about 2 to 4 there, and in the paper's full-scale study far more.)
    """
    check.positive_int("depth", depth)
    plain_depth = check.positive_int("plain_depth", plain_depth or depth)
    train_set = load_dataset("cifar10", "train", limit=train_images)
    test_set = load_dataset(train_set.name, "test", limit=test_images)
    x_test, y_test = normalized(test_set, train_set), test_set.labels
    models: dict[str, Any] = {}
    for residual, net_depth in ((True, depth), (False, plain_depth)):
        label = f"{'resnet' if residual else 'plain'}-{net_depth}"
        if progress:
            print(f"{label} on {train_set.title}")
        keras.utils.set_random_seed(seed)
        model = cifar_resnet(net_depth, residual=residual, input_shape=train_set.images.shape[1:],
                             classes=len(train_set.class_names))
        data = (train_set, test_set) if augment else (
            (normalized(train_set, train_set), train_set.labels), (x_test, y_test))
        history = train(model, *data, epochs=epochs, batch_size=batch_size,
                        learning_rate=learning_rate, warmup_epochs=warmup_epochs,
                        milestones=milestones, seed=seed, progress=progress)
        lesions = lesion_study(model, x_test, y_test, dataset=test_set.description)
        models[label] = _model_record(model, history, lesions)
        if progress:
            print(f"{label}: error {lesions.baseline_error:.3f} intact, "
                  f"{models[label]['mean_error_rise']:+.3f} on average with one block deleted")
    resnet, plain = f"resnet-{depth}", f"plain-{plain_depth}"
    n_blocks = len(models[resnet]["lesion_blocks"]) + len(models[resnet]["skipped"])
    paths = path_lengths(n_blocks)
    return {
        "dataset": train_set.description,
        "test_dataset": test_set.description,
        "models": models,
        "path_lengths": {
            "blocks": n_blocks,
            "lengths": paths.lengths.tolist(),
            "fractions": paths.fractions.tolist(),
            "mean": paths.mean,
        },
        "paper_veit_2016_test_error_percent": PAPER,
        "claim_holds": bool(
            models[resnet]["median_error_rise"] < models[plain]["median_error_rise"]
        ),
    }


def normalized(dataset: ImageDataset, statistics_of: ImageDataset) -> np.ndarray:
    """``dataset``'s images scaled to [0, 1] and standardised per channel with the statistics
    of ``statistics_of`` (the training set), as ``reslib.data.training_pipeline`` does."""
    mean, std = channel_statistics(statistics_of)
    return ((dataset.images / 255.0 - mean) / std).astype("float32")


def _model_record(model: keras.Model, history: Any, lesions: Any) -> dict[str, Any]:
    rises = np.asarray(lesions.errors) - lesions.baseline_error
    return {
        "parameters": model.count_params(),
        **history.summary(),
        "baseline_error": lesions.baseline_error,
        "baseline_loss": lesions.baseline_loss,
        "lesion_blocks": list(lesions.blocks),
        "lesion_errors": [float(e) for e in lesions.errors],
        "lesion_losses": [float(v) for v in lesions.losses],
        "skipped": dict(lesions.skipped),
        "mean_error_rise": float(np.mean(rises)),
        "median_error_rise": float(np.median(rises)),
        "max_error_rise": float(np.max(rises)),
    }


def lesion_result(record: dict[str, Any], label: str) -> Any:
    """The ``LesionResult`` of model ``label`` rebuilt from a stored record, for
    ``reslib.plots.lesion_bars``."""
    from reslib.diagnostics import LesionResult

    model = record["models"][label]
    return LesionResult(
        baseline_loss=model["baseline_loss"], baseline_error=model["baseline_error"],
        blocks=tuple(model["lesion_blocks"]), losses=np.array(model["lesion_losses"]),
        errors=np.array(model["lesion_errors"]), skipped=dict(model["skipped"]),
        dataset=f"{label}, {record['test_dataset']}",
    )


def figures(record: dict[str, Any]) -> dict[str, Any]:
    """One lesion bar chart per model (Veit et al. 2016, Fig. 3)."""
    from reslib.plots import lesion_bars

    return {f"lesion-{label}": lesion_bars(lesion_result(record, label))
            for label in record["models"]}


EXPERIMENT = register(
    Experiment(
        name="unraveled",
        lesson="02_residual_math",
        claim="deleting one block raises a trained ResNet's test error less than deleting one "
        "block raises its plain twin's (median over blocks; Veit et al. 2016, Fig. 3)",
        configs={
            "quick": dict(depth=20, train_images=1500, test_images=400, epochs=4, batch_size=64,
                          learning_rate=0.05, warmup_epochs=1.0, milestones=(0.75,),
                          augment=False),
            "full": dict(depth=110, plain_depth=20, epochs=164, batch_size=128,
                         learning_rate=0.1, warmup_epochs=1.0, milestones=(0.5, 0.75)),
        },
        run=run,
        figures=figures,
    )
)
