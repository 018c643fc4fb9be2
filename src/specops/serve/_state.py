"""The state directory: what the target applied, stored so a restart serves the same thing.

Layout::

    DIR/state.json            the document below, replaced atomically on every change
    DIR/artifacts/<sha256>    uploaded artifacts, named by their content hash

Every write goes to a temporary file in the same directory, is fsynced,
then renamed over the old file (and the directory fsynced), so a crash
leaves either the old or the new file, never half of one. A file that does
not parse is reported with its path and the problem; it is never reset.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson

from specops.serve._errors import HTTPError, StateCorruptError

__all__ = ["STATE_FORMAT_VERSION", "StateStore", "atomic_write"]

STATE_FORMAT_VERSION = 1
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1 << 20


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, chunks: Iterator[bytes] | bytes) -> None:
    """Write ``path`` whole or not at all: temporary file, fsync, rename, fsync the directory."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            if isinstance(chunks, bytes):
                handle.write(chunks)
            else:
                for chunk in chunks:
                    handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def read_json(path: Path) -> Any:
    """A state file's JSON (``FileNotFoundError`` when there is none yet); ``StateCorruptError``
    naming the file when it cannot be read or parsed. The caller checks its shape."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise StateCorruptError(str(path), f"cannot be read: {exc.strerror}") from exc
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise StateCorruptError(str(path), f"invalid JSON: {exc}") from exc


class StateStore:
    """Reads and writes ``state.json`` and the artifact store under one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / "state.json"
        self.artifacts = directory / "artifacts"

    def prepare(self) -> None:
        self.artifacts.mkdir(parents=True, exist_ok=True)
        for stale in self.artifacts.glob(".*.tmp"):  # left by a crash mid-upload
            stale.unlink(missing_ok=True)

    # -- the state document ---------------------------------------------------

    def load(self) -> dict[str, Any] | None:
        """The stored document, ``None`` for a fresh directory; ``StateCorruptError`` if unreadable."""
        try:
            data = read_json(self.path)
        except FileNotFoundError:
            return None
        if not isinstance(data, dict):
            raise StateCorruptError(str(self.path), "the top level is not a JSON object")
        version = data.get("format_version")
        if version != STATE_FORMAT_VERSION:
            raise StateCorruptError(
                str(self.path),
                f"format_version {version!r} is not {STATE_FORMAT_VERSION} "
                "(written by another SpecOps version?)",
            )
        for key, kind in (("target", str), ("revision", int), ("resources", dict), ("models", dict)):
            if not isinstance(data.get(key), kind):
                raise StateCorruptError(
                    str(self.path), f"{key!r} is missing or not a {kind.__name__}"
                )
        return data

    def save(self, document: dict[str, Any]) -> None:
        atomic_write(
            self.path,
            orjson.dumps(
                {"format_version": STATE_FORMAT_VERSION, **document},
                option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS,
            ),
        )

    # -- artifacts ------------------------------------------------------------

    def artifact_path(self, sha256: str) -> Path:
        if not _SHA256.match(sha256):
            raise HTTPError(400, f"{sha256!r} is not a lower-case hex SHA-256 (64 characters)")
        return self.artifacts / sha256

    def has_artifact(self, sha256: str) -> bool:
        return self.artifact_path(sha256).is_file()

    async def put_artifact(self, sha256: str, body: AsyncIterator[bytes], limit: int) -> int:
        """Stream an upload to a temporary file, hashing as it goes; keep it only if the hash matches."""
        path = self.artifact_path(sha256)
        digest = hashlib.sha256()
        size = 0
        fd, tmp = tempfile.mkstemp(prefix=f".{sha256}.", suffix=".tmp", dir=self.artifacts)
        try:
            with os.fdopen(fd, "wb") as handle:
                async for chunk in body:
                    size += len(chunk)
                    if size > limit:
                        raise HTTPError(
                            413, f"artifact is larger than the limit of {limit} bytes "
                            "(start the server with a larger --max-artifact-mb)"
                        )
                    digest.update(chunk)
                    handle.write(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            got = digest.hexdigest()
            if got != sha256:
                raise HTTPError(
                    422,
                    f"the uploaded bytes have sha256 {got}, not {sha256}; nothing was stored",
                    sha256=got,
                )
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(self.artifacts)
        return size

    def read_artifact(self, sha256: str) -> bytes:
        """The artifact's bytes, checked against their name (a file changed on disk is refused)."""
        path = self.artifact_path(sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise HTTPError(
                422,
                f"artifact {sha256} is not uploaded to this target "
                f"(PUT /admin/v1/artifacts/{sha256} first)",
            ) from None
        got = hashlib.sha256(data).hexdigest()
        if got != sha256:
            raise StateCorruptError(str(path), f"its sha256 is {got}, not the {sha256} it is named by")
        return data
