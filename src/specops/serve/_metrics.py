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

Live and mirrored (shadow) requests are counted apart: ``/metrics`` labels
the request and latency series ``traffic="live"`` or ``traffic="shadow"``, so
``sum by (model)`` over live traffic does not count a mirrored copy twice.
The feature histograms count every input a version saw, mirrored or not.
"""

from __future__ import annotations

import math
import time
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

from specops.serve._observe import DEFAULT_BUDGET_S, Observations

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
    """Streaming histograms of one tensor's features (last axis), on fixed edges per feature.

    All features are binned at once (no loop over features): edges are padded
    to the widest feature with +inf, a value's bin is the number of edges at or
    below it (the last edge closed, as numpy's), and one ``bincount`` over
    ``feature * width + bin`` counts the whole batch. Each feature owns
    ``width = max bins + 3`` slots: underflow, its bins, overflow (right after
    its last bin), unused padding, and NaN in the last slot.
    """

    def __init__(self, tensor: str, features: list[str], edges: list[list[float]]) -> None:
        self.tensor = tensor
        self.features = features
        self.edges = [np.asarray(e, dtype=np.float64) for e in edges]
        self.bins = np.array([len(e) - 1 for e in self.edges], dtype=np.int64)
        most = int(self.bins.max()) if len(features) else 1
        self.width = most + 3
        self._lower = np.full((len(features), most), np.inf)
        for j, e in enumerate(self.edges):
            self._lower[j, : len(e) - 1] = e[:-1]
        self._last = np.array([e[-1] for e in self.edges], dtype=np.float64)
        self._offsets = np.arange(len(features), dtype=np.int64) * self.width
        self.size = len(features) * self.width
        self.counts = np.zeros(self.size, dtype=np.int64)
        self.sums = np.zeros(len(features), dtype=np.float64)

    def accepts(self, array: np.ndarray) -> bool:
        """Whether ``array`` is binned: numbers, with this many features on the last axis."""
        n = len(self.features)
        return not (array.ndim == 0 or array.shape[-1] != n or array.dtype.kind not in "iuf" or n == 0)

    def bin(self, array: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """The batch's counts (``size`` slots) and per-feature sums, or None for an array of another shape."""
        n = len(self.features)
        if not self.accepts(array):
            return None
        # No float64 copy of the batch: comparing against the float64 edges casts each value
        # exactly as a copy would, and the sum accumulates in float64 (the same numbers).
        rows = array.reshape(-1, n)
        index = np.count_nonzero(rows[:, :, None] >= self._lower, axis=2) + (rows > self._last)
        index += self._offsets
        if rows.dtype.kind == "f":
            nan = np.isnan(rows)
            if nan.any():
                index[nan] = (self._offsets + self.width - 1)[np.nonzero(nan)[1]]
                rows = np.where(nan, rows.dtype.type(0), rows)
        counts = np.bincount(index.ravel(), minlength=self.size)
        return counts, rows.sum(axis=0, dtype=np.float64)

    def observe(self, array: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Count a batch into the cumulative histograms; returns what :meth:`bin` gave."""
        binned = self.bin(array)
        if binned is not None:
            self.counts += binned[0]
            self.sums += binned[1]
        return binned

    def layout(self) -> list[Any]:
        return [self.tensor, list(self.features), [e.tolist() for e in self.edges]]

    def feature_json(self, counts: np.ndarray, sums: np.ndarray, j: int) -> dict[str, Any]:
        """Feature ``j`` of a flat count vector (this layout) as the admin API shows it."""
        base, n = j * self.width, int(self.bins[j])
        under, over = int(counts[base]), int(counts[base + n + 1])
        inside = counts[base + 1 : base + n + 1]
        return {
            "edges": self.edges[j].tolist(),
            "counts": inside.tolist(),
            "underflow": under,
            "overflow": over,
            "nan": int(counts[base + self.width - 1]),
            "count": int(inside.sum()) + under + over,
            "sum": float(sums[j]),
        }

    def with_overflow(self, j: int) -> np.ndarray:
        """Feature ``j``'s cumulative ``[underflow, bins..., overflow]``."""
        base = j * self.width
        return self.counts[base : base + int(self.bins[j]) + 2]

    def to_json(self) -> dict[str, Any]:
        return {f: self.feature_json(self.counts, self.sums, j) for j, f in enumerate(self.features)}


def _cumulative(bins: list[int], bounds_ms: list[float]) -> list[tuple[float, int]]:
    out: list[tuple[float, int]] = []
    total = 0
    i = 0
    for bound in bounds_ms:
        while i < _BINS and _EDGES[i] <= bound * (1 + 1e-9):
            total += bins[i]
            i += 1
        out.append((bound, total))
    return out


@dataclass(slots=True)
class TrafficStats:
    """Outcomes and latency of one kind of traffic (live or mirrored) to a version."""

    outcomes: dict[str, int] = field(default_factory=dict)
    bins: list[int] = field(default_factory=lambda: [0] * (_BINS + 1))
    latency_sum_ms: float = 0.0

    @property
    def requests(self) -> int:
        return sum(self.outcomes.values())


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
    traffic: dict[str, TrafficStats] = field(
        default_factory=lambda: {"live": TrafficStats(), "shadow": TrafficStats()}
    )

    def record(self, outcome: str, ms: float, *, shadow: bool = False) -> None:
        self.requests += 1
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        if outcome == "error":
            self.errors += 1
        elif outcome == "blocked":
            self.guardrail_blocks += 1
        if shadow:
            self.shadow_requests += 1
        b = _bin(ms)
        self.bins[b] += 1
        self.latency_sum_ms += ms
        kind = self.traffic["shadow" if shadow else "live"]
        kind.outcomes[outcome] = kind.outcomes.get(outcome, 0) + 1
        kind.bins[b] += 1
        kind.latency_sum_ms += ms

    def buckets(self, bounds_ms: list[float]) -> list[tuple[float, int]]:
        """Cumulative ``(le, count)`` at each bound (see the module note on bin width)."""
        return _cumulative(self.bins, bounds_ms)


class Metrics:
    """Every counter the target keeps; recorded on the event loop thread only.

    ``observations`` holds the same events in time buckets (see ``_observe``).
    """

    def __init__(
        self,
        bounds_for: Callable[[str], list[float]],
        *,
        clock: Callable[[], float] = time.time,
        generation: Callable[[], object] = lambda: 0,
        budget_for: Callable[[str], float] | None = None,
    ) -> None:
        self.observations = Observations(
            bounds_for, clock=clock, generation=generation,
            budget_for=budget_for or (lambda model: DEFAULT_BUDGET_S),
        )
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
        self.observations.forget(model, keep)

    def hit(self, model: str, guardrail: str, check: str, stage: str, action: str) -> None:
        key = (model, guardrail, check, stage, action)
        self.guardrail_hits[key] = self.guardrail_hits.get(key, 0) + 1

    def flush(self) -> None:
        """What requests batched (see ``Observations.record``) into every count, before reading any."""
        self.observations.flush()

    def stats(self, model: str, versions: list[str]) -> dict[str, Any]:
        self.flush()
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
        m.flush()
        requests = CounterMetricFamily(
            "specops_requests",
            "Inference requests answered, by model, version, outcome and traffic "
            "(live, or shadow: a mirrored copy whose answer was discarded).",
            labels=["model", "version", "outcome", "traffic"],
        )
        latency = HistogramMetricFamily(
            "specops_request_duration_seconds",
            "Inference latency (buckets include every SLO threshold), by traffic (live or shadow).",
            labels=["model", "version", "traffic"],
        )
        features = HistogramMetricFamily(
            "specops_input_feature", "Input feature values, on the reference profile's bin edges.",
            labels=["model", "version", "tensor", "feature"],
        )
        for (model, version), s in sorted(m.versions.items()):
            bounds = m.bounds_for(model)
            for kind, t in s.traffic.items():
                if kind == "shadow" and not t.outcomes:
                    continue  # a version that never got a mirrored request has no shadow series
                for outcome, count in sorted(t.outcomes.items()):
                    requests.add_metric([model, version, outcome, kind], count)
                buckets: list[tuple[str, float]] = [(_le(b / 1000), c) for b, c in _cumulative(t.bins, bounds)]
                buckets.append(("+Inf", t.requests))
                latency.add_metric([model, version, kind], buckets, t.latency_sum_ms / 1000)
            for f in s.features:
                for j, feature in enumerate(f.features):
                    counts = f.with_overflow(j)
                    cumulative = np.cumsum(counts[:-1]).tolist()
                    fb = [(_le(e), c) for e, c in zip(f.edges[j].tolist(), cumulative, strict=True)]
                    fb.append(("+Inf", int(counts.sum())))
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
