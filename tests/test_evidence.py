"""The evidence chain: sealing from the journal, the hash chain, sharing through a bare origin, retention.

Real git repositories (pygit2) and real journals; the plans are small
hand-made plan documents of the real shape (tests/test_audit.py seals real
ones from real applies).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pygit2
import pytest

from specops._errors import SpecError
from specops._git import GitRepo
from specops.apply._journal import Journal
from specops.evidence import (
    REF,
    EvidenceError,
    EvidenceStore,
    canonical,
    seal,
    stash_plan,
    verify_chain,
)
from specops.evidence._audit import build_audit
from specops.evidence._config import load_evidence_config
from specops.evidence._record import GENESIS, digest
from specops.evidence._verify import prune, verify
from tests._evidence_util import chain_records, tamper
from tests.helpers.cli import run_cli


def _plan(plan_id: str, *, policy: bool = True, approvals: list[str] | None = None, waiver: dict[str, Any] | None = None,
          commit: str = "c0ffee") -> dict[str, Any]:  # fmt: skip
    results = []
    if waiver is not None:
        results.append({"rule": "SO-PROMPT-001", "resource": "Model/m", "outcome": "deny", "status": "waived",
                        "message": "no evaluation", "approvers": [], "approved_by": [], "waiver": waiver,
                        "decision_id": "d-res"})  # fmt: skip
    return {
        "plan_id": plan_id,
        "desired": {"ref": "HEAD", "commit": commit, "tree": "t", "worktree": False, "specs_root": "specs", "content": "x"},
        "resource_changes": [
            {"id": "Model/m", "kind": "Model", "name": "m", "actions": ["update"], "reason": "spec_changed",
             "before_hash": "h0", "after_hash": "h1", "diffs": [{"path": "spec.version"}], "targets": ["t1"],
             "after": {"spec": {"version": "2.0.0", "artifact": {"sha256": "a" * 64}}}},
            {"id": "SLO/m", "kind": "SLO", "name": "m", "actions": ["no-op"], "reason": "in_sync"},
        ],
        "policy": None if not policy else {
            "engine": "embedded", "bundle_hash": "b" * 64, "blocked": False, "counts": {},
            "rules": [{"id": "SO-MODEL-005"}, {"id": "SO-PROMPT-001"}], "results": results,
            "decisions": [
                {"id": "d-plan", "scope": "plan", "resource": None, "bundle_hash": "b" * 64, "input_hash": "i" * 64,
                 "result": {}, "error": None, "time": "2026-11-01T10:00:00Z"},
                {"id": "d-res", "scope": "resource", "resource": "Model/m", "bundle_hash": "b" * 64,
                 "input_hash": "j" * 64, "result": {"deny": ["no evaluation"]}, "error": None, "time": "2026-11-01T10:00:00Z"},
            ],
            "context": {"pull_request": {"number": 7, "author": "carol", "approvals": approvals or []}},
            "source": {"ref": "main", "commit": "policy-commit"},
        },
    }


def _apply(journal: Journal, plan_id: str, apply_id: str, *, outcome: str = "applied", target: str = "t1") -> None:
    who = {"apply_id": apply_id, "plan_id": plan_id, "commit": "c0ffee", "holder": "apply@host:1"}
    journal.append("apply.start", **who, outcome="started", detail={"targets": {target: {"url": "http://127.0.0.1:9", "token_env": "TOK"}}})
    at = {**who, "target": target, "resource": "Model/m", "action": "update"}
    journal.append("change.start", **at, outcome="started", detail={"after_hash": "h1", "previous": {"hash": "h0", "spec": {"spec": {"version": "1.0.0"}}, "status": {"traffic": {"1.0.0": 100}}}})
    journal.append("analysis", **at, outcome="Successful", detail={"step": "10%", "outcome": "Successful", "requests": 60, "objective": None})
    journal.append("change.done", **at, outcome=outcome, detail={"revision": "r2"})
    journal.append("apply.done", **who, outcome="applied", detail={"changes": 1})


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    pygit2.init_repository(str(tmp_path / "repo"), initial_head="main")
    return tmp_path / "repo"


def test_seal_is_idempotent_and_records_the_plan_like_a_decision_log(git_repo: Path, tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    stash_plan(journal.path, _plan("p1", approvals=["alice"]))
    _apply(journal, "p1", "a1")
    first = seal(git_repo, journal.path)
    assert first.sealed == 1 + 2 + 5  # the plan, its two decisions, five events
    assert seal(git_repo, journal.path).sealed == 0, "sealing twice adds nothing"
    _apply(journal, "p1", "a2")
    assert seal(git_repo, journal.path).sealed == 1 + 2 + 5
    records = chain_records(git_repo)
    assert [r["seq"] for r in records] == list(range(16))
    assert records[0]["prev"] == GENESIS
    for before, after in itertools.pairwise(records):
        assert after["prev"] == digest(canonical(before))
    plan, decision = records[0], records[1]
    assert plan["type"] == "plan" and plan["policy"]["bundle_digest"] == "b" * 64
    assert plan["policy"]["bundle_commit"] == "policy-commit" and plan["changes"][0]["fields"] == ["spec.version"]
    assert [c["id"] for c in plan["changes"]] == ["Model/m"], "no-op resources are not changes"
    assert {k: decision[k] for k in ("type", "decision_id", "bundle_digest", "bundle_commit", "input_digest")} == {
        "type": "policy.decision", "decision_id": "d-plan", "bundle_digest": "b" * 64,
        "bundle_commit": "policy-commit", "input_digest": "i" * 64,
    }  # fmt: skip
    for record in records:
        assert {"ts", "holder", "commit", "plan_id", "apply_id", "id", "source"} <= record.keys(), record
        assert record["ts"].endswith("Z")
    # The last sealed offset lives in the chain itself (each record's source) and in its head.
    last = records[-1]["source"]
    assert last["offset"] == journal.path.stat().st_size
    head = EvidenceStore(GitRepo.discover(git_repo)).load().head
    assert head["journals"][last["journal"]] == {"offset": last["offset"], "event": last["event"]}


def test_a_torn_journal_line_waits_for_its_newline(git_repo: Path, tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    _apply(journal, "p1", "a1")
    with journal.path.open("ab") as handle:
        handle.write(b'{"ts": "2026-11-01T00:00:00Z", "event": "apply.st')  # a killed writer
    assert seal(git_repo, journal.path).sealed == 5
    _apply(journal, "p1", "a2")  # the journal starts a fresh line; the torn piece is skipped
    assert seal(git_repo, journal.path).sealed == 5
    assert [r["type"] for r in chain_records(git_repo)].count("apply.start") == 2


def _lines(records: list[dict[str, Any]]) -> list[tuple[bytes, Any]]:
    from specops.evidence._record import Location

    return [(canonical(r), Location("records/x.jsonl", n + 1)) for n, r in enumerate(records)]


def _chain(n: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    from specops.evidence._record import link

    records, _, last = link([{"type": "t", "n": i} for i in range(n)], 0, GENESIS)
    return records, {"seq": n - 1, "hash": last}


def test_verify_names_the_edited_deleted_or_reordered_record() -> None:
    records, head = _chain(6)
    assert verify_chain(_lines(records), head) == (6, None)

    edited = [dict(r) for r in records]
    edited[2]["n"] = 99
    _, problem = verify_chain(_lines(edited), head)
    assert problem is not None and problem.seq == 2 and "was edited" in str(problem)
    assert str(problem).startswith("record 2 (records/x.jsonl:3)")

    _, problem = verify_chain(_lines(records[:3] + records[4:]), head)
    assert problem is not None and problem.seq == 3 and "is missing: record 3 deleted after records/x.jsonl:3" in str(problem)

    _, problem = verify_chain(_lines([records[0], records[2], records[1], *records[3:]]), head)
    assert problem is not None and problem.seq == 2 and "out of order" in str(problem)

    last = [dict(r) for r in records]
    last[5]["n"] = -1  # the newest record: only the head vouches for it
    _, problem = verify_chain(_lines(last), head)
    assert problem is not None and problem.seq == 5 and "head" in str(problem)

    _, problem = verify_chain(_lines(records[:5]), head)  # the newest record deleted
    assert problem is not None and problem.seq == 5 and "is missing" in str(problem)

    torn = _lines(records)
    torn[1] = (torn[1][0][:-3], torn[1][1])
    _, problem = verify_chain(torn, head)
    assert problem is not None and "not valid JSON" in str(problem) and "records/x.jsonl:2" in str(problem)


def test_an_edit_committed_on_top_is_caught_by_the_history(git_repo: Path, tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    _apply(journal, "p1", "a1")
    seal(git_repo, journal.path)
    git = GitRepo.discover(git_repo)
    assert verify(git).problem is None
    # Rewrite the newest record *and* the head in one new commit: the chain alone cannot tell.
    store = EvidenceStore(git)
    chain = store.load()
    records = list(chain.records())
    records[-1]["outcome"] = "failed"
    from specops.evidence._record import link

    _, lines, last = link(records, 0, GENESIS)
    path = chain.segments[0][0]
    head = {**chain.head, "hash": last}
    git.commit_on_ref(REF, chain.commit, {path: b"\n".join(lines) + b"\n", "head.json": canonical(head) + b"\n"}, "cover-up")
    problem = verify(git).problem
    assert problem is not None and f"segment {path} was modified by commit" in str(problem)
    code, _, err = run_cli("audit", "verify", "--repo", str(git_repo))
    assert code == 1 and "append-only" in err


def test_findings_from_the_record_alone(git_repo: Path, tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    waiver = {"rule": "SO-PROMPT-001", "resource": "Model/m", "owner": "risk-ops-lead",
              "justification": "suite rebuilt", "expires": "2020-01-31", "path": "waivers.yaml", "line": 4}  # fmt: skip
    stash_plan(journal.path, _plan("p-waived", approvals=["alice"], waiver=waiver))
    _apply(journal, "p-waived", "a1")
    stash_plan(journal.path, _plan("p-nopolicy", policy=False))
    _apply(journal, "p-nopolicy", "a2")
    _apply(journal, "p-unstashed", "a3")  # applied without a plan anyone kept
    seal(git_repo, journal.path)
    audit = build_audit(chain_records(git_repo), repo=GitRepo.discover(git_repo))
    codes = sorted((f.code, f.plan_id) for f in audit.findings)
    assert codes == [("expired-waiver", "p-waived"), ("no-plan", "p-unstashed"), ("no-policy", "p-nopolicy")]
    waived = audit.rows[0]
    assert waived.policies == ["SO-MODEL-005:pass", "SO-PROMPT-001:waived"]
    assert waived.waivers == ["SO-PROMPT-001 by risk-ops-lead until 2020-01-31: suite rebuilt"]
    assert (waived.author, waived.approvers, waived.decisions) == ("carol", ["alice"], ["d-res", "d-plan"])
    assert (waived.version, waived.artifact_sha256, waived.outcome) == ("2.0.0", "a" * 64, "promoted")


def test_unapproved_merge_to_main(git_repo: Path, tmp_path: Path) -> None:
    from tests.helpers.git import commit

    head = commit(git_repo, {"specs/a.yaml": "a: 1\n"})
    journal = Journal(tmp_path / "journal.jsonl")
    stash_plan(journal.path, _plan("p-bare", commit=head))
    _apply(journal, "p-bare", "a1")
    stash_plan(journal.path, _plan("p-approved", commit=head, approvals=["alice"]))
    _apply(journal, "p-approved", "a2")
    seal(git_repo, journal.path)
    audit = build_audit(chain_records(git_repo), repo=GitRepo.discover(git_repo))
    assert [(f.code, f.plan_id) for f in audit.findings] == [("unapproved-merge", "p-bare")]


def test_watch_rollbacks_and_alerts_reach_the_change_that_served(git_repo: Path, tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    stash_plan(journal.path, _plan("p1", approvals=["alice"]))
    _apply(journal, "p1", "a1")
    who = {"holder": "watch@host:2", "target": "t1", "resource": "Model/m"}
    journal.append("alert.fired", **who, outcome="firing", detail={"version": "2.0.0", "slo": "m", "objective": "latency p95 <= 50ms", "value": 80.0, "threshold": 50.0})
    journal.append("watch.rollback", **who, outcome="rolled_back", detail={"by": "watch", "version": "2.0.0", "objective": "error rate", "value": 0.2, "threshold": 0.01})
    seal(git_repo, journal.path)
    row = build_audit(chain_records(git_repo)).rows[0]
    assert (row.outcome, row.outcome_by, row.objective, row.measured, row.limit) == ("rolled_back", "watch", "error rate", 0.2, 0.01)
    assert [a["detail"]["value"] for a in row.alerts] == [80.0]
    assert "latency p95 <= 50ms value 80 threshold 50" in row.flat()["alerts"]


def _bare_with_clones(tmp_path: Path, names: list[str]) -> tuple[Path, list[Path]]:
    origin = tmp_path / "origin.git"
    pygit2.init_repository(str(origin), bare=True)
    clones = []
    for name in names:
        clone = tmp_path / name
        pygit2.init_repository(str(clone), initial_head="main").remotes.create("origin", str(origin))
        clones.append(clone)
    return origin, clones


def test_two_writers_appending_at_once_both_land(tmp_path: Path) -> None:
    origin, clones = _bare_with_clones(tmp_path, ["a", "b"])
    journals = []
    for n in range(len(clones)):
        journal = Journal(tmp_path / f"journal-{n}.jsonl")
        for i in range(3):
            _apply(journal, f"p{n}", f"apply-{n}-{i}")
        journals.append(journal)
    # The first writer lands alone; then both append more at the same moment, in two processes.
    assert run_cli("audit", "seal", "--push", "--repo", str(clones[0]), "--journal", str(journals[0].path))[0] == 0
    for n, journal in enumerate(journals):
        _apply(journal, f"p{n}", f"late-{n}")
    procs = [
        subprocess.Popen([sys.executable, "-m", "specops", "audit", "seal", "--push", "--repo", str(clone),
                          "--journal", str(journal.path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for clone, journal in zip(clones, journals, strict=True)
    ]  # fmt: skip
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, out + err
    shared = GitRepo(pygit2.Repository(str(origin)))
    assert verify(shared).problem is None
    records = list(EvidenceStore(shared).load().records())
    applies = sorted(r["apply_id"] for r in records if r["type"] == "apply.start")
    assert applies == sorted([f"apply-{n}-{i}" for n in range(2) for i in range(3)] + ["late-0", "late-1"])
    assert [r["seq"] for r in records] == list(range(len(records))) and len(records) == 8 * 5
    # Each clone catches up to the shared chain; sealing again adds nothing anywhere.
    for clone, journal in zip(clones, journals, strict=True):
        result = seal(clone, journal.path, push=True)
        assert result.sealed == 0 and result.pushed
    assert len(list(EvidenceStore(shared).load().records())) == 40


def test_retention_config_and_prune(git_repo: Path, tmp_path: Path) -> None:
    assert load_evidence_config(git_repo).retention_days == 180
    (git_repo / "specops.yaml").write_text("policy: {paths: [policies]}\nevidence:\n  retentionDays: 0\n")
    with pytest.raises(SpecError) as caught:
        load_evidence_config(git_repo)
    assert "specops.yaml:3" in str(caught.value.diagnostics[0].format()) and "retentionDays" in caught.value.diagnostics[0].format()
    (git_repo / "specops.yaml").write_text("evidence: {retentionDays: 30}\n")
    assert load_evidence_config(git_repo).retention_days == 30

    journal = Journal(tmp_path / "journal.jsonl")
    for i in range(3):
        _apply(journal, "p", f"a{i}")
        seal(git_repo, journal.path)
    git = GitRepo.discover(git_repo)
    assert prune(git, 30).removed == [], "nothing inside retention is ever pruned"
    assert len(chain_records(git_repo)) == 15
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=31)
    result = prune(git, 30, now=later)
    assert len(result.removed) == 2 and result.through == 9, "the newest segment always stays"
    records = chain_records(git_repo)
    assert [r["seq"] for r in records] == list(range(10, 16)) and records[-1]["type"] == "prune"
    assert records[-1]["through"] == 9 and records[-1]["retention_days"] == 30
    assert verify(git).problem is None, "a recorded prune is not a gap"
    code, out, _ = run_cli("audit", "verify", "--repo", str(git_repo))
    assert code == 0 and "6 record(s)" in out


def test_audit_formats_and_filters(git_repo: Path, tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    stash_plan(journal.path, _plan("p1", approvals=["alice"]))
    _apply(journal, "p1", "a1")
    seal(git_repo, journal.path)
    repo = str(git_repo)
    code, out, _ = run_cli("audit", "--repo", repo, "--format", "jsonl")
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [line["kind"] for line in lines] == ["change"] and lines[0]["plan_id"] == "p1"
    assert run_cli("audit", "--repo", repo, "--resource", "SLO/m", "--format", "jsonl")[1] == ""
    assert run_cli("audit", "--repo", repo, "--since", "2999-01-01", "--format", "jsonl")[1] == ""
    text = run_cli("audit", "--repo", repo)[1]
    assert "Findings: none." in text and "Model/m 2.0.0 on t1: update -> promoted" in text
    with pytest.raises(SystemExit):  # argparse's usage error, with the hint on stderr
        run_cli("audit", "--repo", repo, "--resource", "fraud")
    code, _, err = run_cli("audit", "verify", "--repo", str(tmp_path))
    assert code == 1 and "not inside a git repository" in err


def test_no_evidence_yet_is_a_clear_error(git_repo: Path) -> None:
    code, _, err = run_cli("audit", "verify", "--repo", str(git_repo))
    assert code == 1 and "no evidence in this repository" in err and "git fetch origin refs/specops/evidence" in err


def test_secrets_are_masked_in_records(git_repo: Path, tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    journal.append("apply.start", apply_id="a", plan_id="p", holder="h", detail={"apiKey": "sk-live-123", "targets": {"t": {"url": "http://x", "token_env": "TOK"}}})
    seal(git_repo, journal.path)
    data = orjson.dumps(chain_records(git_repo))
    assert b"sk-live-123" not in data and b"TOK" in data


def test_tamper_helper_rewrites_history(git_repo: Path, tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    _apply(journal, "p1", "a1")
    seal(git_repo, journal.path)
    _apply(journal, "p1", "a2")
    seal(git_repo, journal.path)
    tamper(git_repo, lambda path, data: data.replace(b'"a1"', b'"a9"', 1) if b'"a1"' in data else None, rewrite=True)
    problem = verify(GitRepo.discover(git_repo)).problem
    assert problem is not None and problem.seq == 0 and "was edited" in str(problem)


def test_live_lists_unreachable_targets_as_not_checked(git_repo: Path, tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    _apply(journal, "p1", "a1")  # its target t1 is at 127.0.0.1:9, where nothing listens
    seal(git_repo, journal.path)
    code, out, err = run_cli("audit", "--repo", str(git_repo), "--live", "--format", "jsonl")
    assert code == 0, err
    findings = [json.loads(line) for line in out.splitlines() if '"finding"' in line]
    assert [(f["code"], f["target"]) for f in findings if f["code"].startswith("live")] == [("live-not-checked", "t1")]
    assert "http://127.0.0.1:9 not checked" in findings[-1]["message"]


def test_a_recovered_change_is_closed_by_the_recovery(git_repo: Path, tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    stash_plan(journal.path, _plan("p1", approvals=["alice"]))
    who = {"apply_id": "killed", "plan_id": "p1", "commit": "c0ffee", "holder": "apply@host:1"}
    journal.append("apply.start", **who, outcome="started", detail={})
    at = {**who, "target": "t1", "resource": "Model/m", "action": "update"}
    journal.append("change.start", **at, outcome="started", detail={"after_hash": "h1", "previous": {"hash": "h0"}})
    # the runner was killed here; the next apply (another holder) recovers it and sealing covers both
    journal.append("recovery", **{**at, "holder": "apply@host:2"}, outcome="rolled_back", detail={"changed": True})
    journal.append("apply.recovered", **who, outcome="recovered", detail={"changes": 1})
    seal(git_repo, journal.path)
    rows = build_audit(chain_records(git_repo)).rows
    assert [(r.resource, r.outcome, r.outcome_by, r.holder) for r in rows] == [("Model/m", "rolled_back", "recovery", "apply@host:1")]


def test_a_watch_rollback_journaled_like_an_apply(git_repo: Path, tmp_path: Path) -> None:
    """The watch loop journals its rollback as an apply of its own (``detail.by: watch``, no plan)."""
    journal = Journal(tmp_path / "journal.jsonl")
    stash_plan(journal.path, _plan("p1", approvals=["alice"]))
    _apply(journal, "p1", "a1")  # 2.0.0 promoted on t1
    ids = {"apply_id": "watch-1", "plan_id": None, "commit": "c0ffee", "holder": "watch@host:3"}
    reason = "SLO m: error rate burning 14.4x its budget over 5m and 1h (page)"
    journal.append("apply.start", **ids, outcome="started", detail={"by": "watch", "reason": reason})
    at = {**ids, "target": "t1", "resource": "Model/m"}
    journal.append("change.start", **at, action="rollback", detail={"from": "2.0.0", "to": "1.0.0", "after_hash": "h0", "previous": None, "reason": reason})
    journal.append("rollback", **at, outcome="rolled_back", detail={"version": "2.0.0", "to": "1.0.0", "how": "traffic routed back"})
    journal.append("change.done", **at, outcome="rolled_back", detail={"version": "2.0.0", "to": "1.0.0"})
    journal.append("revert.proposed", **at, outcome="proposed", detail={"branch": "specops/revert-m-2.0.0"})
    journal.append("apply.done", **ids, outcome="rolled_back", detail={"by": "watch"})
    seal(git_repo, journal.path)
    audit = build_audit(chain_records(git_repo))
    assert audit.findings == [], "a watch action has no plan by design"
    applied, action = audit.rows
    assert (applied.version, applied.outcome, applied.outcome_by, applied.objective) == ("2.0.0", "rolled_back", "watch", reason)
    assert (action.action, action.version, action.outcome, action.outcome_by) == ("rollback", "1.0.0", "rolled_back", "watch")
    from specops.evidence._audit import explained

    assert explained(chain_records(git_repo))[("t1", "Model/m")] == ({"h0", "h1"}, {"1.0.0", "2.0.0"})


def test_an_unreachable_origin_costs_no_record(git_repo: Path, tmp_path: Path) -> None:
    origin = tmp_path / "not-yet.git"
    pygit2.Repository(str(git_repo)).remotes.create("origin", str(origin))
    journal = Journal(tmp_path / "journal.jsonl")
    _apply(journal, "p1", "a1")
    with pytest.raises(EvidenceError, match=r"5 record\(s\) sealed locally but not pushed .*the next seal pushes them"):
        seal(git_repo, journal.path, push=True)
    assert len(chain_records(git_repo)) == 5
    pygit2.init_repository(str(origin), bare=True)  # the remote is back
    result = seal(git_repo, journal.path, push=True)
    assert (result.sealed, result.pushed) == (0, True)
    assert len(list(EvidenceStore(GitRepo(pygit2.Repository(str(origin)))).load().records())) == 5


def test_verify_rejects_a_commit_that_calls_itself_a_prune(git_repo: Path, tmp_path: Path) -> None:
    """A prune commit may remove only the segments its prune record names, all older than its cutoff."""
    journal = Journal(tmp_path / "journal.jsonl")
    for i in range(3):
        _apply(journal, "p", f"a{i}")
        seal(git_repo, journal.path)
    git = GitRepo.discover(git_repo)
    store = EvidenceStore(git)
    segments = [path for path, _ in store.segments(store.head_commit())]
    first = store.load().segments[0]
    last_line = [line for line, where in store.load().lines if where.path == first[0]][-1]
    through = orjson.loads(last_line)["seq"]
    now = dt.datetime.now(dt.UTC)

    def forge(**overrides: Any) -> str:
        body = {"type": "prune", "id": "prune/x", "holder": "mallory", "ts": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "through": through, "last_hash": digest(last_line), "segments": [segments[0]], "retention_days": 1,
                "cutoff": (now - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"), **overrides}  # fmt: skip
        saved = store.head_commit()
        store.append([body], "evidence: prune 1 segment(s)", remove=(segments[0],),
                     pruned={"through": through, "last_hash": digest(last_line)})  # fmt: skip
        problem = verify(git).problem
        assert saved is not None
        git.set_ref(REF, saved)  # back to the honest chain for the next forgery
        assert verify(git).problem is None
        return str(problem)

    # the segment was sealed today: inside any cutoff a day before now
    assert "sealed inside retention" in forge()
    # a cutoff pushed forward so that today's segment looks old: it must be retention_days before ts
    tomorrow = (now + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert "is not 1 day(s) before" in forge(cutoff=tomorrow)
    # a record naming other segments than the commit removed
    assert "but its prune record names" in forge(segments=[segments[1]])
    assert "lacks a valid" in forge(retention_days=0)
