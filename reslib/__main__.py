"""``python -m reslib list`` and
``python -m reslib run NAME [--quick|--full] [--set KEY=VALUE ...] [--out DIR]``."""

from __future__ import annotations

import argparse
import ast
import os
import sys
from typing import Any


def setting(text: str) -> tuple[str, Any]:
    """``"epochs=20"`` -> ``("epochs", 20)``; the value is a Python literal, else a string."""
    key, equals, value = text.partition("=")
    if not equals or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, e.g. epochs=20; got {text!r}")
    try:
        return key.strip(), ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key.strip(), value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reslib", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the experiments")
    run = commands.add_parser("run", help="run one experiment headless")
    run.add_argument("name")
    mode = run.add_mutually_exclusive_group()
    mode.add_argument("--quick", dest="mode", action="store_const", const="quick")
    mode.add_argument("--full", dest="mode", action="store_const", const="full")
    run.add_argument("--out", default="results", help="folder for the JSON (default: results)")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--set", dest="overrides", action="append", type=setting, default=[],
                     metavar="KEY=VALUE",
                     help="change one setting of the mode's config, e.g. --set epochs=20 "
                          "(a Python literal; repeatable; recorded in the JSON)")
    run.add_argument("--checkpoint", metavar="DIR", default=None,
                     help="checkpoint every epoch of every training in DIR; rerunning the same "
                          "command resumes where it stopped (for short GPU slots)")
    run.add_argument("--time-limit", metavar="SECONDS", type=float, default=None,
                     help="with --checkpoint: stop training after SECONDS and store the run "
                          "labelled as partial")
    seeds = commands.add_parser(
        "seeds", help="run an experiment's quick mode for several seeds and store the margins "
                      "of its claims next to the seed-to-seed spread (degradation only)")
    seeds.add_argument("name", choices=["degradation"])
    seeds.add_argument("seeds", nargs="*", type=int, default=[0, 1, 2])
    args = parser.parse_args(argv)
    if args.command == "seeds":
        from reslib.experiments.degradation import SEED_STUDY, seed_study, store_seed_study

        store_seed_study(tuple(args.seeds))
        print(seed_study()["text"])
        print(f"\nwrote {SEED_STUDY}")
        return 0
    if getattr(args, "time_limit", None) is not None and args.checkpoint is None:
        parser.error("--time-limit needs --checkpoint DIR, where the partial run can resume")

    from reslib.experiments import EXPERIMENTS, run_experiment
    from reslib.experiments.report import save_figures, text_report

    if args.command == "list":
        for experiment in EXPERIMENTS.values():
            print(f"{experiment.name:16} lesson {experiment.lesson:20} {experiment.claim}")
        return 0
    if args.name not in EXPERIMENTS:
        parser.error(f"unknown experiment {args.name!r}; choose from {', '.join(EXPERIMENTS)}")
    try:
        record = run_experiment(args.name, args.mode or "quick", out=args.out, seed=args.seed,
                                overrides=dict(args.overrides), checkpoint_dir=args.checkpoint,
                                time_limit_s=args.time_limit)
    except ValueError as error:
        parser.error(str(error))
    print(text_report(record))
    print(f"\nwrote {os.path.join(args.out, args.name + '-' + record['mode'] + '.json')}")
    for path in save_figures(record, args.out):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
