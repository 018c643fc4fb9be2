"""Evidence benchmark: ``specops audit`` over 10,000 recorded changes, ``audit verify`` over 100,000 records.

Each is measured against reading the same records alone (the floor: every
segment blob read from git and every line parsed), as ratios of wall time
(best of ``--repeat``) and of peak Python memory (tracemalloc, a separate
pass so it does not distort the times):

* read:   every segment blob read from git, one at a time, and
  ``orjson.loads`` of every record (kept nowhere: the floor);
* held:   the same, keeping every parsed record in a list (what a tool
  that loads the records before working on them pays);
* audit:  what ``specops audit --format csv`` does: one streaming pass
  that verifies the chain and builds the rows and findings, then the CSV;
* verify: ``audit verify`` (every record re-hashed and linked, the head,
  and the ref's commit history checked append-only), streaming.

The chains are synthetic but of the real shape, sealed the way ``seal``
writes them: per apply a plan record, two decision records, ``apply.start``
and ``apply.done``, and per changed resource ``change.start``, three canary
``analysis`` steps and ``change.done``; one segment per apply, a commit per
20 applies.

Run: ``python bench/bench_audit.py [--changes=10000] [--records=100000] [--repeat=3]``.

Measured on the shared 2-core development machine (2026-12-02, noisy: the
ratios moved by about +-0.5 between runs): audit of 10,000 changes (55,000
records) 1.7 s, x2.1 the streamed read and x1.1 the held read, 53 MiB peak
(the rows it keeps; x0.5 the held read); verify of 100,045 records 1.2 s,
x1.8 the streamed read, 0.6 MiB peak (x1.0 the streamed read: one segment in
memory at a time).
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

CHANGES_PER_APPLY = 10
APPLIES_PER_COMMIT = 20


def _apply_bodies(n: int) -> list[dict[str, Any]]:
    apply_id, plan_id = f"apply-{n:06d}", f"plan-{n:06d}"
    who = {"apply_id": apply_id, "plan_id": plan_id, "commit": f"{n:040x}", "holder": "apply@runner:1",
           "ts": f"2026-11-{1 + n % 28:02d}T10:{n % 60:02d}:00.000Z"}  # fmt: skip
    resources = [f"Model/model-{n % 50}-{i}" for i in range(CHANGES_PER_APPLY)]
    bodies: list[dict[str, Any]] = [
        {**who, "type": "plan", "id": f"{apply_id}/plan", "desired": {"commit": who["commit"]},
         "changes": [{"id": r, "actions": ["update"], "version": f"1.{n}.0", "artifact_sha256": "a" * 64,
                      "fields": ["spec.version", "spec.artifact.sha256"], "after_hash": f"{n}-{r}",
                      "tested": {"dataset": "transactions", "dataset_version": "2026-10", "dataset_sha256": "c" * 64}}
                     for r in resources],
         "policy": {"bundle_digest": "b" * 64, "bundle_commit": who["commit"], "rules": [f"SO-{i:03d}" for i in range(12)],
                    "results": [], "context": {"pull_request": {"number": n, "author": "carol", "approvals": ["alice"]}}}},
    ]  # fmt: skip
    for d in range(2):
        bodies.append({**who, "type": "policy.decision", "id": f"{apply_id}/decision/{d}", "decision_id": f"{n}-{d}",
                       "bundle_digest": "b" * 64, "input_digest": "i" * 64, "result": {}, "resource": None})  # fmt: skip
    bodies.append({**who, "type": "apply.start", "id": f"{apply_id}/start", "detail": {"changes": CHANGES_PER_APPLY}})
    for r in resources:
        at = {**who, "target": "prod", "resource": r, "action": "update"}
        bodies.append({**at, "type": "change.start", "id": f"{apply_id}/{r}/start", "detail": {"after_hash": f"{n}-{r}"}})
        for step in ("10%", "50%", "100%"):
            bodies.append({**at, "type": "analysis", "id": f"{apply_id}/{r}/{step}", "outcome": "Successful",
                           "detail": {"step": step, "outcome": "Successful", "objective": None, "measured": None,
                                      "limit": None, "requests": 200}})  # fmt: skip
        bodies.append({**at, "type": "change.done", "id": f"{apply_id}/{r}/done", "outcome": "applied"})
    bodies.append({**who, "type": "apply.done", "id": f"{apply_id}/done", "outcome": "applied"})
    return bodies


RECORDS_PER_APPLY = len(_apply_bodies(0))


def build(path: Path, applies: int) -> Any:
    """A repository whose evidence chain holds ``applies`` applies; its GitRepo."""
    from specops._git import GitRepo
    from specops.evidence._record import GENESIS, canonical, link
    from specops.evidence._store import HEAD_FILE, REF

    repo = GitRepo.init(path)
    seq, prev, parent = 0, GENESIS, None
    for first in range(0, applies, APPLIES_PER_COMMIT):
        files: dict[str, bytes] = {}
        for n in range(first, min(first + APPLIES_PER_COMMIT, applies)):
            _, lines, prev = link(_apply_bodies(n), seq, prev)
            files[f"records/2026/11/01/{seq:010d}-{seq + len(lines) - 1:010d}.jsonl"] = b"\n".join(lines) + b"\n"
            seq += len(lines)
        files[HEAD_FILE] = canonical({"format": 1, "seq": seq - 1, "hash": prev, "journals": {}}) + b"\n"
        parent = repo.commit_on_ref(REF, parent, files, f"evidence: sealed applies {first}..")
    return repo


def _read(repo: Any) -> int:
    import orjson

    from specops.evidence._store import EvidenceStore

    store = EvidenceStore(repo)
    count = 0
    for line, _ in store.iter_lines(store.head_commit()):
        orjson.loads(line)
        count += 1
    return count


def _held(repo: Any) -> int:
    import orjson

    from specops.evidence._store import EvidenceStore

    store = EvidenceStore(repo)
    records = [orjson.loads(line) for line, _ in store.iter_lines(store.head_commit())]
    return len(records)


def _audit(repo: Any) -> int:
    from specops.evidence._audit import build_audit
    from specops.evidence._cli import _stream
    from specops.evidence._render import render_audit

    _, records, check = _stream(repo)
    audit = build_audit(records, repo=repo, check=check)
    assert not audit.findings, audit.findings[:3]
    render_audit(audit, "csv")
    return len(audit.rows)


def _verify(repo: Any) -> int:
    from specops.evidence._verify import verify

    result = verify(repo)
    assert result.problem is None, result.problem
    return result.records


def _measure(fn: Callable[[Any], int], repo: Any, repeat: int) -> tuple[float, float, int]:
    best = float("inf")
    count = 0
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        count = fn(repo)
        best = min(best, time.perf_counter() - start)
    gc.collect()
    tracemalloc.start()
    fn(repo)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return best, peak / 2**20, count


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args, _ = parser.parse_known_args()
    with tempfile.TemporaryDirectory(prefix="specops-bench-audit-") as tmp:
        for what, applies, fn in (
            ("audit", -(-args.changes // CHANGES_PER_APPLY), _audit),
            ("verify", -(-args.records // RECORDS_PER_APPLY), _verify),
        ):
            start = time.perf_counter()
            repo = build(Path(tmp) / what, applies)
            built = time.perf_counter() - start
            read_s, read_mib, records = _measure(_read, repo, args.repeat)
            held_s, held_mib, _ = _measure(_held, repo, args.repeat)
            run_s, run_mib, count = _measure(fn, repo, args.repeat)
            unit = "changes" if what == "audit" else "records"
            print(f"{what}: {count} {unit} in {records} records ({applies} applies, chain built in {built:.1f}s)")
            print(f"  read (streamed)   {read_s * 1000:8.0f} ms  peak {read_mib:7.1f} MiB")
            print(f"  read (held)       {held_s * 1000:8.0f} ms  peak {held_mib:7.1f} MiB")
            print(f"  {what:<17} {run_s * 1000:8.0f} ms  peak {run_mib:7.1f} MiB")
            print(f"  vs streamed read: time x{run_s / read_s:.2f}  memory x{run_mib / max(read_mib, 0.01):.2f}")
            print(f"  vs held read:     time x{run_s / held_s:.2f}  memory x{run_mib / held_mib:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
