"""Diagnostics of residual networks, on any backend: the measurements behind the course's plots.

* ``gradients``: vector-Jacobian products, Jacobians of blocks and their singular values, the
  gradient-norm ratio, and per-layer gradient norms (lessons 02 and 03).
* ``lesion``: delete one block at a time, and the path lengths of the unraveled view
  (Veit et al. 2016; lesson 02).
* ``landscape``: 1-D and 2-D slices of the loss along filter-normalised random directions
  (Li et al. 2018; lesson 07).
* ``probes``: the gates of highway layers (lesson 05) and the residual stream of a transformer
  (lesson 06).

Keras 3 has no backend-neutral ``grad``, so ``_autodiff`` dispatches to the backend's autodiff
(the only backend-specific code); everything else is ``keras.ops``. Every function runs the model
in a ``keras.StatelessScope`` or evaluates perturbed weights without assigning them, so measuring
never changes a model.
"""

from reslib.diagnostics.gradients import (
    GradientNorms,
    block_jacobian,
    gradient_norm_ratio,
    gradient_norms,
    jacobian,
    jacobian_singular_values,
    vector_jacobian_product,
)
from reslib.diagnostics.landscape import Landscape, filter_normalized_direction, loss_landscape
from reslib.diagnostics.lesion import LesionResult, PathLengths, lesion_study, path_lengths
from reslib.diagnostics.probes import (
    GateStatistics,
    ResidualStreamNorms,
    gate_statistics,
    residual_stream_norms,
)

__all__ = [
    "GateStatistics",
    "GradientNorms",
    "Landscape",
    "LesionResult",
    "PathLengths",
    "ResidualStreamNorms",
    "block_jacobian",
    "filter_normalized_direction",
    "gate_statistics",
    "gradient_norm_ratio",
    "gradient_norms",
    "jacobian",
    "jacobian_singular_values",
    "lesion_study",
    "loss_landscape",
    "path_lengths",
    "residual_stream_norms",
    "vector_jacobian_product",
]
