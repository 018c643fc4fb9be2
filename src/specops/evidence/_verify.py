"""``specops audit verify`` and ``specops audit prune``.

Verify recomputes the chain (every record's SHA-256 against its
successor's ``prev``, seq without gaps, the head) and walks the evidence
ref's commits: each may only add a segment and rewrite ``head.json``, so a
record edited in a later commit is caught even when it is the newest one.
A prune commit is the one exception: it removes whole segments older than
retention and appends a ``prune`` record saying where the chain resumes.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from dataclasses import dataclass
from typing import Any

import orjson

from specops._git import GitRepo
from specops.evidence._record import Problem, digest, verify_chain
from specops.evidence._store import HEAD_FILE, RECORDS, Chain, EvidenceError, EvidenceStore

__all__ = ["PruneResult", "VerifyResult", "prune", "verify"]

PRUNE_MESSAGE = "evidence: prune"


@dataclass(slots=True)
class VerifyResult:
    records: int
    head: dict[str, Any]
    commit: str | None
    problem: Problem | None

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.problem is None,
            "records": self.records,
            "seq": self.head.get("seq"),
            "hash": self.head.get("hash"),
            "commit": self.commit,
            "problem": str(self.problem) if self.problem else None,
        }


def _history_problem(repo: GitRepo, commit: str) -> Problem | None:
    """The first commit (oldest first) that modified or deleted a stored segment outside a prune."""
    commits = repo.history(commit)
    for child, parent in zip(reversed(commits[:-1]), reversed(commits[1:]), strict=True):
        prune_commit = repo.commit_message(child).startswith(PRUNE_MESSAGE)
        for status, path in repo.changed_paths(parent, child):
            if path == HEAD_FILE or status == "A" or (prune_commit and status == "D"):
                continue
            if path.startswith(RECORDS + "/"):
                verb = "modified" if status == "M" else "deleted"
                return Problem(None, None, f"segment {path} was {verb} by commit {child[:12]} after it was sealed "
                                           "(evidence is append-only)")  # fmt: skip
    return None


def verify(repo: GitRepo, commit: str | None = None, *, history: bool = True) -> VerifyResult:
    store = EvidenceStore(repo)
    commit = commit or store.head_commit()
    if commit is None:
        raise EvidenceError("no evidence in this repository (refs/specops/evidence is missing; "
                            "`git fetch origin refs/specops/evidence:refs/specops/evidence` fetches it)")  # fmt: skip
    head = store.read_head(commit)
    count, problem = verify_chain(store.iter_lines(commit), head)
    if problem is None and history:
        problem = _history_problem(repo, commit)
    return VerifyResult(count, head, commit, problem)


@dataclass(slots=True)
class PruneResult:
    removed: list[str]
    through: int | None
    cutoff: str

    def to_json(self) -> dict[str, Any]:
        return {"removed": self.removed, "through": self.through, "cutoff": self.cutoff}


def _last_lines(chain: Chain) -> dict[str, bytes]:
    """The last stored line of every segment."""
    out: dict[str, bytes] = {}
    for line, where in chain.lines:
        out[where.path] = line
    return out


def prune(repo: GitRepo, retention_days: int, *, now: dt.datetime | None = None, dry_run: bool = False) -> PruneResult:
    """Remove the oldest segments whose every record is older than ``retention_days``; record that it did.

    Only a prefix of the chain goes (never a segment inside retention, never
    the newest), and the chain must verify first: pruning never hides a break.
    """
    moment = now or dt.datetime.now(dt.UTC)
    cutoff = moment - dt.timedelta(days=retention_days)
    cutoff_text = cutoff.strftime("%Y-%m-%dT%H:%M:%SZ")
    store = EvidenceStore(repo)
    with store.lock():
        checked = verify(repo)
        if checked.problem is not None:
            raise EvidenceError(f"the chain does not verify, nothing pruned: {checked.problem}")
        chain = store.load()
        removed: list[str] = []
        through: tuple[int, str] | None = None
        last_lines = _last_lines(chain)
        for path, _ in chain.segments[:-1]:
            day = path.split("/")[1:4]
            last = orjson.loads(last_lines[path])
            seq, last_hash, last_ts = int(last["seq"]), digest(last_lines[path]), str(last.get("ts") or "")
            sealed = dt.datetime(int(day[0]), int(day[1]), int(day[2]), tzinfo=dt.UTC) + dt.timedelta(days=1)
            if sealed > cutoff or (last_ts and last_ts > cutoff_text):
                break
            removed.append(path)
            through = (seq, last_hash)
        result = PruneResult(removed, through[0] if through else None, cutoff_text)
        if removed and through is not None and not dry_run:
            body = {
                "type": "prune",
                "id": f"prune/{through[0]}/{through[1][:16]}",
                "holder": f"prune@{socket.gethostname()}:{os.getpid()}",
                "ts": moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                "through": through[0],
                "last_hash": through[1],
                "segments": removed,
                "retention_days": retention_days,
                "cutoff": cutoff_text,
            }
            store.append([body], f"{PRUNE_MESSAGE} {len(removed)} segment(s) through record {through[0]}",
                         remove=tuple(removed), pruned={"through": through[0], "last_hash": through[1]})  # fmt: skip
    return result
