"""Specification of reslib.experiments.unraveled: the lesion study of Veit et al. 2016."""

import numpy as np

from reslib.experiments import EXPERIMENTS
from reslib.experiments.report import save_figures
from reslib.experiments.unraveled import lesion_result, run


def test_unraveled_is_registered_for_lesson_02_and_full_mode_pairs_resnet110_with_plain20():
    experiment = EXPERIMENTS["unraveled"]
    assert experiment.lesson == "02_residual_math" and "Veit" in experiment.claim
    assert experiment.configs["full"]["depth"] == 110
    assert experiment.configs["full"]["plain_depth"] == 20
    assert experiment.configs["quick"]["train_images"] <= 2000


def small_run():
    return run(depth=8, train_images=128, test_images=64, epochs=1, batch_size=64,
               learning_rate=0.05, milestones=(), augment=False, progress=False)


def test_every_block_with_an_identity_shortcut_is_deleted_and_the_others_say_why_not(tmp_path):
    record = small_run()
    assert set(record["models"]) == {"resnet-8", "plain-8"}
    assert "64 images" in record["test_dataset"] and "128 images" in record["dataset"]
    for model in record["models"].values():
        # ResNet-8: one block per stage; only stage 1's keeps its shape.
        assert len(model["lesion_blocks"]) == 1 and len(model["skipped"]) == 2
        assert all("shape" in why for why in model["skipped"].values())
        errors = np.array(model["lesion_errors"])
        assert np.all((errors >= 0) & (errors <= 1))
        rises = errors - model["baseline_error"]
        assert np.isclose(model["median_error_rise"], np.median(rises))
        assert np.isclose(model["max_error_rise"], rises.max())
    paths = record["path_lengths"]
    assert paths["blocks"] == 3 and paths["lengths"] == [0, 1, 2, 3]
    assert np.allclose(paths["fractions"], [1 / 8, 3 / 8, 3 / 8, 1 / 8])
    assert np.isclose(paths["mean"], 1.5)


def test_stored_records_turn_back_into_lesion_results_and_bar_charts(tmp_path):
    record = {"experiment": "unraveled", "mode": "quick", **small_run()}
    rebuilt = lesion_result(record, "plain-8")
    model = record["models"]["plain-8"]
    assert rebuilt.blocks == tuple(model["lesion_blocks"])
    assert rebuilt.baseline_error == model["baseline_error"] and "plain-8" in rebuilt.dataset
    paths = save_figures(record, tmp_path)
    assert sorted(p.name for p in paths) == ["unraveled-quick-lesion-plain-8.png",
                                              "unraveled-quick-lesion-resnet-8.png"]


def test_plain_depth_defaults_to_the_resnets_and_must_be_positive():
    import pytest

    with pytest.raises(ValueError, match="`plain_depth` must be a positive integer, got -2"):
        run(depth=8, plain_depth=-2, progress=False)
