"""Keras 3 layers for residual connections, one family per module (see DESIGN.md)."""

from reslib.layers.blocks import BasicBlock, BottleneckBlock
from reslib.layers.residual import Residual
from reslib.layers.shortcut import SHORTCUT_MODES, Shortcut

__all__ = ["SHORTCUT_MODES", "BasicBlock", "BottleneckBlock", "Residual", "Shortcut"]
