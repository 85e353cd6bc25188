"""Builders that return ``keras.Model``s of the papers' reference architectures.

The builders (``cifar_resnet``, ``resnet``, ``densenet``, ...) take every option; the registry
names the papers' configurations: ``get("resnet56_cifar", classes=100)``, ``names()``.
"""

from reslib.models.densenet import cifar_densenet, densenet
from reslib.models.highway import highway_net
from reslib.models.registry import ModelSpec, get, names, register, spec
from reslib.models.resnet import cifar_resnet, resnet
from reslib.models.transformer import transformer_classifier
from reslib.models.unet import unet

__all__ = [
    "ModelSpec",
    "cifar_densenet",
    "cifar_resnet",
    "densenet",
    "get",
    "highway_net",
    "names",
    "register",
    "resnet",
    "spec",
    "transformer_classifier",
    "unet",
]
