"""Specification of reslib.plots: every figure renders to PNG with labelled axes."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from reslib import plots  # noqa: E402
from reslib.diagnostics import (  # noqa: E402
    GateStatistics,
    GradientNorms,
    Landscape,
    LesionResult,
)


def rendered(fig, tmp_path, name="figure.png"):
    """Save ``fig`` as PNG and return its single axes (checks the file is a non-empty PNG)."""
    path = tmp_path / name
    fig.savefig(path)
    assert path.stat().st_size > 1000
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return fig.axes[0]


def test_training_curves_draw_dashed_train_and_bold_test_lines_per_model(tmp_path):
    histories = [
        {"train_error": [0.6, 0.4, 0.3], "test_error": [0.65, 0.5, 0.4]},
        {"train_error": [0.5, 0.3, 0.1], "test_error": [0.55, 0.35, 0.2]},
    ]
    fig = plots.training_curves(histories, ["plain-20", "ResNet-20"], dataset="CIFAR-10")
    ax = rendered(fig, tmp_path)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("epoch", "error (%)")
    assert "CIFAR-10" in ax.get_title()
    lines = ax.get_lines()
    assert [line.get_linestyle() for line in lines] == ["--", "-", "--", "-"]
    np.testing.assert_allclose(lines[3].get_ydata(), [55.0, 35.0, 20.0])  # in percent
    assert lines[0].get_color() == lines[1].get_color() != lines[2].get_color()


def test_training_curves_draw_losses_on_a_log_axis_so_one_diverging_epoch_does_not_flatten_them(
    tmp_path,
):
    histories = [{"train_loss": [4e6, 2.0, 1.5]}, {"train_loss": [2.3, 2.1, 1.9]}]
    ax = rendered(plots.training_curves(histories, ["plain-56", "plain-20"], metric="loss"),
                  tmp_path)
    assert ax.get_yscale() == "log" and ax.get_ylabel() == "loss (log scale)"
    low, high = ax.get_ylim()
    assert high > 4e6 and 0 < low < 1.5
    errors = plots.training_curves([{"train_error": [0.9, 0.5]}], ["net"]).axes[0]
    assert errors.get_yscale() == "linear"  # errors stay linear, in percent


def test_training_curves_legend_names_each_model_once_beside_the_axes(tmp_path):
    histories = [{"train_error": [0.6, 0.4], "test_error": [0.7, 0.5]}] * 4
    labels = ["plain-20", "plain-56", "resnet-20", "resnet-56"]
    fig = plots.training_curves(histories, labels)
    ax = rendered(fig, tmp_path)
    legend = ax.get_legend()
    assert [text.get_text() for text in legend.get_texts()] == [*labels, "train", "test"]
    assert legend.get_window_extent().x0 > ax.get_window_extent().x1  # not over the curves


def test_titles_name_the_dataset_briefly_without_where_it_was_read_from(tmp_path):
    description = ("CIFAR-10 train, 1,000 images (local copy /work/shared/data/"
                   "cifar-10-batches-py, 1 of 5 training batches, first 1,000)")
    assert plots.short_dataset(description) == "CIFAR-10, 1,000 train images"
    assert plots.short_dataset(f"{description}, centre 16x16 crops") == (
        "CIFAR-10, 1,000 train images, centre 16x16 crops")
    assert plots.short_dataset("synthetic shapes (64 images of 32x32)") == "synthetic shapes"
    assert len(plots.short_dataset("x" * 200)) == 60
    ax = rendered(plots.training_curves([{"train_error": [0.5]}], ["net"], dataset=description),
                  tmp_path)
    assert ax.get_title().endswith("\nCIFAR-10, 1,000 train images") and "/" not in ax.get_title()


def test_training_curves_say_which_keys_they_miss():
    with pytest.raises(ValueError, match=r"'train_loss' or 'test_loss'.*\['train_error'\]"):
        plots.training_curves([{"train_error": [0.5]}], ["net"], metric="loss")


def test_training_curves_need_one_label_per_history():
    with pytest.raises(ValueError, match="got 1 histories and 2 labels"):
        plots.training_curves([{"train_error": [0.5]}], ["a", "b"])


def test_gradient_norms_by_depth_use_a_log_scale_and_leave_out_missing_values(tmp_path):
    result = GradientNorms(
        layers=("conv", "relu", "block"), kinds=("Conv2D", "ReLU", "BasicBlock"),
        weights=np.array([1e-3, np.nan, 1e-1]), activations=np.array([1.0, 2.0, 3.0]), loss=1.0,
    )
    ax = rendered(plots.gradient_norms_by_depth([result], ["plain-56"], dataset="CIFAR-10"),
                  tmp_path)
    assert ax.get_yscale() == "log"
    assert "gradient norm" in ax.get_ylabel() and "layer" in ax.get_xlabel()
    np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), [1, 3])


def test_lesion_bars_show_each_deletion_in_percent_and_the_baseline(tmp_path):
    result = LesionResult(
        baseline_loss=0.3, baseline_error=0.08, blocks=("block1", "block2"),
        losses=np.array([0.35, 0.5]), errors=np.array([0.09, 0.15]), dataset="CIFAR-10",
    )
    ax = rendered(plots.lesion_bars(result), tmp_path)
    assert ax.get_ylabel() == "error (%)" and ax.get_xlabel() == "deleted block"
    assert "CIFAR-10" in ax.get_title()
    np.testing.assert_allclose([bar.get_height() for bar in ax.patches], [9.0, 15.0])
    assert [label.get_text() for label in ax.get_xticklabels()] == ["block1", "block2"]


def test_gate_heatmap_shows_layers_by_units_on_a_0_1_colour_scale(tmp_path):
    per_unit = np.linspace(0.05, 0.95, 12).reshape(3, 4)
    stats = GateStatistics(
        layers=("highway1", "highway2", "highway3"), mean=per_unit.mean(1),
        min=per_unit.min(1), max=per_unit.max(1), per_unit=per_unit,
    )
    ax = rendered(plots.gate_heatmap(stats, dataset="digits"), tmp_path)
    assert ax.get_xlabel() == "unit (channel)" and "highway layer" in ax.get_ylabel()
    image = ax.get_images()[0]
    assert image.get_array().shape == (3, 4) and image.get_clim() == (0.0, 1.0)
    assert "digits" in ax.get_title()


def test_landscape_draws_a_line_in_1d_and_contours_in_2d(tmp_path):
    alphas = np.linspace(-1, 1, 5)
    line = Landscape(alphas, alphas**2 + 1, np.zeros(5))
    ax = rendered(plots.landscape(line, dataset="CIFAR-10"), tmp_path, "line.png")
    assert "alpha" in ax.get_xlabel() and ax.get_ylabel() == "loss (cross-entropy)"
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), alphas**2 + 1)
    bowl = alphas[:, None] ** 2 + alphas[None, :] ** 2
    grid = Landscape(alphas, bowl, np.zeros((5, 5)), betas=alphas)
    ax = rendered(plots.landscape(grid), tmp_path, "contour.png")
    assert "beta" in ax.get_ylabel() and ax.collections  # the contour lines


def test_comparison_table_holds_the_header_and_every_cell(tmp_path):
    columns = ["quantity", "paper", "ours"]
    rows = [["ResNet-56 test error", "6.97%", "7.4%"], ["plain-56 test error", "~13%", "15.1%"]]
    fig = plots.comparison_table(rows, columns, title="He et al. 2016a, Table 6")
    ax = rendered(fig, tmp_path)
    cells = ax.tables[0].get_celld()
    assert [cells[0, c].get_text().get_text() for c in range(3)] == columns
    assert cells[2, 2].get_text().get_text() == "15.1%"
    assert ax.get_title() == "He et al. 2016a, Table 6"


def test_comparison_table_rejects_rows_of_the_wrong_length():
    with pytest.raises(ValueError, match="Row 0 has 2 cells but there are 3 columns"):
        plots.comparison_table([["a", "b"]], ["x", "y", "z"])


def test_plots_leave_no_figure_open_in_pyplot():
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    plots.training_curves([{"train_error": [0.5, 0.4]}], ["net"])
    assert plt.get_fignums() == before
