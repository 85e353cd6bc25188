"""The one place where reslib calls a backend's autodiff directly.

Keras 3 has no backend-neutral ``grad`` in ``keras.ops``, so these two helpers dispatch to the
active backend (``tf.GradientTape``, ``jax.vjp``/``jax.value_and_grad``, ``torch.autograd``).
Everything else in ``reslib.diagnostics`` is ``keras.ops`` and calls them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
from keras import ops


def _unsupported(backend: str) -> NotImplementedError:
    return NotImplementedError(f"Gradients are not implemented for the {backend!r} backend.")


def vjp(function: Callable[[Any], Any], inputs: Any, output_gradient: Any) -> np.ndarray:
    """``output_gradient^T dF/dx`` at ``inputs`` as a NumPy array of ``inputs``' shape."""
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
    raise _unsupported(backend)


def scalar_gradients(
    function: Callable[[list[Any]], Any],
    variables: Sequence[keras.Variable],
    tensors: Sequence[Any] = (),
) -> tuple[float, list[np.ndarray], list[np.ndarray]]:
    """A scalar ``function(tensors)`` and its gradients w.r.t. ``variables`` and ``tensors``.

    ``function`` runs inside a ``keras.StatelessScope`` whose ``state_mapping`` gives each of
    ``variables`` its current value as a differentiable tensor (what ``Layer.stateless_call``
    does), so the same code differentiates w.r.t. weights on every backend and never assigns
    to a variable. ``tensors`` are extra inputs (e.g. zero offsets added to activations).

    Returns:
        ``(value, variable_gradients, tensor_gradients)``: a float and two lists of NumPy arrays
        of the variables' and tensors' shapes (zeros where ``function`` does not depend on one).
    """
    backend = keras.backend.backend()
    variables = list(variables)
    values = [ops.copy(v) for v in variables]  # tensors, not variables: differentiable inputs
    tensors = [ops.convert_to_tensor(t) for t in tensors]

    def run(values: list[Any], tensors: list[Any]) -> Any:
        with keras.StatelessScope(state_mapping=list(zip(variables, values))):
            return function(tensors)

    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(values + tensors)
            value = run(values, tensors)
        grads = tape.gradient(
            value, values + tensors, unconnected_gradients=tf.UnconnectedGradients.ZERO
        )
    elif backend == "jax":
        import jax

        value, (value_grads, tensor_grads) = jax.value_and_grad(run, argnums=(0, 1))(
            values, tensors
        )
        grads = list(value_grads) + list(tensor_grads)
    elif backend == "torch":
        import torch

        leaves = [t.detach().requires_grad_(True) for t in values + tensors]
        value = run(leaves[: len(values)], leaves[len(values):])
        grads = torch.autograd.grad(value, leaves, allow_unused=True)
        grads = [ops.zeros_like(t) if g is None else g for t, g in zip(leaves, grads)]
    else:
        raise _unsupported(backend)
    grads = [ops.convert_to_numpy(g) for g in grads]
    return float(ops.convert_to_numpy(value)), grads[: len(values)], grads[len(values):]
