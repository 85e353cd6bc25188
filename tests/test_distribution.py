"""Data-parallel training over 2 logical CPU devices trains like one device.

Each run is a fresh Python process: the CPU must be split into devices before the backend
starts (TensorFlow: logical device configuration; JAX: XLA's host device count).
"""

import json
import os
import subprocess
import sys
import textwrap

import keras
import pytest

SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    replicas = int(sys.argv[1])
    if os.environ["KERAS_BACKEND"] == "tensorflow":
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2
        )
    import keras, numpy as np
    from reslib.training import distribution_scope, train

    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 12)).astype("float32")
    y = (x[:, :3].sum(axis=1) > 0).astype("int64")

    def run():
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((12,)), keras.layers.Dense(32, activation="relu"),
                                  keras.layers.Dense(2, activation="softmax")])
        return model, train(model, (x, y), epochs=4, batch_size=64, learning_rate=0.1,
                            weight_decay=0.0, progress=False)

    if replicas == 1:
        model, history = run()
        count = 1
    else:
        devices = ["cpu:0", "cpu:1"]
        with distribution_scope(devices) as count:
            model, history = run()
    value = model.weights[0].value
    if os.environ["KERAS_BACKEND"] == "tensorflow":
        holders = len(getattr(value, "values", [value]))  # a MirroredVariable has one per replica
    else:
        holders = len(value.sharding.device_set)
    print(json.dumps({"replicas": count, "weight_copies": holders, "loss": history.train_loss}))
    """
)


def run(replicas: int) -> dict:
    env = dict(
        os.environ,
        KERAS_BACKEND=keras.backend.backend(),
        TF_CPP_MIN_LOG_LEVEL="3",
        XLA_FLAGS="--xla_force_host_platform_device_count=2",
    )
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(replicas)], env=env, capture_output=True, text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(keras.backend.backend() not in ("tensorflow", "jax"), reason="TF/JAX only")
def test_two_replicas_train_to_the_same_loss_as_one_device():
    single, double = run(1), run(2)
    assert double["replicas"] == double["weight_copies"] == 2 and single["weight_copies"] == 1
    assert double["loss"] == pytest.approx(single["loss"], rel=1e-3)
    assert single["loss"][-1] < single["loss"][0]
