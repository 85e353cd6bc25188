"""Full runs that fit short GPU slots: checkpoint every epoch, resume, stop on time, say so.

A paper-recipe run (164 epochs of several networks) outlasts a lent GPU's minutes. Inside
``checkpointing(directory)`` every ``reslib.training.train`` call gets a slot of its own,
``<directory>/<NN>-<model name>/``, numbered in call order:

- after every epoch the slot keeps the weights and the optimizer state (Keras'
  ``BackupAndRestore``) and the per-epoch log so far (``log.json``);
- a training that finished keeps its final weights and history (``done.json``); when the same
  experiment runs again in the same directory, that call returns at once with the stored
  history and weights, and an unfinished one resumes after its last completed epoch;
- with ``time_limit_s``, every training stops at the end of the first epoch after the limit,
  and ``partial()`` tells the record that its histories are shorter than the config says.

Resuming restores weights, optimizer and schedule exactly; the order of the data shuffled after
a resume differs from an uninterrupted run (it depends on the epoch the pipeline starts at).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keras

__all__ = ["Checkpoints", "active", "checkpointing"]

_ACTIVE: list[Checkpoints] = []


class Checkpoints:
    """The state of one ``checkpointing`` block (see the module docstring)."""

    def __init__(self, directory: str | Path, time_limit_s: float | None = None) -> None:
        if time_limit_s is not None and not time_limit_s > 0:
            raise ValueError(f"`time_limit_s` must be a positive number of seconds or None; got "
                             f"{time_limit_s!r}.")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.deadline = None if time_limit_s is None else time.monotonic() + time_limit_s
        self.calls = 0
        self.stopped_early: dict[str, dict[str, int]] = {}

    def slot(self, model_name: str) -> Path:
        """The directory of the next ``train`` call, ``<NN>-<model name>``."""
        self.calls += 1
        path = self.directory / f"{self.calls:02d}-{model_name}"
        path.mkdir(exist_ok=True)
        return path

    def out_of_time(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def partial(self) -> dict[str, dict[str, int]]:
        """``{slot: {"epochs_run": r, "epochs_planned": p}}`` of the trainings cut short."""
        return dict(self.stopped_early)


def active() -> Checkpoints | None:
    """The innermost ``checkpointing`` block's state, or ``None`` outside one."""
    return _ACTIVE[-1] if _ACTIVE else None


@contextlib.contextmanager
def checkpointing(directory: str | Path, time_limit_s: float | None = None
                  ) -> Iterator[Checkpoints]:
    """Checkpoint and resume every ``train`` call inside the block; see the module docstring.

    Example:
        >>> with checkpointing("runs/degradation", time_limit_s=600) as checkpoints:
        ...     record = run_experiment("degradation", "full")  # doctest: +SKIP
        >>> checkpoints.partial()  # doctest: +SKIP
        {}
    """
    checkpoints = Checkpoints(directory, time_limit_s)
    _ACTIVE.append(checkpoints)
    try:
        yield checkpoints
    finally:
        _ACTIVE.remove(checkpoints)


def finished(slot: Path) -> dict[str, Any] | None:
    """The stored history of a finished training in ``slot``, or ``None``."""
    path = slot / "done.json"
    return json.loads(path.read_text()) if path.is_file() else None


def restore_finished(model: keras.Model, slot: Path) -> None:
    """Load the final weights a finished training left in ``slot`` into ``model``."""
    model.load_weights(slot / "final.weights.h5")


def mark_finished(model: keras.Model, slot: Path, history: dict[str, Any]) -> None:
    """Store ``model``'s final weights and its ``history`` (JSON-ready) in ``slot``."""
    model.save_weights(slot / "final.weights.h5")
    (slot / "done.json").write_text(json.dumps(history))


def load_log(slot: Path) -> dict[str, list[float]]:
    """The per-epoch log kept so far in ``slot`` (empty lists for a new slot)."""
    path = slot / "log.json"
    return json.loads(path.read_text()) if path.is_file() else {}


class EpochLog(keras.callbacks.Callback):
    """Appends each epoch's logs and seconds to ``<slot>/log.json`` and stops the fit at the
    end of an epoch once the ``Checkpoints``' time limit has passed."""

    def __init__(self, slot: Path, checkpoints: Checkpoints, timer: Any, planned: int) -> None:
        super().__init__()
        self.slot, self.checkpoints, self.timer, self.planned = slot, checkpoints, timer, planned
        self.log = load_log(slot)
        # keep the epochs whose weights the backup holds (it is written first at each epoch end)
        metadata = slot / "backup" / "training_metadata.json"
        saved = json.loads(metadata.read_text())["epoch"] if metadata.is_file() else 0
        self.log = {name: values[:saved] for name, values in self.log.items()}

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        for name, value in (logs or {}).items():
            self.log.setdefault(name, []).append(float(value))
        self.log.setdefault("seconds", []).append(self.timer.seconds[-1])
        self.log.setdefault("learning_rate", []).append(self.timer.learning_rates[-1])
        (self.slot / "log.json").write_text(json.dumps(self.log))
        if epoch + 1 < self.planned and self.checkpoints.out_of_time():
            self.model.stop_training = True
            self.checkpoints.stopped_early[self.slot.name] = {
                "epochs_run": epoch + 1, "epochs_planned": self.planned}
