"""What a submission's own cells do that a reviewer should see (issue 14, items 4 and 5).

Two kinds of findings, both read from the submitted notebook without running it:

* **problems** make a submission *needs review*: a notebook that is not valid JSON/nbformat, and
  edited grading metadata (a ``grade_id`` the assignment does not have, a test cell turned into
  an answer cell). ``repair`` keeps such a notebook gradable: cells with unknown ids lose their
  nbgrader metadata (they still run as ordinary code) and nbgrader re-adds the real test cells.
* **flags**: answer cells (and cells the student added) that touch the grading machinery:
  the IPython shell, input transformers, ``sys.modules``, ``reslib.checks``, builtins,
  processes, databases, signals, hard exits. A flag asks for review; it is not a penalty.
"""

from __future__ import annotations

import re

import nbformat

FLAG_PATTERNS = {
    "get_ipython": r"\bget_ipython\b|\b_ih\b",
    "input transformers": r"input_transformers|\binput_splitter\b|register_magic"
                          r"|\bast_transformers\b",
    "sys.modules": r"\bsys\s*\.\s*modules\b|\bimportlib\b|\b__import__\b",
    "reslib.checks": r"\breslib\s*\.\s*checks\b|from\s+reslib\s+import\s+[^\n]*\bchecks\b"
                     r"|\bchecks\s*\.\s*\w+\s*=|^\s*checks\s*=|\bCheckFailed\b",
    "builtins": r"\bbuiltins\b|__builtins__|\bglobals\s*\(|\bsetattr\s*\(",
    "subprocess": r"\bsubprocess\b|\bos\s*\.\s*(system|popen|fork|spawn\w*|exec\w*)\b"
                  r"|\bmultiprocessing\b|\bpty\b|^\s*!|%%(bash|sh|script)|%system\b|%sx\b",
    "sqlite3": r"\bsqlite3\b|\bsqlalchemy\b|gradebook|\bnbgrader\b",
    "os._exit": r"\bos\s*\.\s*_exit\b|\bos\s*\.\s*kill\b|\bsys\s*\.\s*exit\b"
                r"|\bquit\s*\(|\bexit\s*\(",
    "signal": r"\bimport\s+signal\b|\bsignal\s*\.\s*\w+|\bfrom\s+signal\s+import\b",
    "eval/exec": r"(?<![.\w])(eval|exec|compile)\s*\(|\bctypes\b",
    "files outside the notebook": r"\.\./|\bshutil\s*\.\s*rmtree\b|nbgrader_config|/startup/",
}
COMPILED = {name: re.compile(pattern, re.MULTILINE) for name, pattern in FLAG_PATTERNS.items()}


def _nbgrader(cell: dict) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def locked_ids(source: nbformat.NotebookNode) -> set[str]:
    """The ``grade_id`` of every cell nbgrader restores from the source (tests, read-only)."""
    return {_nbgrader(cell)["grade_id"] for cell in source.cells
            if _nbgrader(cell).get("grade_id") and not _nbgrader(cell).get("solution")}


def flags(notebook: nbformat.NotebookNode, source: nbformat.NotebookNode) -> list[str]:
    """``["answer cell 'x': get_ipython, subprocess", ...]``: the student's code cells (answer
    cells and added cells; not the cells nbgrader restores) that touch grading machinery."""
    restored = locked_ids(source)
    found = []
    for index, cell in enumerate(notebook.cells):
        grade_id = _nbgrader(cell).get("grade_id")
        if cell.get("cell_type") != "code" or grade_id in restored:
            continue
        hits = [name for name, pattern in COMPILED.items() if pattern.search(cell.source)]
        if hits:
            where = f"answer cell {grade_id!r}" if grade_id else f"added cell {index}"
            found.append(f"{where}: {', '.join(hits)}")
    return found


def read(data: bytes) -> tuple[nbformat.NotebookNode | None, str]:
    """``(notebook, "")``, or ``(None, why)`` when ``data`` is no valid notebook."""
    try:
        notebook = nbformat.reads(data.decode("utf-8"), as_version=4)
        nbformat.validate(notebook)
    except Exception as error:  # any failure to read is the same finding for the reviewer
        return None, f"corrupt notebook: {type(error).__name__}: {str(error).splitlines()[0][:120]}"
    return notebook, ""


def repair(notebook: nbformat.NotebookNode,
           source: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, list[str]]:
    """Make edited grading metadata gradable; ``(notebook, problems found)``."""
    kinds = {_nbgrader(cell)["grade_id"]: _nbgrader(cell) for cell in source.cells
             if _nbgrader(cell).get("grade_id")}
    problems = []
    for cell in notebook.cells:
        meta = _nbgrader(cell)
        grade_id = meta.get("grade_id")
        if not meta:
            continue
        if grade_id not in kinds:
            problems.append(f"edited metadata: grade_id {grade_id!r} is not in the assignment "
                            "(graded as an ordinary cell; the real cell was re-added)")
            del cell.metadata["nbgrader"]
        elif any(bool(meta.get(key)) != bool(kinds[grade_id].get(key))
                 for key in ("grade", "solution", "locked", "task")):
            problems.append(f"edited metadata: the kind of cell {grade_id!r} was changed "
                            "(restored from the assignment)")
            cell.metadata["nbgrader"] = dict(kinds[grade_id])
    return notebook, problems
