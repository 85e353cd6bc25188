"""Keras 3 layers for residual connections, one family per module (see DESIGN.md)."""

from reslib.layers.blocks import BasicBlock, BottleneckBlock
from reslib.layers.dense import DenseBlock, DenseLayer, Transition
from reslib.layers.highway import Highway
from reslib.layers.regularizers import DropPath, LayerScale, ReZero
from reslib.layers.residual import Residual
from reslib.layers.shortcut import SHORTCUT_MODES, Shortcut
from reslib.layers.transformer import PositionEmbedding, TransformerBlock

__all__ = [
    "SHORTCUT_MODES",
    "BasicBlock",
    "BottleneckBlock",
    "DenseBlock",
    "DenseLayer",
    "DropPath",
    "Highway",
    "LayerScale",
    "PositionEmbedding",
    "ReZero",
    "Residual",
    "Shortcut",
    "Transition",
    "TransformerBlock",
]
