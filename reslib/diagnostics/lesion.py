"""The unraveled view of residual networks: lesion studies and the distribution of path lengths.

Veit, Wilber and Belongie, "Residual Networks Behave Like Ensembles of Relatively Shallow
Networks", NeurIPS 2016 (Veit et al. 2016). Written out, ``n`` residual blocks are ``2**n``
paths from input to output, ``C(n, k)`` of them through ``k`` blocks (section 3, eq. 4). Deleting
one block of a trained ResNet at test time removes half of the paths but leaves the other half
intact, and the error barely moves (section 4.2, Fig. 3); deleting one layer of a plain network
(VGG) breaks its only path and the error goes to chance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
from keras import ops

from reslib.diagnostics import _graph
from reslib.layers.blocks import BasicBlock, BottleneckBlock
from reslib.layers.highway import Highway
from reslib.layers.residual import Residual
from reslib.layers.shortcut import Shortcut
from reslib.layers.transformer import TransformerBlock

BLOCK_TYPES = (BasicBlock, BottleneckBlock, Residual, Highway, TransformerBlock)


@dataclass(frozen=True)
class LesionResult:
    """What ``lesion_study`` measured.

    Attributes:
        baseline_loss, baseline_error: of the intact model on ``(x, y)``.
        blocks: the deleted blocks' names, one deletion each, in model order.
        losses, errors: of the model without ``blocks[i]``, shape ``(len(blocks),)``. Errors are
            classification errors in [0, 1] (NaN when the model is not a classifier).
        skipped: ``{name: why}`` for the requested blocks that could not be deleted.
        dataset: the name of the data, for plots' titles (``None`` if not given).
    """

    baseline_loss: float
    baseline_error: float
    blocks: tuple[str, ...]
    losses: np.ndarray
    errors: np.ndarray
    skipped: dict[str, str] = field(default_factory=dict)
    dataset: str | None = None


def lesion_study(
    model: keras.Model,
    x: Any,
    y: Any,
    blocks: Any = None,
    loss: Any = None,
    batch_size: int | None = 256,
    dataset: str | None = None,
) -> LesionResult:
    """Delete one block at a time and measure the loss and error of what remains.

    The lesion study of Veit et al. 2016, section 4.2. The model is re-traced with the chosen
    block left out and every other layer shared (no weight is copied or changed), and evaluated
    in inference mode. Only blocks whose output has their input's shape can be deleted: a
    strided or projecting block (the first of a ResNet stage) is skipped and listed in
    ``skipped`` with the reason, as in the paper, which deletes only blocks with identity
    shortcuts. The same call deletes a *plain* block (``residual=False``) of the plain twin,
    for the comparison of Fig. 3.

    A deleted residual block leaves its skip connection: ``x`` for a pre-activation block,
    ``relu(x)`` for a post-activation one (``relu(x + F(x))`` without ``F``), ``activation(x)``
    for a ``Residual``; a deleted plain block or other layer leaves the identity.

    Args:
        model: a functional or Sequential model whose blocks are top-level layers
            (``cifar_resnet``, ``highway_net``, ``transformer_classifier``, ...).
        x: inputs ``(batch, ...)``, as a NumPy array.
        y: targets: integer labels ``(batch,)`` for the default cross-entropy.
        blocks: names of the top-level layers to delete, or ``None`` for every reslib block
            (``BasicBlock``, ``BottleneckBlock``, ``Residual``, ``Highway``, ``TransformerBlock``);
            any layer whose output has its input's shape may be named (a plain ``Dense``).
        loss: as for ``gradient_norms``; default cross-entropy.
        batch_size: examples per forward pass (all at once when ``None``).
        dataset: name of ``(x, y)``'s dataset, kept for plots.

    Returns:
        A ``LesionResult``.
    """
    layers = _graph.top_level_layers(model)
    if blocks is None:
        candidates = [layer for layer in layers if isinstance(layer, BLOCK_TYPES)]
        if not candidates:
            raise ValueError(
                f"Model {model.name!r} has no reslib blocks at its top level; name the layers "
                f"to delete with `blocks`. Its layers: {[layer.name for layer in layers]}."
            )
    else:
        candidates = _graph.layers_by_name(model, blocks)
    loss_fn = _graph.resolve_loss(model, loss, y)
    baseline = _graph.evaluate(_graph.predict_function(model), x, y, loss_fn, batch_size)
    deleted, results, skipped = [], [], {}
    for block in candidates:
        reason = _why_not_deletable(block)
        if reason:
            skipped[block.name] = reason
            continue
        lesioned = _graph.predict_function(_graph.rewire(model, _skip(block)))
        results.append(_graph.evaluate(lesioned, x, y, loss_fn, batch_size))
        deleted.append(block.name)
    results = np.array(results, dtype="float64").reshape(-1, 2)
    return LesionResult(
        baseline_loss=baseline[0],
        baseline_error=baseline[1],
        blocks=tuple(deleted),
        losses=results[:, 0],
        errors=results[:, 1],
        skipped=skipped,
        dataset=dataset,
    )


def _skip(block: keras.layers.Layer) -> Any:
    """A ``call_function`` for ``rewire`` that leaves only ``block``'s skip connection."""

    def call(layer: keras.layers.Layer, *args: Any, **kwargs: Any) -> Any:
        return _skip_connection(block, args[0]) if layer is block else layer(*args, **kwargs)

    return call


