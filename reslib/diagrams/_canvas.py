"""The drawing primitives of ``reslib.diagrams``: boxes, "+" nodes and arrows, measured in inches.

A ``Canvas`` is one matplotlib figure whose data units are inches, so every diagram of the course
has the same font, box and arrow sizes whatever its extent; the figure is sized to what was drawn.
Colours say what a box is: a weight layer (blue), a normalization (yellow), a nonlinearity (green)
or anything else (grey); shortcuts are drawn in red, the main path in black.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

FONT_SIZE = 9
CHAR_WIDTH = 0.07  # inches per character at FONT_SIZE, to size boxes and the figure
BOX_WIDTH, BOX_HEIGHT, GAP = 1.45, 0.3, 0.2
OP_RADIUS = 0.11
MARGIN = 0.15
MAIN, SKIP = "#222222", "#b03a2e"
KINDS = {  # fill, edge
    "weight": ("#dbe9f6", "#2b5d8a"),
    "norm": ("#fdf0c8", "#9a7b1c"),
    "act": ("#dff0d8", "#3c763d"),
    "other": ("#eeeeee", "#555555"),
}
Point = tuple[float, float]


@dataclass(frozen=True)
class Node:
    """A drawn box, operator circle or label: its centre and size (inches)."""

    x: float
    y: float
    w: float
    h: float

    @property
    def top(self) -> Point:
        return (self.x, self.y + self.h / 2)

    @property
    def bottom(self) -> Point:
        return (self.x, self.y - self.h / 2)

    @property
    def left(self) -> Point:
        return (self.x - self.w / 2, self.y)

    @property
    def right(self) -> Point:
        return (self.x + self.w / 2, self.y)


class Canvas:
    """One diagram: draw on it with the methods below, then ``figure()`` sizes and returns it."""

    def __init__(self) -> None:
        import matplotlib.pyplot as plt

        self.fig = plt.figure()
        plt.close(self.fig)
        self.ax = self.fig.add_axes((0.0, 0.0, 1.0, 1.0))
        self.ax.set_axis_off()
        self._xs: list[float] = []
        self._ys: list[float] = []

    def _extend(self, x: float, y: float, w: float = 0.0, h: float = 0.0) -> None:
        self._xs += [x - w / 2, x + w / 2]
        self._ys += [y - h / 2, y + h / 2]

    @staticmethod
    def width(text: str, size: float = FONT_SIZE) -> float:
        """About how wide ``text`` is drawn, in inches (mathtext markup not counted)."""
        plain = re.sub(r"\\[a-z]+|[${}_^]", "", text)
        return CHAR_WIDTH * max(len(line) for line in plain.split("\n")) * size / FONT_SIZE

    def text(self, x: float, y: float, text: str, ha: str = "center", size: float = FONT_SIZE,
             **kwargs: Any) -> Node:
        """Text without a box; ``ha`` is where ``x`` lies ("left", "center", "right")."""
        width = self.width(text, size)
        centre = {"left": x + width / 2, "center": x, "right": x - width / 2}[ha]
        self.ax.text(x, y, text, ha=ha, va="center", fontsize=size, **kwargs)
        height = 0.2 * (text.count("\n") + 1) * size / FONT_SIZE
        self._extend(centre, y, width, height)
        return Node(centre, y, width, height)

    def box(self, x: float, y: float, text: str, kind: str = "weight",
            w: float = BOX_WIDTH, h: float = BOX_HEIGHT) -> Node:
        """A rounded box of one of ``KINDS``, its text centred."""
        from matplotlib.patches import FancyBboxPatch

        fill, edge = KINDS[kind]
        w = max(w, self.width(text) + 0.2)
        self.ax.add_patch(FancyBboxPatch(
            (x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0,rounding_size=0.05",
            facecolor=fill, edgecolor=edge, linewidth=1.0))
        self.text(x, y, text)
        self._extend(x, y, w, h)
        return Node(x, y, w, h)

    def op(self, x: float, y: float, symbol: str = "+") -> Node:
        """An operator circle: "+" (addition), "×" (product) or "C" (concatenation)."""
        from matplotlib.patches import Circle

        self.ax.add_patch(Circle((x, y), OP_RADIUS, facecolor="white", edgecolor=MAIN, lw=1.1))
        self.ax.text(x, y, symbol, ha="center", va="center_baseline", fontsize=FONT_SIZE + 2)
        self._extend(x, y, 2 * OP_RADIUS, 2 * OP_RADIUS)
        return Node(x, y, 2 * OP_RADIUS, 2 * OP_RADIUS)

    def rect(self, x: float, y: float, w: float, h: float, fill: str) -> Node:
        """A plain rectangle (a feature map in the U-Net figure)."""
        from matplotlib.patches import Rectangle

        self.ax.add_patch(Rectangle((x - w / 2, y - h / 2), w, h, facecolor=fill,
                                    edgecolor=KINDS["weight"][1], linewidth=0.8))
        self._extend(x, y, w, h)
        return Node(x, y, w, h)

    def route(self, points: Sequence[Point], color: str = MAIN, arrow: bool = True,
              width: float = 1.1, **kwargs: Any) -> None:
        """A polyline through ``points``, with an arrow head at its end when ``arrow``."""
        from matplotlib.patches import FancyArrowPatch
        from matplotlib.path import Path

        self.ax.add_patch(FancyArrowPatch(
            path=Path(list(points)), arrowstyle="-|>" if arrow else "-", mutation_scale=9,
            color=color, linewidth=width, shrinkA=0, shrinkB=0, joinstyle="miter", **kwargs))
        for x, y in points:
            self._extend(x, y)

    def arch(self, start: Point, end: Point, height: float, color: str) -> None:
        """An arch that leaves ``start`` straight up and comes down into ``end`` from above."""
        from matplotlib.patches import FancyArrowPatch
        from matplotlib.path import Path

        top = max(start[1], end[1]) + height
        path = Path([start, (start[0], top), (end[0], top), end],
                    [Path.MOVETO, Path.CURVE4, Path.CURVE4, Path.CURVE4])
        self.ax.add_patch(FancyArrowPatch(path=path, arrowstyle="-|>", mutation_scale=9,
                                          color=color, linewidth=1.0, shrinkA=0, shrinkB=0,
                                          label="arch"))
        self._extend((start[0] + end[0]) / 2, max(start[1], end[1]) + 0.75 * height)

    def dot(self, x: float, y: float, color: str = MAIN) -> None:
        """A split point, where one output feeds several paths."""
        self.ax.plot([x], [y], marker="o", markersize=3.5, color=color)

    def column(self, x: float, y: float, steps: Iterable[tuple[str, str]]) -> list[Node]:
        """Draw ``steps`` top to bottom from ``y``, each one's arrow into the next.

        A step is ``(text, kind)``: a box of a ``KINDS`` kind, ``"op"`` (text is the symbol) or
        ``"io"`` (a bare label, such as an input ``x``).
        """
        nodes: list[Node] = []
        for text, kind in steps:
            height = {"op": 2 * OP_RADIUS, "io": 0.2}.get(kind, BOX_HEIGHT)
            centre = y - height / 2 if not nodes else nodes[-1].bottom[1] - GAP - height / 2
            if kind == "op":
                node = self.op(x, centre, text)
            elif kind == "io":
                node = self.text(x, centre, text)
            else:
                node = self.box(x, centre, text, kind)
            if nodes:
                self.route([nodes[-1].bottom, node.top])
            nodes.append(node)
        return nodes

    def shortcut(self, start: Node, end: Node, dx: float, label: str = "",
                 boxes: Sequence[tuple[str, str]] = ()) -> None:
        """A shortcut from just below ``start`` around the column into ``end``'s side.

        It leaves from a split point ``GAP / 2`` below ``start``, runs ``dx`` inches sideways
        (negative: to the left), down (through ``boxes``, e.g. a projection) and into ``end``.
        """
        split = (start.x, start.bottom[1] - GAP / 2)
        self.dot(*split, color=SKIP)
        side = end.right if dx > 0 else end.left
        x = start.x + dx
        points = [split, (x, split[1])]
        if boxes:
            room = (split[1] - end.y) / (len(boxes) + 1)
            for index, (text, kind) in enumerate(boxes):
                node = self.box(x, split[1] - room * (index + 1), text, kind, w=1.25)
                self.route(points + [node.top], color=SKIP)
                points = [node.bottom]
        self.route(points + [(x, end.y), side], color=SKIP)
        if label:
            mid = (split[1] + end.y) / 2 if not boxes else end.y + 0.3
            self.text(x + 0.08 * (1 if dx > 0 else -1), mid, label, color=SKIP,
                      ha="left" if dx > 0 else "right")

    def bracket(self, x: float, top: float, bottom: float, label: str) -> None:
        """A bracket to the left of ``x`` spanning ``top``..``bottom``, labelled on its left."""
        self.route([(x + 0.06, top), (x, top), (x, bottom), (x + 0.06, bottom)], arrow=False,
                   width=0.8, color="#666666")
        self.text(x - 0.06, (top + bottom) / 2, label, ha="right", color="#444444")

    def figure(self) -> Any:
        """Size the figure to what was drawn (1 data unit = 1 inch) and return it."""
        left, right = min(self._xs) - MARGIN, max(self._xs) + MARGIN
        bottom, top = min(self._ys) - MARGIN, max(self._ys) + MARGIN
        self.fig.set_size_inches(right - left, top - bottom)
        self.ax.set_xlim(left, right)
        self.ax.set_ylim(bottom, top)
        return self.fig
