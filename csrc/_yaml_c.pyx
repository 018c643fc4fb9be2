"""Compiled YAML event walker. Pure-Python twin: src/specops/_yaml_py.py.

The twin's docstring says what the walker does and checks; the two must
return the same documents and raise the same problems for every text
(tests/test_yaml_twins.py checks it with Hypothesis).

The twin reads libyaml's events through ruamel.yaml.clib's ``CParser``, which
builds a Python event object and two mark objects per event: most of a cold
parse. This version drives the very same libyaml build (the one linked into
``ruamel.yaml.clib``'s extension, found with ``dlsym``, so both twins parse
and fail identically, down to libyaml's own messages and marks) and reads
each event's C struct directly: a scalar becomes one ``str``, a position one
tuple. libyaml's own errors are raised as the same ruamel exceptions
``CParser`` raises. The stack is typed frames; plain scalars whose first
character rules out every implicit type skip the resolver's patterns.
"""

import sys

from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.stdlib cimport free, malloc
from libc.string cimport memset
from posix.dlfcn cimport RTLD_LOCAL, RTLD_NOW, dlerror, dlopen, dlsym

from ruamel.yaml.cyaml import CParser
from ruamel.yaml.parser import ParserError
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.scanner import ScannerError

from specops._yaml_py import (
    MAX_DEPTH as _MAX_DEPTH,
    MAX_NODES as _MAX_NODES,
    RESOLVERS,
    TAG,
    YamlProblem,
    mark_position,
    scalar_value,
    short_tag,
)

__all__ = ["IMPLEMENTATION", "parse"]

cdef extern from "_yaml_abi.h":
    ctypedef enum specops_yaml_error_t:
        YAML_MEMORY_ERROR "SPECOPS_YAML_MEMORY_ERROR"
        YAML_READER_ERROR "SPECOPS_YAML_READER_ERROR"
        YAML_SCANNER_ERROR "SPECOPS_YAML_SCANNER_ERROR"
    ctypedef enum yaml_event_type_t "specops_yaml_event_type_t":
        YAML_STREAM_END_EVENT "SPECOPS_YAML_STREAM_END_EVENT"
        YAML_ALIAS_EVENT "SPECOPS_YAML_ALIAS_EVENT"
        YAML_SCALAR_EVENT "SPECOPS_YAML_SCALAR_EVENT"
        YAML_SEQUENCE_START_EVENT "SPECOPS_YAML_SEQUENCE_START_EVENT"
        YAML_SEQUENCE_END_EVENT "SPECOPS_YAML_SEQUENCE_END_EVENT"
        YAML_MAPPING_START_EVENT "SPECOPS_YAML_MAPPING_START_EVENT"
        YAML_MAPPING_END_EVENT "SPECOPS_YAML_MAPPING_END_EVENT"
    ctypedef struct yaml_mark_t "specops_yaml_mark_t":
        size_t index
        size_t line
        size_t column
    ctypedef struct _alias_data:
        char *anchor
    ctypedef struct _scalar_data:
        char *anchor
        char *tag
        char *value
        size_t length
        int plain_implicit
    ctypedef struct _collection_data "specops_yaml_collection_start_t":
        char *anchor
        char *tag
    ctypedef union _event_data:
        _alias_data alias
        _scalar_data scalar
        _collection_data sequence_start
        _collection_data mapping_start
    ctypedef struct yaml_event_t "specops_yaml_event_t":
        yaml_event_type_t type
        _event_data data
        yaml_mark_t start_mark
    ctypedef struct yaml_parser_t "specops_yaml_parser_t":
        specops_yaml_error_t error
        const char *problem
        size_t problem_offset
        int problem_value
        yaml_mark_t problem_mark
        const char *context
        yaml_mark_t context_mark
    size_t PARSER_BYTES "SPECOPS_YAML_PARSER_BYTES"

