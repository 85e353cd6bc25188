"""Self-checks of exercise 06, transformer residuals: pre-LN and post-LN blocks, the residual
stream, and a linear learning-rate warm-up.

Vaswani et al., "Attention Is All You Need", NeurIPS 2017: the post-LN sublayer
``LN(x + F(x))``. Xiong et al., "On Layer Normalization in the Transformer Architecture",
ICML 2020: the pre-LN sublayer ``x + F(LN(x))``, whose residual stream is never normalised, and
why post-LN needs a warm-up. The checks call the learner's code on concrete inputs and compare
behaviour with the formulas or with ``reslib.layers.TransformerBlock``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
from keras import ops

from reslib.checks._core import expect, expect_close, expect_equal, expect_shape, passed
from reslib.layers import TransformerBlock


def tokens(batch: int = 2, sequence: int = 5, d_model: int = 16, seed: int = 0) -> np.ndarray:
    """Random token vectors ``(batch, sequence, d_model)``, float32."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(batch, sequence, d_model)).astype("float32")


def _numpy(value: Any) -> np.ndarray:
    return np.asarray(ops.convert_to_numpy(value), dtype="float64")


def _normalize(x: Any) -> Any:
    """A LayerNorm without parameters: each token to mean 0 and variance 1 (epsilon 1e-6)."""
    mean = ops.mean(x, axis=-1, keepdims=True)
    variance = ops.var(x, axis=-1, keepdims=True)
    return (x - mean) / ops.sqrt(variance + 1e-6)


def _branch(x: Any) -> Any:
    """A stand-in sublayer F that is neither the identity nor linear."""
    return ops.tanh(2.0 * x) + 1.0


def check_residual_sublayer(residual_sublayer: Callable[[Any, Any, Any, str], Any]) -> None:
    """``x + F(LN(x))`` for ``"pre"``, ``LN(x + F(x))`` for ``"post"``, a ``ValueError``
    otherwise."""
    x = ops.convert_to_tensor(3.0 * tokens())
    wrong = {
        "pre": {"LN(x) + F(LN(x))": _normalize(x) + _branch(_normalize(x)),
                "LN(x + F(x))": _normalize(x + _branch(x))},
        "post": {"x + LN(F(x))": x + _normalize(_branch(x)),
                 "x + F(LN(x))": x + _branch(_normalize(x))},
    }
    right = {"pre": x + _branch(_normalize(x)), "post": _normalize(x + _branch(x))}
    formula = {"pre": "x + F(LN(x))", "post": "LN(x + F(x))"}
    for placement, expected in right.items():
        got = _numpy(residual_sublayer(x, _branch, _normalize, placement))
        expect_shape(f'residual_sublayer(..., "{placement}")', got, x.shape)
        for name, value in wrong[placement].items():
            expect(not np.allclose(got, _numpy(value), atol=1e-4),
                   f'placement "{placement}" computed {name}; it should be {formula[placement]}')
        expect_close(f'residual_sublayer(x, F, LN, "{placement}")', got, _numpy(expected),
                     atol=1e-4, hint=f"{placement}-LN is {formula[placement]}")
    try:
        residual_sublayer(x, _branch, _normalize, "middle")
    except ValueError:
        pass
    else:
        raise AssertionError('residual_sublayer(..., "middle") should raise a ValueError that '
                             'says placement must be "pre" or "post"')
    passed('residual_sublayer: "pre" = x + F(LN(x)), "post" = LN(x + F(x))')


def check_transformer_block(
    block: Callable[..., Any], num_heads: int = 2, key_dim: int = 8, ff_dim: int = 32
) -> None:
    """Both placements: shape, the parameters of attention + feed-forward + two LayerNorms,
    attention that mixes tokens, normalised post-LN outputs, an unnormalised pre-LN stream."""
    x = tokens()
    for norm in ("pre", "post"):
        layer = block(num_heads=num_heads, key_dim=key_dim, ff_dim=ff_dim, norm=norm)
        outputs = _numpy(layer(x))
        expect_shape(f'the {norm}-LN block\'s output', outputs, x.shape,
                     "a transformer block keeps (batch, sequence, d_model)")
        reference = TransformerBlock(num_heads, key_dim, ff_dim, norm=norm)
        reference(x)
        expect_equal(
            f"the {norm}-LN block's parameter count", layer.count_params(),
            reference.count_params(),
            f"MultiHeadAttention({num_heads}, {key_dim}), Dense({ff_dim}, activation) then "
            f"Dense(d_model={x.shape[-1]}), and two LayerNormalization layers",
        )
        changed = x.copy()
        changed[:, 0] = tokens(seed=1)[:, 0]  # a new token 0 (a constant shift would vanish in LN)
        moved = np.abs(_numpy(layer(changed))[:, -1] - outputs[:, -1]).max()
        expect(moved > 1e-4, f"in the {norm}-LN block, changing token 0 leaves the last token's "
               "output unchanged: does the attention attend over the sequence, "
               "attention(query=x, value=x)?")
        _check_placement(layer, norm, x)
    passed(f"TransformerBlock: pre-LN x + F(LN(x)) and post-LN LN(x + F(x)), "
           f"{reference.count_params():,} parameters each")


