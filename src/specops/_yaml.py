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

import io
import math
import re
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
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
    def __init__(self, node: Node | None, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.node = node
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


class _Walker:
    """Turns a composed node tree into plain data, recording positions."""

    __slots__ = ("keys", "nodes", "values")

    def __init__(self) -> None:
        self.values: dict[Path, tuple[int, int]] = {}
        self.keys: dict[Path, tuple[int, int]] = {}
        self.nodes = 0

    def walk(self, node: Node, path: Path, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _Problem(
                node,
                f"document expands to more than {MAX_NODES} values",
                "aliases (*name) are expanded where used; an alias bomb or a huge document "
                "cannot be a spec",
            )
        if depth > MAX_DEPTH:
            raise _Problem(node, f"document is nested deeper than {MAX_DEPTH} levels")
        mark = node.start_mark
        self.values[path] = (mark.line + 1, mark.column + 1)
        if isinstance(node, ScalarNode):
            return _scalar(node)
        if isinstance(node, SequenceNode):
            if node.tag != _TAG + "seq":
                raise _Problem(node, f"unsupported tag {node.tag!r}", "remove the tag")
            return [self.walk(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        if isinstance(node, MappingNode):
            if node.tag != _TAG + "map":
                raise _Problem(node, f"unsupported tag {node.tag!r}", "remove the tag")
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == _TAG + "merge":
                    raise _Problem(
                        key_node,
                        "merge keys (<<) are not supported",
                        "write the fields out; specs should read the same without YAML tricks",
                    )
                if not isinstance(key_node, ScalarNode):
                    raise _Problem(key_node, "mapping keys must be plain strings")
                key = _scalar(key_node)
                if not isinstance(key, str):
                    # YAML would make `1:` or `true:` a non-string key; specs never need one.
                    raise _Problem(
                        key_node,
                        f"mapping key {key_node.value!r} is not a string",
                        f'quote it: "{key_node.value}"',
                    )
                child = (*path, key)
                if key in out:
                    first = self.keys[child]
                    raise _Problem(
                        key_node,
                        f"duplicate key {key!r} (first defined at line {first[0]})",
                        "remove one of them; YAML would silently keep only the last",
                    )
                self.keys[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                out[key] = self.walk(value_node, child, depth + 1)
            return out
        raise _Problem(node, f"unsupported node {type(node).__name__}")  # pragma: no cover


_INFINITIES = {".inf": math.inf, "+.inf": math.inf, "-.inf": -math.inf}


def _scalar(node: ScalarNode) -> Any:
    tag = node.tag
    value = node.value
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
    raise _Problem(node, f"unsupported tag {tag!r}", "specs use plain YAML values; remove the tag")


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


def load_documents(text: str, path: str) -> list[YamlDocument]:
    """Parse every document in ``text``; empty documents (a stray ``---``) are skipped."""
    documents: list[YamlDocument] = []
    composer = _Composer(text)
    index = 0
    try:
        while composer.check_node():
            node = composer.get_node()
            if node is None:  # pragma: no cover - libyaml returns None only at stream end
                break
            walker = _Walker()
            if (
                isinstance(node, ScalarNode)
                and node.tag == _TAG + "null"
                and node.value in ("", "~")
            ):
                index += 1
                continue  # an empty document
            try:
                data = walker.walk(node, (), 0)
            except _Problem as problem:
                mark = problem.node.start_mark if problem.node is not None else node.start_mark
                raise SpecError.of(
                    [
                        Diagnostic(
                            path,
                            mark.line + 1,
                            mark.column + 1,
                            problem.message,
                            hint=problem.hint,
                            code="yaml",
                        )
                    ]
                ) from None
            documents.append(
                YamlDocument(
                    data,
                    index,
                    node.start_mark.line + 1,
                    node.start_mark.column + 1,
                    walker.values,
                    walker.keys,
                )
            )
            index += 1
    except YAMLError as exc:
        raise SpecError.of([_yaml_error(path, text, exc)]) from None
    except RecursionError:
        raise SpecError.of(
            [Diagnostic(path, 0, 0, "document is nested too deeply to parse", code="yaml")]
        ) from None
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
