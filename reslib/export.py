"""Inference export: every batch norm that the algebra allows folded into its convolution.

At inference a batch norm is a fixed per-channel affine map, ``y = s * x + t`` with
``s = gamma / sqrt(moving_variance + epsilon)`` and ``t = beta - s * moving_mean`` (Ioffe and
Szegedy, "Batch Normalization", ICML 2015, Algorithm 2, step 11). A convolution is linear, so

* **conv -> BN** (the post-activation unit of He et al. 2016a, and every unit that a
  convolution opens): ``s * (W * x + b) + t`` is one convolution with kernel ``W * s`` (scaled
  along its output channels) and bias ``s * b + t``. Exact for any kernel, stride, padding and
  groups.
* **BN -> conv** (a batch norm feeding a convolution directly): ``W * (s * x + t) + b`` has
  kernel ``W * s`` (along its input channels) and bias ``b + sum(W * t)``. Exact only where the
  convolution never reads padding: a 1x1 kernel, or ``padding="valid"``. With ``"same"``
  padding the original pads the *normalised* map with zeros, which the folded convolution would
  see as ``-t / s``: the border outputs change, so such pairs are left alone.

``fold_batchnorm`` first re-expresses reslib's composite layers (``BasicBlock``,
``BottleneckBlock``, ``Shortcut``, ``Residual``, ``DenseBlock``, ``DenseLayer``,
``Transition``; see ``reslib._export_blocks``) as a flat functional graph of Keras layers, then
folds every batch norm whose input is a convolution's output that nothing else reads, and every
batch norm that is the only reader of its output where a 1x1 or ``"valid"`` convolution comes
next. What stays unfolded, and why:

* Pre-activation nets (He et al. 2016b, ResNet v2; Huang et al. 2017, DenseNet) normalise
  *before* the convolution, with a ReLU in between: ``relu(s * x + t)`` is not linear in ``x``,
  so BN-ReLU-conv cannot fold forward. Their batch norms that follow a convolution inside a
  unit fold (v2 bottleneck: the second and third; DenseNet-B: the one after the 1x1
  bottleneck). The batch norm that opens a v2 block reads the residual stream, which the
  identity shortcut reads too (it folds into the stem only where the first block projects its
  pre-activated input); the one that opens a dense layer reads a concatenation of many layers'
  outputs; the final BN-ReLU reads a sum or a concatenation. These stay batch norms.
* A convolution with an activation, one called more than once (shared), or whose output feeds
  anything besides the batch norm keeps its batch norm. So does, on TensorFlow, a
  ``channels_first`` convolution that pads (3x3 "same"): TensorFlow 2.21 computes such a
  convolution wrongly once it has a bias, on the CPU.

The exported model shares no variable with ``model``, is for inference (training it would train
the folded kernels, without batch statistics) and saves and loads as ``.keras``. A functional or
Sequential model used as a layer is exported in its turn; a pair across its boundary stays.
Under a mixed-precision policy the folded kernels keep float32 variables and compute in the
policy's dtype, like the original's convolutions: the outputs then differ by that dtype's
round-off, not float32's.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import keras
import numpy as np

from reslib._export_blocks import expand_composites
from reslib.diagnostics._graph import as_functional

FOLDABLE_LINEAR = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)


def fold_batchnorm(model: keras.Model, report: dict[str, str] | None = None) -> keras.Model:
    """An inference copy of ``model`` with its batch norms folded into the convolutions.

    Args:
        model: a functional or Sequential ``keras.Model``, e.g. from ``reslib.models``
            (``resnet``, ``cifar_resnet``, ``densenet``, ``cifar_densenet``) or
            ``keras.applications``. Its reslib blocks are expanded into Keras layers first.
        report: a dict to fill, if given, with one entry per batch norm of the expanded graph:
            its name -> ``"folded into <conv>"`` or the reason it stays.

    Returns:
        A new functional ``keras.Model`` with the same inputs and outputs (shapes, dtypes and,
        within float32 round-off, values at inference) and fewer layers.

    Raises:
        ValueError: ``model`` is not a graph of layer calls (a subclassed model).

    Example:
        >>> from reslib.models import cifar_resnet
        >>> exported = fold_batchnorm(cifar_resnet(20))
        >>> any(isinstance(layer, keras.layers.BatchNormalization) for layer in exported.layers)
        False
    """
    if not isinstance(model, keras.Model):
        raise ValueError(
            f"fold_batchnorm needs a keras.Model; got {type(model).__name__}: {model!r}."
        )
    try:
        functional = as_functional(model)
    except ValueError as error:
        raise ValueError(f"fold_batchnorm cannot fold a subclassed model: {error}") from error
    if functional is not model and len(functional.inputs) == 1:  # a Sequential: one input,
        functional = keras.Model(  # taken as a tensor, not a one-element list
            functional.inputs[0], functional.outputs[0], name=model.name)
    expanded = expand_composites(functional, nested=fold_batchnorm)
    plan = _plan(expanded)
    if report is not None:
        report.update(plan.reasons)
    return keras.models.clone_model(
        expanded, clone_function=lambda layer: layer, call_function=plan.call
    )


class _Plan:
    """Which batch norms fold into which convolutions, and the re-tracing call that does it."""

    def __init__(self) -> None:
        self.after: dict[int, keras.layers.Layer] = {}  # id(conv) -> the BN it absorbs after
        self.before: dict[int, keras.layers.Layer] = {}  # id(conv) -> the BN it absorbs before
        self.absorbed: set[int] = set()  # id(BN) of every folded batch norm
        self.reasons: dict[str, str] = {}

    def call(self, layer: keras.layers.Layer, *args: Any, **kwargs: Any) -> Any:
        """``clone_model``'s call function: folded BNs pass their input, convs absorb them."""
        if id(layer) in self.absorbed:
            return args[0]
        if id(layer) in self.after or id(layer) in self.before:
            folded = folded_conv(
                layer, before=self.before.get(id(layer)), after=self.after.get(id(layer))
            )
            return folded(*args, **kwargs)
        return layer(*args, **kwargs)


