"""The course's standard figures, drawn with matplotlib from the results of ``reslib.diagnostics``.

Every function returns a ``matplotlib.figure.Figure``: return it from a notebook cell to show
it, or ``fig.savefig("name.png")``. matplotlib is imported only when a function is called, and
no global style (``rcParams``) is changed; the figure is closed in pyplot right away, so it is
neither shown twice in a notebook nor kept open. Axes carry their units, and titles name the
dataset where the caller passes ``dataset`` (or the result carries one).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

#: The colour cycle of the course's figures (matplotlib's "tab10" order), one per model.
COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")
SPLITS = {"train": ("--", 1.2), "test": ("-", 2.2)}  # He et al. 2016a: dashed train, bold test


def _figure(width: float = 6.4, height: float = 4.0) -> Any:
    """A new figure with one axes, already closed in pyplot (returned, not shown)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(width, height), layout="constrained")
    plt.close(fig)
    return fig, ax


_DESCRIPTION = re.compile(r"^(?P<name>.+?) (?P<split>train|test), (?P<size>[\d,]+) images"
                          r"(?: \([^()]*\))?(?P<rest>.*)$")


def short_dataset(description: str, limit: int = 60) -> str:
    """A dataset's name and size for a figure title, without where it was read from.

    ``reslib.data``'s descriptions name their source (a local path, a download), which is worth
    printing once but too long for a title: ``"CIFAR-10 train, 1,000 images (local copy /data/...,
    first 1,000)"`` becomes ``"CIFAR-10, 1,000 train images"``. Anything added after the source
    (``", centre 16x16 crops"``) is kept; other text is cut before its first parenthesis and
    shortened to ``limit`` characters.
    """
    match = _DESCRIPTION.match(description)
    if match:
        short = f"{match['name']}, {match['size']} {match['split']} images{match['rest']}"
    else:
        short = description.split(" (")[0]
    return short if len(short) <= limit else short[: limit - 1].rstrip() + "…"


def _title(text: str, dataset: str | None) -> str:
    return f"{text}\n{short_dataset(dataset)}" if dataset else text


def _check_labels(items: Sequence[Any], labels: Sequence[str], what: str) -> None:
    """``what`` names the items in the plural ("histories")."""
    if len(items) != len(labels):
        raise ValueError(
            f"Give one label each: got {len(items)} {what} and {len(labels)} labels "
            f"({list(labels)!r})."
        )


