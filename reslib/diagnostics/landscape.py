"""Slices of the loss landscape along random filter-normalised directions.

Li, Xu, Taylor, Studer and Goldstein, "Visualizing the Loss Landscape of Neural Nets", NeurIPS
2018 (Li et al. 2018). The loss ``L(theta + alpha d)`` (1-D) or ``L(theta + alpha d + beta e)``
(2-D) along random directions ``d, e`` whose every filter is rescaled to the norm of the
corresponding filter of the weights (section 4), so that slices of different networks can be
compared. Skip connections keep the landscape of a deep network smooth and convex-looking; the
landscape of its plain twin becomes chaotic as it gets deeper (section 5, Fig. 5).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
from keras import ops

from reslib.diagnostics import _graph

DIRECTIONS = ("filter-normalized", "random")


@dataclass(frozen=True)
class Landscape:
    """What ``loss_landscape`` measured.

    Attributes:
        alphas: steps along the first direction, shape ``(steps,)``; 0 is the trained model.
        losses, errors: shape ``(steps,)``, or ``(steps, steps)`` with ``[i, j]`` at
            ``(alphas[i], betas[j])`` for a 2-D slice. Errors are NaN for non-classifiers.
        betas: steps along the second direction (``None`` for a 1-D slice).
        dataset: the name of the data, for plots' titles.
    """

    alphas: np.ndarray
    losses: np.ndarray
    errors: np.ndarray
    betas: np.ndarray | None = None
    dataset: str | None = None

    @property
    def two_d(self) -> bool:
        """True for a 2-D slice."""
        return self.betas is not None


def filter_normalized_direction(
    variables: Sequence[keras.Variable], seed: int | np.random.Generator = 0,
    normalize: bool = True,
) -> list[np.ndarray]:
    """A random Gaussian direction in weight space, one array per variable.

    Kernels (variables of rank >= 2: dense, convolution, embedding) get Gaussian entries; with
    ``normalize`` each filter (a slice along the last axis, the output unit in Keras' kernel
    layouts) is rescaled to the norm of the same filter of the weights (Li et al. 2018, eq. 1).
    Biases and batch norm parameters (rank <= 1) get 0, the paper's "ignore biasbn" choice.
    """
    rng = np.random.default_rng(seed)
    direction = []
    for variable in variables:
        weights = ops.convert_to_numpy(variable).astype("float64")
        if weights.ndim < 2:
            direction.append(np.zeros(weights.shape, dtype="float32"))
            continue
        d = rng.standard_normal(weights.shape)
        if normalize:
            axes = tuple(range(weights.ndim - 1))
            filter_norms = np.sqrt(np.sum(weights * weights, axis=axes))
            d *= filter_norms / (np.sqrt(np.sum(d * d, axis=axes)) + 1e-10)
        direction.append(d.astype("float32"))
    return direction


def loss_landscape(
    model: keras.Model,
    x: Any,
    y: Any,
    steps: int = 21,
    span: float = 1.0,
    directions: Any = "filter-normalized",
    seed: int = 0,
    two_d: bool = False,
    loss: Any = None,
    batch_size: int | None = 256,
    dataset: str | None = None,
) -> Landscape:
    """The loss (and error) of ``model`` on ``(x, y)`` along one or two random directions.

    Each point is evaluated in inference mode with perturbed values given to the trainable
    variables through a ``keras.StatelessScope``: no weight is ever assigned, so the model is
    unchanged afterwards. Non-trainable variables (batch norm's moving statistics) are kept.

    Args:
        model: a Keras model (any kind: it is only called).
        x, y: inputs ``(batch, ...)`` as a NumPy array and targets (integer labels for the
            default cross-entropy).
        steps: points per axis, >= 2; ``steps`` odd puts a point at 0.
        span: the slice covers ``[-span, span]`` along each direction (1.0 in Li et al.).
        directions: ``"filter-normalized"`` (Li et al. 2018), ``"random"`` (Gaussian kernels,
            not rescaled), or explicit directions: a list of arrays, one per trainable variable
            (two such lists for ``two_d``).
        seed: for the random directions.
        two_d: a 2-D slice over ``alphas x betas`` (``steps**2`` evaluations) instead of 1-D.
        loss: as for ``gradient_norms``; default cross-entropy.
        batch_size: examples per forward pass (all at once when ``None``).
        dataset: name of ``(x, y)``'s dataset, kept for plots.

    Returns:
        A ``Landscape``.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
        raise ValueError(f"`steps` must be an integer >= 2, got {steps!r}.")
    if isinstance(span, bool) or not isinstance(span, (int, float)) or not span > 0:
        raise ValueError(f"`span` must be a positive number, got {span!r}.")
    variables = list(model.trainable_variables)
    first, second = _directions(directions, variables, seed, two_d)
    loss_fn = _graph.resolve_loss(model, loss, y)
    predict = _graph.predict_function(model)
    weights = [ops.convert_to_numpy(v) for v in variables]
    alphas = np.linspace(-span, span, steps)
    betas = alphas.copy() if two_d else None

    def evaluate(alpha: float, beta: float) -> tuple[float, float]:
        values = [
            w + alpha * d + (beta * e if e is not None else 0.0)
            for w, d, e in zip(weights, first, second or [None] * len(weights))
        ]
        mapping = list(zip(variables, values))
        return _graph.evaluate(predict, x, y, loss_fn, batch_size, state_mapping=mapping)

    grid = [[evaluate(a, b) for b in (betas if two_d else [0.0])] for a in alphas]
    results = np.array(grid, dtype="float64")
    if not two_d:
        results = results[:, 0]
    return Landscape(alphas, results[..., 0], results[..., 1], betas, dataset)


def _directions(
    directions: Any, variables: list[keras.Variable], seed: int, two_d: bool
) -> tuple[list[np.ndarray], list[np.ndarray] | None]:
    """The one or two directions asked for, checked against the variables' shapes."""
    count = 2 if two_d else 1
    if isinstance(directions, str):
        if directions not in DIRECTIONS:
            choices = ", ".join(repr(d) for d in DIRECTIONS)
            raise ValueError(
                f"`directions` must be one of {choices} or a list of arrays; got {directions!r}."
            )
        rng = np.random.default_rng(seed)
        normalize = directions == "filter-normalized"
        made = [filter_normalized_direction(variables, rng, normalize) for _ in range(count)]
    else:
        made = list(directions) if two_d else [list(directions)]
        if len(made) != count:
            raise ValueError(
                f"A 2-D slice needs two directions (two lists of arrays); got {len(made)}."
            )
        for direction in made:
            shapes = [tuple(np.shape(d)) for d in direction]
            expected = [tuple(v.shape) for v in variables]
            if shapes != expected:
                raise ValueError(
                    "Each direction needs one array per trainable variable, shaped "
                    f"{expected}; got shapes {shapes}."
                )
        made = [[np.asarray(d, dtype="float32") for d in direction] for direction in made]
    return made[0], (made[1] if two_d else None)
