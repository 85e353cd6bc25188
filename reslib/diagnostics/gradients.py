"""Gradients and Jacobians: of blocks, and of a loss w.r.t. every layer of a network.

They answer the course's questions about residual connections: how the Jacobian ``I + dF/dx``
of a residual block looks (He, Zhang, Ren and Sun, "Identity Mappings in Deep Residual
Networks", ECCV 2016 = He et al. 2016b, eq. 4-5), and how the gradient's norm changes on its way
from a deep network's output back to its input and its first layers. Every function runs the
model in a ``keras.StatelessScope``, so measuring never changes it (not even batch norm's moving
statistics).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
from keras import ops

from reslib.diagnostics import _graph
from reslib.diagnostics._autodiff import scalar_gradients, vjp


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
        return vjp(function, inputs, output_gradient)


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


def block_jacobian(block: Callable[..., Any], x: Any) -> np.ndarray:
    """The Jacobian of a block (in inference mode) at one example ``x``.

    For a residual block ``y = x + F(x)`` it is ``I + dF/dx`` (He et al. 2016b, eq. 5): a block
    whose branch starts at zero (``zero_init_residual``, ReZero) has exactly ``I``.

    Args:
        block: a Keras layer (or any function) that maps ``(1, *shape)`` to ``(1, *out_shape)``;
            a layer is called with ``training=False``, so batch norm uses its moving statistics.
        x: array of shape ``(1, *shape)``.

    Returns:
        ``J`` of shape ``(prod(out_shape), prod(shape))``, as ``jacobian`` returns it.
    """
    if isinstance(block, keras.layers.Layer):
        return jacobian(lambda inputs: block(inputs, training=False), x)
    return jacobian(block, x)


def jacobian_singular_values(block: Callable[..., Any], x: Any) -> np.ndarray:
    """The singular values of ``block_jacobian(block, x)``, largest first.

    All equal to 1 for an identity block; values far above or below 1 multiply into exploding
    or vanishing gradients over a deep stack (Saxe et al. 2014's dynamical isometry). Shape:
    ``(min(prod(out_shape), prod(shape)),)``.
    """
    return np.linalg.svd(block_jacobian(block, x), compute_uv=False)


@dataclass(frozen=True)
class GradientNorms:
    """What ``gradient_norms`` measured, one entry per top-level layer in the order of calls.

    Attributes:
        layers: the layers' names.
        kinds: their class names (``"BasicBlock"``, ``"Dense"``, ...), to select blocks.
        weights: ``||dL/dW||`` over all trainable weights of each layer (NaN for a layer with
            none, e.g. ReLU or pooling).
        activations: ``||dL/dx||`` for the input ``x`` of each layer, i.e. the output of the
            layer before it (all of a layer's inputs together for ``Add`` and the like).
        loss: the loss at which the gradients were taken.
    """

    layers: tuple[str, ...]
    kinds: tuple[str, ...]
    weights: np.ndarray
    activations: np.ndarray
    loss: float

    def select(self, kinds: str | tuple[str, ...]) -> GradientNorms:
        """Only the layers of the given class name(s), e.g. ``select("BasicBlock")``."""
        kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
        keep = [i for i, kind in enumerate(self.kinds) if kind in kinds]
        return GradientNorms(
            tuple(self.layers[i] for i in keep), tuple(self.kinds[i] for i in keep),
            self.weights[keep], self.activations[keep], self.loss,
        )


class _Offsets:
    """Zero offsets added to the inputs of every layer; their gradients are the inputs' ones.

    ``insert`` is a ``call_function`` for ``rewire`` that puts an ``_InputOffset`` in front of
    each layer with floating-point inputs. A first forward pass records zeros of the inputs'
    shapes (``zeros``); ``set`` then feeds offsets (differentiable tensors) to the layers.
    A plain object rather than a dict, which a Keras layer would copy.
    """

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.zeros: dict[str, Any] = {}

    def insert(self, layer: keras.layers.Layer, *args: Any, **kwargs: Any) -> Any:
        first = args[0]
        if all(_is_float(t) for t in keras.tree.flatten(first)):
            first = _InputOffset(self, layer.name)(first)
        return layer(first, *args[1:], **kwargs)

    def _spans(self) -> list[tuple[str, int, int]]:
        sizes = [len(keras.tree.flatten(zeros)) for zeros in self.zeros.values()]
        bounds = np.cumsum([0, *sizes])
        return list(zip(self.zeros, bounds[:-1], bounds[1:]))

    def flat_zeros(self) -> list[Any]:
        return [t for zeros in self.zeros.values() for t in keras.tree.flatten(zeros)]

    def set(self, flat: list[Any]) -> None:
        for name, start, stop in self._spans():
            self.values[name] = keras.tree.pack_sequence_as(self.zeros[name], flat[start:stop])

    def norms(self, flat_gradients: list[np.ndarray]) -> dict[str, float]:
        """``{layer name: norm of the gradients of its offsets}``."""
        return {
            name: float(np.sqrt(sum(np.sum(np.square(g)) for g in flat_gradients[start:stop])))
            for name, start, stop in self._spans()
        }


class _InputOffset(keras.layers.Layer):
    """Adds ``offsets.values[key]`` (when set) to its inputs, else records zeros of their shape.

    The gradient of the loss w.r.t. a zero offset is the gradient w.r.t. the activation the
    layer receives.
    """

    def __init__(self, offsets: _Offsets, key: str) -> None:
        super().__init__()
        self.offsets, self.key = offsets, key

    def call(self, inputs: Any) -> Any:
        offset = self.offsets.values.get(self.key)
        if offset is None:
            self.offsets.zeros[self.key] = keras.tree.map_structure(ops.zeros_like, inputs)
            return inputs
        return keras.tree.map_structure(ops.add, inputs, offset)

    def compute_output_spec(self, inputs: Any) -> Any:
        return keras.tree.map_structure(
            lambda t: keras.KerasTensor(t.shape, dtype=t.dtype), inputs
        )


def gradient_norms(
    model: keras.Model, x: Any, y: Any, loss: Any = None, training: bool = True
) -> GradientNorms:
    """Per-layer norms of the loss gradient w.r.t. weights and w.r.t. the layers' inputs.

    The probe of lesson 02: in a deep plain network the gradient that reaches the first layers
    is orders of magnitude smaller (or larger) than at the last; through identity shortcuts it
    reaches every block with about the same norm (He et al. 2016b, eq. 5; Glorot and Bengio
    2010 for the plain case). One forward and one backward pass, on one batch; the graph is
    re-traced with a zero offset in front of every layer, whose gradient is the gradient w.r.t.
    that layer's input.

    Args:
        model: a functional or Sequential model (e.g. ``cifar_resnet``), called with ``training``.
        x: inputs ``(batch, ...)``.
        y: targets: integer labels ``(batch,)`` or whatever ``loss`` takes.
        loss: a Keras loss, its name or a function of ``(y_true, y_pred)``; default the
            compiled loss, else cross-entropy (on logits unless the model ends in a softmax).
            Averaged over the batch; regularization losses are left out.
        training: ``True`` (default) measures what training sees (batch norm uses the batch's
            statistics); the moving statistics are not updated either way.

    Returns:
        ``GradientNorms`` with one entry per top-level layer, in the order of calls. A layer
        that takes integer inputs (``Embedding``) has NaN as its activation norm.
    """
    layers = _graph.top_level_layers(model)
    offsets = _Offsets()
    probed = _graph.rewire(model, offsets.insert)
    loss_fn = _graph.resolve_loss(model, loss, y)
    x = ops.convert_to_tensor(x)
    with keras.StatelessScope():
        probed(x, training=training)  # records zeros of the shape of every layer's inputs
    variables = _unique([v for layer in layers for v in layer.trainable_variables])

    def compute_loss(tensors: list[Any]) -> Any:
        offsets.set(tensors)
        try:
            return loss_fn(y, probed(x, training=training))
        finally:
            offsets.values.clear()

    with keras.StatelessScope():
        value, weight_grads, offset_grads = scalar_gradients(
            compute_loss, variables, offsets.flat_zeros()
        )
    squares = {id(v): float(np.sum(np.square(g))) for v, g in zip(variables, weight_grads)}
    input_norms = offsets.norms(offset_grads)
    return GradientNorms(
        layers=tuple(layer.name for layer in layers),
        kinds=tuple(type(layer).__name__ for layer in layers),
        weights=np.array([_weight_norm(layer, squares) for layer in layers]),
        activations=np.array([input_norms.get(layer.name, np.nan) for layer in layers]),
        loss=value,
    )


def _is_float(tensor: Any) -> bool:
    return "float" in keras.backend.standardize_dtype(tensor.dtype)


def _unique(variables: list[keras.Variable]) -> list[keras.Variable]:
    """``variables`` without repeats (a layer shared by two calls), in order."""
    seen: dict[int, keras.Variable] = {}
    for variable in variables:
        seen.setdefault(id(variable), variable)
    return list(seen.values())


def _weight_norm(layer: keras.layers.Layer, squares: dict[int, float]) -> float:
    """``||dL/dW||`` over the trainable weights of ``layer``; NaN if it has none."""
    weights = _unique(list(layer.trainable_variables))
    if not weights:
        return float("nan")
    return float(np.sqrt(sum(squares[id(w)] for w in weights)))
