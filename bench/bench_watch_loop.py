"""One real ``specops watch`` tick for 100 models x 8 features on one real target.

A real ``specops serve`` (subprocess, loopback) and a real git repository:
100 copies of the example fraud-scorer (8 input features), each with an SLO
(error rate with the workbook's four default burn-rate pairs, psi drift on all
8 features against the example dataset's profile), applied directly. Each model
then gets one batched request of 600 dataset rows (so every feature has samples
in every window). Timed, in process:

* ``watch --once``: the whole tick as the command runs it: load git, live state,
  the watch lease, the alert state, one observations call per model, every burn
  pair and every feature's drift, the alert state written back (notify: log);
* ``slo status``: the same evaluation read-only.

Run: ``python bench/bench_watch_loop.py [--models=100] [--ticks=3]``. Not a test: nothing asserts a time.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FEATURES = [
    "amount", "account_age_days", "tx_count_24h", "distinct_merchants_7d",
    "avg_amount_30d", "hour_of_day", "distance_from_home_km", "card_present",
]  # fmt: skip

MODEL = """apiVersion: specops.dev/v1
kind: Model
metadata: {{name: {name}}}
spec:
  version: 1.0.0
  artifact: {{uri: specs/artifacts/fraud-scorer-1.0.0.onnx, sha256: {sha}}}
  signature:
    inputs:
      - {{name: features, dtype: float32, shape: [-1, 8], features: [{features}]}}
    outputs:
      - {{name: probabilities, dtype: float32, shape: [-1, 2]}}
  runtime: {{providers: [CPUExecutionProvider], intraOpThreads: 1, warmupRequests: 1}}
  targets: [bench]
  trainedOn: {{dataset: transactions, version: "2026-10"}}
  rollout: {{strategy: direct}}
---
apiVersion: specops.dev/v1
kind: SLO
metadata: {{name: {name}}}
spec:
  model: {name}
  window: 30d
  objectives:
    - {{type: errorRate, max: 0.001}}
    - {{type: drift, method: psi, threshold: 0.2, minSamples: 100, window: 1h}}
  alerting: {{notify: [log]}}
"""

TARGET = """apiVersion: specops.dev/v1
kind: Target
metadata: {{name: bench}}
spec:
  url: {url}
  environment: development
  auth: {{tokenEnv: SPECOPS_BENCH_TOKEN}}
"""


def _estate(repo: Path, url: str, models: int) -> None:
    from specops._git import GitRepo

    GitRepo.init(repo)
    (repo / "specs/models").mkdir(parents=True)
    (repo / "specs/targets").mkdir()
    for sub in ("artifacts", "data", "datasets"):
        shutil.copytree(ROOT / "specs" / sub, repo / "specs" / sub)
    artifact = (repo / "specs/artifacts/fraud-scorer-1.0.0.onnx").read_bytes()
    sha = hashlib.sha256(artifact).hexdigest()
    (repo / "specs/targets/bench.yaml").write_text(TARGET.format(url=url))
    for i in range(models):
        name = f"scorer-{i:03d}"
        (repo / f"specs/models/{name}.yaml").write_text(MODEL.format(name=name, sha=sha, features=", ".join(FEATURES)))
    GitRepo.discover(repo).commit_all("bench estate", "Bench", "bench@specops.invalid")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--ticks", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="also print where one tick spends its time (cProfile)")
    args = parser.parse_args(argv)

    from specops._cli import main as cli
    from specops.apply import LocalTarget
    from specops.apply._traffic import rows_from_csv
    from specops.watch import WatchOptions, watch_once
    from specops.watch._loop import release_leases

    os.environ.setdefault("SPECOPS_BENCH_TOKEN", "bench-token-" + os.urandom(6).hex())
    with tempfile.TemporaryDirectory(prefix="specops-bench-watch-") as tmp:
        work = Path(tmp)
        server = LocalTarget("bench", work / "state", token_env="SPECOPS_BENCH_TOKEN")
        with server:
            repo = work / "estate"
            _estate(repo, server.url, args.models)
            os.environ["SPECOPS_JOURNAL"] = str(work / "journal.jsonl")
            start = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):
                code = cli(["apply", "--auto-approve", "--no-policy", "--repo", str(repo)])
            print(f"applied {args.models} models + SLOs in {time.perf_counter() - start:.1f} s", file=sys.stderr)
            if code != 0:
                return code
            rows = rows_from_csv((repo / "specs/data/transactions-2026-10.csv").read_bytes(), FEATURES, limit=600)
            body = {"inputs": [{"name": "features", "shape": [len(rows), 8], "datatype": "FP32",
                                "data": [v for r in rows for v in r]}]}  # fmt: skip
            with server.driver() as driver:
                for i in range(args.models):
                    assert driver.infer(f"scorer-{i:03d}", body).status_code == 200
            options = WatchOptions(repo=repo, journal=work / "journal.jsonl")
            ticks = []
            for _ in range(args.ticks):
                start = time.perf_counter()
                report = watch_once(options)
                ticks.append(time.perf_counter() - start)
            if args.profile:
                import cProfile
                import pstats

                profiler = cProfile.Profile()
                profiler.runcall(watch_once, options)
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
            release_leases(options)
            features = sum(len(d["features"]) for r in report["slos"] for d in r["drift"])
            pairs = sum(len(o["burn_rates"]) for r in report["slos"] for o in r["objectives"])
            reads = []
            for _ in range(args.ticks):
                start = time.perf_counter()
                watch_once(WatchOptions(repo=repo, act=False))
                reads.append(time.perf_counter() - start)
            print(f"watch --once, {len(report['slos'])} SLOs, {pairs} burn pairs, {features} features: "
                  f"median {statistics.median(ticks) * 1000:.0f} ms, min {min(ticks) * 1000:.0f} ms over {args.ticks} ticks")  # fmt: skip
            print(f"slo status (read-only): median {statistics.median(reads) * 1000:.0f} ms, min {min(reads) * 1000:.0f} ms")
            firing = [a for a in report["alerts"] if a["status"] == "firing"]
            print(f"alerts firing: {len(firing)} (expected 0: the traffic is the training data)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
