"""Open Inference Protocol v2 tensors: JSON requests and answers, plus the binary extension.

A tensor is ``{"name", "shape", "datatype", "data"}`` with ``data`` flat or
nested in row-major order. Triton's binary extension (which ``tritonclient``
uses by default) appends raw tensor bytes after the JSON header, whose length
is the ``Inference-Header-Content-Length`` header; each binary tensor says
its byte size in ``parameters.binary_data_size``. Every malformed request is
an ``HTTPError(400)`` that names the tensor and what was wrong.
"""

from __future__ import annotations

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


def _shape(raw: Any, where: str) -> tuple[int, ...]:
    if not isinstance(raw, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in raw
    ):
        raise _bad(f"{where}: shape must be a list of non-negative integers, got {raw!r}")
    if len(raw) > 16:
        raise _bad(f"{where}: shape has {len(raw)} dimensions; at most 16 are supported")
    return tuple(raw)


def _from_json(data: Any, datatype: str, shape: tuple[int, ...], where: str) -> np.ndarray:
    expected = int(np.prod(shape, dtype=np.int64)) if shape else 1
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
        elif target.kind in "iu":
            if kind not in "iu":
                raise _bad(f"{where}: {datatype} data must be integers, got {_what(kind)}")
            info = np.iinfo(target)
            low, high = inferred.min(), inferred.max()
            if low < info.min or high > info.max:
                raise _bad(f"{where}: a value is outside the range of {datatype} ({info.min}..{info.max})")
        elif kind not in "iuf":
            raise _bad(f"{where}: {datatype} data must be numbers, got {_what(kind)}")
        array = inferred.astype(target, copy=False).reshape(-1)
    if array.size != expected:
        raise _bad(
            f"{where}: shape {list(shape)} needs {expected} elements but data has {array.size}"
        )
    return array.reshape(shape)


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
    expected = int(np.prod(shape, dtype=np.int64)) if shape else 1
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


def decode_request(body: bytes, header_length: str | None, max_elements: int) -> InferRequest:
    """Parse an inference request (JSON, or JSON header + binary tensors)."""
    if header_length is not None:
        try:
            split = int(header_length)
        except ValueError:
            raise _bad("Inference-Header-Content-Length must be an integer") from None
        if not 0 < split <= len(body):
            raise _bad(f"Inference-Header-Content-Length {split} does not fit a {len(body)}-byte body")
        head, tail = body[:split], memoryview(body)[split:]
    else:
        head, tail = body, memoryview(b"")
    try:
        doc = orjson.loads(head)
    except orjson.JSONDecodeError as exc:
        raise _bad(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise _bad("the request body must be a JSON object with an 'inputs' list")
    request_id = doc.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise _bad("'id' must be a string")
    parameters = doc.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise _bad("'parameters' must be an object")
    raw_inputs = doc.get("inputs")
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
        where = f"input {name!r}"
        if name in seen:
            raise _bad(f"{where} is given twice")
        seen.add(name)
        datatype = raw.get("datatype")
        if datatype not in DATATYPES:
            known = ", ".join(DATATYPES)
            raise _bad(f"{where}: datatype {datatype!r} is not supported (one of {known})")
        shape = _shape(raw.get("shape"), where)
        elements = int(np.prod(shape, dtype=np.int64)) if shape else 1
        total += elements
        if total > max_elements:
            raise HTTPError(413, f"{where}: the request has more than {max_elements} elements in all")
        params = raw.get("parameters") or {}
        size = params.get("binary_data_size") if isinstance(params, dict) else None
        if size is not None:
            if not isinstance(size, int) or size < 0 or offset + size > len(tail):
                raise _bad(f"{where}: binary_data_size {size!r} does not fit the binary data sent")
            array = _from_binary(tail[offset : offset + size], datatype, shape, where)
            offset += size
        elif "data" in raw:
            array = _from_json(raw["data"], datatype, shape, where)
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
    return _NUMPY_TO_OIP.get(array.dtype, str(array.dtype).upper())


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
