"""Helpers for the tests that read and run the course's notebooks."""

from __future__ import annotations

import os
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]


def read(path: Path) -> nbformat.NotebookNode:
    """The notebook at ``path``, validated against its nbformat schema."""
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    return notebook


def cells_with_outputs(notebook: nbformat.NotebookNode) -> list[int]:
    """Indices of code cells with outputs or execution counts (committed notebooks have none)."""
    return [
        index for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count"))
    ]


def execute(path: Path, timeout: int = 900, **env: str) -> tuple[nbformat.NotebookNode, float]:
    """Run every cell of ``path`` in a real ``python3`` Jupyter kernel, from the notebook's folder.

    ``env`` is added to the kernel's environment (e.g. ``RESLIB_QUICK="1"``). Figures come back as
    ``image/png`` outputs: an inherited ``MPLBACKEND=Agg`` is replaced by the inline backend.
    Returns the executed notebook and its wall time in seconds.
    """
    notebook = read(path)
    kernel_env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **env)
    kernel_env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    client = NotebookClient(
        notebook, timeout=timeout, kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    client.execute(env=kernel_env)
    return notebook, time.perf_counter() - start


def figures(notebook: nbformat.NotebookNode) -> int:
    """How many PNG figures the executed notebook shows."""
    return sum(
        "image/png" in output.get("data", {})
        for cell in notebook.cells if cell.cell_type == "code"
        for output in cell.get("outputs", [])
    )


def source(notebook: nbformat.NotebookNode, cell_type: str | None = None) -> str:
    """All cell sources (of one type, if given) joined, for searching."""
    return "\n\n".join(c.source for c in notebook.cells if cell_type in (None, c.cell_type))