def _plan(model: keras.Model) -> _Plan:
    """Find the foldable pairs of ``model``, a graph whose every layer is called once."""
    readers: Counter[int] = Counter(id(tensor) for tensor in model.outputs)
    producer: dict[int, keras.layers.Layer] = {}
    calls: list[tuple[keras.layers.Layer, list[Any], list[Any]]] = []
    for layer in model.layers:
        for node in layer._inbound_nodes:  # each reslib-expanded layer has one call
            readers.update(id(tensor) for tensor in node.input_tensors)
            for tensor in node.output_tensors:
                producer[id(tensor)] = layer
            calls.append((layer, list(node.input_tensors), list(node.output_tensors)))
    called = Counter(id(layer) for layer, _, _ in calls)
    consumer: dict[int, keras.layers.Layer] = {}
    for layer, inputs, _ in calls:
        for tensor in inputs:
            consumer[id(tensor)] = layer
    plan = _Plan()
    norms = [entry for entry in calls if isinstance(entry[0], keras.layers.BatchNormalization)]
    for norm, inputs, outputs in norms:  # conv -> BN first: exact for every conv
        source = producer.get(id(inputs[0]))
        reason = _after_reason(norm, source, readers[id(inputs[0])], called)
        if reason is None:
            plan.after[id(source)] = norm
            plan.absorbed.add(id(norm))
            plan.reasons[norm.name] = f"folded into {source.name} (conv -> BN)"
        else:
            plan.reasons[norm.name] = reason
    for norm, _, outputs in norms:  # then BN -> conv where no padding is read
        if id(norm) in plan.absorbed:
            continue
        target = consumer.get(id(outputs[0])) if readers[id(outputs[0])] == 1 else None
        reason = _before_reason(norm, target, called, plan)
        if reason is None:
            plan.before[id(target)] = norm
            plan.absorbed.add(id(norm))
            plan.reasons[norm.name] = f"folded into {target.name} (BN -> conv)"
        elif reason:
            plan.reasons[norm.name] += f"; {reason}"
    return plan


def _norm_reason(norm: keras.layers.Layer, called: Counter[int]) -> str | None:
    """Why this batch norm cannot be folded at all, or ``None``."""
    if called[id(norm)] != 1:
        return "called more than once"
    return None


def _axes_reason(norm: Any, conv: Any) -> str | None:
    """``None`` when ``norm`` normalises ``conv``'s channel axis (1 or the last, per its
    ``data_format``), else why not; the kernel's layout is the same in both formats."""
    rank = len(norm.input.shape)
    channels = 1 if conv.data_format == "channels_first" else rank - 1
    if isinstance(norm.axis, int) and norm.axis % rank == channels:
        return None
    return (f"normalises axis {norm.axis}, not {conv.name}'s channel axis {channels} "
            f"({conv.data_format})")


def _conv_reason(conv: Any, called: Counter[int]) -> str | None:
    """Why this layer cannot absorb a batch norm, or ``None``."""
    if not isinstance(conv, FOLDABLE_LINEAR):
        return "not a Conv1D/2D/3D"
    if called[id(conv)] != 1:
        return f"{conv.name} is called more than once"
    if conv.activation not in (keras.activations.linear, None):
        return f"{conv.name} has an activation between it and the batch norm"
    if _pads(conv) and conv.data_format == "channels_first" and (
            keras.backend.backend() == "tensorflow"):
        return (f"{conv.name} is a channels_first convolution with padding: TensorFlow adds its "
                "bias wrongly there (Keras 3.15, TensorFlow 2.21), so it gets none")
    return None


def _pads(conv: Any) -> bool:
    """Whether ``conv`` reads padding: ``"same"``/``"causal"`` with a kernel larger than 1."""
    return conv.padding != "valid" and any(size != 1 for size in conv.kernel_size)


def _after_reason(norm: Any, source: Any, readers: int, called: Counter[int]) -> str | None:
    """``None`` when ``norm`` folds into the conv ``source`` that feeds it, else why not."""
    reason = _norm_reason(norm, called)
    if reason is None and source is None:
        reason = "reads a model input"
    if reason is None:
        reason = _conv_reason(source, called)
        if reason == "not a Conv1D/2D/3D":
            reason = f"reads {type(source).__name__} {source.name!r}, not a convolution"
    if reason is None and readers != 1:
        reason = f"{source.name}'s output is read by {readers} layers, not only the batch norm"
    return reason if reason is not None else _axes_reason(norm, source)


