"""Issue 8, item 1: reslib's ImageNet networks against ``keras.applications``' same networks.

For ResNet-50 (v1), ResNet-50 v2 and DenseNet-121, each model trains in its own subprocess (same
backend, batch, image size, precision and XLA setting for both sides) and reports training
images/s (median of timed windows after a warm-up epoch) and peak memory: on a CPU the peak
resident set size of the whole process (framework included, so the ratio understates the
difference between the models' own buffers), on a GPU the peak device memory in use.

On a CPU the images are small (``image_size``, e.g. 64x64) and the batch small, so that a run
takes minutes; the architectures are the full ImageNet ones with 1000 classes.
"""

from __future__ import annotations

from typing import Any

from benchmarks.isolate import Outcome, run_worker
from benchmarks.report import Goal, Result
from benchmarks.system import installed_backends

SECTION = "1. reslib vs keras.applications (training step)"
PAIRS = {
    "ResNet-50": ("resnet50", "ResNet50"),
    # like for like: reslib strides where keras.applications does (the first 1x1 convolution)
    "ResNet-50, stride on 1x1": ("resnet50_stride_1x1", "ResNet50"),
    "ResNet-50 v2": ("resnet50v2", "ResNet50V2"),
    "DenseNet-121": ("densenet121", "DenseNet121"),
}
THROUGHPUT_GOAL = Goal("ratio", ">=", 0.98, source="issue 8: reslib >= 0.98x keras.applications")
MEMORY_GOAL = Goal("ratio", "<=", 1.02, source="issue 8's 0.98x goal, read for memory")


def settings(quick: bool, accelerator: str) -> dict[str, Any]:
    """Batch, image size, windows: tiny for ``quick``, small on a CPU, ImageNet-size on a GPU."""
    if quick:
        return {"batch_size": 2, "image_size": 32, "windows": 2, "steps_per_window": 1}
    if accelerator == "cpu":
        return {"batch_size": 16, "image_size": 64, "windows": 5, "steps_per_window": 3}
    return {"batch_size": 64, "image_size": 224, "windows": 5, "steps_per_window": 10}


def build(name: str, image_size: int) -> Any:
    """One of the six models, 1000 classes, softmax, random weights, ``(size, size, 3)`` input."""
    import keras

    from reslib.models import densenet, resnet

    shape = (image_size, image_size, 3)
    builders = {
        "resnet50": lambda: resnet(50, version=1, input_shape=shape),
        "resnet50_stride_1x1": lambda: resnet(50, version=1, input_shape=shape, stride_on="1x1"),
        "resnet50v2": lambda: resnet(50, version=2, input_shape=shape),
        "densenet121": lambda: densenet(input_shape=shape),
    }
    if name in builders:
        return builders[name]()
    return getattr(keras.applications, name)(weights=None, input_shape=shape)


def measure(
    name: str, batch_size: int, image_size: int, windows: int, steps_per_window: int
) -> dict[str, Any]:
    """Child side: build ``name`` with reslib.training's default precision and XLA choice for
    this device (the same for both sides of a pair) and time its training."""
    import keras

    from benchmarks import timing

    choices = timing.default_choices()
    keras.config.set_dtype_policy(choices["precision"])
    model = build(name, image_size)
    images, labels = timing.synthetic_batch(batch_size * steps_per_window, image_size, 1000)
    before = timing.resident_mib()
    timing.reset_device_peak()
    result = timing.time_training(
        model, images, labels, batch_size, windows, choices["jit_compile"]
    )
    keras.config.set_dtype_policy("float32")
    return dict(
        result, model=name, parameters=timing.parameter_count(model), image_size=image_size,
        rss_before_training_mib=before,
        device_peak_mib=timing.device_peak_mib(), **timing.device_description(),
    )


def forward_flops(names: list[str], image_size: int) -> dict[str, float]:
    """Child side (TensorFlow): floating-point operations of one image's forward pass, in GFLOP.

    Counted by TensorFlow's graph profiler on the frozen inference graph (a multiply-add counts
    two). Explains throughput ratios between architectures that differ in where they stride.
    """
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    counts = {}
    for name in names:
        model = build(name, image_size)
        spec = tf.TensorSpec([1, image_size, image_size, 3])
        graph = convert_variables_to_constants_v2(
            tf.function(lambda x, model=model: model(x, training=False)).get_concrete_function(spec)
        ).graph
        options = dict(tf.compat.v1.profiler.ProfileOptionBuilder.float_operation(), output="none")
        profile = tf.compat.v1.profiler.profile(graph=graph, options=options)
        counts[name] = profile.total_float_ops / 1e9
    return counts


def _compute_row(label: str, rows: list[Result], flops: dict[str, float], names: tuple) -> Result:
    """Throughput times forward GFLOP per image: how well each implementation uses the device,
    whatever the architectures' difference in work."""
    throughput = rows[0]
    ours, theirs = (flops.get(name) for name in names)
    value = throughput.value * ours if throughput.value and ours else None
    reference = throughput.reference * theirs if throughput.reference and theirs else None
    note = f"fwd GFLOP/img: reslib {ours:.3g}, keras {theirs:.3g}" if ours and theirs else ""
    return Result(SECTION, f"{label} compute rate (img/s x fwd GFLOP/img)", value, "GFLOP/s",
                  reference, "keras.applications", THROUGHPUT_GOAL, note=note,
                  details={"forward_gflop_per_image": flops})


def _rows(label: str, ours: Any, theirs: Any, config: dict[str, Any]) -> list[Result]:
    """Throughput and memory rows of one pair of outcomes."""
    details = {"settings": config, "reslib": ours.result, "keras.applications": theirs.result}
    error = ours.error or theirs.error or ""
    size = config["image_size"]
    figure = f"{label} train, batch {config['batch_size']}, {size}x{size}"
    rows = [Result(
        SECTION, f"{figure}", ours.result.get("images_per_second"), "img/s",
        theirs.result.get("images_per_second"), "keras.applications", THROUGHPUT_GOAL,
        note=error[:160], details=details,
    )]
    on_device = ours.result.get("device_peak_mib") is not None
    memory = ("device_peak_mib", "GPU peak") if on_device else ("peak_rss_mib", "process peak RSS")
    ours_memory = ours.result.get(memory[0]) if on_device else ours.peak_rss_mib
    theirs_memory = theirs.result.get(memory[0]) if on_device else theirs.peak_rss_mib
    rows.append(Result(
        SECTION, f"{label} {memory[1]}", ours_memory if ours.ok else None, "MiB",
        theirs_memory if theirs.ok else None, "keras.applications", MEMORY_GOAL,
        note=error[:160],
    ))
    return rows


def run(quick: bool, accelerator: str, backend: str = "tensorflow") -> list[Result]:
    """Parent side: every pair, each model in its own subprocess."""
    config = settings(quick, accelerator)
    results = []
    for label, (ours, theirs) in PAIRS.items():
        if quick and label != "ResNet-50":
            continue
        outcomes = [
            run_worker("benchmarks.models:measure", dict(config, name=name), backend=backend)
            for name in (ours, theirs)
        ]
        rows = _rows(label, *outcomes, dict(config, backend=backend))
        if "tensorflow" in installed_backends():
            flops = run_worker("benchmarks.models:forward_flops",
                               {"names": [ours, theirs], "image_size": config["image_size"]})
        else:
            flops = Outcome(error="FLOPs not counted: that uses TensorFlow's profiler")
        compute = _compute_row(label, rows, flops.result, (ours, theirs))
        compute.note = compute.note or (flops.error or "")[:160]
        results += rows + [compute]
    return results
