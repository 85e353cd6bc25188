"""The figures of ``reslib.diagrams`` that are not one column of layers: highway gates, a dense
block, U-Net and the unraveled view of a ResNet."""

from __future__ import annotations

from typing import Any

from reslib.diagrams._canvas import MAIN, SKIP, Canvas, Node

SOURCES = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b")  # one per dense-block input


def highway() -> Any:
    """A highway layer: ``y = H(x)·T(x) + x·(1 − T(x))``.

    Srivastava et al. 2015 (Highway Networks), eq. (2)-(3): ``H`` is an affine transform with a
    nonlinearity, the transform gate ``T(x) = σ(W_T x + b_T)``, and the carry gate ``1 − T``; a
    negative gate bias ``b_T`` makes every layer start close to carrying ``x``. Lesson 05.
    """
    canvas = Canvas()
    canvas.text(0.0, 0.3, r"highway layer: $y = H(x)\,T(x) + x\,(1 - T(x))$", weight="bold")
    source = canvas.text(0.0, 0.0, "$x$")
    split = (0.0, source.bottom[1] - 0.12)
    canvas.dot(*split)
    columns = {"H": -1.9, "T": 0.0}
    outputs = {}
    for name, x in columns.items():
        affine = canvas.box(x, -0.7, f"affine: $W_{name} x + b_{name}$", "weight")
        act = canvas.box(x, -1.2, "ReLU" if name == "H" else "sigmoid", "act")
        canvas.route([split, (x, split[1]), affine.top])
        canvas.route([affine.bottom, act.top])
        outputs[name] = act
    transform, carry = canvas.op(-1.9, -2.2, "×"), canvas.op(1.9, -2.2, "×")
    canvas.route([outputs["H"].bottom, transform.top])
    canvas.text(-1.82, -1.62, "$H(x)$", ha="left")
    gate = (0.0, -1.6)
    canvas.route([outputs["T"].bottom, gate], arrow=False)
    canvas.dot(*gate)
    canvas.text(0.08, -1.45, "$T(x)$", ha="left")
    canvas.route([gate, (-0.95, gate[1]), (-0.95, transform.y), transform.right])
    one_minus = canvas.box(0.95, -2.2, "$1 - T(x)$", "other", w=0.8)
    canvas.route([gate, (0.95, gate[1]), one_minus.top])
    canvas.route([one_minus.right, carry.left])
    canvas.route([split, (carry.x, split[1]), carry.top], color=SKIP)
    canvas.text(carry.x + 0.08, -1.2, "carry: $x$", ha="left", color=SKIP)
    total = canvas.op(0.0, -2.85, "+")
    for node, side in ((transform, total.left), (carry, total.right)):
        canvas.route([node.bottom, (node.x, total.y), side])
    output = canvas.text(0.0, -3.3, "$y$")
    canvas.route([total.bottom, output.top])
    canvas.text(0.0, -3.65, "gate bias $b_T$ starts negative (e.g. −1 to −3): at first "
                "$T(x) \\approx 0$, so $y \\approx x$", size=8)
    return canvas.figure()


