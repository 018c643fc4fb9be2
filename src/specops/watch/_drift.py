"""Drift of one feature: the reference profile's histogram against counts streamed on its bins.

Every method works on the same binning, so a target never ships raw values:
the profile's edges (numpy's bins: half-open, the last one closed) plus an
underflow and an overflow bin for current values outside them. The
reference has no values outside its own edges (its edges span its min and
max), so its underflow and overflow are 0.

- ``psi``: population stability index, ``sum((r - c) * ln(r / c))`` over the
  bin fractions, with :data:`EPSILON` in place of an empty bin's fraction on
  either side (as Evidently does), so an empty bin costs a large but finite
  amount instead of infinity.
- ``jensenShannon``: the Jensen-Shannon *distance* (square root of the
  divergence, natural log), on the same epsilon-filled fractions renormalised
  to sum to 1 (scipy's ``jensenshannon`` of those vectors).
- ``wasserstein``: the earth mover's distance between the two distributions
  with values spread uniformly inside each bin, divided by the reference
  standard deviation (floored at 0.001), so 0.1 means "moved by a tenth of a
  standard deviation" (Evidently's default above 1,000 reference rows, with
  threshold 0.1). Current values outside the edges sit at their mean when
  the stream's ``sum`` can tell it (only one tail has values), else on the edge
  (then the value is a lower bound).
- ``ks``: the Kolmogorov-Smirnov D statistic evaluated only at the profile's
  edges. Both empirical distribution functions are exact there, so it is a
  lower bound of the raw D over all values (equal to it when the largest gap
  falls on an edge; with 50 quantile bins it is close). :func:`ks_pvalue`
  gives the asymptotic two-sample p-value of a D.

A window with fewer than ``min_samples`` current values is ``no data``,
never a pass.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from specops.spec._dataset import FeatureProfile

__all__ = [
    "EPSILON",
    "METHODS",
    "WASSERSTEIN_MIN_STD",
    "Current",
    "DriftResult",
    "Reference",
    "drift",
    "jensen_shannon",
    "ks",
    "ks_pvalue",
    "psi",
    "wasserstein",
]

Method = Literal["psi", "ks", "jensenShannon", "wasserstein"]
METHODS: tuple[Method, ...] = ("psi", "ks", "jensenShannon", "wasserstein")
EPSILON = 1e-4
"""The fraction given to an empty bin by psi and jensenShannon."""
WASSERSTEIN_MIN_STD = 1e-3
"""Floor of the reference standard deviation that wasserstein is divided by."""


@dataclass(frozen=True, slots=True)
class Reference:
    """A feature's reference profile: histogram edges and counts, and its standard deviation."""

    edges: np.ndarray
    counts: np.ndarray
    std: float | None = None

    @classmethod
    def of(cls, edges: Sequence[float], counts: Sequence[int], std: float | None = None) -> Reference:
        e = np.asarray(edges, dtype=np.float64)
        c = np.asarray(counts, dtype=np.float64)
        if e.ndim != 1 or c.ndim != 1 or len(e) != len(c) + 1 or len(c) < 1:
            raise ValueError("a reference needs one more edge than counts")
        if np.any(np.diff(e) <= 0):
            raise ValueError("reference edges must increase strictly")
        return cls(e, c, std)

    @classmethod
    def from_profile(cls, feature: FeatureProfile) -> Reference:
        """From a Dataset profile's feature (its histogram and standard deviation)."""
        if feature.histogram is None:
            raise ValueError("the profiled feature has no histogram")
        return cls.of(feature.histogram.edges, feature.histogram.counts, feature.std)

    @property
    def rows(self) -> int:
        return int(self.counts.sum())


