"""Building blocks shared by every spec kind: metadata, names, artifacts, durations."""

from __future__ import annotations

import posixpath
import re
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)
from pydantic.alias_generators import to_camel

__all__ = [
    "API_VERSION",
    "ArtifactRef",
    "Duration",
    "EnvVarName",
    "Metadata",
    "Name",
    "Provider",
    "Ref",
    "Resource",
    "SemVer",
    "Sha256",
    "SpecModel",
    "VersionLabel",
    "duration_seconds",
    "has_userinfo",
    "no_userinfo",
    "redact_userinfo",
    "repeats",
    "unique",
]

API_VERSION = "specops.dev/v1"


class SpecModel(BaseModel):
    """Base of every spec object: strict types, unknown fields rejected, camelCase in YAML.

    Strict means a string is never silently turned into a number or the other
    way round (``version: 2`` is an error that says to quote it); the one
    leniency is an integer where a float is expected, which pydantic converts.
    """

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
        validate_default=True,
    )


# DNS-1123 label, as Kubernetes names objects: lower case, digits, '-', 63 max.
Name = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63),
]

SemVer = Annotated[
    str,
    StringConstraints(
        pattern=r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
        r"(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$"
    ),
]
"""A semantic version (``2.1.0``); quote it in YAML if it could read as a number."""

VersionLabel = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")]
"""A data version such as ``2026-10`` or ``v3``."""

Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]

EnvVarName = Annotated[str, StringConstraints(pattern=r"^[A-Z_][A-Z0-9_]{0,127}$")]
"""The *name* of an environment variable that holds a secret, never the secret."""

