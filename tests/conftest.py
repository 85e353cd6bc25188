"""Shared set-up: quiet TensorFlow, a fixed seed for every test, the backend in the header."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before Keras imports TensorFlow

import keras  # noqa: E402
import pytest  # noqa: E402


def pytest_report_header(config: pytest.Config) -> str:
    return f"keras {keras.__version__}, backend {keras.backend.backend()}"


@pytest.fixture(autouse=True)
def _seeded() -> None:
    keras.utils.set_random_seed(1234)
