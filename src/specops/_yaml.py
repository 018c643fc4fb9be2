"""The one place SpecOps talks to ruamel.yaml.

Specs are loaded on the fast path: libyaml's C composer (``ruamel.yaml.clib``)
builds a node tree that still carries line and column marks, and a small
walker below turns it into plain Python data plus a map from field path to
position. That is about five times faster than ruamel's C-backed safe loader
and twenty-five times faster than the round-trip loader, and, unlike either,
it reports duplicate keys with both lines, bounds alias expansion and depth,
and never constructs arbitrary tagged objects. The round-trip loader is kept
for edits that must preserve comments (``load_roundtrip``/``dump_roundtrip``).

Every failure becomes a located ``Diagnostic`` inside a ``SpecError``.
"""

from __future__ import annotations

import bisect
import io
import math
import pickle
import re
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.resolver import VersionedResolver

from specops._errors import Diagnostic, SpecError

try:  # the compiled composer; ruamel's pure one is the (slower) fallback
    from ruamel.yaml.cyaml import CParser as _Parser  # type: ignore[attr-defined]

    C_PARSER = True
except ImportError:  # pragma: no cover - only without ruamel.yaml.clib
    from ruamel.yaml.composer import Composer as _PyComposer
    from ruamel.yaml.parser import Parser as _PyParser
    from ruamel.yaml.reader import Reader as _Reader
    from ruamel.yaml.scanner import Scanner as _Scanner

    C_PARSER = False

