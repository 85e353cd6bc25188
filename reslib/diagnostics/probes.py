"""Probes of the signal inside a network: highway gates and a transformer's residual stream.

* Srivastava, Greff and Schmidhuber, "Training Very Deep Networks", NeurIPS 2015, Fig. 2: the
  transform gates ``T(x)`` of a trained highway network, per layer and unit; most stay close
  to their negative-bias start (mostly carry) and a few open selectively.
* Xiong et al., "On Layer Normalization in the Transformer Architecture", ICML 2020,
  section 3: in a pre-LN transformer every block adds to an un-normalised residual stream,
  whose norm grows with depth.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
from keras import ops

from reslib.diagnostics import _graph
from reslib.layers.highway import Highway
from reslib.layers.transformer import TransformerBlock


@dataclass(frozen=True)
class GateStatistics:
    """The transform gate ``T(x)`` of every highway layer, on the activations it receives.

    Attributes:
        layers: the highway layers' names, in the order of calls.
        mean, min, max: over examples, positions and units, shape ``(len(layers),)``.
        per_unit: the mean gate of each unit (channel) over examples and positions, shape
            ``(len(layers), units)`` (NaN-padded where layers differ in width): the heat map of
            Srivastava et al. 2015, Fig. 2.
        dataset: the name of the data, for plots' titles.
    """

    layers: tuple[str, ...]
    mean: np.ndarray
    min: np.ndarray
    max: np.ndarray
    per_unit: np.ndarray
    dataset: str | None = None


def gate_statistics(model: keras.Model, x: Any, dataset: str | None = None) -> GateStatistics:
    """Mean, min and max of each ``Highway`` layer's transform gate on the data ``x``.

    The input each highway layer receives is traced through the model (inference mode), then
    the layer's public ``gate(inputs)`` gives ``T`` there.

    Args:
        model: a functional or Sequential model with ``Highway`` layers at its top level
            (``reslib.models.highway_net``).
        x: inputs ``(batch, ...)``.
        dataset: name of ``x``'s dataset, kept for plots.

    Returns:
        ``GateStatistics``; every value lies in (0, 1).
    """
    highways = _graph.top_level_layers_of(model, Highway)
    functional = _graph.as_functional(model)
    probe = keras.Model(functional.inputs, [layer.input for layer in highways])
    with keras.StatelessScope():
        inputs = probe(ops.convert_to_tensor(x), training=False)
        gates = [ops.convert_to_numpy(layer.gate(h)) for layer, h in zip(highways, inputs)]
    per_unit = [g.reshape(-1, g.shape[-1]).mean(axis=0) for g in gates]
    width = max(len(u) for u in per_unit)
    padded = np.full((len(gates), width), np.nan)
    for row, units in zip(padded, per_unit):
        row[: len(units)] = units
    return GateStatistics(
        layers=tuple(layer.name for layer in highways),
        mean=np.array([g.mean() for g in gates], dtype="float64"),
        min=np.array([g.min() for g in gates], dtype="float64"),
        max=np.array([g.max() for g in gates], dtype="float64"),
        per_unit=padded,
        dataset=dataset,
    )


@dataclass(frozen=True)
class ResidualStreamNorms:
    """The mean L2 norm of the residual stream, per token, after each stage of a transformer.

    Attributes:
        names: ``"embedding"``, then the name of every ``TransformerBlock`` in order.
        norms: ``mean over examples and positions of ||x_t||_2`` after each, shape
            ``(len(names),)``.
    """

    names: tuple[str, ...]
    norms: np.ndarray


def residual_stream_norms(model: keras.Model, tokens: Any) -> ResidualStreamNorms:
    """How large the residual stream is after the embedding and after each transformer block.

    For ``reslib.models.transformer_classifier`` (or any functional model whose
    ``TransformerBlock``s are top-level layers): the stream after the embedding is the input of
    the first block. Inference mode, no state changes.

    Args:
        model: the transformer.
        tokens: integer tokens ``(batch, sequence)``.

    Returns:
        ``ResidualStreamNorms`` with ``num_layers + 1`` entries.
    """
    blocks = _graph.top_level_layers_of(model, TransformerBlock)
    functional = _graph.as_functional(model)
    probe = keras.Model(functional.inputs, [blocks[0].input] + [b.output for b in blocks])
    with keras.StatelessScope():
        streams = probe(ops.convert_to_tensor(tokens), training=False)
        norms = [float(ops.convert_to_numpy(ops.mean(ops.norm(s, axis=-1)))) for s in streams]
    return ResidualStreamNorms(("embedding", *(b.name for b in blocks)), np.array(norms))
