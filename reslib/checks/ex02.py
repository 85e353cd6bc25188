"""Self-checks of exercise 02, residual math: Jacobians, gradient norms, a lesion study.

A residual block ``y = x + F(x)`` has the Jacobian ``I + dF/dx`` (He et al. 2016b, eq. 5): over a
stack of blocks the gradient is a product of such factors and neither vanishes nor explodes when
the branches are small, while a plain stack multiplies the ``dF/dx`` alone. Veit, Wilber and
Belongie, "Residual Networks Behave Like Ensembles of Relatively Shallow Networks", NeurIPS 2016
(Veit et al. 2016): deleting one block of a residual network barely changes what it computes.
Each check compares the learner's numbers with automatic differentiation of the same function
(``reslib.diagnostics``) or with what the definition says, on concrete inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np

from reslib.checks._core import expect, expect_close, expect_shape, passed
from reslib.diagnostics import block_jacobian, gradient_norm_ratio, jacobian
from reslib.layers import Residual


def tanh_branch_inputs(width: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One example ``x`` ``(1, width)``, a weight ``w`` ``(width, width)`` and a bias ``b``."""
    rng = np.random.default_rng(seed)
    x, w = rng.normal(size=(1, width)), rng.normal(scale=0.5, size=(width, width))
    return x.astype("float32"), w.astype("float32"), rng.normal(size=width).astype("float32")


def autodiff_residual_jacobian(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The Jacobian of ``x + tanh(x @ w + b)`` at ``x``, by automatic differentiation."""
    return jacobian(lambda inputs: inputs + keras.ops.tanh(keras.ops.matmul(inputs, w) + b), x)


def check_residual_jacobian(residual_jacobian: Callable[..., Any], width: int = 4) -> None:
    """``residual_jacobian(x, w, b)`` equals the autodiff Jacobian of ``x + tanh(x w + b)``."""
    x, w, b = tanh_branch_inputs(width, seed=0)
    got = np.asarray(residual_jacobian(x, w, b))
    expect_shape("residual_jacobian(x, w, b)", got, (width, width),
                 "J[i, j] = d y_i / d x_j, one row per output, one column per input")
    expect_close(
        "residual_jacobian(x, w, b)", got, autodiff_residual_jacobian(x, w, b), atol=1e-4,
        hint="y_i = x_i + tanh(sum_k x_k w[k, i] + b_i), so d y_i / d x_j = [i == j] + "
        "(1 - tanh(...)_i**2) * w[j, i]: the identity plus the branch's Jacobian (mind the "
        "transpose)",
    )
    passed("residual_jacobian: I + diag(1 - tanh^2) w^T, as automatic differentiation says")


def small_stack(depth: int, width: int, residual: bool, scale: float = 0.1) -> keras.Sequential:
    """``depth`` tanh Dense layers with small N(0, scale^2) weights, each wrapped in a
    ``Residual`` when ``residual``; input and output ``(batch, width)``."""
    layers = []
    for index in range(depth):
        init = keras.initializers.RandomNormal(stddev=scale, seed=index)
        dense = keras.layers.Dense(width, activation="tanh", kernel_initializer=init)
        layers.append(Residual(dense) if residual else dense)
    stack = keras.Sequential([keras.Input((width,)), *layers])
    return stack


def stack_jacobians(stack: keras.Sequential, x: np.ndarray) -> list[np.ndarray]:
    """The Jacobian of every layer of ``stack`` at the point the stack's forward pass reaches."""
    jacobians = []
    for layer in stack.layers:
        jacobians.append(block_jacobian(layer, x))
        x = keras.ops.convert_to_numpy(layer(x))
    return jacobians


def check_gradient_ratio(
    gradient_ratio: Callable[[Sequence[np.ndarray], np.ndarray], float], depth: int = 6,
    width: int = 4,
) -> dict[str, float]:
    """``gradient_ratio(jacobians, g)`` is ``||dL/dx|| / ||dL/dy||`` of the whole stack (the
    chain rule), about 1 through residual blocks and tiny through plain ones."""
    x = np.random.default_rng(0).normal(size=(1, width)).astype("float32")
    g = np.random.default_rng(0).standard_normal((1, width)).astype("float32")
    ratios = {}
    for residual in (True, False):
        stack = small_stack(depth, width, residual)
        got = float(gradient_ratio(stack_jacobians(stack, x), g[0]))
        expected = gradient_norm_ratio(stack, x, seed=0)
        expect_close(
            f"gradient_ratio over {depth} {'residual' if residual else 'plain'} layers", got,
            expected, atol=1e-4, rtol=1e-3,
            hint="start from g and apply J.T @ g for the LAST layer's Jacobian first (the "
            "chain rule runs backwards), then divide the norms",
        )
        ratios["residual" if residual else "plain"] = got
    expect(ratios["plain"] < 0.01 < 0.3 < ratios["residual"],
           f"expected a ratio near 1 through residual blocks and < 0.01 through plain ones; got "
           f"{ratios}")
    print(f"{depth} layers: gradient ratio ||dL/dx|| / ||dL/dy|| residual "
          f"{ratios['residual']:.3f}, plain {ratios['plain']:.2e}")
    passed("gradient_ratio: the chain rule over the blocks' Jacobians")
    return ratios


def check_delete_block(delete_block: Callable[..., Any], depth: int = 4, width: int = 4) -> None:
    """``delete_block(layers, x, k)`` runs every layer but the ``k``-th; ``k=None`` runs all."""
    x = np.random.default_rng(1).normal(size=(3, width)).astype("float32")
    stack = small_stack(depth, width, residual=True)
    expect_close("delete_block(layers, x, None)", delete_block(stack.layers, x, None),
                 stack(x), atol=1e-5, hint="with k=None every layer runs, in order")
    for k in (0, depth - 1):
        rest = keras.Sequential([layer for i, layer in enumerate(stack.layers) if i != k])
        expect_close(f"delete_block(layers, x, {k})", delete_block(stack.layers, x, k), rest(x),
                     atol=1e-5, hint="skip only layers[k] and feed its input to the next layer")
    passed("delete_block: the network with one block left out")
