"""The evidence record: canonical JSON, the hash chain, and its verification.

A record is one JSON object per event. Its bytes are its canonical JSON
(orjson, sorted keys, no whitespace) and its hash is the SHA-256 of those
bytes. Every record carries ``seq`` (0, 1, 2, ... without gaps) and ``prev``
(the hash of record ``seq - 1``; 64 zeros for the first), so editing,
deleting or reordering any record breaks the chain at a place that names it.
The newest record has no successor to vouch for it: the chain's head
(``head.json``: last seq and hash) does. Pruning beyond retention removes
whole old segments and appends a ``prune`` record naming the last removed
record's seq and hash, where the remaining chain picks up.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = [
    "GENESIS",
    "ChainCheck",
    "Location",
    "Problem",
    "canonical",
    "digest",
    "link",
    "verify_chain",
]

GENESIS = "0" * 64


def canonical(value: Any) -> bytes:
    """The one byte form of a JSON value: orjson with sorted keys, UTC datetimes, no whitespace."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_UTC_Z)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def link(bodies: list[dict[str, Any]], seq: int, prev: str) -> tuple[list[dict[str, Any]], list[bytes], str]:
    """Number and chain record bodies after record ``seq - 1`` whose hash is ``prev``.

    Returns the records, their canonical lines and the last hash. Bodies
    may be records linked before (a re-link after a rejected push): their
    old ``seq`` and ``prev`` are replaced.
    """
    records: list[dict[str, Any]] = []
    lines: list[bytes] = []
    for body in bodies:
        record = {**body, "seq": seq, "prev": prev}
        line = canonical(record)
        prev = digest(line)
        seq += 1
        records.append(record)
        lines.append(line)
    return records, lines, prev


@dataclass(frozen=True, slots=True)
class Location:
    """Where a record is stored: its segment file and line (1-based)."""

    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True, slots=True)
class Problem:
    """The first thing wrong with a chain, naming the record."""

    seq: int | None
    location: Location | None
    message: str

    def __str__(self) -> str:
        where = f" ({self.location})" if self.location else ""
        name = f"record {self.seq}" if self.seq is not None else "a record"
        return f"{name}{where}: {self.message}"


class ChainCheck:
    """Verifies a chain fed one stored line at a time (in stored order), holding two records at a time.

    ``feed`` returns the parsed record (``None`` for a line that is not one),
    and keeps returning records after the first problem, so one pass can both
    verify the chain and build an audit from it. ``head`` (``{"seq", "hash",
    "pruned"}``) vouches for the newest record and says where a pruned chain
    starts; a ``prune`` record must back that claim.
    """

    def __init__(self, head: dict[str, Any] | None) -> None:
        self.head = head
        self.pruned: dict[str, Any] | None = (head or {}).get("pruned") or None
        self.expected_seq = int(self.pruned["through"]) + 1 if self.pruned else 0
        self.expected_prev = str(self.pruned["last_hash"]) if self.pruned else GENESIS
        self.backed = self.pruned is None
        self.count = 0
        self.problem: Problem | None = None
        self._previous: tuple[int, Location] | None = None
        # a record whose prev did not match (seq, where, its hash, and the record before it)
        self._suspect: tuple[int, Location, str, int, Location] | None = None
        # a seq jump: a deletion, unless the missing seq turns up later (a reorder)
        self._gap: tuple[int, int, Location] | None = None

    def feed(self, line: bytes, where: Location) -> dict[str, Any] | None:
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            self._fail(Problem(None, where, "is not valid JSON (edited by hand?)"))
            return None
        if not isinstance(record, dict) or not isinstance(record.get("seq"), int):
            self._fail(Problem(None, where, "is not a record (no seq)"))
            return None
        if self.problem is None:
            self._check(record, line, where)
        return record

    def _fail(self, problem: Problem) -> None:
        if self.problem is None:
            self.problem = problem

    def _check(self, record: dict[str, Any], line: bytes, where: Location) -> None:
        seq = record["seq"]
        if self._gap is not None:
            if seq == self._gap[0]:
                self._fail(Problem(self._gap[1], self._gap[2],
                                   f"is out of order: expected record {self._gap[0]} here (records reordered?)"))  # fmt: skip
            return
        line_hash = digest(line)
        if self._suspect is not None:
            bad_seq, bad_where, bad_hash, before_seq, before_where = self._suspect
            if record.get("prev") == bad_hash:  # the follower vouches for it: the one before it changed
                self._fail(Problem(before_seq, before_where,
                                   f"was edited: its SHA-256 no longer matches the prev that record {bad_seq} ({bad_where}) holds"))  # fmt: skip
            else:
                self._fail(Problem(bad_seq, bad_where, f"was edited: its prev does not match the hash of record {before_seq}"))
            return
        if seq != self.expected_seq:
            if seq < self.expected_seq:
                self._fail(Problem(seq, where, f"is out of order: expected record {self.expected_seq} here (records reordered?)"))
            else:
                self._gap = (self.expected_seq, seq, where)
            return
        if record.get("prev") != self.expected_prev:
            if self._previous is None:
                self._fail(Problem(seq, where, "does not link to the start of the chain (its prev is wrong)"))
                return
            self._suspect = (seq, where, line_hash, self._previous[0], self._previous[1])
        if record.get("type") == "prune" and self.pruned is not None:
            self.backed = self.backed or (
                record.get("through") == self.pruned.get("through") and record.get("last_hash") == self.pruned.get("last_hash")
            )
        self.count += 1
        self._previous = (seq, where)
        self.expected_seq, self.expected_prev = seq + 1, line_hash

    def finish(self) -> Problem | None:
        """The first problem of the whole chain, once every line was fed."""
        if self.problem is not None:
            return self.problem
        head = self.head
        if self._gap is not None:
            missing_seq, found_seq, found_where = self._gap
            missing = f"record {missing_seq}" if found_seq == missing_seq + 1 else f"records {missing_seq}-{found_seq - 1}"
            after = f" after {self._previous[1]}" if self._previous else " at the start of the chain"
            return Problem(missing_seq, None, f"is missing: {missing} deleted{after}, before {found_where}")
        if self._suspect is not None:  # the newest record's prev is wrong: it, or the one before it, was edited
            bad_seq, bad_where, bad_hash, before_seq, before_where = self._suspect
            if head is not None and head.get("hash") == bad_hash:
                return Problem(before_seq, before_where,
                               f"was edited: its SHA-256 no longer matches the prev that record {bad_seq} ({bad_where}) holds")  # fmt: skip
            return Problem(bad_seq, bad_where, f"was edited: its prev does not match the hash of record {before_seq}")
        if head is not None:
            last_seq = self.expected_seq - 1
            if int(head.get("seq", -1)) > last_seq:
                return Problem(last_seq + 1, None,
                               f"is missing: the chain's head names record {head.get('seq')}, the last stored is {last_seq}")  # fmt: skip
            if int(head.get("seq", -1)) == last_seq and head.get("hash") != self.expected_prev and self._previous is not None:
                return Problem(last_seq, self._previous[1], "was edited: its SHA-256 no longer matches the chain's head (head.json)")
            if not self.backed:
                through = (self.pruned or {}).get("through")
                return Problem(None, None, f"the chain's head says records through {through} were pruned, but no prune record says so")
        return None


def verify_chain(lines: Iterable[tuple[bytes, Location]], head: dict[str, Any] | None) -> tuple[int, Problem | None]:
    """Check ``lines`` (in stored order) as one chain: how many records linked up, and the first problem."""
    check = ChainCheck(head)
    for line, where in lines:
        check.feed(line, where)
    problem = check.finish()
    return check.count, problem
