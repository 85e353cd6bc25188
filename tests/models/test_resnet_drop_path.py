"""Specification of the ``drop_path`` option of reslib.models.resnet (stochastic depth)."""

import numpy as np
import pytest

from reslib.layers.blocks import BasicBlock, BottleneckBlock
from reslib.models.resnet import cifar_resnet, resnet
from tests.layer_checks import trainable_parameter_count


def drop_rates(model) -> list[float]:
    blocks = (BasicBlock, BottleneckBlock)
    return [layer.drop_path for layer in model.layers if isinstance(layer, blocks)]


def test_cifar_resnet_drop_path_decays_linearly_to_the_last_block():
    # Huang et al. 2016, eq. 4: block i of N drops with probability drop_path * i / N
    rates = drop_rates(cifar_resnet(20, drop_path=0.5))
    np.testing.assert_allclose(rates, [0.5 * i / 9 for i in range(1, 10)])
    assert rates[-1] == pytest.approx(0.5)


def test_imagenet_resnet_drop_path_counts_blocks_across_stages():
    rates = drop_rates(resnet(18, drop_path=0.1))
    np.testing.assert_allclose(rates, [0.1 * i / 8 for i in range(1, 9)])


def test_drop_path_changes_no_parameter_count():
    assert trainable_parameter_count(cifar_resnet(20, drop_path=0.2)) == 269_722
    assert drop_rates(cifar_resnet(20)) == [0.0] * 9


def test_drop_path_outside_zero_to_one_is_refused():
    with pytest.raises(ValueError, match=r"`drop_path` must be a number in \[0, 1\), got 1.0"):
        cifar_resnet(20, drop_path=1.0)
