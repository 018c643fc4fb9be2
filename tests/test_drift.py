"""Drift and burn-rate math (specops.watch), against scipy's raw statistics and as properties."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.spatial.distance import jensenshannon
from scipy.special import rel_entr

from specops import Dataset, load_estate
from specops._errors import Diagnostic
from specops.spec import SLO, parse_bytes
from specops.spec._slo import (
    DEFAULT_BURN_RATES,
    AvailabilityObjective,
    BurnRate,
    DriftObjective,
    ErrorRateObjective,
    LatencyObjective,
)
from specops.watch import (
    BurnPair,
    Current,
    Reference,
    WindowCounts,
    budget_of,
    budget_remaining,
    burn_rate,
    drift,
    evaluate_pair,
    ks_pvalue,
    pairs,
    threshold_key,
    window_counts,
)
from specops.watch._drift import EPSILON, jensen_shannon, ks, psi, wasserstein


def quantile_reference(values: np.ndarray, bins: int = 50) -> Reference:
    edges = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)))
    counts, _ = np.histogram(values, bins=edges)
    return Reference.of(edges, counts, float(np.std(values)))


def filled(ref: Reference, cur: Current) -> tuple[np.ndarray, np.ndarray]:
    r = np.concatenate(([0], ref.counts, [0])) / ref.counts.sum()
    c = np.concatenate(([cur.underflow], cur.counts, [cur.overflow])) / cur.samples
    return np.where(r == 0, EPSILON, r), np.where(c == 0, EPSILON, c)


@pytest.fixture(scope="module")
def samples() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    return rng.lognormal(3.0, 0.8, 2000), rng.lognormal(3.2, 0.9, 20000)


def test_psi_is_the_symmetric_kl_of_the_filled_fractions(samples: tuple[np.ndarray, np.ndarray]) -> None:
    reference, current = samples
    ref = quantile_reference(reference)
    cur = Current.from_values(ref.edges, current)
    r, c = filled(ref, cur)
    assert psi(ref, cur) == pytest.approx(float(rel_entr(r, c).sum() + rel_entr(c, r).sum()), rel=1e-12)
    assert cur.overflow > 0  # the shifted sample leaves the reference's range: the tail bins count


def test_jensen_shannon_matches_scipy(samples: tuple[np.ndarray, np.ndarray]) -> None:
    reference, current = samples
    ref = quantile_reference(reference)
    cur = Current.from_values(ref.edges, current)
    r, c = filled(ref, cur)
    assert jensen_shannon(ref, cur) == pytest.approx(float(jensenshannon(r, c)), rel=1e-9)


def test_ks_at_the_edges_is_a_lower_bound_close_to_scipys_d(samples: tuple[np.ndarray, np.ndarray]) -> None:
    reference, current = samples
    ref = quantile_reference(reference)
    cur = Current.from_values(ref.edges, current)
    raw = stats.ks_2samp(reference, current).statistic
    assert ks(ref, cur) <= raw + 1e-12
    assert ks(ref, cur) > raw - 0.03  # 50 quantile bins: each holds 2% of the reference


def test_ks_equals_scipys_d_on_discrete_data_with_one_bin_per_value() -> None:
    rng = np.random.default_rng(3)
    reference = rng.integers(0, 24, 2000).astype(float)
    current = rng.choice(np.arange(24.0), 5000, p=np.r_[np.full(12, 1 / 18), np.full(12, 1 / 36)])
    values = np.unique(reference)
    edges = np.r_[values[0], (values[:-1] + values[1:]) / 2, values[-1]]
    counts, _ = np.histogram(reference, bins=edges)
    ref = Reference.of(edges, counts)
    cur = Current.from_values(edges, current)
    assert ks(ref, cur) == pytest.approx(stats.ks_2samp(reference, current).statistic, abs=1e-12)


def test_ks_pvalue_is_kolmogorovs_distribution() -> None:
    for d, n, m in [(0.05, 2000, 10000), (0.02, 2000, 100000), (0.2, 100, 100)]:
        expected = stats.kstwobign.sf(math.sqrt(n * m / (n + m)) * d)
        assert ks_pvalue(d, n, m) == pytest.approx(expected, rel=1e-9, abs=1e-15)
    assert ks_pvalue(0.0, 10, 10) == 1.0


def test_wasserstein_is_within_two_bin_widths_of_scipys(samples: tuple[np.ndarray, np.ndarray]) -> None:
    reference, _ = samples
    current = reference[:1500] * 1.1 + 2  # stays mostly inside the reference's range
    edges = np.linspace(reference.min(), reference.max(), 51)
    counts, _ = np.histogram(reference, bins=edges)
    std = float(np.std(reference))
    ref = Reference.of(edges, counts, std)
    cur = Current.from_values(edges, current)
    raw = stats.wasserstein_distance(reference, current) / std
    width = float(edges[1] - edges[0])
    assert abs(wasserstein(ref, cur) - raw) <= 2 * width / std
    assert wasserstein(ref, cur) > 0.1  # a real shift is seen


def test_wasserstein_puts_one_sided_overflow_at_its_mean() -> None:
    ref = Reference.of([0.0, 1.0, 2.0], [50, 50], std=1.0)
    # Spread evenly inside the first bin, as the binned distribution assumes; half far above the edges.
    values = np.r_[(np.arange(50) + 0.5) / 50, np.full(50, 11.0)]
    cur = Current.from_values(ref.edges, values)
    assert cur.overflow == 50
    reference_points = (np.arange(100) + 0.5) / 50
    raw = stats.wasserstein_distance(reference_points, values)
    assert wasserstein(ref, cur) == pytest.approx(raw, abs=0.02)
    at_edge = Current.of(cur.counts, 0, 50, 0, None)  # without the sum: a lower bound
    assert wasserstein(ref, at_edge) < wasserstein(ref, cur)


def test_reference_from_the_example_profile_sees_its_own_data_as_no_drift() -> None:
    root = Path(__file__).resolve().parent.parent
    dataset = load_estate([root / "specs"], root=root).get("Dataset", "transactions").resource
    assert isinstance(dataset, Dataset) and dataset.spec.profile is not None
    table = np.loadtxt(root / "specs" / "data" / "transactions-2026-10.csv", delimiter=",", skiprows=1)
    for i, (name, feature) in enumerate(dataset.spec.profile.features.items()):
        ref = Reference.from_profile(feature)
        cur = Current.from_values(ref.edges, table[:, i])
        assert ref.rows == cur.samples == 2000
        for method in ("psi", "jensenShannon", "ks", "wasserstein"):
            assert drift(method, ref, cur, threshold=0.1, min_samples=500).value == pytest.approx(0.0, abs=1e-9), name


def test_min_samples_gives_no_data_never_a_pass() -> None:
    ref = Reference.of([0.0, 1.0, 2.0], [10, 10], std=0.5)
    few = Current.of([0, 3], 0, 0)
    result = drift("psi", ref, few, threshold=0.2, min_samples=5)
    assert (result.value, result.status, result.samples) == (None, "no data", 3)
    empty = drift("wasserstein", ref, Current.of([0, 0]), threshold=0.1, min_samples=1)
    assert empty.status == "no data"
    enough = drift("psi", ref, Current.of([0, 30]), threshold=0.2, min_samples=5)
    assert enough.status == "drift" and enough.to_json()["value"] == enough.value


def test_drift_refuses_mismatched_bins_and_unknown_methods() -> None:
    ref = Reference.of([0.0, 1.0, 2.0], [10, 10])
    with pytest.raises(ValueError, match="bins"):
        drift("psi", ref, Current.of([1, 2, 3]), threshold=0.1, min_samples=1)
    with pytest.raises(ValueError, match="unknown drift method"):
        drift("chi2", ref, Current.of([1, 2]), threshold=0.1, min_samples=1)
    with pytest.raises(ValueError, match="strictly"):
        Reference.of([0.0, 0.0, 1.0], [1, 1])


counts_strategy = st.lists(st.integers(0, 1000), min_size=2, max_size=30)


@settings(max_examples=200, deadline=None)
@given(counts_strategy, st.data())
def test_same_distribution_is_zero_and_divergences_are_non_negative(counts: list[int], data: st.DataObject) -> None:
    if sum(counts) == 0:
        counts[0] = 1
    edges = np.cumsum(np.r_[0.0, data.draw(st.lists(st.floats(0.01, 100), min_size=len(counts), max_size=len(counts)))])
    ref = Reference.of(edges, counts, std=1.0)
    same = Current.of(np.asarray(counts) * 3)
    for method in ("psi", "jensenShannon", "ks", "wasserstein"):
        assert drift(method, ref, same, threshold=0.1, min_samples=1).value == pytest.approx(0.0, abs=1e-9)
    other = Current.of(data.draw(st.lists(st.integers(0, 1000), min_size=len(counts), max_size=len(counts))),
                       data.draw(st.integers(0, 50)), data.draw(st.integers(0, 50)))
    if other.samples == 0:
        return
    assert psi(ref, other) >= -1e-12
    assert 0 <= jensen_shannon(ref, other) <= math.sqrt(math.log(2)) + 1e-9
    assert 0 <= ks(ref, other) <= 1
    assert wasserstein(ref, other) >= 0


@settings(max_examples=100, deadline=None)
@given(st.integers(2, 60), st.floats(-3, 3), st.floats(0.2, 5), st.integers(0, 2**32 - 1))
def test_ks_never_exceeds_the_raw_d(bins: int, shift: float, scale: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    reference = rng.normal(0, 1, 300)
    current = rng.normal(shift, scale, 400)
    ref = quantile_reference(reference, bins)
    cur = Current.from_values(ref.edges, current)
    assert ks(ref, cur) <= stats.ks_2samp(reference, current).statistic + 1e-12


@settings(max_examples=100, deadline=None)
@given(st.integers(2, 60), st.floats(-2, 2), st.integers(0, 2**32 - 1))
def test_wasserstein_grows_with_the_shift(bins: int, shift: float, seed: int) -> None:
    # Shifting the current sample further away never makes wasserstein smaller.
    rng = np.random.default_rng(seed)
    reference = rng.normal(0, 1, 500)
    ref = quantile_reference(reference, bins)
    base = rng.normal(0, 1, 500)
    near = Current.from_values(ref.edges, base + abs(shift) / 2)
    far = Current.from_values(ref.edges, base + abs(shift) + 3)
    assert wasserstein(ref, far) >= wasserstein(ref, near) - 1e-9


# -- burn rates ---------------------------------------------------------------------


def test_budgets_of_each_objective() -> None:
    assert budget_of(LatencyObjective(type="latency", percentile=95, threshold_ms=50)) == pytest.approx(0.05)
    assert budget_of(ErrorRateObjective(type="errorRate", max=0.001)) == 0.001
    assert budget_of(AvailabilityObjective(type="availability", target=0.999)) == pytest.approx(0.001)


def test_window_counts_reads_errors_or_requests_over_the_threshold() -> None:
    window = {"requests": 1000, "errors": 4, "over_threshold": {"50": 70, "2.5": 900}}
    assert window_counts(ErrorRateObjective(type="errorRate", max=0.01), window) == WindowCounts(4, 1000)
    assert window_counts(LatencyObjective(type="latency", threshold_ms=50), window) == WindowCounts(70, 1000)
    assert window_counts(LatencyObjective(type="latency", threshold_ms=2.5), window) == WindowCounts(900, 1000)
    with pytest.raises(KeyError, match="over 20 ms"):
        window_counts(LatencyObjective(type="latency", threshold_ms=20), window)
    assert (threshold_key(50.0), threshold_key(2.5), threshold_key(100)) == ("50", "2.5", "100")


def test_burn_rate_is_event_sums_over_the_budget_with_a_min_request_guard() -> None:
    assert burn_rate(WindowCounts(bad=15, total=1000), 0.001) == pytest.approx(15.0)
    assert burn_rate(WindowCounts(bad=0, total=5), 0.001, min_requests=10) is None
    assert burn_rate(WindowCounts(bad=0, total=0), 0.001, min_requests=0) is None  # no traffic: no data
    assert burn_rate(WindowCounts(bad=1, total=100), 0.0) == math.inf
    assert budget_remaining(WindowCounts(bad=5, total=10000), 0.001) == pytest.approx(0.5)
    assert budget_remaining(WindowCounts(bad=0, total=0), 0.001) is None


def test_a_pair_fires_only_when_both_windows_burn_faster_than_the_factor() -> None:
    pair = BurnPair(3600, 300, 14.4, "page")
    budget = 0.001
    fast = WindowCounts(bad=20, total=1000)  # 20x
    slow = WindowCounts(bad=5, total=1000)  # 5x
    assert evaluate_pair(pair, fast, fast, budget).status == "firing"
    assert evaluate_pair(pair, fast, slow, budget).status == "ok"  # the short window recovered
    assert evaluate_pair(pair, slow, fast, budget).status == "ok"  # a blip, not a burn
    quiet = evaluate_pair(pair, fast, WindowCounts(0, 3), budget)
    assert quiet.status == "no data" and quiet.to_json()["short_rate"] is None
    assert quiet.to_json()["windows"] == "1h/5m"


def test_pairs_resolve_budget_consumed_into_the_workbooks_factors() -> None:
    month = 30 * 86400.0
    declared = [BurnRate(long_window="1h", short_window="5m", budget_consumed="2%"),
                BurnRate(long_window="6h", short_window="30m", budget_consumed=0.05)]
    assert [p.factor for p in pairs(declared, month)] == pytest.approx([14.4, 6.0])
    defaults = pairs(list(DEFAULT_BURN_RATES), month)
    assert [(p.name, p.factor, p.severity) for p in defaults] == [
        ("1h/5m", 14.4, "page"), ("6h/30m", 6.0, "page"), ("1d/2h", 3.0, "ticket"), ("3d/6h", 1.0, "ticket")]


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 10**6), st.floats(1e-4, 0.5))
def test_burn_rate_and_budget_remaining_agree(bad: int, total: int, budget: float) -> None:
    bad = min(bad, total)
    counts = WindowCounts(bad, total)
    rate = burn_rate(counts, budget, min_requests=1)
    remaining = budget_remaining(counts, budget)
    assert rate is not None and remaining is not None
    assert rate >= 0
    assert remaining == pytest.approx(1 - rate)


# -- the SLO spec's alerting fields ---------------------------------------------------

SLO_TEXT = """\
apiVersion: specops.dev/v1
kind: SLO
metadata:
  name: scorer
