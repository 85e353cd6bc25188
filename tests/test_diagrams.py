"""Specification of reslib.diagrams: the block figures follow their papers, and the SVGs under
lessons/figures are exactly what the module draws and are shown by the lessons that teach them."""

import re
import xml.etree.ElementTree as ElementTree
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import nbformat  # noqa: E402
import pytest  # noqa: E402

from reslib import diagrams  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ROOT / "lessons" / "figures"
VERSION = re.compile(rb"Matplotlib v([\w.+-]+)")


def columns(fig, at_least=5):
    """The texts of each column (texts sharing one x), left to right, each top to bottom."""
    by_x = defaultdict(list)
    for text in fig.axes[0].texts:
        x, y = text.get_position()
        by_x[round(x, 6)].append((-y, text.get_text()))
    return [[label for _, label in sorted(texts)] for _, texts in sorted(by_x.items())
            if len(texts) >= at_least]


def reads(column, *steps):
    """Whether ``steps`` follow one another, in this order, down ``column``."""
    return " | ".join(steps) in " | ".join(column)


def svg_labels(data: bytes) -> list[str]:
    """The texts of a matplotlib SVG (drawn as paths, each preceded by a comment holding it)."""
    ElementTree.fromstring(data)  # well-formed XML
    assert b'<svg xmlns:xlink="http://www.w3.org/1999/xlink"' in data
    return re.findall(r"<!-- (.*?) -->", data.decode())


def test_residual_block_adds_the_shortcut_before_the_last_relu():
    fig = diagrams.residual_block()
    identity, projection = columns(fig)
    for column, first in ((identity, "conv 3×3"), (projection, "conv 3×3, stride 2")):
        assert reads(column, "$x$", first, "BN", "ReLU", "conv 3×3", "BN", "+", "ReLU")
    assert ["conv 1×1, stride 2", "BN"] in columns(fig, at_least=2)  # W_s: the projection


def test_preactivation_moves_bn_and_relu_in_front_of_each_weight_layer():
    original, preact = columns(diagrams.preactivation())
    assert reads(original, "$x_l$", "conv 3×3", "BN", "ReLU", "conv 3×3", "BN", "+", "ReLU",
                 "$x_{l+1}$")
    assert reads(preact, "$x_l$", "BN", "ReLU", "conv 3×3", "BN", "ReLU", "conv 3×3", "+",
                 "$x_{l+1}$")


def test_bottleneck_reduces_to_64_channels_and_restores_256():
    basic, bottleneck = columns(diagrams.bottleneck())
    assert reads(basic, "64-d", "conv 3×3, 64", "BN", "ReLU", "conv 3×3, 64", "BN", "+", "ReLU")
    assert reads(bottleneck, "256-d", "conv 1×1, 64", "BN", "ReLU", "conv 3×3, 64", "BN", "ReLU",
                 "conv 1×1, 256", "BN", "+", "ReLU", "256-d")


def test_post_ln_normalizes_after_each_addition_and_pre_ln_inside_each_branch():
    post, pre = columns(diagrams.transformer_ln())
    attention, ffn = "multi-head attention", "FFN: dense, ReLU, dense"
    assert reads(post, "$x_l$", attention, "+", "LayerNorm", ffn, "+", "LayerNorm", "$x_{l+1}$")
    assert reads(pre, "$x_l$", "LayerNorm", attention, "+", "LayerNorm", ffn, "+", "$x_{l+1}$")


@pytest.mark.parametrize("layers", [2, 4])
def test_dense_block_concatenates_every_earlier_output_into_every_later_layer(layers):
    fig = diagrams.dense_block(layers)
    texts = [text.get_text() for text in fig.axes[0].texts]
    assert texts.count("BN, ReLU,\nconv 3×3") == layers
    assert "BN, ReLU, conv 1×1,\navg pool 2×2" in texts  # the transition
    # concatenation l = 2 .. layers + 1 gets x_0 .. x_{l-2} by arches and x_{l-1} by the main line
    arches = [patch for patch in fig.axes[0].patches if patch.get_label() == "arch"]
    assert len(arches) == sum(range(1, layers + 1))


@pytest.mark.parametrize("blocks", [2, 3])
def test_unraveled_view_has_two_to_the_n_paths(blocks):
    texts = [text.get_text() for text in diagrams.unraveled(blocks).axes[0].texts]
    for block in range(1, blocks + 1):  # one in the chain, 2**(block - 1) in the tree
        assert texts.count(f"$f_{block}$") == 1 + 2 ** (block - 1)
    lengths = texts[-1].split(": ")[1].split(", ")
    assert sorted(map(int, lengths)) == sorted(bin(path).count("1") for path in range(2**blocks))


def test_highway_and_unet_name_their_gates_and_skips():
    highway = [text.get_text() for text in diagrams.highway().axes[0].texts]
    assert {"affine: $W_T x + b_T$", "sigmoid", "$1 - T(x)$", "carry: $x$"} <= set(highway)
    unet = [text.get_text() for text in diagrams.unet().axes[0].texts]
    assert {"copy and crop", "max pool 2×2", "up-conv 2×2", "1024", "64+64", "2"} <= set(unet)


def test_committed_svgs_are_what_the_module_draws(tmp_path):
    drawn = {path.name: path.read_bytes() for path in diagrams.save_all(tmp_path)}
    committed = {path.name: path.read_bytes() for path in FIGURES.glob("*.svg")}
    assert sorted(committed) == sorted(drawn), "run `python -m reslib.diagrams lessons/figures`"
    stale = []
    for name, data in drawn.items():
        assert svg_labels(committed[name]) == svg_labels(data), name
        same_version = VERSION.search(committed[name]).group(1) == matplotlib.__version__.encode()
        if same_version and committed[name] != data:
            stale.append(name)
    assert not stale, f"{stale} differ: run `python -m reslib.diagrams lessons/figures`"


def test_save_all_names_unknown_figures():
    with pytest.raises(ValueError, match=r"unknown figures \['resnet'\]"):
        diagrams.save_all("unused", ["resnet"])


def test_every_lesson_shows_its_figures_and_every_figure_is_shown():
    shown = set()
    for lesson, names in diagrams.LESSONS.items():
        notebook = nbformat.read(ROOT / "lessons" / f"{lesson}.ipynb", as_version=4)
        markdown = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
        images = set(re.findall(r"!\[[^\]]+\]\(figures/([\w-]+)\.svg\)", markdown))
        assert set(names) <= images, f"{lesson} should show {sorted(set(names) - images)}"
        assert all((FIGURES / f"{name}.svg").is_file() for name in images), lesson
        shown |= images
    assert shown == set(diagrams.FIGURES)


def test_command_line_draws_the_named_figures_and_refuses_unknown_ones(tmp_path, capsys):
    from reslib.diagrams.__main__ import main

    main([str(tmp_path), "highway"])
    assert [path.name for path in tmp_path.iterdir()] == ["highway.svg"]
    with pytest.raises(SystemExit):
        main([str(tmp_path), "resnet"])
    assert "unknown figures ['resnet']" in capsys.readouterr().err
