"""Gradients and Jacobians of Keras layers and models, on any backend.

Keras 3 has no backend-neutral ``grad`` in ``keras.ops``, so these helpers dispatch to the active
backend's autodiff (``tf.GradientTape``, ``jax.vjp``, ``torch.autograd``); everything else is
``keras.ops``. They answer the course's questions about residual connections: how the Jacobian
``I + dF/dx`` of a residual block looks (He et al. 2016b, eq. 4-5), and how the gradient norm
changes on its way from a deep network's output back to its input.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np
from keras import ops


def vector_jacobian_product(
    function: Callable[[Any], Any], inputs: Any, output_gradient: Any
) -> np.ndarray:
    """``output_gradient`` pulled back through ``function`` at ``inputs``: ``v^T dF/dx``.

    Args:
        function: maps a tensor of ``inputs``' shape to a tensor (a layer, a model, a lambda).
        inputs: array of shape ``(batch, ...)``.
        output_gradient: array of the output's shape, e.g. ``dLoss/dOutput``.

    Returns:
        ``dLoss/dInputs`` as a NumPy array of ``inputs``' shape.

    ``function`` runs in a ``keras.StatelessScope``: state updates it makes (batch norm's
    moving statistics in training mode) are discarded, so measuring never changes the model.
    """
    with keras.StatelessScope():
        return _vector_jacobian_product(function, inputs, output_gradient)


def _vector_jacobian_product(
    function: Callable[[Any], Any], inputs: Any, output_gradient: Any
) -> np.ndarray:
    backend = keras.backend.backend()
    inputs = ops.convert_to_tensor(inputs)
    output_gradient = ops.convert_to_tensor(output_gradient)
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(inputs)
            outputs = function(inputs)
        return ops.convert_to_numpy(tape.gradient(outputs, inputs, output_gradient))
    if backend == "jax":
        import jax

        _, pullback = jax.vjp(function, inputs)
        return ops.convert_to_numpy(pullback(output_gradient.astype(inputs.dtype))[0])
    if backend == "torch":
        inputs = inputs.detach().requires_grad_(True)
        outputs = function(inputs)
        outputs.backward(output_gradient.to(outputs.dtype))
        return ops.convert_to_numpy(inputs.grad)
    raise NotImplementedError(f"Gradients are not implemented for the {backend!r} backend.")


def jacobian(function: Callable[[Any], Any], inputs: Any) -> np.ndarray:
    """The Jacobian of ``function`` at a single example ``inputs``.

    Args:
        function: maps ``(1, *shape)`` to ``(1, *out_shape)``.
        inputs: array of shape ``(1, *shape)``: one example, with its batch axis.

    Returns:
        ``J`` of shape ``(prod(out_shape), prod(shape))`` with ``J[i, j] = d out_i / d in_j``,
        built one row at a time (meant for the small inputs of lessons and tests).
    """
    inputs = ops.convert_to_tensor(inputs)
    if inputs.shape[0] != 1:
        raise ValueError(f"jacobian() takes one example of shape (1, ...); got {inputs.shape}.")
    with keras.StatelessScope():
        out_shape = tuple(ops.shape(function(inputs)))
    size = int(np.prod(out_shape))
    rows = []
    for index in range(size):
        basis = np.zeros(size, dtype="float32")
        basis[index] = 1.0
        row = vector_jacobian_product(function, inputs, basis.reshape(out_shape))
        rows.append(row.reshape(-1))
    return np.stack(rows)


def gradient_norm_ratio(
    model: Callable[[Any], Any], inputs: Any, relative: bool = False, seed: int = 0
) -> float:
    """``||dL/dx|| / ||dL/dy||`` for a random output gradient ``dL/dy``.

    How much the gradient grows (> 1) or shrinks (< 1) on its way from the output ``y`` of
    ``model`` back to its input ``x`` (He et al. 2016b, section 3: through identity shortcuts
    the gradient reaches every layer directly).

    Args:
        model: maps ``inputs`` (``(batch, ...)``) to an output tensor.
        inputs: array of shape ``(batch, ...)``.
        relative: multiply by ``||x|| / ||y||``: the gradient scale coefficient of Philipp,
            Song and Carbonell, "The exploding gradient problem demystified", 2018. It does not
            change when ``x`` is rescaled, which a raw ratio does for batch-normalised nets.
        seed: for the random output gradient.
    """
    with keras.StatelessScope():
        output = ops.convert_to_numpy(model(ops.convert_to_tensor(inputs)))
    output_gradient = np.random.default_rng(seed).standard_normal(output.shape).astype("float32")
    input_gradient = vector_jacobian_product(model, inputs, output_gradient)
    ratio = np.linalg.norm(input_gradient) / np.linalg.norm(output_gradient)
    if relative:
        ratio *= np.linalg.norm(ops.convert_to_numpy(inputs)) / np.linalg.norm(output)
    return float(ratio)
