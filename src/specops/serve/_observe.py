"""Observations: what each model version served, in time buckets, for burn rates and drift.

Per model, version and traffic kind (``live``, or ``shadow``: mirrored copies
whose answers were discarded, never mixed with live), the target keeps ring
arrays of time buckets (numpy, allocated once, so memory is bounded and
reported):

=========  ========  =======  ========================================
tier       bucket    buckets  holds
=========  ========  =======  ========================================
fine       1 min     360      6 h: counters and feature histograms
coarse     10 min    432      3 days: counters and feature histograms
budget     1 h       720+     the SLO window (30 days by default): counters
=========  ========  =======  ========================================

Counters per bucket: requests (every answered request), errors (5xx: the
model failed), guardrail blocks, and requests slower than each latency
bound the target knows (``ServeTarget.latency_bounds``: every SLO threshold
plus the defaults); a bound added later counts from then on. Features: the
counts on the Dataset profile's bin edges plus underflow, overflow and NaN,
and the sum, laid out as :class:`FeatureStats` bins them (one ``bincount``
per request batch, shared with the cumulative histograms).

Requests are added in batches (``Stream.defer``): a stream keeps the requests of the
current minute (at most 256, and 8192 feature values per tensor: 64 KiB, not counted in
the memory reported) and adds them when the minute ends, the batch is full, or anything
reads the stream or the cumulative histograms (every reader flushes first), so a request
costs a few array writes and the binning is one ``bincount`` per batch.

A window of ``W`` seconds is answered from the finest tier that spans it as
the sum of the ``ceil(W / bucket)`` most recent buckets, the current
(partial) one included: event sums, never an average of ratios. A bucket
is recognised by the bucket number stamped on its slot, so a slot left from
an earlier lap of the ring is never counted.

The arrays are written to ``observations.npz`` in the state directory with
``atomic_write``, every ``save_every_s`` seconds (from the request path, the
write itself off the event loop) and on shutdown, and read back on start:
a stream is restored when its model version and feature layout are the same.
"""

from __future__ import annotations

import io
import logging
import math
import threading
import time
import zipfile
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from specops.serve._state import atomic_write
from specops.watch._burn import threshold_key

if TYPE_CHECKING:
    from specops.serve._metrics import FeatureStats

__all__ = ["FILE_NAME", "TIERS", "Observations", "Stream", "Tier"]

_log = logging.getLogger("specops.serve")
FILE_NAME = "observations.npz"
_FORMAT = 1
TRAFFIC = ("live", "shadow")
_FIXED = ("requests", "errors", "guardrail_blocks")


@dataclass(frozen=True, slots=True)
class Tier:
    name: str
    bucket_s: int
    slots: int
    features: bool

    @property
    def span_s(self) -> int:
        return self.bucket_s * self.slots


TIERS: tuple[Tier, ...] = (Tier("fine", 60, 360, True), Tier("coarse", 600, 432, True))
BUDGET_BUCKET_S = 3600
# Requests are added to the rings in batches of one minute at most (every tier's bucket is a
# whole number of minutes), at most this many requests and this many feature values per tensor.
_MINUTE = 60
_BATCH_REQUESTS = 256
_BATCH_VALUES = 1 << 13
assert all(t.bucket_s % _MINUTE == 0 for t in TIERS) and BUDGET_BUCKET_S % _MINUTE == 0
DEFAULT_BUDGET_S = 30 * 86400
MAX_BUDGET_S = 400 * 86400