def _check_placement(layer: Any, norm: str, x: np.ndarray) -> None:
    """Post-LN: every output token is normalised. Pre-LN: a large input passes almost
    unchanged, because the stream itself is never normalised."""
    if norm == "post":
        outputs = _numpy(layer(100.0 * x))
        expect_close(
            "each post-LN output token's mean over d_model", outputs.mean(-1),
            np.zeros(outputs.shape[:-1]), atol=1e-3,
            hint="post-LN ends each sublayer with LN(x + F(x)): a fresh LayerNorm gives mean 0",
        )
        expect_close(
            "each post-LN output token's standard deviation", outputs.std(-1),
            np.ones(outputs.shape[:-1]), atol=2e-2,
            hint="post-LN ends each sublayer with LN(x + F(x)): a fresh LayerNorm gives std 1",
        )
        return
    scaled = 1000.0 * x
    relative = np.linalg.norm(_numpy(layer(scaled)) - scaled) / np.linalg.norm(scaled)
    expect(relative < 0.01, f"a pre-LN block changed an input of norm ~1000 per token by "
           f"{relative:.0%}; x + F(LN(x)) should change it by about 0.1%: the branches see "
           "LN(x), the stream x itself must pass through unnormalised")


def check_stream_norms(
    stream_norms: Callable[[Sequence[Any], Any], Any], depth: int = 4
) -> None:
    """``stream_norms(blocks, x)``: the mean L2 norm per token of ``x`` and after each block."""
    keras.utils.set_random_seed(6)
    x = tokens(batch=3, sequence=4, d_model=8, seed=6)
    blocks = [TransformerBlock(2, 4, 16, norm="pre") for _ in range(depth)]
    expected, hidden = [np.linalg.norm(x, axis=-1).mean()], x
    for layer in blocks:
        hidden = _numpy(layer(hidden))
        expected.append(np.linalg.norm(hidden, axis=-1).mean())
    got = np.asarray(stream_norms(blocks, x), dtype="float64")
    expect_shape("stream_norms(blocks, x)", got, (depth + 1,),
                 "one norm for the input and one after each block")
    expect(not np.isclose(got[0], np.linalg.norm(x)),
           "the first value is the norm of the whole batch: take the L2 norm of each token over "
           "d_model (axis=-1), then the mean over batch and sequence")
    expect_close("stream_norms(blocks, x)", got, np.array(expected), atol=1e-4, rtol=1e-4,
                 hint="the mean over batch and sequence of each token's L2 norm over d_model, "
                 "for x and after each block, each block fed the previous block's output")
    passed(f"stream_norms: {depth + 1} values, the mean token norm before and after each block")


def check_warmup_schedule(schedule: Callable[[float, int], Any]) -> None:
    """``schedule(peak, warmup_steps)`` gives a Keras learning-rate schedule: ``peak * step /
    warmup_steps`` while ``step < warmup_steps``, ``peak`` from then on."""
    cases = ((1e-3, 10, {0: 0.0, 1: 1e-4, 5: 5e-4, 9: 9e-4, 10: 1e-3, 11: 1e-3, 500: 1e-3}),
             (0.5, 4, {0: 0.0, 2: 0.25, 4: 0.5, 7: 0.5}))
    for peak, warmup, values in cases:
        rate = schedule(peak, warmup)
        expect(isinstance(rate, keras.optimizers.schedules.LearningRateSchedule),
               f"schedule(peak, warmup_steps) should return a keras.optimizers.schedules."
               f"LearningRateSchedule, got {type(rate).__name__}")
        for step, want in values.items():
            got = float(_numpy(rate(ops.convert_to_tensor(step, "int64"))))
            expect_close(
                f"the learning rate at step {step} (peak {peak:g}, {warmup} warm-up steps)", got,
                want, atol=1e-9, rtol=1e-5,
                hint="peak * step / warmup_steps before warmup_steps, then peak; steps count from "
                "0 and arrive as integer tensors (use keras.ops: ops.cast, ops.minimum)",
            )
    optimizer = keras.optimizers.SGD(learning_rate=schedule(0.5, 4))
    weight = keras.Variable(np.zeros(3, "float32"))
    seen = []
    for _ in range(6):
        seen.append(float(_numpy(optimizer.learning_rate)))
        optimizer.apply_gradients([(ops.ones(3), weight)])
    expect_close("the SGD optimizer's learning rate over its first six steps", seen,
                 [0.0, 0.125, 0.25, 0.375, 0.5, 0.5], atol=1e-7,
                 hint="the optimizer calls the schedule with its step count, 0, 1, 2, ...")
    passed("warm-up schedule: linear from 0 to the peak over warmup_steps, then constant")
