"""``python -m benchmarks [--only SECTIONS] [--quick] [--output DIR]``: run, print, record."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks import cifar, course, export, grading, models, pipeline, system
from benchmarks.isolate import ROOT, run_worker
from benchmarks.report import Result, format_table, record, summary, write_record
from benchmarks.system import BACKENDS, installed_backends

SECTIONS = ("models", "export", "cifar", "pipeline", "lessons", "grading", "safe-grading",
            "make-test")
DEFAULT_SECTIONS = ("models", "export", "cifar", "pipeline", "lessons", "grading",
                    "safe-grading")
RESULTS = ROOT / "benchmarks" / "results"


def comma_list(text: str, option: str, allowed: tuple[str, ...] | dict) -> list[str]:
    """``"a, b"`` -> ``["a", "b"]``, each one of ``allowed``; else an argparse error naming them."""
    chosen = [name.strip() for name in text.split(",") if name.strip()]
    if not chosen or any(name not in allowed for name in chosen):
        raise argparse.ArgumentTypeError(
            f"{option} takes a comma-separated list of {', '.join(allowed)}; got {text!r}."
        )
    return chosen


def parse_sections(text: str) -> list[str]:
    """``"models,cifar"`` -> ``["models", "cifar"]``, in the order of ``SECTIONS``."""
    chosen = comma_list(text, "--only", SECTIONS)
    return [name for name in SECTIONS if name in chosen]


def parse_backends(text: str) -> list[str]:
    """``"jax"`` -> ``["jax"]``; refuses backends that are unknown or not installed."""
    chosen = comma_list(text, "--backends", BACKENDS)
    missing = [name for name in chosen if name not in installed_backends()]
    if missing:
        raise argparse.ArgumentTypeError(f"not installed here: {', '.join(missing)}.")
    return chosen


def parse_networks(text: str) -> list[str]:
    """``"ResNet-20,plain-56"`` -> that list; refuses names the cifar section does not know."""
    return comma_list(text, "--networks", cifar.NETWORKS)


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Issue 8's benchmarks: print a table and record it as JSON.",
    )
    parser.add_argument(
        "--only", type=parse_sections, default=list(DEFAULT_SECTIONS),
        help=f"sections to run (default: {','.join(DEFAULT_SECTIONS)}; make-test only on request)",
    )
    parser.add_argument(
        "--backends", type=parse_backends, default=installed_backends(),
        help="Keras backends to measure, the first also for models and pipeline (default: "
             "those installed of tensorflow,jax)",
    )
    parser.add_argument(
        "--networks", type=parse_networks, default=None,
        help=f"CIFAR networks of the cifar section (default: all of {','.join(cifar.NETWORKS)})",
    )
    parser.add_argument("--quick", action="store_true",
                        help="tiny settings (a smoke test, not a measurement)")
    parser.add_argument("--output", type=Path, default=RESULTS,
                        help="directory of the JSON record (default: benchmarks/results)")
    parser.add_argument("--label", default="",
                        help="appended to the record's name, e.g. 'binder' for a run in the "
                             "environment Binder builds (make bench-binder)")
    parser.add_argument("--no-record", action="store_true", help="print only, write no JSON")
    return parser.parse_args(argv)


def probe_device(backend: str) -> tuple[str, dict]:
    """``("gpu" | "tpu" | "cpu", probe result)``, asked of a ``backend`` subprocess."""
    outcome = run_worker("benchmarks.timing:probe", {}, backend=backend, timeout=600)
    if not outcome.ok:
        return "cpu", {"error": outcome.error}
    return outcome.result["accelerator"], outcome.result


def run_sections(
    sections: list[str], quick: bool, accelerator: str, backends: list[str] | None = None,
    after_each: Callable[[list[Result]], None] | None = None,
    networks: list[str] | None = None,
) -> list[Result]:
    """Run the chosen sections in order, announcing each on stderr; ``after_each`` gets the
    results so far after every section (to record them before a long next one)."""
    results: list[Result] = []
    backends = list(backends or BACKENDS)
    runners: dict[str, Callable[[], list[Result]]] = {
        "models": lambda: models.run(quick, accelerator, backends[0]),
        "export": lambda: export.run(quick, accelerator, backends[0]),
        "cifar": lambda: cifar.run(quick, accelerator, tuple(backends), networks),
        "pipeline": lambda: pipeline.run(quick, cifar.fastest_training(results), backends[0]),
        "lessons": course.lesson_results,
        "grading": course.grading_results,
        "safe-grading": lambda: grading.run(quick),
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
        if after_each is not None:
            after_each(results)
    return results


def main(argv: list[str] | None = None) -> int:
    options = arguments(argv)
    hardware = system.hardware()
    environment = {"started": system.now(), "hardware": hardware, "versions": system.versions(),
                   "load_average_at_start": system.load_average()}
    if not options.backends:
        raise SystemExit("benchmarks: neither TensorFlow nor JAX is installed.")
    accelerator, probe = probe_device(options.backends[0])
    environment["device"] = probe
    settings = {"sections": options.only, "quick": options.quick, "label": options.label,
                "backends": options.backends, "networks": options.networks,
                "accelerator": accelerator}
    stem = f"{system.today()}-{system.machine_slug(hardware)}"
    stem += "-quick" if options.quick else ""
    stem += f"-{options.label}" if options.label else ""

    def save(results: list[Result]) -> Path | None:
        """Write the record so far: a run stopped in a later section keeps the earlier ones."""
        if options.no_record:
            return None
        environment.update(finished=system.now(), load_average_at_end=system.load_average())
        return write_record(record(results, environment, settings), options.output, stem)

    results = run_sections(options.only, options.quick, accelerator, options.backends, save,
                           options.networks)
    path = save(results)
    print(format_table(results))
    print(summary(results))
    print(f"load average (1, 5, 15 min) at start {environment['load_average_at_start']}, "
          f"at end {environment['load_average_at_end']}; {accelerator}, {hardware['cpu']}, "
          f"{hardware['cpu_cores']} cores")
    if path is not None:
        print(f"recorded in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
