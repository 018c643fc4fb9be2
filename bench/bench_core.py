"""Compiled core vs its pure-Python twin, and the YAML fast path vs ruamel's loaders.

The planner core (``bench_planner_core``) runs on a synthetic estate shaped
like ``bench_plan.py``'s (1% targets, half models on a target, the rest
prompts on a model; 1% of models and prompts changed; live keys are other
string objects than the desired ones, sorted by id, as a snapshot read from
JSON has them),
each implementation on the same maps, rounds interleaved, best round kept:

* ``classify`` + ``levels``, the dict-keyed entry points the planner calls
  (the compiled ``levels`` indexes, packs and runs the kernel below, the
  compiled ``classify`` walks the dicts with a cursor; the twin walks the
  dicts), and the compiled ``levels``' own dict walk it replaced;
* packed path, split in its parts: interning the ids (``intern_ids``, once
  per table, reusable by later plans), packing the maps into arrays aligned
  by id (``pack_hashes`` x3, ``pack_deps``, ``mask``; per plan), the array
  kernels (``classify_packed`` + ``levels_packed``);
* field diffs of the changed resources (``field_diff``; the same in both
  paths), so the totals match ``bench_plan.py``'s "planner core" measure.

Figures are ratios against a baseline measured in the same run, so they
compare across machines. Not a test: nothing here asserts a time. Run:
``python bench/bench_core.py [--sizes=10000,100000] [--quick]``.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from ruamel.yaml import YAML

from specops import _core_py, _plan_py, _yaml
from specops.spec import load_estate
from specops.spec._load import parse_text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _table import report

try:
    from specops import _core_c
except ImportError:  # pragma: no cover
    _core_c = None  # type: ignore[assignment]
try:
    from specops import _plan_c
except ImportError:  # pragma: no cover
    _plan_c = None  # type: ignore[assignment]

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"


def best_of(fn: Callable[[], Any], number: int, repeat: int = 5) -> float:
    """Seconds per call: the best of ``repeat`` runs of ``number`` calls (least noisy)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - start) / number)
    return min(times)


def row(name: str, seconds: float, baseline: float | None) -> None:
    ratio = f"{baseline / seconds:6.1f}x" if baseline else "  (base)"
    print(f"  {name:<44} {seconds * 1e6:10.1f} us  {ratio}")


def bench_hash() -> None:
    estate = load_estate([SPECS])
    docs = [s.resource.canonical() for s in estate]
    big = {"resources": {f"Model/m{i}": docs[i % len(docs)] for i in range(2000)}}
    print("canonical hash (the example estate's 6 specs; a 2,000-spec document)")
    for label, doc, number in (("6 specs", docs, 2000), ("2,000-spec document", big, 5)):
        pure = best_of(lambda d=doc: _core_py.canonical_hash(d), number)
        row(f"{label}: pure Python", pure, None)
        if _core_c is not None:
            compiled = best_of(lambda d=doc: _core_c.canonical_hash(d), number)
            row(f"{label}: compiled", compiled, pure)


def bench_yaml() -> None:
    texts = [p.read_text() for p in sorted(SPECS.rglob("*.yaml"))]
    rt = YAML(typ="rt")
    safe = YAML(typ="safe")

    def roundtrip() -> None:
        for t in texts:
            rt.load(t)

    def safe_c() -> None:
        for t in texts:
            safe.load(t)

    def fast() -> None:
        for t in texts:
            _yaml.load_documents(t, "x.yaml")

    def full() -> None:
        for t in texts:
            parse_text(t, "x.yaml")

    n = len(texts)
    print(f"YAML loading, per spec file (mean of the example estate's {n} files)")
    base = best_of(roundtrip, 20) / n
    row("ruamel round-trip loader", base, None)
    row("ruamel safe loader (C)", best_of(safe_c, 50) / n, base)
    row("specops fast path (C composer + walker)", best_of(fast, 50) / n, base)
    row("specops parse + validate (pydantic)", best_of(full, 50) / n, base)


