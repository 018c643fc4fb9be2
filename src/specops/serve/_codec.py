"""Open Inference Protocol v2 tensors: JSON requests and answers, plus the binary extension.

A tensor is ``{"name", "shape", "datatype", "data"}`` with ``data`` flat or
nested in row-major order. Triton's binary extension (which ``tritonclient``
uses by default) appends raw tensor bytes after the JSON header, whose length
is the ``Inference-Header-Content-Length`` header; each binary tensor says
its byte size in ``parameters.binary_data_size``. Every malformed request is
an ``HTTPError(400)`` that names the tensor and what was wrong.
"""

from __future__ import annotations

import functools
import math
import os
import re
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from specops.serve._errors import HTTPError

__all__ = [
    "DATATYPES",
    "SPEC_TO_OIP",
    "InferRequest",
    "Tensor",
    "decode_request",
    "encode_response",
]

# OIP datatype -> numpy dtype (BYTES are Python objects: str or bytes).
DATATYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
    "BYTES": np.dtype(object),
}

SPEC_TO_OIP: dict[str, str] = {
    "bool": "BOOL",
    "uint8": "UINT8",
    "uint16": "UINT16",
    "uint32": "UINT32",
    "uint64": "UINT64",
    "int8": "INT8",
    "int16": "INT16",
    "int32": "INT32",
    "int64": "INT64",
    "float16": "FP16",
    "float32": "FP32",
    "float64": "FP64",
    "bfloat16": "BF16",
    "string": "BYTES",
}

_NUMPY_TO_OIP = {v: k for k, v in DATATYPES.items() if k != "BYTES"}


@dataclass(slots=True)
class Tensor:
    name: str
    datatype: str
    shape: tuple[int, ...]
    array: np.ndarray


@dataclass(slots=True)
class InferRequest:
    id: str | None
    inputs: list[Tensor]
    outputs: list[tuple[str, bool]] | None  # (name, binary) when the caller chose
    binary_output: bool = False
    parameters: dict[str, Any] = field(default_factory=dict)
    key: str | None = None  # routes the request when it has no id (X-Request-Id)


def _bad(message: str) -> HTTPError:
    return HTTPError(400, message)


def _shape(raw: Any, where: str, max_elements: int) -> tuple[int, ...]:
    if type(raw) is list and len(raw) <= 16 and all(type(d) is int and 0 <= d <= max_elements for d in raw):
        return tuple(raw)  # the common case; anything else is looked at below, which says what is wrong
    if not isinstance(raw, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in raw
    ):
        raise _bad(f"{where}: shape must be a list of non-negative integers, got {_short(raw)}")
    if len(raw) > 16:
        raise _bad(f"{where}: shape has {len(raw)} dimensions; at most 16 are supported")
    for i, dim in enumerate(raw):
        # Checked one by one (Python integers, no int64 overflow): [0, 2**70] has no elements
        # but is no tensor numpy or ONNX Runtime can hold either.
        if dim > max_elements:
            raise HTTPError(
                413, f"{where}: shape dimension {i} is {_short(dim)}, more than the limit of {max_elements} elements"
            )
    return tuple(raw)


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _from_json(data: Any, datatype: str, shape: tuple[int, ...], where: str, booleans: bool = True) -> np.ndarray:
    """``data`` as an array of ``datatype`` and ``shape`` (``booleans``: whether the JSON may hold any)."""
    expected = math.prod(shape)
    nested: tuple[int, ...] = ()
    if datatype == "BYTES":
        flat = _flatten(data, where)
        if not all(isinstance(v, str) for v in flat):
            raise _bad(f"{where}: BYTES data must be strings")
        array = np.empty(len(flat), dtype=object)
        array[:] = flat
    else:
        try:
            inferred = np.asarray(data)
        except ValueError as exc:  # ragged nesting
            raise _bad(f"{where}: data is not a regular array ({exc})") from None
        kind = inferred.dtype.kind
        target = DATATYPES[datatype]
        if inferred.size == 0:
            kind = target.kind  # an empty list has no type to check
        elif datatype == "BOOL":
            if kind != "b":
                raise _bad(f"{where}: BOOL data must be true/false, got {inferred.dtype} values")
        elif kind in "iuf" and inferred.ndim and booleans and _has_bool(data):
            # numpy reads [false, 0] as integers; a number tensor takes numbers only (the
            # large-body path refuses the same token).
            raise _bad(f"{where}: {datatype} data must be numbers, got booleans")
        elif target.kind in "iu":
            if kind not in "iu":
                raise _bad(f"{where}: {datatype} data must be integers, got {_what(kind)}")
            info = np.iinfo(target)
            low, high = inferred.min(), inferred.max()
            if low < info.min or high > info.max:
                raise _bad(f"{where}: a value is outside the range of {datatype} ({info.min}..{info.max})")
        elif kind not in "iuf":
            raise _bad(f"{where}: {datatype} data must be numbers, got {_what(kind)}")
        nested = inferred.shape
        array = inferred.astype(target, copy=False).reshape(-1)
    if array.size != expected:
        raise _bad(
            f"{where}: shape {list(shape)} needs {expected} elements but data has {array.size}"
        )
    # numpy sees no deeper than the first empty level: [[]] is shape [1, 0, 0] nested exactly.
    empty_prefix = 0 in nested and nested == shape[: len(nested)]
    if len(nested) > 1 and nested != shape and not empty_prefix:
        raise _bad(
            f"{where}: data is nested as {list(nested)}, the shape is {list(shape)} "
            "(send data flat, or nested exactly as the shape)"
        )
    return array.reshape(shape)


