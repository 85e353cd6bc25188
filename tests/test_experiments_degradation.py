"""Specification of lesson 01's experiment: He et al. 2016a's three orderings, judged per seed.

The quick run itself (about two minutes) is executed by lesson 01's notebook test, which checks
that the three orderings hold; here, what the experiment claims and how it reports margins.
"""

import json

from reslib.experiments import EXPERIMENTS
from reslib.experiments.degradation import CLAIMED, ORDERINGS, _ordering, seed_study


def test_quick_mode_keeps_the_papers_depths_and_full_mode_is_the_papers_recipe():
    configs = EXPERIMENTS["degradation"].configs
    assert configs["quick"].get("depths", (20, 56)) == (20, 56)
    full = configs["full"]
    assert full["epochs"] == 164 and full["learning_rate"] == 0.1 and full["batch_size"] == 128
    assert full["milestones"] == (0.5, 0.75) and "train_images" not in full  # all 50,000
    assert full.get("zero_init_residual", False) is False and full.get("image_size", 32) == 32


def test_the_claim_is_the_three_orderings_of_figure_6():
    assert {(higher, lower) for _, higher, lower in ORDERINGS} == {
        ("plain-56", "plain-20"), ("resnet-20", "resnet-56"), ("plain-56", "resnet-56")}


def test_quick_mode_claims_only_the_orderings_whose_stored_margins_beat_the_seed_spread():
    study = seed_study()
    assert study is not None, "reslib/results/seeds/degradation-quick.json is shipped"
    runs = study["runs"]
    spread = max(max(run["final_train_error"][net] for run in runs)
                 - min(run["final_train_error"][net] for run in runs)
                 for net in runs[0]["final_train_error"])
    for name, _, _ in ORDERINGS:
        smallest = min(run["orderings"][name]["margin"] for run in runs)
        assert (name in CLAIMED) == (smallest > spread), (name, smallest, spread)


def test_an_ordering_reports_both_errors_and_its_margin():
    models = {"plain-56": {"final_train_error": 0.8}, "plain-20": {"final_train_error": 0.6}}
    ordering = _ordering(models, "plain-56", "plain-20")
    assert ordering["holds"] and abs(ordering["margin"] - 0.2) < 1e-12
    assert not _ordering(models, "plain-20", "plain-56")["holds"]


def study_run(seed, resnet56):
    errors = {"plain-20": 0.60, "plain-56": 0.80, "resnet-20": 0.53, "resnet-56": resnet56}
    orderings = {name: _ordering({k: {"final_train_error": v} for k, v in errors.items()},
                                 higher, lower) for name, higher, lower in ORDERINGS}
    return {"seed": seed, "command": "python -m reslib run degradation --quick", "wall_time_s": 120,
            "environment": {"processor": "x86_64", "backend": "tensorflow"},
            "dataset": "CIFAR-10 train, 10,000 images", "orderings": orderings,
            "final_train_error": errors}


def test_the_seed_study_shows_the_smallest_margin_and_flags_an_ordering_a_seed_breaks(tmp_path):
    path = tmp_path / "study.json"
    path.write_text(json.dumps({"runs": [study_run(0, 0.50), study_run(1, 0.55)]}))
    text = seed_study(path)["text"]
    assert "resnet-56   50.0   55.0   spread 5.0 points" in text
    assert "deeper_resnet_trains_better" in text and "smallest -2.0" in text
    assert "(does NOT hold for every seed)" in text
    assert seed_study(tmp_path / "missing.json") is None
