"""Specification of reslib.training: the papers' recipe, histories that name their data."""

import json

import keras
import numpy as np
import pytest

from reslib.data import load_dataset
from reslib.models import cifar_resnet, transformer_classifier
from reslib.training import (
    L2SGD,
    TrainingConfig,
    WarmupSchedule,
    _make_optimizer,
    configure_precision,
    train,
)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", "train", limit=256), load_dataset("digits", "test", limit=128)


def small_resnet() -> keras.Model:
    return cifar_resnet(8, input_shape=(8, 8, 1), classes=10)


def test_training_a_resnet_on_digits_lowers_the_loss_and_names_the_data(digits):
    train_set, test_set = digits
    # Warm-up then cosine: at this tiny scale (8 steps an epoch) it learns for every seed tried
    # (10 seeds on TensorFlow and JAX, loss down by 0.9 or more).
    history = train(small_resnet(), train_set, test_set, epochs=6, batch_size=32,
                    learning_rate=0.02, warmup_epochs=1, schedule="cosine", progress=False)
    assert history.dataset.startswith("digits train, 256 images")
    assert history.train_images == 256 and history.device == "cpu"
    assert len(history.train_loss) == len(history.test_error) == len(history.epoch_seconds) == 6
    assert history.train_loss[-1] < history.train_loss[0] - 0.3
    assert all(0.0 <= e <= 1.0 for e in history.train_error + history.test_error)
    assert history.images_per_second > 0
    json.dumps(history.as_dict())  # JSON-ready for reslib/results


def test_build_optimizer_creates_the_slot_variables_before_fit_and_leaves_unbuilt_models():
    from reslib.training import build_optimizer

    model = small_resnet()
    model.compile(optimizer=keras.optimizers.SGD(momentum=0.9), loss="mse")
    build_optimizer(model)
    assert model.optimizer.built
    momenta = [v for v in model.optimizer.variables if "momentum" in v.path]
    assert len(momenta) == len(model.trainable_variables)
    unbuilt = keras.Sequential([keras.layers.Dense(2)])
    unbuilt.compile(optimizer="adam", loss="mse")
    build_optimizer(unbuilt)  # nothing to build yet: fit will
    assert not unbuilt.optimizer.built


def test_freed_memory_goes_back_to_the_system_where_glibc_can_return_it():
    import platform

    from reslib._memory import release_freed_memory

    assert release_freed_memory() is (platform.libc_ver()[0] == "glibc")


def test_step_schedule_divides_by_ten_at_half_and_three_quarters():
    schedule = WarmupSchedule(0.1, total_steps=100, schedule="step")
    rates = [float(keras.ops.convert_to_numpy(schedule(s))) for s in (0, 49, 50, 74, 75, 99)]
    np.testing.assert_allclose(rates, [0.1, 0.1, 0.01, 0.01, 0.001, 0.001], rtol=1e-5)


def test_warmup_starts_at_a_hundredth_and_reaches_the_peak():
    schedule = WarmupSchedule(0.1, total_steps=100, warmup_steps=10, schedule="cosine")
    first, peak = (float(keras.ops.convert_to_numpy(schedule(s))) for s in (0, 10))
    assert first == pytest.approx(0.001) and peak == pytest.approx(0.1)
    assert float(keras.ops.convert_to_numpy(schedule(100))) == pytest.approx(0.0, abs=1e-7)


def test_schedule_survives_a_config_round_trip():
    schedule = WarmupSchedule(0.1, 100, 5, "cosine")
    clone = WarmupSchedule.from_config(schedule.get_config())
    assert clone.get_config() == schedule.get_config()


def test_the_recorded_learning_rate_follows_the_schedule(digits):
    history = train(small_resnet(), digits[0], epochs=4, batch_size=64, learning_rate=0.1,
                    milestones=(0.5,), progress=False)
    np.testing.assert_allclose(history.learning_rate, [0.1, 0.01, 0.01, 0.01], rtol=1e-5)
    assert history.test_error == []


def test_a_logits_transformer_trains_with_adamw_from_arrays():
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 20, size=(128, 12))
    labels = (tokens[:, 0] > 9).astype("int64")  # the class is written in the first token
    model = transformer_classifier(20, 12, 2, num_layers=1, d_model=16, num_heads=2, ff_dim=32)
    history = train(model, (tokens, labels), epochs=6, batch_size=32, optimizer="adamw",
                    learning_rate=3e-3, weight_decay=0.0, warmup_epochs=1, schedule="constant",
                    progress=False)
    assert history.dataset == "arrays, 128 examples"
    assert history.train_loss[-1] < history.train_loss[0]


