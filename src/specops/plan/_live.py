"""Live state: what each serving target reports it runs.

The live-state document (format version 1) is what a target's admin API
returns from ``GET {url}/admin/v1/state`` and what ``--live FILE`` holds::

    {
      "format_version": 1,
      "target": "local-cpu",            # the Target's metadata.name
      "revision": "42",                 # opaque; changes on every change the target makes
      "observed_at": "2026-11-21T10:00:00Z",   # optional
      "resources": {
        "Model/fraud-scorer": {
          "hash": "<sha256>",           # canonical hash of the spec the target applied
          "spec": {...},                # that spec as it runs now (canonical document), or null
          "status": {                   # what the target observed, free-form
            "version": "1.0.0", "providers": ["CPUExecutionProvider"], "ready": true
          }
        }
      }
    }

A target reports its own ``Target/<name>`` entry once it was configured.
``hash`` is what the target *recorded applying*; the canonical hash of
``spec`` is what it *runs*. When they differ, someone changed the target
behind SpecOps' back (drift). A snapshot file holds one such document or
``{"format_version": 1, "targets": [document, ...]}``; it is taken as the
whole live picture, so a target it does not mention runs nothing.
``live_state_schema()`` is the JSON Schema of both shapes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NotRequired, Protocol

import orjson
from pydantic import TypeAdapter, ValidationError
from typing_extensions import TypedDict

from specops._core import canonical_hash
from specops.spec import Estate, Target
from specops.targets import (
    AdminError,
    LiveStateError,
    TargetAuthError,
    TargetDownError,
    TargetDriver,
    TargetUnreachableError,
    driver_for,
    fan_out,
)

__all__ = [
    "LIVE_FORMAT_VERSION",
    "LiveHashMemo",
    "LiveResource",
    "LiveState",
    "LiveStateError",
    "TargetState",
    "TargetUnreachableError",
    "fetch_target",
    "live_state_schema",
    "parse_live",
    "read_live",
    "read_snapshot",
]

LIVE_FORMAT_VERSION = 1


class LiveResourceDoc(TypedDict):
    hash: str
    spec: NotRequired[dict[str, Any] | None]
    status: NotRequired[dict[str, Any]]


class LiveDocument(TypedDict):
    format_version: int
    target: str
    revision: str
    observed_at: NotRequired[str]
    resources: dict[str, LiveResourceDoc]


class LiveSnapshot(TypedDict):
    format_version: int
    targets: list[LiveDocument]


_DOCUMENT = TypeAdapter(LiveDocument)
_SNAPSHOT = TypeAdapter(LiveSnapshot)


def live_state_schema() -> dict[str, Any]:
    """JSON Schema of a live-state document or of a snapshot of several."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "SpecOps live state",
        "oneOf": [_DOCUMENT.json_schema(), _SNAPSHOT.json_schema()],
    }


@dataclass(slots=True)
class LiveResource:
    id: str
    target: str
    hash: str
    spec: dict[str, Any] | None
    status: dict[str, Any]
    running_hash: str

    @property
    def protected(self) -> bool:
        metadata = (self.spec or {}).get("metadata") or {}
        return bool(metadata.get("protected", False))


@dataclass(slots=True)
class TargetState:
    name: str
    revision: str | None
    source: str  # http | file | none
    url: str | None = None
    reachable: bool = True
    error: str | None = None
    resources: dict[str, LiveResource] = field(default_factory=dict)

    def fingerprint(self) -> dict[str, Any]:
        return {
            "revision": self.revision,
            "source": self.source,
            "reachable": self.reachable,
            "url": self.url,
        }


