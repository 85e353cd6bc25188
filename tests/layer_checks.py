"""One check that every reslib layer passes: a small equivalent of Keras' ``run_layer_test``.

``check_layer(make_layer, input_shape, expected_output_shape)`` builds the layer and checks
  * the output shape, and that ``compute_output_shape`` predicts it;
  * ``get_config`` holds exactly the constructor's arguments and survives ``from_config``;
  * a clone with copied weights computes the same outputs;
  * a ``.keras`` save/load round trip inside a model computes the same outputs;
  * the trainable parameter count, when given;
  * one training step runs, gives a finite loss and changes every trainable weight;
  * under the ``mixed_bfloat16`` policy it computes in bfloat16 and keeps float32 variables.
It uses only public Keras APIs, so it runs on every backend.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np

LAYER_BASE_ARGUMENTS = {"name", "trainable", "dtype"}


def random_inputs(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


def constructor_arguments(layer_class: type) -> set[str]:
    """Named arguments of ``__init__`` along the class's reslib ancestry (up to keras' Layer)."""
    names: set[str] = set()
    for cls in layer_class.__mro__:
        if cls is keras.layers.Layer or not cls.__module__.startswith("reslib"):
            break
        if "__init__" in vars(cls):
            parameters = inspect.signature(cls.__init__).parameters.values()
            names |= {p.name for p in parameters if p.kind is p.POSITIONAL_OR_KEYWORD}
    return names - {"self"}


def trainable_parameter_count(layer: keras.layers.Layer) -> int:
    return sum(int(np.prod(w.shape)) for w in layer.trainable_weights)


def check_layer(
    make_layer: Callable[..., keras.layers.Layer],
    input_shape: tuple[int, ...],
    expected_output_shape: tuple[int, ...],
    expected_trainable_parameters: int | None = None,
    tmp_path: Path | None = None,
) -> keras.layers.Layer:
    """Run every check above on ``make_layer()``; return the built layer.

    ``make_layer(**extra_kwargs)`` must return a fresh, unbuilt layer (``extra_kwargs`` carries
    ``dtype`` for the mixed-precision check).
    """
    inputs = random_inputs(input_shape)
    layer = make_layer()
    outputs = layer(inputs, training=False)
    assert tuple(outputs.shape) == expected_output_shape, (
        f"{type(layer).__name__} output shape {tuple(outputs.shape)}, "
        f"expected {expected_output_shape}"
    )
    predicted = layer.compute_output_shape((None, *input_shape[1:]))
    assert tuple(predicted) == (None, *expected_output_shape[1:])

    _check_config(layer)
    _check_weight_copy(layer, inputs, outputs)
    if tmp_path is not None:
        _check_saving(layer, inputs, tmp_path)
    if expected_trainable_parameters is not None:
        assert trainable_parameter_count(layer) == expected_trainable_parameters
    _check_training_step(make_layer(), input_shape)
    _check_mixed_precision(make_layer(dtype="mixed_bfloat16"), inputs)
    return layer


def _check_config(layer: keras.layers.Layer) -> None:
    config = layer.get_config()
    expected = constructor_arguments(type(layer))
    assert set(config) - LAYER_BASE_ARGUMENTS == expected, (
        f"get_config keys {sorted(set(config) - LAYER_BASE_ARGUMENTS)} "
        f"!= constructor arguments {sorted(expected)}"
    )
    clone = type(layer).from_config(config)
    assert clone.get_config() == config


def _check_weight_copy(layer: keras.layers.Layer, inputs: np.ndarray, outputs: Any) -> None:
    clone = type(layer).from_config(layer.get_config())
    clone.build(inputs.shape)
    assert [w.shape for w in clone.weights] == [w.shape for w in layer.weights]
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(clone(inputs, training=False)),
        keras.ops.convert_to_numpy(outputs),
        rtol=1e-5,
        atol=1e-5,
    )


def _check_saving(layer: keras.layers.Layer, inputs: np.ndarray, tmp_path: Path) -> None:
    model = keras.Sequential([keras.Input(inputs.shape[1:]), layer])
    path = tmp_path / f"{layer.name}.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    assert type(restored.layers[0]) is type(layer)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(restored(inputs, training=False)),
        keras.ops.convert_to_numpy(model(inputs, training=False)),
        rtol=1e-5,
        atol=1e-5,
    )


def _check_training_step(layer: keras.layers.Layer, input_shape: tuple[int, ...]) -> None:
    model = keras.Sequential([keras.Input(input_shape[1:]), layer])
    if not layer.trainable_weights:
        return
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    inputs = random_inputs(input_shape, seed=1)
    targets = random_inputs((input_shape[0], *model.output_shape[1:]), seed=2)
    before = [keras.ops.convert_to_numpy(w) for w in layer.trainable_weights]
    history = model.fit(inputs, targets, epochs=1, batch_size=input_shape[0], verbose=0)
    assert np.isfinite(history.history["loss"][0])
    after = [keras.ops.convert_to_numpy(w) for w in layer.trainable_weights]
    unchanged = [
        w.path for w, old, new in zip(layer.trainable_weights, before, after)
        if np.array_equal(old, new)
    ]
    assert not unchanged, f"one training step left these weights unchanged: {unchanged}"


def _check_mixed_precision(layer: keras.layers.Layer, inputs: np.ndarray) -> None:
    outputs = layer(inputs, training=False)
    assert keras.backend.standardize_dtype(outputs.dtype) == "bfloat16"
    assert all(keras.backend.standardize_dtype(w.dtype) == "float32" for w in layer.weights)
