"""The baseline of bench_serve: about the smallest Starlette + ONNX Runtime app that answers the
same Open Inference Protocol request (no specs, guardrails, metrics or admin API), served by
uvicorn with the settings ``specops serve`` uses. Run: ``python bench/_minimal_app.py MODEL PORT``."""

from __future__ import annotations

import sys

import numpy as np
import onnxruntime as ort
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

options = ort.SessionOptions()
options.intra_op_num_threads = 1
session = ort.InferenceSession(sys.argv[1], options, providers=["CPUExecutionProvider"])
INPUT = session.get_inputs()[0].name
OUTPUTS = [o.name for o in session.get_outputs()]


async def infer(request: Request) -> Response:
    body = orjson.loads(await request.body())
    tensor = body["inputs"][0]
    array = np.asarray(tensor["data"], dtype=np.float32).reshape(tensor["shape"])
    results = session.run(OUTPUTS, {INPUT: array})
    outputs = [
        {"name": n, "datatype": "FP32", "shape": list(r.shape), "data": r.ravel().tolist()}
        for n, r in zip(OUTPUTS, results, strict=True)
    ]
    return Response(orjson.dumps({"model_name": "minimal", "outputs": outputs}), media_type="application/json")


async def ready(request: Request) -> Response:
    return Response(b"{}", media_type="application/json")


app = Starlette(routes=[Route("/v2/models/{name}/infer", infer, methods=["POST"]), Route("/v2/health/ready", ready)])

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), http="httptools", ws="none", lifespan="off",
                log_level="warning", access_log=False, server_header=False)
