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


def _segment_day(path: str) -> dt.datetime | None:
    """The UTC day a segment was sealed, from its path ``records/YYYY/MM/DD/...``."""
    parts = path.split("/")
    try:
        return dt.datetime(int(parts[1]), int(parts[2]), int(parts[3]), tzinfo=dt.UTC)
    except (IndexError, ValueError):
        return None


def _when(text: object) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


def _prune_problem(repo: GitRepo, parent: str, child: str, deleted: list[str], added: list[str]) -> Problem | None:
    """Whether a prune commit kept its own rules: only whole segments older than retention went.

    The commit must append one ``prune`` record naming exactly the segments it
    deleted; its cutoff must lie ``retention_days`` (at least one) before
    its own time; every deleted
    segment, by the day it was sealed and by its records' times, must be
    older than the cutoff. A commit that merely calls itself a prune to drop
    recent evidence fails here. (A writer who may push the evidence ref can
    still forge a consistent prune with a far-off time; protect the ref.)
    """
    where = f"prune commit {child[:12]}"
    prunes: list[dict[str, Any]] = []
    for path in added:
        for line in repo.read_path(child, path).splitlines():
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # the chain check reports unreadable lines
            if isinstance(record, dict) and record.get("type") == "prune":
                prunes.append(record)
    if len(prunes) != 1:
        return Problem(None, None, f"{where} deleted {len(deleted)} segment(s) but appended {len(prunes)} prune records "
                                   "(a prune appends exactly one, naming what it removed)")  # fmt: skip
    record = prunes[0]
    named = record.get("segments")
    if not isinstance(named, list) or sorted(map(str, named)) != sorted(deleted):
        return Problem(None, None, f"{where} deleted {sorted(deleted)} but its prune record names {named}")
    ts, cutoff, days = _when(record.get("ts")), _when(record.get("cutoff")), record.get("retention_days")
    if ts is None or cutoff is None or not isinstance(days, int) or isinstance(days, bool) or days < 1:
        return Problem(None, None, f"{where}: its prune record lacks a valid ts, cutoff or retention_days")
    if cutoff > ts - dt.timedelta(days=days) + dt.timedelta(seconds=1):
        return Problem(None, None, f"{where}: cutoff {record.get('cutoff')} is not {days} day(s) before "
                                   f"its time {record.get('ts')}")  # fmt: skip
    for path in deleted:
        day = _segment_day(path)
        if day is None or day + dt.timedelta(days=1) > cutoff:
            return Problem(None, None, f"{where} deleted {path}, sealed inside retention (cutoff {record.get('cutoff')})")
        for line in repo.read_path(parent, path).splitlines():
            try:
                stamp = _when(orjson.loads(line).get("ts") or "")
            except (orjson.JSONDecodeError, AttributeError):
                stamp = None
            if stamp is not None and stamp > cutoff:
                return Problem(None, None, f"{where} deleted {path}, which holds a record from {stamp:%Y-%m-%dT%H:%M:%SZ}, "
                                           f"inside retention (cutoff {record.get('cutoff')})")  # fmt: skip
    return None


def _history_problem(repo: GitRepo, commit: str) -> Problem | None:
    """The first commit (oldest first) that modified or deleted a stored segment outside a valid prune."""
    commits = repo.history(commit)
    for child, parent in zip(reversed(commits[:-1]), reversed(commits[1:]), strict=True):
        prune_commit = repo.commit_message(child).startswith(PRUNE_MESSAGE)
        deleted: list[str] = []
        added: list[str] = []
        for status, path in repo.changed_paths(parent, child):
            if path == HEAD_FILE:
                continue
            if status == "A":
                added.append(path)
                continue
            if prune_commit and status == "D" and path.startswith(RECORDS + "/"):
                deleted.append(path)
                continue
            if path.startswith(RECORDS + "/"):
                verb = "modified" if status == "M" else "deleted"
                return Problem(None, None, f"segment {path} was {verb} by commit {child[:12]} after it was sealed "
                                           "(evidence is append-only)")  # fmt: skip
        if deleted:
            problem = _prune_problem(repo, parent, child, deleted, added)
            if problem is not None:
                return problem
    return None


def verify(repo: GitRepo, commit: str | None = None, *, history: bool = True) -> VerifyResult:
    """Check the chain at ``commit`` (default: the evidence ref) and, with ``history``, every commit that built it."""
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
