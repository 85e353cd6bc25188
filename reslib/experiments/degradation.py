"""Lesson 01: the degradation problem (He et al. 2016a, section 4.2 and Fig. 6).

Plain and residual CIFAR networks of 20 and 56 layers, trained alike. The deeper *plain* net
ends with the higher *training* error, which overfitting cannot explain; with shortcuts the
deeper net is the better one.
"""

from __future__ import annotations

from typing import Any

import keras

from reslib import papers
from reslib.data import load_dataset
from reslib.experiments._registry import Experiment, register
from reslib.models import cifar_resnet
from reslib.training import train

# He et al. 2016a, Table 6: CIFAR-10 test error (%) of the residual nets, 50k training images
# (a view of reslib.papers, where the numbers and their sources live).
PAPER_TEST_ERROR = papers.view({f"resnet-{d}": f"he2016a.table6.resnet-{d}.error"
                                for d in (20, 32, 44, 56, 110)})


def run(
    depths: tuple[int, ...] = (20, 56),
    train_images: int | None = None,
    test_images: int | None = None,
    epochs: int = 164,
    batch_size: int = 128,
    learning_rate: float = 0.1,
    warmup_epochs: float = 0.0,
    milestones: tuple[float, ...] = (0.5, 0.75),
    progress: bool = True,
    seed: int = 0,
) -> dict[str, Any]:
    """Train plain-d and ResNet-d for every depth d; compare final training losses and errors.

    Returns per-model histories, the dataset description, the paper's numbers and
    ``claim_holds``: the deepest plain net ends with a higher training loss than the shallowest.
    """
    train_set = load_dataset("cifar10", "train", limit=train_images)
    test_set = load_dataset(train_set.name, "test", limit=test_images)
    models: dict[str, Any] = {}
    for residual in (False, True):
        for depth in depths:
            label = f"{'resnet' if residual else 'plain'}-{depth}"
            if progress:
                print(f"{label} on {train_set.title}")
            keras.utils.set_random_seed(seed)
            model = cifar_resnet(
                depth, residual=residual, input_shape=train_set.images.shape[1:],
                classes=len(train_set.class_names),
            )
            history = train(
                model, train_set, test_set, epochs=epochs, batch_size=batch_size,
                learning_rate=learning_rate, warmup_epochs=warmup_epochs, milestones=milestones,
                seed=seed, progress=progress,
            )
            models[label] = {"parameters": model.count_params(), **history.summary()}
    shallow, deep = f"plain-{min(depths)}", f"plain-{max(depths)}"
    return {
        "dataset": train_set.description,
        "test_dataset": test_set.description,
        "models": models,
        "paper_test_error_percent": PAPER_TEST_ERROR,
        "claim_holds": bool(models[deep]["train_loss"][-1] > models[shallow]["train_loss"][-1]),
    }


EXPERIMENT = register(
    Experiment(
        name="degradation",
        lesson="01_degradation",
        claim="the deeper plain net ends with the higher training loss (He et al. 2016a, Fig. 6)",
        configs={
            "quick": dict(train_images=1000, test_images=500, epochs=4, batch_size=64,
                          learning_rate=0.05, warmup_epochs=1.0, milestones=(0.75,)),
            "full": dict(epochs=164, batch_size=128, learning_rate=0.1, warmup_epochs=0.0,
                         milestones=(0.5, 0.75)),
        },
        run=run,
    )
)
