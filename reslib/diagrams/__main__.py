"""``python -m reslib.diagrams DIRECTORY [NAME ...]``: draw the course's block diagrams as SVG."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from reslib.diagrams import FIGURES, save_all


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m reslib.diagrams", description=__doc__)
    parser.add_argument("directory", help="where to write <name>.svg, e.g. lessons/figures")
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"figures to draw (default: all of {', '.join(FIGURES)})")
    parser.add_argument("--format", default="svg", help="svg (default) or png, to look at them")
    arguments = parser.parse_args(argv)
    try:
        paths = save_all(arguments.directory, arguments.names or None, arguments.format)
    except ValueError as error:
        parser.error(str(error))
    for path in paths:
        print(path)


if __name__ == "__main__":
    main()
