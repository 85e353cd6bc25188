"""Figures of every block the course teaches, drawn by code in one style (matplotlib only).

Each function returns a ``matplotlib.figure.Figure`` of one block, drawn as in its paper: weight
layers blue, normalizations yellow, nonlinearities green, shortcuts red, "+" an addition, "×" a
product, "C" a concatenation. The lessons show them as SVG files committed under
``lessons/figures/`` so that they appear on GitHub without running anything; regenerate them with
``python -m reslib.diagrams lessons/figures`` (``save_all``), which writes the same bytes on the
same matplotlib version.

==================  ======  ==========================================================
figure              lesson  paper
==================  ======  ==========================================================
``residual_block``  01      He et al. 2016a, Fig. 2 and eq. (2): identity and projection
``unraveled``       02      Veit et al. 2016, Fig. 1: a ResNet as 2^n paths
``preactivation``   03      He et al. 2016b, Fig. 1 and 4: post- vs full pre-activation
``bottleneck``      03      He et al. 2016a, Fig. 5: basic vs bottleneck block
``dense_block``     04      Huang et al. 2017, Fig. 1 and 2: dense block and transition
``highway``         05      Srivastava et al. 2015: the transform and carry gates
``transformer_ln``  06      Xiong et al. 2020, Fig. 1: Post-LN vs Pre-LN block
``unet``            07      Ronneberger et al. 2015, Fig. 1: encoder-decoder skips
==================  ======  ==========================================================
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from reslib.diagrams._canvas import BOX_WIDTH, Canvas, Node
from reslib.diagrams._networks import dense_block, highway, unet, unraveled

__all__ = ["FIGURES", "LESSONS", "bottleneck", "dense_block", "highway", "preactivation",
           "residual_block", "save_all", "transformer_ln", "unet", "unraveled"]

Step = tuple[str, str]
CONV, BN, RELU = "weight", "norm", "act"
TITLE_Y = 0.3


def _panel(canvas: Canvas, x: float, title: str, steps: Sequence[Step]) -> list[Node]:
    """One column of a block under a bold title, top to bottom."""
    canvas.text(x, TITLE_Y, title, weight="bold")
    return canvas.column(x, 0.0, steps)


def residual_block() -> Any:
    """The basic residual block with an identity and with a projection shortcut.

    He et al. 2016a, Fig. 2 (``y = F(x) + x``) and eq. (2) (``y = F(x) + W_s x`` when the block
    halves the resolution and doubles the channels), with batch norm after each convolution and
    the ReLU after the addition (section 3.4). Lesson 01.
    """
    canvas = Canvas()
    variants = (
        (0.0, "(a) identity shortcut: C channels in and out", "conv 3×3", "identity $x$", (),
         r"$\mathrm{ReLU}(F(x) + x)$"),
        (4.0, "(b) projection shortcut: C → 2C channels, stride 2", "conv 3×3, stride 2",
         "$W_s x$", (("conv 1×1, stride 2", CONV), ("BN", BN)),
         r"$\mathrm{ReLU}(F(x) + W_s x)$"),
    )
    for x, title, first, label, projection, output in variants:
        nodes = _panel(canvas, x, title, [
            ("$x$", "io"), (first, CONV), ("BN", BN), ("ReLU", RELU), ("conv 3×3", CONV),
            ("BN", BN), ("+", "op"), ("ReLU", RELU), (output, "io")])
        canvas.shortcut(nodes[0], nodes[6], 1.05 if not projection else 1.6, label, projection)
        canvas.bracket(x - BOX_WIDTH / 2 - 0.3, nodes[1].top[1], nodes[5].bottom[1], "$F(x)$")
    return canvas.figure()


def preactivation() -> Any:
    """The original (post-activation) residual unit and the full pre-activation unit.

    He et al. 2016b, Fig. 1 and Fig. 4(a)/(e): moving BN and ReLU in front of each weight layer
    leaves nothing on the path from ``x_l`` to ``x_{l+1}`` but the addition. Lesson 03.
    """
    canvas = Canvas()
    panels = (
        (0.0, "(a) original: post-activation",
         [(r"$x_l$", "io"), ("conv 3×3", CONV), ("BN", BN), ("ReLU", RELU), ("conv 3×3", CONV),
          ("BN", BN), ("+", "op"), ("ReLU", RELU), (r"$x_{l+1}$", "io")],
         r"$x_{l+1} = \mathrm{ReLU}(x_l + F(x_l))$"),
        (3.4, "(b) full pre-activation",
         [(r"$x_l$", "io"), ("BN", BN), ("ReLU", RELU), ("conv 3×3", CONV), ("BN", BN),
          ("ReLU", RELU), ("conv 3×3", CONV), ("+", "op"), (r"$x_{l+1}$", "io")],
         r"$x_{l+1} = x_l + F(x_l)$"),
    )
    for x, title, steps, equation in panels:
        nodes = _panel(canvas, x, title, steps)
        add = next(index for index, (text, kind) in enumerate(steps) if kind == "op")
        canvas.shortcut(nodes[0], nodes[add], 1.05, "identity")
        canvas.text(x, nodes[-1].bottom[1] - 0.25, equation)
    return canvas.figure()


def bottleneck() -> Any:
    """The basic block on 64 channels beside the bottleneck block on 256 channels.

    He et al. 2016a, Fig. 5: 1×1 convolutions reduce 256 channels to 64 and restore them, so the
    bottleneck block has about the weights of a basic block on four times fewer channels.
    Lesson 03.
    """
    canvas = Canvas()
    panels = (
        (0.0, "(a) basic block, 64-d", [
            ("64-d", "io"), ("conv 3×3, 64", CONV), ("BN", BN), ("ReLU", RELU),
            ("conv 3×3, 64", CONV), ("BN", BN)],
         "weights: 2·(3·3·64·64) = 73,728"),
        (3.6, "(b) bottleneck block, 256-d", [
            ("256-d", "io"), ("conv 1×1, 64", CONV), ("BN", BN), ("ReLU", RELU),
            ("conv 3×3, 64", CONV), ("BN", BN), ("ReLU", RELU), ("conv 1×1, 256", CONV),
            ("BN", BN)],
         "weights: 256·64 + 3·3·64·64 + 64·256 = 69,632"),
    )
    for x, title, steps, cost in panels:
        nodes = _panel(canvas, x, title, [*steps, ("+", "op"), ("ReLU", RELU), steps[0]])
        canvas.shortcut(nodes[0], nodes[-3], 1.05, "identity")
        canvas.text(x, nodes[-1].bottom[1] - 0.25, cost)
    return canvas.figure()


def transformer_ln() -> Any:
    """The Post-LN and the Pre-LN transformer block.

    Xiong et al. 2020, Fig. 1: Post-LN normalizes after each residual addition (the original
    Transformer), so the shortcut passes through layer norm; Pre-LN normalizes inside the branch,
    leaving the residual stream a sum, with one final layer norm after the last block. Lesson 06.
    """
    canvas = Canvas()
    attention, ffn = ("multi-head attention", CONV), ("FFN: dense, ReLU, dense", CONV)
    layer_norm = ("LayerNorm", BN)
    panels = (
        (0.0, "(a) Post-LN", [(r"$x_l$", "io"), attention, ("+", "op"), layer_norm, ffn,
                              ("+", "op"), layer_norm, (r"$x_{l+1}$", "io")],
         ((0, 2), (3, 5)), "every addition is followed by a LayerNorm"),
        (3.8, "(b) Pre-LN", [(r"$x_l$", "io"), layer_norm, attention, ("+", "op"), layer_norm,
                             ffn, ("+", "op"), (r"$x_{l+1}$", "io")],
         ((0, 3), (3, 6)),
         "shortcuts meet only additions;\none more LayerNorm after the last block"),
    )
    for x, title, steps, shortcuts, note in panels:
        nodes = _panel(canvas, x, title, steps)
        for start, end in shortcuts:
            canvas.shortcut(nodes[start], nodes[end], 1.25)
        canvas.text(x, nodes[-1].bottom[1] - 0.3, note)
    return canvas.figure()


FIGURES: dict[str, Callable[[], Any]] = {
    "residual_block": residual_block, "unraveled": unraveled, "preactivation": preactivation,
    "bottleneck": bottleneck, "dense_block": dense_block, "highway": highway,
    "transformer_ln": transformer_ln, "unet": unet,
}
"""Every figure by its file name (``lessons/figures/<name>.svg``)."""

LESSONS: dict[str, tuple[str, ...]] = {
    "01_degradation": ("residual_block",), "02_residual_math": ("unraveled",),
    "03_bottleneck_preact": ("bottleneck", "preactivation"), "04_densenet": ("dense_block",),
    "05_highway": ("highway",), "06_transformer": ("transformer_ln",),
    "07_skips_elsewhere": ("unet",),
}
"""The figures each lesson shows, by the lesson notebook's name."""

SVG_SETTINGS = {"svg.hashsalt": "reslib.diagrams", "svg.fonttype": "path", "font.size": 9}
"""Fixed ids (``hashsalt``) and text drawn as paths, so the SVG is the same on every machine."""


def save_all(directory: str | Path, names: Sequence[str] | None = None,
             format: str = "svg") -> list[Path]:
    """Draw the figures ``names`` (default: all) into ``directory`` as ``<name>.<format>``.

    SVGs carry no date, so the same matplotlib version writes the same bytes. Returns the paths.
    """
    import matplotlib

    unknown = sorted(set(names or ()) - set(FIGURES))
    if unknown:
        raise ValueError(f"`names` has unknown figures {unknown}; they are {sorted(FIGURES)}.")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    with matplotlib.rc_context(SVG_SETTINGS):
        for name in names or FIGURES:
            path = directory / f"{name}.{format}"
            metadata = {"Date": None} if format == "svg" else None
            FIGURES[name]().savefig(path, format=format, metadata=metadata)
            paths.append(path)
    return paths
