"""Pure-Python twin of the compiled YAML event walker (``csrc/_yaml_c.pyx``).

libyaml's C parser (``ruamel.yaml.clib``'s ``CParser``) emits events; the
walker below turns one text's events into plain Python data plus a map from
field path to position, checking as it goes what cannot be a spec:
duplicate keys (naming the first one's line), non-string keys, merge keys,
alias expansion beyond ``MAX_NODES`` (alias bombs), nesting beyond
``MAX_DEPTH``, and tags other than YAML's plain ones. Scalars are typed by
YAML 1.2's implicit rules, read once from ruamel's own resolver table
(``yes`` stays a string, ``0o17`` is 15, ``1e3`` a float), so a plain
``1.0`` resolves the way ruamel's loaders resolve it.

Both twins answer ``parse(text, lines)`` with the same documents, and fail
with the same ``YamlProblem`` (message, hint, line, column) or the same
ruamel ``YAMLError`` (libyaml's own syntax errors); ``tests/test_yaml_twins.py``
checks it with Hypothesis over random documents. ``specops._yaml`` picks one
(``SPECOPS_PURE_PYTHON=1`` forces this one) and owns the diagnostics.
"""

from __future__ import annotations

import bisect
import math
import re
from typing import Any

from ruamel.yaml.events import (
    AliasEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from ruamel.yaml.resolver import implicit_resolvers

try:  # the compiled parser; ruamel's pure one is the (slower) fallback
    from ruamel.yaml.cyaml import CParser as _CParser  # type: ignore[attr-defined]

    C_PARSER = True
except ImportError:  # pragma: no cover - only without ruamel.yaml.clib
    C_PARSER = False

__all__ = [
    "C_PARSER",
    "IMPLEMENTATION",
    "MAX_DEPTH",
    "MAX_NODES",
    "RESOLVERS",
    "TAG",
    "Document",
    "YamlProblem",
    "mark_position",
    "new_parser",
    "parse",
    "resolve",
    "scalar_value",
    "short_tag",
]

IMPLEMENTATION = "python"

MAX_NODES = 100_000
"""Values one document may expand to, aliases included (stops alias bombs)."""

MAX_DEPTH = 64
"""Nesting depth of one document."""

TAG = "tag:yaml.org,2002:"
_STR = TAG + "str"
_INT_RE = re.compile(r"[-+]?[0-9]+\Z")
_INFINITIES = {".inf": math.inf, "+.inf": math.inf, "-.inf": -math.inf}

Document = tuple[Any, int, int, int, dict[Any, tuple[int, int]], dict[Any, tuple[int, int]], dict[Any, str]]
"""One non-empty document: (data, index, line, column, value positions, key positions, numbers as written)."""


def _resolver_table() -> dict[str | None, list[tuple[str, re.Pattern[str]]]]:
    """YAML 1.2's implicit resolvers by a scalar's first character, from ruamel's own table.

    ruamel's ``VersionedResolver`` builds the same lists per parser instance
    (and compares ``Tag`` objects); plain tag strings and compiled patterns
    resolve the same, once per process.
    """
    table: dict[str | None, list[tuple[str, re.Pattern[str]]]] = {}
    for versions, tag, regexp, first in implicit_resolvers:
        if (1, 2) not in versions:
            continue
        pattern = re.compile(regexp.pattern, regexp.flags)
        for char in first if first is not None else [None]:
            table.setdefault(char, []).append((tag, pattern))
    anywhere = table.pop(None, [])
    return {char: [*entries, *anywhere] for char, entries in table.items()} | {None: anywhere}


RESOLVERS = _resolver_table()


def resolve(value: str, plain: bool) -> str:
    """The tag of an untagged (or ``!``-tagged) scalar: YAML 1.2 implicit typing of a plain one."""
    if plain:
        for tag, pattern in RESOLVERS.get(value[:1], RESOLVERS[None]):
            if pattern.match(value):
                return tag
    return _STR


class YamlProblem(Exception):
    """What the walker refuses, located (1-based line and column)."""

    def __init__(self, line: int, column: int, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.line = line
        self.column = column
        self.message = message
        self.hint = hint


def mark_position(mark: Any, lines: list[int] | None) -> tuple[int, int]:
    """1-based (line, column) of a libyaml mark.

    ``lines`` (the offsets of '\\n') is given when the text has U+2028,
    U+2029 or U+0085, which libyaml counts as line breaks but editors and git
    do not: the position is recounted from the mark's offset.
    """
    if lines is None:
        return (mark.line + 1, mark.column + 1)
    line = bisect.bisect_right(lines, mark.index - 1)
    start = lines[line - 1] + 1 if line else 0
    return (line + 1, mark.index - start + 1)


def short_tag(tag: str) -> str:
    """``tag:yaml.org,2002:binary`` -> ``!!binary``, as the user wrote it."""
    return "!!" + tag[len(TAG) :] if tag.startswith(TAG) else tag


def _not_a_number(tag: str, value: str) -> tuple[str, str]:
    return (
        f"{short_tag(tag)} value {value!r} is not a number",
        "write the number without stray underscores or prefixes, or quote it to keep a string",
    )


def scalar_value(tag: str, value: str) -> Any:
    """The Python value of a resolved scalar; ``ValueError`` with (message, hint) if it has none."""
    if tag == _STR:
        return value
    if tag == TAG + "int":
        text = value.replace("_", "")
        try:
            if _INT_RE.match(text):
                return int(text, 10)
            return int(text, 0)
        except ValueError:
            raise ValueError(*_not_a_number(tag, value)) from None
    if tag == TAG + "float":
        text = value.replace("_", "").lower()
        if text in _INFINITIES:
            return _INFINITIES[text]
        if text in (".nan", "+.nan", "-.nan"):
            return math.nan
        try:
            return float(text)
        except ValueError:
            raise ValueError(*_not_a_number(tag, value)) from None
    if tag == TAG + "bool":
        return value.lower() == "true"
    if tag == TAG + "null":
        return None
    if tag == TAG + "timestamp":
        # Keep the text; the schema decides whether it is a date.
        return value
    raise ValueError(
        f"unsupported tag {short_tag(tag)}", "specs use plain YAML values; remove the tag"
    )


if C_PARSER:

    def new_parser(text: str) -> Any:
        """libyaml's event parser over ``text``."""
        return _CParser(text)

else:  # pragma: no cover
    from ruamel.yaml.parser import Parser as _PyParser
    from ruamel.yaml.reader import Reader as _Reader
    from ruamel.yaml.resolver import VersionedResolver
    from ruamel.yaml.scanner import Scanner as _Scanner

    class _PyEvents(_Reader, _Scanner, _PyParser, VersionedResolver):
        def __init__(self, text: str) -> None:
            _Reader.__init__(self, text, loader=self)
            _Scanner.__init__(self, loader=self)
            _PyParser.__init__(self, loader=self)
            VersionedResolver.__init__(self, version=(1, 2), loader=self)

    def new_parser(text: str) -> Any:
        return _PyEvents(text)


class _Problem(Exception):
    def __init__(self, mark: Any, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.mark = mark
        self.message = message
        self.hint = hint


class _Frame:
    __slots__ = ("anchor", "container", "key", "path", "start_nodes")

    def __init__(self, container: Any, path: tuple[Any, ...], anchor: str | None, start_nodes: int) -> None:
        self.container = container
        self.path = path
        self.anchor = anchor
        self.start_nodes = start_nodes
        self.key: str | None = None


class _Walker:
    """Builds plain data from libyaml's events, recording positions.

    Iterative on purpose: composing nodes recursively (as ruamel does, in C)
    overflows the C stack on a few tens of thousands of nested brackets and
    kills the process; here nesting is a list, and the depth limit is checked
    as each level opens.
    """

    __slots__ = ("anchors", "keys", "lines", "nodes", "raw", "values")

    def __init__(self, lines: list[int] | None) -> None:
        self.values: dict[Any, tuple[int, int]] = {}
        self.keys: dict[Any, tuple[int, int]] = {}
        self.raw: dict[Any, str] = {}
        self.nodes = 0
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.lines = lines

    def mark(self, mark: Any) -> tuple[int, int]:
        return mark_position(mark, self.lines)

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
        while True:
            event = parser.get_event()
            mark = event.start_mark
            value: Any
            if isinstance(event, (MappingStartEvent, SequenceStartEvent)):
                mapping = isinstance(event, MappingStartEvent)
                expected = TAG + ("map" if mapping else "seq")
                if event.tag not in (None, "!", expected):
                    raise _Problem(mark, f"unsupported tag {short_tag(event.tag)}", "remove the tag")
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
                    tag = resolve(event.value, event.implicit[0])
                if stack and stack[-1].key is None and isinstance(stack[-1].container, dict):
                    self._key(stack[-1], event, tag)
                    continue
                if len(stack) > MAX_DEPTH:
                    raise _Problem(mark, f"document is nested deeper than {MAX_DEPTH} levels")
                self.count(mark)
                value = _scalar(tag, event.value, mark)
                path = self._child_path(stack)
                self.values[path] = self.mark(mark)
                if tag in (TAG + "int", TAG + "float"):
                    self.raw[path] = event.value
                if event.anchor is not None:
                    self.anchors[event.anchor] = (value, 1)
                if not stack:
                    return value, tag == TAG + "null" and event.value in ("", "~")
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
            raise _Problem(mark, f"unexpected YAML event {type(event).__name__}")  # pragma: no cover

    @staticmethod
    def _child_path(stack: list[_Frame]) -> tuple[Any, ...]:
        if not stack:
            return ()
        frame = stack[-1]
        if isinstance(frame.container, list):
            return (*frame.path, len(frame.container))
        assert frame.key is not None
        return (*frame.path, frame.key)

    def _key(self, frame: _Frame, event: Any, tag: str) -> None:
        mark = event.start_mark
        if tag == TAG + "merge":
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


def _scalar(tag: str, value: str, mark: Any) -> Any:
    try:
        return scalar_value(tag, value)
    except ValueError as exc:
        raise _Problem(mark, *exc.args) from None


def parse(text: str, lines: list[int] | None) -> list[Document]:
    """Every non-empty document of ``text``: a stray ``---`` is skipped but keeps its index.

    Raises ``YamlProblem`` for what the walker refuses, and ruamel's
    ``YAMLError`` for what libyaml cannot parse.
    """
    documents: list[Document] = []
    parser = new_parser(text)
    walker = _Walker(lines)
    index = 0
    try:
        parser.get_event()  # StreamStart
        while not parser.check_event(StreamEndEvent):
            parser.get_event()  # DocumentStart
            walker = _Walker(lines)
            data, empty = walker.document(parser)
            parser.get_event()  # DocumentEnd
            if not empty:
                line, column = walker.values.get((), (1, 1))
                documents.append((data, index, line, column, walker.values, walker.keys, walker.raw))
            index += 1
    except _Problem as problem:
        line, column = walker.mark(problem.mark)
        raise YamlProblem(line, column, problem.message, problem.hint) from None
    return documents
