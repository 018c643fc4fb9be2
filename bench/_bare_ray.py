"""The baseline for bench_ray.py: a plain Ray Serve deployment of an ONNX model, no SpecOps.

Imported by Ray's workers (bench_ray.py puts this directory on their PYTHONPATH).
It answers the same Open Inference Protocol JSON body with ONNX Runtime and nothing else.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnxruntime as ort
from ray import serve
from starlette.requests import Request


@serve.deployment(name="Bare")
class Bare:
    def __init__(self, path: str) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        self.session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        # Warm up (a broken export fails here, as it would on first use).
        self.session.run(None, {"features": np.zeros((1, 8), dtype=np.float32)})

    async def __call__(self, request: Request) -> dict[str, Any]:
        body = await request.json()
        tensor = body["inputs"][0]
        x = np.asarray(tensor["data"], dtype=np.float32).reshape(tensor["shape"])
        out = self.session.run(None, {"features": x})[0]
        return {"outputs": [{"name": "probabilities", "datatype": "FP32", "shape": list(out.shape),
                             "data": out.ravel().tolist()}]}  # fmt: skip


def app(args: dict[str, Any]) -> Any:
    return Bare.bind(args["path"])  # type: ignore[attr-defined]
