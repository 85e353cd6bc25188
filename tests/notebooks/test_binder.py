"""Specification of binder/: the course's pins, CPU TensorFlow, reslib installed, lesson 01 runs.

The last test builds a fresh virtual environment from ``binder/requirements.txt`` alone (plus
``binder/postBuild``'s install of reslib), as repo2docker would, and runs lesson 01 in quick mode
with that environment's own Jupyter.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.notebooks.kernel import ROOT, read

BINDER = ROOT / "binder"


def pins(path: Path) -> dict[str, str]:
    found = re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+)", path.read_text(), flags=re.MULTILINE)
    return {name.lower(): version for name, version in found}


def test_binder_pins_are_the_courses_with_tensorflow_cpu():
    course, binder = pins(ROOT / "requirements.txt"), pins(BINDER / "requirements.txt")
    assert "tensorflow" not in binder and binder["tensorflow-cpu"] == course["tensorflow"]
    for name, version in binder.items():
        if name != "tensorflow-cpu":
            assert course.get(name) == version, f"binder pins {name}=={version}"
    for needed in ("keras", "jupyterlab", "ipykernel", "matplotlib", "scikit-learn"):
        assert needed in binder


def test_binder_uses_python_311_and_installs_reslib_without_touching_the_pins():
    assert (BINDER / "runtime.txt").read_text().strip() == "python-3.11"
    post_build = BINDER / "postBuild"
    assert os.access(post_build, os.X_OK)
    assert "pip install --no-deps ." in post_build.read_text()


@pytest.fixture(scope="module")
def binder_environment(tmp_path_factory):
    venv = tmp_path_factory.mktemp("binder") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "-r", str(BINDER / "requirements.txt")], check=True)
    subprocess.run(["bash", str(BINDER / "postBuild")], cwd=ROOT, check=True,
                   env=dict(os.environ, PATH=f"{venv / 'bin'}:{os.environ['PATH']}"))
    return venv


@pytest.mark.skipif(
    os.environ.get("RESLIB_BINDER_TEST") != "1",
    reason="builds a 2 GB environment (minutes): `make test-binder` or RESLIB_BINDER_TEST=1",
)
def test_lesson_01_runs_in_quick_mode_in_a_fresh_binder_environment(binder_environment, tmp_path):
    executed = tmp_path / "01_degradation.ipynb"
    env = dict(os.environ, RESLIB_QUICK="1", TF_CPP_MIN_LOG_LEVEL="3",
               MPLBACKEND="module://matplotlib_inline.backend_inline",
               PATH=f"{binder_environment / 'bin'}:{os.environ['PATH']}")
    env.pop("PYTHONPATH", None)
    subprocess.run(
        [str(binder_environment / "bin" / "jupyter"), "nbconvert", "--to", "notebook",
         "--execute", "--ExecutePreprocessor.timeout=900", "--output", str(executed),
         str(ROOT / "lessons" / "01_degradation.ipynb")],
        check=True, env=env, cwd=ROOT / "lessons",
    )
    outputs = [o for c in read(executed).cells for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)
