"""nbgrader's ``Execute`` preprocessor, made to keep the cells that ran (issue 14, item 4).

Plain nbgrader drops a whole submission when its kernel dies (``os._exit``), and a cell that
ignores the interrupt (a loop that ignores SIGINT) makes every later cell time out in turn.
``GuardedExecute`` instead:

* gives the whole notebook a wall-clock budget (``notebook_timeout``): each cell's timeout is
  the smaller of nbgrader's ``Execute.timeout`` and the time left;
* after a cell times out, asks the kernel for a reply; one that does not answer, or a kernel
  that died, ends execution;
* marks every cell it did not run with an error output, so its test cells fail (0 points), and
  lets nbgrader save the grades of the cells that ran;
* checks that each test cell ran as written: it runs with a first line that sets a random
  marker, read back through ``user_expressions`` (evaluated without IPython's input
  transformers); a test cell that an input transformer or a patched shell blanked or rewrote
  fails, and the submission needs review;
* records what happened as JSON lines in ``events_file`` for the grading tool's review list.

It is used only inside the grading tool's throwaway course directories, configured by
``reslib.grading.worker`` (``Autograde.autograde_preprocessors``).
"""

from __future__ import annotations

import json
import secrets
import time

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Integer, Unicode

NOT_RUN = "NotRunByGrader"
ALTERED = "TestCellAltered"
MARKER = "__reslib_grading_ran__"


class GuardedExecute(Execute):
    """``Execute`` with a notebook wall clock, surviving kernel death and stuck kernels."""

    notebook_timeout = Integer(600, help="Seconds for the whole notebook.").tag(config=True)
    events_file = Unicode("", help="Where to append what happened (JSON lines).").tag(config=True)
    probe_timeout = Integer(10, help="Seconds a kernel has to answer after a timeout.").tag(
        config=True)

    def preprocess(self, nb: NotebookNode, resources: dict, km=None):
        self._deadline = time.monotonic() + self.notebook_timeout
        self._stopped = ""
        self._ran: set[int] = set()
        try:
            return super().preprocess(nb, resources, km=km)
        except DeadKernelError:  # died between cells or while shutting down
            self._stop("kernel_died", "the kernel died")
            for index, cell in enumerate(nb.cells):
                if index not in self._ran:
                    self._mark_not_run(cell)
            return nb, resources

    def _cell_timeout(self, cell: NotebookNode) -> int:
        left = int(self._deadline - time.monotonic())
        return max(1, min(self.timeout or left, left))

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int):
        self._ran.add(index)
        self.timeout_func = self._cell_timeout
        if not self._stopped and time.monotonic() >= self._deadline:
            self._stop("timed_out", f"the notebook ran past its {self.notebook_timeout} s limit")
        if self._stopped:
            return self._mark_not_run(cell), resources
        is_test = bool(cell.metadata.get("nbgrader", {}).get("grade")) and not (
            cell.metadata.get("nbgrader", {}).get("solution"))
        nonce, source = secrets.token_hex(8), cell.source
        if is_test and cell.cell_type == "code":
            cell.source = f"{MARKER} = {nonce!r}\n{source}"
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            cell.source = source
            self._stop("kernel_died", f"the kernel died in cell {index}")
            return self._mark_not_run(cell), resources
        except CellTimeoutError:  # interrupted, but the kernel never went idle again
            cell.source = source
            self._stop("timed_out", f"cell {index} timed out and the kernel did not stop "
                       "when interrupted")
            return self._mark_not_run(cell), resources
        cell.source = source
        if is_test and cell.cell_type == "code" and not self._has_error(cell):
            if self._marker() != repr(nonce):
                self._record("tampered", f"test cell {index} did not run as written (an input "
                             "transformer or a patched shell changed it): failed")
                cell.outputs.append(NotebookNode(
                    output_type="error", ename=ALTERED, evalue="the test did not run",
                    traceback=[f"{ALTERED}: this test cell did not run as written"]))
        if self._timed_out(cell):
            self._record("cell_timeout", f"cell {index} timed out and was interrupted")
            if not self._responsive():
                self._stop("timed_out", f"cell {index} timed out and the kernel did not stop "
                           "when interrupted")
        return cell, resources

    @staticmethod
    def _timed_out(cell: NotebookNode) -> bool:
        return any(output.get("ename") == "CellTimeoutError"
                   for output in cell.get("outputs", []))

    @staticmethod
    def _has_error(cell: NotebookNode) -> bool:
        return any(output.output_type == "error" for output in cell.get("outputs", []))

    def _marker(self) -> str | None:
        """The marker's value, read through ``user_expressions`` (no input transformers)."""
        msg_id = self.kc.execute("", silent=True, store_history=False,
                                 user_expressions={"ran": MARKER})
        saved, self.timeout_func = self.timeout_func, None
        saved_timeout, self.timeout = self.timeout, self.probe_timeout
        try:
            reply = self.wait_for_reply(msg_id)
        finally:
            self.timeout_func, self.timeout = saved, saved_timeout
        value = ((reply or {}).get("content", {}).get("user_expressions", {}).get("ran", {}))
        return value.get("data", {}).get("text/plain")

    def _responsive(self) -> bool:
        """Whether the kernel answers an empty execution within ``probe_timeout`` seconds."""
        saved, self.timeout_func = self.timeout_func, None
        saved_timeout, self.timeout = self.timeout, self.probe_timeout
        try:
            return self.wait_for_reply(self.kc.execute("", silent=True,
                                                       store_history=False)) is not None
        except DeadKernelError:
            return False
        finally:
            self.timeout_func, self.timeout = saved, saved_timeout

    def _stop(self, kind: str, message: str) -> None:
        if not self._stopped:
            self._stopped = message
            self._record(kind, message)

    def _record(self, kind: str, message: str) -> None:
        self.log.warning("grading: %s", message)
        if self.events_file:
            with open(self.events_file, "a") as file:
                file.write(json.dumps({"kind": kind, "message": message}) + "\n")

    def _mark_not_run(self, cell: NotebookNode) -> NotebookNode:
        if cell.cell_type == "code":
            cell.outputs = [NotebookNode(
                output_type="error", ename=NOT_RUN, evalue=self._stopped,
                traceback=[f"{NOT_RUN}: not run, because {self._stopped}"])]
        return cell