class Estate:
    """The planner core's inputs for ``n`` resources, shaped like ``bench_plan.py``'s estate."""

    def __init__(self, n: int) -> None:
        targets = max(1, n // 100)
        models = (n - targets) // 2
        self.ids: list[str] = []
        self.deps: dict[str, list[str]] = {}
        for i in range(n):
            if i < targets:
                rid = f"Target/t{i}"
            elif i < targets + models:
                m = i - targets
                rid = f"Model/m{m}"
                self.deps[rid] = [f"Target/t{m % targets}"]
            else:
                p = i - targets - models
                rid = f"Prompt/p{p}"
                self.deps[rid] = [f"Model/m{p % max(models, 1)}"]
            self.ids.append(rid)
        moved = {rid for k, rid in enumerate(self.ids) if k >= targets and k % 100 == 0}

        def digest(rid: str, rev: int) -> str:
            return hashlib.sha256(f"{rid}@{rev}".encode()).hexdigest()

        self.desired = {rid: digest(rid, 1 if rid in moved else 0) for rid in self.ids}
        # A snapshot read from JSON: equal ids, other string objects, in the order the
        # target listed them (sorted by id, as bench_plan.py's snapshot), not desired's.
        self.live = {(rid + ".")[:-1]: digest(rid, 0) for rid in sorted(self.ids)}
        self.recorded = {rid: digest(rid, 0) for rid in self.live}
        self.changed = moved
        docs = [s.resource.canonical() for s in load_estate([SPECS])]
        self.diffs: list[tuple[Any, Any]] = []
        for k, _ in enumerate(sorted(moved)):
            before = docs[k % len(docs)]
            after = copy.deepcopy(before)
            after.setdefault("metadata", {})["labels"] = {"rev": "1"}
            after.setdefault("spec", {})["version"] = "9.9.9"
            self.diffs.append((before, after))


def core_parts(core: ModuleType, e: Estate) -> dict[str, Callable[[], Any]]:
    """The planner core's steps on estate ``e`` with one implementation; the table persists between calls."""
    table: dict[str, Any] = {}

    def intern() -> None:
        index: dict[str, int] = {}
        names: list[str] = []
        n = core.intern_ids(index, names, e.desired)
        size = core.intern_ids(index, names, e.live)
        table.update(index=index, names=names, n=n, size=size)

    def pack() -> None:
        index, names, n, size = table["index"], table["names"], table["n"], table["size"]
        table["hashes"] = [core.pack_hashes(index, names, size, m) for m in (e.desired, e.live, e.recorded)]
        table["graph"] = (*core.pack_deps(index, names, n, e.deps), core.mask(index, names, n, e.changed))

    def kernels() -> None:
        core.classify_packed(table["size"], *table["hashes"], None)
        core.levels_packed(table["n"], *table["graph"])

    def entry_points() -> None:
        core.classify(e.desired, e.live, e.recorded, None)
        core.levels(e.ids, e.deps, e.changed)

    def levels() -> None:
        core.levels(e.ids, e.deps, e.changed)

    # The compiled levels before integer ids indexed the ids in a dict and
    # walked it; that stays as its path for repeated ids.
    levels_dicts = getattr(core, "_levels_dicts", core.levels)

    def levels_dict_walk() -> None:
        levels_dicts(e.ids, e.deps, e.changed)

    def diffs() -> None:
        for before, after in e.diffs:
            core.field_diff(before, after)

    intern()
    pack()
    return {"classify + levels": entry_points, "levels": levels, "levels, dict walk": levels_dict_walk, "interning": intern, "packing": pack,
            "kernels": kernels, "field diffs": diffs}


def bench_planner_core(sizes: list[int], rounds: int) -> None:
    impls = [m for m in (_plan_py, _plan_c) if m is not None]
    if len(impls) < 2:
        print("planner core: compiled core not built, nothing to compare")
        return
    for n in sizes:
        e = Estate(n)
        parts = {m.IMPLEMENTATION: core_parts(m, e) for m in impls}
        best: dict[str, dict[str, float]] = {name: {} for name in parts}
        for _ in range(rounds):  # interleaved: load on the machine falls on both alike
            for name, steps in parts.items():
                for step, fn in steps.items():
                    start = time.perf_counter()
                    fn()
                    took = time.perf_counter() - start
                    best[name][step] = min(best[name].get(step, took), took)
        py, c = best["python"], best["cython"]
        print(f"planner core, {n:,} resources (best of {rounds} interleaved rounds)")
        for step in py:
            if step == "levels, dict walk" and "_levels_dicts" not in dir(_plan_c):
                continue
            print(f"  {step:<12} twin {py[step] * 1e3:9.2f} ms  compiled {c[step] * 1e3:8.2f} ms  "
                  f"{py[step] / c[step]:6.1f}x")

        def total(t: dict[str, float], *steps: str) -> float:
            return sum(t[s] for s in steps)

        label = f"{n:,}"
        report(f"planner core (classify + levels + field diffs, as the planner calls it), twin against compiled, "
               f"{label}", total(py, "classify + levels", "field diffs"), "s", "compiled",
               total(c, "classify + levels", "field diffs"), "10x" if n == 100_000 else "")
        report(f"  compiled levels: dict walk against integer ids (index, pack_deps, levels_packed), {label}",
               c["levels, dict walk"], "s", "compiled levels by integer ids", c["levels"])
        report(f"  integer ids, interning included (intern + pack + kernels + field diffs), {label}",
               total(py, "interning", "packing", "kernels", "field diffs"), "s", "compiled",
               total(c, "interning", "packing", "kernels", "field diffs"))
        report(f"  the same, table reused (pack + kernels + field diffs), {label}",
               total(py, "packing", "kernels", "field diffs"), "s", "compiled",
               total(c, "packing", "kernels", "field diffs"))
        report(f"  the array kernels alone (classify_packed + levels_packed), {label}",
               py["kernels"], "s", "compiled", c["kernels"])
        report(f"  interning alone (intern_ids desired + live), {label}",
               py["interning"], "s", "compiled", c["interning"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="planner core: comma-separated estate sizes")
    parser.add_argument("--rounds", type=int, default=5, help="planner core: interleaved rounds per size")
    parser.add_argument("--quick", action="store_true", help="planner core: 10,000 only, 3 rounds")
    args, _ = parser.parse_known_args()
    sizes = [10_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    bench_planner_core(sizes, 3 if args.quick else args.rounds)
    bench_hash()
    bench_yaml()
    samples = [best_of(lambda: load_estate([SPECS]), 10, repeat=3)]
    print(f"  load_estate(specs/) end to end: {statistics.mean(samples) * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
