"""Observations the target keeps: time buckets per version and traffic, windows, memory, restarts."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from specops.serve._metrics import FeatureStats
from specops.serve._observe import FILE_NAME, Observations
from tests.test_serve_kit import FEATURES, Admin, deploy, doc, scorer, start

T0 = 1_800_000_000.0  # a fixed start, on a whole hour
EDGES = [0.0, 10.0, 20.0, 30.0]


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def store(clock: Clock, bounds: list[float] | None = None, budget: float = 30 * 86400) -> Observations:
    return Observations(lambda model: bounds or [50.0, 100.0], clock=clock, budget_for=lambda model: budget)


def layout() -> list[FeatureStats]:
    return [FeatureStats("x", ["a", "b"], [EDGES, [0.0, 1.0]])]


def record(obs: Observations, features: list[FeatureStats], rows: list[list[float]] | None = None, *,
           outcome: str = "ok", ms: float = 1.0, shadow: bool = False, version: str = "1.0.0") -> None:
    seen = [features[0].bin(np.asarray(rows, dtype=np.float32))] if rows is not None else []
    obs.record("m", version, features, shadow=shadow, outcome=outcome, ms=ms, seen=seen)


def answer(obs: Observations, features: list[FeatureStats], windows: list[int]) -> dict[str, Any]:
    return obs.answer("m", {"1.0.0": features}, windows)["versions"]["1.0.0"]


# -- the binning shared by the cumulative histograms and the buckets --------------------


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.floats(-50, 50) | st.just(float("nan")), min_size=3, max_size=3), min_size=1, max_size=40))
def test_one_bincount_per_batch_equals_numpys_histogram_per_feature(rows: list[list[float]]) -> None:
    edges = [[-10.0, 0.0, 10.0], [0.0, 1.0, 2.0, 3.0, 4.0, 5.0], [5.0, 6.0]]
    stats = FeatureStats("t", ["p", "q", "r"], edges)
    array = np.asarray(rows, dtype=np.float64)
    binned = stats.bin(array)
    assert binned is not None
    for j, name in enumerate(["p", "q", "r"]):
        got = stats.feature_json(binned[0], binned[1], j)
        column = array[:, j]
        values = column[~np.isnan(column)]
        inside, _ = np.histogram(values, bins=edges[j])
        assert got["counts"] == inside.tolist(), name
        assert got["underflow"] == int((values < edges[j][0]).sum())
        assert got["overflow"] == int((values > edges[j][-1]).sum())
        assert got["nan"] == int(np.isnan(column).sum())
        assert got["count"] == values.size
        assert got["sum"] == pytest.approx(float(values.sum()))


def test_arrays_of_another_shape_are_not_binned() -> None:
    stats = FeatureStats("t", ["p", "q"], [[0.0, 1.0], [0.0, 1.0]])
    assert stats.bin(np.zeros((2, 3))) is None
    assert stats.bin(np.asarray(["a", "b"], dtype=object)) is None


_EVENT = st.tuples(
    st.integers(0, 200),  # seconds since the previous request (a minute boundary is crossed often)
    st.sampled_from(["ok", "error", "blocked", "client_error"]),
    st.sampled_from([0.5, 50.0, 70.0, 100.0, 250.0]),  # at and around the bounds
    st.sampled_from(["live", "shadow"]),
    st.one_of(
        st.none(),  # an input the layout does not count (missing or another shape)
        st.lists(st.lists(st.integers(-20, 60) | st.just(float("nan")), min_size=2, max_size=2), min_size=1, max_size=9),
    ),
    st.booleans(),  # a reader looks in between (flushes the batch)
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_EVENT, min_size=1, max_size=60), st.sampled_from(["float32", "int64", "float64"]))
def test_requests_batched_per_minute_count_as_one_add_per_request(events: list[Any], dtype: str) -> None:
    """``record(arrays=...)`` batches a minute of requests (bins them at flush): every window,
    bucket and cumulative histogram equals what one binned ``add`` per request gives."""
    from unittest import mock

    from specops.serve import _observe

    clock_a, clock_b = Clock(), Clock()
    # Small batches, so that full batches and requests with more rows than a batch holds come up.
    with mock.patch.object(_observe, "_BATCH_REQUESTS", 3), mock.patch.object(_observe, "_BATCH_VALUES", 8):
        batched, direct = store(clock_a), store(clock_b)
        features_a, features_b = layout(), layout()
        _replay(events, dtype, (clock_a, batched, features_a), (clock_b, direct, features_b))


def _replay(events: list[Any], dtype: str, a: tuple[Clock, Observations, list[FeatureStats]],
            b: tuple[Clock, Observations, list[FeatureStats]]) -> None:
    (clock_a, batched, features_a), (clock_b, direct, features_b) = a, b
    for gap, outcome, ms, traffic, rows, look in events:
        clock_a.now += gap
        clock_b.now += gap
        array = None
        if rows is not None:
            array = np.asarray(rows, dtype=np.float64)
            array = np.nan_to_num(array).astype(dtype) if dtype == "int64" else array.astype(dtype)
        shadow = traffic == "shadow"
        batched.record("m", "1.0.0", features_a, shadow=shadow, outcome=outcome, ms=ms, arrays=[array])
        seen = [features_b[0].observe(array) if array is not None else None]
        direct.record("m", "1.0.0", features_b, shadow=shadow, outcome=outcome, ms=ms, seen=seen)
        if look:
            assert answer(batched, features_a, [60, 300, 3600, 86400]) == answer(direct, features_b, [60, 300, 3600, 86400])
    assert answer(batched, features_a, [60, 300, 3600, 86400]) == answer(direct, features_b, [60, 300, 3600, 86400])
    assert features_a[0].counts.tolist() == features_b[0].counts.tolist()
    assert features_a[0].sums.tolist() == pytest.approx(features_b[0].sums.tolist(), nan_ok=True)


def test_a_batch_flushes_when_full_and_a_large_request_is_binned_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from specops.serve import _observe

    monkeypatch.setattr(_observe, "_BATCH_REQUESTS", 4)
    monkeypatch.setattr(_observe, "_BATCH_VALUES", 6)  # 3 rows of 2 features per batch
    clock = Clock()
    obs, features = store(clock), layout()
    for _ in range(5):
        obs.record("m", "1.0.0", features, shadow=False, outcome="ok", ms=1.0, arrays=[np.array([[5.0, 0.5], [15.0, 0.5]])])
    obs.record("m", "1.0.0", features, shadow=False, outcome="ok", ms=1.0, arrays=[np.full((7, 2), 25.0)])
    hour = answer(obs, features, [3600])["live"]["windows"]["3600"]
    assert hour["requests"] == 6
    assert hour["features"]["x/a"]["counts"] == [5, 5, 7]
    assert features[0].to_json()["a"]["counts"] == [5, 5, 7]


# -- windows --------------------------------------------------------------------


def test_windows_are_event_sums_of_the_recent_buckets() -> None:
    clock = Clock()
    obs, features = store(clock), layout()
    record(obs, features, [[5.0, 0.5]] * 3)  # 3 rows in one request
    clock.now += 120
    record(obs, features, [[15.0, 0.5]], outcome="error", ms=70)
    record(obs, features, [[45.0, 0.5]], outcome="blocked", ms=200)
    clock.now += 600
    record(obs, features, [[-1.0, float("nan")]])
    live = answer(obs, features, [300, 3600])["live"]
    recent, hour = live["windows"]["300"], live["windows"]["3600"]
    assert (recent["requests"], recent["errors"], recent["guardrail_blocks"]) == (1, 0, 0)
    assert (hour["requests"], hour["errors"], hour["guardrail_blocks"]) == (4, 1, 1)
    assert hour["over_threshold"] == {"50": 2, "100": 1}
    a = hour["features"]["x/a"]
    assert (a["counts"], a["underflow"], a["overflow"], a["count"]) == ([3, 1, 0], 1, 1, 6)
    assert a["edges"] == EDGES and a["sum"] == pytest.approx(15 + 15 + 45 - 1)
    assert hour["features"]["x/b"]["nan"] == 1
    assert hour["first_ts"] == T0 and hour["last_ts"] == T0 + 720
    assert recent["first_ts"] == T0 + 720 and recent["seconds"] == 300 and recent["bucket_s"] == 60
    budget = live["budget_window"]
    assert (budget["requests"], budget["errors"], budget["seconds"]) == (4, 1, 30 * 86400)
    assert "features" not in budget


def test_old_buckets_leave_the_fine_ring_but_stay_in_coarser_ones() -> None:
    clock = Clock()
    obs, features = store(clock), layout()
    record(obs, features, [[5.0, 0.5]], outcome="error")
    clock.now += 7 * 3600  # the 1-minute ring (6 h) has lapped past it
    record(obs, features, [[5.0, 0.5]])
    windows = answer(obs, features, [3600, 6 * 3600, 86400])["live"]["windows"]
    assert windows["3600"]["requests"] == 1
    assert windows["21600"]["requests"] == 1 and windows["21600"]["bucket_s"] == 60
    day = windows["86400"]
    assert (day["requests"], day["errors"], day["bucket_s"]) == (2, 1, 600)
    assert day["features"]["x/a"]["count"] == 2
    clock.now += 4 * 86400  # past the 3-day ring: only the hourly budget window remembers
    record(obs, features, [[5.0, 0.5]])
    live = answer(obs, features, [86400])["live"]
    assert live["windows"]["86400"]["requests"] == 1
    assert live["budget_window"]["requests"] == 3 and live["budget_window"]["errors"] == 1


def test_a_ring_slot_from_an_earlier_lap_is_never_counted() -> None:
    clock = Clock()
    obs, features = store(clock), layout()
    record(obs, features, [[5.0, 0.5]])
    clock.now += 360 * 60  # exactly one lap of the fine ring: same slot, another bucket
    assert answer(obs, features, [300])["live"]["windows"]["300"]["requests"] == 0
    record(obs, features, [[5.0, 0.5]])
    assert answer(obs, features, [300])["live"]["windows"]["300"]["requests"] == 1


def test_shadow_traffic_is_kept_apart_and_costs_nothing_until_it_comes() -> None:
    clock = Clock()
    obs, features = store(clock), layout()
    record(obs, features, [[5.0, 0.5]])
    before = obs.answer("m", {"1.0.0": features}, [300])
    assert before["versions"]["1.0.0"]["shadow"]["windows"]["300"]["requests"] == 0
    assert before["versions"]["1.0.0"]["shadow"]["windows"]["300"]["features"]["x/a"]["count"] == 0
    record(obs, features, [[5.0, 0.5]], shadow=True, outcome="error")
    after = obs.answer("m", {"1.0.0": features}, [300])
    version = after["versions"]["1.0.0"]
    assert version["live"]["windows"]["300"]["errors"] == 0
    assert version["shadow"]["windows"]["300"]["errors"] == 1
    assert after["memory_bytes"]["1.0.0"] == 2 * before["memory_bytes"]["1.0.0"]


def test_memory_is_bounded_and_reported() -> None:
    clock = Clock()
    obs, features = store(clock), layout()
    for _ in range(2000):
        clock.now += 97
        record(obs, features, [[5.0, 0.5]])
    memory = obs.answer("m", {"1.0.0": features}, [300])["memory_bytes"]["1.0.0"]
    stream = obs.streams[("m", "1.0.0", "live")]
    assert memory == stream.nbytes
    # counters: 3 + 2 bounds per bucket (int64), features: 2 x 6 slots (int32) + 2 sums, plus stamps
    fine_and_coarse = (360 + 432) * (8 + 5 * 8 + 12 * 4 + 2 * 8)
    assert memory == fine_and_coarse + 720 * (8 + 5 * 8)
    obs.forget("m", set())
    assert obs.streams == {}


def test_a_latency_bound_added_later_counts_from_then_on() -> None:
    clock = Clock()
    bounds = [50.0]
    generation = [0]
    obs = Observations(lambda model: bounds, clock=clock, generation=lambda: generation[0])
    features = layout()
    record(obs, features, ms=80)
    bounds.append(20.0)
    generation[0] += 1  # the target changed (an SLO was applied)
    record(obs, features, ms=30)
    window = answer(obs, features, [300])["live"]["windows"]["300"]
    assert window["over_threshold"] == {"20": 1, "50": 1}
    assert window["requests"] == 2


def test_a_longer_slo_window_grows_the_hourly_ring_keeping_its_buckets() -> None:
    clock = Clock()
    budget = [7 * 86400.0]
    obs = Observations(lambda model: [50.0], clock=clock, budget_for=lambda model: budget[0],
                       generation=lambda: int(budget[0]))
    features = layout()
    record(obs, features, outcome="error")
    clock.now += 3 * 86400
    record(obs, features)
    budget[0] = 30 * 86400.0
    window = answer(obs, features, [300])["live"]["budget_window"]
    assert (window["seconds"], window["requests"], window["errors"]) == (30 * 86400, 2, 1)


def test_saved_and_read_back_by_a_new_store(tmp_path: Path) -> None:
    clock = Clock()
    obs, features = store(clock), layout()
    obs.attach(tmp_path)
    record(obs, features, [[5.0, 0.5]], outcome="error")
    record(obs, features, [[5.0, 0.5]], shadow=True)
    obs.save()
    again = store(clock)
    again.attach(tmp_path)
    versions = answer(again, features, [300])
    assert versions["live"]["windows"]["300"]["errors"] == 1
    assert versions["shadow"]["windows"]["300"]["requests"] == 1
    assert versions["live"]["windows"]["300"]["features"]["x/a"]["counts"] == [1, 0, 0]
    # Another feature layout (the dataset profile changed): counters kept, feature counts not.
    other = [FeatureStats("x", ["a", "b"], [[0.0, 5.0, 50.0], [0.0, 1.0]])]
    third = store(clock)
    third.attach(tmp_path)
    window = answer(third, other, [300])["live"]["windows"]["300"]
    assert window["requests"] == 1 and window["features"]["x/a"]["count"] == 0


def test_saved_every_minute_while_requests_arrive(tmp_path: Path) -> None:
    clock = Clock()
    obs, features = store(clock), layout()
    obs.attach(tmp_path)
    record(obs, features, [[5.0, 0.5]])
    assert not (tmp_path / FILE_NAME).exists()  # not yet: the last save (the start) is under a minute old
    clock.now += 61
    record(obs, features, [[5.0, 0.5]])
    for _ in range(500):  # written off the request path, by a thread
        if (tmp_path / FILE_NAME).exists():
            break
        threading.Event().wait(0.01)
    again = store(clock)
    again.attach(tmp_path)
    assert answer(again, features, [300])["live"]["windows"]["300"]["requests"] == 2


def test_an_unreadable_file_is_kept_aside_and_observations_start_empty(tmp_path: Path) -> None:
    (tmp_path / FILE_NAME).write_bytes(b"not a zip file")
    obs = store(Clock())
    obs.attach(tmp_path)
    assert not (tmp_path / FILE_NAME).exists()
    assert len(list(tmp_path.glob(f"{FILE_NAME}.unreadable-*"))) == 1
    assert answer(obs, layout(), [300])["live"]["windows"]["300"]["requests"] == 0


# -- on a real server -----------------------------------------------------------------


def _dataset() -> dict[str, Any]:
    columns = [{"name": f, "dtype": "float", "min": 0, "max": 100} for f in FEATURES]
    profile = {
        "rows": 100,
        "features": {f: {"histogram": {"edges": [0, 25, 50, 75, 100], "counts": [25, 25, 25, 25]}} for f in FEATURES},
    }
    return doc("Dataset", "train", {
        "version": "v1", "artifact": {"uri": "data/train.csv", "sha256": "0" * 64},
        "schema": {"columns": columns}, "profile": profile,
    })


def _slo(window: str = "30d") -> dict[str, Any]:
    return doc("SLO", "fraud", {"model": "fraud", "window": window, "objectives": [
        {"type": "latency", "percentile": 99, "thresholdMs": 0.001},
        {"type": "errorRate", "max": 0.01},
    ]})


def _observations(admin: Admin, windows: str = "300,3600") -> dict[str, Any]:
    response = admin.http.get("/admin/v1/models/fraud/observations", params={"windows": windows})
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_served_requests_are_observed_and_survive_a_restart(tmp_path: Path) -> None:
    running = start(tmp_path / "state")
    clock = Clock()
    running.target.clock = clock
    admin = Admin(running.url)
    try:
        assert admin.apply(_dataset()).status_code == 200
        assert admin.apply(_slo()).status_code == 200
        deploy(admin, "fraud", "1.0.0", scorer(1), trainedOn={"dataset": "train", "version": "v1"})
        deploy(admin, "fraud", "1.1.0", scorer(2), trainedOn={"dataset": "train", "version": "v1"})
        assert admin.traffic("fraud", {"1.1.0": 100}, shadow="1.0.0").status_code == 200
        for i in range(5):
            assert admin.infer("fraud", [[10.0, 30.0, 60.0, 120.0], [1.0, 1.0, 1.0, 1.0]], id=f"o{i}").status_code == 200
        wrong = {"inputs": [{"name": "other", "datatype": "FP32", "shape": [1, 4], "data": [[1, 2, 3, 4]]}]}
        assert admin.http.post("/v2/models/fraud/infer", json=wrong).status_code == 400  # still a request
        seen: dict[str, Any] = {}
        for _ in range(300):  # mirrors run after the answer
            seen = _observations(admin)
            if seen["versions"]["1.0.0"]["shadow"]["windows"]["300"]["requests"] == 5:  # no mirror of a 400
                break
            threading.Event().wait(0.01)
        assert seen["now"] == T0 and seen["bucket_s"] == 60 and seen["revision"] == admin.revision()
        live = seen["versions"]["1.1.0"]["live"]["windows"]["300"]
        assert live["requests"] == 6 and live["errors"] == 0
        assert live["over_threshold"]["0.001"] == 6 and live["over_threshold"]["50"] == 0
        amount = live["features"]["features/amount"]
        assert amount["edges"] == [0, 25, 50, 75, 100]
        assert (amount["counts"], amount["count"], amount["sum"]) == ([10, 0, 0, 0], 10, 55.0)
        assert live["features"]["features/hour"]["overflow"] == 5
        assert seen["versions"]["1.1.0"]["shadow"]["windows"]["300"]["requests"] == 0
        assert seen["versions"]["1.0.0"]["live"]["windows"]["300"]["requests"] == 0
        assert seen["versions"]["1.0.0"]["shadow"]["windows"]["300"]["features"]["features/amount"]["count"] == 10
        assert seen["versions"]["1.1.0"]["live"]["budget_window"]["requests"] == 6
        assert set(seen["memory_bytes"]) == {"1.0.0", "1.1.0"} and seen["memory_bytes"]["1.1.0"] > 0

        metrics = admin.http.get("/metrics").text
        assert 'specops_requests_total{model="fraud",outcome="ok",traffic="live",version="1.1.0"} 5.0' in metrics
        assert 'specops_requests_total{model="fraud",outcome="ok",traffic="shadow",version="1.0.0"} 5.0' in metrics
        assert 'traffic="live",version="1.0.0"' not in metrics.split("specops_request_duration_seconds")[0]

        clock.now += 1800  # half an hour later, the 300 s window is empty; the hour still holds them
        later = _observations(admin)["versions"]["1.1.0"]["live"]["windows"]
        assert later["300"]["requests"] == 0 and later["3600"]["requests"] == 6
        bad = admin.http.get("/admin/v1/models/fraud/observations", params={"windows": "300,abc"})
        assert bad.status_code == 400 and "whole seconds" in bad.json()["error"]
        too_long = admin.http.get("/admin/v1/models/fraud/observations", params={"windows": str(31 * 86400)})
        assert too_long.status_code == 400 and "SLO window" in too_long.json()["error"]
        only = admin.http.get("/admin/v1/models/fraud/observations", params={"windows": "300,3600", "features": "3600"})
        versions = only.json()["versions"]
        assert "features" not in versions["1.1.0"]["live"]["windows"]["300"]
        assert versions["1.1.0"]["live"]["windows"]["3600"]["features"]["features/amount"]["count"] == 10
        assert "features" not in versions["1.1.0"]["shadow"]["windows"]["300"]
        none = admin.http.get("/admin/v1/models/fraud/observations", params={"windows": "300", "features": ""})
        assert "features" not in none.json()["versions"]["1.0.0"]["shadow"]["windows"]["300"]
        stray = admin.http.get("/admin/v1/models/fraud/observations", params={"windows": "300", "features": "60"})
        assert stray.status_code == 400
        missing = admin.http.get("/admin/v1/models/nope/observations")
        assert missing.status_code == 404
    finally:
        admin.close()
        running.stop()
    assert (tmp_path / "state" / FILE_NAME).is_file()

    again = start(tmp_path / "state")
    again.target.clock = clock
    admin = Admin(again.url)
    try:
        after = _observations(admin)["versions"]
        assert after["1.1.0"]["live"]["windows"]["3600"]["requests"] == 6
        assert after["1.1.0"]["live"]["windows"]["3600"]["features"]["features/amount"]["count"] == 10
        assert after["1.0.0"]["shadow"]["windows"]["3600"]["requests"] == 5
    finally:
        admin.close()
        again.stop()
