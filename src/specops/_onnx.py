"""The one module that talks to ONNX Runtime.

ONNX Runtime's GPU build lists CUDAExecutionProvider as *available* even on
a machine without a GPU or driver, and asking for it there logs loud errors
before falling back. So we ask only for providers that can really load: a GPU
provider only when a CUDA driver answers with at least one device. Sessions
always report the providers they really got.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from specops._errors import SpecOpsError

__all__ = [
    "OnnxError",
    "OnnxInputError",
    "OnnxLoadError",
    "OnnxRunError",
    "Session",
    "TensorInfo",
    "choose_providers",
    "cuda_device_count",
    "graph_signature",
    "load_session",
    "runtime_info",
    "signature_problems",
    "usable_providers",
]

_GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")


@functools.cache
def cuda_device_count() -> int:
    """CUDA devices the driver reports; 0 without a driver (checked without ONNX Runtime)."""
    for name in ("libcuda.so.1", "libcuda.so", "nvcuda.dll"):
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        try:
            if lib.cuInit(0) != 0:
                return 0
            count = ctypes.c_int(0)
            if lib.cuDeviceGetCount(ctypes.byref(count)) != 0:
                return 0
            return int(count.value)
        except AttributeError:  # pragma: no cover - not a CUDA driver after all
            return 0
    return 0


def _ort() -> Any:
    import onnxruntime

    return onnxruntime


@functools.cache
def usable_providers() -> tuple[str, ...]:
    """Providers this build offers that can load here, in ONNX Runtime's preference order."""
    available = list(_ort().get_available_providers())
    gpus = cuda_device_count()
    return tuple(p for p in available if p not in _GPU_PROVIDERS or gpus > 0)


def choose_providers(wanted: Sequence[str]) -> list[str]:
    """The subset of ``wanted`` that can load here, in the spec's order, CPU always last resort."""
    usable = set(usable_providers())
    chosen = [p for p in wanted if p in usable]
    if "CPUExecutionProvider" not in chosen and "CPUExecutionProvider" in usable:
        chosen.append("CPUExecutionProvider")
    return chosen


def runtime_info() -> dict[str, Any]:
    ort = _ort()
    return {
        "version": ort.__version__,
        "device": ort.get_device(),
        "available_providers": list(ort.get_available_providers()),
        "usable_providers": list(usable_providers()),
        "cuda_devices": cuda_device_count(),
    }


def _identity_model() -> bytes:
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "specops-probe",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    # ONNX Runtime refuses the newest IR versions onnx writes by default.
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    return bytes(model.SerializeToString())


def probe_session() -> dict[str, Any]:
    """Load a one-node model with every usable provider; report what the session really got."""
    ort = _ort()
    try:
        options = ort.SessionOptions()
        options.log_severity_level = 3
        session = ort.InferenceSession(
            _identity_model(), sess_options=options, providers=list(usable_providers())
        )
        return {"ok": True, "providers": list(session.get_providers())}
    except Exception as exc:  # reported, not raised: doctor must always answer
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}


# -- sessions -----------------------------------------------------------------


class OnnxError(SpecOpsError):
    """ONNX Runtime refused a model or a run."""


class OnnxLoadError(OnnxError):
    """The bytes are not a model ONNX Runtime can load."""


class OnnxInputError(OnnxError):
    """ONNX Runtime rejected the inputs of a run (the caller's fault)."""


class OnnxRunError(OnnxError):
    """The model failed while running (the model's fault)."""


# ONNX Runtime's tensor type names -> the spec language's dtype names.
ORT_DTYPES: dict[str, str] = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(float16)": "float16",
    "tensor(bfloat16)": "bfloat16",
    "tensor(int8)": "int8",
    "tensor(int16)": "int16",
    "tensor(int32)": "int32",
    "tensor(int64)": "int64",
    "tensor(uint8)": "uint8",
    "tensor(uint16)": "uint16",
    "tensor(uint32)": "uint32",
    "tensor(uint64)": "uint64",
    "tensor(bool)": "bool",
    "tensor(string)": "string",
}

