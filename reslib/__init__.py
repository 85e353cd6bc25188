"""reslib: residual connections for Keras 3, the library of the course "Residual Connections".

``reslib.layers`` holds the layers (shortcuts, the generic ``Residual`` wrapper, ResNet blocks);
``reslib.models`` the builders of the papers' reference architectures and the registry of their
named configurations (``reslib.models.get("resnet56_cifar")``, ``reslib.models.names()``). Both
use ``keras.ops`` only, so they run on the TensorFlow, JAX and PyTorch backends.

Loading a saved model: a ``.keras`` file that holds reslib's layers loads only after
``import reslib``, because Keras finds a custom class only once its module has registered it.
Without that import ``keras.saving.load_model`` fails with a long ``TypeError`` whose useful
sentence ("Could not locate class 'BasicBlock'") comes after the model's whole configuration.
Use ``reslib.load_model(path)``: it registers every reslib class first, and if the file needs a
class reslib does not define, its error names that class and its module in the first sentence.
"""

from reslib._quiet import native_stderr_filtered

with native_stderr_filtered():  # TensorFlow's C++ start-up log, which ignores TF_CPP_MIN_LOG_LEVEL
    from reslib import layers, models
from reslib.saving import load_model

__version__ = "0.1.0"

__all__ = ["__version__", "layers", "load_model", "models"]
