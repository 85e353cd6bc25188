"""Builders that return ``keras.Model``s of the papers' reference architectures."""

from reslib.models.resnet import cifar_resnet, resnet

__all__ = ["cifar_resnet", "resnet"]