def dense_block(layers: int = 4) -> Any:
    """A dense block with growth rate ``k`` and the transition layer after it.

    Huang et al. 2017, Fig. 1 and 2: layer ``ℓ`` (BN, ReLU, 3×3 convolution to ``k`` channels)
    takes the concatenation of the block's input and every earlier layer's output, so its input
    has ``k_0 + (ℓ − 1) k`` channels; the transition (BN, ReLU, 1×1 convolution, 2×2 average
    pooling, as ``reslib.layers.Transition`` and the reference code) joins two blocks. Lesson 04.
    """
    canvas = Canvas()
    start = canvas.text(0.0, 0.0, "$x_0$")
    canvas.text(0.0, -0.32, "$k_0$", size=8)
    splits: list[tuple[float, float]] = []
    previous: Node = start
    x = start.right[0] + 0.35
    for layer in range(1, layers + 2):
        splits.append((x, 0.0))
        if layer <= layers:  # the last output reaches only the final concatenation
            canvas.dot(x, 0.0, SOURCES[(layer - 1) % len(SOURCES)])
        if layer > 1:
            concat = canvas.op(x + 0.45, 0.0, "C")
            canvas.route([previous.right, concat.left])
            for source, point in enumerate(splits[:-1]):
                span = concat.x - point[0]
                canvas.arch(point, concat.top, 0.3 + 0.1 * span, SOURCES[source % len(SOURCES)])
            growth = "k" if layer == 2 else f"{layer - 1}k"
            canvas.text(concat.x, -0.32, f"$k_0 + {growth}$", size=8)
            previous, x = concat, concat.right[0]
        if layer > layers:
            break
        box = canvas.box(x + 0.8, 0.0, "BN, ReLU,\nconv 3×3", "weight", w=1.0, h=0.5)
        canvas.text(box.x, -0.4, f"$H_{layer}$")
        canvas.route([(previous.right[0], 0.0), box.left])
        canvas.text(box.right[0] + 0.2, -0.32, "$k$", size=8)
        previous, x = box, box.right[0] + 0.35
    transition = canvas.box(x + 1.05, 0.0, "BN, ReLU, conv 1×1,\navg pool 2×2", "other",
                            w=1.5, h=0.5)
    canvas.text(transition.x, -0.5, "transition:\n"
                r"keeps $\lfloor\theta c\rfloor$ of $c$ channels")
    canvas.route([previous.right, transition.left])
    canvas.text(transition.right[0] + 0.3, 0.0, "next\nblock", ha="left")
    canvas.route([transition.right, (transition.right[0] + 0.25, 0.0)])
    canvas.text(0.0, -0.95, f"a dense block of {layers} layers, growth rate $k$: each layer's "
                "input is the concatenation (C) of the block's input and all earlier outputs",
                ha="left")
    canvas.text(0.0, -1.25, r"DenseNet-B: $H_\ell$ = BN, ReLU, conv 1×1 ($4k$), BN, ReLU, "
                r"conv 3×3 ($k$); DenseNet-BC also compresses, $\theta = 0.5$", ha="left")
    return canvas.figure()


UNET_COLORS = {"conv 3×3, ReLU": "#2b5d8a", "copy and crop": "#888888",
               "max pool 2×2": "#c0392b", "up-conv 2×2": "#2e8b57", "conv 1×1": "#17a2b8"}


