"""reslib.grading's sandbox and review findings, without grading anything (milliseconds)."""

from __future__ import annotations

import os
import subprocess

import nbformat
import pytest

from reslib.grading import flags, sandbox
from tests.grading import pipeline


def test_memory_sizes_parse_and_bad_sizes_name_the_option() -> None:
    assert sandbox.parse_size("3GiB") == 3 * 2**30
    assert sandbox.parse_size("512MiB") == 512 * 2**20
    assert sandbox.parse_size("2G") == 2 * 2**30
    for bad in ("lots", "10MiB"):
        with pytest.raises(ValueError, match="--memory"):
            sandbox.parse_size(bad)


def test_limits_must_be_positive_and_the_error_names_the_field() -> None:
    with pytest.raises(ValueError, match=r"Limits\.wall must be a positive integer; got 0"):
        sandbox.Limits(wall=0)


def test_a_missing_bwrap_stops_grading_with_the_install_command(monkeypatch) -> None:
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="apt-get install -y bubblewrap.*--no-sandbox"):
        sandbox.check_available()


def test_the_sandbox_hides_the_repository_and_has_no_network(tmp_path) -> None:
    """What the kernel would see: the reslib package, but not the solutions next to it."""
    sandbox.check_available()
    uid = sandbox.sandbox_uid()
    scratch, runtime = tmp_path / "scratch", tmp_path / "runtime"
    scratch.mkdir(), runtime.mkdir()
    arguments = sandbox.bwrap_arguments(str(scratch), str(runtime), str(tmp_path / "work"),
                                        sandbox.reslib_folder(), uid)
    probe = (f"test -d {sandbox.reslib_folder()} && ! test -e {pipeline.SOLUTIONS} "
             f"&& ! test -e {os.path.expanduser('~')}/.bashrc && id -u "
             "&& (cat /proc/net/dev | grep -c : )")
    if uid is not None:
        os.chown(scratch, uid, uid)
    done = subprocess.run(["bwrap", *arguments, "--", *sandbox.unprivileged(uid), "sh", "-c",
                           probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    user, interfaces = done.stdout.split()
    assert int(user) != 0 and interfaces == "1"  # only the loopback: no network


def test_honest_answers_raise_no_flags() -> None:
    for name in pipeline.assignments():
        solution = nbformat.read(pipeline.SOLUTIONS / f"{name}.ipynb", as_version=4)
        assert flags.flags(solution, solution) == [], name


def test_an_unknown_grade_id_is_repaired_and_reported() -> None:
    solution = nbformat.read(pipeline.SOLUTIONS / "01_degradation.ipynb", as_version=4)
    edited = nbformat.from_dict(solution)
    test_cell = next(cell for cell in edited.cells
                     if cell.metadata.get("nbgrader", {}).get("grade"))
    test_cell.metadata["nbgrader"]["grade_id"] = "renamed"
    repaired, problems = flags.repair(edited, solution)
    assert "nbgrader" not in test_cell.metadata
    assert problems and "grade_id 'renamed'" in problems[0]


def test_a_corrupt_notebook_is_a_finding_not_a_crash() -> None:
    notebook, why = flags.read(b'{"cells": [')
    assert notebook is None and why.startswith("corrupt notebook")


def test_the_command_line_refuses_a_folder_that_is_no_course(tmp_path, capsys) -> None:
    from reslib.grading.__main__ import main

    assert main(["autograde", "01_degradation", "--course", str(tmp_path)]) == 2
    assert "nbgrader_config.py" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["autograde", "01_degradation", "--course", str(tmp_path), "--workers", "0"])
