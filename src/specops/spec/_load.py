"""Load spec files into resources: discover, parse, validate each document."""

from __future__ import annotations

import dataclasses
import hashlib
import operator
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from specops._core import canonical_hash
from specops._disk import walk_spec_files
from specops._errors import Diagnostic, SpecError
from specops._yaml import (
    MAX_FILE_BYTES,
    PackedDocument,
    YamlDocument,
    decode_spec_bytes,
    format_path,
    load_documents,
)
from specops.spec._common import API_VERSION, Ref, Resource
from specops.spec._document_checks import check_document
from specops.spec._errors_map import diagnostics_from_validation, error_paths, suggest
from specops.spec._kinds import KIND_ORDER, KINDS
from specops.spec._salvage import salvage

__all__ = [
    "BrokenDocument",
    "DocumentDiagnostic",
    "Estate",
    "LoadedSpec",
    "SpecRecord",
    "discover",
    "find_root",
    "load_estate",
    "parse_text",
    "spec_digest",
    "spec_record",
]

SPEC_SUFFIXES = (".yaml", ".yml")


Artifact = tuple[tuple[str | int, ...], str, str]
"""An artifact a spec names: the field path of its ``artifact`` mapping, its uri and its sha256."""

SpecRecord = tuple[
    str, str, str, str, int, tuple[tuple[tuple[str | int, ...], str, str, bool], ...],
    bool, tuple[str, ...], tuple[Artifact, ...], bytes,
]
"""What a warm plan reads of a spec without its resource: id, kind, name, canonical hash, line,
references (path, kind, name, dependency), protected, placement targets, artifacts, ``spec_digest``."""


def spec_digest(canonical: object) -> bytes:
    """SHA-256 of a canonical document's JSON (orjson, keys in document order), or ``b""``.

    The live reader takes this spec's canonical hash for a live spec whose
    JSON has the same digest instead of hashing it again (``specops.plan._live``).
    That is sound because equal JSON without ``null`` means equal values up to
    what the canonical encoding does not tell apart (list or tuple, str or a str
    subclass): orjson writes a float always with a point or exponent, an int
    never, and refuses non-string keys and integers beyond 64 bits; only
    ``None`` and non-finite floats share a spelling (``null``), so a document
    holding ``null`` gets no digest (and the live reader hashes its twin).
    """
    import orjson  # light; spec loading without a plan need not import it

    try:
        data = orjson.dumps(canonical)
    except TypeError:  # orjson.JSONEncodeError
        return b""
    return b"" if b"null" in data else hashlib.sha256(data).digest()


def spec_record(resource: Resource, line: int, hash: str, digest: bytes = b"") -> SpecRecord:
    """The compact record of a validated resource (cached beside it by blob id)."""
    from specops.spec._dataset import Dataset
    from specops.spec._guardrail import ClassifierCheck, Guardrail
    from specops.spec._model import Model
    from specops.spec._target import Target

    placement: tuple[str, ...] = ()
    artifacts: list[Artifact] = []
    if isinstance(resource, Target):
        placement = (resource.name,)
    elif isinstance(resource, Model):
        placement = tuple(resource.spec.targets)
    if isinstance(resource, Model | Dataset):
        artifact = resource.spec.artifact
        artifacts.append((("spec", "artifact"), artifact.uri, artifact.sha256))
    elif isinstance(resource, Guardrail):
        for i, check in enumerate(resource.spec.checks):
            if isinstance(check, ClassifierCheck):
                artifacts.append((("spec", "checks", i, "artifact"), check.artifact.uri, check.artifact.sha256))
    refs = tuple((r.path, r.kind, r.name, r.dependency) for r in resource.references())
    return (
        resource.id, resource.KIND, resource.name, hash, line, refs,
        resource.metadata.protected, placement, tuple(artifacts), digest,
    )


LoadFull = Callable[[], tuple[Resource, "YamlDocument | PackedDocument"]]


