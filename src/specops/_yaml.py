"""The one place SpecOps talks to ruamel.yaml.

Specs are loaded on the fast path: libyaml's C parser (``ruamel.yaml.clib``)
emits events that still carry line and column marks, and a walker turns them
into plain Python data plus a map from field path to position. The walker is
compiled (``csrc/_yaml_c.pyx``) with a pure-Python twin (``_yaml_py``), chosen
the way the other cores are (``SPECOPS_PURE_PYTHON=1`` forces the twin). That
is several times faster than ruamel's C-backed safe loader and, unlike it,
reports duplicate keys with both lines, bounds alias expansion and depth, and
never constructs arbitrary tagged objects. The round-trip loader is kept for
edits that must preserve comments (``load_roundtrip``/``dump_roundtrip``).

Every failure becomes a located ``Diagnostic`` inside a ``SpecError``.
"""

from __future__ import annotations

import io
import pickle
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from specops._errors import Diagnostic, SpecError
from specops._twins import load_twin
from specops._yaml_py import C_PARSER, MAX_DEPTH, MAX_NODES, YamlProblem, mark_position

__all__ = [
    "COMPILED",
    "C_PARSER",
    "IMPLEMENTATION",
    "LOAD_ERROR",
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_NODES",
    "PackedDocument",
    "Path",
    "YamlDocument",
    "decode_spec_bytes",
    "dump_roundtrip",
    "format_path",
    "load_documents",
    "load_roundtrip",
]

_impl, COMPILED, LOAD_ERROR = load_twin("specops._yaml_c", "specops._yaml_py", "compiled YAML walker")
IMPLEMENTATION: str = _impl.IMPLEMENTATION
_parse = _impl.parse

MAX_FILE_BYTES = 4 * 1024 * 1024
"""Spec files are small; a bigger file is data that belongs behind a uri."""

Path = tuple[str | int, ...]

@dataclass(slots=True)
class YamlDocument:
    """One YAML document: plain data and where each value and key came from."""

    data: Any
    index: int
    line: int
    column: int
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)
    raw: dict[Path, str] = field(default_factory=dict)
    """Numbers as written (``2026.10``), for hints that quote them."""

    def position(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        """Best known (line, column) for ``path``: its own, else its nearest ancestor's."""
        table = self.keys if key else self.values
        probe = tuple(path)
        while True:
            if probe in table:
                return table[probe]
            if key and probe in self.values:
                return self.values[probe]
            if not probe:
                return (self.line, self.column)
            probe = probe[:-1]


class PackedDocument:
    """A ``YamlDocument`` kept as pickled bytes until a position is needed.

    A spec's position tables hold a tuple per key and value (hundreds of
    small objects per file); the planner's cache hands documents over packed,
    so loading 10,000 unchanged specs allocates 10,000 of these instead.
    """

    __slots__ = ("blob", "column", "index", "line")

    def __init__(self, document: YamlDocument) -> None:
        self.index, self.line, self.column = document.index, document.line, document.column
        self.blob = pickle.dumps(document, protocol=pickle.HIGHEST_PROTOCOL)

    def __getstate__(self) -> tuple[int, int, int, bytes]:
        return (self.index, self.line, self.column, self.blob)

    def __setstate__(self, state: tuple[int, int, int, bytes]) -> None:
        self.index, self.line, self.column, self.blob = state

    def unpack(self) -> YamlDocument:
        document: YamlDocument = pickle.loads(self.blob)
        return document

    def position(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        return self.unpack().position(path, key=key)


def format_path(path: Path) -> str:
    """``("spec", "inputs", 0, "name")`` -> ``spec.inputs[0].name``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def decode_spec_bytes(raw: bytes, path: str, size: int | None = None) -> str:
    """Decode a spec file, rejecting what cannot be a spec before parsing it.

    ``size`` is the file's real size when the caller read only a prefix of it
    (a huge file is never read whole).
    """
    size = len(raw) if size is None else size
    if size > MAX_FILE_BYTES:
        raise SpecError.of(
            [
                Diagnostic(
                    path,
                    1,
                    1,
                    f"file is {size / 1048576:.1f} MiB; spec files are limited to "
                    f"{MAX_FILE_BYTES // 1048576} MiB",
                    hint="keep data and weights out of specs and reference them by uri and sha256",
                    code="too_large",
                )
            ]
        )
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        raise SpecError.of(
            [
                Diagnostic(
                    path,
                    line,
                    column,
                    f"file is not valid UTF-8 (byte 0x{raw[exc.start]:02x})",
                    hint="save the file as UTF-8",
                    code="encoding",
                )
            ]
        ) from None


def _yaml_error(path: str, text: str, exc: YAMLError) -> Diagnostic:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else 0
    column = mark.column + 1 if mark is not None else 0
    position = getattr(exc, "position", None)
    if mark is None and isinstance(position, int):  # a ReaderError knows only its offset
        before = text[:position]
        line = before.count("\n") + 1
        column = position - (before.rfind("\n") + 1) + 1
    at = ""
    if mark is not None:
        lines = text.split("\n", mark.line + 1)
        if mark.line < len(lines):
            at = lines[mark.line][mark.column : mark.column + 1]
    if isinstance(exc, MarkedYAMLError):
        message = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
    else:
        message = str(exc).splitlines()[0] if str(exc) else "invalid YAML"
    hint = ""
    if at == "\t" or "'\\t'" in message:
        message = "tab character where YAML expects indentation or a token"
        hint = "YAML does not allow tabs for indentation; use spaces"
    elif "found undefined alias" in message:
        hint = "define the anchor (&name) before using the alias (*name)"
    elif "mapping values are not allowed" in message:
        hint = "a value containing ': ' must be quoted, or the indentation is off"
    return Diagnostic(path, line, column, f"invalid YAML: {message}", hint=hint, code="yaml")


def _line_starts(text: str) -> list[int] | None:
    """Offsets of '\n' when the text has other characters libyaml breaks lines at."""
    if "\u2028" not in text and "\u2029" not in text and "\x85" not in text:
        return None
    return [i for i, c in enumerate(text) if c == "\n"]


def load_documents(text: str, path: str) -> list[YamlDocument]:
    """Parse every document in ``text``; empty documents (a stray ``---``) are skipped."""
    lines = _line_starts(text)
    try:
        parsed = _parse(text, lines)
    except YamlProblem as problem:
        raise SpecError.of(
            [Diagnostic(path, problem.line, problem.column, problem.message, hint=problem.hint, code="yaml")]
        ) from None
    except YAMLError as exc:
        diagnostic = _yaml_error(path, text, exc)
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        if lines is not None and mark is not None:
            line, column = mark_position(mark, lines)
            diagnostic = Diagnostic(
                path, line, column, diagnostic.message, hint=diagnostic.hint, code="yaml"
            )
        raise SpecError.of([diagnostic]) from None
    return [YamlDocument(*document) for document in parsed]


def load_roundtrip(text: str) -> Any:
    """Load with ruamel's round-trip loader, keeping comments and order for edits."""
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    return yaml.load(text)


def dump_roundtrip(data: Any) -> str:
    """Dump data loaded by ``load_roundtrip`` with its comments and layout."""
    yaml = YAML(typ="rt")
    stream = io.StringIO()
    yaml.dump(data, stream)
    return stream.getvalue()
