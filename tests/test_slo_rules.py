"""``specops slo rules``: Prometheus rules from the SLO specs, checked and unit-tested by the real promtool.

promtool comes from Debian's ``prometheus`` package (``nox -s tests``
installs it); without it these tests fail and say so, they never skip.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from specops._cli import main
from specops._yaml import load_roundtrip
from specops.serve._metrics import FeatureStats, Metrics
from specops.spec import Estate, load_estate
from specops.spec._common import duration_seconds
from specops.spec._slo import DEFAULT_BURN_RATES, SLO, SLOSpec
from specops.watch._drift import Current, Reference, jensen_shannon, ks, psi
from specops.watch._rules import (
    GENERATED_HEADER,
    RuleFile,
    burn_pairs,
    drift_rules_for_slo,
    profile_of,
    prom_duration,
    render_rule_file,
    rule_files,
    rules_for_slo,
)

MODEL = "fraud-scorer"
VERSION = "1.1.0"
# The series the target exports (specops.serve._metrics), as Prometheus stores them.
REQUESTS = "specops_requests_total"
BUCKET = "specops_request_duration_seconds_bucket"
COUNT = "specops_request_duration_seconds_count"
WEIGHT = "specops_traffic_weight"
INFO = "specops_model_info"
FEATURE_BUCKET = "specops_input_feature_bucket"
FEATURE_COUNT = "specops_input_feature_count"
TENSOR = "features"
SPECS = Path(__file__).resolve().parent.parent / "specs"


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(
            "promtool is not installed: it comes from the Debian package `prometheus` "
            "(`nox -s tests` installs it; or `apt-get install -y --no-install-recommends prometheus`)"
        )
    return path


def run_promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def spec(**overrides: Any) -> SLOSpec:
    doc: dict[str, Any] = {
        "model": MODEL,
        "window": "30d",
        "objectives": [
            {"type": "latency", "percentile": 95, "thresholdMs": 50},
            {"type": "errorRate", "max": 0.001},
        ],
    }
    doc.update(overrides)
    return SLOSpec.model_validate(doc)


@pytest.fixture
def rules_dir(example_repo: Path, tmp_path: Path) -> Path:
    out = tmp_path / "rules"
    assert main(["slo", "rules", "--repo", str(example_repo), "--out", str(out)]) == 0
    return out


# -- the rules themselves ------------------------------------------------------


def test_promtool_check_accepts_the_example_rules(rules_dir: Path) -> None:
    files = sorted(rules_dir.iterdir())
    assert [f.name for f in files] == ["fraud-scorer.rules.yml"]
    result = run_promtool("check", "rules", *[str(f) for f in files], cwd=rules_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_emitted_yaml_is_the_rule_data(example_repo: Path) -> None:
    # The hand-written YAML must load back to exactly the groups computed.
    files = rule_files(_example_estate())
    text = render_rule_file(files)
    assert text.startswith(GENERATED_HEADER)
    loaded = json.loads(json.dumps(load_roundtrip(text)))
    slo = _example_slo()
    drift, _ = drift_rules_for_slo(slo.name, slo.spec, profile_of(_example_estate(), slo.spec))
    assert loaded == {"groups": [rules_for_slo("fraud-scorer", slo.spec), drift]}


def _example_estate() -> Estate:
    return load_estate([SPECS])


def _example_slo() -> SLO:
    loaded = _example_estate().get("SLO", "fraud-scorer")
    assert loaded is not None and isinstance(loaded.resource, SLO)
    return loaded.resource


def test_declared_pairs_and_budgets_become_thresholds() -> None:
    group = rules_for_slo("s", spec(alerting={"burnRates": [
        {"longWindow": "1h", "shortWindow": "5m", "factor": 14.4, "severity": "page"},
    ]}))  # fmt: skip
    alerts = [r for r in group["rules"] if r.get("alert") == "SLOBurnRate"]
    by_objective = {a["labels"]["objective"]: a for a in alerts}
    assert set(by_objective) == {"latency p95 <= 50ms", "errorRate <= 0.001"}
    # latency: budget 1 - 95/100; errors: budget = max
    assert "> (14.4 * 0.05)" in by_objective["latency p95 <= 50ms"]["expr"]
    assert "> (14.4 * 0.001)" in by_objective["errorRate <= 0.001"]["expr"]
    for alert in alerts:
        assert 'specops:slo_bad_ratio:rate1h{slo="s"' in alert["expr"]
        assert 'specops:slo_bad_ratio:rate5m{slo="s"' in alert["expr"]
        assert alert["labels"]["severity"] == "page"
    latency = next(r for r in group["rules"] if r.get("record") == "specops:slo_bad_ratio:rate1h"
                   and r["labels"]["objective"] == "latency p95 <= 50ms")  # fmt: skip
    # the threshold is a bucket bound, written as the exporter writes it
    assert f'{BUCKET}{{model="fraud-scorer",traffic="live",le="0.05"}}[1h]' in latency["expr"]
    # fewer than the minimum requests in a window is no data: the ratio is not recorded
    assert 'increase(specops_requests_total{model="fraud-scorer",traffic="live"}[1h])) >= 10' in latency["expr"]
    budget = [r for r in group["rules"] if r.get("record") == "specops:slo_budget_remaining"]
    assert {r["labels"]["window"] for r in budget} == {"30d"}


def test_budget_consumed_resolves_to_its_factor() -> None:
    # 2% of a 30-day budget in 1h is the workbook's 14.4x
    group = rules_for_slo("s", spec(alerting={"burnRates": [
        {"longWindow": "1h", "shortWindow": "5m", "budgetConsumed": "2%"},
    ]}))  # fmt: skip
    alert = next(r for r in group["rules"] if r.get("alert") == "SLOBurnRate")
    assert "> (14.4 * 0.05)" in alert["expr"]


def test_defaults_are_the_workbook_pairs_that_fit_the_window() -> None:
    pairs = burn_pairs(spec())
    assert [(prom_duration(p.long_s), prom_duration(p.short_s), p.factor, p.severity) for p in pairs] == [
        ("1h", "5m", 14.4, "page"), ("6h", "30m", 6.0, "page"),
        ("1d", "2h", 3.0, "ticket"), ("3d", "6h", 1.0, "ticket"),
    ]  # fmt: skip
    assert [(p.long_s, p.short_s) for p in burn_pairs(spec(window="2d"))] == [
        (duration_seconds(r.long_window), duration_seconds(r.short_window))
        for r in DEFAULT_BURN_RATES if duration_seconds(r.long_window) <= 2 * 86400
    ]


def test_rules_out_dir_removes_only_its_own_stale_files(example_repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "rules"
    out.mkdir()
    (out / "gone.rules.yml").write_text(GENERATED_HEADER + "\ngroups: []\n", encoding="utf-8")
    (out / "mine.rules.yml").write_text("groups: []\n", encoding="utf-8")
    buffer = io.StringIO()
    from specops._cli import _parser

    args = _parser().parse_args(["slo", "rules", "--repo", str(example_repo), "--out", str(out)])
    assert args.func(args, buffer) == 0
    assert sorted(p.name for p in out.iterdir()) == ["fraud-scorer.rules.yml", "mine.rules.yml"]
    assert "removed" in buffer.getvalue() and "gone.rules.yml" in buffer.getvalue()


def test_rules_out_that_is_a_file_is_a_one_line_error(
    example_repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "taken"
    target.write_text("not a directory", encoding="utf-8")
    assert main(["slo", "rules", "--repo", str(example_repo), "--out", str(target)]) == 1
    err = capsys.readouterr().err
    assert f"cannot write the rules to {target}" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_rules_print_to_stdout_without_out(example_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["slo", "rules", "--repo", str(example_repo)]) == 0
    text = capsys.readouterr().out
    assert text.startswith(GENERATED_HEADER)
    assert 'alert: "SLONoTraffic"' in text


def test_rules_select_series_the_target_really_exports() -> None:
    # Render the real exporter's /metrics text and check that every series the
    # rules (and the promtool tests below) read is there, with the labels used.
    metrics = Metrics(lambda model: [1.0, 50.0, 1000.0])
    stats = metrics.version(MODEL, VERSION)
    stats.record("ok", 3.0)
    stats.record("error", 80.0)
    stats.record("ok", 2.0, shadow=True)
    edges = _amount().edges
    stats.features.append(FeatureStats(TENSOR, ["amount"], [list(edges)]))
    stats.features[0].observe(np.array([[5.0], [150.0], [5000.0]]))
    metrics.info = lambda: [{"model": MODEL, "version": VERSION, "providers": ["CPUExecutionProvider"], "ready": True, "weight": 100}]
    registry = CollectorRegistry()
    registry.register(metrics.collector())
    exported: dict[str, list[dict[str, str]]] = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            exported.setdefault(sample.name, []).append(sample.labels)
    text = render_rule_file(rule_files(_example_estate()))
    for name in (REQUESTS, BUCKET, COUNT, WEIGHT, FEATURE_BUCKET, FEATURE_COUNT):
        assert f"{name}{{" in text
        assert name in exported, f"the target does not export {name}"
    assert {"model", "version", "outcome", "traffic"} <= set(exported[REQUESTS][0])
    assert {("error", "live"), ("ok", "live"), ("ok", "shadow")} <= {
        (labels["outcome"], labels["traffic"]) for labels in exported[REQUESTS]
    }
    assert ("0.05", "live") in {(labels["le"], labels["traffic"]) for labels in exported[BUCKET]}
    assert {"model", "version"} <= set(exported[WEIGHT][0])
    # feature buckets sit on the profile's edges, written as the rules write them
    feature_le = {labels["le"] for labels in exported[FEATURE_BUCKET] if labels["feature"] == "amount"}
    written = [repr(float(e)) for e in (edges[0], edges[1], edges[-1])]
    assert {*written, "+Inf"} <= feature_le
    assert f'le="{written[1]}"' in text
    assert {"model", "version", "tensor", "feature"} <= set(exported[FEATURE_BUCKET][0])


def _amount() -> Any:
    loaded = _example_estate().get("Dataset", "transactions")
    assert loaded is not None
    hist = loaded.resource.spec.profile.features["amount"].histogram
    assert hist is not None
    return hist


# -- promtool test rules: three cases ------------------------------------------


def series(name: str, values: str, **labels: str) -> dict[str, str]:
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{name}{{{inner}}}", "values": values}


def traffic(per_minute: int, errors: int, slow: int, minutes: int, *, traffic: str = "live") -> list[dict[str, str]]:
    """Counters of one version's requests, as the target exports them, sampled every minute."""
    ok = per_minute - errors
    common = {"model": MODEL, "version": VERSION, "traffic": traffic}
    return [
        series(REQUESTS, f"0+{ok}x{minutes}", **common, outcome="ok"),
        series(REQUESTS, f"0+{errors}x{minutes}", **common, outcome="error"),
        series(BUCKET, f"0+{per_minute - slow}x{minutes}", **common, le="0.05"),
        series(BUCKET, f"0+{per_minute}x{minutes}", **common, le="+Inf"),
        series(COUNT, f"0+{per_minute}x{minutes}", **common),
    ]


