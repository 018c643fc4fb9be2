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
from typing import Any

__all__ = ["cuda_device_count", "runtime_info", "usable_providers"]

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


def choose_providers(wanted: list[str] | tuple[str, ...]) -> list[str]:
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
