"""The YAML event walker: compiled against its pure-Python twin and ruamel's C-backed safe loader.

The same documents as ``bench_plan.py``'s estate (1% Targets, half Models,
the rest Prompts; 10,000 by default) are parsed by each, the candidates
interleaved round by round (load on a shared machine falls on all alike),
best of the rounds. Baselines: libyaml's events alone (what any walker over
``CParser`` pays) and ruamel's ``YAML(typ="safe")`` over the C parser. Rows
go to issue 15's table through ``_table.report``. Not a test: nothing here
asserts a time. Run: ``python bench/bench_yaml.py [--specs=10000] [--rounds=5]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.cyaml import CParser  # type: ignore[attr-defined]

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _table import report
from bench_plan import spec_file

from specops import _yaml, _yaml_py
from specops.spec._load import parse_text

try:
    from specops import _yaml_c
except ImportError:  # pragma: no cover - a broken build; the twin is still measured
    _yaml_c = None  # type: ignore[assignment]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specs", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="2,000 documents, 3 rounds")
    args, _ = parser.parse_known_args()
    n, rounds = (2_000, 3) if args.quick else (args.specs, args.rounds)
    texts = [spec_file(i, n, 0)[1].decode() for i in range(n)]
    safe = YAML(typ="safe", pure=False)

    def events() -> None:
        for text in texts:
            p = CParser(text)
            while p.get_event() is not None:
                pass

    def walker(parse: Callable[[str, list[int] | None], object]) -> Callable[[], None]:
        def run() -> None:
            for text in texts:
                parse(text, None)

        return run

    def ruamel_safe() -> None:
        for text in texts:
            list(safe.load_all(text))

    def validated() -> None:
        for text in texts:
            parse_text(text, "x.yaml")

    candidates: dict[str, Callable[[], None]] = {
        "events": events,
        "twin": walker(_yaml_py.parse),
        "safe": ruamel_safe,
        "validated": validated,
    }
    if _yaml_c is not None:
        candidates["compiled"] = walker(_yaml_c.parse)
    best = {name: float("inf") for name in candidates}
    for _ in range(rounds):
        for name, run in candidates.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    print(f"YAML walker over {n:,} spec files ({_yaml.IMPLEMENTATION} selected), best of {rounds}:")
    for name, seconds in best.items():
        print(f"  {name:<10} {seconds:.3f} s")
    if _yaml_c is not None:
        report(f"YAML walker, compiled, {n:,} specs", best["compiled"], "s", "pure-Python twin", best["twin"])
        report(f"YAML walker, compiled, {n:,} specs", best["compiled"], "s", "ruamel safe loader (C)", best["safe"])
        report(f"YAML walker, compiled, {n:,} specs", best["compiled"], "s", "libyaml events alone (CParser)",
               best["events"])
    report(f"YAML parse + validate ({_yaml.IMPLEMENTATION}), {n:,} specs", best["validated"], "s",
           "libyaml events alone (CParser)", best["events"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
