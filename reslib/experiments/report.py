"""What ``python -m reslib run`` shows of a result: a text table and figures saved as PNG.

Works on any experiment's record: the table lists every model's scalar results (parameters,
final errors, ratios ...) and the paper's numbers where the record holds them; the figures are
the experiment's own (``Experiment.figures``) or, by default, training curves of the models that
hold per-epoch histories.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reslib.experiments._registry import EXPERIMENTS

TABLE_KEYS = ("models", "nets", "stacks", "options")
"""Where records keep their per-model results, in the order they are looked for (lesson 07's
experiments name them after what they compare: ``nets``, ``stacks``, ``options``)."""


def per_model_results(record: dict[str, Any]) -> tuple[str, dict[str, dict[str, Any]]]:
    """``(key, {name: results})``: the record's first ``TABLE_KEYS`` entry that maps names to
    dicts of results; ``("", {})`` when it has none."""
    for key in TABLE_KEYS:
        table = record.get(key)
        if isinstance(table, dict) and table and all(isinstance(v, dict) for v in table.values()):
            return key, table
    return "", {}


def summary_rows(record: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """``(columns, rows)``: one row per model with its scalar (number or bool) results."""
    _, models = per_model_results(record)
    if not models:
        return [], []
    scalars = [
        key for key in dict.fromkeys(k for m in models.values() for k in m)
        if all(_is_scalar(m.get(key)) for m in models.values() if key in m)
    ]
    rows = [[name, *(_format(model.get(key)) for key in scalars)] for name, model in models.items()]
    return ["model", *scalars], rows


def format_table(columns: list[str], rows: list[list[str]]) -> str:
    """A plain-text table with aligned columns."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(columns, *rows)]
    lines = [columns, ["-" * width for width in widths], *rows]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(line, widths)) for line in lines)


def run_label(record: dict[str, Any]) -> str:
    """``"full mode with epochs=20 on gpu (jax), 129 s"``: what kind of run a record is.

    A run whose config was changed (``--set``) says so, so that a shortened run is never read
    as the unmodified mode.
    """
    overrides = record.get("overrides") or {}
    changed = ", ".join(f"{key}={value}" for key, value in overrides.items())
    environment = record.get("environment", {})
    where = f"{environment.get('accelerator', '?')} ({environment.get('backend', '?')})"
    label = ("partial " if record.get("partial") else "") + f"{record['mode']} mode"
    label += f" with {changed}" if changed else ""
    return f"{label} on {where}, {record['wall_time_s']:.0f} s"


def stored_run_caption(record: dict[str, Any]) -> str:
    """What a lesson prints above a stored run: its label, data and its note, in full.

    A stored run can be shortened (``--set``), partial, or made before a fix; its note says
    so, and a reader must see it next to the curves.
    """
    lines = [f"stored run: {run_label(record)}", f"data: {record.get('dataset', 'not recorded')}"]
    if record.get("note"):
        lines.append(f"note: {record['note']}")
    return "\n".join(lines)


def text_report(record: dict[str, Any]) -> str:
    """The claim, whether it held, the data, the per-model table and the paper's numbers."""
    lines = [
        f"{record['experiment']} ({run_label(record)}, lesson {record['lesson']})",
        f"claim: {record['claim']}",
        f"holds in this run: {'yes' if record.get('claim_holds') else 'NO'}",
        f"data: {record.get('dataset', 'not recorded')}",
    ]
    if record.get("note"):
        lines.append(f"note: {record['note']}")
    key, _ = per_model_results(record)
    columns, rows = summary_rows(record)
    if rows:
        lines += ["", f"{key}:", format_table(columns, rows)]
    paper = {k: v for k, v in record.items() if k.startswith("paper")}
    for key, value in paper.items():
        lines += ["", f"{key}: {value}"]
    return "\n".join(lines)


def save_figures(record: dict[str, Any], out: str | Path) -> list[Path]:
    """Save the record's figures as ``<out>/<experiment>-<mode>-<figure>.png``; return the paths."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    experiment = EXPERIMENTS.get(record["experiment"])
    if experiment is not None and experiment.figures is not None:
        figures = experiment.figures(record)
    else:
        figures = default_figures(record)
    paths = []
    for name, figure in figures.items():
        path = Path(out) / f"{record['experiment']}-{record['mode']}-{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(figure)
        paths.append(path)
    return paths


def default_figures(record: dict[str, Any]) -> dict[str, Any]:
    """Training curves (error and loss) of the models that hold per-epoch histories."""
    from reslib.plots import training_curves

    _, models = per_model_results(record)
    trained = {name: m for name, m in models.items() if m.get("train_loss")}
    if not trained:
        return {}
    figures = {}
    for metric in ("error", "loss"):
        if all(f"train_{metric}" in m for m in trained.values()):
            figures[f"training-{metric}"] = training_curves(
                list(trained.values()), list(trained), metric=metric,
                dataset=record.get("dataset"),
            )
    return figures


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (int, float, bool)) or value is None


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)
