"""Issue 16, section 5: inference of reslib's networks with batch norm folded, against
``keras.applications``' same networks.

For ResNet-50 (v1; also with ``stride_on="1x1"``, keras.applications' architecture, like for
like) and DenseNet-121, one subprocess per network runs three models with the same backend,
batch, image size, precision and XLA setting: ``reslib.export.fold_batchnorm`` of reslib's
network, reslib's network as built, and ``keras.applications``' (``weights=None``, 1000 classes).
They take turns, one timed ``model.predict`` window each, so that a shared machine whose speed
drifts slows the three alike; the figure is images/s (median window, after an untimed warm-up
round that traces the functions). Images per CPU second (the process's CPU time) are a second
figure with the same goal: on a machine that other work keeps busy, the wall-clock windows of
the same model vary severalfold, the CPU time far less. The child also reports the largest
difference between the folded and the original outputs, with batch-norm statistics made
non-trivial first, and the time the export took.
"""

from __future__ import annotations

from typing import Any

from benchmarks.isolate import run_worker
from benchmarks.report import Goal, Result

SECTION = "5. inference with batch norm folded (reslib.export)"
NETWORKS = {
    "ResNet-50": "resnet50",
    # like for like: reslib strides where keras.applications does (the first 1x1 convolution)
    "ResNet-50, stride on 1x1": "resnet50_stride_1x1",
    "DenseNet-121": "densenet121",
}
REFERENCES = {
    "resnet50": "ResNet50", "resnet50_stride_1x1": "ResNet50", "densenet121": "DenseNet121",
}
SPEED_GOAL = Goal("ratio", ">=", 1.15, source="issue 16 section 5: folded >= 1.15x "
                                              "keras.applications inference")
NOISY = 1.5  # slowest / fastest window of one model beyond which the wall clock is not trusted
EQUALITY_GOAL = Goal("value", "<=", 1e-4, source="issue 16 section 5: outputs within 1e-4")


def settings(quick: bool, accelerator: str) -> dict[str, Any]:
    """Batch, image size and windows: tiny for ``quick``, moderate on a CPU, ImageNet on a GPU."""
    if quick:
        return {"batch_size": 2, "image_size": 32, "windows": 2, "batches_per_window": 1}
    if accelerator == "cpu":
        return {"batch_size": 16, "image_size": 128, "windows": 9, "batches_per_window": 2}
    return {"batch_size": 128, "image_size": 224, "windows": 5, "batches_per_window": 10}


def build(name: str, image_size: int) -> Any:
    """reslib's ``resnet50``/``densenet121``, or the ``keras.applications`` model of that name;
    1000 classes, softmax, random weights, ``(size, size, 3)`` input."""
    import keras

    from reslib.models import densenet, resnet

    shape = (image_size, image_size, 3)
    builders = {
        "resnet50": lambda: resnet(50, input_shape=shape),
        "resnet50_stride_1x1": lambda: resnet(50, input_shape=shape, stride_on="1x1"),
        "densenet121": lambda: densenet(input_shape=shape),
    }
    if name in builders:
        return builders[name]()
    return getattr(keras.applications, name)(weights=None, input_shape=shape)


def randomize_batchnorm(model: Any, seed: int = 0) -> None:
    """Give every batch norm of ``model`` (nested ones too) random statistics and affine
    parameters, so that folding is tested on more than the identity of a fresh network."""
    import keras
    import numpy as np

    rng = np.random.default_rng(seed)
    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.BatchNormalization):
            channels = layer.moving_mean.shape[0]
            layer.moving_mean.assign(rng.normal(0.0, 0.2, channels).astype("float32"))
            layer.moving_variance.assign(rng.uniform(0.5, 1.5, channels).astype("float32"))
            layer.gamma.assign(rng.uniform(0.5, 1.0, channels).astype("float32"))
            layer.beta.assign(rng.normal(0.0, 0.1, channels).astype("float32"))