ctypedef int (*_initialize_f)(yaml_parser_t *parser) nogil
ctypedef void (*_delete_f)(yaml_parser_t *parser) nogil
ctypedef void (*_input_f)(yaml_parser_t *parser, const unsigned char *text, size_t size) nogil
ctypedef int (*_parse_f)(yaml_parser_t *parser, yaml_event_t *event) nogil
ctypedef void (*_event_delete_f)(yaml_event_t *event) nogil
ctypedef void (*_version_f)(int *major, int *minor, int *patch) nogil

cdef _initialize_f _initialize = NULL
cdef _delete_f _delete = NULL
cdef _input_f _input = NULL
cdef _parse_f _parse_event = NULL
cdef _event_delete_f _event_delete = NULL

_clib = sys.modules[CParser.__module__]
_Mark = _clib.Mark


cdef void* _symbol(void* handle, const char* name) except NULL:
    cdef void* found = dlsym(handle, name)
    if found == NULL:
        raise ImportError(f"libyaml symbol {name.decode()} not found in {_clib.__file__}")
    return found


cdef int _bind() except -1:
    global _initialize, _delete, _input, _parse_event, _event_delete
    cdef bytes path = _clib.__file__.encode()
    cdef void* handle = dlopen(path, RTLD_NOW | RTLD_LOCAL)
    if handle == NULL:
        raise ImportError(f"cannot open {_clib.__file__}: {(<bytes>dlerror()).decode()}")
    _initialize = <_initialize_f>_symbol(handle, b"yaml_parser_initialize")
    _delete = <_delete_f>_symbol(handle, b"yaml_parser_delete")
    _input = <_input_f>_symbol(handle, b"yaml_parser_set_input_string")
    _parse_event = <_parse_f>_symbol(handle, b"yaml_parser_parse")
    _event_delete = <_event_delete_f>_symbol(handle, b"yaml_event_delete")
    # _yaml_abi.h declares the ABI of libyaml 0.1 and 0.2 (soname libyaml-0.so.2); a
    # later libyaml may lay its structs out otherwise: refuse it, and the twin runs.
    cdef int major = -1, minor = -1, patch = -1
    (<_version_f>_symbol(handle, b"yaml_get_version"))(&major, &minor, &patch)
    if major != 0 or minor not in (1, 2):
        raise ImportError(f"{_clib.__file__} holds libyaml {major}.{minor}.{patch}; the compiled walker "
                          "knows the ABI of libyaml 0.1 and 0.2 only")
    return 0


_bind()

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


cdef str _resolve(str value, bint plain):
    cdef list entries
    if plain:
        entries = _RESOLVERS.get(value[:1], _ANYWHERE)
        for tag, pattern in entries:
            if pattern.match(value) is not None:
                return tag
    return STR


cdef inline object _text(const char* value):
    """A NUL-terminated UTF-8 string of libyaml's (tag, anchor) as ``str``; NULL as None."""
    if value == NULL:
        return None
    return PyUnicode_DecodeUTF8(value, len(value), "strict")


class _Problem(Exception):
    def __init__(self, position, message, hint=""):
        super().__init__(message)
        self.position = position
        self.message = message
        self.hint = hint


