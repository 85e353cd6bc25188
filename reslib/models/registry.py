"""Models by name: the papers' named configurations, in the spirit of timm's ``create_model``.

>>> from reslib import models
>>> "resnet56_cifar" in models.names()
True
>>> models.names("densenet*")
['densenet121', 'densenet169', 'densenet201', 'densenet_bc100_k12_cifar']
>>> models.spec("resnext50_32x4d").parameters
25028904

``get(name, **overrides)`` builds the configuration with the builder's head and training
arguments overridden (``classes``, ``include_top``, ``input_shape``, ``input_tensor``,
``pooling``, ``classifier_activation``, ``drop_path``, ...); the arguments that *define* the
configuration (its depth, block, widths) cannot be overridden, so that a name always means one
architecture: call the builder for a variant. ``register`` adds a configuration of one's own.

Every entry records its trainable parameter count at the default head (``ModelSpec.parameters``,
checked by the tests) and the reference it equals or rounds to: the paper's table (through
``reslib.papers``), torchvision or ``keras.applications``.
"""

from __future__ import annotations

import difflib
import fnmatch
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import keras

from reslib.models.densenet import IMAGENET_BLOCKS, cifar_densenet, densenet
from reslib.models.resnet import cifar_resnet, resnet

FREE_ARGUMENTS = frozenset({
    # keras.applications' head arguments
    "include_top", "input_shape", "input_tensor", "pooling", "classes", "classifier_activation",
    # training and layout options that leave the architecture (and its parameters) as it is
    "drop_path", "dropout", "zero_init_residual", "kernel_regularizer", "data_format", "name",
})
"""Builder arguments that ``get`` lets one override; the others define a configuration."""


@dataclass(frozen=True)
class ModelSpec:
    """One named configuration: a builder and the arguments that make it the paper's network.

    Attributes:
        name: the registry name, also the built model's default name.
        builder: a ``reslib.models`` builder (or any function returning a ``keras.Model``).
        options: the keyword arguments that define the configuration.
        paper: where the architecture comes from, e.g. ``"He et al. 2016a, Table 6"``.
        parameters: trainable parameters with the default head (1,000 ImageNet or 10 CIFAR
            classes).
        reference: what ``parameters`` equals or rounds to: a ``reslib.papers`` key (the
            paper's rounded count) or an exact count, e.g. ``"torchvision: 25,028,904"``.
    """

    name: str
    builder: Callable[..., keras.Model]
    options: Mapping[str, Any] = field(default_factory=dict)
    paper: str = ""
    parameters: int | None = None
    reference: str = ""

    def build(self, **overrides: Any) -> keras.Model:
        """The model, with ``overrides`` of the free arguments (see ``get``)."""
        _check_overrides(self, overrides)
        return self.builder(**{"name": self.name, **self.options, **overrides})


_REGISTRY: dict[str, ModelSpec] = {}


def register(
    name: str,
    builder: Callable[..., keras.Model],
    options: Mapping[str, Any] | None = None,
    paper: str = "",
    parameters: int | None = None,
    reference: str = "",
) -> ModelSpec:
    """Add a named configuration: ``get(name)`` then calls ``builder(name=name, **options)``.

    Raises a ``ValueError`` when ``name`` is taken or ``options`` are not arguments of
    ``builder``.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"`name` must be a non-empty string, got {name!r}.")
    if not callable(builder):
        raise ValueError(f"`builder` must be a function returning a keras.Model, got {builder!r}.")
    if name in _REGISTRY:
        raise ValueError(f"`name` {name!r} is already registered ({_REGISTRY[name].paper}).")
    spec = ModelSpec(name, builder, MappingProxyType(dict(options or {})), paper, parameters,
                     reference)
    unknown = sorted(set(spec.options) - _arguments(builder))
    if unknown:
        raise ValueError(
            f"`options` {unknown} are not arguments of {builder.__name__}; it takes "
            f"{', '.join(sorted(_arguments(builder)))}."
        )
    _REGISTRY[name] = spec
    return spec


def names(pattern: str | None = None) -> list[str]:
    """The registered names, sorted; ``pattern`` keeps those matching it (``"resnet*_cifar"``)."""
    return sorted(n for n in _REGISTRY if pattern is None or fnmatch.fnmatchcase(n, pattern))


def spec(name: str) -> ModelSpec:
    """The ``ModelSpec`` registered as ``name``; a ``ValueError`` suggests the closest names."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        close = difflib.get_close_matches(str(name), list(_REGISTRY), n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(map(repr, close))}? " if close else ""
        raise ValueError(
            f"`name` must be a registered model; got {name!r}. {hint}"
            f"reslib.models.names() lists all {len(_REGISTRY)}."
        ) from None


