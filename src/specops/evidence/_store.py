"""The evidence chain kept with the repository: commits on ``refs/specops/evidence``.

Layout of the ref's tree::

    head.json                                  {"format", "seq", "hash", "journals": {...}}
    records/2026/12/01/0000000000-0000000041.jsonl
    records/2026/12/01/0000000042-0000000057.jsonl

One JSON-lines *segment* per seal (one commit per seal, one file per
commit): an apply's few dozen records cost one blob and one commit, not one
of each per record, so 100,000 records stay a few thousand git objects and
reading the chain is a few thousand blob reads. A segment's name is its
first and last seq, so sorting the names sorts the chain; its directory is
the UTC day it was sealed, which is what retention prunes by. Commits only
ever add a segment (and rewrite ``head.json``), except a prune commit, which
removes whole segments beyond retention and appends a ``prune`` record.

One chain per repository, shared by every writer: a writer appends on the
newest head it knows and pushes without force; when the push is refused
because someone else appended first, it fetches, re-links its own segments
(the ones added since the common ancestor) on the new head, recomputing
their seq and prev, and pushes again. Nothing is lost and the chain stays
one line. ``head.json`` also remembers, per journal, how far it was sealed
(byte offset and event id), so sealing is idempotent.
"""

from __future__ import annotations

import fcntl
import os
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from specops._errors import SpecOpsError
from specops._git import GitError, GitRepo, RefMovedError
from specops.evidence._record import GENESIS, Location, canonical, link

__all__ = ["REF", "TRACKING_REF", "Chain", "EvidenceError", "EvidenceStore"]

REF = "refs/specops/evidence"
TRACKING_REF = "refs/specops/remote/evidence"
HEAD_FILE = "head.json"
RECORDS = "records"
FORMAT = 1
PUSH_ATTEMPTS = 10


class EvidenceError(SpecOpsError):
    """Evidence could not be read, written or pushed."""


@dataclass(slots=True)
class Chain:
    """The records at one commit of the evidence ref, in chain order."""

    commit: str | None
    head: dict[str, Any]
    lines: list[tuple[bytes, Location]] = field(default_factory=list)
    segments: list[tuple[str, str]] = field(default_factory=list)

    def records(self) -> Iterator[dict[str, Any]]:
        for line, _ in self.lines:
            yield orjson.loads(line)

    @property
    def seq(self) -> int:
        """The next seq to use."""
        return int(self.head.get("seq", -1)) + 1

    @property
    def last_hash(self) -> str:
        return str(self.head.get("hash") or GENESIS)


def _segment_key(path: str) -> int:
    name = path.rsplit("/", 1)[-1]
    try:
        return int(name.split("-", 1)[0])
    except ValueError:
        return -1


def empty_head() -> dict[str, Any]:
    return {"format": FORMAT, "seq": -1, "hash": GENESIS, "journals": {}}


