"""Request counters, latency and input statistics per model version, and their Prometheus view.

Latency is kept in fine logarithmic bins (100 per decade, 1 µs to 100 s),
so the bucket bounds reported can change when an SLO declares a new
threshold without losing what was counted before: the count at a bound is
the samples in the bins that end at or below it (never more than were
really under it; at most 2.3 % of the bound is lost to bin width).

Input features are counted in streaming histograms on the bin edges of the
training dataset's reference profile when there is one (numpy's half-open
bins, plus an underflow and an overflow bin), so drift against that profile
can be computed later from two snapshots.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

__all__ = ["DEFAULT_BOUNDS_MS", "FeatureStats", "Metrics", "VersionStats"]

DEFAULT_BOUNDS_MS: tuple[float, ...] = (1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
_PER_DECADE = 100
_FLOOR_MS = 0.001
_BINS = 8 * _PER_DECADE + 1  # 1 µs .. 100 s, then everything slower
_EDGES = [_FLOOR_MS * 10 ** (i / _PER_DECADE) for i in range(_BINS)]


def _bin(ms: float) -> int:
    if ms <= _FLOOR_MS:
        return 0
    return min(_BINS, math.ceil(_PER_DECADE * math.log10(ms / _FLOOR_MS) - 1e-9))


class FeatureStats:
    """Streaming histograms of one tensor's features (last axis), on fixed edges per feature."""

    def __init__(self, tensor: str, features: list[str], edges: list[list[float]]) -> None:
        self.tensor = tensor
        self.features = features
        self.edges = [np.asarray(e, dtype=np.float64) for e in edges]
        self.counts = [np.zeros(len(e) + 1, dtype=np.int64) for e in edges]
        self.nan = np.zeros(len(features), dtype=np.int64)
        self.sums = np.zeros(len(features), dtype=np.float64)
        self.seen = np.zeros(len(features), dtype=np.int64)

    def observe(self, array: np.ndarray) -> None:
        if array.ndim == 0 or array.shape[-1] != len(self.features) or array.dtype.kind not in "iuf":
            return
        rows = array.reshape(-1, len(self.features)).astype(np.float64, copy=False)
        for j, edges in enumerate(self.edges):
            column = rows[:, j]
            nan = np.isnan(column)
            if nan.any():
                self.nan[j] += int(nan.sum())
                column = column[~nan]
            index = np.searchsorted(edges, column, side="right")
            index[column == edges[-1]] = len(edges) - 1  # the last bin is closed, as numpy's
            self.counts[j] += np.bincount(index, minlength=len(edges) + 1)
            self.sums[j] += float(column.sum())
            self.seen[j] += column.size

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for j, feature in enumerate(self.features):
            counts = self.counts[j].tolist()
            out[feature] = {
                "edges": self.edges[j].tolist(),
                "counts": counts[1:-1],
                "underflow": counts[0],
                "overflow": counts[-1],
                "nan": int(self.nan[j]),
                "count": int(self.seen[j]),
                "sum": float(self.sums[j]),
            }
        return out


@dataclass(slots=True)
class VersionStats:
    requests: int = 0
    errors: int = 0
    guardrail_blocks: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    bins: list[int] = field(default_factory=lambda: [0] * (_BINS + 1))
    latency_sum_ms: float = 0.0
    shadow_requests: int = 0
    features: list[FeatureStats] = field(default_factory=list)

    def record(self, outcome: str, ms: float, *, shadow: bool = False) -> None:
        self.requests += 1
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        if outcome == "error":
            self.errors += 1
        elif outcome == "blocked":
            self.guardrail_blocks += 1
        if shadow:
            self.shadow_requests += 1
        self.bins[_bin(ms)] += 1
        self.latency_sum_ms += ms

    def buckets(self, bounds_ms: list[float]) -> list[tuple[float, int]]:
        """Cumulative ``(le, count)`` at each bound (see the module note on bin width)."""
        out: list[tuple[float, int]] = []
        total = 0
        i = 0
        for bound in bounds_ms:
            while i < _BINS and _EDGES[i] <= bound * (1 + 1e-9):
                total += self.bins[i]
                i += 1
            out.append((bound, total))
        return out


