"""Command-line start-up: whole-process time of ``specops --version`` and ``validate specs/``
against ``python -c pass`` in the same run (issue 15).

Every command runs as a fresh process, the commands interleaved, ``--runs`` times
each; the figure is the median. Not a test: nothing here asserts a time.
Run: ``python bench/bench_cli.py [--runs=20]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _table import report, whole_process

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="5 runs each")
    args, _ = parser.parse_known_args(argv)
    runs = 5 if args.quick else args.runs
    script = Path(sys.executable).parent / "specops"
    specops = [str(script)] if script.exists() else [sys.executable, "-m", "specops"]
    medians = whole_process(
        {
            "pass": [sys.executable, "-c", "pass"],
            "version": [*specops, "--version"],
            "help": [*specops, "--help"],
            "validate": [*specops, "validate", "specs"],
            "import": [sys.executable, "-c", "from specops.spec import load_estate"],
        },
        runs,
        cwd=str(ROOT),
    )
    print(f"whole process, median of {runs} runs each (interleaved)")
    base = medians["pass"]
    report("`specops --version`", medians["version"], "s", "`python -c pass`", base, "0.15 s")
    report("`specops --help`", medians["help"], "s", "`python -c pass`", base)
    report("`specops validate specs/` (example, 6 files)", medians["validate"], "s", "`python -c pass`", base, "0.25 s")
    report("importing the spec kinds (pydantic models), the floor of validate", medians["import"], "s", "`python -c pass`", base)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
