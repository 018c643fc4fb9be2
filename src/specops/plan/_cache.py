"""On-disk cache of parsed spec files, keyed by git blob id.

A blob id names a file's exact bytes, so a parsed blob never goes stale;
what can change is the code that parsed it. Entries are therefore grouped by
a *code key*: the SpecOps version plus a digest of the sources of the spec
language and YAML adapter (an editable install changes them without a
version bump). A new code key opens a new database; old ones are ignored.

Storage is one SQLite file (stdlib, safe against concurrent plans, one
transaction per plan) holding two pickles per blob: the compact records of
its specs (``SpecRecord``: identity, hash, references, placement,
protection, artifacts) with the file's diagnostics, which every warm plan
reads, and the full pydantic resources with their packed documents, read
only for the specs a plan looks into (measured on 10,000 files: unpickling
every full resource was 1.1 s of a 2.7 s warm plan; the records take ~0.05 s).
Unpickling a Model file costs ~50 µs, a YAML parse plus validation ~650 µs.
A second table remembers the keys of cross-resource checks found clean
(``specops.spec._validate.CleanMemo``). The cache lives in the repository's
git dir, written only by SpecOps; anyone who can write there can already
change the specs themselves, so unpickling it adds no trust boundary.
"""

from __future__ import annotations

import dataclasses
import hashlib
import pickle
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from specops import _progress as progress
from specops._core import canonical_hash
from specops._errors import Diagnostic
from specops._version import __version__
from specops._yaml import PackedDocument
from specops.spec import LoadedSpec, Resource, parse_bytes

__all__ = ["CacheStats", "ParseCache", "Parsed", "code_key"]

Parsed = tuple[list[LoadedSpec], list[Diagnostic]]
"""Each spec of a file (full, or a compact record that loads its resource on first use), and the file's problems."""
ReadBlob = Callable[[str], bytes]
Full = list[tuple[Resource, PackedDocument]]

_FORMAT = 3
_BATCH = 500  # SQLite's bound-parameter limit is 999 on old builds
_code_key: str | None = None


def code_key() -> str:
    """Version plus a digest of the code whose output is cached."""
    global _code_key
    if _code_key is None:
        package = Path(__file__).resolve().parent.parent
        digest = hashlib.sha256(f"{_FORMAT}:{__version__}".encode())
        # _core_py.py defines the canonical hash that entries carry.
        sources = [package / "_yaml.py", package / "_yaml_py.py", package / "_core_py.py", *(package / "spec").glob("*.py")]
        for source in sorted(sources):
            digest.update(source.name.encode() + b"\0" + source.read_bytes())
        _code_key = digest.hexdigest()[:20]
    return _code_key


@dataclass(slots=True)
class CacheStats:
    """What one load did: ``parsed`` files went through YAML and validation, ``hits`` did not.

    ``unpickled`` counts the cached files whose full resources a plan needed.
    """

    parsed: int = 0
    hits: int = 0
    enabled: bool = True
    unpickled: int = 0


class _FullStore:
    """The full resources of cached blobs, read (and unpickled) only when a spec needs its own.

    It outlives the plan's transaction: a spec may first need its resource
    after the loader is closed (a renderer, apply), so it opens its own
    read connection on demand; a blob it cannot read back is parsed again.
    """

    def __init__(self, path: Path | None, stats: CacheStats) -> None:
        self.path = path
        self.stats = stats
        self.memory: dict[str, bytes] = {}
        self.loaded: dict[str, Full] = {}
        self.reads: dict[str, tuple[str, ReadBlob]] = {}
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def get(self, blob: str) -> Full:
        with self._lock:
            found = self.loaded.get(blob)
            if found is not None:
                return found
            raw = self.memory.get(blob) or self._read(blob)
            if raw is not None:
                found = pickle.loads(raw)
            else:
                path, read = self.reads[blob]
                parsed, _ = parse_bytes(read(blob), path)
                found = [(resource, PackedDocument(doc)) for resource, doc in parsed]
            self.stats.unpickled += 1
            self.loaded[blob] = found
            return found

    def _read(self, blob: str) -> bytes | None:
        if self.path is None:
            return None
        try:
            if self._db is None:
                self._db = sqlite3.connect(self.path, check_same_thread=False)
            row = self._db.execute("SELECT full FROM parsed WHERE blob = ?", (blob,)).fetchone()
        except sqlite3.Error:
            return None
        return row[0] if row is not None else None


