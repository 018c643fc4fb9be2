"""On-disk cache of parsed spec files, keyed by git blob id.

A blob id names a file's exact bytes, so a parsed blob never goes stale;
what can change is the code that parsed it. Entries are therefore grouped by
a *code key*: the SpecOps version plus a digest of the sources of the spec
language and YAML adapter (an editable install changes them without a
version bump). A new code key opens a new database; old ones are ignored.

Storage is one SQLite file (stdlib, safe against concurrent plans, one
transaction per plan) holding a pickle per blob. Pickle was measured against
re-validating JSON with pydantic: unpickling a Model file costs ~50 µs, a
YAML parse plus validation ~650 µs, so a warm plan of 10,000 files spends
its time in the planner, not the loader. The cache lives in the repository's
git dir, written only by SpecOps; anyone who can write there can already
change the specs themselves, so unpickling it adds no trust boundary.
"""

from __future__ import annotations

import dataclasses
import hashlib
import pickle
import sqlite3
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

from specops import _progress as progress
from specops._core import canonical_hash
from specops._errors import Diagnostic
from specops._version import __version__
from specops._yaml import PackedDocument
from specops.spec import Resource, parse_bytes

__all__ = ["CacheStats", "ParseCache", "Parsed", "code_key"]

Parsed = tuple[list[tuple[Resource, PackedDocument, str]], list[Diagnostic]]
"""Each resource of a file with its (packed) document and canonical hash, and the file's problems."""
ReadBlob = Callable[[str], bytes]

_FORMAT = 2
_BATCH = 500  # SQLite's bound-parameter limit is 999 on old builds
_code_key: str | None = None


def code_key() -> str:
    """Version plus a digest of the code whose output is cached."""
    global _code_key
    if _code_key is None:
        package = Path(__file__).resolve().parent.parent
        digest = hashlib.sha256(f"{_FORMAT}:{__version__}".encode())
        # _core_py.py defines the canonical hash that entries carry.
        sources = [package / "_yaml.py", package / "_core_py.py", *(package / "spec").glob("*.py")]
        for source in sorted(sources):
            digest.update(source.name.encode() + b"\0" + source.read_bytes())
        _code_key = digest.hexdigest()[:20]
    return _code_key


@dataclass(slots=True)
class CacheStats:
    """What one load did: ``parsed`` files went through YAML and validation, ``hits`` did not."""

    parsed: int = 0
    hits: int = 0
    enabled: bool = True


class ParseCache:
    """Parse spec blobs at most once per code key; ``directory=None`` keeps it in memory only."""

    def __init__(self, directory: Path | None) -> None:
        self.stats = CacheStats(enabled=directory is not None)
        self._memory: dict[str, bytes] = {}
        self._db: sqlite3.Connection | None = None
        if directory is not None:
            try:
                directory.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(directory / f"parse-{code_key()}.sqlite")
                self._db.execute(
                    "CREATE TABLE IF NOT EXISTS parsed (blob TEXT PRIMARY KEY, data BLOB NOT NULL)"
                )
            except (OSError, sqlite3.Error):
                # A cache that cannot open must never fail a plan; it only costs time.
                self._db = None
                self.stats.enabled = False

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _fetch(self, blobs: list[str]) -> dict[str, bytes]:
        found = {b: self._memory[b] for b in blobs if b in self._memory}
        missing = [b for b in blobs if b not in found]
        if self._db is None or not missing:
            return found
        try:
            for start in range(0, len(missing), _BATCH):
                chunk = missing[start : start + _BATCH]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(f"SELECT blob, data FROM parsed WHERE blob IN ({marks})", chunk)
                found.update(rows)
        except sqlite3.Error:
            self.stats.enabled = False
        return found

    def _store(self, entries: dict[str, bytes]) -> None:
        self._memory.update(entries)
        if self._db is None or not entries:
            return
        try:
            with self._db:
                self._db.executemany("INSERT OR REPLACE INTO parsed VALUES (?, ?)", entries.items())
        except sqlite3.Error:
            self.stats.enabled = False

    def load(self, files: Iterable[tuple[str, str, bytes | None]], read: ReadBlob) -> list[tuple[str, Parsed]]:
        """Parsed resources of each ``(path, blob, bytes or None)``, in the order given.

        ``read`` supplies the bytes of a blob that must be parsed and came without them.
        """
        files = list(files)
        cached = self._fetch(sorted({blob for _, blob, _ in files}))
        fresh: dict[str, bytes] = {}
        out: list[tuple[str, Parsed]] = []
        cold = len({blob for _, blob, _ in files} - cached.keys())
        # Only a cold parse takes long enough to show (a warm plan reads pickles).
        with progress.task("Parsing specs", total=cold) if cold else nullcontext(None) as shown:
            for path, blob, data in files:
                raw = cached.get(blob) or fresh.get(blob)
                if raw is not None:
                    self.stats.hits += 1
                    resources, diagnostics = pickle.loads(raw)
                else:
                    self.stats.parsed += 1
                    parsed, diagnostics = parse_bytes(data if data is not None else read(blob), path)
                    # The hash and the packed document are what every later plan reads.
                    resources = [
                        (resource, PackedDocument(doc), canonical_hash(resource.canonical()))
                        for resource, doc in parsed
                    ]
                    fresh[blob] = pickle.dumps((resources, diagnostics), protocol=pickle.HIGHEST_PROTOCOL)
                    if shown is not None:
                        shown.advance()
                # The same bytes may live at another path (a copy, a rename): re-home diagnostics.
                diagnostics = [d if d.path == path else dataclasses.replace(d, path=path) for d in diagnostics]
                out.append((path, (resources, diagnostics)))
        self._store(fresh)
        return out