def _has_bool(data: Any) -> bool:
    if isinstance(data, bool):
        return True
    return isinstance(data, list) and any(_has_bool(v) for v in data)


def _what(kind: str) -> str:
    return {"b": "booleans", "f": "floats", "U": "strings", "O": "mixed values"}.get(kind, kind)


def _flatten(data: Any, where: str) -> list[Any]:
    if not isinstance(data, list):
        return [data]
    out: list[Any] = []
    stack: list[Any] = [iter(data)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            out.append(item)
        else:
            stack.pop()
    return out


def _from_binary(raw: memoryview, datatype: str, shape: tuple[int, ...], where: str) -> np.ndarray:
    expected = math.prod(shape)
    if datatype == "BYTES":
        values: list[bytes] = []
        offset = 0
        while offset < len(raw):
            if offset + 4 > len(raw):
                raise _bad(f"{where}: truncated BYTES element length")
            (length,) = struct.unpack_from("<I", raw, offset)
            offset += 4
            if offset + length > len(raw):
                raise _bad(f"{where}: a BYTES element runs past the tensor's data")
            values.append(bytes(raw[offset : offset + length]))
            offset += length
        array = np.empty(len(values), dtype=object)
        try:
            array[:] = [v.decode("utf-8") for v in values]
        except UnicodeDecodeError:
            raise _bad(f"{where}: BYTES elements must be UTF-8 text") from None
    else:
        dtype = DATATYPES[datatype]
        if len(raw) != expected * dtype.itemsize:
            raise _bad(
                f"{where}: binary data is {len(raw)} bytes; shape {list(shape)} of {datatype} "
                f"needs {expected * dtype.itemsize}"
            )
        array = np.frombuffer(raw, dtype=dtype.newbyteorder("<")).astype(dtype, copy=False)
    if array.size != expected:
        raise _bad(f"{where}: shape {list(shape)} needs {expected} elements but data has {array.size}")
    return array.reshape(shape)


def _header_length(raw: str, body: int) -> int:
    text = raw.strip()
    if not text.isdigit() or len(text) > 19:
        raise _bad(f"Inference-Header-Content-Length {_short(raw)} must be a non-negative integer")
    split = int(text)
    if not 0 < split <= body:
        raise _bad(f"Inference-Header-Content-Length {split} does not fit a {body}-byte body")
    return split


# JSON headers above this size are split before parsing (below it, parsing whole costs little).
FAST_JSON_BYTES = 64 << 10
# The values a split request may hold outside its numeric data arrays (each is a Python object).
MAX_JSON_VALUES = 1 << 20

_DATA_KEY = re.compile(rb'"data"[ \t\r\n]*:[ \t\r\n]*\[')
_ARRAY_CHARS = re.compile(rb"[ \t\r\n0-9eE+\-.,\[\]truefals]*+")
_WS = rb"[ \t\r\n]*+"
_TOKENS = {
    "f": rb"-?+(?:0|[1-9][0-9]*+)(?:\.[0-9]++)?+(?:[eE][+\-]?+[0-9]++)?+",
    # At most 18 digits: parsed as int64 without overflow, range-checked after.
    "i": rb"-?+(?:0|[1-9][0-9]{0,17}+)(?![0-9])",
    "b": rb"(?:true|false)",
}


# Text is converted this many bytes at a time; floats are parsed at the width they are kept at.
_SLICE = 1 << 20
_PARSE_AS: dict[str, np.dtype[Any]] = {"FP16": np.dtype(np.float32), "FP32": np.dtype(np.float32), "FP64": np.dtype(np.float64)}


@functools.lru_cache(maxsize=64)
def _array_pattern(token: str, shape: tuple[int, ...]) -> re.Pattern[bytes]:
    """A JSON array of ``shape`` (nested exactly as the shape) of one kind of token, no backtracking."""

    def level(dims: tuple[int, ...]) -> bytes:
        if not dims:
            return _TOKENS[token]
        if dims[0] == 0:
            return rb"\[" + _WS + rb"\]"
        inner = level(dims[1:])
        return rb"\[" + _WS + inner + rb"(?:" + _WS + rb"," + _WS + inner + rb"){%d}+" % (dims[0] - 1) + _WS + rb"\]"

    return re.compile(rb"(?:" + level(shape) + rb")\Z")


def _kind(datatype: str) -> str | None:
    if datatype == "BOOL":
        return "b"
    if datatype in ("FP16", "FP32", "FP64"):
        return "f"
    if datatype == "BYTES":
        return None
    return "i"


@dataclass(slots=True)
class _Arrays:
    """A JSON document with its numeric ``"data": [...]`` arrays cut out (replaced by slot strings)."""

    skeleton: bytes | bytearray
    spans: list[tuple[int, int]]
    nonce: str
    source: bytes | bytearray = b""
    budget: int = MAX_JSON_VALUES

    @classmethod
    def split(cls, head: bytes | bytearray) -> _Arrays:
        nonce = os.urandom(8).hex()
        pieces: list[bytes | bytearray] = []
        spans: list[tuple[int, int]] = []
        pos = 0
        for match in _DATA_KEY.finditer(head):
            quote, start = match.start(), match.end() - 1
            if quote < pos:
                continue
            escapes = 0
            while quote - escapes > 0 and head[quote - escapes - 1] == 0x5C:  # backslash
                escapes += 1
            if escapes % 2:
                continue  # inside a string
            run = _ARRAY_CHARS.match(head, start)
            end = run.end() if run else start
            while end > start and head[end - 1] in b" \t\r\n,":
                end -= 1
            # Only a run of numbers, booleans and brackets that closes where it opened is cut
            # out; anything else (strings, objects) stays for the JSON parser, and counts below.
            if head[end - 1] != 0x5D or head.count(b"[", start, end) != head.count(b"]", start, end):
                continue
            pieces += [head[pos:start], b'"\\u0000%s:%d"' % (nonce.encode(), len(spans))]
            spans.append((start, end))
            pos = end
        pieces.append(head[pos:])
        skeleton = b"".join(pieces)
        arrays = cls(skeleton, spans, nonce, head)
        arrays.spend(skeleton)
        return arrays

    def spend(self, text: bytes | bytearray, start: int = 0, end: int | None = None) -> None:
        """Count the JSON values ``text[start:end]`` can hold against the budget, before anything parses it."""
        end = len(text) if end is None else end
        self.budget -= sum(text.count(c, start, end) for c in (b",", b"[", b"{")) + 1
        if self.budget < 0:
            raise HTTPError(
                413,
                f"the request holds more than {MAX_JSON_VALUES} JSON values outside its numeric "
                "'data' arrays (send large tensors as numbers, or with the binary extension)",
            )

    def is_slot(self, value: Any) -> bool:
        return bool(self.nonce) and isinstance(value, str) and value.startswith(f"\x00{self.nonce}:")

    def span(self, slot: str) -> memoryview:
        start, end = self.spans[int(slot.rpartition(":")[2])]
        return memoryview(self.source)[start:end]

    def restore(self, doc: Any) -> None:
        """Put back, as parsed JSON, every cut-out array that is not an input's data."""
        if not self.spans:
            return
        stack = [doc]
        while stack:
            node = stack.pop()
            items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
            for key, value in list(items):
                if self.is_slot(value):
                    start, end = self.spans[int(value.rpartition(":")[2])]
                    self.spend(self.source, start, end)
                    try:
                        node[key] = orjson.loads(memoryview(self.source)[start:end])
                    except orjson.JSONDecodeError as exc:
                        raise _bad(f"the request body is not valid JSON: {exc}") from None
                elif isinstance(value, dict | list):
                    stack.append(value)

    def parse(self, slot: str, datatype: str, shape: tuple[int, ...], where: str) -> np.ndarray:
        """A cut-out ``data`` array straight into numpy: checked against the shape, then converted in C."""
        text = self.span(slot)
        kind = _kind(datatype)
        if kind is None:
            raise _bad(f"{where}: BYTES data must be strings")
        expected = math.prod(shape)
        flat = (expected,) if expected else (0,)
        if not (_array_pattern(kind, flat).match(text) or (len(shape) > 1 and _array_pattern(kind, shape).match(text))):
            what = {"b": "true/false", "f": "numbers", "i": "integers (of at most 18 digits)"}[kind]
            raise _bad(
                f"{where}: data must be {expected} {what}, flat or nested exactly as shape {list(shape)} "
                f"({datatype})"
            )
        target = DATATYPES[datatype]
        parsed: np.ndarray = np.empty(expected, dtype=_PARSE_AS.get(datatype, np.dtype(np.int64)))
        # Converted a slice at a time (cut at commas): what it costs beyond the array is one slice.
        begin, stop = self.spans[int(slot.rpartition(":")[2])]
        filled = 0
        while begin < stop:
            cut = stop if stop - begin <= _SLICE else self.source.find(b",", begin + _SLICE, stop)
            cut = stop if cut < 0 else cut
            piece = bytes(self.source[begin:cut]).translate(None, b"[] \t\r\n")
            begin = cut + 1
            if kind == "b":
                piece = piece.replace(b"true", b"1").replace(b"false", b"0")
            if piece.strip(b","):
                values = np.fromstring(piece, dtype=parsed.dtype, sep=",")
                if filled + values.size > expected:  # pragma: no cover - the pattern counted them
                    break
                parsed[filled : filled + values.size] = values
                filled += values.size
        if filled != expected:  # pragma: no cover - the pattern counted them
            raise _bad(f"{where}: shape {list(shape)} needs {expected} elements but data has another count")
        if kind == "i" and expected:
            info = np.iinfo(target)
            if parsed.min() < info.min or parsed.max() > info.max:
                raise _bad(f"{where}: a value is outside the range of {datatype} ({info.min}..{info.max})")
        converted: np.ndarray = parsed.astype(target, copy=False).reshape(shape)
        return converted


def decode_request(body: bytes | bytearray, header_length: str | None, max_elements: int) -> InferRequest:
    """Parse an inference request (JSON, or JSON header + binary tensors).

    A large JSON header is split first (``_split``): numeric ``data`` arrays are
    cut out and parsed straight into numpy arrays once their tensor's shape and
    datatype were checked, so a request costs memory in proportion to its
    elements, not to the Python objects a JSON parser would build for them.
    """
    # Out-of-range values become inf or wrap as numpy casts them; they are the caller's data, not a fault.
    with np.errstate(all="ignore"):
        return _decode(body, header_length, max_elements)


_NO_TAIL = memoryview(b"")
_NO_ARRAYS = _Arrays(b"", [], "")


def _decode(body: bytes | bytearray, header_length: str | None, max_elements: int) -> InferRequest:
    if header_length is not None:
        view = memoryview(body)
        split = _header_length(header_length, len(body))
        head: bytes | bytearray = bytes(view[:split])
        tail = view[split:]
    else:
        head, tail = body, _NO_TAIL
    # A small header is parsed whole: nothing cut out (the common case, and the cheapest).
    arrays = _Arrays.split(head) if len(head) > FAST_JSON_BYTES else _NO_ARRAYS
    try:
        doc = orjson.loads(arrays.skeleton if arrays.spans else head)
    except orjson.JSONDecodeError as exc:
        raise _bad(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise _bad("the request body must be a JSON object with an 'inputs' list")
    raw_inputs = doc.get("inputs")
    data_slots: dict[int, Any] = {}
    if arrays.spans:
        if isinstance(raw_inputs, list):
            data_slots = {
                id(raw): raw.pop("data") for raw in raw_inputs if isinstance(raw, dict) and arrays.is_slot(raw.get("data"))
            }
        arrays.restore(doc)  # numeric arrays cut out anywhere else go back as JSON (bounded)
    # JSON booleans are looked for in the data only where the text holds one (a substring
    # search, where walking every element of every tensor costs more than parsing it).
    booleans = len(head) > FAST_JSON_BYTES or b"true" in head or b"false" in head
    request_id = doc.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise _bad("'id' must be a string")
    parameters = doc.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise _bad("'parameters' must be an object")
    if not isinstance(raw_inputs, list) or not raw_inputs:
        raise _bad("'inputs' must be a non-empty list of tensors")
    inputs: list[Tensor] = []
    offset = 0
    total = 0
    seen: set[str] = set()
    for i, raw in enumerate(raw_inputs):
        if not isinstance(raw, dict):
            raise _bad(f"inputs[{i}] must be an object with name, shape, datatype and data")
        name = raw.get("name")
        if not isinstance(name, str) or not name:
            raise _bad(f"inputs[{i}]: 'name' must be a non-empty string")
        where = f"input {name[:200]!r}"
        if name in seen:
            raise _bad(f"{where} is given twice")
        seen.add(name)
        datatype = raw.get("datatype")
        if not isinstance(datatype, str) or datatype not in DATATYPES:
            known = ", ".join(DATATYPES)
            raise _bad(f"{where}: datatype {_short(datatype)} is not supported (one of {known})")
        shape = _shape(raw.get("shape"), where, max_elements)
        elements = math.prod(shape)
        total += elements
        if total > max_elements:
            raise HTTPError(413, f"{where}: the request has more than {max_elements} elements in all")
        params = raw.get("parameters") or {}
        if not isinstance(params, dict):
            raise _bad(f"{where}: 'parameters' must be an object")
        size = params.get("binary_data_size")
        slot = data_slots.get(id(raw))
        if size is not None and (slot is not None or "data" in raw):
            raise _bad(f"{where}: both 'data' and parameters.binary_data_size are given; send one")
        if size is not None:
            if isinstance(size, bool) or not isinstance(size, int) or size < 0 or offset + size > len(tail):
                raise _bad(
                    f"{where}: parameters.binary_data_size {_short(size)} does not fit the "
                    f"{len(tail) - offset} bytes of binary data left"
                )
            array = _from_binary(tail[offset : offset + size], datatype, shape, where)
            offset += size
        elif slot is not None:
            array = arrays.parse(slot, datatype, shape, where)
        elif "data" in raw:
            array = _from_json(raw["data"], datatype, shape, where, booleans)
        else:
            raise _bad(f"{where}: 'data' is missing")
        inputs.append(Tensor(name, datatype, shape, array))
    if offset != len(tail):
        raise _bad(f"{len(tail) - offset} bytes of binary data belong to no input")
    outputs: list[tuple[str, bool]] | None = None
    binary_default = bool(parameters.get("binary_data_output", False))
    raw_outputs = doc.get("outputs")
    if raw_outputs is not None:
        if not isinstance(raw_outputs, list):
            raise _bad("'outputs' must be a list of {name} objects")
        outputs = []
        for i, raw in enumerate(raw_outputs):
            if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
                raise _bad(f"outputs[{i}] must be an object with a 'name'")
            params = raw.get("parameters") or {}
            binary = bool(params.get("binary_data", binary_default)) if isinstance(params, dict) else False
            outputs.append((raw["name"], binary))
    return InferRequest(request_id, inputs, outputs, binary_default, parameters)


def _oip_datatype(array: np.ndarray) -> str:
    if array.dtype.kind in "OUS":
        return "BYTES"
    return _NUMPY_TO_OIP.get(array.dtype) or str(array.dtype).upper()


def encode_response(
    model: str,
    version: str,
    request_id: str | None,
    outputs: list[tuple[str, np.ndarray, bool]],
    parameters: dict[str, Any] | None = None,
) -> tuple[bytes, int | None]:
    """The answer body, and the JSON header's length when binary tensors follow it."""
    tensors: list[dict[str, Any]] = []
    blobs: list[bytes] = []
    for name, array, binary in outputs:
        datatype = _oip_datatype(array)
        entry: dict[str, Any] = {"name": name, "datatype": datatype, "shape": list(array.shape)}
        if binary:
            if datatype == "BYTES":
                parts = [
                    (v if isinstance(v, bytes) else str(v).encode("utf-8")) for v in array.reshape(-1)
                ]
                blob = b"".join(struct.pack("<I", len(p)) + p for p in parts)
            else:
                blob = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
            entry["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        elif datatype == "BYTES":
            entry["data"] = [
                v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
                for v in array.reshape(-1)
            ]
        else:
            entry["data"] = np.ascontiguousarray(array).reshape(-1)
        tensors.append(entry)
    doc: dict[str, Any] = {"model_name": model, "model_version": version, "outputs": tensors}
    if request_id is not None:
        doc["id"] = request_id
    if parameters:
        doc["parameters"] = parameters
    head = orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY)
    if not blobs:
        return head, None
    return head + b"".join(blobs), len(head)