_DURATION_RE = re.compile(r"^(?:(\d+)(ms|s|m|h|d|w))+$")
_DURATION_PART = re.compile(r"(\d+)(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def duration_seconds(text: str) -> float:
    """``"1h30m"`` -> ``5400.0``."""
    return float(sum(int(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(text)))


def _check_duration(text: str) -> str:
    if not _DURATION_RE.match(text) or duration_seconds(text) <= 0:
        raise ValueError("expected a duration such as 30s, 5m, 1h30m or 30d")
    return text


Duration = Annotated[str, AfterValidator(_check_duration)]

Provider = Literal[
    "CPUExecutionProvider",
    "CUDAExecutionProvider",
    "TensorrtExecutionProvider",
    "ROCMExecutionProvider",
    "MIGraphXExecutionProvider",
    "OpenVINOExecutionProvider",
    "DmlExecutionProvider",
    "CoreMLExecutionProvider",
]
GPU_PROVIDERS = frozenset(
    {
        "CUDAExecutionProvider",
        "TensorrtExecutionProvider",
        "ROCMExecutionProvider",
        "MIGraphXExecutionProvider",
        "DmlExecutionProvider",
    }
)

def repeats(items: list[str]) -> str:
    """What appears more than once, named: ``"'a' appears twice"``; empty when all are unique."""
    counts: dict[str, int] = {}
    for item in items:
        counts[item] = counts.get(item, 0) + 1
    said = [
        f"{item!r} appears {'twice' if n == 2 else f'{n} times'}" for item, n in counts.items() if n > 1
    ]
    return ", ".join(said)


def unique(what: str, key: Any = None) -> Any:
    """A list field whose items (or ``key(item)``) must not repeat; the error names the repeats.

    On the field, not the model, so it is told with the model's other errors.
    """

    def check(items: list[Any]) -> list[Any]:
        if twice := repeats([key(i) if key else i for i in items]):
            raise ValueError(f"{what} must be unique: {twice}")
        return items

    return AfterValidator(check)


class HintedValueError(ValueError):
    """A validation failure that knows how to fix it: the hint travels to the diagnostic."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


# scheme://userinfo@ : anything before an '@' in the authority part of a url.
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#\s@]*@")


def has_userinfo(url: str) -> bool:
    """Whether ``url`` carries ``user[:password]@`` before its host."""
    return bool(_USERINFO.search(url))


def redact_userinfo(text: str) -> str:
    """``http://user:pass@host/x`` -> ``http://***@host/x``, wherever a url appears in ``text``."""
    return _USERINFO.sub(r"\1***@", text)


def no_userinfo(hint: str) -> Any:
    # Before any other check of the field, so a url that is also malformed still
    # says the one thing that matters (its other errors would echo it, redacted).
    def check(url: Any) -> Any:
        if isinstance(url, str) and has_userinfo(url):
            # The value is never echoed: it holds the secret.
            raise HintedValueError("the url holds credentials (user:password@)", hint)
        return url

    return BeforeValidator(check)


NoUserinfo = no_userinfo(
    "secrets are never written in specs: drop the user:password@ part and name the environment "
    "variable that holds a token in auth.tokenEnv"
)
"""A url field that must not hold credentials (``Target.spec.url``)."""

_REMOTE_SCHEMES = frozenset({"s3", "gs", "az", "abfss", "https", "http", "hf", "oci"})
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")


def _check_uri(uri: str) -> str:
    if not uri or uri != uri.strip() or any(ord(c) < 32 for c in uri):
        raise ValueError("uri must be non-empty, without surrounding spaces or control characters")
    if "://" in uri:
        parts = urlsplit(uri)
        scheme = parts.scheme.lower()
        if scheme == "file":
            if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
                raise ValueError(
                    "a file:// uri needs an absolute path, e.g. file:///srv/models/m.onnx"
                )
            return uri
        if scheme not in _REMOTE_SCHEMES:
            known = ", ".join(sorted({"file", *_REMOTE_SCHEMES}))
            raise ValueError(f"unsupported uri scheme {scheme!r} (supported: {known})")
        if has_userinfo(uri):
            raise HintedValueError(
                "the uri holds credentials (user:password@)",
                "secrets are never written in specs: drop the user:password@ part and name the "
                "environment variable that holds them in credentialsEnv",
            )
        if not parts.netloc or parts.path in ("", "/"):
            raise ValueError(f"a {scheme}:// uri needs a host or bucket and a path")
        return uri
    if uri.startswith("/") or _WINDOWS_DRIVE.match(uri):
        raise ValueError(
            "absolute paths are not portable; use a path relative to the repository, or file:///..."
        )
    if "\\" in uri:
        raise ValueError("use '/' as the path separator")
    normal = posixpath.normpath(uri)
    if normal == ".." or normal.startswith("../"):
        raise ValueError("path escapes the repository")
    return uri


Uri = Annotated[str, AfterValidator(_check_uri)]


def is_repo_path(uri: str) -> bool:
    """True for a path relative to the repository (as opposed to a uri with a scheme)."""
    return "://" not in uri


class ArtifactRef(SpecModel):
    """A file the spec depends on, pinned by content."""

    uri: Uri = Field(
        description="Path relative to the repository, file:///abs/path, or s3/gs/az/https/hf/oci uri."
    )
    sha256: Sha256 = Field(description="Lower-case hex SHA-256 of the file's bytes.")
    size_bytes: Annotated[int, Field(ge=0)] | None = None
    credentials_env: EnvVarName | None = Field(
        default=None,
        description="Environment variable holding credentials to fetch a remote uri.",
    )


_LABEL_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")


def _check_labels(labels: dict[str, str]) -> dict[str, str]:
    for key, value in labels.items():
        if not _LABEL_KEY.match(key):
            raise ValueError(
                f"label key {key!r} is not a valid key ([prefix/]name, 63 characters max)"
            )
        if not _LABEL_VALUE.match(value):
            raise ValueError(
                f"label {key!r} has invalid value {value!r} (63 characters max, alphanumerics, "
                "'-', '_' or '.')"
            )
    return labels


class Metadata(SpecModel):
    """Kubernetes-style identity and bookkeeping of a resource."""

    name: Name = Field(description="DNS-1123 label, unique per kind across the repository.")
    labels: Annotated[dict[str, str], AfterValidator(_check_labels)] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    owner: Annotated[str, StringConstraints(min_length=1, max_length=253)] | None = Field(
        default=None,
        description="Team or person accountable for the resource (approves risky changes).",
    )
    protected: bool = Field(
        default=False, description="A protected resource is never planned for deletion."
    )
    description: str | None = None


class Ref(BaseModel):
    """A reference from one resource to another, found at a field path."""

    model_config = ConfigDict(frozen=True)

    path: tuple[str | int, ...]
    kind: str
    name: str
    dependency: bool = True
    """Whether the referent must be applied first (an ordering edge for the planner)."""


class Resource(SpecModel):
    """Common envelope of every kind: ``apiVersion``, ``kind``, ``metadata``, ``spec``."""

    KIND: ClassVar[str] = ""

    api_version: Literal["specops.dev/v1"] = Field(alias="apiVersion")
    metadata: Metadata

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def id(self) -> str:
        """Identity across the repository: ``Kind/name``."""
        return f"{self.KIND}/{self.metadata.name}"

    def references(self) -> list[Ref]:
        """Every reference to another resource, with the field path it came from."""
        return []

    def canonical(self) -> dict[str, Any]:
        """The document that identity hashing sees: defaults dropped, aliases as in YAML.

        Dropping defaults means writing a default explicitly does not change
        the hash, and a new optional field in a later SpecOps does not change
        every hash in an estate.
        """
        return self.model_dump(mode="json", by_alias=True, exclude_defaults=True)