def unet(levels: int = 5, step: float = 0.5) -> Any:
    """U-Net: the contracting path, the expanding path and the skips between them.

    Ronneberger et al. 2015, Fig. 1: each level applies two 3×3 convolutions with ReLU; max
    pooling halves the resolution and the channels double (64 to 1024); each up-convolution
    halves the channels, and the encoder's maps of the same resolution are copied, cropped and
    concatenated to it; a 1×1 convolution maps 64 channels to the 2 classes. Lesson 07.
    """
    canvas = Canvas()
    width = 0.12

    def maps(x: float, level: int, channels: str, fill: str = "#dbe9f6", ha: str = "center"
             ) -> Node:
        """A feature map, its channels written above it (beside a vertical arrow: ``ha``)."""
        node = canvas.rect(x, -0.9 * level, width, 0.6 * 0.78**level, fill)
        shift = {"center": 0.0, "left": 0.04, "right": -0.04}[ha]
        canvas.text(x + shift, node.top[1] + 0.09, channels, size=7, ha=ha)
        return node

    def arrow(start: Node, end: Node, kind: str, vertical: bool = False) -> None:
        points = [start.bottom, end.top] if vertical else [start.right, end.left]
        if vertical and end.y > start.y:
            points = [start.top, end.bottom]
        canvas.route(points, color=UNET_COLORS[kind], width=1.4)

    previous, encoder = maps(0.0, 0, "1"), []
    canvas.text(0.0, previous.bottom[1] - 0.12, "input image", size=7)
    for level in range(levels):
        x, channels = 2 * step * level, 64 * 2**level
        if level:
            pooled = maps(x, level, str(channels // 2), ha="right")
            arrow(previous, pooled, "max pool 2×2", vertical=True)
            previous = pooled
        for index in (1, 2):
            last = index == 2 and level == levels - 1  # the bottom's last map goes up
            node = maps(x + index * step, level, str(channels), ha="left" if last else "center")
            arrow(previous, node, "conv 3×3, ReLU")
            previous = node
        encoder.append(previous)
    for level in range(levels - 2, -1, -1):
        channels = 64 * 2**level
        up = maps(previous.x, level, "", fill="#dbe9f6")
        copy = maps(previous.x - width, level, "", fill="white")
        canvas.text(previous.x - width / 2, up.top[1] + 0.09, f"{channels}+{channels}", size=7)
        arrow(previous, up, "up-conv 2×2", vertical=True)
        canvas.route([encoder[level].right, copy.left], color=UNET_COLORS["copy and crop"],
                     width=1.4)
        previous = up
        for index in (1, 2):
            last = index == 2 and level > 0
            node = maps(up.x + index * step, level, str(channels), ha="left" if last else "center")
            arrow(previous, node, "conv 3×3, ReLU")
            previous = node
    output = maps(previous.x + step, 0, "2")
    arrow(previous, output, "conv 1×1")
    canvas.text(output.x, output.bottom[1] - 0.12, "segmentation map", size=7)
    for index, (kind, color) in enumerate(UNET_COLORS.items()):
        y = -0.9 * (levels - 2) - 0.25 * index
        x = 2 * step * (levels + 1) + 0.3
        canvas.route([(x, y), (x + 0.4, y)], color=color, width=1.4)
        canvas.text(x + 0.5, y, kind, ha="left", size=8)
    canvas.text(step * (levels + 1), 0.55, "U-Net: each encoder level is copied to the "
                "decoder level of the same resolution", weight="bold")
    return canvas.figure()


def unraveled(blocks: int = 3, stage: float = 1.3, row: float = 0.36) -> Any:
    """A ResNet of ``blocks`` residual blocks, as one chain and unraveled into ``2^blocks`` paths.

    Veit et al. 2016, Fig. 1: ``y_i = y_{i−1} + f_i(y_{i−1})`` written out is a sum over every
    subset of the blocks, so the data flows along ``2^n`` paths, each of which skips or passes
    through each block; their lengths follow a binomial distribution. Lesson 02.
    """
    canvas = Canvas()
    canvas.text(0.0, 0.75, r"(a) conventional view: $y_i = y_{i-1} + f_i(y_{i-1})$",
                ha="left", weight="bold")
    previous = canvas.text(0.1, 0.0, "$y_0$")
    for block in range(1, blocks + 1):
        split = (previous.right[0] + 0.2, 0.0)
        canvas.route([previous.right, split], arrow=False)
        canvas.dot(*split, color=SKIP)
        box = canvas.box(split[0] + 0.45, 0.0, f"$f_{block}$", "weight", w=0.45)
        total = canvas.op(box.right[0] + 0.4, 0.0, "+")
        canvas.route([split, box.left])
        canvas.route([box.right, total.left])
        canvas.route([split, (split[0], 0.4), (total.x, 0.4), total.top], color=SKIP)
        previous = canvas.text(total.right[0] + 0.3, 0.0, f"$y_{block}$")
        canvas.route([total.right, previous.left])
    top = -0.75
    canvas.text(0.0, top, rf"(b) unraveled view: $y_{blocks}$ sums {2**blocks} paths",
                ha="left", weight="bold")
    leaves = 2**blocks
    first = top - 0.35 - row / 2

    def y_of(prefix: int, depth: int) -> float:  # the mean height of the prefix's leaves
        span = 2 ** (blocks - depth)
        return first - row * (prefix * span + (span - 1) / 2)

    canvas.text(0.1, y_of(0, 0), "$y_0$")
    for depth in range(1, blocks + 1):
        x0, x1 = 0.3 + stage * (depth - 1), 0.3 + stage * depth
        for prefix in range(2 ** (depth - 1)):
            parent = (x0, y_of(prefix, depth - 1))
            canvas.dot(*parent)
            for bit in (0, 1):  # 0: through f (drawn above), 1: the identity
                y = y_of(2 * prefix + bit, depth)
                if bit:
                    canvas.route([parent, (x0, y), (x1, y)], color=SKIP, arrow=False)
                    continue
                box = canvas.box((x0 + x1) / 2, y, f"$f_{depth}$", "weight", w=0.45,
                                 h=min(0.26, row - 0.06))
                canvas.route([parent, (x0, y), box.left])
                canvas.route([box.right, (x1, y)], arrow=False)
    end = 0.3 + stage * blocks
    total = canvas.op(end + 0.55, y_of(0, 0), "+")
    for leaf in range(leaves):
        canvas.route([(end, y_of(leaf, blocks)), (end + 0.25, y_of(leaf, blocks)),
                      (end + 0.25, total.y), total.left], color=MAIN)
    output = canvas.text(total.right[0] + 0.3, total.y, f"$y_{blocks}$")
    canvas.route([total.right, output.left])
    lengths = ", ".join(str(blocks - bin(leaf).count("1")) for leaf in range(leaves))
    canvas.text(0.0, first - row * leaves, f"path lengths (blocks passed through): {lengths}",
                ha="left", size=8)
    return canvas.figure()
