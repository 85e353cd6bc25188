"""Specification of reslib.experiments.report: what `python -m reslib run` prints and draws."""

from reslib.experiments.report import default_figures, save_figures, summary_rows, text_report

RECORD = {
    "experiment": "degradation", "lesson": "01_degradation", "mode": "quick",
    "claim": "the deeper plain net trains worse", "claim_holds": True, "wall_time_s": 1.5,
    "dataset": "CIFAR-10 train, 100 images (test)",
    "paper_test_error_percent": {"resnet-20": 8.75},
    "models": {
        "plain-20": {"parameters": 10, "train_loss": [2.0, 1.5], "train_error": [0.8, 0.6],
                     "final_train_error": 0.6},
        "plain-56": {"parameters": 30, "train_loss": [2.2, 1.9], "train_error": [0.9, 0.7],
                     "final_train_error": 0.7},
    },
}


def test_summary_rows_hold_one_row_per_model_with_its_scalar_results():
    columns, rows = summary_rows(RECORD)
    assert columns == ["model", "parameters", "final_train_error"]
    assert rows == [["plain-20", "10", "0.6"], ["plain-56", "30", "0.7"]]


def test_per_model_tables_are_found_under_the_names_lesson_07_gives_them():
    for key in ("nets", "stacks", "options"):
        record = {**{k: v for k, v in RECORD.items() if k != "models"}, key: RECORD["models"]}
        assert summary_rows(record) == summary_rows(RECORD)
        assert f"{key}:" in text_report(record)
    assert summary_rows({**RECORD, "models": {"a": 1.0}}) == ([], [])


def test_text_report_says_whether_the_claim_held_on_which_data_and_the_papers_numbers():
    text = text_report(RECORD)
    assert "holds in this run: yes" in text and "100 images" in text
    assert "paper_test_error_percent: {'resnet-20': 8.75}" in text


def test_default_figures_are_training_curves_saved_as_png(tmp_path):
    assert set(default_figures(RECORD)) == {"training-error", "training-loss"}
    paths = save_figures(RECORD, tmp_path)
    assert sorted(p.name for p in paths) == ["degradation-quick-training-error.png",
                                              "degradation-quick-training-loss.png"]
    assert all(p.stat().st_size > 1000 for p in paths)


def test_records_without_histories_draw_nothing():
    assert default_figures({**RECORD, "models": {"a": {"ratio": 1.0}}}) == {}
