"""Ray Serve benchmark: bare Ray Serve vs SpecOps on Ray (1 and 2 replicas) vs ``specops serve``.

One local Ray (``LocalRay``: 2 CPUs, token auth) and one ``specops serve`` on
this machine, the example fraud scorer (one row per request, one intra-op
thread), Open Inference Protocol JSON over keep-alive HTTP:

* requests/s, p50 and p99 at concurrency 1 and 16 for: a bare Ray Serve
  ONNX deployment (``bench/_bare_ray.py``), SpecOps' router on Ray with one
  router and one version replica, then two of each, and ``specops serve``;
* a broken version (it loads, every run fails: warm-up) applied under
  steady load: failed requests for bare Ray (1 replica, ``max_surge_percent:
  0``, its config PUT with the broken model) and for SpecOps on Ray (the
  version deployed beside, DEPLOY_FAILED, the last good config PUT again).

Run: ``python bench/bench_ray.py [--seconds S]`` (needs ``pip install 'specops[ray]'``).
The figures are printed as a JSON document; compare them as ratios (the
machine is shared and its absolute speed varies).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ROW = [73.3, 606.0, 2.0, 6.0, 49.5, 11.0, 12.3, 1.0]
BODY = {"inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 8], "data": ROW}]}


def _model_doc(version: str, artifact: bytes) -> dict[str, Any]:
    from specops.spec import load_estate

    estate = load_estate([ROOT / "specs"], root=ROOT)
    spec = estate.get("Model", "fraud-scorer")
    assert spec is not None
    doc = spec.resource.canonical()
    doc["spec"]["version"] = version
    doc["spec"]["artifact"] = {"uri": f"specs/artifacts/fraud-scorer-{version}.onnx", "sha256": hashlib.sha256(artifact).hexdigest()}
    for key in ("guardrails", "rollout", "trainedOn"):  # serving only, as the bare deployment
        doc["spec"].pop(key, None)
    doc["spec"]["runtime"]["providers"] = ["CPUExecutionProvider"]
    doc["spec"]["targets"] = ["bench"]
    from specops.spec import Model

    return Model.model_validate(doc).canonical()


def measure(url: str, concurrency: int, seconds: float) -> dict[str, float]:
    """Closed-loop load: ``concurrency`` threads, each on its own keep-alive connection."""
    stop = time.perf_counter() + seconds
    lat: list[float] = []
    failures = 0
    lock = threading.Lock()

    def worker(_: int) -> None:
        nonlocal failures
        with httpx.Client(timeout=30) as client:
            client.post(url, json=BODY)  # connect first
            while time.perf_counter() < stop:
                t = time.perf_counter()
                ok = client.post(url, json=BODY).status_code == 200
                with lock:
                    lat.append(time.perf_counter() - t)
                    failures += not ok

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(worker, range(concurrency)))
    wall = time.perf_counter() - start
    lat.sort()
    return {
        "rps": round(len(lat) / wall, 1),
        "p50_ms": round(lat[len(lat) // 2] * 1000, 2),
        "p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000, 2),
        "failures": failures,
    }


class Steady:
    """Steady load from 4 threads while something changes; what does not answer 200 within 2 s fails.

    (Ray queues requests while a deployment has no replica: without a timeout an outage
    shows as a stall, not as errors.)
    """

    def __init__(self, url: str) -> None:
        self.url, self.ok, self.failed = url, 0, 0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(4)]

    def _run(self) -> None:
        with httpx.Client(timeout=2) as client:
            while not self._stop.is_set():
                try:
                    good = client.post(self.url, json=BODY).status_code == 200
                except httpx.HTTPError:
                    good = False
                    time.sleep(0.01)
                if good:
                    self.ok += 1
                else:
                    self.failed += 1

    def __enter__(self) -> Steady:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(60)


def _bare_app(path: Path, surge: int) -> dict[str, Any]:
    return {
        "name": "bare", "route_prefix": "/bare", "import_path": "_bare_ray:app",
        "args": {"path": str(path)},
        "runtime_env": {"env_vars": {"PYTHONPATH": str(ROOT / "bench")}},
        "deployments": [{"name": "Bare", "num_replicas": 1, "max_surge_percent": surge,
                         "ray_actor_options": {"num_cpus": 0.1}}],
    }  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per measurement")
    args = parser.parse_args()

    from specops._core import canonical_hash
    from specops.apply._local import LocalTarget
    from specops.ray._local import LocalRay
    from specops.targets import AdminError, RayServeDriver
    from tests.helpers.models import unrunnable_model

    good = (ROOT / "specs/artifacts/fraud-scorer-1.0.0.onnx").read_bytes()
    broken = unrunnable_model()
    results: dict[str, Any] = {"seconds_per_measurement": args.seconds}
    with tempfile.TemporaryDirectory(prefix="bench-ray-") as tmp:
        work = Path(tmp)
        (work / "good.onnx").write_bytes(good)
        (work / "broken.onnx").write_bytes(broken)
        started = time.perf_counter()
        with LocalRay(work / "ray", num_cpus=2) as ray:
            results["ray_start_s"] = round(time.perf_counter() - started, 1)
            driver = RayServeDriver("bench", ray.url, ray.token_env, proxy_url=ray.proxy_url,
                                    artifact_dir=str(ray.artifact_dir), load_timeout=300)  # fmt: skip
            # Bare Ray Serve first (it keeps running beside SpecOps' applications: the driver
            # keeps applications it does not own in every PUT).
            driver._put([_bare_app(work / "good.onnx", 0)])
            driver._wait(["bare"], restore=None)
            bare_url = ray.proxy_url + "/bare"
            results["bare_ray"] = {f"c{c}": measure(bare_url, c, args.seconds) for c in (1, 16)}

            driver.acquire("bench", 600)
            doc = _model_doc("1.0.0", good)
            driver.upload(doc["spec"]["artifact"]["sha256"], good)
            driver.put_resource("Model", "fraud-scorer", doc, canonical_hash(doc), expected_revision="0")
            url = driver.inference_url("fraud-scorer")
            results["specops_ray_1"] = {f"c{c}": measure(url, c, args.seconds) for c in (1, 16)}

            from specops.spec import Model

            doc2 = Model.model_validate({**doc, "spec": {**doc["spec"], "scaling": {"replicas": 2}}}).canonical()
            revision = driver.live_state()["revision"]
            driver.router_replicas = 2
            driver.put_resource("Model", "fraud-scorer", doc2, canonical_hash(doc2), expected_revision=revision)
            results["specops_ray_2"] = {f"c{c}": measure(url, c, args.seconds) for c in (1, 16)}

            # A broken version under steady load.
            with Steady(url) as load:
                bad = _model_doc("1.3.0", broken)
                driver.upload(bad["spec"]["artifact"]["sha256"], broken)
                t = time.perf_counter()
                try:
                    driver.put_resource("Model", "fraud-scorer", bad, canonical_hash(bad),
                                        expected_revision=driver.live_state()["revision"], activate=False)  # fmt: skip
                    outcome = "applied (unexpected)"
                except AdminError as exc:
                    outcome = str(exc)[:160]
                time.sleep(2)
            results["broken_specops_ray"] = {"ok": load.ok, "failed": load.failed, "outcome": outcome,
                                             "seconds": round(time.perf_counter() - t, 1)}  # fmt: skip
            with Steady(bare_url) as load:
                t = time.perf_counter()
                apps = driver.applications()
                config = [a["deployed_app_config"] for n, a in apps.items() if n != "bare"]
                driver._put([*config, _bare_app(work / "broken.onnx", 0)])
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline and driver.applications()["bare"]["status"] != "DEPLOY_FAILED":
                    time.sleep(0.25)
                # As long as SpecOps' case took: Ray leaves the application failed until the next PUT.
                time.sleep(max(2.0, results["broken_specops_ray"]["seconds"] - (time.perf_counter() - t)))
                status = driver.applications()["bare"]["status"]
            results["broken_bare_ray"] = {"ok": load.ok, "failed": load.failed, "status": status,
                                          "seconds": round(time.perf_counter() - t, 1)}  # fmt: skip
            driver.release()
            driver.close()

        serve = LocalTarget("bench", work / "serve-state", token_env="BENCH_SERVE_TOKEN")
        with serve, serve.driver() as sd:
            sd.acquire("bench", 600)
            sd.upload(doc["spec"]["artifact"]["sha256"], good)
            sd.put_resource("Model", "fraud-scorer", doc, canonical_hash(doc),
                            expected_revision=sd.live_state()["revision"])  # fmt: skip
            results["specops_serve"] = {f"c{c}": measure(sd.inference_url("fraud-scorer"), c, args.seconds)
                                        for c in (1, 16)}  # fmt: skip
    base = results["bare_ray"]
    results["ratios_vs_bare_ray_rps"] = {
        name: {c: round(results[name][c]["rps"] / base[c]["rps"], 2) for c in ("c1", "c16")}
        for name in ("specops_ray_1", "specops_ray_2", "specops_serve")
    }
    results["median_p99_ms"] = statistics.median(
        results[n]["c16"]["p99_ms"] for n in ("bare_ray", "specops_ray_1", "specops_ray_2")
    )
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