@dataclass(slots=True)
class LiveState:
    targets: dict[str, TargetState] = field(default_factory=dict)

    @property
    def unreachable(self) -> set[str]:
        return {name for name, t in self.targets.items() if not t.reachable}

    def merged(self) -> dict[str, LiveResource]:
        """One entry per resource across targets (sorted by name; the first report wins).

        A resource that two targets run in different versions is not in sync
        anywhere: its running hash becomes a marker no desired hash equals.
        """
        if len(self.targets) == 1:  # one target (or a snapshot of one): nothing to merge
            (only,) = self.targets.values()
            return dict(only.resources)
        out: dict[str, LiveResource] = {}
        for name in sorted(self.targets):
            for rid, resource in self.targets[name].resources.items():
                first = out.get(rid)
                if first is None:
                    out[rid] = resource
                elif first.running_hash != resource.running_hash and not first.running_hash.startswith("mixed:"):
                    out[rid] = LiveResource(
                        rid, first.target, first.hash, first.spec, first.status,
                        f"mixed:{first.target}:{resource.target}",
                    )
        return out


class DesiredTwin(Protocol):
    """What the live reader knows of the desired spec of the same id (a ``LoadedSpec``)."""

    hash: str
    digest: bytes  # ``specops.spec._load.spec_digest`` of the document hashed, b"" if none


Twins = Mapping[str, DesiredTwin]


class LiveHashMemo(Protocol):
    """Where the running hashes of a snapshot file are remembered, by the digest of its bytes.

    The plan's parse cache is one (``ParseCache.live_hashes``); its database is
    per code key, and the code key covers the canonical hash's definition.
    """

    def live_hashes(self, digest: str) -> bytes | None: ...

    def remember_live_hashes(self, digest: str, hashes: bytes) -> None: ...


def _resources(
    doc: LiveDocument,
    known: Iterator[str] | None = None,
    made: list[str] | None = None,
    twins: Twins | None = None,
) -> dict[str, LiveResource]:
    """``known``: the running hashes of the specs, in order (a memo of these same bytes);
    ``made``: where the hashes computed here are appended, for the memo;
    ``twins``: the desired specs by id, whose hash a live spec of the same JSON runs."""
    # The running hash of every spec is most of reading live state (it is what finds drift).
    # A spec whose JSON has its desired twin's digest runs its twin's hash (``spec_digest``
    # says why that is exact): a JSON encoding and SHA-256 cost a quarter of the canonical hash.
    target = doc["target"]
    hashed = canonical_hash
    remembered = known.__next__ if known is not None else None
    dumps, sha256 = orjson.dumps, hashlib.sha256
    out: dict[str, LiveResource] = {}
    for rid, entry in doc["resources"].items():
        spec = entry.get("spec")
        recorded = entry["hash"]
        if spec is None:
            running = recorded
        else:
            if remembered is not None:
                running = remembered()
            else:
                twin = twins.get(rid) if twins is not None else None
                running = ""
                if twin is not None and twin.digest:
                    try:
                        if sha256(dumps(spec)).digest() == twin.digest:
                            running = twin.hash
                    except TypeError:  # orjson.JSONEncodeError: not JSON it can write
                        pass
                if not running:
                    running = hashed(spec)
            if made is not None:
                made.append(running)
        out[rid] = LiveResource(rid, target, recorded, spec, entry.get("status") or {}, running)
    return out


def _check_version(data: Any, where: str) -> None:
    version = data.get("format_version") if isinstance(data, dict) else None
    if version != LIVE_FORMAT_VERSION:
        raise LiveStateError(
            f"{where}: live-state format_version {version!r} is not supported "
            f"(this SpecOps reads version {LIVE_FORMAT_VERSION}; upgrade one side)"
        )


