"""Compiled core vs its pure-Python twin, and the YAML fast path vs ruamel's loaders.

Figures are ratios against a baseline measured in the same run, so they
compare across machines. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from specops import _core_py, _yaml
from specops.spec import load_estate
from specops.spec._load import parse_text

try:
    from specops import _core_c
except ImportError:  # pragma: no cover
    _core_c = None  # type: ignore[assignment]

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


def main() -> None:
    bench_hash()
    bench_yaml()
    samples = [best_of(lambda: load_estate([SPECS]), 10, repeat=3)]
    print(f"  load_estate(specs/) end to end: {statistics.mean(samples) * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
