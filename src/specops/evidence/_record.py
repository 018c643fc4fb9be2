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
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = [
    "GENESIS",
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


def verify_chain(
    lines: list[tuple[bytes, Location]],
    head: dict[str, Any] | None,
) -> tuple[int, Problem | None]:
    """Check ``lines`` (in stored order) as one chain; how many records checked out, and the first problem.

    ``head`` is the chain head (``{"seq", "hash"}``) that vouches for the last record.
    """
    start_seq, start_prev = 0, GENESIS
    parsed: list[tuple[dict[str, Any], bytes, Location]] = []
    for line, where in lines:
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            return len(parsed), Problem(None, where, "is not valid JSON (edited by hand?)")
        if not isinstance(record, dict) or not isinstance(record.get("seq"), int):
            return len(parsed), Problem(None, where, "is not a record (no seq)")
        parsed.append((record, line, where))
        if record.get("type") == "prune":
            start_seq, start_prev = int(record["through"]) + 1, str(record["last_hash"])
    expected_seq, expected_prev = start_seq, start_prev
    prev_where: Location | None = None
    stored = {record["seq"] for record, _, _ in parsed}
    for i, (record, line, where) in enumerate(parsed):
        seq = record["seq"]
        if seq != expected_seq:
            if seq > expected_seq and expected_seq not in stored:
                missing = f"record {expected_seq}" if seq == expected_seq + 1 else f"records {expected_seq}-{seq - 1}"
                after = f" after {prev_where}" if prev_where else " at the start of the chain"
                return i, Problem(expected_seq, None, f"is missing: {missing} deleted{after}, before {where}")
            return i, Problem(seq, where, f"is out of order: expected record {expected_seq} here (records reordered?)")
        if record.get("prev") != expected_prev:
            if i == 0:
                return i, Problem(seq, where, "does not link to the start of the chain (its prev is wrong)")
            previous_seq = parsed[i - 1][0]["seq"]
            # The earlier record's bytes changed (its hash no longer matches what this one recorded),
            # unless this record's own prev was edited, which the next record would also show.
            follower_ok = i + 1 >= len(parsed) or parsed[i + 1][0].get("prev") == digest(line)
            if follower_ok:
                return i - 1, Problem(
                    previous_seq, parsed[i - 1][2],
                    f"was edited: its SHA-256 no longer matches the prev that record {seq} ({where}) holds",
                )  # fmt: skip
            return i, Problem(seq, where, f"was edited: its prev does not match the hash of record {previous_seq}")
        expected_seq, expected_prev, prev_where = seq + 1, digest(line), where
    if head is not None:
        last_seq = expected_seq - 1
        if int(head.get("seq", -1)) > last_seq:
            first = last_seq + 1
            return len(parsed), Problem(first, None, f"is missing: the chain's head names record {head.get('seq')}, the last stored is {last_seq}")
        if int(head.get("seq", -1)) == last_seq and head.get("hash") != expected_prev and parsed:
            return len(parsed) - 1, Problem(
                last_seq, parsed[-1][2], "was edited: its SHA-256 no longer matches the chain's head (head.json)"
            )
    return len(parsed), None