class LoadedSpec:
    """A validated resource and where it came from.

    ``document`` (the YAML data with every position) may arrive packed from
    the planner's cache; it is unpacked only when a diagnostic needs a
    position, so a warm plan never builds position tables it does not read.

    A spec may also arrive as its compact record only (``LoadedSpec.lazy``):
    identity, hash, references, placement, protection and artifacts are
    there at once; the resource and its document load on first use, so a
    warm plan of an unchanged file never unpickles a pydantic model.
    """

    __slots__ = (
        "_deps", "_document", "_keep", "_load", "_refs", "_resource", "artifacts", "digest", "hash", "id", "kind",
        "line", "name", "order", "path", "placement", "protected", "record",
    )

    def __init__(
        self, resource: Resource, path: str, document: YamlDocument | PackedDocument, hash: str, digest: bytes = b""
    ) -> None:
        self._resource: Resource | None = resource
        self._document: YamlDocument | PackedDocument | None = document
        self._load: LoadFull | None = None
        self._keep = True
        self._set(spec_record(resource, document.line, hash, digest), path)

    @classmethod
    def lazy(cls, record: SpecRecord, path: str, load: LoadFull, *, keep: bool = True) -> LoadedSpec:
        """A spec known by its record; ``load`` gives its resource and document when first needed.

        With ``keep=False`` they are not held once used: each use asks ``load`` again (the
        planner's cache answers from a small recent set), so a cold plan of 100,000 specs
        never holds 100,000 resources at once.
        """
        spec = cls.__new__(cls)
        spec._resource = None
        spec._document = None
        spec._load = load
        spec._keep = keep
        spec._set(record, path)
        return spec

    def _set(self, record: SpecRecord, path: str) -> None:
        self.record = record
        self.id, self.kind, self.name, self.hash, self.line, _, self.protected, placement, artifacts, self.digest = record
        """``digest``: the JSON digest of the canonical document (``spec_digest``), ``b""`` if none."""
        self.placement = list(placement)
        self.artifacts = artifacts
        self.path = path
        self.order = (KIND_ORDER[self.kind], self.id)
        """Dependency order of kinds, then identity: how an estate iterates."""
        self._refs: list[Ref] | None = None
        self._deps: list[str] | None = None

    def __repr__(self) -> str:
        return f"LoadedSpec({self.id!r}, {self.path!r}:{self.line}, {self.hash[:12]})"

    def _full(self) -> tuple[Resource, YamlDocument | PackedDocument]:
        assert self._load is not None
        resource, document = self._load()
        if self._keep:
            self._resource, self._document = resource, document
            self._load = None
        return resource, document

    @property
    def resource(self) -> Resource:
        if self._resource is not None:
            return self._resource
        return self._full()[0]

    @property
    def loaded(self) -> bool:
        """Whether the resource is held in memory (a lazy spec's is not until first used)."""
        return self._resource is not None

    @property
    def document(self) -> YamlDocument:
        document = self._document if self._document is not None else self._full()[1]
        if isinstance(document, PackedDocument):
            document = document.unpack()
            if self._keep:
                self._document = document
        return document

    @property
    def refs(self) -> list[Ref]:
        """``resource.references()``, computed once (checks and the planner each walk them)."""
        if self._refs is None:
            self._refs = [
                Ref.model_construct(path=path, kind=kind, name=name, dependency=dependency)
                for path, kind, name, dependency in self.record[5]
            ]
        return self._refs

    @property
    def deps(self) -> list[str]:
        """Ids (``Kind/name``) of what this resource depends on (its ``dependency`` references)."""
        if self._deps is None:
            self._deps = [f"{kind}/{name}" for _, kind, name, dependency in self.record[5] if dependency]
        return self._deps

    def position(self, field_path: tuple[str | int, ...]) -> tuple[int, int]:
        return self.document.position(field_path)


_ORDER = operator.attrgetter("order")