@dataclass(frozen=True, slots=True)
class Current:
    """Counts streamed on the reference's edges (``counts`` has one entry per bin)."""

    counts: np.ndarray
    underflow: int = 0
    overflow: int = 0
    nan: int = 0
    total: float | None = None  # the sum of the values, when known

    @classmethod
    def of(
        cls, counts: Sequence[int] | np.ndarray, underflow: int = 0, overflow: int = 0,
        nan: int = 0, total: float | None = None,
    ) -> Current:
        return cls(np.asarray(counts, dtype=np.float64), int(underflow), int(overflow), int(nan), total)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Current:
        """From an observation window's feature entry (``counts``, ``underflow``, ``overflow``, ``nan``, ``sum``)."""
        return cls.of(data["counts"], data.get("underflow", 0), data.get("overflow", 0),
                      data.get("nan", 0), data.get("sum"))

    @classmethod
    def from_values(cls, edges: Sequence[float] | np.ndarray, values: np.ndarray) -> Current:
        """Bin raw values the way ``specops serve`` does (for tests and benchmarks)."""
        e = np.asarray(edges, dtype=np.float64)
        v = np.asarray(values, dtype=np.float64).ravel()
        nan = np.isnan(v)
        v = v[~nan]
        index = np.searchsorted(e, v, side="right")
        index[v == e[-1]] = len(e) - 1
        full = np.bincount(index, minlength=len(e) + 1)
        return cls(full[1:-1].astype(np.float64), int(full[0]), int(full[-1]), int(nan.sum()), float(v.sum()))

    @property
    def samples(self) -> int:
        """Values counted (NaN excluded)."""
        return int(self.counts.sum()) + self.underflow + self.overflow


@dataclass(frozen=True, slots=True)
class DriftResult:
    method: str
    value: float | None  # None: no data
    threshold: float
    samples: int
    min_samples: int

    @property
    def status(self) -> Literal["drift", "ok", "no data"]:
        if self.value is None:
            return "no data"
        return "drift" if self.value > self.threshold else "ok"

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method, "value": self.value, "threshold": self.threshold,
            "samples": self.samples, "min_samples": self.min_samples, "status": self.status,
        }


def _fractions(ref: Reference, cur: Current) -> tuple[np.ndarray, np.ndarray]:
    """Reference and current fractions over underflow + bins + overflow."""
    r = np.concatenate(([0.0], ref.counts, [0.0])) / ref.counts.sum()
    c = np.concatenate(([float(cur.underflow)], cur.counts, [float(cur.overflow)])) / cur.samples
    return r, c


def _filled(ref: Reference, cur: Current) -> tuple[np.ndarray, np.ndarray]:
    r, c = _fractions(ref, cur)
    return np.where(r == 0, EPSILON, r), np.where(c == 0, EPSILON, c)


def psi(ref: Reference, cur: Current) -> float:
    r, c = _filled(ref, cur)
    return float(np.sum((r - c) * np.log(r / c)))


def jensen_shannon(ref: Reference, cur: Current) -> float:
    r, c = _filled(ref, cur)
    r = r / r.sum()
    c = c / c.sum()
    m = (r + c) / 2
    divergence = 0.5 * float(np.sum(r * np.log(r / m))) + 0.5 * float(np.sum(c * np.log(c / m)))
    return math.sqrt(max(divergence, 0.0))


def ks(ref: Reference, cur: Current) -> float:
    """D at the edges: ``F(e-)`` at every edge but the last, ``F(e)`` at the last (a lower bound of D)."""
    n = cur.samples
    r_cdf = np.concatenate(([0.0], np.cumsum(ref.counts))) / ref.counts.sum()
    c_cdf = (cur.underflow + np.concatenate(([0.0], np.cumsum(cur.counts)))) / n
    return float(np.max(np.abs(r_cdf - c_cdf)))


