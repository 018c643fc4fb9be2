"""Compiled YAML event walker. Pure-Python twin: src/specops/_yaml_py.py.

The twin's docstring says what the walker does and checks; the two must
return the same documents and raise the same problems for every text
(tests/test_yaml_twins.py checks it with Hypothesis). This version keeps the
stack as typed frames, dispatches on the exact event class, resolves plain
scalars without regular expressions where a scalar's first character rules
out every implicit type (most keys and strings), and builds position tuples
directly from the marks.
"""

import math

from ruamel.yaml.events import (
    AliasEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)

from specops._yaml_py import (
    MAX_DEPTH as _MAX_DEPTH,
    MAX_NODES as _MAX_NODES,
    RESOLVERS,
    TAG,
    YamlProblem,
    mark_position,
    new_parser,
    scalar_value,
    short_tag,
)

__all__ = ["IMPLEMENTATION", "parse"]

IMPLEMENTATION = "cython"

cdef Py_ssize_t MAX_NODES = _MAX_NODES
cdef Py_ssize_t MAX_DEPTH = _MAX_DEPTH
cdef str STR = TAG + "str"
cdef str INT = TAG + "int"
cdef str FLOAT = TAG + "float"
cdef str NULL_TAG = TAG + "null"
cdef str MERGE = TAG + "merge"
cdef str MAP = TAG + "map"
cdef str SEQ = TAG + "seq"
cdef dict _RESOLVERS = RESOLVERS
cdef list _ANYWHERE = RESOLVERS[None]
cdef object _ScalarEvent = ScalarEvent
cdef object _MappingStart = MappingStartEvent
cdef object _SequenceStart = SequenceStartEvent
cdef object _MappingEnd = MappingEndEvent
cdef object _SequenceEnd = SequenceEndEvent
cdef object _AliasEvent = AliasEvent
cdef object _StreamEnd = StreamEndEvent


cdef str _resolve(str value, object plain):
    cdef list entries
    if plain:
        entries = _RESOLVERS.get(value[:1], _ANYWHERE)
        for tag, pattern in entries:
            if pattern.match(value) is not None:
                return tag
    return STR


cdef object _scalar(str tag, str value, object mark):
    if tag is STR or tag == STR:
        return value
    try:
        return scalar_value(tag, value)
    except ValueError as exc:
        raise _Problem(mark, *exc.args) from None


class _Problem(Exception):
    def __init__(self, mark, message, hint=""):
        super().__init__(message)
        self.mark = mark
        self.message = message
        self.hint = hint


cdef class _Frame:
    cdef object container
    cdef bint is_map
    cdef tuple path
    cdef object anchor
    cdef Py_ssize_t start_nodes
    cdef object key  # the pending key of a mapping, None between entries

    def __cinit__(self, object container, bint is_map, tuple path, object anchor, Py_ssize_t start_nodes):
        self.container = container
        self.is_map = is_map
        self.path = path
        self.anchor = anchor
        self.start_nodes = start_nodes
        self.key = None


