"""What every lesson and exercise notebook does first: mode, set-up, where the course lives.

A notebook's first code cell installs ``reslib`` on Colab (pinned to ``RELEASE``, with
``--no-deps`` so that Colab's TensorFlow, Keras and NumPy stay as they are) and then calls
``setup()``. Its ``parameters`` cell reads ``quick_mode()``: quick mode (``RESLIB_QUICK=1``, as in
CI) runs a lesson in about two minutes on two CPU cores; full mode is the papers' scale on one GPU.
"""

from __future__ import annotations

import os
import platform
import sys
from typing import Any

import keras

REPOSITORY = "https://github.com/residual-connections/course"
"""Where the course is published; the Colab badges and install cells point here."""

RELEASE = "v0.1.0"
"""The tag that Colab install cells pin ``reslib`` to."""


def quick_mode() -> bool:
    """``True`` when the environment variable ``RESLIB_QUICK`` is ``"1"`` (CI, CPU, offline)."""
    return os.environ.get("RESLIB_QUICK") == "1"


def pip_requirement() -> str:
    """The pinned requirement the Colab cells install, e.g. ``reslib @ git+...@v0.1.0``."""
    return f"reslib @ git+{REPOSITORY}@{RELEASE}"


def colab_url(notebook_path: str) -> str:
    """The "Open in Colab" address of a notebook here, e.g. ``lessons/01_degradation.ipynb``."""
    github = REPOSITORY.removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{github}/blob/{RELEASE}/{notebook_path}"


def setup(seed: int = 0, precision: str = "auto", verbose: bool = True) -> dict[str, Any]:
    """Seed everything, choose the precision for the device, and say what runs where.

    Args:
        seed: passed to ``keras.utils.set_random_seed`` (Python, NumPy and the backend).
        precision: ``"auto"`` turns on mixed precision on a GPU or TPU and keeps float32 on a CPU
            (``reslib.training.configure_precision``); or a Keras dtype policy name.
        verbose: print one line of versions and one of the device.

    Returns:
        ``{"python", "keras", "backend", "reslib", "device", "precision", "quick", "on_colab"}``.
    """
    from reslib import __version__
    from reslib._quiet import native_stderr_filtered
    from reslib.training import accelerator, configure_precision

    with native_stderr_filtered():  # the first device query logs "no GPU" errors on a CPU
        keras.utils.set_random_seed(seed)
        device = accelerator() or "cpu"
    info = {
        "python": platform.python_version(),
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
        "reslib": __version__,
        "device": device,
        "precision": configure_precision(precision),
        "quick": quick_mode(),
        "on_colab": "google.colab" in sys.modules,
    }
    if verbose:
        backend_version = _backend_version(info["backend"])
        print(f"reslib {info['reslib']} | Keras {info['keras']} on {info['backend']} "
              f"{backend_version} | Python {info['python']}")
        print(f"device: {info['device']} | precision: {info['precision']} | "
              f"mode: {'quick (RESLIB_QUICK=1)' if info['quick'] else 'full'}")
    return info


def _backend_version(backend: str) -> str:
    try:
        module = __import__({"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}[backend])
        return str(module.__version__)
    except (ImportError, KeyError):
        return "(version unknown)"


CLAIMS_FILE_VARIABLE = "RESLIB_CLAIMS_FILE"
"""When set, ``claims`` also appends its verdicts to this JSON file (the lesson tests read it)."""


def claims(**verdicts: tuple[bool, str]) -> dict[str, bool]:
    """Show which of a lesson's claims this run reproduced, as a small table.

    Args:
        verdicts: ``name=(holds, evidence)``, e.g.
            ``deeper_plain_trains_worse=(loss56 > loss20, f"{loss56:.3f} > {loss20:.3f}")``.

    Returns:
        ``{name: holds}``. With ``RESLIB_CLAIMS_FILE`` set, the verdicts and their evidence are
        also merged into that JSON file, so a test that ran the notebook can check them.
    """
    import json

    if not verdicts:
        raise ValueError("claims() needs at least one `name=(holds, evidence)` pair")
    record = {}
    for name, verdict in verdicts.items():
        if not (isinstance(verdict, tuple) and len(verdict) == 2):
            raise ValueError(f"claim {name!r} must be a (holds, evidence) pair; got {verdict!r}")
        holds, evidence = bool(verdict[0]), str(verdict[1])
        record[name] = {"holds": holds, "evidence": evidence}
        print(f"{'reproduced' if holds else 'NOT reproduced':>14}  {name}: {evidence}")
    path = os.environ.get(CLAIMS_FILE_VARIABLE)
    if path:
        stored = json.loads(open(path).read()) if os.path.exists(path) else {}
        stored.update(record)
        with open(path, "w") as file:
            json.dump(stored, file, indent=1)
    return {name: entry["holds"] for name, entry in record.items()}


def binder_url(path: str = "lessons") -> str:
    """The "Launch on Binder" address that opens JupyterLab at ``path`` of the pinned release."""
    github = REPOSITORY.removeprefix("https://github.com/")
    return f"https://mybinder.org/v2/gh/{github}/{RELEASE}?urlpath=lab/tree/{path}"
