"""Specification of reslib.logits: every model trains on its float32 logits, on every backend.

The defect these tests pin down: cross-entropy computed from clipped softmax probabilities gives
no gradient to an example whose true-class probability is below 1e-7. On JAX (and PyTorch) that
is what ``from_logits=False`` computes, and a ResNet-56 whose initial logits are large never
learns those examples (He et al. 2016a's ResNet-56 then looked worse than ResNet-20).
"""

import keras
import numpy as np
import pytest

from reslib.logits import ends_in_softmax, logits_model
from reslib.models import cifar_resnet
from reslib.training import train


def saturated_classifier(head: str) -> keras.Model:
    """One dense layer whose prediction for the input ``[1, 0]`` is class 1 with a probability of
    ``1 - e^-40``: the true class 0 gets ``e^-40``, far below Keras' clip of 1e-7."""
    inputs = keras.Input((2,))
    if head == "dense_softmax":
        outputs = keras.layers.Dense(2, activation="softmax", name="classifier")(inputs)
    else:
        logits = keras.layers.Dense(2, name="classifier")(inputs)
        outputs = keras.layers.Activation("softmax", name="predictions")(logits)
    model = keras.Model(inputs, outputs)
    model.get_layer("classifier").set_weights([np.array([[0.0, 40.0], [0.0, 0.0]]), np.zeros(2)])
    return model


@pytest.mark.parametrize("head", ["dense_softmax", "separate_softmax"])
def test_a_saturated_wrong_prediction_still_gets_a_gradient(head):
    model = saturated_classifier(head)
    x, y = np.array([[1.0, 0.0]] * 8, "float32"), np.zeros(8, "int32")
    before = model.get_layer("classifier").get_weights()[0].copy()
    history = train(model, (x, y), epochs=1, batch_size=8, learning_rate=0.01, momentum=0.0,
                    weight_decay=0.0, progress=False)
    after = model.get_layer("classifier").get_weights()[0]
    # d(loss)/d(logit_1) = p_1 ~ 1 and d/d(logit_0) = p_0 - 1 ~ -1: one step of 0.01 moves both
    assert after[0, 0] == pytest.approx(before[0, 0] + 0.01, abs=1e-4)
    assert after[0, 1] == pytest.approx(before[0, 1] - 0.01, abs=1e-4)
    assert history.train_loss[0] == pytest.approx(40.0, abs=0.1), "the loss is not clipped at 16.1"


def test_the_logits_model_shares_the_weights_and_stops_before_the_softmax():
    model = cifar_resnet(8, input_shape=(8, 8, 3), classes=10)
    assert ends_in_softmax(model)
    trainer = logits_model(model)
    assert {id(w) for w in trainer.weights} == {id(w) for w in model.weights}
    x = np.random.default_rng(0).normal(size=(4, 8, 8, 3)).astype("float32")
    logits = keras.ops.convert_to_numpy(trainer(x, training=False))
    probabilities = keras.ops.convert_to_numpy(model(x, training=False))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(keras.ops.softmax(logits)),
                               probabilities, atol=1e-6)


def test_a_sequential_model_ending_in_softmax_trains_on_its_logits():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, activation="softmax")])
    model.layers[-1].set_weights([np.array([[0.0, 40.0], [0.0, 0.0]]), np.zeros(2)])
    history = train(model, (np.array([[1.0, 0.0]] * 8, "float32"), np.zeros(8, "int32")),
                    epochs=1, batch_size=8, learning_rate=0.01, momentum=0.0, weight_decay=0.0,
                    progress=False)
    assert history.train_loss[0] == pytest.approx(40.0, abs=0.1)


def test_a_model_that_already_outputs_logits_is_trained_as_it_is():
    model = cifar_resnet(8, input_shape=(8, 8, 3), classes=10, classifier_activation=None)
    assert not ends_in_softmax(model) and logits_model(model) is model


def test_a_subclassed_model_ending_in_softmax_is_refused_with_what_to_do():
    class Classifier(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(3, activation="softmax")

        def call(self, x):
            return self.dense(x)

    model = Classifier()
    model(np.zeros((1, 2), "float32"))
    with pytest.raises(ValueError, match="classifier_activation=None"):
        logits_model(model)


def test_under_mixed_precision_the_logits_and_probabilities_are_float32():
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        model = cifar_resnet(8, input_shape=(8, 8, 3), classes=10)
        trainer = logits_model(model)
    finally:
        keras.config.set_dtype_policy("float32")
    assert keras.backend.standardize_dtype(model.outputs[0].dtype) == "float32"
    assert keras.backend.standardize_dtype(trainer.outputs[0].dtype) == "float32"
    assert model.get_layer("stage1_block1").compute_dtype == "bfloat16"