cdef class _Walker:
    cdef public dict values
    cdef public dict keys
    cdef public dict raw
    cdef dict anchors
    cdef Py_ssize_t nodes
    cdef object lines

    def __cinit__(self, object lines):
        self.values = {}
        self.keys = {}
        self.raw = {}
        self.anchors = {}
        self.nodes = 0
        self.lines = lines

    cdef tuple mark(self, object mark):
        if self.lines is None:
            return (mark.line + 1, mark.column + 1)
        return mark_position(mark, self.lines)

    cdef int count(self, object mark, Py_ssize_t amount) except -1:
        self.nodes += amount
        if self.nodes > MAX_NODES:
            raise _Problem(
                mark,
                f"document expands to more than {MAX_NODES} values",
                "aliases (*name) are expanded where used; an alias bomb or a huge document "
                "cannot be a spec",
            )
        return 0

    cdef tuple document(self, object parser):
        """Consume one document's events (after DocumentStart); return (data, empty)."""
        cdef list stack = []
        cdef _Frame top = None
        cdef _Frame frame
        cdef object event, cls, mark, value, tag, text, anchor, size_obj
        cdef tuple path
        cdef bint mapping
        get_event = parser.get_event
        while True:
            event = get_event()
            cls = type(event)
            mark = event.start_mark
            if cls is _ScalarEvent:
                tag = event.tag
                text = event.value
                if tag is None or tag == "!":
                    tag = _resolve(text, event.implicit[0])
                if top is not None and top.is_map and top.key is None:
                    self._key(top, mark, tag, text)
                    continue
                if len(stack) > MAX_DEPTH:
                    raise _Problem(mark, f"document is nested deeper than {MAX_DEPTH} levels")
                self.count(mark, 1)
                value = _scalar(tag, text, mark)
                path = _child_path(top)
                self.values[path] = self.mark(mark)
                if tag == INT or tag == FLOAT:
                    self.raw[path] = text
                anchor = event.anchor
                if anchor is not None:
                    self.anchors[anchor] = (value, 1)
                if top is None:
                    return (value, tag == NULL_TAG and (text == "" or text == "~"))
                _deliver(top, value)
                continue
            if cls is _MappingStart or cls is _SequenceStart:
                mapping = cls is _MappingStart
                tag = event.tag
                if tag is not None and tag != "!" and tag != (MAP if mapping else SEQ):
                    raise _Problem(mark, f"unsupported tag {short_tag(tag)}", "remove the tag")
                if top is not None and top.is_map and top.key is None:
                    raise _Problem(mark, "mapping keys must be plain strings")
                if len(stack) > MAX_DEPTH:
                    raise _Problem(mark, f"document is nested deeper than {MAX_DEPTH} levels")
                self.count(mark, 1)
                path = _child_path(top)
                self.values[path] = self.mark(mark)
                top = _Frame({} if mapping else [], mapping, path, event.anchor, self.nodes)
                stack.append(top)
                continue
            if cls is _MappingEnd or cls is _SequenceEnd:
                frame = stack.pop()
                value = frame.container
                if frame.anchor is not None:
                    self.anchors[frame.anchor] = (value, self.nodes - frame.start_nodes + 1)
                if not stack:
                    return (value, False)
                top = stack[len(stack) - 1]
                _deliver(top, value)
                continue
            if cls is _AliasEvent:
                anchor = event.anchor
                if anchor not in self.anchors:
                    raise _Problem(
                        mark,
                        f"invalid YAML: found undefined alias *{anchor}",
                        "define the anchor (&name) before using the alias (*name)",
                    )
                if top is not None and top.is_map and top.key is None:
                    raise _Problem(mark, "mapping keys must be plain strings")
                value, size_obj = self.anchors[anchor]
                self.count(mark, size_obj)
                path = _child_path(top)
                self.values[path] = self.mark(mark)
                if top is None:
                    return (value, False)
                _deliver(top, value)
                continue
            raise _Problem(mark, f"unexpected YAML event {cls.__name__}")

    cdef int _key(self, _Frame frame, object mark, str tag, str text) except -1:
        if tag == MERGE:
            raise _Problem(
                mark,
                "merge keys (<<) are not supported",
                "write the fields out; specs should read the same without YAML tricks",
            )
        key = _scalar(tag, text, mark)
        if not isinstance(key, str):
            # YAML would make `1:` or `true:` a non-string key; specs never need one.
            raise _Problem(mark, f"mapping key {text!r} is not a string", f'quote it: "{text}"')
        child = frame.path + (key,)
        if key in <dict>frame.container:
            first = self.keys[child]
            raise _Problem(
                mark,
                f"duplicate key {key!r} (first defined at line {first[0]})",
                "remove one of them; YAML would silently keep only the last",
            )
        self.keys[child] = self.mark(mark)
        frame.key = key
        return 0


cdef inline tuple _child_path(_Frame frame):
    if frame is None:
        return ()
    if frame.is_map:
        return frame.path + (frame.key,)
    return frame.path + (len(<list>frame.container),)


cdef inline void _deliver(_Frame frame, object value):
    if frame.is_map:
        (<dict>frame.container)[frame.key] = value
        frame.key = None
    else:
        (<list>frame.container).append(value)


def parse(str text, object lines):
    """Every non-empty document of ``text`` (see the twin's ``parse``)."""
    cdef list documents = []
    cdef _Walker walker = _Walker(lines)
    cdef Py_ssize_t index = 0
    cdef tuple position
    parser = new_parser(text)
    try:
        parser.get_event()  # StreamStart
        while not parser.check_event(_StreamEnd):
            parser.get_event()  # DocumentStart
            walker = _Walker(lines)
            data, empty = walker.document(parser)
            parser.get_event()  # DocumentEnd
            if not empty:
                position = walker.values.get((), (1, 1))
                documents.append(
                    (data, index, position[0], position[1], walker.values, walker.keys, walker.raw)
                )
            index += 1
    except _Problem as problem:
        position = walker.mark(problem.mark)
        raise YamlProblem(position[0], position[1], problem.message, problem.hint) from None
    return documents
