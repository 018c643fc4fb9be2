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
import gc
import hashlib
import pickle
import sqlite3
import threading
from collections.abc import Callable, Iterable
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
from specops.spec._load import SpecRecord, spec_digest

__all__ = ["CacheStats", "ParseCache", "Parsed", "code_key"]

Parsed = tuple[list[LoadedSpec], list[Diagnostic]]
"""Each spec of a file (full, or a compact record that loads its resource on first use), and the file's problems."""
ReadBlob = Callable[[str], bytes]
Full = list[tuple[Resource, PackedDocument]]

_FORMAT = 4
_FLUSH = 256  # parsed files written (and their garbage collected) at a time
_RELEASE_AT = 20_000  # files parsed by one load beyond which their resources are not held
_RECENT = 1024  # blobs whose resources stay in memory when not held by their specs
_BATCH = 500  # SQLite's bound-parameter limit is 999 on old builds
_LIVE_KEPT = 4  # live snapshots whose running hashes are remembered (the most recent)
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
        self.recent: dict[str, Full] = {}
        self.reads: dict[str, tuple[str, ReadBlob]] = {}
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def get(self, blob: str, keep: bool = True) -> Full:
        """The full entries of ``blob``; ``keep=False``: held only among the most recent few."""
        with self._lock:
            found = self.loaded.get(blob)
            if found is not None:
                return found
            found = self.recent.pop(blob, None)
            if found is None:
                raw = self.memory.get(blob) or self._read(blob)
                if raw is not None:
                    found = pickle.loads(raw)
                else:
                    path, read = self.reads[blob]
                    parsed, _ = parse_bytes(read(blob), path)
                    found = [(resource, PackedDocument(doc)) for resource, doc in parsed]
                self.stats.unpickled += 1
            if keep:
                self.loaded[blob] = found
            else:
                self.recent[blob] = found  # the most recently used last
                if len(self.recent) > _RECENT:
                    del self.recent[next(iter(self.recent))]
            return found

    def _read(self, blob: str) -> bytes | None:
        if self.path is None:
            return None
        try:
            if self._db is None:
                self._db = sqlite3.connect(self.path, check_same_thread=False)
            row = self._db.execute("SELECT full FROM resources WHERE blob = ?", (blob,)).fetchone()
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
        self._live: dict[str, bytes] = {}
        self._db: sqlite3.Connection | None = None
        path: Path | None = None
        if directory is not None:
            try:
                directory.mkdir(parents=True, exist_ok=True)
                path = directory / f"parse-{code_key()}.sqlite"
                self._db = sqlite3.connect(path)
                _fast_commits(self._db)
                # Records and resources apart: every warm plan reads every record, so they
                # are kept dense, not interleaved with the resources' larger pickles.
                self._db.execute("CREATE TABLE IF NOT EXISTS records (blob TEXT PRIMARY KEY, compact BLOB NOT NULL)")
                self._db.execute("CREATE TABLE IF NOT EXISTS resources (blob TEXT PRIMARY KEY, full BLOB NOT NULL)")
                self._db.execute("CREATE TABLE IF NOT EXISTS clean (key TEXT PRIMARY KEY)")
                self._db.execute("CREATE TABLE IF NOT EXISTS live (digest TEXT PRIMARY KEY, hashes BLOB NOT NULL)")
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
            found.update(k for (k,) in _select(self._db, "clean", "key", missing))
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

    def live_hashes(self, digest: str) -> bytes | None:
        """The running hashes remembered for the live snapshot whose bytes have this SHA-256 (``LiveHashMemo``)."""
        found = self._live.get(digest)
        if found is not None or self._db is None:
            return found
        try:
            row = self._db.execute("SELECT hashes FROM live WHERE digest = ?", (digest,)).fetchone()
        except sqlite3.Error:
            self.stats.enabled = False
            return None
        return row[0] if row is not None else None

    def remember_live_hashes(self, digest: str, hashes: bytes) -> None:
        """Remember a snapshot's running hashes; only the most recent few snapshots are kept."""
        self._live[digest] = hashes
        if len(self._live) > _LIVE_KEPT:
            del self._live[next(iter(self._live))]
        if self._db is None:
            return
        try:
            with self._db:
                self._db.execute("INSERT OR REPLACE INTO live VALUES (?, ?)", (digest, hashes))
                self._db.execute(
                    "DELETE FROM live WHERE rowid NOT IN (SELECT rowid FROM live ORDER BY rowid DESC LIMIT ?)",
                    (_LIVE_KEPT,),
                )
        except sqlite3.Error:
            self.stats.enabled = False

    def _fetch(self, blobs: list[str]) -> dict[str, bytes]:
        found = {b: self._memory[b] for b in blobs if b in self._memory}
        missing = [b for b in blobs if b not in found]
        if self._db is None or not missing:
            return found
        try:
            found.update(_select(self._db, "records", "blob, compact", missing))
        except sqlite3.Error:
            self.stats.enabled = False
        return found

    def _store(self, entries: dict[str, tuple[bytes, bytes]]) -> None:
        """Write freshly parsed blobs; without a database, keep their pickles in memory instead."""
        if self._db is None:
            self._memory.update((blob, compact) for blob, (compact, _) in entries.items())
            self._full.memory.update((blob, full) for blob, (_, full) in entries.items())
            return
        try:
            with self._db:
                self._db.executemany(
                    "INSERT OR REPLACE INTO records VALUES (?, ?)", ((b, c) for b, (c, _) in entries.items())
                )
                self._db.executemany(
                    "INSERT OR REPLACE INTO resources VALUES (?, ?)", ((b, f) for b, (_, f) in entries.items())
                )
        except sqlite3.Error:
            self.stats.enabled = False
            self._db = None
            self._store(entries)  # a cache that cannot write keeps this plan's entries in memory

    def load(self, files: Iterable[tuple[str, str, bytes | None]], read: ReadBlob) -> list[tuple[str, Parsed]]:
        """Specs of each ``(path, blob, bytes or None)``, in the order given.

        ``read`` supplies the bytes of a blob that must be parsed and came without them.
        Parsed files are written a batch at a time, so a cold load of a large estate does
        not hold every file's pickles until the end.
        """
        files = list(files)
        cached = self._fetch(sorted({blob for _, blob, _ in files}))
        fresh: dict[str, tuple[list[SpecRecord], list[Diagnostic]]] = {}
        pending: dict[str, tuple[bytes, bytes]] = {}
        out: list[tuple[str, Parsed]] = []
        full = self._full
        lazy = LoadedSpec.lazy
        loads = pickle.loads
        cold = len({blob for _, blob, _ in files} - cached.keys())
        # A large cold load keeps only records in memory: its resources (~6 KiB each with
        # their documents) are written to the database and read back when a check or the
        # plan uses them (~50 us each), so memory stays flat in the estate's size.
        release = self._db is not None and cold >= _RELEASE_AT
        # Only a cold parse takes long enough to show (a warm plan reads pickles).
        with progress.task("Parsing specs", total=cold) if cold else nullcontext(None) as shown:
            collected = 0
            for seen, (path, blob, data) in enumerate(files, 1):
                raw = cached.get(blob)
                specs: list[LoadedSpec]
                if raw is not None or blob in fresh:
                    self.stats.hits += 1
                    records, diagnostics = loads(raw) if raw is not None else fresh[blob]
                    full.reads.setdefault(blob, (path, read))
                    keep = raw is not None or not release
                    specs = [
                        lazy(record, path, _loader(full, blob, i, keep), keep=keep) for i, record in enumerate(records)
                    ]
                else:
                    self.stats.parsed += 1
                    parsed, diagnostics = parse_bytes(data if data is not None else read(blob), path)
                    # The hash and the packed document are what every later plan reads.
                    entries = [(resource, PackedDocument(doc)) for resource, doc in parsed]
                    specs = []
                    for resource, doc in entries:
                        canonical = resource.canonical()
                        specs.append(LoadedSpec(resource, path, doc, canonical_hash(canonical), spec_digest(canonical)))
                    full.reads.setdefault(blob, (path, read))
                    records = [s.record for s in specs]
                    if release:
                        # Read back from the database when used, and not held after.
                        specs = [lazy(r, path, _loader(full, blob, i, False), keep=False) for i, r in enumerate(records)]
                    else:
                        full.loaded[blob] = entries
                    fresh[blob] = (records, diagnostics)
                    compact = pickle.dumps((records, diagnostics), protocol=pickle.HIGHEST_PROTOCOL)
                    pending[blob] = (compact, pickle.dumps(entries, protocol=pickle.HIGHEST_PROTOCOL))
                    if len(pending) >= _FLUSH:
                        # Collect the parser's garbage when parsing is much of what this load does
                        # (a cold one); a warm one parses a few files among many and would pay to
                        # scan every record it loaded for garbage it barely made.
                        self._flush(pending, collect=len(pending) * 10 >= seen - collected)
                        collected = seen
                    if shown is not None:
                        shown.advance()
                # The same bytes may live at another path (a copy, a rename): re-home diagnostics.
                if diagnostics:
                    diagnostics = [d if d.path == path else dataclasses.replace(d, path=path) for d in diagnostics]
                out.append((path, (specs, diagnostics)))
        self._flush(pending)
        return out

    def _flush(self, pending: dict[str, tuple[bytes, bytes]], *, collect: bool = False) -> None:
        self._store(pending)
        pending.clear()
        # The YAML parser leaves reference cycles behind (~80 objects a file); the pipeline
        # pauses the cyclic GC while an estate loads, so a long parse collects the youngest
        # generation every batch: measured, a paused cold load of 3,000 files held 141 MiB
        # instead of 38 MiB.
        if collect and not gc.isenabled():
            gc.collect(0)