class _Ring:
    """One tier of one stream: stamped slots of counters (and feature counts and sums)."""

    def __init__(self, tier: Tier, columns: int, feature_size: int, feature_count: int) -> None:
        self.tier = tier
        self.stamps = np.full(tier.slots, -1, dtype=np.int64)
        self.counters = np.zeros((tier.slots, columns), dtype=np.int64)
        self.features = np.zeros((tier.slots, feature_size), dtype=np.int32)
        self.sums = np.zeros((tier.slots, feature_count), dtype=np.float64)

    @property
    def nbytes(self) -> int:
        return int(self.stamps.nbytes + self.counters.nbytes + self.features.nbytes + self.sums.nbytes)

    def slot(self, now: float) -> int:
        bucket = int(now // self.tier.bucket_s)
        slot = bucket % self.tier.slots
        if self.stamps[slot] != bucket:
            self.stamps[slot] = bucket
            self.counters[slot] = 0
            if self.features.shape[1]:
                self.features[slot] = 0
                self.sums[slot] = 0.0
        return slot

    def mask(self, now: float, seconds: float) -> tuple[np.ndarray, int]:
        """Slots inside the last ``seconds`` (the current bucket included) and how many buckets that is."""
        b = self.tier.bucket_s
        current = int(now // b)
        n = max(1, math.ceil(seconds / b))
        return (self.stamps > current - n) & (self.stamps <= current), n


class Stream:
    """Everything observed for one model version and one kind of traffic."""

    def __init__(self, thresholds: Sequence[float], layout: Sequence[FeatureStats], budget_s: int) -> None:
        self.thresholds = np.asarray(sorted(set(thresholds)), dtype=np.float64)
        self.layout = list(layout)
        self.offsets = np.cumsum([0, *(f.size for f in self.layout)]).tolist()
        self.sum_offsets = np.cumsum([0, *(len(f.features) for f in self.layout)]).tolist()
        self.budget_s = budget_s
        columns = len(_FIXED) + len(self.thresholds)
        fsize, fcount = int(self.offsets[-1]), int(self.sum_offsets[-1])
        budget = Tier("budget", BUDGET_BUCKET_S, max(1, math.ceil(budget_s / BUDGET_BUCKET_S)), False)
        self.rings = [_Ring(t, columns, fsize if t.features else 0, fcount if t.features else 0) for t in TIERS]
        self.rings.append(_Ring(budget, columns, 0, 0))
        self.last_ts: float | None = None
        self.generation: object = None
        # The batch of requests not yet in the rings (see defer): all of one minute.
        self._bucket = -1
        self._first = 0.0
        self._n = 0
        self._ms = np.empty(_BATCH_REQUESTS, dtype=np.float64)
        self._codes = np.empty(_BATCH_REQUESTS, dtype=np.int8)
        self._rows: list[np.ndarray | None] = [None] * len(self.layout)
        self._filled = [0] * len(self.layout)

    @property
    def nbytes(self) -> int:
        return sum(r.nbytes for r in self.rings)

    def layout_key(self) -> list[Any]:
        return [f.layout() for f in self.layout]

    def add(self, now: float, outcome: str, ms: float, seen: Sequence[tuple[np.ndarray, np.ndarray] | None]) -> None:
        """One request whose features were binned already (``seen``: per tensor of the layout,
        what :meth:`FeatureStats.bin` gave, counted in the cumulative histograms by the caller)."""
        self.flush()
        row = np.empty(len(_FIXED) + len(self.thresholds), dtype=np.int64)
        row[0] = 1
        row[1] = outcome == "error"
        row[2] = outcome == "blocked"
        row[3:] = self.thresholds < ms
        self._apply(now, row, [(k, binned) for k, binned in enumerate(seen) if binned is not None])
        self.last_ts = now

    def defer(self, now: float, outcome: str, ms: float, arrays: Sequence[np.ndarray | None]) -> None:
        """One request, kept in the batch of its minute: what it adds to the rings, and its
        feature rows (per tensor of the layout; binned into the rings and into the layout's
        cumulative histograms when the batch is flushed).

        A batch holds one minute at most, and every tier's bucket is a whole number of
        minutes, so a flushed batch lands in the bucket each of its requests would have: the
        counts are those of one :meth:`add` per request, at a fraction of the cost (a few
        numpy calls per batch instead of a dozen per request). Readers flush first.
        """
        bucket = int(now // _MINUTE)
        if bucket != self._bucket or self._n == _BATCH_REQUESTS:
            self.flush()
            self._bucket = bucket
            self._first = now
        i = self._n
        self._ms[i] = ms
        self._codes[i] = 1 if outcome == "error" else 2 if outcome == "blocked" else 0
        self._n = i + 1
        self.last_ts = now
        for k, (f, array) in enumerate(zip(self.layout, arrays, strict=False)):
            if array is None or not f.accepts(array):
                continue
            rows = array.reshape(-1, len(f.features))
            buffer = self._rows[k]
            if buffer is None:
                buffer = self._rows[k] = np.empty((max(1, _BATCH_VALUES // len(f.features)), len(f.features)))
            filled = self._filled[k]
            end = filled + rows.shape[0]
            if end > buffer.shape[0]:
                self.flush()  # this request's counters go with the batch: the same bucket
                filled, end = 0, rows.shape[0]
            if end > buffer.shape[0]:  # more rows than a batch holds: binned now, a slice at a time
                for start in range(0, rows.shape[0], buffer.shape[0]):
                    binned = f.observe(rows[start : start + buffer.shape[0]])
                    assert binned is not None
                    self._apply(now, None, [(k, binned)])
                continue
            buffer[filled:end] = rows  # one cast to float64: the values bin() compares and sums
            self._filled[k] = end

    def flush(self) -> None:
        """Add the pending batch to the rings and the layout's cumulative histograms."""
        n = self._n
        if not n and not any(self._filled):
            return
        row = np.zeros(len(_FIXED) + len(self.thresholds), dtype=np.int64)
        if n:
            codes = self._codes[:n]
            row[0] = n
            row[1] = np.count_nonzero(codes == 1)
            row[2] = np.count_nonzero(codes == 2)
            row[3:] = np.count_nonzero(self.thresholds < self._ms[:n, None], axis=0)
        parts: list[tuple[int, tuple[np.ndarray, np.ndarray]]] = []
        for k, filled in enumerate(self._filled):
            if filled:
                buffer = self._rows[k]
                assert buffer is not None
                binned = self.layout[k].observe(buffer[:filled])
                assert binned is not None
                parts.append((k, binned))
        self._n = 0
        self._filled = [0] * len(self.layout)
        self._apply(self._first, row, parts)

    def _apply(self, now: float, row: np.ndarray | None, parts: list[tuple[int, tuple[np.ndarray, np.ndarray]]]) -> None:
        spans = [
            (self.offsets[k], self.offsets[k + 1], self.sum_offsets[k], self.sum_offsets[k + 1],
             counts.astype(np.int32), sums)
            for k, (counts, sums) in parts
        ]
        for ring in self.rings:
            slot = ring.slot(now)
            if row is not None:
                ring.counters[slot] += row
            if ring.tier.features:
                for a, b, sa, sb, counts, sums in spans:
                    ring.features[slot, a:b] += counts
                    ring.sums[slot, sa:sb] += sums

    def window(self, now: float, seconds: int, *, features: bool = True) -> dict[str, Any]:
        self.flush()
        ring = next((r for r in self.rings if r.tier.span_s >= seconds and (r.tier.features or not features)), self.rings[-1])
        mask, n = ring.mask(now, seconds)
        counters = ring.counters[mask].sum(axis=0)
        out: dict[str, Any] = {name: int(counters[i]) for i, name in enumerate(_FIXED)}
        out["over_threshold"] = {
            threshold_key(t): int(counters[len(_FIXED) + i]) for i, t in enumerate(self.thresholds.tolist())
        }
        stamps = ring.stamps[mask]
        busy = stamps[ring.counters[mask, 0] > 0]
        start = (int(now // ring.tier.bucket_s) - n + 1) * ring.tier.bucket_s
        out["first_ts"] = float(busy.min() * ring.tier.bucket_s) if busy.size else None
        out["last_ts"] = self.last_ts if self.last_ts is not None and self.last_ts >= start and busy.size else None
        out["seconds"] = n * ring.tier.bucket_s
        out["bucket_s"] = ring.tier.bucket_s
        if features:
            feature_out: dict[str, Any] = {}
            if ring.tier.features:
                counts = ring.features[mask].sum(axis=0, dtype=np.int64)
                sums = ring.sums[mask].sum(axis=0)
                for k, f in enumerate(self.layout):
                    part = counts[self.offsets[k] : self.offsets[k + 1]]
                    psum = sums[self.sum_offsets[k] : self.sum_offsets[k + 1]]
                    for j, name in enumerate(f.features):
                        feature_out[f"{f.tensor}/{name}"] = f.feature_json(part, psum, j)
            out["features"] = feature_out
        return out

    def migrate(self, thresholds: Sequence[float], budget_s: int | None = None) -> Stream:
        """The same stream counting ``thresholds`` (kept bounds keep their counts, new ones start at 0)
        and keeping ``budget_s`` of hourly buckets (the most recent ones that fit are kept)."""
        self.flush()
        new = Stream(thresholds, self.layout, self.budget_s if budget_s is None else budget_s)
        new.last_ts = self.last_ts
        old_index = {float(t): i for i, t in enumerate(self.thresholds.tolist())}
        pairs = [(len(_FIXED) + j, len(_FIXED) + old_index[float(t)]) for j, t in enumerate(new.thresholds.tolist()) if float(t) in old_index]
        for ring, old in zip(new.rings, self.rings, strict=True):
            if ring.tier.slots == old.tier.slots:
                slots = np.arange(ring.tier.slots)
                where = slots
            else:  # the hourly ring was resized: each bucket goes to its slot in the new ring
                order = np.argsort(old.stamps)[::-1]
                order = order[old.stamps[order] >= 0][: ring.tier.slots]
                slots, where = order, old.stamps[order] % ring.tier.slots
            ring.stamps[where] = old.stamps[slots]
            ring.counters[where, : len(_FIXED)] = old.counters[slots, : len(_FIXED)]
            for dst, src in pairs:
                ring.counters[where, dst] = old.counters[slots, src]
            if ring.tier.features:
                ring.features[where] = old.features[slots]
                ring.sums[where] = old.sums[slots]
        return new


Key = tuple[str, str, str]


class Observations:
    """The streams of every loaded model version; recorded on the event loop thread only."""

    def __init__(
        self,
        bounds_for: Callable[[str], list[float]],
        *,
        clock: Callable[[], float] = time.time,
        generation: Callable[[], object] = lambda: 0,
        budget_for: Callable[[str], float] = lambda model: DEFAULT_BUDGET_S,
        save_every_s: float = 60.0,
    ) -> None:
        self.bounds_for = bounds_for
        self.clock = clock
        self.generation = generation
        self.budget_for = budget_for
        self.save_every_s = save_every_s
        self.streams: dict[Key, Stream] = {}
        self.path: Path | None = None
        self._pending: dict[Key, tuple[dict[str, Any], dict[str, np.ndarray]]] = {}
        self._last_save = 0.0
        self._write_lock = threading.Lock()
        self._sequence = 0
        self._written = 0

    # -- recording ----------------------------------------------------------------

    def stream(self, model: str, version: str, traffic: str, layout: Sequence[FeatureStats]) -> Stream:
        key = (model, version, traffic)
        generation = self.generation()
        stream = self.streams.get(key)
        if stream is not None and stream.generation == generation:
            return stream
        bounds = self.bounds_for(model)
        budget = self._budget(model)
        if stream is None:
            stream = self._restored(key, bounds, layout, budget) or Stream(bounds, layout, budget)
        elif sorted({float(b) for b in bounds}) != stream.thresholds.tolist() or budget != stream.budget_s:
            stream = stream.migrate(bounds, budget)
        stream.generation = generation
        self.streams[key] = stream
        return stream

    def _budget(self, model: str) -> int:
        hours = math.ceil(min(max(self.budget_for(model), BUDGET_BUCKET_S), MAX_BUDGET_S) / BUDGET_BUCKET_S)
        return hours * BUDGET_BUCKET_S

    def record(
        self, model: str, version: str, layout: Sequence[FeatureStats], *, shadow: bool, outcome: str,
        ms: float, seen: Sequence[tuple[np.ndarray, np.ndarray] | None] = (),
        arrays: Sequence[np.ndarray | None] | None = None,
    ) -> None:
        """One answered request. Its features either binned already (``seen``: per tensor of
        ``layout``, what :meth:`FeatureStats.bin` gave, counted in the cumulative histograms by
        the caller) or as they came (``arrays``, per tensor of ``layout``: binned here, into the
        buckets and the cumulative histograms, in batches; :meth:`flush` before reading either)."""
        now = self.clock()
        stream = self.stream(model, version, "shadow" if shadow else "live", layout)
        if arrays is not None:
            stream.defer(now, outcome, ms, arrays)
        else:
            stream.add(now, outcome, ms, seen)
        if self.path is not None and now - self._last_save >= self.save_every_s:
            self._last_save = now
            data = self._serialize()
            threading.Thread(target=self._write, args=data, name="specops-observations", daemon=True).start()

    def flush(self) -> None:
        """Every stream's pending batch into its rings and cumulative histograms (before reading either)."""
        for stream in self.streams.values():
            stream.flush()

    def forget(self, model: str, keep: set[str]) -> None:
        for key in [k for k in self.streams if k[0] == model and k[1] not in keep]:
            del self.streams[key]
        for key in [k for k in self._pending if k[0] == model and k[1] not in keep]:
            del self._pending[key]

    def retain(self, versions: set[tuple[str, str]]) -> None:
        """After a restart: drop what was saved for versions the target no longer holds."""
        for key in [k for k in self._pending if (k[0], k[1]) not in versions]:
            del self._pending[key]

    # -- answering ----------------------------------------------------------------

    def answer(
        self, model: str, versions: Mapping[str, Sequence[FeatureStats]], windows: list[int],
        features: Collection[int] | None = None,
    ) -> dict[str, Any]:
        """The admin API's ``observations`` document for ``model`` (see docs/admin-api.md).

        ``features``: the windows whose feature counts to include (None: every window).
        """
        wanted = set(windows) if features is None else set(features)
        self.flush()  # the cumulative histograms too: a version's streams share them
        now = self.clock()
        out: dict[str, Any] = {}
        memory: dict[str, int] = {}
        for version, layout in sorted(versions.items()):
            kinds: dict[str, Any] = {}
            memory[version] = 0
            for traffic in TRAFFIC:
                key = (model, version, traffic)
                if traffic == "live" or key in self.streams or key in self._pending:
                    stream = self.stream(model, version, traffic, layout)
                    memory[version] += stream.nbytes
                    budget = stream.window(now, stream.budget_s, features=False)
                    budget["seconds"] = stream.budget_s
                    kinds[traffic] = {
                        "windows": {str(w): stream.window(now, w, features=w in wanted) for w in windows},
                        "budget_window": budget,
                    }
                else:  # never mirrored to: nothing allocated, every count 0
                    kinds[traffic] = self._nothing(model, layout, windows, wanted)
            out[version] = kinds
        return {"now": now, "bucket_s": TIERS[0].bucket_s, "versions": out, "memory_bytes": memory}

    def _nothing(
        self, model: str, layout: Sequence[FeatureStats], windows: list[int], wanted: set[int]
    ) -> dict[str, Any]:
        over = {threshold_key(t): 0 for t in sorted(set(self.bounds_for(model)))}
        empty = np.zeros(max((f.size for f in layout), default=0), dtype=np.int64)
        features = {
            f"{f.tensor}/{name}": f.feature_json(empty, np.zeros(len(f.features)), j)
            for f in layout for j, name in enumerate(f.features)
        }

        def zero(seconds: int, bucket: int) -> dict[str, Any]:
            out: dict[str, Any] = dict.fromkeys(_FIXED, 0)
            return out | {"over_threshold": over, "first_ts": None, "last_ts": None, "seconds": seconds, "bucket_s": bucket}

        windows_out = {}
        for w in windows:
            tier = next((t for t in TIERS if t.span_s >= w), None)
            bucket = tier.bucket_s if tier else BUDGET_BUCKET_S
            windows_out[str(w)] = zero(max(1, math.ceil(w / bucket)) * bucket, bucket)
            if w in wanted:
                windows_out[str(w)]["features"] = features if tier else {}
        return {"windows": windows_out, "budget_window": zero(self._budget(model), BUDGET_BUCKET_S)}

    # -- persistence --------------------------------------------------------------

    def attach(self, directory: Path) -> None:
        """Read what an earlier run saved in ``directory``; save there from now on."""
        self.path = directory / FILE_NAME
        self._last_save = self.clock()
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return
        try:
            self._pending = _parse(raw)
        except (ValueError, KeyError, TypeError, OSError, zipfile.BadZipFile, orjson.JSONDecodeError) as exc:
            aside = self.path.with_name(f"{FILE_NAME}.unreadable-{int(time.time())}")
            self.path.rename(aside)
            _log.warning("%s could not be read (%s); kept as %s, observations start empty", self.path, exc, aside)

    def _restored(self, key: Key, bounds: list[float], layout: Sequence[FeatureStats], budget_s: int) -> Stream | None:
        pending = self._pending.pop(key, None)
        if pending is None:
            return None
        meta, arrays = pending
        old = Stream(meta["thresholds"], layout, int(meta["budget_s"]))
        same_layout = meta["layout"] == old.layout_key()
        for i, ring in enumerate(old.rings):
            stamps, counters = arrays[f"{i}.stamps"], arrays[f"{i}.counters"]
            if stamps.shape != ring.stamps.shape or counters.shape != ring.counters.shape:
                return None  # another geometry (tiers changed): start afresh
            ring.stamps[:] = stamps
            ring.counters[:] = counters
            if same_layout and ring.tier.features:
                ring.features[:] = arrays[f"{i}.features"]
                ring.sums[:] = arrays[f"{i}.sums"]
        old.last_ts = meta.get("last_ts")
        if sorted({float(b) for b in bounds}) != old.thresholds.tolist() or budget_s != old.budget_s:
            return old.migrate(bounds, budget_s)
        return old

    def _serialize(self) -> tuple[int, bytes]:
        self.flush()
        arrays: dict[str, np.ndarray] = {}
        meta: list[dict[str, Any]] = []
        for n, ((model, version, traffic), stream) in enumerate(sorted(self.streams.items())):
            meta.append({
                "model": model, "version": version, "traffic": traffic,
                "thresholds": stream.thresholds.tolist(), "layout": stream.layout_key(),
                "budget_s": stream.budget_s, "last_ts": stream.last_ts,
            })
            for i, ring in enumerate(stream.rings):
                arrays[f"{n}/{i}.stamps"] = ring.stamps.copy()
                arrays[f"{n}/{i}.counters"] = ring.counters.copy()
                if ring.tier.features:
                    arrays[f"{n}/{i}.features"] = ring.features.copy()
                    arrays[f"{n}/{i}.sums"] = ring.sums.copy()
        # Streams restored from disk but not used yet are kept for the next run.
        for _key, (old_meta, old_arrays) in sorted(self._pending.items()):
            n = len(meta)
            meta.append(old_meta)
            for name, array in old_arrays.items():
                arrays[f"{n}/{name}"] = array
        arrays["meta"] = np.frombuffer(orjson.dumps({"format": _FORMAT, "streams": meta}), dtype=np.uint8)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds as allow_pickle
        self._sequence += 1
        return self._sequence, buffer.getvalue()

    def _write(self, sequence: int, data: bytes) -> None:
        assert self.path is not None
        with self._write_lock:
            if sequence <= self._written:
                return  # a newer snapshot is already on disk
            try:
                atomic_write(self.path, data)
            except OSError as exc:
                _log.warning("could not save observations to %s: %s", self.path, exc)
                return
            self._written = sequence

    def save(self) -> None:
        """Write every stream now (on shutdown)."""
        if self.path is not None:
            self._write(*self._serialize())


def _parse(raw: bytes) -> dict[Key, tuple[dict[str, Any], dict[str, np.ndarray]]]:
    with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
        files = {name: npz[name] for name in npz.files}
    meta = orjson.loads(files.pop("meta").tobytes())
    if meta.get("format") != _FORMAT:
        raise ValueError(f"format {meta.get('format')!r} is not {_FORMAT}")
    out: dict[Key, tuple[dict[str, Any], dict[str, np.ndarray]]] = {}
    for n, entry in enumerate(meta["streams"]):
        prefix = f"{n}/"
        arrays = {name[len(prefix):]: a for name, a in files.items() if name.startswith(prefix)}
        out[(str(entry["model"]), str(entry["version"]), str(entry["traffic"]))] = (entry, arrays)
    return out
