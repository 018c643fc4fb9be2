"""Drift from streamed bins (SpecOps) against Evidently's report on the raw data, side by side.

Reference: 2,000 rows; current: 10k, 100k and 1M rows; 8 numeric features
of different shapes, 2 of them shifted (one in location, one in scale) by 3
shift sizes, with 3 seeds: 9 scenarios x 8 columns = 72 column decisions per
row count and method. Evidently (``ValueDrift``, its default thresholds: 0.1
for psi, jensenshannon and wasserstein, p < 0.05 for ks) sees the raw
columns; SpecOps sees the reference profile (``specops dataset profile``'s
50 quantile bins) and the current counts binned as ``specops serve`` bins
them, and decides with the same thresholds (ks: the asymptotic p-value of
D at the edges). Times: Evidently's report per method over the 8 columns;
SpecOps' decision from the bins per method, and (apart) the binning itself,
which a target does as requests arrive.

Not a test: nothing asserts a time. ``--rows=10000,100000`` picks row counts;
``--json=PATH`` writes the figures. Needs the ``bench`` extra (Evidently).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from specops.serve._metrics import FeatureStats
from specops.spec._profile import profile_columns
from specops.watch._drift import Current, Reference, drift, ks_pvalue

REFERENCE_ROWS = 2000
ROWS = (10_000, 100_000, 1_000_000)
SEEDS = (1, 2, 3)
SHIFTS = (0.05, 0.2, 0.5)  # location: + shift x std; scale: x (1 + shift)
BINS = 50
THRESHOLD = {"psi": 0.1, "jensenShannon": 0.1, "wasserstein": 0.1}
KS_ALPHA = 0.05
EVIDENTLY = {"psi": "psi", "jensenShannon": "jensenshannon", "wasserstein": "wasserstein", "ks": "ks"}
METHODS = tuple(EVIDENTLY)
CHUNK = 10_000  # rows per "request batch" when streaming the current data into bins


def _draw(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    return {
        "normal": rng.normal(50.0, 10.0, n),
        "lognormal": rng.lognormal(3.0, 1.0, n),
        "exponential": rng.exponential(12.0, n),
        "uniform": rng.uniform(0.0, 100.0, n),
        "gamma": rng.gamma(2.0, 300.0, n),
        "bimodal": np.where(rng.random(n) < 0.4, rng.normal(10, 2, n), rng.normal(30, 5, n)),
        "student_t": rng.standard_t(3, n),
        "poisson": rng.poisson(6.0, n).astype(np.float64),
    }


LOCATION, SCALE = "normal", "lognormal"  # the two shifted features


def _shifted(data: dict[str, np.ndarray], shift: float) -> dict[str, np.ndarray]:
    out = dict(data)
    out[LOCATION] = data[LOCATION] + shift * 10.0  # shift x the normal's std
    out[SCALE] = data[SCALE] * (1 + shift)  # a scale family: X -> cX (the lognormal stays positive)
    return out


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def _evidently(reference: dict[str, np.ndarray], current: dict[str, np.ndarray], method: str) -> tuple[dict[str, bool], float]:
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import ValueDrift

    columns = list(reference)
    definition = DataDefinition(numerical_columns=columns)
    ref = Dataset.from_pandas(pd.DataFrame(reference), data_definition=definition)
    cur = Dataset.from_pandas(pd.DataFrame(current), data_definition=definition)
    report = Report([ValueDrift(column=c, method=EVIDENTLY[method]) for c in columns])
    snapshot, seconds = _timed(lambda: report.run(cur, ref))
    decisions: dict[str, bool] = {}
    for metric in snapshot.dict()["metrics"]:
        column, value = metric["config"]["column"], float(metric["value"])
        threshold = float(metric["config"]["threshold"])
        decisions[column] = value < threshold if method == "ks" else value >= threshold
    return decisions, seconds


def _bin(profile: Any, current: dict[str, np.ndarray]) -> tuple[dict[str, Current], float]:
    names = list(current)
    stats = FeatureStats("features", names, [profile.features[n].histogram.edges for n in names])
    matrix = np.column_stack([current[n] for n in names]).astype(np.float32)

    def stream() -> None:
        for start in range(0, len(matrix), CHUNK):
            stats.observe(matrix[start : start + CHUNK])

    _, seconds = _timed(stream)
    out = {}
    for j, name in enumerate(names):
        f = stats.feature_json(stats.counts, stats.sums, j)
        out[name] = Current.of(f["counts"], f["underflow"], f["overflow"], f["nan"], f["sum"])
    return out, seconds


def _specops(profile: Any, current: dict[str, Current], method: str) -> tuple[dict[str, bool], float]:
    references = {
        n: Reference.of(p.histogram.edges, p.histogram.counts, p.std) for n, p in profile.features.items()
    }

    def decide() -> dict[str, bool]:
        out = {}
        for name, cur in current.items():
            ref = references[name]
            if method == "ks":
                d = drift("ks", ref, cur, threshold=1.0, min_samples=1).value
                assert d is not None
                out[name] = ks_pvalue(d, ref.rows, cur.samples) < KS_ALPHA
            else:
                result = drift(method, ref, cur, threshold=THRESHOLD[method], min_samples=1)
                out[name] = result.value is not None and result.value >= THRESHOLD[method]
        return out

    return _timed(decide)


def run(rows_list: tuple[int, ...]) -> list[dict[str, Any]]:
    figures = []
    for rows in rows_list:
        agree = dict.fromkeys(METHODS, 0)
        evidently_s = dict.fromkeys(METHODS, 0.0)
        specops_s = dict.fromkeys(METHODS, 0.0)
        bin_s = 0.0
        drifted = dict.fromkeys(METHODS, 0)
        total = 0
        for seed in SEEDS:
            rng = np.random.default_rng(seed)
            reference = _draw(rng, REFERENCE_ROWS)
            profile = profile_columns(reference, BINS)
            base = _draw(rng, rows)
            for shift in SHIFTS:
                current = _shifted(base, shift)
                binned, seconds = _bin(profile, current)
                bin_s += seconds
                total += len(current)
                for method in METHODS:
                    theirs, t_ev = _evidently(reference, current, method)
                    ours, t_so = _specops(profile, binned, method)
                    evidently_s[method] += t_ev
                    specops_s[method] += t_so
                    agree[method] += sum(theirs[c] == ours[c] for c in current)
                    drifted[method] += sum(ours.values())
        row = {
            "rows": rows, "decisions": total, "agree": agree, "specops_drifted": drifted,
            "evidently_s": evidently_s, "specops_s": specops_s, "binning_s": bin_s,
        }
        figures.append(row)
        print(f"current {rows:>9,} rows x 8 features, 9 scenarios ({total} column decisions per method); "
              f"streaming into bins took {bin_s:.3f} s in all")
        print(f"  {'method':<14}{'agree':>8}{'Evidently s':>14}{'SpecOps s':>12}{'speed-up':>10}{'drifted':>9}")
        for method in METHODS:
            ratio = evidently_s[method] / specops_s[method] if specops_s[method] else float("inf")
            print(f"  {method:<14}{agree[method]:>5}/{total:<2}{evidently_s[method]:>14.3f}"
                  f"{specops_s[method]:>12.5f}{ratio:>9.0f}x{drifted[method]:>9}")
        sys.stdout.flush()
    return figures


def main(argv: list[str]) -> int:
    rows = ROWS
    out: Path | None = None
    for arg in argv:
        if arg.startswith("--rows="):
            rows = tuple(int(r) for r in arg.split("=", 1)[1].split(","))
        elif arg.startswith("--json="):
            out = Path(arg.split("=", 1)[1])
    try:
        import evidently  # noqa: F401
    except ImportError:
        print("bench_drift needs Evidently: pip install -e '.[bench]'")
        return 1
    figures = run(rows)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
