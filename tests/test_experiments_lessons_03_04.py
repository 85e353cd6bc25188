"""Specification of the experiments of lessons 03 and 04: bottleneck_cost, preact and
densenet_vs_resnet (``reslib/experiments/``)."""

import numpy as np
import pytest

from reslib.data import downsample, load_dataset
from reslib.experiments import EXPERIMENTS, preact
from reslib.experiments import bottleneck_cost as cost
from reslib.experiments import densenet_vs_resnet as dvr
from reslib.layers import BasicBlock, BottleneckBlock, DenseBlock


def test_the_three_experiments_are_registered_with_quick_and_full_configs():
    for name, lesson in [("bottleneck_cost", "03_bottleneck_preact"),
                         ("preact", "03_bottleneck_preact"),
                         ("densenet_vs_resnet", "04_densenet")]:
        experiment = EXPERIMENTS[name]
        assert experiment.lesson == lesson and experiment.claim
        assert set(experiment.configs) == {"quick", "full"}


# bottleneck_cost ----------------------------------------------------------------------------

@pytest.mark.parametrize("width", [16, 64, 256])
def test_block_cost_formulas_equal_the_counts_from_reslib_blocks(width):
    assert cost.basic_cost(width, 8, 8) == cost.counted_cost(BasicBlock(width), (8, 8, width))
    assert cost.bottleneck_cost(width, 8, 8) == cost.counted_cost(
        BottleneckBlock(width // 4), (8, 8, width))


def test_bottleneck_has_17_16_c_squared_weights_against_18_c_squared():
    basic, bottleneck = cost.basic_cost(256, 1, 1), cost.bottleneck_cost(256, 1, 1)
    assert basic["macs"] == 18 * 256**2 and bottleneck["macs"] == 17 * 256**2 // 16


def test_counted_cost_includes_a_projection_shortcut():
    plain = cost.counted_cost(BasicBlock(32, strides=2, shortcut="A"), (8, 8, 16))
    projected = cost.counted_cost(BasicBlock(32, strides=2, shortcut="B"), (8, 8, 16))
    assert projected["params"] - plain["params"] == 16 * 32 + 2 * 32
    assert projected["macs"] - plain["macs"] == 4 * 4 * 16 * 32


def test_bottleneck_cost_refuses_a_width_the_expansion_does_not_divide():
    with pytest.raises(ValueError, match="divisible by expansion=4; got channels=30"):
        cost.bottleneck_cost(30, 8, 8)


def test_shortcut_options_match_the_reference_counts_of_resnet_20():
    options = cost.shortcut_options(20)
    assert options["A"] == 269_722 and options["B"] == 272_474 and options["B"] < options["C"]


def test_resnet_50_costs_4_09_giga_macs_like_torchvision_and_resnet_34_3_66():
    macs = cost.imagenet_macs((34, 50))
    assert macs["resnet-50"]["params"] == 25_557_032
    assert macs["resnet-50"]["giga_macs"] == pytest.approx(4.09, abs=0.01)
    assert macs["resnet-34"]["giga_macs"] == pytest.approx(3.66, abs=0.01)


def test_bottleneck_cost_quick_shows_its_claim():
    record = cost.run(progress=False, **EXPERIMENTS["bottleneck_cost"].configs["quick"])
    assert record["claim_holds"], record["blocks"]
    assert "shortcut_training" not in record


# preact -------------------------------------------------------------------------------------

def test_initial_loss_is_chance_for_a_zero_classifier_and_leaves_the_model_unchanged():
    data = downsample(load_dataset("cifar10", "train", limit=40), 8)
    model = preact.build(8, 1, data.images.shape[1:], 10, seed=0, width=4)
    classifier = model.get_layer("classifier")
    classifier.set_weights([np.zeros_like(w) for w in classifier.get_weights()])
    before = model.get_weights()
    assert preact.initial_loss(model, data, batch_size=16) == pytest.approx(np.log(10), abs=1e-5)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))  # BN stats too


def test_early_loss_is_the_mean_over_the_first_epochs_and_refuses_a_longer_window():
    assert preact.early_loss([3.0, 2.0, 1.0], 2) == 2.5
    with pytest.raises(ValueError, match="at most the 3 epochs trained; got 4"):
        preact.early_loss([3.0, 2.0, 1.0], 4)


