"""Run every bench/bench_*.py in turn (``nox -s bench``); arguments pass through."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path


def main() -> int:
    here = Path(__file__).resolve().parent
    only = [a for a in sys.argv[1:] if not a.startswith("-")]
    for script in sorted(here.glob("bench_*.py")):
        if only and script.stem.removeprefix("bench_") not in only:
            continue
        print(f"== {script.name}", flush=True)
        saved = sys.argv
        sys.argv = [str(script), *[a for a in sys.argv[1:] if a.startswith("-")]]
        try:
            runpy.run_path(str(script), run_name="__main__")
        finally:
            sys.argv = saved
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
