"""Specification of reslib.models.registry: the papers' configurations by name.

Models are built with their variables' shapes only (no initialization), which is all a parameter
count or an output shape needs and keeps these tests to seconds on TensorFlow and JAX. The
ImageNet entries' counts are checked once, against torchvision and keras.applications, in
test_resnet.py and test_densenet.py (through ``get``); the CIFAR entries here.
"""

import functools
import inspect
import math
from collections.abc import Callable

import keras
import pytest

from reslib import models, papers
from tests.layer_checks import trainable_parameter_count

PAPERS_CONFIGURATIONS = [
    *(f"resnet{depth}_cifar" for depth in (20, 32, 44, 56, 110, 1202)),
    *(f"preact_resnet{depth}_cifar" for depth in (110, 164, 1001)),
    "densenet_bc100_k12_cifar",
    *(f"resnet{depth}" for depth in (18, 34, 50, 101, 152)),
    "resnext50_32x4d",
    *(f"densenet{depth}" for depth in (121, 169, 201)),
]
CIFAR_RESNETS = [name for name in PAPERS_CONFIGURATIONS if "resnet" in name and "cifar" in name]


def shapes_only(make_model: Callable[[], keras.Model]) -> keras.Model:
    """``make_model()`` with its variables' shapes but no values (see test_densenet.py)."""
    with keras.StatelessScope(initialize_variables=False):
        model = make_model()
    keras.utils.clear_session()
    return model


def counts(model: keras.Model) -> tuple[int, int]:
    """(trainable parameters, of which batch norm's scales and shifts, ``gamma`` and ``beta``)."""
    batch_norm = sum(
        math.prod(weight.shape) for weight in model.trainable_weights
        if weight.name in ("gamma", "beta")
    )
    return trainable_parameter_count(model), batch_norm


def rounded_as_printed(count: int, paper: papers.PaperNumber) -> float:
    """``count`` in millions, rounded to as many decimals as the paper prints (0.27, 19.4)."""
    decimals = len(f"{paper.value:g}".partition(".")[2])
    return round(count / 1e6, decimals)


def cifar_resnet_counts(name: str) -> tuple[int, int]:
    """The counts of a CIFAR ResNet entry at its full depth, from two shallow twins.

    A stage of ``n`` blocks is its first block plus ``n - 1`` identical identity blocks, so the
    counts are affine in ``n``: those at ``n = 1`` and ``n = 2`` give them at any depth, without
    building ResNet-1202's 600 blocks.
    """
    options = dict(models.spec(name).options)
    per_block = 9 if options["block"] == "bottleneck" else 6
    n = (options.pop("depth") - 2) // per_block
    one, two = twin_counts(models.spec(name).builder, tuple(sorted(options.items())), per_block)
    return one[0] + (n - 1) * (two[0] - one[0]), one[1] + (n - 1) * (two[1] - one[1])


@functools.cache
def twin_counts(builder, options, per_block):
    """``counts`` of the configuration at ``n = 1`` and ``n = 2`` (one build per family)."""
    return tuple(
        counts(shapes_only(lambda k=k: builder(**dict(options), depth=per_block * k + 2)))
        for k in (1, 2)
    )


def test_names_include_every_named_configuration_of_the_papers():
    assert set(PAPERS_CONFIGURATIONS) <= set(models.names())
    assert models.names() == sorted(models.names())


def test_names_keep_those_matching_a_shell_pattern():
    assert models.names("resnet*_cifar") == sorted(
        f"resnet{depth}_cifar" for depth in (20, 32, 44, 56, 110, 1202)
    )
    assert models.names("nothing*") == []


@pytest.mark.parametrize("name", CIFAR_RESNETS)
def test_cifar_resnet_entries_have_their_recorded_and_the_papers_parameter_counts(name):
    trainable, batch_norm = cifar_resnet_counts(name)
    entry = models.spec(name)
    assert trainable == entry.parameters
    # the paper's count, rounded as printed, with batch norm's parameters or without them:
    # He et al. 2016a's 19.4M for ResNet-1202 counts them (19,421,274; without: 19.33M),
    # He et al. 2016b's 10.2M for ResNet-1001 does not (10,178,490; with them: 10,327,706)
    paper = papers.number(entry.reference)
    assert paper.unit == "M"
    assert paper.value in {rounded_as_printed(trainable, paper),
                           rounded_as_printed(trainable - batch_norm, paper)}


def test_densenet_bc_entry_is_huang_et_al_l100_k12():
    entry = models.spec("densenet_bc100_k12_cifar")
    model = shapes_only(lambda: models.get("densenet_bc100_k12_cifar"))
    assert model.name == "densenet_bc100_k12_cifar"
    assert trainable_parameter_count(model) == entry.parameters == 769_162
    assert round(entry.parameters / 1e6, 1) == papers.value(entry.reference)  # 0.8M