class ParseCache:
    """Parse spec blobs at most once per code key; ``directory=None`` keeps it in memory only.

    Each blob is stored twice: a compact record per resource (what a warm
    plan reads of every file) and the full pickled resources (read only for
    the specs a plan really looks into: the changed ones, their neighbours).
    """

    def __init__(self, directory: Path | None) -> None:
        self.stats = CacheStats(enabled=directory is not None)
        self._memory: dict[str, bytes] = {}
        self._clean: set[str] = set()
        self._db: sqlite3.Connection | None = None
        path: Path | None = None
        if directory is not None:
            try:
                directory.mkdir(parents=True, exist_ok=True)
                path = directory / f"parse-{code_key()}.sqlite"
                self._db = sqlite3.connect(path)
                self._db.execute(
                    "CREATE TABLE IF NOT EXISTS parsed "
                    "(blob TEXT PRIMARY KEY, compact BLOB NOT NULL, full BLOB NOT NULL)"
                )
                self._db.execute("CREATE TABLE IF NOT EXISTS clean (key TEXT PRIMARY KEY)")
            except (OSError, sqlite3.Error):
                # A cache that cannot open must never fail a plan; it only costs time.
                self._db = None
                path = None
                self.stats.enabled = False
        self._full = _FullStore(path, self.stats)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def known(self, keys: list[str]) -> set[str]:
        """The cross-resource check keys known clean (``specops.spec._validate.CleanMemo``)."""
        found = {k for k in keys if k in self._clean}
        missing = [k for k in keys if k not in found]
        if self._db is None or not missing:
            return found
        try:
            found.update(k for (k,) in _select_in(self._db, "SELECT key FROM clean WHERE key IN ({})", missing))
        except sqlite3.Error:
            self.stats.enabled = False
        return found

    def add(self, keys: list[str]) -> None:
        self._clean.update(keys)
        if self._db is None:
            return
        try:
            with self._db:
                self._db.executemany("INSERT OR IGNORE INTO clean VALUES (?)", ((k,) for k in keys))
        except sqlite3.Error:
            self.stats.enabled = False

    def _fetch(self, blobs: list[str]) -> dict[str, bytes]:
        found = {b: self._memory[b] for b in blobs if b in self._memory}
        missing = [b for b in blobs if b not in found]
        if self._db is None or not missing:
            return found
        try:
            found.update(_select_in(self._db, "SELECT blob, compact FROM parsed WHERE blob IN ({})", missing))
        except sqlite3.Error:
            self.stats.enabled = False
        return found


    def _store(self, entries: dict[str, tuple[bytes, bytes]]) -> None:
        self._memory.update((blob, compact) for blob, (compact, _) in entries.items())
        self._full.memory.update((blob, full) for blob, (_, full) in entries.items())
        if self._db is None or not entries:
            return
        try:
            with self._db:
                self._db.executemany(
                    "INSERT OR REPLACE INTO parsed VALUES (?, ?, ?)",
                    ((blob, compact, full) for blob, (compact, full) in entries.items()),
                )
        except sqlite3.Error:
            self.stats.enabled = False

    def load(self, files: Iterable[tuple[str, str, bytes | None]], read: ReadBlob) -> list[tuple[str, Parsed]]:
        """Specs of each ``(path, blob, bytes or None)``, in the order given.

        ``read`` supplies the bytes of a blob that must be parsed and came without them.
        """
        files = list(files)
        cached = self._fetch(sorted({blob for _, blob, _ in files}))
        fresh: dict[str, tuple[bytes, bytes]] = {}
        out: list[tuple[str, Parsed]] = []
        full = self._full
        cold = len({blob for _, blob, _ in files} - cached.keys())
        # Only a cold parse takes long enough to show (a warm plan reads pickles).
        with progress.task("Parsing specs", total=cold) if cold else nullcontext(None) as shown:
            for path, blob, data in files:
                raw = cached.get(blob) or (fresh[blob][0] if blob in fresh else None)
                specs: list[LoadedSpec]
                if raw is not None:
                    self.stats.hits += 1
                    records, diagnostics = pickle.loads(raw)
                    full.reads.setdefault(blob, (path, read))
                    specs = [
                        LoadedSpec.lazy(record, path, _loader(full, blob, i)) for i, record in enumerate(records)
                    ]
                else:
                    self.stats.parsed += 1
                    parsed, diagnostics = parse_bytes(data if data is not None else read(blob), path)
                    # The hash and the packed document are what every later plan reads.
                    entries = [(resource, PackedDocument(doc)) for resource, doc in parsed]
                    specs = [
                        LoadedSpec(resource, path, doc, canonical_hash(resource.canonical()))
                        for resource, doc in entries
                    ]
                    full.loaded[blob] = entries
                    compact = pickle.dumps(([s.record for s in specs], diagnostics), protocol=pickle.HIGHEST_PROTOCOL)
                    fresh[blob] = (compact, pickle.dumps(entries, protocol=pickle.HIGHEST_PROTOCOL))
                    if shown is not None:
                        shown.advance()
                # The same bytes may live at another path (a copy, a rename): re-home diagnostics.
                diagnostics = [d if d.path == path else dataclasses.replace(d, path=path) for d in diagnostics]
                out.append((path, (specs, diagnostics)))
        self._store(fresh)
        return out


def _select_in(db: sqlite3.Connection, query: str, keys: list[str]) -> Iterator[Any]:
    """Rows of ``query`` (its ``IN ({})`` filled with placeholders) over ``keys``, a batch at a
    time (SQLite bounds the number of parameters)."""
    for start in range(0, len(keys), _BATCH):
        chunk = keys[start : start + _BATCH]
        yield from db.execute(query.format(",".join("?" * len(chunk))), chunk)


def _loader(full: _FullStore, blob: str, index: int) -> Callable[[], tuple[Resource, PackedDocument]]:
    return lambda: full.get(blob)[index]