def served(minutes: int) -> list[dict[str, str]]:
    return [
        series(WEIGHT, f"100x{minutes}", model=MODEL, version=VERSION),
        series(INFO, f"1x{minutes}", model=MODEL, version=VERSION, providers="CPUExecutionProvider", ready="true"),
    ]


ERRORS = "errorRate <= 0.001"
LATENCY = "latency p95 <= 50ms"


def burn_alert(objective: str, long_w: str, short_w: str, factor: str, severity: str, value: str, limit: str) -> dict[str, Any]:
    budget = "5" if objective.startswith("latency") else "0.1"
    return {
        "exp_labels": {
            "severity": severity, "slo": MODEL, "objective": objective, "windows": f"{long_w}/{short_w}",
            "model": MODEL, "version": VERSION,
        },
        "exp_annotations": {
            "summary": (
                f"SLO {MODEL}: {objective}: {MODEL} {VERSION} burns its error budget faster than "
                f"{factor}x over {long_w} and {short_w}"
            ),
            "description": (
                f"Bad-event ratio over {long_w}: {value}; the budget is {budget}% of requests over 30d, "
                f"and this pair fires above {limit}% in both windows."
            ),
        },
    }  # fmt: skip


def burn_group_only(rules_dir: Path) -> str:
    """The generated file's burn-rate group alone (the drift group has nothing to read here and
    would triple promtool's time over hours of series)."""
    [generated] = rule_files(_example_estate())
    assert generated.groups[0]["name"] == "specops-slo-fraud-scorer"
    (rules_dir / "burn.rules.yml").write_text(
        render_rule_file(RuleFile(generated.slo, generated.source, generated.groups[:1])), encoding="utf-8"
    )
    # ... and it is the group written by `specops slo rules --out`
    written = load_roundtrip((rules_dir / "fraud-scorer.rules.yml").read_text(encoding="utf-8"))
    assert json.loads(json.dumps(written["groups"][0])) == generated.groups[0]
    return "burn.rules.yml"


