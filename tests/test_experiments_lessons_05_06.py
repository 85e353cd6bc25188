"""Specification of the experiments of lessons 05 (highway depth sweep) and 06 (LN and warm-up)."""

import numpy as np
import pytest

from reslib.experiments import EXPERIMENTS, highway_depth, transformer_warmup
from reslib.models import highway_net


def test_lessons_05_and_06_register_quick_and_full_experiments():
    for name, lesson in (("highway_depth", "05_highway"), ("transformer_warmup", "06_transformer")):
        experiment = EXPERIMENTS[name]
        assert experiment.lesson == lesson and experiment.claim
        assert set(experiment.configs) == {"quick", "full"}
        assert experiment.figures is not None


def test_highway_quick_config_sweeps_the_papers_depths_on_digits():
    quick = EXPERIMENTS["highway_depth"].configs["quick"]
    assert quick["depths"] == (10, 20, 50, 100) and quick["dataset"] == "digits"


def test_flattened_arrays_are_standardised_vectors():
    from reslib.data import load_dataset

    data = load_dataset("digits", "train")
    x, y = highway_depth.flattened_arrays(data)
    assert x.shape == (len(data), 64) and x.dtype == np.float32 and len(y) == len(data)
    assert abs(float(x.mean())) < 0.05 and abs(float(x.std()) - 1.0) < 0.05


def test_model_labels_name_the_family_depth_and_gate_bias():
    assert highway_depth.model_label(50, None) == "plain-50"
    assert highway_depth.model_label(100, -4.0) == "highway-100 (b=-4)"


def test_highway_sweep_deep_plain_degrades_and_highway_does_not():
    record = highway_depth.run(depths=(10, 50), gate_bias=-4.0, bias_sweep=(), bias_depth=50,
                               epochs=4, progress=False)
    losses = {label: m["train_loss"][-1] for label, m in record["models"].items()}
    assert set(losses) == {"plain-10", "plain-50", "highway-10 (b=-4)", "highway-50 (b=-4)"}
    assert record["claim_holds"], losses
    assert "digits" in record["dataset"] and "1,437 images" in record["dataset"]
    gates = highway_depth.gate_statistics_from(record)
    assert gates.layers[0] == "highway1" and len(gates.layers) == 50
    assert gates.per_unit.shape == (50, 50)
    assert np.all((gates.min > 0) & (gates.max < 1) & (gates.min <= gates.mean))


def test_highway_figures_are_drawn_from_a_record():
    record = highway_depth.run(depths=(2, 3), gate_bias=-4.0, bias_sweep=(-2.0,), bias_depth=3,
                               epochs=1, train_images=128, test_images=64, progress=False)
    figures = highway_depth.EXPERIMENT.figures(record)
    assert set(figures) == {"error-by-depth", "gates"}
    axes = figures["error-by-depth"].axes[0]
    assert "error" in axes.get_ylabel() and "layers" in axes.get_xlabel()
    assert len(axes.get_lines()) == 3  # plain, highway b=-4, the b=-2 point


def test_weak_gate_bias_shrinks_the_signal_of_a_deep_highway_net_at_init():
    x = np.random.default_rng(0).normal(size=(64, 16)).astype("float32")
    import keras

    def final_rms(bias):
        keras.utils.set_random_seed(0)
        model = highway_net(100, width=16, input_shape=(16,), gate_bias=bias)
        last = keras.Model(model.inputs, model.get_layer("highway100").output)
        return float(np.sqrt(np.mean(np.square(last.predict(x, verbose=0)))))

    assert final_rms(-2.0) < 0.05 * final_rms(-6.0)


def test_first_equals_last_task_is_balanced_and_labelled_by_its_rule():
    task = transformer_warmup.first_equals_last(1000, sequence_length=8, vocab_size=8, seed=3)
    assert task.tokens.shape == (1000, 8) and task.tokens.dtype == np.int32
    assert task.tokens.min() >= 1 and task.tokens.max() < 8
    np.testing.assert_array_equal(task.labels, task.tokens[:, 0] == task.tokens[:, -1])
    assert 0.4 < task.labels.mean() < 0.6
    assert "synthetic" in task.description and "1,000 sequences" in task.description


def test_first_equals_last_refuses_tasks_without_two_symbols():
    with pytest.raises(ValueError, match="vocab_size >= 3.*got sequence_length=8, vocab_size=2"):
        transformer_warmup.first_equals_last(10, sequence_length=8, vocab_size=2)


def test_transformer_warmup_records_every_configuration_and_its_stream_norms():
    # A two-epoch run: the claim itself (quick config, 8 epochs) is checked by lesson 06's test.
    config = dict(EXPERIMENTS["transformer_warmup"].configs["quick"], epochs=2,
                  train_sequences=256)
    record = transformer_warmup.run(progress=False, **config)
    losses = {label: m["final_train_loss"] for label, m in record["models"].items()}
    assert set(losses) == {"pre-LN, no warm-up", "post-LN, no warm-up",
                           "post-LN, warm-up 2 epochs"}
    assert isinstance(record["claim_holds"], bool)
    assert record["dataset"].startswith("synthetic")
    post = record["models"]["post-LN, no warm-up"]
    assert len(post["stream_norms"]) == config["num_layers"] + 1
    assert np.all(np.isfinite(post["stream_norms"])) and min(post["stream_norms"]) > 0


def test_residual_stream_is_normalised_in_post_ln_and_grows_in_pre_ln_at_init():
    import keras

    from reslib.diagnostics import residual_stream_norms
    from reslib.models import transformer_classifier

    task = transformer_warmup.first_equals_last(64, sequence_length=8, vocab_size=8)
    norms = {}
    for norm in ("pre", "post"):
        keras.utils.set_random_seed(0)
        model = transformer_classifier(8, 8, 2, num_layers=12, d_model=32, ff_dim=64, norm=norm)
        norms[norm] = residual_stream_norms(model, task.tokens).norms
    np.testing.assert_allclose(norms["post"][1:], np.sqrt(32), rtol=0.01)
    assert norms["pre"][-1] > 1.5 * norms["pre"][1]
