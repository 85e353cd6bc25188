"""Re-tracing functional models with shared layers, and evaluating a loss and an error.

What the lesion study, the gradient probe and the loss landscape share. A functional (or
Sequential) Keras model is a graph of layer calls; ``keras.models.clone_model`` with a
``clone_function`` that returns each layer itself re-traces that graph on new inputs with the
*same* layers, hence the same weights, and its ``call_function`` can change a call on the way
(replace a block by the identity, add an offset to a layer's input).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np
from keras import ops

LossFunction = Callable[[Any, Any], Any]


def as_functional(model: keras.Model) -> keras.Model:
    """``model`` as a functional model over the same layers (a Sequential one is wrapped)."""
    if isinstance(model, keras.Sequential):
        if not model.built or not getattr(model, "inputs", None):
            raise ValueError(
                f"Sequential model {model.name!r} has no input yet; start it with keras.Input(...) "
                "or call it on data once."
            )
        return keras.Model(model.inputs, model.outputs, name=model.name)
    if not isinstance(model, keras.Model) or not hasattr(model, "_nodes_by_depth"):
        raise ValueError(
            "This diagnostic needs a functional or Sequential keras.Model (a graph of layer "
            f"calls); got {type(model).__name__} {getattr(model, 'name', model)!r}."
        )
    return model


def top_level_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The layers of ``model`` in the order they are called, without its input layers."""
    return [
        layer for layer in as_functional(model).layers
        if not isinstance(layer, keras.layers.InputLayer)
    ]


def top_level_layers_of(model: keras.Model, layer_class: type) -> list[keras.layers.Layer]:
    """The top-level ``layer_class`` layers of ``model``; a ValueError lists its layers if none."""
    layers = top_level_layers(model)
    found = [layer for layer in layers if isinstance(layer, layer_class)]
    if not found:
        raise ValueError(
            f"Model {model.name!r} has no {layer_class.__name__} layers at its top level; its "
            f"layers are {[layer.name for layer in layers]}."
        )
    return found


def layers_by_name(model: keras.Model, names: Any) -> list[keras.layers.Layer]:
    """The top-level layers called ``names`` (in model order); a ValueError names unknown ones."""
    layers = top_level_layers(model)
    if isinstance(names, str):
        names = [names]
    known = {layer.name for layer in layers}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(
            f"Model {model.name!r} has no top-level layers named {unknown}; its layers are "
            f"{sorted(known)}."
        )
    return [layer for layer in layers if layer.name in set(names)]


def rewire(model: keras.Model, call: Callable[..., Any]) -> keras.Model:
    """Re-trace ``model`` with the same layers, calling ``call(layer, *args, **kwargs)`` for each.

    No weight is copied: the new model shares every layer, and so every variable, with
    ``model``. ``call`` may return ``layer(*args, **kwargs)`` or anything of that shape.
    """
    return keras.models.clone_model(
        as_functional(model), clone_function=lambda layer: layer, call_function=call
    )


def resolve_loss(model: keras.Model, loss: Any, y: Any) -> LossFunction:
    """``(y_true, y_pred) -> scalar`` from ``loss``, or a default that suits ``model`` and ``y``.

    ``loss`` may be a ``keras.losses.Loss``, a loss name, or a function of
    ``(y_true, y_pred)``; per-example values are averaged. ``None`` takes the model's compiled
    loss if it has one, else cross-entropy: sparse for integer labels, categorical for one-hot
    ``y``; on logits, or on the probabilities of a model that ends in a softmax, clipped far
    below Keras' 1e-7 (see ``_probability_cross_entropy``).
    """
    if loss is None and getattr(model, "compiled", False) and getattr(model, "loss", None):
        loss = model.loss
    if loss is None:
        outputs = as_functional(model).outputs
        if len(outputs) != 1:
            raise ValueError(
                f"Model {model.name!r} has {len(outputs)} outputs; pass `loss` explicitly."
            )
        one_hot = np.ndim(y) == len(outputs[0].shape) and np.shape(y)[-1] > 1
        softmax = _ends_in_softmax(model)
        if softmax and keras.backend.backend() != "tensorflow":
            # TensorFlow recovers the logits behind a softmax (exact even when a probability
            # underflows to 0); elsewhere Keras would clip at 1e-7
            return _probability_cross_entropy(one_hot)
        loss = (
            keras.losses.CategoricalCrossentropy(from_logits=not softmax) if one_hot
            else keras.losses.SparseCategoricalCrossentropy(from_logits=not softmax)
        )
    if isinstance(loss, (dict, list, tuple)):
        raise ValueError(f"One loss for one output is supported; got {loss!r}.")
    function = keras.losses.get(loss) if isinstance(loss, str) else loss
    if not callable(function):
        raise ValueError(f"`loss` must be a Keras loss, its name or a function; got {loss!r}.")
    return lambda y_true, y_pred: ops.mean(function(y_true, y_pred))