def test_promtool_unit_tests_fast_burn_slow_burn_and_no_traffic(rules_dir: Path) -> None:
    minutes = 8 * 60
    cases: list[dict[str, Any]] = [
        {
            # 5% errors: 50x the 0.1% budget, above every factor (14.4, 6, 3) in every window.
            # Heavy mirrored traffic without errors would dilute it if it were counted.
            "name": "a fast burn pages",
            "interval": "1m",
            "input_series": [*traffic(1000, 50, 0, minutes), *traffic(100_000, 0, 0, minutes, traffic="shadow"), *served(minutes)],
            "alert_rule_test": [
                *({"eval_time": t, "alertname": "SLOBurnRate", "exp_alerts": [
                    burn_alert(ERRORS, "1h", "5m", "14.4", "page", "5%", "1.44"),
                    burn_alert(ERRORS, "6h", "30m", "6", "page", "5%", "0.6"),
                    burn_alert(ERRORS, "1d", "2h", "3", "ticket", "5%", "0.3"),
                ]} for t in ("10m", "7h")),
                {"eval_time": "7h", "alertname": "SLONoTraffic", "exp_alerts": []},
            ],
        },
        {
            # 0.2% errors (2x the budget) and 3% slow requests (0.6x their 5% budget):
            # budget is burning, but below every declared factor (14.4, 6, 3).
            "name": "a slow burn below the factors fires nothing",
            "interval": "1m",
            "input_series": [*traffic(1000, 2, 30, minutes), *served(minutes)],
            "alert_rule_test": [
                {"eval_time": t, "alertname": name, "exp_alerts": []}
                for t in ("10m", "70m", "7h") for name in ("SLOBurnRate", "SLONoTraffic")
            ],
            # ... and the budget over the SLO window is an event sum: 1 - 0.002 / 0.001 = -1
            "promql_expr_test": [
                {"expr": f'round(specops:slo_budget_remaining{{objective="{objective}"}}, 0.001)', "eval_time": "7h",
                 "exp_samples": [{"labels": (
                     f'{{model="{MODEL}",objective="{objective}",slo="{MODEL}",version="{VERSION}",window="30d"}}'
                 ), "value": value}]}
                for objective, value in ((ERRORS, -1), (LATENCY, 0.4))
            ],
        },
        {
            # Every request fails, but one every 20 minutes leaves every short window under
            # the 10-request minimum: no data, so no burn alert; and not "no traffic" either.
            "name": "too few requests is no data, not a burn",
            "interval": "1m",
            "input_series": [
                series(REQUESTS, "0 0 0 0 0 0 0 0 0 0 " * 47 + "0", model=MODEL, version=VERSION, traffic="live", outcome="ok"),
                series(REQUESTS, "0+0.05x470", model=MODEL, version=VERSION, traffic="live", outcome="error"),
                *served(minutes),
            ],
            "alert_rule_test": [
                {"eval_time": "7h", "alertname": name, "exp_alerts": []} for name in ("SLOBurnRate", "SLONoTraffic")
            ],
        },
        {
            # Served (weight 100) with flat live counters; mirrored traffic does not count.
            "name": "no traffic fires only the absent alert",
            "interval": "1m",
            "input_series": [*traffic(0, 0, 0, minutes), *traffic(500, 0, 0, minutes, traffic="shadow"), *served(minutes)],
            "alert_rule_test": [
                {"eval_time": "2m", "alertname": "SLONoTraffic", "exp_alerts": []},  # pending: for 5m
                {"eval_time": "70m", "alertname": "SLOBurnRate", "exp_alerts": []},
                {"eval_time": "70m", "alertname": "SLONoTraffic", "exp_alerts": [{
                    "exp_labels": {
                        "severity": "ticket", "slo": MODEL, "objective": "traffic", "windows": "1h",
                        "model": MODEL, "version": VERSION,
                    },
                    "exp_annotations": {
                        "summary": f"SLO {MODEL}: {MODEL} {VERSION} is served but got no live request in 1h",
                        "description": (
                            f"No data, never a pass: the 1h/5m burn-rate alert cannot judge {MODEL} without "
                            "traffic. Check the clients, the routing in front of the target and its traffic weights."
                        ),
                    },
                }]},
            ],
        },
    ]
    test_file = rules_dir / "tests.yml"
    # JSON is YAML: promtool reads it as its test file format.
    test_file.write_text(json.dumps({
        "rule_files": [burn_group_only(rules_dir)], "evaluation_interval": "1m", "tests": cases,
    }, indent=1), encoding="utf-8")  # fmt: skip
    result = run_promtool("test", "rules", "tests.yml", cwd=rules_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_unit_tests_fail_when_an_alert_is_expected_wrongly(rules_dir: Path) -> None:
    # The harness is not vacuous: expecting no page during a fast burn fails.
    minutes = 120
    test_file = rules_dir / "wrong.yml"
    test_file.write_text(json.dumps({
        "rule_files": ["fraud-scorer.rules.yml"], "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": [*traffic(1000, 50, 0, minutes), *served(minutes)],
                   "alert_rule_test": [{"eval_time": "70m", "alertname": "SLOBurnRate", "exp_alerts": []}]}],
    }), encoding="utf-8")  # fmt: skip
    result = run_promtool("test", "rules", "wrong.yml", cwd=rules_dir)
    assert result.returncode != 0
    assert "SLOBurnRate" in result.stdout + result.stderr