def _before_reason(norm: Any, target: Any, called: Counter[int], plan: _Plan) -> str | None:
    """``None`` when ``norm`` folds into the conv ``target`` it alone feeds; else why not
    (``""`` when nothing worth adding: its output goes to a non-convolution)."""
    if _norm_reason(norm, called) is not None or target is None:
        return ""
    if isinstance(target, (keras.layers.ReLU, keras.layers.Activation)):
        return f"{target.name} follows it, and BN-ReLU is not linear: it cannot fold forward"
    if _conv_reason(target, called) is not None:
        return ""
    if id(target) in plan.before:
        return ""
    if _axes_reason(norm, target) is not None:
        return f"not folded forward: {_axes_reason(norm, target)}"
    if _pads(target):
        return (f"not folded forward: {target.name} pads its input ({target.padding!r}, "
                f"kernel {tuple(target.kernel_size)}), which would change the border outputs")
    return None


def bn_affine(norm: keras.layers.Layer) -> tuple[np.ndarray, np.ndarray]:
    """``(s, t)``, float64 ``(channels,)``, with ``norm(x, training=False) == s * x + t``."""
    mean = np.asarray(keras.ops.convert_to_numpy(norm.moving_mean), dtype="float64")
    variance = np.asarray(keras.ops.convert_to_numpy(norm.moving_variance), dtype="float64")
    gamma = np.ones_like(mean) if norm.gamma is None else np.asarray(
        keras.ops.convert_to_numpy(norm.gamma), dtype="float64")
    beta = np.zeros_like(mean) if norm.beta is None else np.asarray(
        keras.ops.convert_to_numpy(norm.beta), dtype="float64")
    scale = gamma / np.sqrt(variance + norm.epsilon)
    return scale, beta - scale * mean


def fold_kernel(
    kernel: np.ndarray,
    bias: np.ndarray,
    groups: int = 1,
    before: tuple[np.ndarray, np.ndarray] | None = None,
    after: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Kernel and bias of ``after(conv(before(x)))`` for per-channel affine maps ``(s, t)``.

    ``kernel`` has Keras' layout ``(*spatial, in_channels // groups, out_channels)``; ``bias``
    is ``(out_channels,)``. ``before`` acts on the ``in_channels``, ``after`` on the outputs.
    ``before`` is exact only where the convolution reads no padding (see the module docstring).
    """
    kernel, bias = kernel.astype("float64"), bias.astype("float64")
    per_group, out_channels = kernel.shape[-2], kernel.shape[-1]
    if before is not None:
        # input channel j of the group that output o belongs to: g(o) * per_group + j
        group_of_output = np.arange(out_channels) // (out_channels // groups)
        index = group_of_output[None, :] * per_group + np.arange(per_group)[:, None]
        scale, shift = before[0][index], before[1][index]  # (per_group, out_channels)
        spatial_axes = tuple(range(kernel.ndim - 2))
        bias = bias + (kernel * shift).sum(axis=spatial_axes + (kernel.ndim - 2,))
        kernel = kernel * scale
    if after is not None:
        kernel, bias = kernel * after[0], bias * after[0] + after[1]
    return kernel, bias


def folded_conv(
    conv: keras.layers.Layer,
    before: keras.layers.Layer | None = None,
    after: keras.layers.Layer | None = None,
) -> keras.layers.Layer:
    """A new built convolution equal to ``after(conv(before(x)))`` at inference, with a bias.

    ``before``/``after`` are batch norms (or ``None``); the new layer keeps ``conv``'s name,
    configuration and dtype policy, with ``use_bias=True``.
    """
    kernel = np.asarray(keras.ops.convert_to_numpy(conv.kernel))
    bias = (np.asarray(keras.ops.convert_to_numpy(conv.bias)) if conv.use_bias
            else np.zeros(kernel.shape[-1]))
    new_kernel, new_bias = fold_kernel(
        kernel, bias, conv.groups,
        before=None if before is None else bn_affine(before),
        after=None if after is None else bn_affine(after),
    )
    config = conv.get_config()
    config.update(use_bias=True, bias_initializer="zeros", bias_regularizer=None,
                  bias_constraint=None, activity_regularizer=None)
    layer = type(conv).from_config(config)
    layer.build(conv.input.shape)
    layer.kernel.assign(new_kernel.astype(keras.backend.standardize_dtype(layer.kernel.dtype)))
    layer.bias.assign(new_bias.astype(keras.backend.standardize_dtype(layer.bias.dtype)))
    return layer


def count_layers(model: keras.Model, layer_class: type, nested: bool = False) -> int:
    """``layer_class`` layers of ``model``: top-level ones, or with ``nested`` also those inside
    composite layers (e.g. the batch norms inside reslib's blocks before an export)."""
    layers = model._flatten_layers(include_self=False) if nested else model.layers
    return sum(isinstance(layer, layer_class) for layer in layers)

