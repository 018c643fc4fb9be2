"""Apply benchmark: time to put a new model version at 100%, and failures under load.

A real ``specops serve`` (subprocess, loopback) and a real git repository
holding the example estate. For each rollout a new version of the small
fraud-scorer is committed, planned and applied in process:

* ``direct``: apply start -> the version serves 100% (one atomic switch);
* ``canary`` (10% -> 50% -> 100%, analysis on each step): apply start ->
  100% with the analysis waits excluded (the runner measures them), which
  is the runner's own overhead: plan checks, leases, upload, load and warm-up
  beside the serving version, traffic shifts, journal fsyncs;
* while every canary runs, a steady load of dataset rows goes to the model;
  failed requests (5xx or no answer) must be 0.

Run: ``python bench/bench_apply.py [--rollouts=3] [--rate=200]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ANALYSIS = "analysis: {slo: fraud-scorer, minRequests: 20, interval: 50ms, deadline: 30s}"
FEATURES = [
    "amount", "account_age_days", "tx_count_24h", "distinct_merchants_7d",
    "avg_amount_30d", "hour_of_day", "distance_from_home_km", "card_present",
]  # fmt: skip


def _apply(repo: Path, journal: Path) -> tuple[float, float]:
    from specops._project import Project
    from specops.apply import ApplyOptions, apply_plan
    from specops.plan import run_pipeline

    start = time.perf_counter()
    project = Project.discover(repo, journal=journal)
    made = run_pipeline(project)
    result = apply_plan(made.plan, ApplyOptions(project), desired=made.desired)
    total = time.perf_counter() - start
    assert result.outcome == "applied", result.message
    return total, result.analysis_wait_s


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rollouts", type=int, default=3)
    parser.add_argument("--rate", type=float, default=200.0, help="steady load, requests/s")
    args, _ = parser.parse_known_args()

    from specops.apply import LocalTarget, TrafficGenerator, rows_from_csv
    from specops.apply._demo import commit_all, prepare, set_model_version

    with tempfile.TemporaryDirectory(prefix="specops-bench-apply-") as tmp:
        work = Path(tmp)
        repo = work / "estate"
        journal = work / "journal.jsonl"
        with LocalTarget("local-cpu", work / "state") as target:
            prepare(ROOT / "specs", repo, target.url, ANALYSIS)
            _apply(repo, journal)
            artifacts = [(repo / f"specs/artifacts/fraud-scorer-1.{i}.0.onnx").read_bytes() for i in (0, 1)]
            rows = rows_from_csv((repo / "specs/data/transactions-2026-10.csv").read_bytes(), FEATURES)
            client = target.driver()
            figures: dict[str, list[float]] = {"direct": [], "canary": []}
            waits: list[float] = []
            sent = failed = blocked = 0
            version = 1
            model = repo / "specs/models/fraud-scorer.yaml"
            for strategy in ("direct", "canary"):
                text = model.read_text()
                if strategy == "direct":
                    model.write_text(text.replace("strategy: canary", "strategy: direct").replace("    steps: [10, 50, 100]\n", ""))
                else:
                    model.write_text(text.replace("strategy: direct", "strategy: canary\n    steps: [10, 50, 100]"))
                for _ in range(args.rollouts):
                    version += 1
                    name = f"2.{version}.0"
                    set_model_version(repo, name, f"specs/artifacts/bench-{version % 2}.onnx", artifacts[version % 2])
                    commit_all(repo, f"{strategy} {name}")
                    if strategy == "canary":
                        with TrafficGenerator(client, "fraud-scorer", "features", rows, rate=args.rate) as load:
                            total, wait = _apply(repo, journal)
                        sent += load.counts.sent
                        failed += load.counts.failed
                        blocked += load.counts.blocked
                    else:
                        total, wait = _apply(repo, journal)
                    status = client.live_state()["resources"]["Model/fraud-scorer"]["status"]
                    assert status["traffic"].get(name) == 100, status
                    figures[strategy].append((total - wait) * 1000)
                    waits.append(wait)
    print(f"apply -> 100% traffic on a new version (small model, {args.rollouts} rollouts each, median / max):")
    for strategy, values in figures.items():
        print(f"  {strategy:7s} {statistics.median(values):8.1f} ms / {max(values):8.1f} ms"
              + ("   (analysis waits excluded)" if strategy == "canary" else ""))
    print(f"  canary analysis waits: median {statistics.median(waits[args.rollouts:]) * 1000:.0f} ms per rollout")
    print(f"steady load during canaries at {args.rate:g} req/s: {sent} requests, {failed} failed, {blocked} blocked")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
