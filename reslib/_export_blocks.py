"""reslib's composite layers re-expressed as functional graphs of Keras layers, for export.

``BasicBlock``/``BottleneckBlock`` (He et al. 2016a/b), ``Shortcut``, ``Residual``,
``DenseBlock``/``DenseLayer``/``Transition`` (Huang et al. 2017) hold their convolutions and
batch norms inside one layer, where a graph pass cannot see a conv -> BN pair. For an inference
export, ``expand_composites`` re-traces a model and replaces each call of such a layer by the
same computation at inference, written with copies of its sublayers (weights copied) and Keras'
``ReLU``, ``Add`` and ``Concatenate``: the same outputs, and every pair now visible to
``reslib.export.fold_batchnorm``. Dropout, an identity at inference, is left out. Any other layer
is copied with its weights, so the result shares no variable with the original model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras

from reslib.layers.blocks import BasicBlock, BottleneckBlock
from reslib.layers.dense import DenseBlock, DenseLayer, Transition
from reslib.layers.residual import Residual
from reslib.layers.shortcut import Shortcut

Nested = Callable[[keras.Model], keras.Model]


class _Expansion:
    """One re-tracing: the copies made so far (a layer called twice is copied once)."""

    def __init__(self, nested: Nested) -> None:
        self.nested = nested
        self.copies: dict[int, keras.layers.Layer] = {}

    def call(self, layer: keras.layers.Layer, *args: Any, **kwargs: Any) -> Any:
        """``clone_model``'s call function for a top-level layer."""
        return self.apply(layer, layer.name, *args, **kwargs)

    def apply(self, layer: keras.layers.Layer, name: str, *args: Any, **kwargs: Any) -> Any:
        """``layer(*args, **kwargs)`` at inference, expanded where reslib knows the layer."""
        expander = EXPANDERS.get(type(layer))
        if expander is not None:
            return expander(self, layer, args[0], name)
        if isinstance(layer, keras.Sequential) or (
            isinstance(layer, keras.Model) and hasattr(layer, "_nodes_by_depth")
        ):
            if id(layer) not in self.copies:
                self.copies[id(layer)] = self.nested(layer)
            return self.copies[id(layer)](*args, **kwargs)
        return self.copy(layer, name, *args, **kwargs)

    def copy(self, layer: keras.layers.Layer, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call a copy of ``layer`` named ``name`` with ``layer``'s weights (copied once)."""
        fresh = id(layer) not in self.copies
        if fresh:
            config = dict(layer.get_config(), name=name)
            self.copies[id(layer)] = type(layer).from_config(config)
        outputs = self.copies[id(layer)](*args, **kwargs)
        if fresh:
            self.copies[id(layer)].set_weights(layer.get_weights())
        return outputs


def expand_composites(model: keras.Model, nested: Nested) -> keras.Model:
    """A copy of the functional ``model`` with reslib's composite layers expanded.

    Args:
        model: a functional ``keras.Model``.
        nested: what to make of a functional model used as a layer inside ``model`` (e.g.
            ``fold_batchnorm`` itself, so nested models are folded within).

    Returns:
        A functional model with the same inputs and inference outputs, sharing no variables.
    """
    expansion = _Expansion(nested)
    return keras.models.clone_model(
        model, clone_function=lambda layer: layer, call_function=expansion.call
    )


def _channel_axis(layer: keras.layers.Layer) -> int:
    """1 for a ``channels_first`` layer, else -1 (layers without ``data_format`` included)."""
    return 1 if getattr(layer, "data_format", None) == "channels_first" else -1


def _relu(block: keras.layers.Layer, x: Any, name: str) -> Any:
    return keras.layers.ReLU(name=name, dtype=block.dtype_policy)(x)


def _add(block: keras.layers.Layer, a: Any, b: Any, name: str) -> Any:
    return keras.layers.Add(name=name, dtype=block.dtype_policy)([a, b])


def _scale_and_drop(run: _Expansion, block: Any, hidden: Any, name: str) -> Any:
    """The branch's LayerScale/ReZero, then DropPath (which is what it is at inference)."""
    for layer in (block.branch_scale, block.drop_path_layer):
        if layer is not None:
            hidden = run.copy(layer, f"{name}_{layer.name}", hidden)
    return hidden


def expand_resnet_block(run: _Expansion, block: Any, x: Any, name: str) -> Any:
    """``BasicBlock``/``BottleneckBlock.call`` at inference (He et al. 2016a, 2016b)."""
    hidden, shortcut_input = x, x
    last = len(block.convs) - 1
    projects = block.shortcut_layer is not None and block.shortcut_layer.projects
    for index, (conv, norm) in enumerate(zip(block.convs, block.norms)):
        if block.preact:
            hidden = run.copy(norm, f"{name}_{norm.name}", hidden)
            hidden = _relu(block, hidden, f"{name}_relu{index + 1}")
            if index == 0 and projects:
                shortcut_input = hidden
            hidden = run.copy(conv, f"{name}_{conv.name}", hidden)
        else:
            hidden = run.copy(conv, f"{name}_{conv.name}", hidden)
            hidden = run.copy(norm, f"{name}_{norm.name}", hidden)
            if index < last:
                hidden = _relu(block, hidden, f"{name}_relu{index + 1}")
    if block.shortcut_layer is not None:
        hidden = _scale_and_drop(run, block, hidden, name)
        shortcut = expand_shortcut(run, block.shortcut_layer, shortcut_input, f"{name}_shortcut")
        hidden = _add(block, shortcut, hidden, f"{name}_add")
    if not block.preact:
        hidden = _relu(block, hidden, f"{name}_out")
    return hidden


def expand_shortcut(run: _Expansion, shortcut: Any, x: Any, name: str) -> Any:
    """``Shortcut.call``: projection (+ BN) as two layers, the identity as nothing, option A
    (zero padding, no weights) as a copy of the layer."""
    if shortcut.projection is not None:
        hidden = run.copy(shortcut.projection, f"{name}_projection", x)
        if shortcut.norm is not None:
            hidden = run.copy(shortcut.norm, f"{name}_norm", hidden)
        return hidden
    same_channels = shortcut.filters in (None, x.shape[_channel_axis(shortcut)])
    if shortcut.mode == "identity" or (shortcut.strides == 1 and same_channels):
        return x
    return run.copy(shortcut, name, x)


def expand_residual(run: _Expansion, block: Any, x: Any, name: str) -> Any:
    """``Residual.call``: the branch (itself expanded), scale/drop, shortcut, activation."""
    hidden = run.apply(block.branch, f"{name}_{block.branch.name}", x)
    if block.shortcut_layer is not None:
        hidden = _scale_and_drop(run, block, hidden, name)
        shortcut = block.shortcut_layer
        if isinstance(shortcut, Shortcut):
            skip = expand_shortcut(run, shortcut, x, f"{name}_shortcut")
        else:
            skip = run.apply(shortcut, f"{name}_{shortcut.name}", x)
        hidden = _add(block, skip, hidden, f"{name}_add")
    if block.activation is not keras.activations.linear:
        hidden = keras.layers.Activation(
            block.activation, name=f"{name}_activation", dtype=block.dtype_policy
        )(hidden)
    return hidden


def _dense_units(run: _Expansion, layer: Any, x: Any, name: str) -> Any:
    """BN-ReLU-conv units of the DenseNet family (Huang et al. 2017, section 3); no dropout."""
    hidden = x
    for index, (norm, conv) in enumerate(zip(layer.norms, layer.convs), start=1):
        hidden = run.copy(norm, f"{name}_{norm.name}", hidden)
        hidden = _relu(layer, hidden, f"{name}_relu{index}")
        hidden = run.copy(conv, f"{name}_{conv.name}", hidden)
    return hidden


def expand_dense_block(run: _Expansion, block: Any, x: Any, name: str) -> Any:
    """``DenseBlock.call``: each layer's maps concatenated to everything before it, on the
    channel axis of its ``data_format``."""
    features, axis = x, _channel_axis(block)
    for layer in block.dense_layers:
        new = _dense_units(run, layer, features, f"{name}_{layer.name}")
        features = keras.layers.Concatenate(
            axis=axis, name=f"{name}_{layer.name}_concat", dtype=block.dtype_policy
        )([features, new])
    return features


def expand_transition(run: _Expansion, layer: Any, x: Any, name: str) -> Any:
    """``Transition.call``: BN-ReLU-conv1x1, then the 2x2 average pooling."""
    hidden = _dense_units(run, layer, x, name)
    return run.copy(layer.pool, f"{name}_pool", hidden)


EXPANDERS: dict[type, Callable[..., Any]] = {
    BasicBlock: expand_resnet_block,
    BottleneckBlock: expand_resnet_block,
    Shortcut: expand_shortcut,
    Residual: expand_residual,
    DenseBlock: expand_dense_block,
    DenseLayer: _dense_units,
    Transition: expand_transition,
}
