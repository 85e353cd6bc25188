"""Highway MLP classifiers and their plain twins (Srivastava, Greff and Schmidhuber 2015).

"Training Very Deep Networks", NeurIPS 2015, section 4.1 and Fig. 1: fully connected networks
of 10 to 100 layers on MNIST and CIFAR-100, highway layers against plain layers, trained with
SGD. The plain nets stop learning as they get deeper; the highway nets, whose gates start
mostly closed (negative gate bias), do not.
"""

from __future__ import annotations

from typing import Any

import keras

from reslib import _validation as check
from reslib.layers.highway import Highway
from reslib.models._heads import classifier, image_input


def highway_net(
    depth: int = 10,
    width: int = 50,
    input_shape: tuple[int | None, ...] = (28, 28),
    classes: int = 10,
    gate_bias: float = -2.0,
    highway: bool = True,
    activation: Any = "relu",
    classifier_activation: Any = "softmax",
    kernel_initializer: Any = "he_normal",
    name: str | None = None,
    include_top: bool = True,
    input_tensor: Any = None,
) -> keras.Model:
    """An MLP classifier: flatten, ``Dense(width)``, ``depth`` highway layers, ``Dense(classes)``.

    ``highway=False`` gives the plain twin: the same depth and width, ``depth`` plain
    ``Dense(width, activation)`` layers with no gates and no skips. A highway layer holds twice
    the weights of a plain one (transform and gate); the paper compares networks of about equal
    parameter counts (50 highway vs 71 plain units), so pass a larger ``width`` to the plain twin
    for that comparison. The paper counts the projection among the layers: its "10-layer"
    network is ``highway_net(depth=9)``.

    Args:
        depth: number of highway (or plain) layers after the projection.
        width: units of the projection and of every highway/plain layer.
        input_shape: shape of one example; it is flattened, so images work too.
        classes: size of the classifier.
        gate_bias: initial transform gate bias of every highway layer (see ``Highway``). With
            the coupled carry gate the signal shrinks by about ``(1 - t)^2 + t^2`` per layer at
            init, so deeper nets want a more negative bias. Measured on scikit-learn's digits
            (width 50, relu, SGD 0.01 with momentum 0.9, batch 64, 8 epochs, one seed): -2
            trains 20 layers (68% train accuracy) but not 50 or 100 (10%); -4 reaches 91% at
            50 layers and 74% at 100; -6 reaches 95% at both. The plain twin: 77% at 20, 29% at
            50, 10% at 100 layers.
        highway: ``False`` for the plain twin.
        activation: of the projection and of every transform/plain layer.
        classifier_activation: ``"softmax"`` or ``None`` for logits.
        kernel_initializer: of every kernel but the classifier's.
        name: model name; default ``highway{depth}_mlp`` or ``plain{depth}_mlp``.
        include_top: end with the dense classifier; ``False`` ends with the last highway (or
            plain) layer's ``(batch, width)`` features. There is no ``pooling`` argument: the
            network flattens its input, so there is no feature map to pool.
        input_tensor: a symbolic Keras tensor to build the network on (keras.applications'
            argument); its shape replaces ``input_shape``.

    Returns:
        A ``keras.Model`` mapping ``(batch, *input_shape)`` to ``(batch, classes)``, or to
        ``(batch, width)`` without the top.

    Example:
        >>> highway_net(depth=20, width=16, input_shape=(8, 8), classes=10).output_shape
        (None, 10)
    """
    depth = check.positive_int("depth", depth)
    width = check.positive_int("width", width)
    if include_top:
        classes = check.positive_int("classes", classes)
    include_top = check.boolean("include_top", include_top)
    highway = check.boolean("highway", highway)
    name = check.model_name("name", name)
    gate_bias = check.finite_number("gate_bias", gate_bias)
    check.activation("activation", activation)
    check.activation("classifier_activation", classifier_activation)
    if input_tensor is None:
        input_shape = check.shape("input_shape", input_shape, all_known=True)
    # every layer deserializes its own initializer: one unseeded instance shared by all layers
    # would draw the same kernels for all of them
    initializer = keras.initializers.serialize(
        check.initializer("kernel_initializer", kernel_initializer)
    )
    dense = {"activation": activation, "kernel_initializer": initializer}

    inputs, x = image_input(input_shape, input_tensor)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(width, name="projection", **dense)(x)
    for index in range(1, depth + 1):
        if highway:
            layer = Highway(gate_bias=gate_bias, name=f"highway{index}", **dense)
        else:
            layer = keras.layers.Dense(width, name=f"plain{index}", **dense)
        x = layer(x)
    outputs = classifier(x, classes, classifier_activation) if include_top else x
    default_name = f"{'highway' if highway else 'plain'}{depth}_mlp"
    return keras.Model(inputs, outputs, name=name or default_name)
