"""Where a benchmark ran: the hardware, the software versions, and how busy the machine was.

Nothing here imports TensorFlow or JAX (the parent process stays light, every measurement runs
in its own subprocess); the accelerator is found by ``nvidia-smi`` and by the worker's probe.
"""

from __future__ import annotations

import datetime
import os
import platform
import re
import shutil
import subprocess
from importlib import metadata
from typing import Any

PACKAGES = (
    "reslib", "keras", "tensorflow", "tensorflow-cpu", "jax", "jaxlib", "numpy", "nbclient",
    "nbgrader", "ipykernel",
)


BACKENDS = ("tensorflow", "jax")


def installed_backends() -> list[str]:
    """The backends of ``BACKENDS`` whose framework is installed, in that order (nothing is
    imported: the parent process stays free of Keras)."""
    import importlib.util

    return [name for name in BACKENDS if importlib.util.find_spec(name) is not None]


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (Linux) or ``platform.processor()``."""
    try:
        with open("/proc/cpuinfo") as file:
            for line in file:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_gib() -> float | None:
    """Total RAM in GiB (``/proc/meminfo``), ``None`` where unreadable."""
    try:
        with open("/proc/meminfo") as file:
            for line in file:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def gpus() -> list[dict[str, str]]:
    """``[{"name", "memory", "driver"}]`` of the GPUs ``nvidia-smi`` lists, or ``[]``."""
    if shutil.which("nvidia-smi") is None:
        return []
    query = ["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"]
    try:
        output = subprocess.run(query, capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    rows = [line.split(", ") for line in output.strip().splitlines() if line.count(", ") == 2]
    return [{"name": name, "memory": memory, "driver": driver} for name, memory, driver in rows]


def versions() -> dict[str, str | None]:
    """Installed versions of Python and the packages that shape the numbers."""
    found: dict[str, str | None] = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    return found


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages: how much else was running (``None`` off Unix)."""
    try:
        return [round(load, 2) for load in os.getloadavg()]
    except OSError:
        return None


def hardware() -> dict[str, Any]:
    """CPU model and cores, RAM, GPUs, OS."""
    return {
        "cpu": cpu_model(),
        "cpu_cores": os.cpu_count(),
        "memory_gib": memory_gib(),
        "gpus": gpus(),
        "os": platform.platform(),
        "hostname": platform.node(),
    }


def machine_slug(hardware: dict[str, Any]) -> str:
    """A file-name-safe machine label, e.g. ``nvidia-h100-80gb-hbm3`` or ``amd-epyc-2cpu``."""
    if hardware.get("gpus"):
        label = hardware["gpus"][0]["name"]
        if len(hardware["gpus"]) > 1:
            label += f" x{len(hardware['gpus'])}"
    else:
        label = f"{hardware.get('cpu', 'cpu')} {hardware.get('cpu_cores')}cpu"
    label = re.sub(r"\(r\)|\(tm\)|processor|cpu @.*?(?= \d+cpu)|with radeon graphics", "",
                   label.lower())
    return re.sub(r"[^a-z0-9]+", "-", label).strip("-") or "unknown"


def today() -> str:
    """The local date, ``YYYY-MM-DD``."""
    return datetime.date.today().isoformat()


def now() -> str:
    """The local time, ISO 8601 with the UTC offset, to the second."""
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")