def ks_pvalue(d: float, n_reference: int, n_current: int) -> float:
    """Asymptotic two-sample Kolmogorov-Smirnov p-value of ``d``: Kolmogorov's distribution at ``sqrt(nm/(n+m)) d``."""
    if d <= 0:
        return 1.0
    en = n_reference * n_current / (n_reference + n_current)
    lam = math.sqrt(en) * d
    if lam < 0.2:  # the series converges slowly here, and the p-value is 1 to 12 digits
        return 1.0
    total = 0.0
    for k in range(1, 101):
        term = 2 * (-1) ** (k - 1) * math.exp(-2 * k * k * lam * lam)
        total += term
        if abs(term) < 1e-12:
            break
    return min(max(total, 0.0), 1.0)


def _tail_positions(ref: Reference, cur: Current) -> tuple[float, float]:
    """Where the current values below and above the edges sit (see the module note)."""
    lo, hi = float(ref.edges[0]), float(ref.edges[-1])
    if cur.total is None or (cur.underflow and cur.overflow):
        return lo, hi
    mids = (ref.edges[:-1] + ref.edges[1:]) / 2
    outside = cur.total - float(np.dot(cur.counts, mids))
    if cur.underflow:
        return min(lo, outside / cur.underflow), hi
    if cur.overflow:
        return lo, max(hi, outside / cur.overflow)
    return lo, hi


def wasserstein(ref: Reference, cur: Current) -> float:
    """Earth mover's distance over piecewise-uniform bins, normed by the reference std."""
    n, m = cur.samples, ref.counts.sum()
    tail_lo, tail_hi = _tail_positions(ref, cur)
    # Segments: [tail_lo, e0], every bin, [eN, tail_hi]; both CDFs are linear on each.
    starts = np.concatenate(([tail_lo], ref.edges[:-1], [ref.edges[-1]]))
    ends = np.concatenate(([ref.edges[0]], ref.edges[1:], [tail_hi]))
    r_cum = np.concatenate(([0.0], np.cumsum(ref.counts))) / m
    c_cum = (cur.underflow + np.concatenate(([0.0], np.cumsum(cur.counts)))) / n
    r_a = np.concatenate(([0.0], r_cum[:-1], [1.0]))
    r_b = np.concatenate(([0.0], r_cum[1:], [1.0]))
    c_a = np.concatenate(([cur.underflow / n], c_cum[:-1], [c_cum[-1]]))
    c_b = np.concatenate(([cur.underflow / n], c_cum[1:], [c_cum[-1]]))
    da, db = r_a - c_a, r_b - c_b
    width = ends - starts
    same = da * db >= 0
    absa, absb = np.abs(da), np.abs(db)
    denom = np.where(same, 1.0, absa + absb)
    area = np.where(same, (absa + absb) / 2, (da * da + db * db) / (2 * denom)) * width
    std = ref.std if ref.std is not None else _binned_std(ref)
    return float(area.sum()) / max(std, WASSERSTEIN_MIN_STD)


def _binned_std(ref: Reference) -> float:
    mids = (ref.edges[:-1] + ref.edges[1:]) / 2
    w = ref.counts / ref.counts.sum()
    mean = float(np.dot(w, mids))
    return math.sqrt(float(np.dot(w, (mids - mean) ** 2)))


_FUNCTIONS = {"psi": psi, "jensenShannon": jensen_shannon, "wasserstein": wasserstein, "ks": ks}


def drift(method: str, ref: Reference, cur: Current, *, threshold: float, min_samples: int) -> DriftResult:
    """One feature's drift by ``method``; ``value`` is None (no data) under ``min_samples``."""
    function = _FUNCTIONS.get(method)
    if function is None:
        raise ValueError(f"unknown drift method {method!r} (methods: {', '.join(METHODS)})")
    if len(cur.counts) != len(ref.counts):
        raise ValueError(f"the current counts have {len(cur.counts)} bins, the reference {len(ref.counts)}")
    samples = cur.samples
    if samples < max(min_samples, 1):
        return DriftResult(method, None, threshold, samples, min_samples)
    return DriftResult(method, function(ref, cur), threshold, samples, min_samples)