spec:
  model: scorer
  objectives:
    - {type: latency, percentile: 99, thresholdMs: 20}
    - {type: drift, threshold: 0.2}
  alerting:
    burnRates: BURN
    notify: NOTIFY
"""


def slo_errors(burn: str = "[]", notify: str = "[log]") -> list[Diagnostic]:
    text = SLO_TEXT.replace("BURN", burn).replace("NOTIFY", notify)
    _, problems = parse_bytes(text.encode(), "slo.yaml")
    return problems


def test_a_latency_objective_alone_can_burn_and_drift_has_a_window() -> None:
    text = SLO_TEXT.replace("BURN", "[{longWindow: 1h, shortWindow: 5m, factor: 14.4}]").replace("NOTIFY", "[log]")
    (resource, _), = parse_bytes(text.encode(), "slo.yaml")[0]
    assert isinstance(resource, SLO)
    assert [type(o).__name__ for o in resource.spec.budgeted()] == ["LatencyObjective"]
    drift_objective = resource.spec.objectives[1]
    assert isinstance(drift_objective, DriftObjective) and drift_objective.window == "1h"


@pytest.mark.parametrize(
    ("channel", "hint"),
    [("slack:#risk-oncall", "route Slack through an Alertmanager receiver"),
     ("pagerduty:team", "send it to Alertmanager"),
     ("webhook:ftp://x/y", "needs an http(s) URL")],
)
def test_notify_accepts_only_alertmanager_webhook_and_log(channel: str, hint: str) -> None:
    problems = slo_errors(notify=f'["{channel}"]')
    assert len(problems) == 1
    assert hint in problems[0].message
    assert problems[0].field == "spec.alerting.notify[0]"
    assert problems[0].line == 12
    assert slo_errors(notify='["alertmanager:http://127.0.0.1:9093", "webhook:https://hooks.example/x", log]') == []


def test_a_burn_rate_needs_exactly_one_of_factor_and_budget_consumed() -> None:
    assert slo_errors('[{longWindow: 1h, shortWindow: 5m, budgetConsumed: "2%"}]') == []
    both = slo_errors('[{longWindow: 1h, shortWindow: 5m, factor: 2, budgetConsumed: "2%"}]')
    assert "exactly one of factor" in both[0].message
    neither = slo_errors("[{longWindow: 1h, shortWindow: 5m}]")
    assert "exactly one of factor" in neither[0].message
    bad = slo_errors('[{longWindow: 1h, shortWindow: 5m, budgetConsumed: "2 percent"}]')
    assert "is not a percentage" in bad[0].message


def test_on_drift_retrain_takes_a_url_and_a_token_variable_name() -> None:
    text = SLO_TEXT.replace("BURN", "[]").replace("NOTIFY", "[log]")
    good = text + "  onDrift: {retrain: {url: 'https://ml.example/retrain', tokenEnv: RETRAIN_TOKEN}}\n"
    (resource, _), = parse_bytes(good.encode(), "slo.yaml")[0]
    assert isinstance(resource, SLO) and resource.spec.on_drift is not None
    assert resource.spec.on_drift.retrain is not None
    assert resource.spec.on_drift.retrain.token_env == "RETRAIN_TOKEN"
    secret = text + "  onDrift: {retrain: {url: 'https://ml.example/retrain', tokenEnv: s3cr3t-value}}\n"
    problems = parse_bytes(secret.encode(), "slo.yaml")[1]
    assert problems and "s3cr3t" not in problems[0].message


def test_a_drift_window_fits_in_the_feature_buckets_and_the_slo_window() -> None:
    base = SLO_TEXT.replace("BURN", "[]").replace("NOTIFY", "[log]")
    too_long = base.replace("{type: drift, threshold: 0.2}", "{type: drift, threshold: 0.2, window: 4d}")
    assert "longer than 3d" in parse_bytes(too_long.encode(), "slo.yaml")[1][0].message
    short_slo = base.replace("  objectives:", "  window: 1h\n  objectives:").replace(
        "{type: drift, threshold: 0.2}", "{type: drift, threshold: 0.2, window: 2h}")
    assert "longer than the SLO window 1h" in parse_bytes(short_slo.encode(), "slo.yaml")[1][0].message