class Metrics:
    """Every counter the target keeps; recorded on the event loop thread only."""

    def __init__(self, bounds_for: Callable[[str], list[float]]) -> None:
        self.versions: dict[tuple[str, str], VersionStats] = {}
        self.guardrail_hits: dict[tuple[str, str, str, str, str], int] = {}
        self.shadow_dropped: dict[str, int] = {}
        self.bounds_for = bounds_for
        self.info: Callable[[], list[dict[str, Any]]] = list

    def version(self, model: str, version: str) -> VersionStats:
        stats = self.versions.get((model, version))
        if stats is None:
            stats = self.versions[(model, version)] = VersionStats()
        return stats

    def forget(self, model: str, keep: set[str]) -> None:
        for key in [k for k in self.versions if k[0] == model and k[1] not in keep]:
            del self.versions[key]

    def hit(self, model: str, guardrail: str, check: str, stage: str, action: str) -> None:
        key = (model, guardrail, check, stage, action)
        self.guardrail_hits[key] = self.guardrail_hits.get(key, 0) + 1

    def stats(self, model: str, versions: list[str]) -> dict[str, Any]:
        bounds = self.bounds_for(model)
        out: dict[str, Any] = {}
        for version in versions:
            s = self.version(model, version)
            buckets: list[list[Any]] = [[b, c] for b, c in s.buckets(bounds)]
            buckets.append(["+Inf", s.requests])
            out[version] = {
                "requests": s.requests,
                "errors": s.errors,
                "guardrail_blocks": s.guardrail_blocks,
                "shadow_requests": s.shadow_requests,
                "outcomes": dict(s.outcomes),
                "latency_sum_ms": s.latency_sum_ms,
                "latency_buckets_ms": buckets,
                "input_features": {f.tensor: f.to_json() for f in s.features},
            }
        return out

    def collector(self) -> Collector:
        return _Collector(self)


class _Collector(Collector):
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        m = self.metrics
        requests = CounterMetricFamily(
            "specops_requests", "Inference requests answered, by model, version and outcome.",
            labels=["model", "version", "outcome"],
        )
        latency = HistogramMetricFamily(
            "specops_request_duration_seconds", "Inference latency (buckets include every SLO threshold).",
            labels=["model", "version"],
        )
        features = HistogramMetricFamily(
            "specops_input_feature", "Input feature values, on the reference profile's bin edges.",
            labels=["model", "version", "tensor", "feature"],
        )
        for (model, version), s in sorted(m.versions.items()):
            for outcome, count in sorted(s.outcomes.items()):
                requests.add_metric([model, version, outcome], count)
            buckets: list[tuple[str, float]] = [
                (_le(b / 1000), c) for b, c in s.buckets(m.bounds_for(model))
            ]
            buckets.append(("+Inf", s.requests))
            latency.add_metric([model, version], buckets, s.latency_sum_ms / 1000)
            for f in s.features:
                for j, feature in enumerate(f.features):
                    cumulative = np.cumsum(f.counts[j][:-1]).tolist()
                    fb = [(_le(e), c) for e, c in zip(f.edges[j].tolist(), cumulative, strict=True)]
                    fb.append(("+Inf", int(f.seen[j])))
                    features.add_metric([model, version, f.tensor, feature], fb, float(f.sums[j]))
        hits = CounterMetricFamily(
            "specops_guardrail_hits", "Guardrail checks that hit, by model, guardrail, check, stage and action.",
            labels=["model", "guardrail", "check", "stage", "action"],
        )
        for key, count in sorted(m.guardrail_hits.items()):
            hits.add_metric(list(key), count)
        dropped = CounterMetricFamily(
            "specops_shadow_dropped", "Mirrored requests dropped because the shadow queue was full.",
            labels=["model"],
        )
        for model, count in sorted(m.shadow_dropped.items()):
            dropped.add_metric([model], count)
        info = GaugeMetricFamily(
            "specops_model_info", "Loaded model versions, the providers they really got and their weight.",
            labels=["model", "version", "providers", "ready"],
        )
        # A ratio, 0 to 1, as Prometheus conventions want (the admin API keeps percentages).
        share = GaugeMetricFamily(
            "specops_traffic_ratio", "Share of a model's traffic each version serves (0 to 1).",
            labels=["model", "version"],
        )
        for row in m.info():
            info.add_metric([row["model"], row["version"], ",".join(row["providers"]), str(row["ready"]).lower()], 1)
            share.add_metric([row["model"], row["version"]], row["weight"] / 100)
        yield from (requests, latency, features, hits, dropped, info, share, _build_info())


def _build_info() -> GaugeMetricFamily:
    import platform

    from specops._core import COMPILED
    from specops._version import __version__

    build = GaugeMetricFamily(
        "specops_build_info", "The SpecOps build serving: version, Python, whether the compiled core is active.",
        labels=["version", "python", "core"],
    )
    build.add_metric([__version__, platform.python_version(), "compiled" if COMPILED else "pure"], 1)
    return build


def _le(value: float) -> str:
    # 12 significant digits: bounds computed in binary (6.800000000000001) print as written (6.8).
    return repr(float(f"{float(value):.12g}"))