# -- drift: PromQL against the watch math ------------------------------------------

# Per minute, on the example profile's own bins: amount moved to its largest values (2 in
# each of the top 10 bins, and 2 above the profile's max: 22 a minute); hour_of_day exactly
# in the reference's proportions (the profile's counts, every minute).


def _amount_now() -> tuple[int, list[int], int]:
    bins = len(_profile()["amount"].histogram.counts)
    return 0, [0] * (bins - 10) + [2] * 10, 2


def _hour_now() -> tuple[int, list[int], int]:
    return 0, [int(c) for c in _profile()["hour_of_day"].histogram.counts], 0


def feature_series(feature: str, edges: list[float], now: tuple[int, list[int], int], minutes: int, scale: float = 1.0) -> list[dict[str, str]]:
    """Cumulative bucket counters of one feature, as the target exports them on the profile's edges."""
    under, counts, over = now
    labels = {"model": MODEL, "version": VERSION, "tensor": TENSOR, "feature": feature}
    cumulative = [under + sum(counts[:k]) for k in range(len(edges))]
    total = under + sum(counts) + over
    out = [series(FEATURE_BUCKET, f"0+{c * scale:g}x{minutes}", **labels, le=repr(float(e))) for e, c in zip(edges, cumulative, strict=True)]
    out.append(series(FEATURE_BUCKET, f"0+{total * scale:g}x{minutes}", **labels, le="+Inf"))
    out.append(series(FEATURE_COUNT, f"0+{total * scale:g}x{minutes}", **labels))
    return out