def test_preact_claim_needs_every_post_run_above_every_pre_run_by_more_than_the_spread():
    def holds(post, pre):
        return preact.compare_seeds({"post-activation": post, "pre-activation": pre})["holds"]

    assert holds([2.6, 2.7, 2.65], [2.2, 2.25, 2.2])        # separation 0.35 > spread 0.1
    assert not holds([2.6, 3.5, 2.65], [2.2, 2.25, 2.2])    # separated, but seeds scatter more
    assert not holds([2.6, 2.7, 2.1], [2.2, 2.25, 2.2])     # one post run below a pre run
    assert not holds([2.2, 2.3], [2.6, 2.7])                # the other order
    one_seed = preact.compare_seeds({"post-activation": [2.5], "pre-activation": [2.4]})
    assert one_seed["spread"] == 0 and one_seed["holds"]
    with pytest.raises(ValueError, match="non-empty list for each of"):
        preact.compare_seeds({"post-activation": [2.5]})


def test_preact_run_refuses_an_early_window_longer_than_the_run_before_training():
    with pytest.raises(ValueError, match="`early_epochs` must be at most `epochs` \\(2\\); got 3"):
        preact.run(epochs=2, early_epochs=3, progress=False)


def test_preact_run_trains_both_versions_alike_on_every_seed_and_judges_the_start():
    config = dict(EXPERIMENTS["preact"].configs["quick"], depth=8, width=4, image_size=8,
                  train_images=128, epochs=1, repeats=2, early_epochs=1)
    record = preact.run(progress=False, seed=5, **config)
    assert record["seeds"] == [5, 6] and record["test_dataset"] is None
    assert sorted(record["models"]) == sorted(
        f"{v}, seed {s}" for v in ("post-activation", "pre-activation") for s in (5, 6))
    for model in record["models"].values():
        assert len(model["train_loss"]) == 1 and model["test_error"] == []
        assert model["initial_train_loss"] > 0
    early = record["early_train_loss"]
    assert early["post-activation"] == [record["models"][f"post-activation, seed {s}"][
        "train_loss"][0] for s in (5, 6)]
    comparison = preact.compare_seeds(early)
    assert record["claim_holds"] == comparison["holds"]
    assert record["comparison"]["spread"] == comparison["spread"]
    assert "8x8" in record["dataset"] and "128" in record["dataset"]


def test_preact_quick_mode_measures_three_seeds_and_full_mode_is_the_papers_recipe():
    quick, full = (EXPERIMENTS["preact"].configs[m] for m in ("quick", "full"))
    assert quick["repeats"] == full["repeats"] == 3
    assert quick["early_epochs"] <= quick["epochs"] and quick["test_images"] == 0
    assert (full["depth"], full["epochs"], full["learning_rate"], full["width"]) == (
        110, 164, 0.1, 16)
    assert "train_images" not in full and "test_images" not in full


# densenet_vs_resnet -------------------------------------------------------------------------

def test_block_channels_grow_by_the_growth_rate():
    assert dvr.block_channels(24, 16, 12) == [24 + 12 * n for n in range(17)]


def test_traced_bytes_of_a_real_dense_block_equal_the_naive_formula():
    x = np.ones((2, 4, 4, 8), dtype="float32")
    block = DenseBlock(3, growth_rate=4)
    block.build(x.shape)
    traced = dvr.traced_block_bytes(block, x)
    assert traced["matches_block"] and traced["tensors"] == 3 * 7
    assert traced["bytes"] == 4 * 2 * 4 * 4 * dvr.naive_block_values(8, 3, 4)


def test_naive_memory_grows_quadratically_and_shared_linearly():
    naive = [dvr.naive_block_values(24, n, 12) for n in (8, 16, 32)]
    shared = [dvr.shared_block_values(24, n, 12) for n in (8, 16, 32)]
    assert naive[2] / naive[1] > naive[1] / naive[0] > 2
    assert shared[2] / shared[1] <= 2 and shared[1] / shared[0] <= 2


def test_traced_block_bytes_refuses_dropout():
    block = DenseBlock(1, growth_rate=4, dropout=0.2)
    block.build((1, 4, 4, 8))
    with pytest.raises(ValueError, match="without dropout; got dropout=0.2"):
        dvr.traced_block_bytes(block, np.ones((1, 4, 4, 8), dtype="float32"))


def test_densenet_bc_100_is_within_the_budget_of_resnet_56():
    budgets = dvr.parameter_budgets(100, (56,))
    assert budgets == {"densenet-bc-100": 769_162, "resnet-56": 853_018}


def test_densenet_vs_resnet_on_a_tiny_config_shows_its_claim():
    config = dict(EXPERIMENTS["densenet_vs_resnet"].configs["quick"], budget_depths=(8,),
                  memory_layers=(2, 4), train_images=128, test_images=64, epochs=1)
    record = dvr.run(progress=False, **config)
    assert record["claim_holds"], (record["memory"], record["budgets"])
    assert set(record["training"]["models"]) == {"densenet-bc-22", "resnet-8"}
    assert "CIFAR-10" in record["dataset"] or "digits" in record["dataset"]
