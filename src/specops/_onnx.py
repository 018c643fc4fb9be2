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
from typing import Any

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
    "load_session",
    "runtime_info",
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
