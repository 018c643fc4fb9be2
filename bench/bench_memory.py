"""Memory of one large JSON inference request on ``specops serve`` (issue 11, item 4).

A ``specops serve`` subprocess on 127.0.0.1 serves the example fraud scorer
(float32 [-1, 8]); one request carries about ``--mb`` MB of JSON floats
(nested rows, as a client built from ``tolist()`` sends them). Reported:

* the server's idle resident memory (after loading the model and a warm-up request);
* its peak resident memory while it answers the large request (``VmHWM`` after
  resetting it through ``/proc/<pid>/clear_refs``; sampled ``VmRSS`` where that is refused);
* the peak as a ratio to the idle baseline, and the extra megabytes per body megabyte
  (the rest of the peak is the body itself, the tensor, the model's own intermediates and
  the answer, all bounded by the element limit);
* what decoding the request alone allocates (``tracemalloc``, in this process).

Measured on the 2-core development machine (idle server about 100 MB)::

    body                         before (JSON parsed whole)   after (data parsed into numpy)
    47.6 MB, 2.4M floats         347 MB peak (3.5x idle)      181 MB peak (1.8x idle)
    50.6 MB, 11.9M short floats  959 MB peak (9.6x idle)      322 MB peak (3.2x idle)

``--src DIR`` runs the server from another source tree (e.g. a checkout of an
earlier commit, with ``SPECOPS_PURE_PYTHON=1``) to compare before and after.

Run: ``python bench/bench_memory.py [--mb 50] [--src DIR]``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_serve import _model_doc  # noqa: E402

from specops import canonical_hash  # noqa: E402

TOKEN = "bench-memory-token"


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _call(url: str, method: str, path: str, body: Any = None, data: bytes | None = None, timeout: float = 600) -> Any:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    if body is not None:
        data = orjson.dumps(body)
    if data is not None:
        headers["Content-Type"] = "application/json" if body is not None else "application/octet-stream"
    request = urllib.request.Request(url + path, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return orjson.loads(response.read() or b"{}")


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for pid {pid}")


def _reset_peak(pid: int) -> bool:
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def body_of(mb: float, digits: int | None = None) -> tuple[bytes, int]:
    """About ``mb`` MB of nested float rows; ``digits``: rounded to that many decimals (shorter numbers)."""
    per_float = 20.5 if digits is None else digits + 3.2  # "0.123..., " vs "0.5,"
    rows = int(mb * 1e6 / (8 * per_float))
    values = np.random.default_rng(0).random((rows, 8)).astype(np.float32).astype(np.float64)
    if digits is not None:
        values = np.round(values, digits)
    body = {"inputs": [{"name": "features", "datatype": "FP32", "shape": [rows, 8], "data": values.tolist()}]}
    return orjson.dumps(body), rows


def measure(mb: float, src: Path | None = None, digits: int | None = None) -> dict[str, float]:
    """Idle and peak resident memory of a server answering one ``mb`` MB JSON request."""
    body, rows = body_of(mb, digits)
    env = {**os.environ, "SPECOPS_BENCH_TOKEN": TOKEN}
    if src is not None:
        env["PYTHONPATH"] = str(src)
    port = _port()
    with tempfile.TemporaryDirectory() as state:
        process = subprocess.Popen(
            [sys.executable, "-m", "specops", "serve", "--host", "127.0.0.1", "--port", str(port),
             "--name", "bench", "--state-dir", state, "--token-env", "SPECOPS_BENCH_TOKEN"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(600):
                try:
                    revision = _call(url, "GET", "/admin/v1/state", timeout=1)["revision"]
                    break
                except OSError:
                    time.sleep(0.1)
            doc, artifact = _model_doc("1.0.0")
            _call(url, "PUT", f"/admin/v1/artifacts/{hashlib.sha256(artifact).hexdigest()}", data=artifact)
            _call(url, "PUT", "/admin/v1/resources/Model/fraud-scorer",
                  {"expected_revision": revision, "spec": doc, "hash": canonical_hash(doc), "activate": True})  # fmt: skip
            small = {"inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 8], "data": [[1.0] * 8]}]}
            for _ in range(20):
                _call(url, "POST", "/v2/models/fraud-scorer/infer", small)
            time.sleep(0.5)
            idle = _status_kb(process.pid, "VmRSS")
            exact = _reset_peak(process.pid)
            sampled = [idle]
            done = threading.Event()

            def sample() -> None:
                while not done.wait(0.005):
                    sampled.append(_status_kb(process.pid, "VmRSS"))

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            started = time.perf_counter()
            answer = _call(url, "POST", "/v2/models/fraud-scorer/infer", data=body)
            seconds = time.perf_counter() - started
            done.set()
            sampler.join()
            assert answer["outputs"][0]["shape"] == [rows, 2], answer
            peak = _status_kb(process.pid, "VmHWM") if exact else max(sampled)
        finally:
            process.terminate()
            process.wait(30)
    return {
        "body_mb": len(body) / 1e6,
        "elements": rows * 8,
        "idle_mb": idle / 1024,
        "peak_mb": peak / 1024,
        "peak_over_idle": peak / idle,
        "extra_mb_per_body_mb": (peak - idle) / 1024 / (len(body) / 1e6),
        "seconds": seconds,
        "exact_peak": float(exact),
    }


def decode_peak(mb: float, digits: int | None = None) -> dict[str, float]:
    """Python-traced peak of decoding the same body in this process (``decode_request`` alone)."""
    import tracemalloc

    from specops.serve._codec import decode_request

    body, _ = body_of(mb, digits)
    buffer = bytearray(body)
    del body
    tracemalloc.start()
    request = decode_request(buffer, None, 1 << 24)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"decode_peak_mb": peak / 1e6, "array_mb": request.inputs[0].array.nbytes / 1e6}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=50.0, help="JSON body size in MB (default 50)")
    parser.add_argument("--src", type=Path, help="run the server from this source tree instead")
    parser.add_argument("--digits", type=int, help="round the floats to DIGITS decimals (more, shorter numbers)")
    parser.add_argument("--quick", action="store_true", help="a 10 MB body")
    args = parser.parse_args()
    mb = 10.0 if args.quick else args.mb
    result = measure(mb, args.src, args.digits)
    print(f"JSON body {result['body_mb']:.1f} MB ({result['elements']} float32 elements), "
          f"answered in {result['seconds']:.2f} s")  # fmt: skip
    print(f"  server idle RSS   {result['idle_mb']:8.1f} MB")
    print(f"  peak RSS          {result['peak_mb']:8.1f} MB  ({result['peak_over_idle']:.2f}x idle; "
          f"{result['extra_mb_per_body_mb']:.2f} MB per body MB; "
          f"{'VmHWM' if result['exact_peak'] else 'sampled VmRSS'})")  # fmt: skip
    if args.src is None:
        decode = decode_peak(mb, args.digits)
        print(f"  decoding alone    {decode['decode_peak_mb']:8.1f} MB traced (the tensor is {decode['array_mb']:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
