"""Specification of reslib.checks for exercises 01 and 03: a wrong answer gets a hint, not a
Keras traceback (the autograder's hidden tests call the same functions)."""

import pytest
from keras import layers

from reslib.checks import ex01, ex03
from reslib.checks._core import CheckFailed


def block_without_projection(x, filters, strides=1):
    """A realistic mistake: the identity shortcut even where the shape changes."""
    h = layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False)(x)
    h = layers.ReLU()(layers.BatchNormalization()(h))
    h = layers.Conv2D(filters, 3, padding="same", use_bias=False)(h)
    return layers.ReLU()(layers.Add()([x, layers.BatchNormalization()(h)]))


def test_a_block_without_its_projection_fails_with_the_call_and_the_hint():
    with pytest.raises(CheckFailed, match=r"basic_block\(x, 32, strides=2\).*incompatible shapes"
                                          r".*Hint: .*1x1 Conv2D with the same strides"):
        ex01.check_basic_block(block_without_projection)


def test_the_hidden_tests_model_builder_also_turns_keras_errors_into_hints():
    with pytest.raises(CheckFailed, match="Hint: the shortcut must have the branch's shape"):
        ex03.functional(block_without_projection, 16, filters=32, strides=2)