_GRAPH_LEVELS = {
    "disabled": "ORT_DISABLE_ALL",
    "basic": "ORT_ENABLE_BASIC",
    "extended": "ORT_ENABLE_EXTENDED",
    "all": "ORT_ENABLE_ALL",
}


@dataclass(frozen=True, slots=True)
class TensorInfo:
    """One input or output as the model declares it; ``None`` marks a dynamic dimension."""

    name: str
    dtype: str
    shape: tuple[int | None, ...]


class Session:
    """A loaded model: what it takes, what it gives, the providers it really got."""

    __slots__ = ("_errors", "_session", "inputs", "outputs", "providers")

    def __init__(self, session: Any) -> None:
        self._session = session
        self._errors = _input_error_types()
        self.providers: list[str] = list(session.get_providers())
        self.inputs = [_info(arg) for arg in session.get_inputs()]
        self.outputs = [_info(arg) for arg in session.get_outputs()]

    def run(self, feeds: dict[str, np.ndarray], outputs: list[str] | None = None) -> list[np.ndarray]:
        try:
            return list(self._session.run(outputs, feeds))
        except self._errors as exc:
            raise OnnxInputError(_first_line(exc)) from exc
        except Exception as exc:  # any other runtime failure is the model's
            raise OnnxRunError(f"{type(exc).__name__}: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@functools.cache
def _input_error_types() -> tuple[type[BaseException], ...]:
    from onnxruntime.capi import onnxruntime_pybind11_state as state

    return (state.InvalidArgument,)


def _info(arg: Any) -> TensorInfo:
    dtype = ORT_DTYPES.get(str(arg.type), str(arg.type))
    shape = tuple(d if isinstance(d, int) and d >= 0 else None for d in (arg.shape or ()))
    return TensorInfo(str(arg.name), dtype, shape)


def load_session(
    model: bytes,
    providers: Sequence[str] = ("CPUExecutionProvider",),
    *,
    intra_op_threads: int = 0,
    inter_op_threads: int = 0,
    graph_optimization: str = "all",
) -> Session:
    """Load ``model`` asking only for the wanted providers that can load here.

    Raises ``OnnxLoadError`` with ONNX Runtime's reason when the bytes are not
    a loadable model, or when none of the wanted providers is usable.
    """
    ort = _ort()
    chosen = choose_providers(list(providers))
    if not chosen:
        raise OnnxLoadError(
            f"none of the providers {list(providers)} can load here "
            f"(usable: {', '.join(usable_providers()) or 'none'})"
        )
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = inter_op_threads
    options.graph_optimization_level = getattr(
        ort.GraphOptimizationLevel, _GRAPH_LEVELS.get(graph_optimization, "ORT_ENABLE_ALL")
    )
    try:
        session = ort.InferenceSession(model, sess_options=options, providers=chosen)
    except Exception as exc:
        raise OnnxLoadError(f"not a model ONNX Runtime can load: {_first_line(exc)}") from exc
    return Session(session)


# -- the signature, as the spec declares it and as the model has it -----------


class DeclaredTensor(Protocol):
    """A tensor of a spec's signature (``specops.spec.TensorSpec``); -1 marks a dynamic dim."""

    @property
    def name(self) -> str: ...
    @property
    def dtype(self) -> str: ...
    @property
    def shape(self) -> Sequence[int]: ...


def signature_problems(
    inputs: Sequence[DeclaredTensor],
    outputs: Sequence[DeclaredTensor],
    have_inputs: Sequence[TensorInfo],
    have_outputs: Sequence[TensorInfo],
) -> list[str]:
    """Where a model's inputs and outputs differ from the declared signature, sorted.

    Names, dtypes, ranks and fixed dims; a dynamic dim on either side matches
    any size. The one wording, whether apply loads the model or validation
    reads the file before merge.
    """
    problems: list[str] = []
    for side, declared, actual in (("input", inputs, have_inputs), ("output", outputs, have_outputs)):
        have = {t.name: t for t in actual}
        want = {t.name: t for t in declared}
        for name in want.keys() - have.keys():
            problems.append(f"the model has no {side} {name!r} (it has {', '.join(have) or 'none'})")
        for name in have.keys() - want.keys():
            problems.append(f"the model's {side} {name!r} is not in the spec's signature")
        for name in want.keys() & have.keys():
            problems += _tensor_problems(side, want[name], have[name])
    return sorted(problems)


def _tensor_problems(side: str, spec: DeclaredTensor, info: TensorInfo) -> list[str]:
    out = []
    if spec.dtype != info.dtype:
        out.append(f"{side} {spec.name!r} is {info.dtype} in the model, {spec.dtype} in the spec")
    if len(spec.shape) != len(info.shape):
        out.append(f"{side} {spec.name!r} has rank {len(info.shape)} in the model, {len(spec.shape)} in the spec")
    else:
        for i, (want, got) in enumerate(zip(spec.shape, info.shape, strict=True)):
            if want != -1 and got is not None and want != got:
                out.append(f"{side} {spec.name!r} dimension {i} is {got} in the model, {want} in the spec")
    return out


def graph_signature(model: bytes) -> tuple[list[TensorInfo], list[TensorInfo]]:
    """The inputs and outputs of a serialized ONNX model, read with the onnx library.

    No session is built (nothing runs, no provider loads), and the types are
    named as ONNX Runtime names them, so a model's signature reads the same
    here and at apply: a skl2onnx ZipMap output is ``seq(map(int64,tensor(float)))``.
    Raises ``OnnxLoadError`` when the bytes are not an ONNX model.
    """
    from onnx import ModelProto

    proto = ModelProto()
    try:
        proto.ParseFromString(model)
    except Exception as exc:  # protobuf's DecodeError (untyped), or a RuntimeError from upb
        raise OnnxLoadError(f"not an ONNX model: {exc}") from exc
    if not proto.HasField("graph"):
        raise OnnxLoadError("not an ONNX model: it has no graph")
    graph = proto.graph
    initializers = {i.name for i in graph.initializer} | {i.name for i in graph.sparse_initializer}
    inputs = [_graph_info(v) for v in graph.input if v.name not in initializers]
    outputs = [_graph_info(v) for v in graph.output]
    return inputs, outputs


def _graph_info(value: Any) -> TensorInfo:
    kind = value.type.WhichOneof("value")
    shape: tuple[int | None, ...] = ()
    if kind == "tensor_type" and value.type.tensor_type.HasField("shape"):
        shape = tuple(
            d.dim_value if d.HasField("dim_value") else None
            for d in value.type.tensor_type.shape.dim
        )
    name = _type_name(value.type)
    return TensorInfo(str(value.name), ORT_DTYPES.get(name, name), shape)


def _type_name(proto: Any) -> str:
    """A TypeProto in ONNX Runtime's words: ``tensor(float)``, ``seq(map(int64,tensor(float)))``."""
    from onnx import helper

    kind = proto.WhichOneof("value")
    if kind == "tensor_type":
        return f"tensor({_elem_name(helper, proto.tensor_type.elem_type)})"
    if kind == "sparse_tensor_type":
        return f"sparse_tensor({_elem_name(helper, proto.sparse_tensor_type.elem_type)})"
    if kind == "sequence_type":
        return f"seq({_type_name(proto.sequence_type.elem_type)})"
    if kind == "map_type":
        key = _elem_name(helper, proto.map_type.key_type)
        return f"map({key},{_type_name(proto.map_type.value_type)})"
    if kind == "optional_type":
        return f"optional({_type_name(proto.optional_type.elem_type)})"
    return "unknown"


_ELEM_NAMES = {"FLOAT": "float", "DOUBLE": "double", "FLOAT16": "float16", "BFLOAT16": "bfloat16"}


def _elem_name(helper: Any, elem_type: int) -> str:
    try:
        name = str(helper.tensor_dtype_to_string(elem_type)).removeprefix("TensorProto.")
    except (KeyError, ValueError):
        return f"type{elem_type}"
    return _ELEM_NAMES.get(name, name.lower())
