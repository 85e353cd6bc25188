"""``python -m benchmarks [--only SECTIONS] [--quick] [--output DIR]``: run, print, record."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks import cifar, course, models, pipeline, system
from benchmarks.isolate import ROOT, run_worker
from benchmarks.report import Result, format_table, record, summary, write_record

SECTIONS = ("models", "cifar", "pipeline", "lessons", "grading", "make-test")
DEFAULT_SECTIONS = ("models", "cifar", "pipeline", "lessons", "grading")
RESULTS = ROOT / "benchmarks" / "results"


def parse_sections(text: str) -> list[str]:
    """``"models,cifar"`` -> ``["models", "cifar"]``, in the order of ``SECTIONS``."""
    chosen = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in SECTIONS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            f"--only takes a comma-separated list of {', '.join(SECTIONS)}; got {text!r}."
        )
    return [name for name in SECTIONS if name in chosen]


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Issue 8's benchmarks: print a table and record it as JSON.",
    )
    parser.add_argument(
        "--only", type=parse_sections, default=list(DEFAULT_SECTIONS),
        help=f"sections to run (default: {','.join(DEFAULT_SECTIONS)}; make-test only on request)",
    )
    parser.add_argument("--quick", action="store_true",
                        help="tiny settings (a smoke test, not a measurement)")
    parser.add_argument("--output", type=Path, default=RESULTS,
                        help="directory of the JSON record (default: benchmarks/results)")
    parser.add_argument("--no-record", action="store_true", help="print only, write no JSON")
    return parser.parse_args(argv)


def probe_device() -> tuple[str, dict]:
    """``("gpu" | "tpu" | "cpu", probe result)``, asked of a TensorFlow subprocess."""
    outcome = run_worker("benchmarks.timing:probe", {}, backend="tensorflow", timeout=600)
    if not outcome.ok:
        return "cpu", {"error": outcome.error}
    return outcome.result["accelerator"], outcome.result


def run_sections(sections: list[str], quick: bool, accelerator: str) -> list[Result]:
    """Run the chosen sections in order, announcing each on stderr."""
    results: list[Result] = []
    runners: dict[str, Callable[[], list[Result]]] = {
        "models": lambda: models.run(quick, accelerator),
        "cifar": lambda: cifar.run(quick, accelerator),
        "pipeline": lambda: pipeline.run(quick, cifar.fastest_training(results)),
        "lessons": course.lesson_results,
        "grading": course.grading_results,
        "make-test": course.make_test_results,
    }
    for name in sections:
        start = time.perf_counter()
        print(f"benchmarks: running {name} ...", file=sys.stderr, flush=True)
        section = runners[name]()
        results += section
        seconds = time.perf_counter() - start
        print(f"{format_table(section)}\nbenchmarks: {name} took {seconds:.0f} s",
              file=sys.stderr, flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    options = arguments(argv)
    hardware = system.hardware()
    environment = {"started": system.now(), "hardware": hardware, "versions": system.versions(),
                   "load_average_at_start": system.load_average()}
    accelerator, probe = probe_device()
    environment["device"] = probe
    results = run_sections(options.only, options.quick, accelerator)
    environment.update(finished=system.now(), load_average_at_end=system.load_average())
    print(format_table(results))
    print(summary(results))
    print(f"load average (1, 5, 15 min) at start {environment['load_average_at_start']}, "
          f"at end {environment['load_average_at_end']}; {accelerator}, {hardware['cpu']}, "
          f"{hardware['cpu_cores']} cores")
    if not options.no_record:
        settings = {"sections": options.only, "quick": options.quick,
                    "accelerator": accelerator}
        stem = f"{system.today()}-{system.machine_slug(hardware)}"
        stem += "-quick" if options.quick else ""
        path = write_record(record(results, environment, settings), options.output, stem)
        print(f"recorded in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
