"""Issue 8, item 2: CIFAR ResNet-20/56 and plain-20/56, training images/s per backend and setting.

Every (backend, network) pair runs in its own subprocess, which times each combination of XLA
(``jit_compile``) on/off and precision (float32, and the device's mixed policy where it has one:
on a CPU mixed precision is not measured). The subprocess also reports what
``reslib.training.train`` picks by default there, so the table can say whether the default is
the fastest combination of that backend. Images are real CIFAR-10 training images (normalised,
in memory: the input pipeline is item 3's business), batch 128 as in He et al. 2016a.
"""

from __future__ import annotations

from typing import Any

from benchmarks.isolate import run_worker
from benchmarks.report import Goal, Result
from benchmarks.system import BACKENDS

SECTION = "2. CIFAR networks: backend x XLA x precision"
NETWORKS = {"ResNet-20": (20, True), "ResNet-56": (56, True), "plain-20": (20, False),
            "plain-56": (56, False)}
DEFAULT_GOAL = Goal("ratio", ">=", 0.95, source="issue 8: the default is the fastest (5% noise)")


def settings(quick: bool, accelerator: str) -> dict[str, Any]:
    """Batch and windows; ``quick`` keeps ResNet-20 only with a few small steps."""
    if quick:
        return {"networks": ["ResNet-20"], "batch_size": 32, "windows": 2, "steps_per_window": 1}
    # an accelerator's step takes milliseconds: 15 steps a window (XLA off on JAX is eager and
    # slow there), 3 windows after the warm-up epoch
    steps = 3 if accelerator == "cpu" else 15
    return {"networks": list(NETWORKS), "batch_size": 128, "windows": 3,
            "steps_per_window": steps}


def combinations(accelerator: str) -> list[tuple[bool, str]]:
    """``(jit_compile, precision)`` pairs to time: float32 everywhere, mixed on accelerators."""
    precisions = ["float32"]
    if accelerator != "cpu":
        from_device = "mixed_bfloat16" if accelerator == "tpu" else "auto"
        precisions.append(from_device)
    return [(jit, precision) for precision in precisions for jit in (False, True)]


def cifar_arrays(count: int) -> tuple[Any, Any, str]:
    """``count`` normalised CIFAR-10 training images, their labels and the dataset's description."""
    from reslib.data import channel_statistics, load_dataset

    dataset = load_dataset("cifar10", "train", limit=count)
    mean, std = channel_statistics(dataset)
    images = ((dataset.images.astype("float32") / 255.0 - mean) / std).astype("float32")
    return images, dataset.labels, dataset.description


def measure(
    depth: int, residual: bool, batch_size: int, windows: int, steps_per_window: int,
    combos: list[list[Any]],
) -> dict[str, Any]:
    """Child side: time every ``(jit_compile, precision)`` combo of one network on this backend.

    A precision of ``"auto"`` means ``configure_precision("auto")``'s mixed policy.
    """
    import keras

    from benchmarks import timing
    from reslib.models import cifar_resnet

    images, labels, dataset = cifar_arrays(batch_size * steps_per_window)
    choices = timing.default_choices()
    timed = []
    for jit, precision in combos:
        policy = choices["precision"] if precision == "auto" else precision
        keras.config.set_dtype_policy(policy)
        keras.utils.set_random_seed(0)
        model = cifar_resnet(depth, residual=residual)
        entry = timing.time_training(model, images, labels, batch_size, windows, jit)
        # the policy's name ("mixed_bfloat16"), as the default is named, not the compute dtype
        timed.append(dict(entry, precision=policy))
        keras.config.set_dtype_policy("float32")
    return {"timed": timed, "default": choices, "dataset": dataset,
            **timing.device_description()}


def _label(jit: bool, precision: str) -> str:
    return f"XLA {'on' if jit else 'off'}, {precision}"


def _network_rows(network: str, backend: str, outcome: Any, config: dict) -> list[Result]:
    """One row per timed combination, then the default's row against the fastest."""
    figure = f"{network} {backend}"
    if not outcome.ok:
        return [Result(SECTION, figure, None, "img/s", note=outcome.error[:160])]
    timed = outcome.result["timed"]
    best = max(timed, key=lambda entry: entry["images_per_second"])
    best_name = _label(best["jit_compile"], best["precision"])
    rows = [
        Result(SECTION, f"{figure}, {_label(entry['jit_compile'], entry['precision'])}",
               entry["images_per_second"], "img/s", best["images_per_second"], best_name,
               details=dict(entry, dataset=outcome.result["dataset"], settings=config))
        for entry in timed
    ]
    default = outcome.result["default"]
    picked = [entry for entry in timed if entry["jit_compile"] == default["jit_compile"]
              and entry["precision"] == default["precision"]]
    choice = _label(default["jit_compile"], default["precision"])
    rows.append(Result(
        SECTION, f"{figure}, reslib default ({choice})",
        picked[0]["images_per_second"] if picked else None, "img/s",
        best["images_per_second"], f"fastest: {best_name}", DEFAULT_GOAL,
        note="" if picked else "default combination not timed", details={"default": default},
    ))
    return rows


def run(
    quick: bool, accelerator: str, backends: tuple[str, ...] = BACKENDS,
    networks: list[str] | None = None,
) -> list[Result]:
    """Parent side: every backend and network (``networks``, default all four; quick mode
    ResNet-20), each pair in its own subprocess."""
    config = settings(quick, accelerator)
    if networks and not quick:
        config["networks"] = list(networks)
    combos = combinations(accelerator)
    results = []
    for backend in backends:
        for network in config["networks"]:
            depth, residual = NETWORKS[network]
            arguments = dict(depth=depth, residual=residual, combos=combos,
                             **{k: config[k] for k in ("batch_size", "windows",
                                                       "steps_per_window")})
            outcome = run_worker("benchmarks.cifar:measure", arguments, backend=backend)
            results += _network_rows(network, backend, outcome, config)
        if accelerator == "cpu":
            results.append(Result(SECTION, f"mixed precision, {backend}", None, "img/s",
                                  note="not measured: CPU"))
    return results


def fastest_training(results: list[Result]) -> Result | None:
    """The fastest timed training combination among ``results`` (item 3's reference)."""
    timed = [r for r in results if r.section == SECTION and r.value is not None
             and "reslib default" not in r.figure]
    return max(timed, key=lambda result: result.value, default=None)