def _probability_cross_entropy(one_hot: bool) -> LossFunction:
    """Mean ``-log p(true class)`` from softmax outputs, clipped only at float32's smallest
    normal number. Keras clips probabilities to ``[1e-7, 1 - 1e-7]``, and on JAX and torch (which
    cannot recover the logits, see ``reslib.logits``) an example below ``1e-7`` then has no
    gradient: a gradient probe would miss exactly the examples the model gets most wrong."""
    tiny = float(np.finfo("float32").tiny)

    def loss(y_true: Any, probabilities: Any) -> Any:
        probabilities = ops.cast(probabilities, "float32")
        if one_hot:
            chosen = ops.sum(ops.cast(y_true, "float32") * probabilities, axis=-1)
        else:
            labels = ops.reshape(ops.cast(y_true, "int32"), (-1,))
            chosen = ops.take_along_axis(probabilities, labels[:, None], axis=-1)[:, 0]
        return ops.mean(-ops.log(ops.maximum(chosen, tiny)))

    return loss


def _ends_in_softmax(model: keras.Model) -> bool:
    last = top_level_layers(model)[-1]
    if isinstance(last, keras.layers.Softmax):
        return True
    activation = getattr(last, "activation", None)
    return activation is keras.activations.softmax or activation == "softmax"


def classification_error(y: np.ndarray, predictions: np.ndarray) -> float:
    """Fraction of examples whose arg-max prediction is not the label; NaN if not a classifier.

    ``y`` holds integer labels ``(batch,)``/``(batch, 1)`` or one-hot rows ``(batch, classes)``.
    """
    predictions = np.asarray(predictions)
    y = np.asarray(y)
    if predictions.ndim != 2 or predictions.shape[-1] < 2:
        return float("nan")
    labels = y.argmax(-1) if y.ndim == 2 and y.shape[-1] > 1 else y.reshape(len(y))
    return float(np.mean(predictions.argmax(-1) != labels))


def evaluate(
    function: Callable[[Any], Any],
    x: Any,
    y: Any,
    loss: LossFunction,
    batch_size: int | None = None,
    state_mapping: list[tuple[keras.Variable, Any]] | None = None,
) -> tuple[float, float]:
    """``(mean loss, classification error)`` of ``function`` on ``(x, y)``.

    ``function(x_batch)`` returns predictions. Runs in a ``keras.StatelessScope`` (no state
    changes) whose ``state_mapping`` can give variables other values, over batches of
    ``batch_size`` (all of ``x`` at once when ``None``).
    """
    total = len(x)
    size = total if batch_size is None else batch_size
    loss_sum, wrong = 0.0, 0.0
    with keras.StatelessScope(state_mapping=state_mapping):
        for start in range(0, total, size):
            x_batch, y_batch = x[start:start + size], y[start:start + size]
            predictions = function(ops.convert_to_tensor(x_batch))
            count = len(x_batch)
            loss_sum += float(ops.convert_to_numpy(loss(y_batch, predictions))) * count
            wrong += classification_error(y_batch, ops.convert_to_numpy(predictions)) * count
    return loss_sum / total, wrong / total


def predict_function(model: keras.Model) -> Callable[[Any], Any]:
    """``x -> model(x, training=False)``."""
    return lambda inputs: model(inputs, training=False)