cdef class _Events:
    """libyaml's parser over one text; ``event`` is the current event (freed on the next)."""

    cdef yaml_parser_t* parser
    cdef yaml_event_t* event
    cdef bint has_event
    cdef bytes source
    cdef object lines

    def __cinit__(self, str text, object lines):
        self.source = text.encode("utf-8")  # what CParser feeds libyaml (strict: a lone surrogate raises)
        self.lines = lines
        self.parser = <yaml_parser_t*>malloc(PARSER_BYTES)
        self.event = <yaml_event_t*>malloc(sizeof(yaml_event_t))
        if self.parser == NULL or self.event == NULL:
            raise MemoryError()
        memset(self.parser, 0, PARSER_BYTES)
        memset(self.event, 0, sizeof(yaml_event_t))
        if not _initialize(self.parser):
            raise MemoryError()
        _input(self.parser, <const unsigned char*><char*>self.source, len(self.source))

    def __dealloc__(self):
        if self.parser != NULL:
            if self.has_event:
                _event_delete(self.event)
            _delete(self.parser)
            free(self.parser)
        if self.event != NULL:
            free(self.event)

    cdef inline tuple position(self, yaml_mark_t mark):
        if self.lines is None:
            return (<Py_ssize_t>mark.line + 1, <Py_ssize_t>mark.column + 1)
        return mark_position(_Mark("<unicode string>", mark.index, mark.line, mark.column, None, None), self.lines)

    cdef int next(self) except -1:
        if self.has_event:
            _event_delete(self.event)
            self.has_event = False
        if _parse_event(self.parser, self.event) == 0:
            raise self.error()
        self.has_event = True
        return 0

    cdef object error(self):
        """libyaml's failure as the ruamel exception ``CParser`` raises for it."""
        cdef yaml_parser_t* p = self.parser
        if p.error == YAML_MEMORY_ERROR:
            return MemoryError()
        problem = p.problem.decode("utf-8") if p.problem != NULL else None
        if p.error == YAML_READER_ERROR:
            return ReaderError("<unicode string>", p.problem_offset, p.problem_value, "?", problem)
        context = context_mark = problem_mark = None
        if p.context != NULL:
            context = p.context.decode("utf-8")
            context_mark = _Mark(
                "<unicode string>", p.context_mark.index, p.context_mark.line, p.context_mark.column, None, None
            )
        if p.problem != NULL:
            problem_mark = _Mark(
                "<unicode string>", p.problem_mark.index, p.problem_mark.line, p.problem_mark.column, None, None
            )
        if p.error == YAML_SCANNER_ERROR:
            return ScannerError(context, context_mark, problem, problem_mark)
        return ParserError(context, context_mark, problem, problem_mark)


