"""Child-side helpers: time training steps, read peak memory, describe the device.

Only ``benchmarks.worker`` subprocesses import this module (it imports Keras, so the backend is
fixed by then). Throughput is measured the way users train: ``model.fit`` on in-memory arrays,
one epoch per timed window. The first epoch (tracing, XLA compilation, autotuning) is the
warm-up and is never timed; the figure is the median over the remaining windows.
"""

from __future__ import annotations

import time
from typing import Any

import keras
import numpy as np

from reslib.training import accelerator, configure_precision


class WindowTimer(keras.callbacks.Callback):
    """Wall seconds of every epoch (one timed window of training steps)."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []
        self._start = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.seconds.append(time.perf_counter() - self._start)


def synthetic_batch(count: int, image_size: int, classes: int, seed: int = 0) -> tuple:
    """``count`` random images ``(count, size, size, 3)`` float32 and int labels ``(count,)``."""
    rng = np.random.default_rng(seed)
    images = rng.standard_normal((count, image_size, image_size, 3), dtype="float32")
    return images, rng.integers(0, classes, size=count)


def time_training(
    model: keras.Model,
    images: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    windows: int,
    jit_compile: bool,
) -> dict[str, Any]:
    """Train ``model`` for ``1 + windows`` epochs over ``images`` and time each epoch.

    One epoch is ``len(images) / batch_size`` steps of SGD (momentum 0.9) on sparse categorical
    cross-entropy. Returns ``images_per_second`` (median window), the raw ``window_seconds``, the
    ``warmup_seconds`` of the untimed first epoch and the step settings.
    """
    model.compile(
        optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
        loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=getattr(model.layers[-1].activation, "__name__", "") != "softmax"
        ),
        jit_compile=jit_compile,
    )
    timer = WindowTimer()
    model.fit(
        images, labels, batch_size=batch_size, epochs=1 + windows, shuffle=False, verbose=0,
        callbacks=[timer],
    )
    timed = timer.seconds[1:]
    return {
        "images_per_second": len(images) / float(np.median(timed)),
        "window_seconds": timed,
        "warmup_seconds": timer.seconds[0],
        "steps_per_window": len(images) // batch_size,
        "batch_size": batch_size,
        "jit_compile": bool(jit_compile),
        "precision": keras.backend.standardize_dtype(model.compute_dtype),
    }


def parameter_count(model: keras.Model) -> int:
    """Trainable parameters."""
    return int(sum(np.prod(weight.shape) for weight in model.trainable_weights))


def reset_device_peak() -> None:
    """Start a new device-memory high-water mark (TensorFlow GPUs; JAX keeps one per process)."""
    if keras.backend.backend() == "tensorflow" and accelerator() == "gpu":
        import tensorflow as tf

        tf.config.experimental.reset_memory_stats("GPU:0")


def device_peak_mib() -> float | None:
    """Peak accelerator memory in use, in MiB, since the last reset; ``None`` on a CPU."""
    if accelerator() is None:
        return None
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
    if keras.backend.backend() == "jax":
        import jax

        stats = jax.devices()[0].memory_stats() or {}
        peak = stats.get("peak_bytes_in_use")
        return peak / 2**20 if peak is not None else None
    return None


def resident_mib() -> float | None:
    """This process's resident set size now, in MiB (``VmRSS``; Linux only)."""
    try:
        with open("/proc/self/status") as file:
            for line in file:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def device_description() -> dict[str, Any]:
    """The backend, its accelerator (``"gpu"``, ``"tpu"`` or ``"cpu"``) and its device names."""
    return {
        "backend": keras.backend.backend(),
        "accelerator": accelerator() or "cpu",
        "devices": keras.distribution.list_devices(),
    }


def default_choices() -> dict[str, Any]:
    """What ``reslib.training`` picks by default on this device and backend.

    The precision is ``configure_precision("auto")``'s; the XLA choice is read back from a model
    that ``reslib.training.train`` compiled with ``jit_compile="auto"`` (a one-layer classifier,
    one step), so it is the helper's real decision, not a copy of its rule.
    """
    from reslib.training import train

    precision = configure_precision("auto")
    keras.config.set_dtype_policy("float32")
    model = keras.Sequential(
        [keras.Input((4, 4, 3)), keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2)]
    )
    images, labels = synthetic_batch(8, 4, 2)
    train(model, (images, labels), epochs=1, batch_size=8, progress=False)
    return {"precision": precision, "jit_compile": bool(model.jit_compile)}


def probe() -> dict[str, Any]:
    """The device this backend sees and ``reslib.training``'s default choices on it."""
    return dict(device_description(), default=default_choices())