def training_curves(
    histories: Sequence[Mapping[str, Sequence[float]]],
    labels: Sequence[str],
    metric: str = "error",
    dataset: str | None = None,
) -> Any:
    """Training and test curves of several models: He et al. 2016a, Fig. 1, 4 and 6.

    As in the paper, dashed thin lines are training curves and solid bold lines test curves;
    each model (e.g. plain-20, plain-56, ResNet-20, ResNet-56) gets one colour, named in a legend
    beside the axes. Losses are drawn on a log axis, so that one diverging epoch (a first-epoch
    loss of 1e6) does not flatten every other curve.

    Args:
        histories: one dict per model with per-epoch lists ``"train_<metric>"`` and/or
            ``"test_<metric>"``, e.g. ``{"train_error": [...], "test_error": [...]}``. Errors
            are fractions in [0, 1] and are drawn in percent.
        labels: one name per model, for the legend.
        metric: ``"error"`` (drawn in %), ``"loss"``, or any key suffix the histories hold.
        dataset: named in the title, e.g. ``"CIFAR-10, 10,000 training images"``.
    """
    _check_labels(histories, labels, "histories")
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    fig, ax = _figure(7.2, 4.0)
    scale = 100.0 if metric == "error" else 1.0
    drawn, handles, smallest = 0, [], np.inf
    for index, (history, label) in enumerate(zip(histories, labels)):
        color = COLORS[index % len(COLORS)]
        for split, (style, width) in SPLITS.items():
            values = history.get(f"{split}_{metric}")
            if values is None:
                continue
            values = scale * np.asarray(values, dtype=float)
            smallest = min(smallest, np.nanmin(values, initial=np.inf))
            ax.plot(np.arange(1, len(values) + 1), values, linestyle=style, linewidth=width,
                    color=color, label=f"{label} ({split})")
            drawn += 1
        handles.append(Line2D([], [], color=color, linewidth=2.2, label=label))
    if not drawn:
        raise ValueError(
            f"No history holds 'train_{metric}' or 'test_{metric}'; their keys are "
            f"{sorted({key for history in histories for key in history})}."
        )
    log = metric == "loss" and smallest > 0
    if log:
        ax.set_yscale("log")
    handles += [Line2D([], [], color="black", linestyle=style, linewidth=width, label=split)
                for split, (style, width) in SPLITS.items()]
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("error (%)" if metric == "error" else metric + (" (log scale)" if log else ""))
    ax.set_title(_title(f"Training (dashed) and test (bold) {metric}", dataset))
    ax.legend(handles=handles, fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def gradient_norms_by_depth(
    results: Sequence[Any],
    labels: Sequence[str],
    kind: str = "weights",
    dataset: str | None = None,
) -> Any:
    """Gradient norm against depth, log scale, one line per model (lesson 02).

    Args:
        results: ``GradientNorms`` from ``reslib.diagnostics.gradient_norms`` (select the
            blocks first with ``result.select("BasicBlock")`` to plot blocks only).
        labels: one name per result.
        kind: ``"weights"`` (``||dL/dW||`` of each layer) or ``"activations"`` (``||dL/dx||``
            at each layer's input). Layers without a value (NaN) are left out.
        dataset: named in the title.
    """
    _check_labels(results, labels, "results")
    if kind not in ("weights", "activations"):
        raise ValueError(f"`kind` must be 'weights' or 'activations'; got {kind!r}.")
    fig, ax = _figure()
    for index, (result, label) in enumerate(zip(results, labels)):
        values = np.asarray(getattr(result, kind), dtype=float)
        depth = np.arange(1, len(values) + 1)
        keep = np.isfinite(values) & (values > 0)
        ax.plot(depth[keep], values[keep], marker="o", markersize=3,
                color=COLORS[index % len(COLORS)], label=label)
    ax.set_yscale("log")
    ax.set_xlabel("layer (1 = nearest the input)")
    symbol = "||dL/dW||" if kind == "weights" else "||dL/dx||"
    ax.set_ylabel(f"gradient norm {symbol} (log scale)")
    ax.set_title(_title(f"Gradient norm by depth ({kind})", dataset))
    ax.legend(fontsize="small")
    return fig


def lesion_bars(result: Any, dataset: str | None = None) -> Any:
    """Error after deleting each block, with the intact model's error: Veit et al. 2016, Fig. 3.

    Args:
        result: a ``LesionResult`` from ``reslib.diagnostics.lesion_study``. Its errors are
            drawn in percent (its losses when the model is not a classifier).
        dataset: named in the title (default: the result's ``dataset``).
    """
    dataset = dataset or getattr(result, "dataset", None)
    errors = np.asarray(result.errors, dtype=float)
    use_error = errors.size == 0 or np.all(np.isfinite(errors))
    values = 100.0 * errors if use_error else np.asarray(result.losses, dtype=float)
    baseline = 100.0 * result.baseline_error if use_error else result.baseline_loss
    fig, ax = _figure(max(4.0, 0.5 * len(values) + 2.0), 4.0)
    positions = np.arange(len(values))
    ax.bar(positions, values, color=COLORS[0], label="one block deleted")
    ax.axhline(baseline, color="black", linestyle="--", label="intact model")
    ax.set_xticks(positions)
    ax.set_xticklabels(result.blocks, rotation=60, ha="right", fontsize="small")
    ax.set_xlabel("deleted block")
    ax.set_ylabel("error (%)" if use_error else "loss")
    ax.set_title(_title("Deleting one block at a time", dataset))
    ax.legend(fontsize="small")
    return fig


def gate_heatmap(stats: Any, dataset: str | None = None) -> Any:
    """Mean transform gate of every unit of every highway layer: Srivastava et al. 2015, Fig. 2.

    Args:
        stats: ``GateStatistics`` from ``reslib.diagnostics.gate_statistics``.
        dataset: named in the title (default: the statistics' ``dataset``).
    """
    dataset = dataset or getattr(stats, "dataset", None)
    per_unit = np.asarray(stats.per_unit, dtype=float)
    fig, ax = _figure(6.4, max(3.0, 0.25 * len(per_unit) + 1.5))
    layers, units = per_unit.shape
    image = ax.imshow(per_unit, aspect="auto", vmin=0.0, vmax=1.0, cmap="viridis",
                      interpolation="nearest", extent=(-0.5, units - 0.5, layers + 0.5, 0.5))
    fig.colorbar(image, ax=ax, label="mean transform gate T(x), in (0, 1)")
    ax.set_xlabel("unit (channel)")
    ax.set_ylabel("highway layer (1 = nearest the input)")
    ax.set_title(_title("Transform gate activity", dataset))
    return fig


def landscape(result: Any, dataset: str | None = None) -> Any:
    """A 1-D loss curve or a 2-D contour plot of the loss landscape: Li et al. 2018, Fig. 5.

    Args:
        result: a ``Landscape`` from ``reslib.diagnostics.loss_landscape``.
        dataset: named in the title (default: the result's ``dataset``).
    """
    dataset = dataset or getattr(result, "dataset", None)
    fig, ax = _figure(5.0, 4.0) if result.betas is not None else _figure()
    if result.betas is None:
        ax.plot(result.alphas, result.losses, color=COLORS[0], marker="o", markersize=3)
        ax.set_xlabel("step along the direction, alpha (filter-normalized units)")
        ax.set_ylabel("loss (cross-entropy)")
    else:
        losses = np.asarray(result.losses, dtype=float).T
        finite = losses[np.isfinite(losses)]
        levels: Any = 15  # log-spaced where possible, to resolve the minimum (Li et al. 2018)
        if finite.size and finite.min() > 0 and finite.max() > finite.min():
            levels = np.geomspace(finite.min(), finite.max(), 15)
        contours = ax.contour(result.alphas, result.betas, losses, levels=levels, cmap="viridis")
        ax.clabel(contours, fontsize="x-small", fmt="%.3g")
        ax.set_xlabel("alpha, direction 1 (filter-normalized units)")
        ax.set_ylabel("beta, direction 2 (filter-normalized units)")
    ax.set_title(_title("Loss landscape", dataset))
    return fig


def comparison_table(
    rows: Sequence[Sequence[Any]], columns: Sequence[str], title: str | None = None
) -> Any:
    """A "compare with the paper" table as a figure (matplotlib's table, no pandas).

    Args:
        rows: one sequence of cells per row, e.g. ``["ResNet-56 error", "6.97%", "7.4%",
            "quick mode, 10k images"]``; cells are shown with ``str``.
        columns: the header, one name per cell of a row.
        title: above the table.
    """
    if not rows:
        raise ValueError(f"comparison_table needs at least one row; got rows={rows!r}.")
    for index, row in enumerate(rows):
        if len(row) != len(columns):
            raise ValueError(
                f"Row {index} has {len(row)} cells but there are {len(columns)} columns "
                f"({list(columns)!r}): {list(row)!r}."
            )
    fig, ax = _figure(max(6.0, 1.8 * len(columns)), 0.4 * (len(rows) + 1) + 0.8)
    ax.axis("off")
    table = ax.table(
        cellText=[[str(cell) for cell in row] for row in rows],
        colLabels=list(columns), loc="center", cellLoc="left",
    )
    table.auto_set_font_size(False)
    table.set_fontsize(9)
    table.scale(1.0, 1.3)
    if title:
        ax.set_title(title)
    return fig
