"""Builders that return ``keras.Model``s of the papers' reference architectures."""

from reslib.models.densenet import cifar_densenet, densenet
from reslib.models.highway import highway_net
from reslib.models.resnet import cifar_resnet, resnet
from reslib.models.transformer import transformer_classifier
from reslib.models.unet import unet

__all__ = [
    "cifar_densenet",
    "cifar_resnet",
    "densenet",
    "highway_net",
    "resnet",
    "transformer_classifier",
    "unet",
]