def test_the_progress_bar_shows_each_epochs_latest_errors(digits, capsys):
    history = train(small_resnet(), digits[0], digits[1], epochs=2, batch_size=128)
    shown = capsys.readouterr().out
    assert "2/2" in shown
    assert f"val_error: {history.test_error[-1]:.4f}" in shown


def test_configure_precision_keeps_float32_on_a_cpu():
    try:
        assert configure_precision() == "float32"
        assert configure_precision("mixed_bfloat16") == "mixed_bfloat16"
        assert keras.config.dtype_policy().name == "mixed_bfloat16"
    finally:
        keras.config.set_dtype_policy("float32")


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"optimizer": "adam"}, "`optimizer` must be one of 'sgd', 'adamw'; got 'adam'"),
        ({"schedule": "linear"}, "`schedule` must be one of 'step', 'cosine', 'constant'"),
        ({"epochs": 0}, "`epochs` must be a positive integer, got 0"),
        ({"milestones": (0.5, 1.5)}, r"`milestones` must be a number in \(0, 1\], got 1.5"),
        ({"warmup_epochs": 20, "epochs": 10}, r"`warmup_epochs` must lie in \[0, epochs=10\]"),
        ({"weight_decay_style": "adamw"}, "`weight_decay_style` must be one of 'l2', 'decoupled'"),
    ],
)
def test_bad_settings_say_what_is_allowed(overrides, message):
    with pytest.raises(ValueError, match=message):
        TrainingConfig(**overrides)


def _two_steps(optimizer: keras.optimizers.Optimizer) -> np.ndarray:
    weight = keras.Variable(np.array([1.0, -2.0], "float32"))
    for _ in range(2):
        optimizer.apply_gradients([(np.zeros(2, "float32"), weight)])
    return keras.ops.convert_to_numpy(weight)


def test_l2_decay_enters_the_gradient_before_momentum_as_in_the_papers_frameworks():
    # zero loss gradient: g = l2 * w. Step 1: v = -lr*l2*w0; step 2 adds momentum * v
    lr, l2, momentum = 0.1, 0.5, 0.9
    first = np.array([1.0, -2.0]) * (1 - lr * l2)
    second = first - lr * l2 * first + momentum * (first - np.array([1.0, -2.0]))
    np.testing.assert_allclose(_two_steps(L2SGD(lr, momentum=momentum, l2=l2)), second,
                               rtol=1e-6)
    decoupled = _two_steps(keras.optimizers.SGD(lr, momentum=momentum, weight_decay=l2))
    np.testing.assert_allclose(decoupled, np.array([1.0, -2.0]) * (1 - lr * l2) ** 2, rtol=1e-6)


def test_the_default_recipe_decays_as_he_et_al_and_decoupled_is_keras_sgd():
    paper = _make_optimizer(TrainingConfig(), steps_per_epoch=10)
    assert isinstance(paper, L2SGD) and paper.l2 == 1e-4 and not paper.weight_decay
    keras_style = _make_optimizer(TrainingConfig(weight_decay_style="decoupled"), 10)
    assert type(keras_style) is keras.optimizers.SGD and keras_style.weight_decay == 1e-4


def test_l2sgd_survives_serialization_and_refuses_a_second_decay():
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(L2SGD(0.1, momentum=0.9, l2=5e-4)))
    assert isinstance(restored, L2SGD) and restored.l2 == 5e-4 and restored.momentum == 0.9
    with pytest.raises(ValueError, match="leave `weight_decay` unset"):
        L2SGD(0.1, weight_decay=1e-4)
    with pytest.raises(ValueError, match="`l2` must be >= 0"):
        L2SGD(0.1, l2=-1.0)


def test_history_summary_has_the_curves_the_final_figures_and_the_speed():
    from reslib.training import TrainingHistory

    history = TrainingHistory("digits", 100, {}, "cpu", "float32", train_loss=[2.0, 1.0],
                              train_error=[0.5, 0.25], epoch_seconds=[3.0, 1.0])
    summary = history.summary()
    assert summary["train_loss"] == [2.0, 1.0] and summary["final_train_error"] == 0.25
    assert summary["final_test_error"] is None  # trained without test data
    assert summary["train_seconds"] == 4.0 and summary["images_per_second"] == 100.0
