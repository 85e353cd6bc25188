"""reslib: residual connections for Keras 3, the library of the course "Residual Connections".

``reslib.layers`` holds the layers (shortcuts, the generic ``Residual`` wrapper, ResNet blocks);
``reslib.models`` the builders of the papers' reference architectures. Both use ``keras.ops``
only, so they run on the TensorFlow, JAX and PyTorch backends.
"""

from reslib._quiet import native_stderr_filtered

with native_stderr_filtered():  # TensorFlow's C++ start-up log, which ignores TF_CPP_MIN_LOG_LEVEL
    from reslib import layers, models

__version__ = "0.1.0"

__all__ = ["__version__", "layers", "models"]