def _profile() -> dict[str, Any]:
    slo = _example_slo()
    profile = profile_of(_example_estate(), slo.spec)
    assert profile is not None
    return profile


def _watch_value(function: Any, feature: str, now: tuple[int, list[int], int]) -> float:
    hist = _profile()[feature].histogram
    value: float = function(Reference.of(hist.edges, hist.counts), Current.of(now[1], now[0], now[2]))
    return value


def _close_to(expr: str, value: float) -> dict[str, Any]:
    return {"expr": f"count(abs({expr} - {value!r}) < 1e-9)", "eval_time": "2h", "exp_samples": [{"labels": "{}", "value": 1}]}


def _drift_inputs(minutes: int, scale: float = 1.0) -> list[dict[str, str]]:
    profile = _profile()
    return [
        *feature_series("amount", list(profile["amount"].histogram.edges), _amount_now(), minutes, scale),
        *feature_series("hour_of_day", list(profile["hour_of_day"].histogram.edges), _hour_now(), minutes, scale),
    ]


def test_promtool_psi_drift_matches_watch_and_alerts_on_the_shifted_feature(rules_dir: Path) -> None:
    minutes = 130
    amount = _watch_value(psi, "amount", _amount_now())
    hour = _watch_value(psi, "hour_of_day", _hour_now())
    assert amount > 0.2 > hour  # the example SLO's threshold
    drift = 'specops:input_feature_drift{method="psi",feature="%s"}'
    cases = [
        {
            "name": "shifted amount drifts, hour_of_day does not",
            "interval": "1m",
            "input_series": _drift_inputs(minutes),
            "promql_expr_test": [_close_to(drift % "amount", amount), _close_to(drift % "hour_of_day", hour)],
            "alert_rule_test": [{"eval_time": "2h", "alertname": "SLODrift", "exp_alerts": [{
                "exp_labels": {
                    "severity": "ticket", "slo": MODEL, "objective": "drift psi > 0.2", "windows": "1h",
                    "model": MODEL, "version": VERSION, "feature": "amount", "method": "psi",
                },
                "exp_annotations": {
                    "summary": f"SLO {MODEL}: input drift on amount of {MODEL} {VERSION}: psi {amount:.3g} over 1h",
                    "description": (
                        "psi of the live inputs over 1h against the reference profile is above 0.2 (at least 500 values)."
                    ),
                },
            }]}],
        },
        {
            # amount: 5 values a minute, 300 in the hour, under minSamples 500: no data, no alert
            # (hour_of_day keeps hundreds a minute)
            "name": "too few samples is no data",
            "interval": "1m",
            "input_series": _drift_inputs(minutes, scale=5 / 22),
            "promql_expr_test": [
                {"expr": 'count(specops:input_feature_drift{feature="amount"})', "eval_time": "2h", "exp_samples": []},
                {"expr": 'count(specops:input_feature_drift{feature="hour_of_day"})', "eval_time": "2h",
                 "exp_samples": [{"labels": "{}", "value": 1}]},
            ],
            "alert_rule_test": [{"eval_time": "2h", "alertname": "SLODrift", "exp_alerts": []}],
        },
    ]
    (rules_dir / "drift-tests.yml").write_text(json.dumps({
        "rule_files": ["fraud-scorer.rules.yml"], "evaluation_interval": "1m", "tests": cases,
    }), encoding="utf-8")  # fmt: skip
    result = run_promtool("test", "rules", "drift-tests.yml", cwd=rules_dir)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_jensen_shannon_and_ks_match_watch(tmp_path: Path) -> None:
    objectives = [
        {"type": "drift", "method": method, "threshold": 0.05, "features": ["amount", "hour_of_day"], "minSamples": 500}
        for method in ("jensenShannon", "ks", "wasserstein")
    ]
    variants = SLOSpec.model_validate({"model": MODEL, "objectives": objectives})
    group, notes = drift_rules_for_slo("variants", variants, _profile())
    assert group is not None
    assert notes == ["drift wasserstein > 0.05: no PromQL rule for wasserstein yet; specops watch judges it"]
    (tmp_path / "variants.rules.yml").write_text(render_rule_file(RuleFile("variants", "x", [group], notes)), encoding="utf-8")
    check = run_promtool("check", "rules", "variants.rules.yml", cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    tests = []
    for method, function in (("jensenShannon", jensen_shannon), ("ks", ks)):
        amount = _watch_value(function, "amount", _amount_now())
        hour = _watch_value(function, "hour_of_day", _hour_now())
        assert amount > 0.05 > hour
        expr = f'specops:input_feature_drift{{method="{method}",feature="%s"}}'
        tests += [_close_to(expr % "amount", amount), _close_to(expr % "hour_of_day", hour)]
    (tmp_path / "tests.yml").write_text(json.dumps({
        "rule_files": ["variants.rules.yml"], "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": _drift_inputs(130), "promql_expr_test": tests}],
    }), encoding="utf-8")  # fmt: skip
    result = run_promtool("test", "rules", "tests.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