class EvidenceStore:
    def __init__(self, repo: GitRepo, ref: str = REF) -> None:
        self.repo = repo
        self.ref = ref

    @contextmanager
    def lock(self) -> Iterator[None]:
        """One writer at a time in this clone (several applies of one repository may seal at once)."""
        path = self.repo.git_dir / "specops" / "evidence.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def head_commit(self) -> str | None:
        return self.repo.ref_target(self.ref)

    def read_head(self, commit: str | None) -> dict[str, Any]:
        if commit is None:
            return empty_head()
        try:
            head = orjson.loads(self.repo.read_path(commit, HEAD_FILE))
        except (GitError, orjson.JSONDecodeError):  # a missing or mangled head: verify reports it
            return empty_head()
        return head if isinstance(head, dict) else empty_head()

    def segments(self, commit: str | None) -> list[tuple[str, str]]:
        if commit is None:
            return []
        found = [(p, b) for p, b in self.repo.files_at(commit, RECORDS) if p.endswith(".jsonl")]
        found.sort(key=lambda pb: (_segment_key(pb[0]), pb[0]))
        return found

    def iter_lines(self, commit: str | None) -> Iterator[tuple[bytes, Location]]:
        """Every stored record line at ``commit`` with its place, one segment in memory at a time."""
        for path, blob in self.segments(commit):
            for number, line in enumerate(self.repo.read_blob(blob).split(b"\n"), start=1):
                if line:
                    yield line, Location(path, number)

    def load(self, commit: str | None = None, *, at_head: bool = True) -> Chain:
        """Every record at ``commit`` (default: the ref's head), as stored lines with their places."""
        if commit is None and at_head:
            commit = self.head_commit()
        chain = Chain(commit, self.read_head(commit))
        chain.segments = self.segments(commit)
        for path, blob in chain.segments:
            data = self.repo.read_blob(blob)
            for number, line in enumerate(data.split(b"\n"), start=1):
                if line:
                    chain.lines.append((line, Location(path, number)))
        return chain

    # --- writing ---

    def append(self, bodies: list[dict[str, Any]], message: str, *, journals: dict[str, Any] | None = None,
               remove: tuple[str, ...] = (), pruned: dict[str, Any] | None = None) -> list[dict[str, Any]]:  # fmt: skip
        """Link ``bodies`` after the head and commit them as one new segment; the linked records.

        ``remove`` and ``pruned`` are for a prune: the segments it removes, and
        where the chain now starts (``{"through", "last_hash"}``), kept in the head.
        """
        parent = self.head_commit()
        head = self.read_head(parent)
        if pruned is not None:
            head = {**head, "pruned": pruned}
        records, lines, last = link(bodies, int(head.get("seq", -1)) + 1, str(head.get("hash") or GENESIS))
        if not records:
            return []
        self._commit(parent, head, records, lines, last, message, journals or {}, remove)
        return records

    def _commit(
        self,
        parent: str | None,
        head: dict[str, Any],
        records: list[dict[str, Any]],
        lines: list[bytes],
        last: str,
        message: str,
        journals: dict[str, Any],
        remove: tuple[str, ...] = (),
    ) -> str:
        day = datetime.now(UTC).strftime("%Y/%m/%d")
        first, final = records[0]["seq"], records[-1]["seq"]
        path = f"{RECORDS}/{day}/{first:010d}-{final:010d}.jsonl"
        new_head = {
            **head,
            "format": FORMAT,
            "seq": final,
            "hash": last,
            "journals": {**(head.get("journals") or {}), **journals},
        }
        add = {path: b"\n".join(lines) + b"\n", HEAD_FILE: canonical(new_head) + b"\n"}
        body = f"{message}\n\nrecords {first}-{final}\nhead {final} {last}\n"
        try:
            return self.repo.commit_on_ref(self.ref, parent, add, body, remove=remove)
        except RefMovedError as exc:
            raise EvidenceError(f"{self.ref} moved while sealing (another writer outside the lock?); seal again") from exc

    # --- sharing through a remote ---

    def pull(self, remote: str) -> None:
        """Bring the remote's chain in: fast-forward to it, or re-link local-only segments on top of it."""
        theirs = self.repo.fetch_ref(remote, self.ref, TRACKING_REF)
        if theirs is None:
            return
        ours = self.head_commit()
        if ours is None or self.repo.is_ancestor(ours, theirs):
            self.repo.set_ref(self.ref, theirs)
            return
        if self.repo.is_ancestor(theirs, ours):
            return
        self.relink(ours, theirs)

    def relink(self, ours: str, theirs: str) -> str:
        """Our segments added since the common ancestor, re-linked after ``theirs``' head."""
        base = self.repo.merge_base(ours, theirs)
        old = {p for p, _ in self.segments(base)} if base else set()
        mine = [(p, b) for p, b in self.segments(ours) if p not in old]
        theirs_head = self.read_head(theirs)
        ours_head = self.read_head(ours)
        bodies: list[dict[str, Any]] = []
        for _, blob in mine:
            bodies.extend(orjson.loads(line) for line in self.repo.read_blob(blob).split(b"\n") if line)
        self.repo.set_ref(self.ref, theirs)
        if not bodies:
            return theirs
        seq, prev = int(theirs_head.get("seq", -1)) + 1, str(theirs_head.get("hash") or GENESIS)
        journals = dict(theirs_head.get("journals") or {})
        for name, mark in (ours_head.get("journals") or {}).items():
            if int(mark.get("offset", 0)) > int((journals.get(name) or {}).get("offset", 0)):
                journals[name] = mark
        records, lines, last = link(bodies, seq, prev)
        return self._commit(theirs, {**theirs_head, "journals": journals}, records, lines, last,
                            f"evidence: re-linked {len(records)} record(s) after {theirs[:12]}", {})  # fmt: skip

    def push(self, remote: str) -> int:
        """Push the chain, re-linking on the remote's head when refused; how many attempts it took."""
        refused = ""
        for attempt in range(1, PUSH_ATTEMPTS + 1):
            if self.head_commit() is None:
                return attempt
            reason = self.repo.push_ref(remote, self.ref)
            if reason is None:
                return attempt
            refused = reason
            time.sleep(random.uniform(0.0, 0.05 * attempt))  # two writers racing should not collide in lockstep
            self.pull(remote)
        raise EvidenceError(
            f"{remote} kept refusing {self.ref} after {PUSH_ATTEMPTS} attempts ({refused}); "
            "the records are kept locally: run `specops audit seal --push` again"
        )
