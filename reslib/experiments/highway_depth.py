"""Lesson 05: highway networks against plain networks as depth grows (Srivastava et al. 2015).

Srivastava, Greff and Schmidhuber, "Training Very Deep Networks", NeurIPS 2015, Fig. 1: thin
fully connected networks of 10, 20, 50 and 100 layers, trained alike with SGD; the plain nets
train worse and worse with depth, the highway nets do not. Here the same sweep runs on small
image data flattened to vectors, with highway nets at one or more initial gate biases ``b_T``:
how far below zero ``b_T`` starts decides how much of the signal the carry path passes on at
initialisation, so the bias that suits 10 layers can be too weak for 100. After training, the
transform gates of the deepest highway net are measured per layer (the paper's Fig. 2).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from reslib import papers
from reslib.data import channel_statistics, load_dataset
from reslib.diagnostics import GateStatistics, gate_statistics
from reslib.experiments._registry import Experiment, register
from reslib.models import highway_net
from reslib.training import train

# Srivastava et al. 2015, section 4.1: 50 units per highway layer against 71 per plain layer,
# for about equal parameter counts; Fig. 1: nets of 10, 20, 50 and 100 layers (views of
# reslib.papers).
PAPER_WIDTHS = {"highway": int(papers.value("srivastava2015.highway_width")),
                "plain": int(papers.value("srivastava2015.plain_width"))}
PAPER_DEPTHS = tuple(int(papers.value(f"srivastava2015.fig1.depth-{i}")) for i in range(1, 5))


def flattened_arrays(dataset: Any, statistics: tuple | None = None) -> tuple[np.ndarray, Any]:
    """``(x, y)``: images standardised per channel (``statistics`` or the set's own) and
    flattened to ``(n, height * width * channels)`` float32, as for the paper's MLPs."""
    mean, std = statistics if statistics is not None else channel_statistics(dataset)
    x = (dataset.images.astype("float32") / 255.0 - mean) / std
    return x.reshape(len(x), -1).astype("float32"), dataset.labels


def model_label(depth: int, gate_bias: float | None) -> str:
    """``"plain-50"`` for ``gate_bias=None``, else e.g. ``"highway-50 (b=-2)"``."""
    if gate_bias is None:
        return f"plain-{depth}"
    return f"highway-{depth} (b={gate_bias:g})"


def gate_statistics_from(record: dict[str, Any]) -> GateStatistics:
    """The ``GateStatistics`` stored in a record of this experiment (for ``gate_heatmap``)."""
    stored = record["gates"]
    return GateStatistics(
        layers=tuple(stored["layers"]),
        mean=np.asarray(stored["mean"]),
        min=np.asarray(stored["min"]),
        max=np.asarray(stored["max"]),
        per_unit=np.asarray(stored["per_unit"]),
        dataset=stored["dataset"],
    )


def _train_one(
    depth: int, gate_bias: float | None, width: int, data: tuple, dataset: Any, train_args: dict,
    seed: int,
) -> tuple[keras.Model, dict[str, Any]]:
    keras.utils.set_random_seed(seed)
    model = highway_net(
        depth, width=width, input_shape=data[0][0].shape[1:], classes=len(dataset.class_names),
        gate_bias=-2.0 if gate_bias is None else gate_bias, highway=gate_bias is not None,
    )
    history = train(model, data[0], data[1], seed=seed, **train_args)
    return model, {
        "depth": depth,
        "gate_bias": gate_bias,
        "parameters": model.count_params(),
        **history.summary(),
    }


def run(
    depths: tuple[int, ...] = PAPER_DEPTHS,
    gate_bias: float = -4.0,
    bias_sweep: tuple[float, ...] = (-1.0, -2.0),
    bias_depth: int = 50,
    width: int = 50,
    plain_width: int = 71,
    dataset: str = "digits",
    train_images: int | None = None,
    test_images: int | None = None,
    epochs: int = 8,
    batch_size: int = 64,
    learning_rate: float = 0.01,
    progress: bool = True,
    seed: int = 0,
) -> dict[str, Any]:
    """Train plain and highway MLPs of every depth alike, and highway nets at other gate biases.

    Args:
        depths: highway/plain layers after the projection (``highway_net``'s ``depth``).
        gate_bias: initial transform-gate bias of the highway nets of the depth sweep.
        bias_sweep, bias_depth: further highway nets of ``bias_depth`` layers, one per bias.
        width: units of every highway layer; ``plain_width``: of every plain layer (the paper
            matched parameter counts with 50 and 71).
        dataset: ``"digits"``, ``"fashion_mnist"`` or ``"cifar10"``, flattened to vectors.
        train_images, test_images: keep the first so many examples (``None``: all).
        epochs, batch_size, learning_rate: SGD with momentum 0.9, a constant rate, no
            augmentation (the paper's MLPs saw raw pixels).

    Returns:
        ``models`` (per-epoch histories and final errors), ``gates`` (gate statistics of the
        deepest highway net of the sweep, on test images), the dataset's description and
        ``claim_holds``: the deepest plain net ends with a higher training loss than the
        shallowest, and the deepest highway net ends below the deepest plain net.
    """
    train_set = load_dataset(dataset, "train", limit=train_images)
    test_set = load_dataset(train_set.name, "test", limit=test_images)
    statistics = channel_statistics(train_set)
    data = (flattened_arrays(train_set), flattened_arrays(test_set, statistics))
    train_args = dict(epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
                      optimizer="sgd", schedule="constant", progress=progress)
    runs = [(d, None) for d in depths] + [(d, gate_bias) for d in depths]
    runs += [(bias_depth, b) for b in bias_sweep if (bias_depth, b) not in runs]
    models: dict[str, Any] = {}
    gates: dict[str, Any] = {}
    for depth, bias in runs:
        label = model_label(depth, bias)
        if progress:
            print(f"{label} on {train_set.title}")
        layer_width = plain_width if bias is None else width
        model, models[label] = _train_one(depth, bias, layer_width, data, train_set,
                                          train_args, seed)
        if bias == gate_bias and depth == max(depths):
            gates = _gates_as_dict(gate_statistics(model, data[1][0], test_set.description))
    shallow, deep = models[model_label(min(depths), None)], models[model_label(max(depths), None)]
    highway = models[model_label(max(depths), gate_bias)]
    return {
        "dataset": f"{train_set.description}, flattened",
        "test_dataset": test_set.description,
        "models": models,
        "gates": gates,
        "paper_widths": PAPER_WIDTHS,
        "claim_holds": bool(
            deep["train_loss"][-1] > shallow["train_loss"][-1]
            and highway["train_loss"][-1] < deep["train_loss"][-1]
        ),
    }


def _gates_as_dict(stats: GateStatistics) -> dict[str, Any]:
    return {
        "layers": list(stats.layers),
        "mean": stats.mean.tolist(),
        "min": stats.min.tolist(),
        "max": stats.max.tolist(),
        "per_unit": stats.per_unit.tolist(),
        "dataset": stats.dataset,
    }


def figures(record: dict[str, Any]) -> dict[str, Any]:
    """Final training error against depth per family, and the gate heat map."""
    from reslib.plots import gate_heatmap

    return {"error-by-depth": error_by_depth(record), "gates": gate_heatmap(
        gate_statistics_from(record))}


def error_by_depth(record: dict[str, Any]) -> Any:
    """Final training error (%) against depth, one line per family (the paper's Fig. 1)."""
    import matplotlib.pyplot as plt

    from reslib.plots import short_dataset

    fig, ax = plt.subplots(figsize=(6.4, 4.0), layout="constrained")
    plt.close(fig)
    families: dict[str, list[tuple[int, float]]] = {}
    for model in record["models"].values():
        bias = model["gate_bias"]
        family = "plain" if bias is None else f"highway, b_T = {bias:g}"
        families.setdefault(family, []).append((model["depth"], 100 * model["final_train_error"]))
    for family, points in families.items():
        depths, errors = zip(*sorted(points))
        ax.plot(depths, errors, marker="o", label=family)
    ax.set_xscale("log")
    ax.set_xticks(sorted({m["depth"] for m in record["models"].values()}))
    ax.set_xticklabels([str(t) for t in ax.get_xticks()])
    ax.set_xlabel("layers (highway or plain, log scale)")
    ax.set_ylabel("training error after the last epoch (%)")
    ax.set_title(f"Depth sweep\n{short_dataset(record['dataset'])}", fontsize="medium")
    ax.legend(fontsize="small")
    return fig


EXPERIMENT = register(
    Experiment(
        name="highway_depth",
        lesson="05_highway",
        claim="plain MLPs train worse as they get deeper (10 to 100 layers); highway MLPs whose "
        "gates start closed enough do not (Srivastava et al. 2015, Fig. 1)",
        configs={
            "quick": dict(depths=PAPER_DEPTHS, gate_bias=-4.0, bias_sweep=(-2.0,),
                          bias_depth=50, dataset="digits", epochs=8, batch_size=64,
                          learning_rate=0.01),
            "full": dict(depths=PAPER_DEPTHS, gate_bias=-4.0, bias_sweep=(-1.0, -2.0, -3.0, -6.0),
                         bias_depth=100, dataset="fashion_mnist", epochs=40, batch_size=128,
                         learning_rate=0.01),
        },
        run=run,
        figures=figures,
    )
)