cdef object _scalar(str tag, str value, tuple position):
    if tag is STR or tag == STR:
        return value
    try:
        return scalar_value(tag, value)
    except ValueError as exc:
        raise _Problem(position, *exc.args) from None


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

    def __cinit__(self):
        self.values = {}
        self.keys = {}
        self.raw = {}
        self.anchors = {}
        self.nodes = 0

    cdef int count(self, tuple position, Py_ssize_t amount) except -1:
        self.nodes += amount
        if self.nodes > MAX_NODES:
            raise _Problem(
                position,
                f"document expands to more than {MAX_NODES} values",
                "aliases (*name) are expanded where used; an alias bomb or a huge document "
                "cannot be a spec",
            )
        return 0

    cdef tuple document(self, _Events events):
        """Consume one document's events (after DocumentStart); return (data, empty)."""
        cdef list stack = []
        cdef _Frame top = None
        cdef _Frame frame
        cdef yaml_event_t* event = events.event
        cdef yaml_event_type_t kind
        cdef object value, tag, text, anchor, size_obj
        cdef tuple path, position
        cdef bint mapping
        while True:
            events.next()
            kind = event.type
            position = events.position(event.start_mark)
            if kind == YAML_SCALAR_EVENT:
                text = PyUnicode_DecodeUTF8(event.data.scalar.value, event.data.scalar.length, "strict")
                tag = _text(event.data.scalar.tag)
                if tag is None or tag == "!":
                    tag = _resolve(text, event.data.scalar.plain_implicit == 1)
                if top is not None and top.is_map and top.key is None:
                    self._key(top, position, tag, text)
                    continue
                if len(stack) > MAX_DEPTH:
                    raise _Problem(position, f"document is nested deeper than {MAX_DEPTH} levels")
                self.count(position, 1)
                value = _scalar(tag, text, position)
                path = _child_path(top)
                self.values[path] = position
                if tag == INT or tag == FLOAT:
                    self.raw[path] = text
                anchor = _text(event.data.scalar.anchor)
                if anchor is not None:
                    self.anchors[anchor] = (value, 1)
                if top is None:
                    return (value, tag == NULL_TAG and (text == "" or text == "~"))
                _deliver(top, value)
                continue
            if kind == YAML_MAPPING_START_EVENT or kind == YAML_SEQUENCE_START_EVENT:
                mapping = kind == YAML_MAPPING_START_EVENT
                if mapping:
                    tag = _text(event.data.mapping_start.tag)
                    anchor = _text(event.data.mapping_start.anchor)
                else:
                    tag = _text(event.data.sequence_start.tag)
                    anchor = _text(event.data.sequence_start.anchor)
                if tag is not None and tag != "!" and tag != (MAP if mapping else SEQ):
                    raise _Problem(position, f"unsupported tag {short_tag(tag)}", "remove the tag")
                if top is not None and top.is_map and top.key is None:
                    raise _Problem(position, "mapping keys must be plain strings")
                if len(stack) > MAX_DEPTH:
                    raise _Problem(position, f"document is nested deeper than {MAX_DEPTH} levels")
                self.count(position, 1)
                path = _child_path(top)
                self.values[path] = position
                top = _Frame({} if mapping else [], mapping, path, anchor, self.nodes)
                stack.append(top)
                continue
            if kind == YAML_MAPPING_END_EVENT or kind == YAML_SEQUENCE_END_EVENT:
                frame = stack.pop()
                value = frame.container
                if frame.anchor is not None:
                    self.anchors[frame.anchor] = (value, self.nodes - frame.start_nodes + 1)
                if not stack:
                    return (value, False)
                top = stack[len(stack) - 1]
                _deliver(top, value)
                continue
            if kind == YAML_ALIAS_EVENT:
                anchor = _text(event.data.alias.anchor)
                if anchor not in self.anchors:
                    raise _Problem(
                        position,
                        f"invalid YAML: found undefined alias *{anchor}",
                        "define the anchor (&name) before using the alias (*name)",
                    )
                if top is not None and top.is_map and top.key is None:
                    raise _Problem(position, "mapping keys must be plain strings")
                value, size_obj = self.anchors[anchor]
                self.count(position, size_obj)
                path = _child_path(top)
                self.values[path] = position
                if top is None:
                    return (value, False)
                _deliver(top, value)
                continue
            raise _Problem(position, f"unexpected YAML event {<int>kind}")

    cdef int _key(self, _Frame frame, tuple position, str tag, str text) except -1:
        if tag == MERGE:
            raise _Problem(
                position,
                "merge keys (<<) are not supported",
                "write the fields out; specs should read the same without YAML tricks",
            )
        key = _scalar(tag, text, position)
        if not isinstance(key, str):
            # YAML would make `1:` or `true:` a non-string key; specs never need one.
            raise _Problem(position, f"mapping key {text!r} is not a string", f'quote it: "{text}"')
        child = frame.path + (key,)
        if key in <dict>frame.container:
            first = self.keys[child]
            raise _Problem(
                position,
                f"duplicate key {key!r} (first defined at line {first[0]})",
                "remove one of them; YAML would silently keep only the last",
            )
        self.keys[child] = position
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
    cdef _Events events = _Events(text, lines)
    cdef _Walker walker
    cdef Py_ssize_t index = 0
    cdef tuple position
    try:
        events.next()  # StreamStart
        while True:
            events.next()  # DocumentStart, or StreamEnd
            if events.event.type == YAML_STREAM_END_EVENT:
                break
            walker = _Walker()
            data, empty = walker.document(events)
            events.next()  # DocumentEnd
            if not empty:
                position = walker.values.get((), (1, 1))
                documents.append(
                    (data, index, position[0], position[1], walker.values, walker.keys, walker.raw)
                )
            index += 1
    except _Problem as problem:
        raise YamlProblem(problem.position[0], problem.position[1], problem.message, problem.hint) from None
    return documents
