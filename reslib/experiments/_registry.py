"""The registry of the course's experiments and how their results are stored.

An experiment is a function ``run(config, progress) -> dict`` with a ``quick`` config (2 CPU
cores, about 2 minutes, offline data) and a ``full`` config (the paper's scale on one GPU).
``run_experiment`` adds the provenance every stored result carries: hardware, software
versions, seed, wall time, the command that reproduces it, and the dataset it used.
"""

from __future__ import annotations

import inspect
import json
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras

from reslib import _validation as check
from reslib.checkpoint import checkpointing

RESULTS_DIR = Path(__file__).resolve().parents[1] / "results"


@dataclass(frozen=True)
class Experiment:
    """One lesson's experiment.

    Attributes:
        name: the command-line name, e.g. ``"degradation"``.
        lesson: the lesson that shows it, e.g. ``"01_degradation"``.
        claim: the qualitative result it exists to show, in one sentence.
        configs: ``{"quick": {...}, "full": {...}}``, keyword arguments of ``run``.
        run: ``run(progress=bool, **config) -> dict`` of JSON-ready results, including a
            ``"dataset"`` description and a boolean ``"claim_holds"``.
        figures: optional ``figures(record) -> {name: matplotlib Figure}`` that the command
            line saves next to the JSON; without it, ``reslib.experiments.report`` draws the
            training curves of any ``record["models"]`` that hold per-epoch histories.
    """

    name: str
    lesson: str
    claim: str
    configs: dict[str, dict[str, Any]]
    run: Callable[..., dict[str, Any]]
    figures: Callable[[dict[str, Any]], dict[str, Any]] | None = None


EXPERIMENTS: dict[str, Experiment] = {}


def register(experiment: Experiment) -> Experiment:
    EXPERIMENTS[experiment.name] = experiment
    return experiment


def run_experiment(
    name: str, mode: str = "quick", out: str | Path | None = None, progress: bool = True,
    seed: int = 0, overrides: dict[str, Any] | None = None,
    checkpoint_dir: str | Path | None = None, time_limit_s: float | None = None,
) -> dict[str, Any]:
    """Run one experiment in ``"quick"`` or ``"full"`` mode; write ``<out>/<name>-<mode>.json``.

    ``overrides`` replace entries of the mode's config (e.g. ``{"epochs": 20}`` for a shorter
    full run); the record keeps them under ``"overrides"`` so nobody mistakes the run for the
    unmodified mode. Returns the results with their provenance (see the module docstring).

    With ``checkpoint_dir`` every training checkpoints each epoch there and a rerun resumes
    (``reslib.checkpoint``); with ``time_limit_s`` as well, trainings stop after the limit and
    the record is marked ``"partial"`` with the epochs each one ran, and says so in its note.
    """
    check.one_of("name", name, sorted(EXPERIMENTS))
    experiment = EXPERIMENTS[name]
    check.one_of("mode", mode, sorted(experiment.configs))
    config = dict(experiment.configs[mode])
    overrides = dict(overrides or {})
    accepted = set(inspect.signature(experiment.run).parameters) - {"progress", "seed"}
    unknown = sorted(set(overrides) - accepted)
    if unknown:
        raise ValueError(
            f"{name} has no setting {', '.join(map(repr, unknown))}; "
            f"it takes {', '.join(sorted(accepted))}."
        )
    config.update(overrides)
    keras.utils.set_random_seed(seed)
    start = time.perf_counter()
    partial: dict[str, Any] = {}
    if checkpoint_dir is None:
        results = experiment.run(progress=progress, seed=seed, **config)
    else:
        with checkpointing(checkpoint_dir, time_limit_s) as checkpoints:
            results = experiment.run(progress=progress, seed=seed, **config)
        partial = checkpoints.partial()
    record = {
        "experiment": name,
        "lesson": experiment.lesson,
        "claim": experiment.claim,
        "mode": mode,
        "config": config,
        "overrides": overrides,
        "seed": seed,
        "wall_time_s": round(time.perf_counter() - start, 1),
        "command": f"python -m reslib run {name} --{mode}"
        + "".join(f" --set {key}={value!r}" for key, value in overrides.items()),
        "environment": environment(),
        **results,
    }
    if partial:
        runs = "; ".join(f"{name}: {p['epochs_run']} of {p['epochs_planned']} epochs"
                         for name, p in partial.items())
        record["partial"] = partial
        record["note"] = (f"Partial run, stopped by its time limit ({runs}); rerun the same "
                          f"command with the same checkpoint directory to continue it.")
    if out is not None:
        path = Path(out) / f"{name}-{mode}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record, indent=1) + "\n")
    return record


def environment() -> dict[str, Any]:
    """Hardware and software versions, for the record of a result."""
    import numpy as np

    from reslib import __version__
    from reslib.training import accelerator

    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "accelerator": accelerator() or "cpu",
        "devices": keras.distribution.list_devices(),
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
        "numpy": np.__version__,
        "reslib": __version__,
    }


def stored_result(name: str, mode: str = "full") -> dict[str, Any] | None:
    """The stored result ``reslib/results/<name>-<mode>.json``, or ``None`` where no run exists."""
    path = RESULTS_DIR / f"{name}-{mode}.json"
    return json.loads(path.read_text()) if path.is_file() else None