_NAME = re.compile(r"^(?=.{1,63}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# Problems of a file that defines nothing: it cannot be the document a reference means.
_DEFINES_NOTHING = frozenset({"empty", "not_found"})


@dataclass(frozen=True, slots=True)
class BrokenDocument:
    """A document (or a whole file) that failed to load, and what it may have defined.

    ``kind`` and ``name`` are None where the document does not say them
    validly (an unknown kind, an invalid name, a file that is not YAML): a
    reference to an undefined resource may then mean it. ``refs`` are the
    references its valid parts make (with where each is written), checked
    like those of a valid spec.
    """

    path: str
    line: int
    kind: str | None
    name: str | None
    refs: tuple[Ref, ...] = ()
    ref_positions: tuple[tuple[int, int], ...] = ()

    @property
    def id(self) -> str:
        return f"{self.kind or '?'}/{self.name or '?'}"

    def may_define(self, kind: str, name: str) -> bool:
        return self.kind in (None, kind) and self.name in (None, name)

    def position(self, field_path: tuple[str | int, ...]) -> tuple[int, int]:
        for ref, position in zip(self.refs, self.ref_positions, strict=True):
            if ref.path == field_path:
                return position
        return (self.line, 1)


@dataclass(frozen=True, slots=True)
class DocumentDiagnostic(Diagnostic):
    """The first error of a document that failed, carrying what the document is.

    It travels wherever diagnostics go (the planner's parse cache too), so a
    plan knows the broken documents as validate does.
    """

    document: BrokenDocument | None = None


def _carrying(problems: list[Diagnostic], broken: BrokenDocument) -> list[Diagnostic]:
    if not problems:  # pragma: no cover - a failed document always has an error
        return problems
    first = problems[0]
    fields = {f.name: getattr(first, f.name) for f in dataclasses.fields(Diagnostic)}
    return [DocumentDiagnostic(**fields, document=broken), *problems[1:]]


def _identity(resource: str) -> tuple[str | None, str | None]:
    """The kind and name a diagnostic's ``Kind/name`` says, each None where unknown or invalid."""
    kind, _, name = resource.partition("/")
    return (kind if kind in KINDS else None, name if _NAME.match(name) else None)


def broken_documents(problems: Iterable[Diagnostic], estate: Estate) -> list[BrokenDocument]:
    """Every document that failed, as its diagnostics tell it.

    A document's first error carries what it is (``DocumentDiagnostic``); a
    file that failed as a whole (not YAML, unreadable, a refused link) may
    define anything; an older diagnostic's ``resource`` says its identity.
    """
    out: list[BrokenDocument] = []
    seen: set[tuple[str, str]] = set()
    carried: set[tuple[str, str]] = set()
    problems = sorted(problems, key=Diagnostic.sort_key)
    for problem in problems:
        if isinstance(problem, DocumentDiagnostic) and problem.document is not None:
            document = dataclasses.replace(problem.document, path=problem.path)  # re-homed copies
            out.append(document)
            seen.add((document.path, document.id))
            carried.add((problem.path, problem.resource))
    paths = {b.path for b in out}
    for problem in problems:
        if problem.severity != "error" or problem.code in _DEFINES_NOTHING:
            continue
        if problem.resource in estate.specs or (problem.path, problem.resource) in carried:
            continue  # a valid resource's own problem (a duplicate, a secret), or told above
        if problem.resource:
            kind, name = _identity(problem.resource)
        elif problem.path in paths:
            continue  # a document-level problem of a file already listed
        else:
            kind = name = None
        broken = BrokenDocument(problem.path, problem.line, kind, name)
        if (broken.path, broken.id) not in seen:
            seen.add((broken.path, broken.id))
            paths.add(broken.path)
            out.append(broken)
    return out


@dataclass
class Estate:
    """Every resource of a repository's specs, indexed by ``Kind/name``."""

    root: Path
    specs: dict[str, LoadedSpec] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    warnings: list[Diagnostic] = field(default_factory=list)
    broken: list[BrokenDocument] = field(default_factory=list)
    """Documents that failed to load: what a reference to an undefined resource may mean."""

    def __iter__(self) -> Iterator[LoadedSpec]:
        return iter(sorted(self.specs.values(), key=_ORDER))

    def __len__(self) -> int:
        return len(self.specs)

    def __contains__(self, resource_id: object) -> bool:
        return resource_id in self.specs

    def get(self, kind: str, name: str) -> LoadedSpec | None:
        return self.specs.get(f"{kind}/{name}")

    def of_kind(self, kind: str) -> list[LoadedSpec]:
        return [s for s in self if kind == s.kind]


def find_root(start: Path) -> Path:
    """The repository root for ``start``: the nearest ancestor with ``.git`` or ``specops.yaml``.

    Repository-relative artifact paths resolve against it. Without either
    marker, the directory given (or a file's directory) is the root.
    """
    start = start.resolve()
    base = start if start.is_dir() else start.parent
    for candidate in (base, *base.parents):
        if (candidate / ".git").exists() or (candidate / "specops.yaml").is_file():
            return candidate
    return base


def discover(
    paths: Sequence[Path], root: Path | None = None
) -> tuple[list[Path], list[Diagnostic]]:
    """Spec files under ``paths``: ``.yaml``/``.yml``, sorted, hidden directories skipped.

    Specs come only from inside the repository at ``root`` (found from the
    first path when not given): a symlink or a nested repository is reported,
    never followed or skipped.
    """
    found: list[Path] = []
    seen: set[Path] = set()
    problems: list[Diagnostic] = []
    if root is None and paths:
        root = find_root(paths[0])
    for path in paths:
        if path.is_dir() or path.is_symlink() or path.is_file():
            files, refused = walk_spec_files(path, root or Path.cwd())
            found.extend(files)
            problems.extend(refused)
        else:
            problems.append(
                Diagnostic(str(path), 0, 0, "no such file or directory", code="not_found")
            )
    unique = []
    for file in found:  # a file named twice (a directory and the file in it) loads once
        resolved = file.resolve()
        if resolved not in seen:
            seen.add(resolved)
            unique.append(file)
    return unique, problems


def _display(path: Path, root: Path) -> str:
    """Paths are shown relative to the root when inside it (stable across machines)."""
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def parse_document(doc: YamlDocument, path: str) -> tuple[Resource | None, list[Diagnostic]]:
    """Validate one YAML document as a spec of its kind."""
    resource, problems, _ = _parse_document(doc, path)
    return resource, problems


def _parse_document(
    doc: YamlDocument, path: str
) -> tuple[Resource | None, list[Diagnostic], BrokenDocument | None]:
    """``parse_document``, with what a failed document may define and the references it makes."""
    data = doc.data
    if not isinstance(data, dict):
        what = "a list" if isinstance(data, list) else f"a {type(data).__name__} value"
        return None, [
            Diagnostic(
                path,
                doc.line,
                doc.column,
                f"a spec document must be a mapping, not {what}",
                hint="start with apiVersion, kind, metadata and spec",
                code="not_a_mapping",
            )
        ], BrokenDocument(path, doc.line, None, None)
    api = data.get("apiVersion")
    kind = data.get("kind")
    resource = ""
    metadata = data.get("metadata")
    if isinstance(kind, str) and isinstance(metadata, dict):
        resource = f"{kind}/{metadata.get('name', '')}"
    raw_name = metadata.get("name") if isinstance(metadata, dict) else None
    broken = BrokenDocument(
        path,
        doc.line,
        kind if isinstance(kind, str) and kind in KINDS else None,
        raw_name if isinstance(raw_name, str) and _NAME.match(raw_name) else None,
    )
    if api != API_VERSION:
        if api is None:
            message, hint = "required field is missing", f"add `apiVersion: {API_VERSION}`"
        else:
            message = f"unsupported apiVersion {api!r}"
            hint = f"SpecOps reads apiVersion {API_VERSION}"
        line, column = doc.position(("apiVersion",))
        return None, [
            Diagnostic(
                path,
                line,
                column,
                message,
                field="apiVersion",
                hint=hint,
                code="api_version",
                resource=resource,
            )
        ], broken
    cls = KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        known = ", ".join(KINDS)
        if kind is None:
            message, hint = "required field is missing", f"add `kind:` (one of {known})"
        else:
            message = f"unknown kind {kind!r}"
            hint = suggest(str(kind), KINDS) or f"known kinds: {known}"
        line, column = doc.position(("kind",))
        return None, [
            Diagnostic(
                path, line, column, message, field="kind", hint=hint, code="kind", resource=resource
            )
        ], broken
    try:
        return cls.model_validate(data), [], None
    except ValidationError as exc:
        problems = diagnostics_from_validation(exc, cls, doc, path, resource)
        # The rest of the story at once: validators of the valid parts, and references.
        findings, refs = salvage(cls, data, error_paths(exc, data))
        said = {(d.field, d.message) for d in problems}
        for finding in findings:
            shown = format_path(finding.path)
            if (shown, finding.message) in said:
                continue
            line, column = doc.position(finding.path)
            problems.append(
                Diagnostic(
                    path, line, column, finding.message, field=shown, hint=finding.hint,
                    code="value_error", resource=resource,
                )
            )
        positions = tuple(doc.position(r.path) for r in refs)
        return None, problems, dataclasses.replace(broken, refs=tuple(refs), ref_positions=positions)


def parse_text(
    text: str, path: str
) -> tuple[list[tuple[Resource, YamlDocument]], list[Diagnostic]]:
    """Parse and validate every document of one file's text."""
    resources, problems, _ = _parse_text(text, path)
    return resources, problems


def _parse_text(
    text: str, path: str
) -> tuple[list[tuple[Resource, YamlDocument]], list[Diagnostic], list[BrokenDocument]]:
    try:
        documents = load_documents(text, path)
    except SpecError as exc:
        return [], exc.diagnostics, []
    if not documents:
        return [], [
            Diagnostic(
                path,
                1,
                1,
                "file has no spec documents",
                hint="add a spec or delete the file",
                code="empty",
            )
        ], []
    resources: list[tuple[Resource, YamlDocument]] = []
    problems: list[Diagnostic] = []
    broken: list[BrokenDocument] = []
    for doc in documents:
        resource, diagnostics, failed = _parse_document(doc, path)
        if failed is not None:
            broken.append(failed)
            diagnostics = _carrying(diagnostics, failed)
        problems.extend(diagnostics)
        if resource is not None:
            problems.extend(check_document(resource, doc, path))
            resources.append((resource, doc))
    return resources, problems, broken


def parse_bytes(
    raw: bytes, path: str, size: int | None = None
) -> tuple[list[tuple[Resource, YamlDocument]], list[Diagnostic]]:
    """Decode, parse and validate one file's bytes (from disk or a git blob)."""
    try:
        text = decode_spec_bytes(raw, path, size)
    except SpecError as exc:
        return [], exc.diagnostics
    return parse_text(text, path)


ParsedEntry = (
    tuple[Resource, YamlDocument] | tuple[Resource, YamlDocument | PackedDocument, str] | LoadedSpec
)
"""A parsed resource and its document, optionally with its canonical hash already known."""


def build_estate(
    root: Path,
    parsed: Iterable[tuple[str, Sequence[ParsedEntry]]],
    problems_so_far: Iterable[Diagnostic] = (),
) -> tuple[Estate, list[Diagnostic]]:
    """Index parsed resources by identity; a second definition of an identity is an error.

    ``problems_so_far`` (the parse diagnostics) tell which documents failed,
    so a reference to one of them is reported as such (``Estate.broken``).
    """
    estate = Estate(root=root)
    problems: list[Diagnostic] = []
    for path, resources in parsed:
        estate.files.append(path)
        for entry in resources:
            rid = entry.id if isinstance(entry, LoadedSpec) else entry[0].id
            first = estate.specs.get(rid)
            if first is not None:
                doc = entry.document if isinstance(entry, LoadedSpec) else entry[1]
                line, column = doc.position(("metadata", "name"))
                problems.append(
                    Diagnostic(
                        path,
                        line,
                        column,
                        f"{rid} is already defined at {first.path}:{first.line}",
                        field="metadata.name",
                        hint="names are unique per kind across the repository; rename one",
                        code="duplicate",
                        resource=rid,
                    )
                )
                continue
            if isinstance(entry, LoadedSpec):
                estate.specs[rid] = entry
                continue
            resource, doc = entry[0], entry[1]
            known = entry[2] if len(entry) == 3 else None
            if known:
                estate.specs[resource.id] = LoadedSpec(resource, path, doc, known)
                continue
            canonical = resource.canonical()  # the digest only beside the hash of the same document
            estate.specs[resource.id] = LoadedSpec(
                resource, path, doc, canonical_hash(canonical), spec_digest(canonical)
            )
    estate.broken = broken_documents(problems_so_far, estate)
    return estate, problems


def load_estate(
    paths: Sequence[Path | str],
    *,
    root: Path | None = None,
    verify_artifacts: bool = False,
) -> Estate:
    """Load, validate and cross-check every spec under ``paths``.

    Raises ``SpecError`` listing every problem of every file; warnings that do
    not block are kept on ``Estate.warnings``.
    """
    from specops.spec._validate import check_estate, check_signatures

    given = [Path(p) for p in paths] or [Path("specs")]
    root = (root or find_root(given[0])).resolve()
    files, problems = discover(given, root)
    parsed: list[tuple[str, list[tuple[Resource, YamlDocument]]]] = []
    for file in files:
        display = _display(file, root)
        try:
            # O_NOFOLLOW: a link that appeared since the listing is refused, not followed.
            fd = os.open(file, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            with os.fdopen(fd, "rb") as handle:  # a huge file is never read whole
                size = os.fstat(handle.fileno()).st_size
                raw = handle.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            problems.append(
                Diagnostic(display, 0, 0, f"cannot read file: {exc.strerror}", code="io")
            )
            continue
        resources, diagnostics = parse_bytes(raw, display, size)
        problems.extend(diagnostics)
        parsed.append((display, resources))
    estate, duplicates = build_estate(root, parsed, problems)
    problems.extend(duplicates)
    problems.extend(check_estate(estate, verify_artifacts=verify_artifacts))
    if verify_artifacts:
        problems.extend(check_signatures(estate))
    errors = [d for d in problems if d.severity == "error"]
    estate.warnings = sorted(
        (d for d in problems if d.severity == "warning"), key=Diagnostic.sort_key
    )
    if errors:
        raise SpecError.of(problems)
    return estate
