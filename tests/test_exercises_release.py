"""Specification of the released exercises: a test cell claims only the checks it still holds."""

import re
from pathlib import Path

import nbformat
import pytest

EXERCISES = sorted((Path(__file__).resolve().parents[1] / "exercises").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", EXERCISES, ids=lambda path: path.stem)
def test_no_released_test_cell_reports_a_pass_for_hidden_checks_it_does_not_contain(path):
    claims = [
        message for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"
        for message in re.findall(r"checks\.passed\(\s*[\"']([^\"']*)", cell.source)
        if "hidden" in message.lower() or "### BEGIN HIDDEN TESTS" in cell.source
    ]
    assert claims == [], f"{path.name} tells an untouched notebook that hidden checks passed"
