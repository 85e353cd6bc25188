"""Specification of reslib.diagnostics: gradients and Jacobians on any backend."""

import keras
import numpy as np
import pytest
from keras import ops

from reslib.diagnostics import gradient_norm_ratio, jacobian, vector_jacobian_product
from tests.layer_checks import random_inputs


def test_jacobian_of_a_linear_layer_is_its_transposed_kernel():
    layer = keras.layers.Dense(3, use_bias=False)
    x = random_inputs((1, 4))
    layer(x)
    np.testing.assert_allclose(jacobian(layer, x), ops.convert_to_numpy(layer.kernel).T, atol=1e-6)


def test_vector_jacobian_product_of_a_square_is_twice_the_input_times_the_vector():
    x, v = random_inputs((2, 3)), random_inputs((2, 3), seed=1)
    np.testing.assert_allclose(vector_jacobian_product(lambda t: t * t, x, v), 2 * x * v, rtol=1e-6)


def test_jacobian_takes_one_example_only():
    with pytest.raises(ValueError, match=r"one example of shape \(1, \.\.\.\); got \(2, 4\)"):
        jacobian(lambda t: t, random_inputs((2, 4)))


def test_gradient_norm_ratio_of_a_doubling_is_two_and_its_relative_form_one():
    x = random_inputs((4, 5))
    assert gradient_norm_ratio(lambda t: 2.0 * t, x) == pytest.approx(2.0, rel=1e-6)
    assert gradient_norm_ratio(lambda t: 2.0 * t, x, relative=True) == pytest.approx(1.0, rel=1e-6)
