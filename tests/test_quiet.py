"""Specification of reslib._quiet: a learner's first cell shows no TensorFlow start-up log."""

import os
import subprocess
import sys

from reslib._quiet import ABSL_HEADER, without_start_up_noise

CAPTURED = f"""{ABSL_HEADER}
I0000 00:00:1795961239.043116    5126 port.cc:153] oneDNN custom operations are on.
I0000 00:00:1795961239.838817    5238 cpu_feature_guard.cc:227] This TensorFlow binary is optimized.
To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow.
E0000 00:00:1795961246.514774    5238 cuda_platform.cc:52] failed call to cuInit: UNKNOWN ERROR
W0000 00:00:1795961246.600000    5238 op_level.cc:12] a real warning
/x.py:3: UserWarning: from Python
  warnings.warn("from Python")
"""


def test_start_up_info_and_no_gpu_errors_are_dropped_and_the_rest_kept():
    assert without_start_up_noise(CAPTURED, min_level=1) == [
        "W0000 00:00:1795961246.600000    5238 op_level.cc:12] a real warning",
        "/x.py:3: UserWarning: from Python",
        '  warnings.warn("from Python")',
    ]


def test_tf_cpp_min_log_level_decides_which_absl_warnings_stay(monkeypatch):
    assert not any("real warning" in line for line in without_start_up_noise(CAPTURED, 2))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")  # INFO goes even at level 0
    kept = without_start_up_noise(CAPTURED)
    assert "real warning" in kept[0] and not any(line.startswith("I0000") for line in kept)


def test_a_lessons_set_up_writes_nothing_to_stderr_without_tf_cpp_min_log_level():
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    run = subprocess.run([sys.executable, "-c", "from reslib.course import setup; setup()"],
                         env=dict(env, KERAS_BACKEND="tensorflow"), capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0 and "device:" in run.stdout
    assert run.stderr == ""
