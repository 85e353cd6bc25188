"""Train a Keras classifier the way the papers did, with one function: ``train``.

He et al. 2016a (section 4.2) trained CIFAR ResNets with SGD, momentum 0.9, weight decay 1e-4,
batch 128, learning rate 0.1 divided by 10 at 50% and 75% of training (32k and 48k of 64k
iterations); ResNet-110 warmed up at 0.01 for the first ~400 iterations. Transformers train with
AdamW and a warm-up (Xiong et al. 2020 show post-LN needs it). ``TrainingConfig`` holds these
choices; ``train`` runs them on the TensorFlow or JAX backend with a progress bar and returns a
``TrainingHistory`` of per-epoch losses and errors, wall time and throughput.

Call ``configure_precision()`` *before* building the model: it turns on mixed precision on a
GPU (bfloat16 where supported, else float16) and leaves float32 on a CPU. ``train`` compiles with
XLA on a GPU and without it on a CPU, where XLA is slower.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import keras
import numpy as np
from keras import ops

from reslib import _validation as check
from reslib import checkpoint
from reslib._memory import release_freed_memory
from reslib.logits import logits_model

OPTIMIZERS = ("sgd", "adamw")
WEIGHT_DECAY_STYLES = ("l2", "decoupled")
SCHEDULES = ("step", "cosine", "constant")


@dataclass(frozen=True)
class TrainingConfig:
    """How to train. The defaults are He et al. 2016a's CIFAR-10 recipe.

    Attributes:
        epochs: passes over the training set (He et al.: 64k iterations, about 164 epochs).
        batch_size: examples per step.
        optimizer: ``"sgd"`` (momentum) or ``"adamw"``.
        learning_rate: peak learning rate, reached after the warm-up.
        momentum: SGD momentum (AdamW's beta_1 is Keras' default).
        weight_decay: decay on every weight, applied as ``weight_decay_style`` says.
        weight_decay_style: for SGD, ``"l2"`` adds ``weight_decay * w`` to the gradient before
            momentum, as Caffe, Torch and PyTorch do and He et al. trained (``L2SGD``);
            ``"decoupled"`` is Keras' ``SGD(weight_decay=...)``, ``w -= lr * weight_decay * w``
            after the step, about ``1 - momentum`` (a tenth) as strong at the same value.
            AdamW always decouples.
        schedule: ``"step"`` (divide by ``1 / gamma`` at each milestone), ``"cosine"`` (to zero)
            or ``"constant"``.
        milestones: fractions of training at which the step schedule decays.
        gamma: factor of each step decay.
        warmup_epochs: linear warm-up from ``learning_rate / 100``; may be fractional.
        jit_compile: ``"auto"``: XLA on a GPU and on JAX, not on a TensorFlow CPU.
        seed: seeds Python, NumPy and the backend before training (build the model after
            ``keras.utils.set_random_seed`` too, for reproducible weights).
        progress: show a progress bar over epochs with the ETA and the latest errors.
        augment: random crops and flips of an ``ImageDataset`` (He et al. 2016a, 4.2);
            ``False`` trains on the images as they are.
    """

    epochs: int = 164
    batch_size: int = 128
    optimizer: str = "sgd"
    learning_rate: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    weight_decay_style: str = "l2"
    schedule: str = "step"
    milestones: tuple[float, ...] = (0.5, 0.75)
    gamma: float = 0.1
    warmup_epochs: float = 0.0
    jit_compile: bool | str = "auto"
    seed: int = 0
    progress: bool = True
    augment: bool = True

    def __post_init__(self) -> None:
        check.positive_int("epochs", self.epochs)
        check.positive_int("batch_size", self.batch_size)
        check.one_of("optimizer", self.optimizer, OPTIMIZERS)
        check.positive_number("learning_rate", self.learning_rate)
        check.one_of("schedule", self.schedule, SCHEDULES)
        check.one_of("weight_decay_style", self.weight_decay_style, WEIGHT_DECAY_STYLES)
        check.one_of("jit_compile", self.jit_compile, (True, False, "auto"))
        check.boolean("augment", self.augment)
        for milestone in self.milestones:
            check.fraction("milestones", milestone)
        if self.warmup_epochs < 0 or self.warmup_epochs > self.epochs:
            raise ValueError(
                f"`warmup_epochs` must lie in [0, epochs={self.epochs}]; got {self.warmup_epochs}."
            )


@dataclass
class TrainingHistory:
    """Per-epoch results of ``train``; errors are fractions in [0, 1].

    ``train_error`` is measured as Keras reports it: the running average over each epoch's
    batches, in training mode, on augmented images (the papers' training curves do the same).
    """

    dataset: str
    train_images: int
    config: dict[str, Any]
    device: str
    precision: str
    train_loss: list[float] = field(default_factory=list)
    train_error: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_error: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    learning_rate: list[float] = field(default_factory=list)

    @property
    def wall_time(self) -> float:
        """Seconds spent training, all epochs (evaluation excluded)."""
        return float(sum(self.epoch_seconds))

    @property
    def images_per_second(self) -> float:
        """Training throughput: the median epoch after the first (which includes compiling)."""
        seconds = self.epoch_seconds[1:] or self.epoch_seconds
        return float(self.train_images / np.median(seconds)) if seconds else float("nan")

    def summary(self) -> dict[str, Any]:
        """The per-epoch curves and the final figures an experiment records for one model:
        ``train_loss``, ``train_error``, ``test_loss``, ``test_error`` (lists), ``final_*`` of
        each (``None`` without test data), ``train_seconds`` and ``images_per_second``."""
        curves = {"train_loss": self.train_loss, "train_error": self.train_error,
                  "test_loss": self.test_loss, "test_error": self.test_error}
        finals = {f"final_{name}": values[-1] if values else None
                  for name, values in curves.items()}
        return {**curves, **finals, "train_seconds": round(self.wall_time, 1),
                "images_per_second": round(self.images_per_second, 1)}

    def as_dict(self) -> dict[str, Any]:
        """Everything, JSON-ready, including wall time and throughput."""
        result = asdict(self)
        result.update(wall_time=self.wall_time, images_per_second=self.images_per_second)
        return result


@keras.saving.register_keras_serializable(package="reslib")
class L2SGD(keras.optimizers.SGD):
    """SGD whose weight decay is an L2 term of the gradient: ``g + l2 * w`` before momentum.

    This is the "weight decay of 0.0001" of He et al. 2016a (Caffe and Torch, like PyTorch's
    ``SGD(weight_decay=...)``). With momentum ``m`` it shrinks the weights about ``1 / (1 - m)``
    times (10x at 0.9) as fast as Keras' decoupled ``SGD(weight_decay=...)`` at the same value;
    with batch normalisation that sets the effective learning rate of the scale-invariant
    convolution kernels, so the two are not interchangeable.

    Args:
        learning_rate: a float or a ``LearningRateSchedule``.
        momentum: as ``keras.optimizers.SGD``.
        l2: the coefficient (the gradient of ``l2 / 2 * ||w||^2``); ``0`` is plain SGD.
        **kwargs: the other arguments of ``keras.optimizers.SGD`` (not ``weight_decay``).
    """

    def __init__(self, learning_rate: Any = 0.01, momentum: float = 0.0, l2: float = 1e-4,
                 **kwargs: Any) -> None:
        if kwargs.get("weight_decay"):
            raise ValueError("L2SGD decays through `l2`; leave `weight_decay` unset.")
        kwargs.pop("weight_decay", None)
        super().__init__(learning_rate=learning_rate, momentum=momentum, **kwargs)
        if l2 < 0:
            raise ValueError(f"`l2` must be >= 0; got {l2}.")
        self.l2 = float(l2)

    def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> None:
        if self.l2:
            decay = ops.multiply(ops.cast(self.l2, variable.dtype), variable)
            gradient = ops.add(ops.cast(gradient, variable.dtype), decay)
        super().update_step(gradient, variable, learning_rate)

    def get_config(self) -> dict[str, Any]:
        return dict(super().get_config(), l2=self.l2)


@keras.saving.register_keras_serializable(package="reslib")
class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up, then step decay, cosine decay or a constant rate, per optimizer step.

    Args:
        learning_rate: peak rate after the warm-up.
        total_steps: steps of the whole training.
        warmup_steps: steps of linear warm-up from ``learning_rate / 100``.
        schedule: ``"step"``, ``"cosine"`` or ``"constant"``.
        milestones: fractions of ``total_steps`` at which the step schedule multiplies by
            ``gamma``.
        gamma: factor of each step decay.
    """

    def __init__(
        self,
        learning_rate: float,
        total_steps: int,
        warmup_steps: int = 0,
        schedule: str = "step",
        milestones: tuple[float, ...] = (0.5, 0.75),
        gamma: float = 0.1,
    ) -> None:
        self.learning_rate = float(learning_rate)
        self.total_steps = check.positive_int("total_steps", total_steps)
        self.warmup_steps = check.non_negative_int("warmup_steps", warmup_steps)
        self.schedule = check.one_of("schedule", schedule, SCHEDULES)
        self.milestones = tuple(float(m) for m in milestones)
        self.gamma = float(gamma)

    def __call__(self, step: Any) -> Any:
        step = ops.cast(step, "float32")
        rate = ops.convert_to_tensor(self.learning_rate, "float32")
        if self.schedule == "step":
            for milestone in self.milestones:
                passed = ops.cast(step >= milestone * self.total_steps, "float32")
                rate = rate * (1.0 + passed * (self.gamma - 1.0))
        elif self.schedule == "cosine":
            decay_steps = max(self.total_steps - self.warmup_steps, 1)
            progress = ops.clip((step - self.warmup_steps) / decay_steps, 0.0, 1.0)
            rate = rate * 0.5 * (1.0 + ops.cos(math.pi * progress))
        if self.warmup_steps:
            start = self.learning_rate / 100
            warm = start + (self.learning_rate - start) * step / self.warmup_steps
            rate = ops.where(step < self.warmup_steps, warm, rate)
        return rate

    def get_config(self) -> dict[str, Any]:
        return dict(
            learning_rate=self.learning_rate,
            total_steps=self.total_steps,
            warmup_steps=self.warmup_steps,
            schedule=self.schedule,
            milestones=self.milestones,
            gamma=self.gamma,
        )


def accelerator() -> str | None:
    """``"gpu"`` or ``"tpu"`` when Keras' backend sees one, else ``None`` (a CPU)."""
    kinds = {device.split(":")[0].lower() for device in keras.distribution.list_devices()}
    for kind in ("gpu", "tpu", "cuda"):
        if kind in kinds:
            return "gpu" if kind == "cuda" else kind
    return None


def configure_precision(policy: str = "auto") -> str:
    """Set Keras' global dtype policy; call it before building the model.

    ``"auto"``: ``"mixed_bfloat16"`` on a TPU or a GPU that supports bfloat16 well (NVIDIA
    compute capability 8.0+, e.g. A100, L4, H100), ``"mixed_float16"`` on older GPUs (T4, V100:
    Keras then scales the loss), ``"float32"`` on a CPU. Returns the policy set.
    """
    if policy == "auto":
        device = accelerator()
        if device is None:
            policy = "float32"
        elif device == "tpu" or _gpu_supports_bfloat16():
            policy = "mixed_bfloat16"
        else:
            policy = "mixed_float16"
    check.one_of("policy", policy, ("float32", "mixed_float16", "mixed_bfloat16"))
    keras.config.set_dtype_policy(policy)
    return policy


def _gpu_supports_bfloat16() -> bool:
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        details = tf.config.experimental.get_device_details(gpus[0]) if gpus else {}
        return details.get("compute_capability", (0, 0)) >= (8, 0)
    if keras.backend.backend() == "jax":
        import jax

        capability = getattr(jax.devices()[0], "compute_capability", "0")
        return float(capability) >= 8.0
    return False


@contextlib.contextmanager
def distribution_scope(devices: list[str] | None = None) -> Iterator[int]:
    """Build *and* train a model inside this context to use every local accelerator.

    Data parallelism with the engines that exist, nothing home-made: on TensorFlow a
    ``tf.distribute.MirroredStrategy`` (one machine, several GPUs; for several machines use
    ``tf.distribute.MultiWorkerMirroredStrategy`` with ``TF_CONFIG`` set on each worker, the
    same code inside its scope); on JAX ``keras.distribution.DataParallel``. The batch size of
    ``TrainingConfig`` is the global batch, split over the replicas.

    Args:
        devices: e.g. ``["gpu:0", "gpu:1"]``; default: every GPU, or every CPU device when there
            is none (as when a CPU is split into logical devices for testing).

    Yields:
        The number of replicas.

    Example:
        >>> with distribution_scope() as replicas:  # doctest: +SKIP
        ...     model = cifar_resnet(56)
        ...     history = train(model, data, batch_size=128 * replicas)
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        if devices is None:
            logical = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
            devices = [device.name for device in logical]
        strategy = tf.distribute.MirroredStrategy([_tf_device_name(d) for d in devices])
        with strategy.scope():
            yield strategy.num_replicas_in_sync
    elif backend == "jax":
        devices = devices or keras.distribution.list_devices()
        previous = keras.distribution.distribution()
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
        try:
            yield len(devices)
        finally:
            keras.distribution.set_distribution(previous)
    else:
        raise NotImplementedError(f"distribution_scope does not support the {backend!r} backend.")


def _tf_device_name(device: str) -> str:
    """``"cpu:1"`` (Keras' spelling) -> ``"/device:CPU:1"``; TensorFlow names pass through."""
    if device.startswith("/"):
        return device
    kind, index = device.split(":")
    return f"/device:{kind.upper()}:{index}"


def _make_optimizer(config: TrainingConfig, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    schedule = WarmupSchedule(
        config.learning_rate,
        total_steps=config.epochs * steps_per_epoch,
        warmup_steps=round(config.warmup_epochs * steps_per_epoch),
        schedule=config.schedule,
        milestones=config.milestones,
        gamma=config.gamma,
    )
    if config.optimizer == "sgd" and config.weight_decay_style == "l2":
        return L2SGD(schedule, momentum=config.momentum, l2=config.weight_decay)
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(
            schedule, momentum=config.momentum, weight_decay=config.weight_decay or None
        )
    return keras.optimizers.AdamW(schedule, weight_decay=config.weight_decay)


def _as_pipelines(train_data: Any, test_data: Any, batch_size: int, seed: int,
                  augment: bool = True) -> tuple:
    """``(train, test, train_size, dataset_name)`` from ImageDatasets, tf.data or arrays."""
    from reslib.data import ImageDataset, channel_statistics, training_pipeline

    if isinstance(train_data, ImageDataset):
        statistics = channel_statistics(train_data)
        train = training_pipeline(train_data, batch_size, augment=augment, seed=seed)
        test = None
        if test_data is not None:
            test = training_pipeline(
                test_data, batch_size, augment=False, shuffle=False, statistics=statistics
            )
        return train, test, len(train_data), train_data.description
    if isinstance(train_data, tuple):
        x, y = train_data
        return train_data, test_data, len(x), f"arrays, {len(x):,} examples"
    size = int(train_data.unbatch().reduce(0, lambda count, _: count + 1))
    return train_data, test_data, size, f"tf.data pipeline, {size:,} examples"


class _EpochProgress(keras.callbacks.Callback):
    """One progress bar over the epochs, with the ETA and the latest errors."""

    def __init__(self, epochs: int) -> None:
        super().__init__()
        # stateful: show each epoch's value, not Progbar's running mean over epochs
        self.bar = keras.utils.Progbar(epochs, unit_name="epoch", stateful_metrics=self.SHOWN)

    SHOWN = ("loss", "error", "val_loss", "val_error")

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        shown = [(name, logs[name]) for name in self.SHOWN if name in logs]
        self.bar.update(epoch + 1, values=shown, finalize=epoch + 1 == self.bar.target)


class _ErrorFromAccuracy(keras.callbacks.Callback):
    """Adds ``error = 1 - accuracy`` (and ``val_error``) to the logs."""

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is None:
            return
        for prefix in ("", "val_"):
            if f"{prefix}accuracy" in logs:
                logs[f"{prefix}error"] = 1.0 - float(logs[f"{prefix}accuracy"])


class _EpochTimer(keras.callbacks.Callback):
    """Seconds of each epoch's training (up to its evaluation) and the learning rate after it."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []
        self.learning_rates: list[float] = []
        self._start: float | None = None

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.perf_counter()

    def _stop(self) -> None:
        if self._start is not None:
            self.seconds.append(time.perf_counter() - self._start)
            self._start = None

    def on_test_begin(self, logs: dict | None = None) -> None:
        self._stop()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._stop()
        rate = self.model.optimizer.learning_rate
        self.learning_rates.append(float(ops.convert_to_numpy(rate)))


def build_optimizer(model: keras.Model) -> None:
    """Create the compiled ``model``'s optimizer variables now, eagerly; call after ``compile``.

    ``fit`` would create them inside TensorFlow's traced training step, and then they leak: about
    0.4 MiB per variable for every model trained (110 MiB for a 100-layer highway net), which a
    notebook that trains one model after another cannot afford on Binder. A model that is not
    built yet (no variables) is left for ``fit``.
    """
    optimizer = model.optimizer
    if optimizer is not None and not optimizer.built and model.built and model.trainable_variables:
        optimizer.build(model.trainable_variables)


def train(
    model: keras.Model,
    train_data: Any,
    test_data: Any = None,
    config: TrainingConfig | None = None,
    **overrides: Any,
) -> TrainingHistory:
    """Compile and train ``model`` on ``train_data``, evaluating on ``test_data`` every epoch.

    Args:
        model: a Keras classifier ``(batch, ...) -> (batch, classes)``, ending in a softmax
            (reslib's builders' default) or in logits. Either way the loss is computed on its
            float32 logits (``reslib.logits.logits_model``), which share its weights: ``model``
            is trained in place and stays uncompiled.
        train_data: a ``reslib.data.ImageDataset`` (augmented and normalised as He et al.),
            a batched ``tf.data.Dataset`` of ``(images, labels)``, or a tuple of arrays.
        test_data: the same kind of thing, or ``None``.
        config: a ``TrainingConfig``; keyword ``overrides`` replace its fields, e.g.
            ``train(model, data, epochs=5)``.

    Returns:
        A ``TrainingHistory`` naming the dataset, device and precision, with per-epoch train/test
        loss and error, learning rate and seconds.
    """
    config = replace(config or TrainingConfig(), **overrides)
    checkpoints, slot = checkpoint.active(), None
    if checkpoints is not None:  # before any pipeline or compile: a finished slot needs neither
        slot = checkpoints.slot(model.name)
        stored = checkpoint.finished(slot)
        if stored is not None:  # trained to the end by an earlier run in this directory
            checkpoint.restore_finished(model, slot)
            return TrainingHistory(**stored)
    release_freed_memory()  # what earlier models freed: a notebook trains one after another
    keras.utils.set_random_seed(config.seed)
    train_set, test_set, size, dataset = _as_pipelines(
        train_data, test_data, config.batch_size, config.seed, config.augment
    )
    steps_per_epoch = max(1, math.ceil(size / config.batch_size))
    device = accelerator()
    jit = config.jit_compile
    if jit == "auto":
        jit = device is not None or keras.backend.backend() == "jax"
    # Fit the logits, on every backend: cross-entropy on clipped softmax probabilities gives no
    # gradient to the examples it clips (reslib.logits). The trainer shares model's weights.
    trainer = logits_model(model)
    trainer.compile(
        optimizer=_make_optimizer(config, steps_per_epoch),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        jit_compile=jit,
    )
    build_optimizer(trainer)
    timer = _EpochTimer()
    callbacks: list[keras.callbacks.Callback] = [timer, _ErrorFromAccuracy()]
    epoch_log = None
    if checkpoints is not None:
        epoch_log = checkpoint.EpochLog(slot, checkpoints, timer, config.epochs)
        callbacks = [keras.callbacks.BackupAndRestore(str(slot / "backup"),
                                                      delete_checkpoint=False),
                     *callbacks, epoch_log]
    if config.progress:
        callbacks.append(_EpochProgress(config.epochs))
    fit_args: dict[str, Any] = dict(epochs=config.epochs, callbacks=callbacks, verbose=0)
    if isinstance(train_set, tuple):
        fit_args.update(batch_size=config.batch_size, shuffle=True)
        logs = trainer.fit(*train_set, validation_data=test_set, **fit_args).history
    else:
        fit_args.update(shuffle=False)  # the pipeline shuffles
        logs = trainer.fit(train_set, validation_data=test_set, **fit_args).history
    seconds, rates = timer.seconds, timer.learning_rates
    if epoch_log is not None:  # every epoch, including those before a resume
        logs = epoch_log.log
        seconds, rates = logs["seconds"], logs["learning_rate"]
    release_freed_memory()
    history = TrainingHistory(
        dataset=dataset,
        train_images=size,
        config=asdict(config),
        device=device or "cpu",
        precision=keras.backend.standardize_dtype(model.compute_dtype),
        train_loss=[float(v) for v in logs["loss"]],
        train_error=[float(v) for v in logs["error"]],
        test_loss=[float(v) for v in logs.get("val_loss", [])],
        test_error=[float(v) for v in logs.get("val_error", [])],
        epoch_seconds=list(seconds),
        learning_rate=list(rates),
    )
    if slot is not None and slot.name not in checkpoints.stopped_early:
        checkpoint.mark_finished(model, slot, asdict(history))
    return history