def _explain(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "document"
    return f"{where}: {first['msg']}"


def parse_document(
    data: Any,
    where: str,
    source: str,
    url: str | None = None,
    *,
    validated: bool = False,
    known: Iterator[str] | None = None,
    made: list[str] | None = None,
    twins: Twins | None = None,
) -> TargetState:
    """A live-state document into a ``TargetState``; ``validated``: it was, as part of a snapshot."""
    _check_version(data, where)
    if validated:
        doc = data
    else:
        try:
            doc = _DOCUMENT.validate_python(data)
        except ValidationError as exc:
            raise LiveStateError(f"{where}: not a live-state document: {_explain(exc)}") from exc
    return TargetState(doc["target"], doc["revision"], source, url, resources=_resources(doc, known, made, twins))


def _plainly_valid(data: dict[str, Any]) -> bool:
    """A snapshot of exactly the schema's shape in JSON's own types (no coercion to ask for).

    Everything this accepts, the schema's validation accepts too; it is one
    pass of type checks instead of a validating copy (a third of reading a
    10,000-resource snapshot). Anything else goes to the validator, for its
    verdict and its message.
    """
    documents = data.get("targets")
    if type(data.get("format_version")) is not int or type(documents) is not list:
        return False
    for doc in documents:
        if (
            type(doc) is not dict
            or type(doc.get("format_version")) is not int
            or type(doc.get("target")) is not str
            or type(doc.get("revision")) is not str
            or ("observed_at" in doc and type(doc["observed_at"]) is not str)
            or type(doc.get("resources")) is not dict
        ):
            return False
        for entry in doc["resources"].values():
            if type(entry) is not dict or type(entry.get("hash")) is not str:
                return False
            spec = entry.get("spec")
            if (spec is not None and type(spec) is not dict) or ("status" in entry and type(entry["status"]) is not dict):
                return False
    return True


def read_snapshot(path: Path, memo: LiveHashMemo | None = None, twins: Twins | None = None) -> LiveState:
    """Read ``--live FILE``: one live-state document, or a snapshot of several.

    With a ``memo``, the running hashes (a tenth of a warm plan at 10,000
    resources) are computed once per snapshot: the same bytes parse to the
    same specs, so their hashes are remembered by the SHA-256 of the file's
    bytes. Any change to the file, a drifted spec included, is another digest.
    ``twins`` (the desired specs by id) spare hashing a live spec of the
    same JSON as its desired twin (``_resources``).
    """
    try:
        raw = path.read_bytes()
        data = orjson.loads(raw)
    except OSError as exc:
        raise LiveStateError(f"cannot read live-state file {path}: {exc.strerror}") from exc
    except orjson.JSONDecodeError as exc:
        raise LiveStateError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from exc
    state = LiveState()
    validated = False
    if isinstance(data, dict) and "targets" in data:
        _check_version(data, str(path))
        try:
            if not _plainly_valid(data):  # else pydantic says what is wrong (or accepts it)
                _SNAPSHOT.validate_python(data)
        except ValidationError as exc:
            raise LiveStateError(f"{path}: not a live-state snapshot: {_explain(exc)}") from exc
        # The snapshot's schema holds each document's: once validated is enough (the raw
        # documents are what validation returns, less keys the schema does not name).
        documents, validated = data["targets"], True
    else:
        documents = [data]
    digest = hashlib.sha256(raw).hexdigest() if memo is not None else ""
    known = _remembered(memo, digest)
    if known is not None:
        hashes = iter(known)
        try:
            targets = _documents(path, documents, validated, known=hashes, twins=twins)
            if next(hashes, None) is None:  # every remembered hash used: they fit this snapshot
                state.targets.update(targets)
                return state
        except StopIteration:  # fewer than the snapshot's specs: not what this code stored
            pass
    made: list[str] | None = [] if memo is not None else None
    state.targets.update(_documents(path, documents, validated, made=made, twins=twins))
    if memo is not None and made is not None:
        memo.remember_live_hashes(digest, orjson.dumps(made))
    return state


def _documents(
    path: Path,
    documents: list[Any],
    validated: bool,
    *,
    known: Iterator[str] | None = None,
    made: list[str] | None = None,
    twins: Twins | None = None,
) -> dict[str, TargetState]:
    out: dict[str, TargetState] = {}
    for i, doc in enumerate(documents):
        target = parse_document(
            doc, f"{path} (document {i})", "file", validated=validated, known=known, made=made, twins=twins
        )
        if target.name in out:
            raise LiveStateError(f"{path}: target {target.name} appears twice in the snapshot")
        out[target.name] = target
    return out


def _remembered(memo: LiveHashMemo | None, digest: str) -> list[str] | None:
    """The memo's running hashes for these bytes (``read_snapshot`` checks they number its specs)."""
    if memo is None:
        return None
    raw = memo.live_hashes(digest)
    if raw is None:
        return None
    try:
        known = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if type(known) is not list or not all(type(h) is str for h in known):
        return None  # not what this code stored: hash again
    return known


def fetch_target(driver: TargetDriver, twins: Twins | None = None) -> TargetState:
    """The live state of one target, read through its driver and validated.

    A target that cannot be reached is a ``TargetUnreachableError`` (which
    ``--allow-unreachable`` may turn into unknown resources); refused
    credentials stay a ``TargetAuthError``: that is a setting to fix, not an outage.
    """
    name, url = driver.name, driver.url
    try:
        data = driver.live_state()
    except (TargetAuthError, LiveStateError):
        raise
    except TargetDownError as exc:
        reason = str(exc).removeprefix(f"target {name}: ")
        raise TargetUnreachableError(name, url, reason) from exc
    except AdminError as exc:
        raise TargetUnreachableError(name, url, f"HTTP {exc.status} {exc.body.get('error', '')}".strip()) from exc
    return parse_live(data, name, url, twins)


def parse_live(data: Any, name: str, url: str, twins: Twins | None = None) -> TargetState:
    """Validate a document a target at ``url`` answered as its live state."""
    if not isinstance(data, dict):
        raise LiveStateError(f"target {name} at {url} returned invalid JSON: not an object")
    state = parse_document(data, f"target {name} ({url})", "http", url, twins=twins)
    if state.name != name:
        raise LiveStateError(
            f"target {name} at {url} reports itself as {state.name!r} (spec.url points at another target?)"
        )
    return state


def read_live(
    estate: Estate,
    live: Path | str | None,
    *,
    allow_unreachable: bool = False,
    timeout: float = 10.0,
    memo: LiveHashMemo | None = None,
) -> LiveState:
    """Live state from a snapshot file, or from every desired Target over HTTP.

    ``memo`` remembers a snapshot file's running hashes (``read_snapshot``).
    """
    twins = estate.specs
    if live is not None:
        state = read_snapshot(Path(live), memo, twins)
        for spec in estate.of_kind("Target"):
            # A snapshot is the whole picture: a target it omits runs nothing.
            state.targets.setdefault(spec.resource.name, TargetState(spec.resource.name, None, "none"))
        return state
    specs = list(estate.of_kind("Target"))

    def fetch(spec: Any) -> TargetState:
        # The driver is made in the pool too: making one costs milliseconds of CPU, which
        # overlap with the other targets' round trips instead of preceding all of them.
        driver = driver_for(spec.resource, timeout=timeout, retries=2)
        try:
            return fetch_target(driver, twins)
        finally:
            driver.close()

    # Concurrently: a plan waits for its slowest target, not for the sum of them.
    answers = fan_out(specs, fetch, name=lambda spec: str(spec.resource.name))
    state = LiveState()
    for spec in specs:
        name = spec.resource.name
        answer = answers[name]
        # Unreadable for want of credentials is unknown too; the error says which it was.
        if isinstance(answer, TargetUnreachableError | TargetAuthError) and allow_unreachable:
            resource = spec.resource
            url = str(resource.spec.url).rstrip("/") if isinstance(resource, Target) else ""  # as its driver
            state.targets[name] = TargetState(name, None, "http", url, reachable=False, error=str(answer))
        elif isinstance(answer, Exception):
            raise answer
        else:
            state.targets[name] = answer
    return state