def _fast_commits(db: sqlite3.Connection) -> None:
    """Commit without waiting for the disk: write-ahead log, synced at checkpoints only.

    A warm plan commits three small transactions (the files it parsed, the
    checks found clean, the live snapshot's hashes); with the default rollback
    journal each waited for fsync (measured: 22 ms of a 10,000-spec warm plan).
    In WAL mode with ``synchronous=NORMAL`` a crash can lose the last commits
    but never corrupts the database, which is all a cache needs. Where the
    file system cannot hold a WAL (some network mounts), the defaults stay.
    """
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
    except sqlite3.Error:
        pass


def _select(db: sqlite3.Connection, table: str, columns: str, keys: list[str]) -> list[Any]:
    """The rows of ``table`` whose first column (its key) is one of ``keys``.

    When most of the table is wanted (a warm plan wants nearly every record),
    one scan beats thousands of index lookups; else the keys are looked up a
    batch at a time (SQLite bounds the number of parameters).
    """
    (rows,) = db.execute(f"SELECT max(rowid) FROM {table}").fetchone()
    if rows is not None and rows <= 3 * len(keys):
        wanted = set(keys)
        return [row for row in db.execute(f"SELECT {columns} FROM {table}") if row[0] in wanted]
    key = columns.split(",")[0]
    out: list[Any] = []
    for start in range(0, len(keys), _BATCH):
        chunk = keys[start : start + _BATCH]
        out += db.execute(f"SELECT {columns} FROM {table} WHERE {key} IN ({','.join('?' * len(chunk))})", chunk)
    return out


def _loader(
    full: _FullStore, blob: str, index: int, keep: bool = True
) -> Callable[[], tuple[Resource, PackedDocument]]:
    return lambda: full.get(blob, keep)[index]
