"""Benchmark results, the table ``make bench`` prints, and the JSON record it writes.

Every figure is a ``Result``: the measured value, optionally a reference measured in the same run
(``keras.applications``' model, the fastest configuration, the training step the input pipeline
must keep up with), their ratio, and a ``Goal`` on the value or on the ratio. A result that could
not be measured keeps ``value=None`` and says why in ``note``; its verdict is "n/a", never "pass".
"""

from __future__ import annotations

import json
import math
import operator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

COMPARISONS = {">=": operator.ge, "<=": operator.le}
GOAL_TARGETS = ("ratio", "value")


@dataclass(frozen=True)
class Goal:
    """A threshold on a result's ``value`` or on its ``ratio`` to the reference.

    Example: ``Goal("ratio", ">=", 0.98)`` (at least 98% of the reference's throughput),
    ``Goal("value", "<=", 120, "s")`` (a lesson within two minutes).
    """

    target: str
    comparison: str
    threshold: float
    unit: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        if self.target not in GOAL_TARGETS:
            raise ValueError(f"Goal target must be one of {GOAL_TARGETS}; got {self.target!r}.")
        if self.comparison not in COMPARISONS:
            raise ValueError(
                f"Goal comparison must be one of {tuple(COMPARISONS)}; got {self.comparison!r}."
            )

    def holds(self, value: float | None, ratio: float | None) -> bool | None:
        """Whether the goal is met; ``None`` when what it constrains was not measured."""
        measured = ratio if self.target == "ratio" else value
        if measured is None or math.isnan(measured):
            return None
        return bool(COMPARISONS[self.comparison](measured, self.threshold))

    def __str__(self) -> str:
        unit = "x" if self.target == "ratio" else (f" {self.unit}" if self.unit else "")
        return f"{self.comparison} {_number(self.threshold)}{unit}"


@dataclass
class Result:
    """One row of the table: a measured figure, its reference, their ratio and the verdict.

    ``ratio`` is ``value / reference`` (both in ``unit``). ``details`` holds everything else worth
    keeping in the JSON record (settings, parameter counts, raw window timings).
    """

    section: str
    figure: str
    value: float | None
    unit: str
    reference: float | None = None
    reference_name: str = ""
    goal: Goal | None = None
    note: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.value is None or self.reference is None or not self.reference:
            return None
        return self.value / self.reference

    @property
    def passed(self) -> bool | None:
        return self.goal.holds(self.value, self.ratio) if self.goal else None

    @property
    def verdict(self) -> str:
        """``"pass"``, ``"FAIL"``, ``"n/a"`` (not measured) or ``"-"`` (no goal)."""
        if self.goal is None:
            return "-" if _finite(self.value) is not None else "n/a"
        return {True: "pass", False: "FAIL", None: "n/a"}[self.passed]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the goal as text, the ratio and verdict added, NaN written as null."""
        record = asdict(self)
        record.update(
            value=_finite(self.value),
            reference=_finite(self.reference),
            goal=str(self.goal) if self.goal else None,
            goal_source=self.goal.source if self.goal else None,
            ratio=_finite(self.ratio),
            passed=self.passed,
            verdict=self.verdict,
        )
        return record


COLUMNS = ("figure", "value", "reference", "ratio", "goal", "result")


def _finite(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else value


def _number(value: float | None) -> str:
    """Three significant figures, thousands separated; ``"-"`` for nothing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def table_row(result: Result) -> tuple[str, ...]:
    """The cells of ``result``'s row, as printed."""
    unit = f" {result.unit}" if result.unit else ""
    value = _number(result.value) + unit if result.value is not None else "not measured"
    reference = "-"
    if result.reference is not None:
        reference = f"{_number(result.reference)}{unit}"
        if result.reference_name:
            reference += f" ({result.reference_name})"
    ratio = f"{result.ratio:.3f}x" if result.ratio is not None else "-"
    verdict = result.verdict
    if result.note:
        verdict += f"  [{result.note}]"
    goal = str(result.goal) if result.goal else "-"
    return (result.figure, value, reference, ratio, goal, verdict)


def format_table(results: list[Result]) -> str:
    """A plain-text table, one block per section, columns aligned."""
    rows = [table_row(result) for result in results]
    widths = [
        max([len(name)] + [len(row[i]) for row in rows if i < len(COLUMNS) - 1] or [0])
        for i, name in enumerate(COLUMNS)
    ]
    widths[-1] = len(COLUMNS[-1])

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths)).rstrip()

    lines = [line(COLUMNS), line(tuple("-" * width for width in widths))]
    section = None
    for result, row in zip(results, rows):
        if result.section != section:
            section = result.section
            lines.append(f"[{section}]")
        lines.append(line(row))
    return "\n".join(lines)


def summary(results: list[Result]) -> str:
    """E.g. ``"12 figures: 9 pass, 1 FAIL, 2 not measured or without a goal"``."""
    verdicts = [result.verdict for result in results]
    passed, failed = verdicts.count("pass"), verdicts.count("FAIL")
    rest = len(verdicts) - passed - failed
    return f"{len(verdicts)} figures: {passed} pass, {failed} FAIL, {rest} without a verdict"


def record(results: list[Result], environment: dict[str, Any], settings: dict[str, Any]) -> dict:
    """The JSON document of one run: where and how it ran, then every result."""
    return {
        "schema": 1,
        "environment": environment,
        "settings": settings,
        "summary": summary(results),
        "results": [result.as_dict() for result in results],
    }


def write_record(document: dict, directory: Path, stem: str) -> Path:
    """Write ``document`` to ``directory/stem.json`` (making the directory); return the path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{stem}.json"
    path.write_text(json.dumps(document, indent=1, default=_jsonable) + "\n")
    return path


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