def measure(
    network: str, batch_size: int, image_size: int, windows: int, batches_per_window: int
) -> dict[str, Any]:
    """Child side: the three models of ``network`` ("resnet50" or "densenet121"), timed in
    turn window by window, so that a machine whose speed drifts slows all three alike.

    Precision and XLA are reslib.training's defaults for this device, the same for all three.
    Returns per model images/s (median window), the raw window seconds and the warm-up's.
    """
    import time

    import keras
    import numpy as np

    from benchmarks import timing
    from reslib.export import count_layers, fold_batchnorm

    choices = timing.default_choices()
    keras.config.set_dtype_policy(choices["precision"])
    images, _ = timing.synthetic_batch(batch_size * batches_per_window, image_size, 1000)
    built = build(network, image_size)
    randomize_batchnorm(built)
    start = time.perf_counter()
    folded = fold_batchnorm(built)
    export_seconds = time.perf_counter() - start
    sample = images[:batch_size]
    difference = np.max(np.abs(
        keras.ops.convert_to_numpy(built(sample, training=False))
        - keras.ops.convert_to_numpy(folded(sample, training=False))
    ))
    models = {"folded": folded, "built": built, "keras": build(REFERENCES[network], image_size)}
    seconds: dict[str, list[float]] = {name: [] for name in models}
    cpu: dict[str, list[float]] = {name: [] for name in models}
    for model in models.values():
        model.compile(jit_compile=choices["jit_compile"])
    for _ in range(1 + windows):  # the first round is the warm-up (tracing)
        for name, model in models.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            model.predict(images, batch_size=batch_size, verbose=0)
            seconds[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    keras.config.set_dtype_policy("float32")
    per_model = {
        name: {
            "images_per_second": len(images) / float(np.median(seconds[name][1:])),
            "window_seconds": seconds[name][1:], "warmup_seconds": seconds[name][0],
            "cpu_seconds_per_image": float(np.median(cpu[name][1:])) / len(images),
            "parameters": timing.parameter_count(model), "layers": len(model.layers),
            "batch_norms": count_layers(model, keras.layers.BatchNormalization, nested=True),
        }
        for name, model in models.items()
    }
    return dict(
        per_model, network=network, max_abs_difference=float(difference),
        export_seconds=export_seconds, batch_size=batch_size, image_size=image_size,
        jit_compile=choices["jit_compile"], precision=choices["precision"],
        **timing.device_description(),
    )


def _rows(label: str, outcome: Any, config: dict[str, Any]) -> list[Result]:
    """Folded and as-built throughput against keras.applications, and the folded outputs'
    largest difference from the original's."""
    measured = outcome.result
    speed = {name: measured.get(name, {}).get("images_per_second")
             for name in ("folded", "built", "keras")}
    size = config["image_size"]
    figure = f"{label} inference, batch {config['batch_size']}, {size}x{size}"
    note = (outcome.error or "")[:160]
    norms = {name: measured.get(name, {}).get("batch_norms") for name in ("built", "folded")}
    per_cpu_second = {
        name: 1 / value if value else None
        for name, value in ((name, measured.get(name, {}).get("cpu_seconds_per_image"))
                            for name in ("folded", "keras"))
    }
    spread = max((max(windows) / min(windows) for windows in (
        measured.get(name, {}).get("window_seconds") for name in ("folded", "keras")) if windows),
        default=1.0)
    noisy = f"busy machine: windows vary {spread:.1f}x, read the CPU row" if spread > NOISY else ""
    return [
        Result(SECTION, f"{figure}, folded", speed["folded"], "img/s", speed["keras"],
               "keras.applications", SPEED_GOAL, note=note or noisy,
               details={"settings": config, **measured}),
        Result(SECTION, f"{figure}, folded, per CPU second", per_cpu_second["folded"],
               "img/CPU-s", per_cpu_second["keras"], "keras.applications", SPEED_GOAL, note=note),
        Result(SECTION, f"{figure}, as built (not folded)", speed["built"], "img/s",
               speed["keras"], "keras.applications", note=note),
        Result(SECTION, f"{label} folded vs original: max |difference| of the outputs",
               measured.get("max_abs_difference"), "", goal=EQUALITY_GOAL, note=note,
               details={"batch_norms": norms, "export_seconds": measured.get("export_seconds")}),
    ]


def run(quick: bool, accelerator: str, backend: str = "tensorflow") -> list[Result]:
    """Parent side: one subprocess per network, timing its three models in turn."""
    config = settings(quick, accelerator)
    results = []
    for label, network in NETWORKS.items():
        if quick and label != "ResNet-50":
            continue
        outcome = run_worker("benchmarks.export:measure", dict(config, network=network),
                             backend=backend)
        results += _rows(label, outcome, dict(config, backend=backend))
    return results
