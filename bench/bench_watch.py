"""The target's observation memory per model, its cost per request, and one watch-style evaluation.

- Memory: the ring arrays one model version holds (live; shadow doubles it
  once mirrored traffic arrives), for 8 features on 10 and on 50 bins.
- Hot path: one request recorded (features binned with one ``bincount``,
  then added into the 1-minute, 10-minute and hourly buckets).
- One tick for 100 models x 8 features: answer the observations document
  for every model (the windows of the default burn-rate pairs, features for
  the 1-hour drift window only), encode and decode it as JSON (what crosses the wire), then
  evaluate 4 burn-rate pairs for an error-rate and a latency objective and
  psi for 8 features from the bins.

Not a test: nothing asserts a time.
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any

import numpy as np
import orjson

from specops.serve._metrics import FeatureStats
from specops.serve._observe import Observations
from specops.spec._profile import profile_columns
from specops.spec._slo import DEFAULT_BURN_RATES, ErrorRateObjective, LatencyObjective
from specops.watch import Current, Reference, drift, evaluate_pair, pairs, window_counts
from specops.watch._burn import budget_of

FEATURES = [f"f{i}" for i in range(8)]
MODELS = 100
WINDOWS = sorted({300, 1800, 3600, 7200, 21600, 86400, 259200})
BOUNDS = [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def layout(bins: int, rng: np.random.Generator) -> tuple[list[FeatureStats], Any]:
    reference = {f: rng.lognormal(2.0, 0.7, 2000) for f in FEATURES}
    profile = profile_columns(reference, bins)
    edges = [profile.features[f].histogram.edges for f in FEATURES]
    return [FeatureStats("features", FEATURES, edges)], profile


def memory() -> None:
    rng = np.random.default_rng(0)
    for bins in (10, 50):
        features, _ = layout(bins, rng)
        obs = Observations(lambda m: BOUNDS, clock=Clock())
        obs.record("m", "1.0.0", features, shadow=False, outcome="ok", ms=1.0)
        live = obs.streams[("m", "1.0.0", "live")].nbytes
        print(f"memory per model version, 8 features x {bins} bins: {live / 1e6:.2f} MB live "
              f"({2 * live / 1e6:.2f} MB with shadow traffic); 100 models: {100 * live / 1e6:.0f} MB")


def hot_path() -> None:
    rng = np.random.default_rng(1)
    features, _ = layout(50, rng)
    clock = Clock()
    obs = Observations(lambda m: BOUNDS, clock=clock)
    rows = rng.lognormal(2.0, 0.7, (1, 8)).astype(np.float32)
    batch = rng.lognormal(2.0, 0.7, (256, 8)).astype(np.float32)
    for label, array, n in (("1 row", rows, 20000), ("256 rows", batch, 4000)):
        times = []
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(n):
                seen = [features[0].observe(array)]
                obs.record("m", "1.0.0", features, shadow=False, outcome="ok", ms=3.0, seen=seen)
                clock.now += 0.01
            times.append((time.perf_counter() - start) / n)
        print(f"record one request of {label} (8 features x 50 bins): {min(times) * 1e6:.1f} µs")


def tick() -> None:
    rng = np.random.default_rng(2)
    clock = Clock()
    obs = Observations(lambda m: BOUNDS, clock=clock)
    layouts: dict[str, list[FeatureStats]] = {}
    references: dict[str, dict[str, Reference]] = {}
    for m in range(MODELS):
        features, profile = layout(50, rng)
        name = f"model-{m:03d}"
        layouts[name] = features
        references[name] = {
            f: Reference.of(p.histogram.edges, p.histogram.counts, p.std) for f, p in profile.features.items()
        }
    # An hour of traffic, one 16-row request every 30 s per model, errors now and then.
    for _ in range(120):
        clock.now += 30
        for name, features in layouts.items():
            array = rng.lognormal(2.0, 0.7, (16, 8)).astype(np.float32)
            outcome = "error" if rng.random() < 0.01 else "ok"
            obs.record(name, "1.0.0", features, shadow=False, outcome=outcome, ms=float(rng.exponential(8)),
                       seen=[features[0].observe(array)])
    objectives = [ErrorRateObjective(type="errorRate", max=0.001), LatencyObjective(type="latency", percentile=99, threshold_ms=50)]
    burn_pairs = pairs(list(DEFAULT_BURN_RATES), 30 * 86400)
    timings: list[float] = []
    sizes: list[int] = []
    firing = drifted = 0
    for _ in range(3):
        start = time.perf_counter()
        firing = drifted = 0
        size = 0
        for name, features in layouts.items():
            raw = orjson.dumps(obs.answer(name, {"1.0.0": features}, WINDOWS, features=[3600]))
            size += len(raw)
            document = orjson.loads(raw)
            live = document["versions"]["1.0.0"]["live"]
            for objective in objectives:
                budget = budget_of(objective)
                for pair in burn_pairs:
                    long = window_counts(objective, live["windows"][str(pair.long_s)])
                    short = window_counts(objective, live["windows"][str(pair.short_s)])
                    firing += evaluate_pair(pair, long, short, budget).status == "firing"
            window = live["windows"]["3600"]["features"]
            for feature, reference in references[name].items():
                current = Current.from_json(window[f"features/{feature}"])
                result = drift("psi", reference, current, threshold=0.2, min_samples=500)
                drifted += result.status == "drift"
        timings.append(time.perf_counter() - start)
        sizes.append(size)
    print(f"one tick, {MODELS} models x 8 features x 50 bins, {len(WINDOWS)} windows: "
          f"{min(timings) * 1000:.0f} ms (median {statistics.median(timings) * 1000:.0f} ms); "
          f"{sizes[0] / MODELS / 1000:.1f} kB of JSON per model; "
          f"{firing} of {MODELS * 2 * len(burn_pairs)} burn pairs firing, {drifted} of {MODELS * 8} features drifted")


def main(argv: list[str]) -> int:
    memory()
    hot_path()
    tick()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