def _skip_connection(block: keras.layers.Layer, x: Any) -> Any:
    """What remains of ``block`` at ``x`` without its residual branch (identity if plain)."""
    if not getattr(block, "residual", False):
        return x
    if isinstance(block, (BasicBlock, BottleneckBlock)) and not block.preact:
        return ops.relu(x)
    if isinstance(block, Residual):
        return block.activation(x)
    return x


def _why_not_deletable(layer: keras.layers.Layer) -> str | None:
    """``None`` if ``layer`` can be replaced by the identity, else the reason it cannot."""
    inputs, outputs = layer.input, layer.output
    if not isinstance(inputs, keras.KerasTensor) or not isinstance(outputs, keras.KerasTensor):
        return "it takes or returns several tensors"
    if tuple(inputs.shape) != tuple(outputs.shape):
        return f"it changes the shape {tuple(inputs.shape)} -> {tuple(outputs.shape)}"
    shortcut = getattr(layer, "shortcut_layer", None)
    if shortcut is not None and not (isinstance(shortcut, Shortcut) and not shortcut.projects):
        return "its shortcut is a projection, not the identity"
    return None


@dataclass(frozen=True)
class PathLengths:
    """The path lengths of the unraveled view of ``n`` residual blocks (Veit et al. 2016).

    Attributes:
        lengths: ``0 .. n``: the number of blocks (residual branches) a path goes through.
        counts: ``C(n, k)`` paths of length ``k`` (float64; exact while below 2**53).
        fractions: ``counts / 2**n``, the binomial distribution ``B(n, 1/2)``.
    """

    lengths: np.ndarray
    counts: np.ndarray
    fractions: np.ndarray

    @property
    def mean(self) -> float:
        """The mean path length, ``n / 2``."""
        return float(np.sum(self.lengths * self.fractions))


def path_lengths(n_blocks: int) -> PathLengths:
    """The distribution of path lengths through ``n_blocks`` residual blocks.

    Each block is either entered (its branch) or skipped (its shortcut), so there are
    ``2**n_blocks`` paths and ``C(n, k)`` of them have length ``k`` (Veit et al. 2016, eq. 4 and
    Fig. 6a: in ResNet-110, 54 blocks, most paths are 19 to 35 blocks long).

    Args:
        n_blocks: number of residual blocks, 0 to 1000.

    Returns:
        ``PathLengths`` of ``n_blocks + 1`` entries each.
    """
    if isinstance(n_blocks, bool) or not isinstance(n_blocks, int) or not 0 <= n_blocks <= 1000:
        raise ValueError(f"`n_blocks` must be an integer in [0, 1000], got {n_blocks!r}.")
    lengths = np.arange(n_blocks + 1)
    counts = np.array([float(math.comb(n_blocks, k)) for k in lengths])
    log_fractions = [
        math.lgamma(n_blocks + 1) - math.lgamma(k + 1) - math.lgamma(n_blocks - k + 1)
        - n_blocks * math.log(2.0)
        for k in lengths
    ]
    return PathLengths(lengths, counts, np.exp(log_fractions))
