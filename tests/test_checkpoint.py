"""Specification of reslib.checkpoint: full runs stop on time, resume, and say they are partial."""

import keras
import numpy as np

from reslib.checkpoint import checkpointing
from reslib.experiments.report import run_label, stored_run_caption
from reslib.training import train


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6)).astype("float32")
    return x, (x[:, 0] > 0).astype("int32")


def model() -> keras.Model:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6,))
    hidden = keras.layers.Dense(8, activation="relu", name="hidden")(inputs)
    logits = keras.layers.Dense(2, name="classifier")(hidden)
    outputs = keras.layers.Activation("softmax", name="predictions")(logits)
    return keras.Model(inputs, outputs, name="tiny")


SETTINGS = dict(epochs=4, batch_size=16, learning_rate=0.05, progress=False)


def test_a_run_stopped_by_its_time_limit_resumes_to_the_uninterrupted_result(tmp_path):
    uninterrupted_model = model()
    uninterrupted = train(uninterrupted_model, data(), **SETTINGS)

    with checkpointing(tmp_path, time_limit_s=1e-9) as checkpoints:
        first = train(model(), data(), **SETTINGS)
    assert len(first.train_loss) == 1
    assert checkpoints.partial() == {"01-tiny": {"epochs_run": 1, "epochs_planned": 4}}

    resumed_model = model()
    with checkpointing(tmp_path) as checkpoints:
        resumed = train(resumed_model, data(), **SETTINGS)
    assert checkpoints.partial() == {}
    assert len(resumed.train_loss) == 4 and resumed.train_loss[0] == first.train_loss[0]
    # weights, momentum and the schedule's step come back exactly; arrays are reshuffled from
    # the resumed epoch on, so the later epochs see the batches in another order
    np.testing.assert_allclose(resumed.learning_rate, uninterrupted.learning_rate, rtol=1e-6)
    assert abs(resumed.train_loss[-1] - uninterrupted.train_loss[-1]) < 0.2

    again_model = model()
    with checkpointing(tmp_path):
        again = train(again_model, data(), **SETTINGS)
    assert again.train_loss == resumed.train_loss, "a finished training is not trained again"
    for mine, theirs in zip(again_model.get_weights(), resumed_model.get_weights()):
        np.testing.assert_array_equal(mine, theirs)


def test_a_partial_record_says_so_in_its_label_and_caption():
    record = {"mode": "full", "overrides": {}, "wall_time_s": 60.0, "dataset": "CIFAR-10",
              "environment": {"accelerator": "gpu", "backend": "jax"},
              "partial": {"01-resnet20_cifar": {"epochs_run": 3, "epochs_planned": 164}},
              "note": "Partial run, stopped by its time limit"}
    assert run_label(record).startswith("partial full mode on gpu (jax)")
    caption = stored_run_caption(record)
    assert "note: Partial run" in caption and "data: CIFAR-10" in caption