__all__ = [
    "C_PARSER",
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

MAX_FILE_BYTES = 4 * 1024 * 1024
"""Spec files are small; a bigger file is data that belongs behind a uri."""

MAX_NODES = 100_000
"""Values one document may expand to, aliases included (stops alias bombs)."""

MAX_DEPTH = 64
"""Nesting depth of one document."""

Path = tuple[str | int, ...]

_TAG = "tag:yaml.org,2002:"
_INT_RE = re.compile(r"[-+]?[0-9]+\Z")


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


class _Problem(Exception):
    def __init__(self, mark: Any, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.mark = mark
        self.message = message
        self.hint = hint


if C_PARSER:

    class _Composer(_Parser, VersionedResolver):  # type: ignore[misc]
        """libyaml's composer with YAML 1.2 implicit typing (``yes`` stays a string)."""

        def __init__(self, text: str) -> None:
            _Parser.__init__(self, text)
            self._parser = self._composer = self
            VersionedResolver.__init__(self, version=(1, 2), loader=self)

else:  # pragma: no cover

    class _Composer(_Reader, _Scanner, _PyParser, _PyComposer, VersionedResolver):  # type: ignore[no-redef]
        def __init__(self, text: str) -> None:
            _Reader.__init__(self, text, loader=self)
            _Scanner.__init__(self, loader=self)
            _PyParser.__init__(self, loader=self)
            _PyComposer.__init__(self, loader=self)
            VersionedResolver.__init__(self, version=(1, 2), loader=self)


class _Frame:
    __slots__ = ("anchor", "container", "key", "key_mark", "path", "start_nodes")

    def __init__(self, container: Any, path: Path, anchor: str | None, start_nodes: int) -> None:
        self.container = container
        self.path = path
        self.anchor = anchor
        self.start_nodes = start_nodes
        self.key: str | None = None
        self.key_mark: tuple[int, int] = (0, 0)


class _Walker:
    """Builds plain data from libyaml's events, recording positions.

    Iterative on purpose: composing nodes recursively (as ruamel does, in C)
    overflows the C stack on a few tens of thousands of nested brackets and
    kills the process; here nesting is a list, and the depth limit is checked
    as each level opens.
    """

    __slots__ = ("anchors", "keys", "lines", "nodes", "raw", "resolver", "values")

    def __init__(self, resolver: Any, lines: list[int] | None) -> None:
        self.values: dict[Path, tuple[int, int]] = {}
        self.keys: dict[Path, tuple[int, int]] = {}
        self.raw: dict[Path, str] = {}
        self.nodes = 0
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.resolver = resolver
        self.lines = lines

    def mark(self, mark: Any) -> tuple[int, int]:
        if self.lines is None:
            return (mark.line + 1, mark.column + 1)
        # The text has U+2028/U+2029/U+0085, which libyaml counts as line
        # breaks but editors and git do not: recount from the offset.
        line = bisect.bisect_right(self.lines, mark.index - 1)
        start = self.lines[line - 1] + 1 if line else 0
        return (line + 1, mark.index - start + 1)

    def count(self, mark: Any, amount: int = 1) -> None:
        self.nodes += amount
        if self.nodes > MAX_NODES:
            raise _Problem(
                mark,
                f"document expands to more than {MAX_NODES} values",
                "aliases (*name) are expanded where used; an alias bomb or a huge document "
                "cannot be a spec",
            )

    def document(self, parser: Any) -> tuple[Any, bool]:
        """Consume one document's events (after DocumentStart); return (data, empty)."""
        stack: list[_Frame] = []
        root: Any = None
        while True:
            event = parser.get_event()
            mark = event.start_mark
            value: Any
            if isinstance(event, (MappingStartEvent, SequenceStartEvent)):
                mapping = isinstance(event, MappingStartEvent)
                expected = _TAG + ("map" if mapping else "seq")
                if event.tag not in (None, "!", expected):
                    raise _Problem(mark, f"unsupported tag {_short(event.tag)}", "remove the tag")
                if stack and stack[-1].key is None and isinstance(stack[-1].container, dict):
                    raise _Problem(mark, "mapping keys must be plain strings")
                if len(stack) > MAX_DEPTH:
                    raise _Problem(mark, f"document is nested deeper than {MAX_DEPTH} levels")
                self.count(mark)
                path = self._child_path(stack)
                self.values[path] = self.mark(mark)
                stack.append(_Frame({} if mapping else [], path, event.anchor, self.nodes))
                continue
            if isinstance(event, (MappingEndEvent, SequenceEndEvent)):
                frame = stack.pop()
                value = frame.container
                if frame.anchor is not None:
                    self.anchors[frame.anchor] = (value, self.nodes - frame.start_nodes + 1)
                if not stack:
                    return value, False
                self._deliver(stack[-1], value)
                continue
            if isinstance(event, ScalarEvent):
                tag = event.tag
                if tag is None or tag == "!":
                    tag = self.resolver.resolve(ScalarNode, event.value, event.implicit)
                if stack and stack[-1].key is None and isinstance(stack[-1].container, dict):
                    self._key(stack[-1], event, tag)
                    continue
                if len(stack) > MAX_DEPTH:
                    raise _Problem(mark, f"document is nested deeper than {MAX_DEPTH} levels")
                self.count(mark)
                value = _scalar(tag, event.value, mark)
                path = self._child_path(stack)
                self.values[path] = self.mark(mark)
                if tag in (_TAG + "int", _TAG + "float"):
                    self.raw[path] = event.value
                if event.anchor is not None:
                    self.anchors[event.anchor] = (value, 1)
                if not stack:
                    empty = tag == _TAG + "null" and event.value in ("", "~")
                    root = value
                    return root, empty
                self._deliver(stack[-1], value)
                continue
            if isinstance(event, AliasEvent):
                if event.anchor not in self.anchors:
                    raise _Problem(
                        mark,
                        f"invalid YAML: found undefined alias *{event.anchor}",
                        "define the anchor (&name) before using the alias (*name)",
                    )
                if stack and stack[-1].key is None and isinstance(stack[-1].container, dict):
                    raise _Problem(mark, "mapping keys must be plain strings")
                value, size = self.anchors[event.anchor]
                self.count(mark, size)
                path = self._child_path(stack)
                self.values[path] = self.mark(mark)
                if not stack:
                    return value, False
                self._deliver(stack[-1], value)
                continue
            raise _Problem(
                mark, f"unexpected YAML event {type(event).__name__}"
            )  # pragma: no cover

    @staticmethod
    def _child_path(stack: list[_Frame]) -> Path:
        if not stack:
            return ()
        frame = stack[-1]
        if isinstance(frame.container, list):
            return (*frame.path, len(frame.container))
        assert frame.key is not None
        return (*frame.path, frame.key)

    def _key(self, frame: _Frame, event: Any, tag: str) -> None:
        mark = event.start_mark
        if tag == _TAG + "merge":
            raise _Problem(
                mark,
                "merge keys (<<) are not supported",
                "write the fields out; specs should read the same without YAML tricks",
            )
        key = _scalar(tag, event.value, mark)
        if not isinstance(key, str):
            # YAML would make `1:` or `true:` a non-string key; specs never need one.
            raise _Problem(
                mark, f"mapping key {event.value!r} is not a string", f'quote it: "{event.value}"'
            )
        child = (*frame.path, key)
        if key in frame.container:
            first = self.keys[child]
            raise _Problem(
                mark,
                f"duplicate key {key!r} (first defined at line {first[0]})",
                "remove one of them; YAML would silently keep only the last",
            )
        self.keys[child] = self.mark(mark)
        frame.key = key

    @staticmethod
    def _deliver(frame: _Frame, value: Any) -> None:
        if isinstance(frame.container, list):
            frame.container.append(value)
        else:
            assert frame.key is not None
            frame.container[frame.key] = value
            frame.key = None


def _short(tag: str) -> str:
    """``tag:yaml.org,2002:binary`` -> ``!!binary``, as the user wrote it."""
    return "!!" + tag[len(_TAG) :] if tag.startswith(_TAG) else tag


_INFINITIES = {".inf": math.inf, "+.inf": math.inf, "-.inf": -math.inf}


def _scalar(tag: str, value: str, mark: Any) -> Any:
    if tag == _TAG + "str":
        return value
    if tag == _TAG + "int":
        text = value.replace("_", "")
        if _INT_RE.match(text):
            return int(text, 10)
        return int(text, 0)
    if tag == _TAG + "float":
        text = value.replace("_", "").lower()
        if text in _INFINITIES:
            return _INFINITIES[text]
        if text in (".nan", "+.nan", "-.nan"):
            return math.nan
        return float(text)
    if tag == _TAG + "bool":
        return value.lower() == "true"
    if tag == _TAG + "null":
        return None
    if tag == _TAG + "timestamp":
        # Keep the text; the schema decides whether it is a date.
        return value
    raise _Problem(
        mark, f"unsupported tag {_short(tag)}", "specs use plain YAML values; remove the tag"
    )


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
    documents: list[YamlDocument] = []
    parser = _Composer(text)
    lines = _line_starts(text)
    index = 0
    walker = _Walker(parser, lines)
    try:
        parser.get_event()  # StreamStart
        while not parser.check_event(StreamEndEvent):
            parser.get_event()  # DocumentStart
            walker = _Walker(parser, lines)
            data, empty = walker.document(parser)
            parser.get_event()  # DocumentEnd
            if not empty:
                line, column = walker.values.get((), (1, 1))
                documents.append(
                    YamlDocument(data, index, line, column, walker.values, walker.keys, walker.raw)
                )
            index += 1
    except _Problem as problem:
        line, column = walker.mark(problem.mark) if problem.mark is not None else (0, 0)
        raise SpecError.of(
            [Diagnostic(path, line, column, problem.message, hint=problem.hint, code="yaml")]
        ) from None
    except YAMLError as exc:
        diagnostic = _yaml_error(path, text, exc)
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        if lines is not None and mark is not None:
            line, column = walker.mark(mark)
            diagnostic = Diagnostic(
                path, line, column, diagnostic.message, hint=diagnostic.hint, code="yaml"
            )
        raise SpecError.of([diagnostic]) from None
    return documents


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
