"""Train on logits, whatever a classifier's last activation: the loss defect this module fixes.

A classifier that ends in a softmax hands the loss probabilities. Keras' cross-entropy on
probabilities clips them to ``[1e-7, 1 - 1e-7]`` and takes their log; a sample whose true-class
probability lies below ``1e-7`` then contributes a constant, and so *no gradient*. TensorFlow
hides this by recovering the logits that its softmax op saw; JAX and PyTorch cannot. A freshly
initialised ResNet-56 has logits with a standard deviation of about 3, and a few percent of its
true-class probabilities start below ``1e-7``: on JAX those examples are never learned, and the
56-layer net ends far behind the 20-layer one, the opposite of He et al. 2016a.

``logits_model(model)`` returns a model that shares every layer (so every weight) with ``model``
and outputs its float32 logits, the input of the final softmax; ``reslib.training.train`` fits that
model with ``from_logits=True`` on every backend. The softmax model stays what you predict with.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

__all__ = ["ends_in_softmax", "logits_model"]


def _is_softmax(activation: Any) -> bool:
    if activation is None:
        return False
    if isinstance(activation, str):
        return activation == "softmax"
    return activation is keras.activations.softmax or getattr(activation, "__name__", "") == (
        "softmax"
    )


def ends_in_softmax(model: keras.Model) -> bool:
    """Whether ``model``'s last layer is a softmax: a ``Softmax`` layer, an ``Activation`` or a
    layer (``Dense``, ``Conv2D``...) whose ``activation`` is softmax."""
    if not model.layers:
        return False
    last = model.layers[-1]
    return isinstance(last, keras.layers.Softmax) or _is_softmax(getattr(last, "activation", None))


class _LinearPart(keras.layers.Layer):
    """``x @ kernel + bias`` of an existing ``Dense`` layer, without its activation, in float32.

    Shares the ``Dense`` layer's variables (it owns none): training through it trains the dense
    layer. A training-time view of a user's model, never saved, so it has no config.
    Input ``(batch, ..., units_in)``, output ``(batch, ..., units)``.
    """

    def __init__(self, dense: keras.layers.Dense, **kwargs: Any) -> None:
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if not isinstance(dense, keras.layers.Dense):
            raise ValueError(f"_LinearPart needs a keras.layers.Dense; got {type(dense).__name__}.")
        self.dense = dense

    def call(self, inputs: Any) -> Any:
        kernel = ops.cast(self.dense.kernel, "float32")
        outputs = ops.matmul(ops.cast(inputs, "float32"), kernel)
        if self.dense.use_bias:
            outputs = ops.add(outputs, ops.cast(self.dense.bias, "float32"))
        return outputs

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (*input_shape[:-1], self.dense.units)


def logits_model(model: keras.Model) -> keras.Model:
    """A model with ``model``'s layers and weights whose output is its float32 logits.

    ``(batch, ...) -> (batch, classes)``. If ``model`` ends in a softmax (a ``Softmax`` or softmax
    ``Activation`` layer, or a ``Dense`` with ``activation="softmax"``), the result stops before
    it; otherwise the output is already logits and is only cast to float32 (under mixed precision a
    float16 or bfloat16 output would otherwise reach the loss). Functional and Sequential models
    are supported; a subclassed model that ends in a softmax cannot be cut and raises a
    ``ValueError`` saying what to do.
    """
    if not isinstance(model, keras.Model):
        raise ValueError(f"logits_model needs a keras.Model; got {type(model).__name__}.")
    softmax = ends_in_softmax(model)
    if not _has_graph(model):
        if softmax:
            raise ValueError(
                f"Model {model.name!r} ends in a softmax but is not a functional or Sequential "
                "model, so its logits cannot be reached: end it in logits (e.g. "
                "classifier_activation=None) and train with from_logits=True."
            )
        return model
    last = model.layers[-1]
    if not softmax:
        logits = model.outputs[0]
        if keras.backend.standardize_dtype(logits.dtype) == "float32":
            return model
    elif isinstance(last, (keras.layers.Softmax, keras.layers.Activation)):
        logits = last.input
    elif isinstance(last, keras.layers.Dense):
        logits = _LinearPart(last, name=f"{last.name}_logits")(last.input)
    else:
        raise ValueError(
            f"Model {model.name!r} ends in a {type(last).__name__} with a softmax activation; "
            "reslib can cut a Softmax or Activation layer, or a Dense layer. End the model in "
            "logits, or in a separate keras.layers.Activation('softmax')."
        )
    if keras.backend.standardize_dtype(logits.dtype) != "float32":
        logits = keras.layers.Activation("linear", dtype="float32", name="logits_float32")(logits)
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    return keras.Model(inputs, logits, name=f"{model.name}_logits")


def _has_graph(model: keras.Model) -> bool:
    """Whether ``model`` is a built functional or Sequential model with symbolic inputs/outputs."""
    try:
        return bool(model.inputs) and bool(model.outputs)
    except (AttributeError, ValueError):
        return False
