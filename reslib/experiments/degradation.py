"""Lesson 01: the degradation problem (He et al. 2016a, section 4.2 and Fig. 6).

Plain and residual CIFAR networks of 20 and 56 layers, trained alike. The deeper *plain* net
ends with the higher *training* error, which overfitting cannot explain; with shortcuts the
deeper net is the better one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import keras

from reslib import papers
from reslib.data import downsample, load_dataset
from reslib.experiments._registry import RESULTS_DIR, Experiment, register, run_experiment
from reslib.models import cifar_resnet
from reslib.training import train

# He et al. 2016a, Table 6: CIFAR-10 test error (%) of the residual nets, 50k training images
# (a view of reslib.papers, where the numbers and their sources live).
PAPER_TEST_ERROR = papers.view({f"resnet-{d}": f"he2016a.table6.resnet-{d}.error"
                                for d in (20, 32, 44, 56, 110)})


ORDERINGS = (  # (name, higher, lower): He et al. 2016a, Fig. 6 and Table 6
    ("deeper_plain_trains_worse", "plain-56", "plain-20"),
    ("deeper_resnet_trains_better", "resnet-20", "resnet-56"),
    ("shortcuts_fix_the_deep_net", "plain-56", "resnet-56"),
)
# The orderings quick mode claims: on seeds 0, 1 and 2 (reslib/results/seeds/degradation-quick
# .json) their smallest margins are 16 and 26 points against seed-to-seed spreads of at most 3.
# ResNet-56 ends below ResNet-20 on all three seeds too, but by 0.3-1.6 points, less than the
# spread: reported, not claimed.
CLAIMED = ("deeper_plain_trains_worse", "shortcuts_fix_the_deep_net")


def run(
    depths: tuple[int, ...] = (20, 56),
    train_images: int | None = None,
    test_images: int | None = None,
    image_size: int = 32,
    width: int = 16,
    augment: bool = True,
    zero_init_residual: bool = False,
    epochs: int = 164,
    batch_size: int = 128,
    learning_rate: float = 0.1,
    warmup_epochs: float = 0.0,
    schedule: str = "step",
    milestones: tuple[float, ...] = (0.5, 0.75),
    progress: bool = True,
    seed: int = 0,
) -> dict[str, Any]:
    """Train plain-d and ResNet-d for every depth d alike; compare their final training errors.

    ``image_size`` (average pooling), ``width`` (first-stage filters), ``augment`` and
    ``zero_init_residual`` (every residual branch starts at zero, Goyal et al. 2017; plain nets
    have no shortcut to fall back on and keep the default) are what quick mode changes to fit a
    CPU; the full config is He et al.'s.

    Returns per-model histories, the data, the paper's numbers, ``orderings``: for each of
    He et al.'s three orderings of final training error (``ORDERINGS``) the two errors, the
    margin (higher minus lower) and whether it holds, and ``claim_holds``: the ``CLAIMED``
    orderings hold (the third, ResNet-56 below ResNet-20, is reported: see ``CLAIMED``).
    """
    train_set = downsample(load_dataset("cifar10", "train", limit=train_images), image_size)
    test_set = downsample(load_dataset(train_set.name, "test", limit=test_images), image_size)
    models: dict[str, Any] = {}
    for residual in (False, True):
        for depth in depths:
            label = f"{'resnet' if residual else 'plain'}-{depth}"
            if progress:
                print(f"{label} on {train_set.title}")
            keras.utils.set_random_seed(seed)
            model = cifar_resnet(
                depth, residual=residual, input_shape=train_set.images.shape[1:],
                classes=len(train_set.class_names), width=width,
                zero_init_residual=zero_init_residual and residual,
            )
            history = train(
                model, train_set, test_set, epochs=epochs, batch_size=batch_size,
                learning_rate=learning_rate, warmup_epochs=warmup_epochs, schedule=schedule,
                milestones=milestones, augment=augment, seed=seed, progress=progress,
            )
            models[label] = {"parameters": model.count_params(), **history.summary()}
    orderings = {
        name: _ordering(models, higher, lower) for name, higher, lower in ORDERINGS
        if higher in models and lower in models
    }
    return {
        "dataset": train_set.description,
        "test_dataset": test_set.description,
        "models": models,
        "orderings": orderings,
        "paper_test_error_percent": PAPER_TEST_ERROR,
        "claim_holds": all(orderings[name]["holds"] for name in CLAIMED if name in orderings)
        and any(name in orderings for name in CLAIMED),
    }


def _ordering(models: dict[str, Any], higher: str, lower: str) -> dict[str, Any]:
    """``higher``'s final training error above ``lower``'s: both errors, the margin, holds."""
    high, low = models[higher]["final_train_error"], models[lower]["final_train_error"]
    return {"higher": higher, "lower": lower, "higher_error": high, "lower_error": low,
            "margin": high - low, "holds": bool(high > low)}


EXPERIMENT = register(
    Experiment(
        name="degradation",
        lesson="01_degradation",
        claim="plain-56 ends with a higher training error than plain-20, and ResNet-56 with a "
        "lower one than plain-56 (He et al. 2016a, Fig. 6); ResNet-56 against ResNet-20 is "
        "reported",
        configs={
            # 2 CPU cores, about two minutes: see lesson 01 for what it changes and why
            "quick": dict(train_images=10_000, test_images=1_000, image_size=8, width=4,
                          augment=False, zero_init_residual=True, epochs=12, batch_size=128,
                          learning_rate=0.2, warmup_epochs=1.0, schedule="cosine"),
            "full": dict(epochs=164, batch_size=128, learning_rate=0.1, warmup_epochs=0.0,
                         schedule="step", milestones=(0.5, 0.75)),
        },
        run=run,
    )
)


# a study of several runs, so not beside the single runs that stored_result reads
SEED_STUDY = RESULTS_DIR / "seeds" / "degradation-quick.json"


def store_seed_study(seeds: tuple[int, ...] = (0, 1, 2), path: Path = SEED_STUDY) -> dict:
    """Run quick mode once per seed and store the records' orderings and errors at ``path``.

    ``python -m reslib seeds degradation 0 1 2`` does this; lesson 01 shows the result with
    ``seed_study``, so a reader sees each ordering's margin next to the seed-to-seed spread.
    """
    runs = []
    for seed in seeds:
        record = run_experiment("degradation", "quick", progress=False, seed=seed)
        runs.append({key: record[key] for key in (
            "seed", "command", "wall_time_s", "environment", "dataset", "orderings")}
            | {"final_train_error": {name: model["final_train_error"]
                                     for name, model in record["models"].items()}})
    study = {"experiment": "degradation", "mode": "quick", "runs": runs}
    Path(path).write_text(json.dumps(study, indent=1) + "\n")
    return study


def seed_study(path: Path = SEED_STUDY) -> dict[str, Any] | None:
    """The stored seed study (``store_seed_study``) with a ``"text"`` summary, or ``None``.

    The summary gives each ordering's margin per seed and its smallest margin, and each net's
    range of final training error over the seeds (the seed-to-seed spread).
    """
    if not Path(path).is_file():
        return None
    study = json.loads(Path(path).read_text())
    runs = study["runs"]
    seeds = [run["seed"] for run in runs]
    lines = [f"quick mode, seeds {seeds}, {runs[0]['dataset']}",
             f"{runs[0]['environment']['processor']}, {runs[0]['environment']['backend']}; "
             f"{min(r['wall_time_s'] for r in runs):.0f}-{max(r['wall_time_s'] for r in runs):.0f}"
             " s a run", "", "final training error per seed, and its spread (max - min):"]
    for name in runs[0]["final_train_error"]:
        errors = [run["final_train_error"][name] for run in runs]
        shown = "  ".join(f"{100 * e:5.1f}" for e in errors)
        lines.append(f"  {name:10} {shown}   spread {100 * (max(errors) - min(errors)):.1f} points")
    lines += ["", "margin of each ordering per seed (points), and the smallest:"]
    for name in runs[0]["orderings"]:
        margins = [100 * run["orderings"][name]["margin"] for run in runs]
        held = all(run["orderings"][name]["holds"] for run in runs)
        shown = "  ".join(f"{m:5.1f}" for m in margins)
        lines.append(f"  {name:28} {shown}   smallest {min(margins):.1f}"
                     f"{'' if held else '  (does NOT hold for every seed)'}")
    return {**study, "text": "\n".join(lines)}

