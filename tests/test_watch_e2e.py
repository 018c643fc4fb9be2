"""``specops watch`` end to end, on a real ``specops serve``, real git, real models, real HTTP receivers.

The example estate, with its SLO's channels pointed at a webhook receiver the
test runs, a retraining trigger, and direct rollouts (the canary is analysis's
business; watch judges what was fully promoted). Windows are the example's
(1h/5m page pair, 1h drift window): the target's minute buckets make every
request of a test fall inside both windows, so no clock needs faking.

1. 1.0.0 serves; 1.1.0, an export that fails on a class of inputs
   (``amount`` above 500: an out-of-range Gather), is applied and takes all
   traffic; the traffic then brings that class: errors burn the error budget;
2. ``specops watch --once`` pages, rolls the target back to 1.0.0, records it
   there, journals it and pushes a revert branch to the bare ``origin``;
   ``status`` explains it and the next apply refuses to re-apply 1.1.0;
3. shifted traffic (``amount`` and ``hour_of_day`` only) raises a drift alert
   naming those two and no other, and the retraining trigger gets the evidence
   once; running watch again (a restart) re-sends nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pygit2
import pytest

from specops.apply import LocalTarget
from specops.apply._demo import commit_all, failing_export, prepare, set_model_version
from specops.apply._traffic import rows_from_csv
from tests._alertmanager import Alertmanager, WebhookReceiver, running_alertmanager
from tests.helpers.cli import run_cli
from tests.helpers.serve import REPO_ROOT, journal_events, live_state
from tests.test_watch_alerts import Receiver

FEATURES = ["amount", "account_age_days", "tx_count_24h", "distinct_merchants_7d",
            "avg_amount_30d", "hour_of_day", "distance_from_home_km", "card_present"]  # fmt: skip
RETRAIN_ENV = "SPECOPS_TEST_RETRAIN_TOKEN"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def make_estate(tmp_path: Path, url: str, notify: list[str], retrain_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example estate at ``url`` with direct rollouts and the test SLO; a bare ``origin``; the journal in tmp."""
    repo = tmp_path / "estate"
    prepare(REPO_ROOT / "specs", repo, url)
    model = repo / "specs/models/fraud-scorer.yaml"
    text = model.read_text(encoding="utf-8")
    text = re.sub(r"(?ms)^  rollout:\n.*?(?=^  guardrails:)", "  rollout: {strategy: direct}\n", text)
    model.write_text(text, encoding="utf-8")
    slo = repo / "specs/slos/fraud-scorer.yaml"
    slo.write_text(
        f"""apiVersion: specops.dev/v1
kind: SLO
metadata: {{name: fraud-scorer, labels: {{team: risk}}}}
spec:
  model: fraud-scorer
  window: 30d
  objectives:
    - {{type: errorRate, max: 0.001}}
    - {{type: drift, method: psi, threshold: 0.2, minSamples: 500, window: 1h}}
  alerting:
    burnRates:
      - {{longWindow: 1h, shortWindow: 5m, factor: 14.4, severity: page}}
    notify: {json.dumps(notify)}
  onBreach: {{action: rollback}}
  onDrift: {{retrain: {{url: "{retrain_url}", tokenEnv: {RETRAIN_ENV}}}}}
""",
        encoding="utf-8",
    )
    commit_all(repo, "test estate: direct rollouts, SLO notifies the test's receiver")
    origin = tmp_path / "origin.git"
    pygit2.init_repository(str(origin), bare=True)
    pygit2.Repository(str(repo)).remotes.create("origin", str(origin))
    monkeypatch.setenv(RETRAIN_ENV, "retrain-secret-123")
    monkeypatch.setenv("SPECOPS_JOURNAL", str(tmp_path / "journal.jsonl"))
    return repo


@pytest.fixture
def pager(tmp_path: Path) -> Iterator[tuple[Alertmanager, WebhookReceiver]]:
    """A real Alertmanager (Debian's prometheus-alertmanager) routing to a webhook the test reads."""
    with WebhookReceiver() as hook, running_alertmanager(tmp_path, hook.url) as am:
        yield am, hook


@pytest.fixture
def estate(
    tmp_path: Path, target: LocalTarget, receiver: Receiver, pager: tuple[Alertmanager, WebhookReceiver],
    monkeypatch: pytest.MonkeyPatch,
) -> Path:  # fmt: skip
    notify = [f"alertmanager:{pager[0].url}", f"webhook:{receiver.url}/alerts", "log"]
    return make_estate(tmp_path, target.url, notify, f"{receiver.url}/retrain", monkeypatch)