def test_get_overrides_the_head_and_keeps_the_registered_name():
    model = shapes_only(lambda: models.get("resnet20_cifar", classes=100, input_shape=(24, 24, 3),
                                           classifier_activation=None))
    assert model.name == "resnet20_cifar"
    assert model.input_shape == (None, 24, 24, 3)
    assert model.output_shape == (None, 100)
    assert model.layers[-1].name == "classifier"  # logits: no softmax layer
    assert trainable_parameter_count(model) == 269_722 + 90 * (64 + 1)  # 90 more classes

    features = shapes_only(lambda: models.get("resnet20_cifar", include_top=False))
    assert features.output_shape == (None, 8, 8, 64)
    pooled = shapes_only(lambda: models.get("resnet20_cifar", include_top=False, pooling="max"))
    assert pooled.output_shape == (None, 64)


def test_get_builds_on_an_input_tensor_like_keras_applications():
    images = keras.Input((32, 32, 3))
    scaled = keras.layers.Rescaling(1 / 255, name="scale")(images)
    model = shapes_only(lambda: models.get("resnet20_cifar", input_tensor=scaled))
    assert model.inputs[0] is images
    assert model.get_layer("scale") is not None
    assert model.output_shape == (None, 10)


HEAD_ARGUMENTS = {"include_top", "input_shape", "input_tensor", "pooling", "classes",
                  "classifier_activation"}


@pytest.mark.parametrize(
    "builder", [models.cifar_resnet, models.resnet, models.cifar_densenet, models.densenet,
                models.unet],
    ids=lambda builder: builder.__name__,
)
def test_every_image_builder_takes_keras_applications_head_arguments(builder):
    assert HEAD_ARGUMENTS <= set(inspect.signature(builder).parameters)


def test_highway_mlp_takes_the_head_arguments_but_pooling_it_has_nothing_to_pool():
    arguments = set(inspect.signature(models.highway_net).parameters)
    assert arguments & HEAD_ARGUMENTS == HEAD_ARGUMENTS - {"pooling"}
    images = keras.Input((8, 8))
    features = shapes_only(lambda: models.highway_net(depth=2, width=16, include_top=False,
                                                      input_tensor=images))
    assert features.inputs[0] is images and features.output_shape == (None, 16)


def test_unet_head_gives_logits_probabilities_or_features():
    small = {"depth": 1, "base_filters": 4, "input_shape": (8, 8, 1)}
    logits = shapes_only(lambda: models.unet(**small, classes=3))
    assert logits.layers[-1].name == "logits" and logits.output_shape == (None, 8, 8, 3)
    probabilities = shapes_only(lambda: models.unet(**small, classifier_activation="softmax"))
    assert probabilities.layers[-1].name == "predictions"
    assert probabilities.layers[-1].dtype_policy.name == "float32"
    features = shapes_only(lambda: models.unet(**small, include_top=False))
    assert features.output_shape == (None, 8, 8, 4)
    pooled = shapes_only(lambda: models.unet(**small, include_top=False, pooling="avg"))
    assert pooled.output_shape == (None, 4)


def test_register_adds_a_configuration_that_get_builds():
    name = "resnet8_cifar_test_only"
    try:
        models.register(name, models.cifar_resnet, {"depth": 8}, paper="a test")
        assert name in models.names()
        model = shapes_only(lambda: models.get(name, include_top=False, pooling="avg"))
        assert model.name == name
        assert model.output_shape == (None, 64)
        with pytest.raises(ValueError, match="already registered"):
            models.register(name, models.cifar_resnet, {"depth": 8})
    finally:
        models.registry._REGISTRY.pop(name, None)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: models.get("resnet57_cifar"), r"got 'resnet57_cifar'\. did you mean "
                                               r"'resnet56_cifar'"),
        (lambda: models.get("resnet56_cifar", weights="cifar10"),
         r"`weights` must be None .* got 'cifar10'"),
        (lambda: models.get("resnet56_cifar", depth=20),
         r"'resnet56_cifar' is defined by \{'depth': 56\}; \['depth'\] cannot be overridden"),
        (lambda: models.get("resnet50", groups=32), r"\['groups'\] cannot be overridden"),
        (lambda: models.get("resnet50", num_classes=10),
         r"'resnet50' got unknown argument\(s\) \['num_classes'\]; it accepts \[.*'classes'"),
        (lambda: models.register("mine", "resnet"), r"`builder` must be a function .* 'resnet'"),
        (lambda: models.register("mine", models.resnet, {"layers": 50}),
         r"`options` \['layers'\] are not arguments of resnet"),
        (lambda: models.get("resnet20_cifar", input_tensor=keras.ops.ones((1, 32, 32, 3))),
         r"`input_tensor` must be a symbolic Keras tensor"),
    ],
)
def test_bad_requests_say_what_is_allowed(call, message):
    with pytest.raises(ValueError, match=message):
        call()
