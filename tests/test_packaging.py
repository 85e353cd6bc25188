"""The pip package: version, typing marker, and keras as its only hard dependency."""

import re
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

import reslib

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        check=True,
    )
    (path,) = out.glob("reslib-*.whl")
    return path


def test_version_is_0_1_0():
    assert reslib.__version__ == "0.1.0"


def test_wheel_ships_the_package_and_the_typing_marker(wheel: Path):
    names = zipfile.ZipFile(wheel).namelist()
    assert "reslib/py.typed" in names
    assert "reslib/layers/blocks.py" in names and "reslib/models/resnet.py" in names
    assert "reslib/offline_data/digits.npz" in names  # the offline fallback needs no download
    assert not any(name.startswith("tests/") for name in names)


def test_keras_3_is_the_only_hard_dependency(wheel: Path):
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        headers = Parser().parsestr(archive.read(metadata).decode())
    requirements = headers.get_all("Requires-Dist")
    hard = [r for r in requirements if "extra ==" not in r]
    assert hard == ["keras>=3"]
    assert any(r.startswith("tensorflow") and 'extra == "tensorflow"' in r for r in requirements)
    assert headers["Version"] == "0.1.0"


def test_layers_models_and_diagnostics_use_keras_ops_only():
    # Only the autodiff dispatch may name a backend: keras.ops has no grad.
    backend_code = r"import (tensorflow|jax|torch)|from (tensorflow|jax|torch)|\btf\."
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("layers", "models", "diagnostics")
        for path in (ROOT / "reslib" / folder).rglob("*.py")
        if path.name != "_autodiff.py" and re.search(backend_code, path.read_text())
    ]
    assert offenders == [], "reslib's layers, models and diagnostics use keras.ops only (DESIGN.md)"


def test_the_python_code_passes_the_linter():
    done = subprocess.run([sys.executable, "-m", "ruff", "check", str(ROOT)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout
