"""Serving benchmark: the example fraud scorer in-process vs through ``specops serve`` over HTTP.

Measured in one run, on the same model (``specs/artifacts/fraud-scorer-1.0.0.onnx``,
one row per request, one intra-op thread):

* in-process: ``session.run`` through ``specops._onnx``, at concurrency 1 and 16 (threads);
* HTTP: a ``specops serve`` subprocess on 127.0.0.1, Open Inference Protocol JSON requests
  on keep-alive connections from an asyncio client, at concurrency 1 and 16;
* p50 / p99 latency, throughput, and the server's overhead as a ratio to in-process;
* a version swap under steady load (1.0.0 -> 1.1.0, loaded beside, then activated, then a
  canary split and back): failed requests (must be 0) and the worst latency;
* issue 15's rows: ``specops serve`` without and with the example's guardrail (schema,
  ranges, size) and feature histograms (the model trained on the example dataset), each
  against a minimal Starlette + ONNX Runtime app (``bench/_minimal_app.py``) measured in the
  same run: c=1 p50 and c=16 throughput, medians of ``--rounds`` interleaved rounds;
* issue 15's MLP row: a 12-layer, 512-wide ReLU MLP (built here with ``onnx.helper``, one
  512-feature row per request, no guardrails) through ``specops serve`` against the same
  minimal app serving the same MLP: c=16 throughput, interleaved in the same rounds.

Run: ``python bench/bench_serve.py [--quick] [--requests N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _table import report

from specops import canonical_hash
from specops._onnx import load_session
from specops.spec import load_estate

ROOT = Path(__file__).resolve().parent.parent
ROW = [[73.3, 606.0, 2.0, 6.0, 49.5, 11.0, 12.3, 1.0]]


def _doc(kind: str, name: str) -> dict[str, Any]:
    estate = load_estate([ROOT / "specs"], root=ROOT)
    spec = estate.get(kind, name)
    assert spec is not None
    return spec.resource.canonical()


def _guarded_doc() -> tuple[dict[str, Any], bytes]:
    """The example model as it ships: its guardrail and the dataset it was trained on (histograms)."""
    doc = _doc("Model", "fraud-scorer")
    artifact = (ROOT / doc["spec"]["artifact"]["uri"]).read_bytes()
    doc["metadata"]["name"] = "fraud-guarded"
    doc["spec"].pop("rollout", None)
    doc["spec"]["targets"] = ["bench"]
    return doc, artifact


def _model_doc(version: str) -> tuple[dict[str, Any], bytes]:
    doc = _doc("Model", "fraud-scorer")
    artifact = (ROOT / "specs" / "artifacts" / f"fraud-scorer-{version}.onnx").read_bytes()
    doc["spec"]["version"] = version
    doc["spec"]["artifact"] = {"uri": f"specs/artifacts/fraud-scorer-{version}.onnx",
                               "sha256": hashlib.sha256(artifact).hexdigest()}
    # The benchmark measures serving, not the example's guardrails or rollout analysis.
    for key in ("guardrails", "rollout", "trainedOn"):
        doc["spec"].pop(key, None)
    doc["spec"]["targets"] = ["bench"]
    return doc, artifact


MLP_LAYERS, MLP_WIDTH = 12, 512
MLP_ROW = [[round(0.01 * ((i * 37) % 101) - 0.5, 2) for i in range(MLP_WIDTH)]]


def _mlp_artifact() -> bytes:
    """A 12x512 ReLU MLP (float32, fixed seed), ``x`` [-1, 512] -> ``y`` [-1, 512]."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(15)
    nodes, weights = [], []
    last = "x"
    for i in range(MLP_LAYERS):
        w = (rng.standard_normal((MLP_WIDTH, MLP_WIDTH)) / np.sqrt(MLP_WIDTH)).astype(np.float32)
        weights += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(np.zeros(MLP_WIDTH, np.float32), f"b{i}")]
        out = "y" if i == MLP_LAYERS - 1 else f"h{i}"
        nodes += [helper.make_node("MatMul", [last, f"w{i}"], [f"m{i}"]), helper.make_node("Add", [f"m{i}", f"b{i}"], [f"a{i}"])]
        nodes.append(helper.make_node("Relu", [f"a{i}"], [out]) if i < MLP_LAYERS - 1 else helper.make_node("Identity", [f"a{i}"], [out]))
        last = out
    graph = helper.make_graph(
        nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, MLP_WIDTH])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, MLP_WIDTH])], weights,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


def _mlp_doc(artifact: bytes) -> dict[str, Any]:
    doc = _doc("Model", "fraud-scorer")
    doc["metadata"]["name"] = "mlp"
    for key in ("guardrails", "rollout", "trainedOn"):
        doc["spec"].pop(key, None)
    doc["spec"]["targets"] = ["bench"]
    doc["spec"]["artifact"] = {"uri": "bench/mlp-12x512.onnx", "sha256": hashlib.sha256(artifact).hexdigest(),
                               "sizeBytes": len(artifact)}
    doc["spec"]["signature"] = {
        "inputs": [{"name": "x", "dtype": "float32", "shape": [-1, MLP_WIDTH]}],
        "outputs": [{"name": "y", "dtype": "float32", "shape": [-1, MLP_WIDTH]}],
    }
    return doc


def _summary(latencies: list[float], wall: float) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "p50_ms": ordered[len(ordered) // 2] * 1000,
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        "max_ms": ordered[-1] * 1000,
        "rps": len(ordered) / wall,
    }


def bench_in_process(artifact: bytes, requests: int, concurrency: int) -> dict[str, float]:
    session = load_session(artifact, ["CPUExecutionProvider"], intra_op_threads=1)
    feeds = {"features": np.asarray(ROW, dtype=np.float32)}
    for _ in range(50):
        session.run(feeds, ["probabilities"])
    per = requests // concurrency

    def worker(_: int) -> list[float]:
        out = []
        for _ in range(per):
            t = time.perf_counter()
            session.run(feeds, ["probabilities"])
            out.append(time.perf_counter() - t)
        return out

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        latencies = [x for chunk in pool.map(worker, range(concurrency)) for x in chunk]
    return _summary(latencies, time.perf_counter() - start)


def _request(path: str, body: bytes, extra: str = "") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{extra}\r\n"
    ).encode() + body


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes) -> int:
    writer.write(raw)
    status = int((await reader.readline()).split()[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


class Load:
    """Keep-alive connections sending the same inference request as fast as answers come."""

    def __init__(self, port: int, concurrency: int, model: str = "fraud-scorer", row: list[list[float]] | None = None,
                 tensor: str = "features") -> None:
        self.port = port
        self.concurrency = concurrency
        row = ROW if row is None else row
        body = orjson.dumps(
            {"inputs": [{"name": tensor, "datatype": "FP32", "shape": [len(row), len(row[0])], "data": row}]}
        )
        self.raw = _request(f"/v2/models/{model}/infer", body)
        self.latencies: list[tuple[float, float]] = []  # (start, seconds)
        self.failures = 0
        self.versions: dict[str, int] = {}

    async def worker(self, count: int | None, stop: asyncio.Event) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        done = 0
        while (count is None and not stop.is_set()) or (count is not None and done < count):
            t = time.perf_counter()
            try:
                status = await _exchange(reader, writer, self.raw)
            except (ConnectionError, asyncio.IncompleteReadError):
                status = 0
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            self.latencies.append((t, time.perf_counter() - t))
            if status != 200:
                self.failures += 1
            done += 1
        writer.close()

    async def run(self, requests: int) -> dict[str, float]:
        stop = asyncio.Event()
        start = time.perf_counter()
        per = requests // self.concurrency
        await asyncio.gather(*(self.worker(per, stop) for _ in range(self.concurrency)))
        return _summary([s for _, s in self.latencies], time.perf_counter() - start)


_WRK_SCRIPT = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = io.open(os.getenv("SPECOPS_BENCH_BODY"), "rb"):read("*a")
"""


def _wrk_seconds(text: str) -> float:
    """A wrk duration (``812.00us``, ``1.20ms``, ``2.01s``) in seconds."""
    for unit, scale in (("us", 1e-6), ("ms", 1e-3), ("s", 1.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * scale
    raise ValueError(f"wrk printed a duration it does not document: {text!r}")


def wrk_load(port: int, concurrency: int, seconds: float, model: str, row: list[list[float]],
             tensor: str) -> dict[str, float]:  # fmt: skip
    """Closed-loop load from wrk (one thread, ``concurrency`` keep-alive connections): req/s and p50.

    The C client costs a fraction of the asyncio client's CPU, so on a small
    machine the servers, not the client, set the pace. Non-2xx answers and
    socket errors count as failures.
    """
    body = orjson.dumps({"inputs": [{"name": tensor, "datatype": "FP32", "shape": [len(row), len(row[0])], "data": row}]})
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "body.json").write_bytes(body)
        (Path(tmp) / "post.lua").write_text(_WRK_SCRIPT)
        done = subprocess.run(
            ["wrk", "-t1", f"-c{concurrency}", f"-d{max(int(seconds), 1)}s", "--latency", "-s", str(Path(tmp) / "post.lua"),
             f"http://127.0.0.1:{port}/v2/models/{model}/infer"],
            capture_output=True, text=True, check=True, env={**os.environ, "SPECOPS_BENCH_BODY": str(Path(tmp) / "body.json")},
        )  # fmt: skip
    rps = p50 = float("nan")
    failures = 0
    for line in done.stdout.splitlines():
        words = line.split()
        if line.startswith("Requests/sec:"):
            rps = float(words[1])
        elif len(words) == 2 and words[0] == "50%":
            p50 = _wrk_seconds(words[1])
        elif line.strip().startswith("Non-2xx or 3xx responses:"):
            failures += int(words[-1])
        elif line.strip().startswith("Socket errors:"):
            failures += sum(int(w.rstrip(",")) for w in words[2:] if w.rstrip(",").isdigit())
    if rps != rps:
        raise RuntimeError(f"wrk printed no Requests/sec:\n{done.stdout}\n{done.stderr}")
    return {"rps": rps, "p50_ms": p50 * 1e3, "failures": failures}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Admin:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"

    def call(self, method: str, path: str, body: Any = None, raw: bytes | None = None) -> Any:
        data = raw if raw is not None else (orjson.dumps(body) if body is not None else None)
        request = urllib.request.Request(self.base + path, data=data, method=method)
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read() or b"{}")

    def revision(self) -> str:
        return str(self.call("GET", "/admin/v1/state")["revision"])

    def apply(self, version: str, activate: bool = True) -> None:
        doc, artifact = _model_doc(version)
        self.call("PUT", f"/admin/v1/artifacts/{doc['spec']['artifact']['sha256']}", raw=artifact)
        body = {"expected_revision": self.revision(), "spec": doc, "hash": canonical_hash(doc), "activate": activate}
        self.call("PUT", "/admin/v1/resources/Model/fraud-scorer", body)

    def put(self, doc: dict[str, Any], artifact: bytes | None = None) -> None:
        if artifact is not None:
            self.call("PUT", f"/admin/v1/artifacts/{hashlib.sha256(artifact).hexdigest()}", raw=artifact)
        body = {"expected_revision": self.revision(), "spec": doc, "hash": canonical_hash(doc), "activate": True}
        self.call("PUT", f"/admin/v1/resources/{doc['kind']}/{doc['metadata']['name']}", body)

    def traffic(self, weights: dict[str, int]) -> None:
        body = {"expected_revision": self.revision(), "weights": weights, "shadow": None}
        self.call("PUT", "/admin/v1/models/fraud-scorer/traffic", body)


async def bench_swap(port: int, admin: Admin, concurrency: int, seconds: float) -> dict[str, Any]:
    load = Load(port, concurrency)
    stop = asyncio.Event()
    workers = [asyncio.create_task(load.worker(None, stop)) for _ in range(concurrency)]
    loop = asyncio.get_running_loop()
    await asyncio.sleep(seconds / 4)
    swap_start = time.perf_counter()
    await loop.run_in_executor(None, admin.apply, "1.1.0", False)   # load beside, weight 0
    await loop.run_in_executor(None, admin.traffic, {"1.0.0": 90, "1.1.0": 10})
    await loop.run_in_executor(None, admin.apply, "1.1.0", True)    # activate: 100 % atomically
    await loop.run_in_executor(None, admin.traffic, {"1.0.0": 100, "1.1.0": 0})  # roll back
    swap_end = time.perf_counter()
    await asyncio.sleep(seconds / 4)
    stop.set()
    await asyncio.gather(*workers)
    during = [s for t, s in load.latencies if swap_start <= t <= swap_end]
    return {
        "requests": len(load.latencies),
        "failed": load.failures,
        "swap_s": swap_end - swap_start,
        "requests_during_swap": len(during),
        "worst_ms_during_swap": max(during, default=0.0) * 1000,
        "worst_ms_overall": max(s for _, s in load.latencies) * 1000,
        "p50_ms": statistics.median(s for _, s in load.latencies) * 1000,
    }


def bench_checks_per_request(artifact: bytes, number: int = 5000) -> dict[str, float]:
    """What the example's guardrail and feature histograms cost one request, in-process, against
    ``session.run`` of the model on the same row (best of 5 runs of ``number`` calls each). The
    histograms as the target keeps them: recorded with the request's observation (batched per
    minute, binned per batch), so the figure is their cost amortised over requests."""
    from specops.serve._guardrails import compile_guardrail
    from specops.serve._metrics import DEFAULT_BOUNDS_MS, FeatureStats
    from specops.serve._observe import Observations
    from specops.serve._target import _edges

    estate = load_estate([ROOT / "specs"], root=ROOT)
    guardrail = estate.get("Guardrail", "feature-ranges")
    dataset = estate.get("Dataset", "transactions")
    model = estate.get("Model", "fraud-scorer")
    assert guardrail is not None and dataset is not None and model is not None
    names = list(model.resource.spec.signature.inputs[0].features or [])
    compiled = compile_guardrail(guardrail.resource, {"transactions": dataset.resource}, lambda check: None)  # type: ignore[arg-type,return-value]
    stats = FeatureStats("features", names, [_edges(dataset.resource, n) for n in names])  # type: ignore[arg-type]
    session = load_session(artifact, ["CPUExecutionProvider"], intra_op_threads=1)
    feeds = {"features": np.asarray(ROW, dtype=np.float32)}
    produced = {"probabilities": session.run(feeds, ["probabilities"])[0]}
    features = {"features": names}
    observations = Observations(lambda model: list(DEFAULT_BOUNDS_MS))
    layout = [stats]

    def observe() -> None:
        observations.record("m", "1", layout, shadow=False, outcome="ok", ms=0.2, arrays=[feeds["features"]])

    def checks() -> None:
        observe()
        compiled.apply("input", feeds, features, [])
        compiled.apply("output", produced, {}, [])

    def best(fn: Any) -> float:
        times = []
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(number):
                fn()
            times.append((time.perf_counter() - start) / number)
        return min(times)

    run_s = best(lambda: session.run(feeds, ["probabilities"]))
    checks_s = best(checks)
    observe_s = best(observe)
    report("guardrail + feature histograms per request (in-process)", checks_s, "s",
           "session.run of the model", run_s, "0.05 ms")
    report("  of which the observation and feature histograms (amortised)", observe_s, "s",
           "session.run of the model", run_s)
    return {"checks_us": checks_s * 1e6, "observe_us": observe_s * 1e6, "session_run_us": run_s * 1e6}


def _wait_ready(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{base}/v2/health/ready", timeout=1).read()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"server did not start: {process.stderr.read().decode() if process.stderr else ''}") from None
            time.sleep(0.1)


def _start_minimal(artifact: bytes) -> tuple[subprocess.Popen[bytes], int, str]:
    port = _free_port()
    with tempfile.NamedTemporaryFile(suffix=".onnx", delete=False) as handle:
        handle.write(artifact)
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve().parent / "_minimal_app.py"), handle.name, str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    return process, port, handle.name


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads (Linux ``/proc``; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_against_minimal(port: int, pid: int, artifact: bytes, mlp: bytes, requests: int, rounds: int,
                          wrk_seconds: float = 0.0) -> dict[str, Any]:  # fmt: skip
    """Issue 15's serving rows: c=1 p50 and c=16 throughput of specops (bare and guarded) and of
    the minimal app, and c=16 throughput of the MLP through both, every case interleaved round by
    round (rotating which goes first); medians, and the median of each round's ratio (cases of
    one round run back to back, so a burst of load elsewhere on the machine moves both).

    Also the server's CPU time per request at c=16 (its process, every thread): the load client
    shares the machine's cores, and other work may too, so throughput moves with what else
    runs; CPU per request moves much less, and tells what each server spends on a request."""
    minimal, minimal_port, minimal_file = _start_minimal(artifact)
    minimal_mlp, mlp_port, mlp_file = _start_minimal(mlp)
    # name: (port, model in the path, row, input tensor, whether c=1 is measured too)
    cases: dict[str, tuple[int, str, list[list[float]], str, bool]] = {
        "minimal": (minimal_port, "minimal", ROW, "features", True),
        "specops": (port, "fraud-scorer", ROW, "features", True),
        "guarded": (port, "fraud-guarded", ROW, "features", True),
        "mlp_minimal": (mlp_port, "minimal", MLP_ROW, "x", False),
        "mlp_specops": (port, "mlp", MLP_ROW, "x", False),
    }
    pids = {"minimal": minimal.pid, "specops": pid, "guarded": pid, "mlp_minimal": minimal_mlp.pid, "mlp_specops": pid}
    seen: dict[str, dict[str, list[float]]] = {k: {"p50_ms": [], "rps": [], "cpu_us": []} for k in cases}
    failed = 0
    try:
        _wait_ready(f"http://127.0.0.1:{minimal_port}", minimal)
        _wait_ready(f"http://127.0.0.1:{mlp_port}", minimal_mlp)
        for p, model, row, tensor, _ in cases.values():
            asyncio.run(Load(p, 4, model, row, tensor).run(200))  # warm every connection path alike
        order = list(cases)
        for r in range(rounds):
            shift = r % len(order)
            for name in order[shift:] + order[:shift]:  # each case first in turn: no order bias
                p, model, row, tensor, c1 = cases[name]
                if wrk_seconds:
                    if c1:
                        one_wrk = wrk_load(p, 1, wrk_seconds, model, row, tensor)
                        seen[name]["p50_ms"].append(one_wrk["p50_ms"])
                        failed += int(one_wrk["failures"])
                    cpu = _cpu_seconds(pids[name])
                    many_wrk = wrk_load(p, 16, wrk_seconds, model, row, tensor)
                    seen[name]["rps"].append(many_wrk["rps"])
                    served = max(many_wrk["rps"] * wrk_seconds, 1.0)
                    seen[name]["cpu_us"].append((_cpu_seconds(pids[name]) - cpu) / served * 1e6)
                    failed += int(many_wrk["failures"])
                    continue
                if c1:
                    one = Load(p, 1, model, row, tensor)
                    seen[name]["p50_ms"].append(asyncio.run(one.run(requests))["p50_ms"])
                    failed += one.failures
                many = Load(p, 16, model, row, tensor)
                cpu = _cpu_seconds(pids[name])
                seen[name]["rps"].append(asyncio.run(many.run(requests))["rps"])
                seen[name]["cpu_us"].append((_cpu_seconds(pids[name]) - cpu) / requests * 1e6)
                failed += many.failures
    finally:
        for process, file in ((minimal, minimal_file), (minimal_mlp, mlp_file)):
            process.terminate()
            process.wait(timeout=30)
            os.unlink(file)
    out = {k: {m: statistics.median(v) if v else float("nan") for m, v in d.items()} for k, d in seen.items()}
    base = out["minimal"]
    client = f"wrk, {wrk_seconds:g} s per case" if wrk_seconds else f"asyncio client, {requests} requests per case"
    print(f"issue 15 rows: medians of {rounds} interleaved rounds, {client}")
    report("target, c=1 p50, no guardrails", out["specops"]["p50_ms"] / 1e3, "s",
           "minimal Starlette + ORT app", base["p50_ms"] / 1e3)
    report("target, c=1 p50, example guardrail + feature histograms", out["guarded"]["p50_ms"] / 1e3, "s",
           "specops without them", out["specops"]["p50_ms"] / 1e3,
           "at most +0.05 ms")
    report("target, c=16 throughput, no guardrails", out["specops"]["rps"], "req/s",
           "minimal Starlette + ORT app", base["rps"], "0.8x")
    report("target, c=16 throughput, example guardrail + feature histograms", out["guarded"]["rps"], "req/s",
           "minimal Starlette + ORT app", base["rps"], "0.7x")
    report(f"target, {MLP_LAYERS}x{MLP_WIDTH} MLP, c=16 throughput", out["mlp_specops"]["rps"], "req/s",
           "minimal Starlette + ORT app, same MLP", out["mlp_minimal"]["rps"], "0.95x")
    print(f"  guardrails and histograms add {out['guarded']['p50_ms'] - out['specops']['p50_ms']:+.3f} ms at c=1 p50; "
          f"{failed} failed requests")
    rounds_ratio = {
        name: statistics.median(a / b for a, b in zip(seen[name]["rps"], seen[base_name]["rps"], strict=True))
        for name, base_name in (("specops", "minimal"), ("guarded", "minimal"), ("mlp_specops", "mlp_minimal"))
    }
    print("  c=16 throughput, median of the rounds' ratios: "
          + ", ".join(f"{name} {ratio:.3g}x" for name, ratio in rounds_ratio.items()))
    print("  server CPU per request at c=16 (median): "
          + ", ".join(f"{name} {out[name]['cpu_us']:.0f} us" for name in cases)
          + f"; specops/minimal {out['specops']['cpu_us'] / out['minimal']['cpu_us']:.3g}x, "
          f"guarded/minimal {out['guarded']['cpu_us'] / out['minimal']['cpu_us']:.3g}x, "
          f"mlp {out['mlp_specops']['cpu_us'] / out['mlp_minimal']['cpu_us']:.3g}x")
    return {**out, "failed": failed, "round_ratios": rounds_ratio}


def bench_app_cpu(artifact: bytes, mlp: bytes, number: int, rounds: int) -> dict[str, float]:
    """Each app alone, in this process, without sockets or a load client: the CPU time of one
    inference request through the ASGI app (uvicorn's HTTP parsing, which both servers share,
    not included), the best of ``rounds`` interleaved runs of ``number`` requests. Of the
    serving figures this one moves least with other work on the machine."""
    import runpy

    from specops.serve._config import ServeConfig
    from specops.serve._server import build

    async def call(app: Any, method: str, path: str, body: bytes, status: int = 200) -> bytes:
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
            "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1), "root_path": "", "path": path,
            "raw_path": path.encode(), "query_string": b"", "state": {},
            "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode())],
        }
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(scope, receive, send)
        assert sent[0]["status"] == status, sent
        return b"".join(m.get("body", b"") for m in sent[1:])

    state = tempfile.mkdtemp(prefix="specops-bench-asgi-")
    app, target = build(ServeConfig(state_dir=Path(state), name="bench", insecure_local=True))

    async def apply(doc: dict[str, Any], blob: bytes | None) -> None:
        if blob is not None:
            await call(app, "PUT", f"/admin/v1/artifacts/{hashlib.sha256(blob).hexdigest()}", blob)
        revision = orjson.loads(await call(app, "GET", "/admin/v1/state", b""))["revision"]
        body = {"expected_revision": revision, "spec": doc, "hash": canonical_hash(doc), "activate": True}
        await call(app, "PUT", f"/admin/v1/resources/{doc['kind']}/{doc['metadata']['name']}", orjson.dumps(body))

    async def setup() -> None:
        await apply(_model_doc("1.0.0")[0], artifact)
        await apply(_doc("Dataset", "transactions"), None)
        await apply(_doc("Guardrail", "feature-ranges"), None)
        await apply(*_guarded_doc())
        await apply(_mlp_doc(mlp), mlp)

    asyncio.run(setup())
    minimal: dict[str, Any] = {}
    for name, blob in (("small", artifact), ("mlp", mlp)):
        with tempfile.NamedTemporaryFile(suffix=".onnx", delete=False) as handle:
            handle.write(blob)
        argv = sys.argv
        sys.argv = ["_minimal_app.py", handle.name, "0"]
        try:
            minimal[name] = runpy.run_path(str(Path(__file__).resolve().parent / "_minimal_app.py"))["app"]
        finally:
            sys.argv = argv
            os.unlink(handle.name)

    def body(row: list[list[float]], tensor: str) -> bytes:
        return orjson.dumps({"inputs": [{"name": tensor, "datatype": "FP32", "shape": [len(row), len(row[0])], "data": row}]})

    small, wide = body(ROW, "features"), body(MLP_ROW, "x")
    cases = {
        "minimal": (minimal["small"], "/v2/models/minimal/infer", small, 1),
        "specops": (app, "/v2/models/fraud-scorer/infer", small, 1),
        "guarded": (app, "/v2/models/fraud-guarded/infer", small, 1),
        "mlp_minimal": (minimal["mlp"], "/v2/models/minimal/infer", wide, 10),
        "mlp_specops": (app, "/v2/models/mlp/infer", wide, 10),
    }

    async def run(case: tuple[Any, str, bytes, int]) -> float:
        handler, path, raw, slower = case
        for _ in range(50):
            await call(handler, "POST", path, raw)
        count = max(10, number // slower)
        start = time.process_time()  # every thread: a version may run in the executor
        for _ in range(count):
            await call(handler, "POST", path, raw)
        return (time.process_time() - start) / count

    best: dict[str, float] = {}
    try:
        for _ in range(rounds):
            for name, case in cases.items():
                best[name] = min(best.get(name, float("inf")), asyncio.run(run(case)))
    finally:
        target.executor.shutdown(wait=True)
    report("app alone (ASGI, no sockets), CPU per request, no guardrails", best["specops"], "s",
           "minimal app alone", best["minimal"])
    report("app alone, CPU per request, example guardrail + feature histograms", best["guarded"], "s",
           "minimal app alone", best["minimal"])
    report(f"app alone, CPU per request, {MLP_LAYERS}x{MLP_WIDTH} MLP", best["mlp_specops"], "s",
           "minimal app alone, same MLP", best["mlp_minimal"])
    return {k: v * 1e6 for k, v in best.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few requests (a smoke run)")
    parser.add_argument("--requests", type=int, help="requests per case (default 4000, quick 480)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds of the issue's rows")
    parser.add_argument("--client", choices=("auto", "wrk", "asyncio"), default="auto",
                        help="load client of the issue's rows (auto: wrk when it is on PATH)")
    args, _ = parser.parse_known_args()
    requests = args.requests or (480 if args.quick else 4000)

    _, artifact = _model_doc("1.0.0")
    results: dict[str, Any] = {"requests_per_case": requests}
    results["checks_per_request"] = bench_checks_per_request(artifact, 500 if args.quick else 5000)
    results["app_cpu_us"] = bench_app_cpu(artifact, _mlp_artifact(), 300 if args.quick else 3000, 2 if args.quick else 5)
    for c in (1, 16):
        results[f"in_process_c{c}"] = bench_in_process(artifact, requests, c)

    port = _free_port()
    state = tempfile.mkdtemp(prefix="specops-bench-")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "specops", "serve", "--port", str(port), "--state-dir", state,
         "--name", "bench", "--insecure-local", "--token-env", "SPECOPS_BENCH_NO_TOKEN"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        admin = Admin(port)
        _wait_ready(admin.base, server)
        admin.apply("1.0.0")
        admin.put(_doc("Dataset", "transactions"))
        admin.put(_doc("Guardrail", "feature-ranges"))
        admin.put(*_guarded_doc())
        mlp = _mlp_artifact()
        admin.put(_mlp_doc(mlp), mlp)
        use_wrk = args.client == "wrk" or (args.client == "auto" and shutil.which("wrk") is not None)
        if not use_wrk:
            print("wrk is not on PATH: the issue's rows use the asyncio client, which shares the cores with the servers")
        results["issue15"] = bench_against_minimal(
            port, server.pid, artifact, mlp, requests, 1 if args.quick else args.rounds,
            (1.0 if args.quick else 3.0) if use_wrk else 0.0,
        )
        for c in (1, 16):
            load = Load(port, c)
            results[f"http_c{c}"] = asyncio.run(load.run(requests))
            results[f"http_c{c}"]["failed"] = load.failures
        results["swap_under_load_c16"] = asyncio.run(bench_swap(port, admin, 16, 1.0 if args.quick else 4.0))
    finally:
        server.terminate()
        server.wait(timeout=30)

    print(f"{'case':<16}{'p50 ms':>10}{'p99 ms':>10}{'req/s':>12}{'p50 x':>9}{'req/s x':>10}{'+p50 ms':>10}")
    for c in (1, 16):
        base, http = results[f"in_process_c{c}"], results[f"http_c{c}"]
        http["overhead_p50_ratio"] = http["p50_ms"] / base["p50_ms"]
        http["throughput_ratio"] = http["rps"] / base["rps"]
        http["overhead_p50_ms"] = http["p50_ms"] - base["p50_ms"]
        print(f"{f'in-process c{c}':<16}{base['p50_ms']:>10.3f}{base['p99_ms']:>10.3f}{base['rps']:>12.0f}")
        print(f"{f'http c{c}':<16}{http['p50_ms']:>10.3f}{http['p99_ms']:>10.3f}{http['rps']:>12.0f}"
              f"{http['overhead_p50_ratio']:>9.1f}{http['throughput_ratio']:>10.3f}{http['overhead_p50_ms']:>10.3f}")
    swap = results["swap_under_load_c16"]
    print(
        f"swap under load (c16): {swap['failed']} failed of {swap['requests']} requests; "
        f"{swap['requests_during_swap']} during the {swap['swap_s']:.2f} s swap, worst {swap['worst_ms_during_swap']:.1f} ms "
        f"(p50 {swap['p50_ms']:.2f} ms, worst overall {swap['worst_ms_overall']:.1f} ms)"
    )
    print(json.dumps(results, sort_keys=True))
    failed = swap["failed"] or results["issue15"]["failed"] or any(results[f"http_c{c}"]["failed"] for c in (1, 16))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
