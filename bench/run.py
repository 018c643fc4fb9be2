"""Run every bench/bench_*.py in turn (``nox -s bench``), then print issue 15's table.

Arguments pass through: names select scripts (``python bench/run.py cli policy``),
flags go to each script (``--quick``). Every row of the table stands beside a
baseline measured in the same run, so the ratio reads the same on any machine.
"""

from __future__ import annotations

import runpy
import sys
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _table import ROWS, format_table  # noqa: E402


def main() -> int:
    only = [a for a in sys.argv[1:] if not a.startswith("-")]
    failed: list[str] = []
    for script in sorted(HERE.glob("bench_*.py")):
        if only and script.stem.removeprefix("bench_") not in only:
            continue
        print(f"== {script.name}", flush=True)
        saved = sys.argv
        sys.argv = [str(script), *[a for a in sys.argv[1:] if a.startswith("-")]]
        try:
            runpy.run_path(str(script), run_name="__main__")
        except SystemExit as exc:
            if exc.code not in (None, 0):
                failed.append(f"{script.name} (exit {exc.code})")
        except Exception:  # one broken benchmark must not hide the others' figures
            traceback.print_exc()
            failed.append(script.name)
        finally:
            sys.argv = saved
    if ROWS:
        print("\n== issue 15: each figure beside its baseline from this run\n")
        print(format_table(ROWS))
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