def _send(url: str, token: str, rows: list[list[float]]) -> dict[str, int]:
    counts = {"ok": 0, "error": 0, "other": 0}
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        for row in rows:
            body = {"inputs": [{"name": "features", "shape": [1, 8], "datatype": "FP32", "data": row}]}
            status = http.post("/v2/models/fraud-scorer/infer", json=body).status_code
            counts["ok" if status == 200 else "error" if status >= 500 else "other"] += 1
    return counts


def _watch(repo: Path) -> dict[str, Any]:
    code, out, err = run_cli("watch", "--once", "--repo", str(repo), "--format", "json")
    assert code == 0, err
    return dict(json.loads(out))


def _model_status(target: LocalTarget) -> dict[str, Any]:
    return dict(live_state(target)["resources"]["Model/fraud-scorer"]["status"])


def test_watch_rolls_back_a_burning_version_and_alerts_on_drift(
    estate: Path, target: LocalTarget, receiver: Receiver, pager: tuple[Alertmanager, WebhookReceiver],
    token: str, tmp_path: Path,
) -> None:  # fmt: skip
    repo = estate
    am, am_hook = pager
    assert run_cli("apply", "--auto-approve", "--no-policy", "--repo", str(repo))[0] == 0
    artifact = "specs/artifacts/fraud-scorer-1.1.0.onnx"
    set_model_version(repo, "1.1.0", "specs/artifacts/fraud-scorer-1.1.0-bug.onnx",
                      failing_export((repo / artifact).read_bytes()))  # fmt: skip
    commit_all(repo, "fraud-scorer 1.1.0")
    assert run_cli("apply", "--auto-approve", "--no-policy", "--repo", str(repo))[0] == 0
    assert _model_status(target)["traffic"] == {"1.0.0": 0, "1.1.0": 100}

    rows = rows_from_csv((repo / "specs/data/transactions-2026-10.csv").read_bytes(), FEATURES, limit=1000)
    ordinary = rows[:200]  # as the training data: a few rows above 500 already
    big = [[800.0, *r[1:]] for r in rows[200:204]]  # and a few more of the class the export breaks on
    sent = _send(target.url, token, ordinary + big)
    failing = sum(r[0] > 500 for r in ordinary) + len(big)
    assert sent == {"ok": 204 - failing, "error": failing, "other": 0}
    assert failing / 204 > 14.4 * 0.001  # both windows burn faster than the page factor

    # -- 1. the page alert fires and watch rolls the target back ------------------------------------------------
    report = _watch(repo)
    assert report["targets"]["local-cpu"]["role"] == "active"
    [action] = [a for a in report["actions"] if a["action"] == "rollback"]
    assert action["outcome"] == "rolled_back" and action["from"] == "1.1.0" and action["to"] == "1.0.0"
    status = _model_status(target)
    assert status["traffic"] == {"1.0.0": 100, "1.1.0": 0} and status["version"] == "1.0.0"
    record = status["rolled_back"]["1.1.0"]
    assert record["by"] == "watch" and "errorRate <= 0.001" in record["reason"] and "1h" in record["reason"]
    assert record["branch"] == "specops/rollback/fraud-scorer-1.1.0"

    fired = [b for p, b, _ in receiver.bodies if p == "/alerts" for a in b["alerts"] if a["alertname"] == "SLOBurnRate"]
    burn = fired[0]["alerts"][0]
    assert burn["status"] == "firing"
    assert burn["labels"] | {"windows": "1h/5m"} == {
        "alertname": "SLOBurnRate", "slo": "fraud-scorer", "model": "fraud-scorer", "version": "1.1.0",
        "target": "local-cpu", "severity": "page", "objective": "errorRate <= 0.001", "windows": "1h/5m",
    }  # fmt: skip
    assert burn["evidence"]["long"]["burn_rate"] > 14.4 and "rolled back to 1.0.0" in burn["annotations"]["description"]

    # Through Alertmanager too: it routes the page to its receiver with the labels a router groups on.
    paged = am_hook.wait_for(lambda b: b["status"] == "firing" and b["commonLabels"].get("alertname") == "SLOBurnRate")
    assert paged["commonLabels"]["severity"] == "page" and paged["commonLabels"]["version"] == "1.1.0"
    assert "rolled back to 1.0.0" in paged["alerts"][0]["annotations"]["description"]

    events = journal_events(tmp_path / "journal.jsonl")
    watch_events = [e["event"] for e in events if str(e.get("holder", "")).startswith("watch@")]
    assert watch_events == ["apply.start", "change.start", "rollback", "change.done", "revert.proposed", "apply.done"]

    # The alert that fired while 1.1.0 served is journaled and sealed into the evidence, on 1.1.0's row.
    fired_events = [e for e in events if e["event"] == "alert.fired"]
    assert ("SLOBurnRate", "1.1.0") in {(e["detail"]["alertname"], e["detail"]["version"]) for e in fired_events}
    code, out, err = run_cli("audit", "--repo", str(repo), "--format", "jsonl")
    assert code == 0, err
    changes = [json.loads(line) for line in out.splitlines() if '"kind":"change"' in line]
    [served] = [r for r in changes if r["resource"] == "Model/fraud-scorer" and r["version"] == "1.1.0" and r["action"] != "rollback"]
    assert any(a["type"] == "alert.fired" and a["detail"]["alertname"] == "SLOBurnRate" for a in served["alerts"])

    branch = pygit2.Repository(str(tmp_path / "origin.git")).branches["specops/rollback/fraud-scorer-1.1.0"]
    revert = branch.peel(pygit2.Commit)
    assert "burn rate" in revert.message and "1h" in revert.message and "5m" in revert.message
    restored = revert.tree["specs/models/fraud-scorer.yaml"].data.decode()
    assert "version: 1.0.0" in restored

    code, out, _ = run_cli("status", "--repo", str(repo))
    assert "rolled back at" in out and "revert proposed on branch specops/rollback/fraud-scorer-1.1.0" in out
    code, out, err = run_cli("apply", "--auto-approve", "--no-policy", "--repo", str(repo))
    assert code == 1 and "rolled back" in err and "--retry-rolled-back" in err
    assert _model_status(target)["traffic"] == {"1.0.0": 100, "1.1.0": 0}

    # -- 2. shifted traffic: drift on the shifted features only; the retraining trigger, once ------------------
    # 600 rows: on the profile's 50 quantile bins the sampling noise of psi stays well under 0.2
    shifted = [[min(r[0] * 2 + 150, 999.0), *r[1:5], 2.0 + i % 3, *r[6:]] for i, r in enumerate(rows[:600])]
    assert _send(target.url, token, shifted)["ok"] == 600
    report = _watch(repo)
    [drift] = [a for a in report["alerts"] if a["alertname"] == "SLODrift" and a["status"] == "firing"]
    named = sorted(f["feature"] for f in drift["evidence"]["features"])
    assert named == ["amount", "hour_of_day"]
    [row] = [r for r in report["slos"] if r["version"] == "1.0.0"]
    judged = {f["feature"]: f for f in row["drift"][0]["features"]}
    assert set(judged) == set(FEATURES) and all(not judged[f]["drifted"] for f in FEATURES if f not in named)
    retrains = [(b, auth) for p, b, auth in receiver.bodies if p == "/retrain"]
    assert len(retrains) == 1
    payload, auth = retrains[0]
    assert auth == "Bearer retrain-secret-123"
    assert payload["model"] == "fraud-scorer" and payload["version"] == "1.0.0"
    assert payload["dataset"] == {"name": "transactions", "version": "2026-10"}
    assert sorted(f["feature"] for f in payload["features"]) == ["amount", "hour_of_day"]
    assert all(f["value"] > 0.2 and f["method"] == "psi" and f["profile_digest"] for f in payload["features"])
    resolved = [a for p, b, _ in receiver.bodies if p == "/alerts" for a in b["alerts"]
                if a["alertname"] == "SLOBurnRate" and a["status"] == "resolved"]  # fmt: skip
    assert len(resolved) == 1  # 1.1.0 no longer serves
    am_hook.wait_for(lambda b: b["status"] == "resolved" and b["commonLabels"].get("alertname") == "SLOBurnRate")
    assert any(a["labels"]["alertname"] == "SLODrift" for a in am.alerts())

    # -- 3. a restarted watcher re-sends nothing ------------------------------------------------------------------
    before = len(receiver.bodies)
    report = _watch(repo)
    assert any(a["alertname"] == "SLODrift" and a["status"] == "firing" for a in report["alerts"])
    assert len(receiver.bodies) == before
    assert "retrain-secret-123" not in (tmp_path / "journal.jsonl").read_text()

    # -- 4. the page people look at: one self-contained HTML5 document with the drifted histograms ---------------
    import html5lib

    code, page, err = run_cli("slo", "status", "--repo", str(repo), "--format", "html")
    assert code == 0, err
    html5lib.HTMLParser(strict=True).parse(page)
    assert "<svg" in page and "amount" in page and "hour_of_day" in page
    assert not any(f'{attr}="http' in page for attr in ("src", "href"))

    # -- 5. --retry-rolled-back applies the very same spec again, on purpose ------------------------------------
    code, out, err = run_cli("apply", "--auto-approve", "--no-policy", "--retry-rolled-back", "--repo", str(repo))
    assert code == 0, err
    status = _model_status(target)
    assert status["traffic"] == {"1.0.0": 0, "1.1.0": 100} and "rolled_back" not in status
