"""Specification of reslib.saving: reslib.load_model and its error for unregistered classes."""

import keras
import numpy as np
import pytest

import reslib
from reslib.layers import BasicBlock


@keras.saving.register_keras_serializable(package="test_saving")
class Twice(keras.layers.Layer):
    """A custom layer registered only while the test module is imported."""

    def call(self, inputs):
        return 2 * inputs


def test_load_model_restores_a_model_of_reslib_layers(tmp_path):
    inputs = keras.Input((4, 4, 8))
    model = keras.Model(inputs, BasicBlock(8, name="block")(inputs))
    model.save(tmp_path / "block.keras")
    loaded = reslib.load_model(tmp_path / "block.keras")
    assert isinstance(loaded.get_layer("block"), BasicBlock)
    images = np.random.default_rng(0).normal(size=(2, 4, 4, 8)).astype("float32")
    np.testing.assert_allclose(loaded.predict(images, verbose=0),
                               model.predict(images, verbose=0), atol=1e-6)


def test_a_missing_class_is_named_in_the_first_sentence(tmp_path, monkeypatch):
    inputs = keras.Input((3,))
    keras.Model(inputs, Twice(name="twice")(inputs)).save(tmp_path / "twice.keras")
    # a fresh process that never imported this module: the class is not registered
    monkeypatch.delitem(keras.saving.get_custom_objects(), "test_saving>Twice")
    with pytest.raises(TypeError) as caught:
        reslib.load_model(tmp_path / "twice.keras")
    first_sentence = str(caught.value).split(". ")[0]
    assert first_sentence.endswith(
        "twice.keras' uses the class 'Twice' (module tests.test_saving), which is not registered "
        "with Keras"
    )
    assert "Could not locate class 'Twice'" in str(caught.value)  # Keras' own message follows
    assert "custom_objects={'test_saving>Twice': Twice}" in str(caught.value)
    path, custom = tmp_path / "twice.keras", {"test_saving>Twice": Twice}
    loaded = reslib.load_model(path, custom_objects=custom)
    assert isinstance(loaded.get_layer("twice"), Twice)