def get(name: str, weights: str | None = None, **overrides: Any) -> keras.Model:
    """Build the configuration registered as ``name``, e.g. ``get("resnet56_cifar")``.

    Args:
        name: one of ``names()``.
        weights: ``None`` (random initialization, the only choice until trained weights are
            published); anything else raises a ``ValueError``.
        **overrides: the builder's head, training and layout arguments, e.g. ``classes=100``,
            ``include_top=False, pooling="avg"``, ``classifier_activation=None`` (logits),
            ``drop_path=0.1``; see ``FREE_ARGUMENTS``.

    Returns:
        The ``keras.Model``, named ``name`` unless ``name=`` is overridden.
    """
    model_spec = spec(name)
    if weights is not None:
        raise ValueError(
            f"`weights` must be None (random initialization): reslib publishes no trained "
            f"weights for {name!r} yet; got {weights!r}. Train it with reslib.training.train, "
            "or load saved weights with model.load_weights(path)."
        )
    return model_spec.build(**overrides)


def _arguments(builder: Callable[..., Any]) -> set[str]:
    return set(inspect.signature(builder).parameters)


def _check_overrides(model_spec: ModelSpec, overrides: Mapping[str, Any]) -> None:
    accepted = _arguments(model_spec.builder)
    unknown = sorted(set(overrides) - accepted)
    if unknown:
        free = sorted(accepted & FREE_ARGUMENTS)
        raise ValueError(
            f"{model_spec.name!r} got unknown argument(s) {unknown}; it accepts {free}."
        )
    fixed = sorted(set(overrides) - FREE_ARGUMENTS)
    if fixed:
        defined = {key: model_spec.options.get(key, "its default") for key in fixed}
        builder = model_spec.builder.__name__
        raise ValueError(
            f"{model_spec.name!r} is defined by {defined}; {fixed} cannot be overridden, so "
            f"that the name means one architecture. Call reslib.models.{builder}(...) for a "
            f"variant; get() overrides only {sorted(accepted & FREE_ARGUMENTS)}."
        )


def _register_papers_configurations() -> None:
    """The configurations of He et al. 2016a/b, Xie et al. 2017 and Huang et al. 2017."""
    he_a, he_b = "He et al. 2016a", "He et al. 2016b"
    # CIFAR-10 ResNets, 6n+2 layers, option A shortcuts (He et al. 2016a, section 4.2, Table 6)
    cifar = {20: 269_722, 32: 464_154, 44: 658_586, 56: 853_018, 110: 1_727_962,
             1202: 19_421_274}
    for depth, count in cifar.items():
        register(
            f"resnet{depth}_cifar", cifar_resnet,
            {"depth": depth, "version": 1, "block": "basic", "shortcut": "A"},
            f"{he_a}, section 4.2 and Table 6", count, f"he2016a.table6.resnet-{depth}.params",
        )
    # Pre-activation ResNets (He et al. 2016b, Tables 3 and 4): ResNet-110 keeps the basic
    # units and option A shortcuts of He et al. 2016a, only the unit changes; ResNet-164/1001
    # use bottleneck units (9n+2) with projections where the width changes.
    register(
        "preact_resnet110_cifar", cifar_resnet,
        {"depth": 110, "version": 2, "block": "basic", "shortcut": "A"},
        f"{he_b}, Table 3", 1_727_962, "he2016a.table6.resnet-110.params",
    )
    for depth, count in ((164, 1_703_258), (1001, 10_327_706)):
        register(
            f"preact_resnet{depth}_cifar", cifar_resnet,
            {"depth": depth, "version": 2, "block": "bottleneck", "shortcut": "B"},
            f"{he_b}, Tables 3 and 4", count, f"he2016b.table4.resnet-{depth}-preact.params",
        )
    register(
        "densenet_bc100_k12_cifar", cifar_densenet,
        {"depth": 100, "growth_rate": 12, "compression": 0.5, "bottleneck": True},
        "Huang et al. 2017, Table 2", 769_162, "huang2017.table2.densenet-bc-100.params",
    )
    # ImageNet: torchvision's counts (v1.5: stride on the 3x3 convolution, no conv biases)
    imagenet = {18: 11_689_512, 34: 21_797_672, 50: 25_557_032, 101: 44_549_160,
                152: 60_192_808}
    for depth, count in imagenet.items():
        register(
            f"resnet{depth}", resnet, {"depth": depth, "version": 1},
            f"{he_a}, Table 1", count, f"torchvision resnet{depth}: {count:,}",
        )
    register(
        "resnext50_32x4d", resnet,
        {"depth": 50, "version": 1, "groups": 32, "width_per_group": 4},
        "Xie et al. 2017, Table 1", 25_028_904, "torchvision resnext50_32x4d: 25,028,904",
    )
    applications = {121: 7_978_856, 169: 14_149_480, 201: 20_013_928}
    for depth, count in applications.items():
        register(
            f"densenet{depth}", densenet,
            {"blocks": IMAGENET_BLOCKS[depth], "growth_rate": 32, "stem": "imagenet"},
            "Huang et al. 2017, Table 1", count,
            f"keras.applications.DenseNet{depth} (trainable): {count:,}",
        )


_register_papers_configurations()
