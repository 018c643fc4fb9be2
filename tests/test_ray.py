"""The ray-serve Target: the driver's mapping (no Ray needed), then one real local Ray end to end.

The tests marked ``ray`` start one Ray cluster for the session (``LocalRay``:
``ray start --head --block`` on 127.0.0.1, free ports, its own temp dir,
``RAY_AUTH_MODE=token``; stopped by its process group, never ``ray stop``).
They run in the compiled pass only: ``conftest.py`` deselects them when
``SPECOPS_PURE_PYTHON=1`` (Ray does not touch the core the second pass is for).
"""

from __future__ import annotations

import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from specops.apply._demo import commit_all, point_at_ray, prepare, set_model_version
from specops.ray._config import (
    deployment_options,
    router_app,
    token_digest,
    version_app,
    version_app_name,
)
from specops.ray._state import RouterState, StaleStateError, merge_stats
from specops.spec import Model, Target
from specops.targets import RayServeDriver, ServeDriver, TargetAuthError, driver_for
from specops.targets._ray import health_of
from tests.helpers.cli import run_cli
from tests.helpers.models import unrunnable_model
from tests.helpers.serve import TEST_ANALYSIS, commit_version

REPO_ROOT = Path(__file__).resolve().parent.parent

# -- mapping (no Ray) ----------------------------------------------------------------------


def test_health_of_maps_application_and_deployment_statuses() -> None:
    assert health_of(None) == "Missing"
    assert health_of({}) == "Missing"
    running = {"status": "RUNNING", "deployments": {"Version": {"status": "HEALTHY"}}}
    assert health_of(running) == "Healthy"
    assert health_of({"status": "RUNNING", "deployments": {"Version": {"status": "UPSCALING"}}}) == "Progressing"
    assert health_of({"status": "DEPLOYING", "deployments": {}}) == "Progressing"
    assert health_of({"status": "DEPLOY_FAILED", "deployments": {"Version": {"status": "DEPLOY_FAILED"}}}) == "Degraded"
    # The worst part wins: a running application with an unhealthy deployment is Degraded.
    assert health_of({"status": "RUNNING", "deployments": {"Version": {"status": "UNHEALTHY"}}}) == "Degraded"


def test_scaling_becomes_deployment_options_always_with_surge() -> None:
    assert deployment_options(None) == {
        "ray_actor_options": {"num_cpus": 0.1}, "max_surge_percent": 100, "num_replicas": 1,
    }  # fmt: skip
    fixed = deployment_options({"replicas": 3, "numCpus": 0.25})
    assert fixed["num_replicas"] == 3 and fixed["ray_actor_options"] == {"num_cpus": 0.25}
    auto = deployment_options({"autoscaling": {"min": 1, "max": 4, "targetOngoingRequests": 8}})
    assert "num_replicas" not in auto
    assert auto["autoscaling_config"] == {"min_replicas": 1, "max_replicas": 4, "target_ongoing_requests": 8.0}
    assert fixed["max_surge_percent"] == auto["max_surge_percent"] == 100  # never a surge-0 update


def test_the_serve_config_holds_no_token_and_no_http_route_for_versions() -> None:
    router = router_app("edge", artifact_dir="/shared/a", token="s3cret-token", routing={"models": {}})
    assert "s3cret-token" not in repr(router)
    assert router["args"]["token_sha256"] == token_digest("s3cret-token")
    assert router["route_prefix"] == "/" and router["deployments"][0]["user_config"] == {"models": {}}
    doc = {"metadata": {"name": "m"}, "spec": {"version": "1.2.0", "scaling": {"replicas": 2}}}
    app = version_app("edge", doc, "/shared/a")
    assert app["name"] == version_app_name("edge", "m", "1.2.0") == "specops-edge--m--1.2.0"
    assert app["route_prefix"] is None and app["deployments"][0]["num_replicas"] == 2


def test_router_state_is_a_compare_and_swap_and_incarnations_differ() -> None:
    state = RouterState()
    assert state.load() == (0, state.incarnation, None)
    assert state.save({"revision": 0}, 0) == 1
    with pytest.raises(StaleStateError):
        state.save({"revision": 1}, 0)  # another replica saved first
    assert state.load()[2] == {"revision": 0}
    # The watch lease and alert state share the generation: a stale writer of either is refused.
    assert state.save_watch({"lease": {"holder": "w"}}, 1) == 2
    with pytest.raises(StaleStateError):
        state.save({"revision": 1}, 1)
    assert state.load_watch() == {"lease": {"holder": "w"}}
    assert RouterState().incarnation != state.incarnation  # a new actor never repeats a revision


def test_per_version_stats_of_several_replicas_add_up() -> None:
    one = {"1.0.0": {"requests": 3, "errors": 1, "outcomes": {"ok": 2, "error": 1},
                     "latency_buckets_ms": [[10, 2], ["+Inf", 3]],
                     "input_features": {"x": {"a": {"edges": [0.0, 1.0], "counts": [2], "count": 3}}}}}  # fmt: skip
    two = {"1.0.0": {"requests": 2, "errors": 0, "outcomes": {"ok": 2},
                     "latency_buckets_ms": [[10, 1], ["+Inf", 2]],
                     "input_features": {"x": {"a": {"edges": [0.0, 1.0], "counts": [1], "count": 2}}}},
           "1.1.0": {"requests": 7}}  # fmt: skip
    merged = merge_stats([one, two])
    assert merged["1.0.0"]["requests"] == 5 and merged["1.0.0"]["errors"] == 1
    assert merged["1.0.0"]["outcomes"] == {"ok": 4, "error": 1}
    assert merged["1.0.0"]["latency_buckets_ms"] == [[10, 3], ["+Inf", 5]]
    assert merged["1.0.0"]["input_features"]["x"]["a"] == {"edges": [0.0, 1.0], "counts": [3], "count": 5}
    assert merged["1.1.0"] == {"requests": 7}


def _target(**spec: Any) -> Target:
    doc = {"apiVersion": "specops.dev/v1", "kind": "Target", "metadata": {"name": "edge"},
           "spec": {"url": "http://127.0.0.1:8265", "environment": "development", **spec}}  # fmt: skip
    return Target.model_validate(doc)


def test_driver_for_picks_the_driver_by_the_targets_type() -> None:
    ray = _target(type="ray-serve", auth={"tokenEnv": "RAY_TOKEN"}, ray={"proxyUrl": "http://127.0.0.1:9000"})
    with driver_for(ray) as driver:
        assert isinstance(driver, RayServeDriver)
        assert driver.proxy_url == "http://127.0.0.1:9000" and driver.token_env == "RAY_TOKEN"
    with driver_for(_target(type="ray-serve")) as driver:  # the proxy defaults to Serve's port 8000
        assert isinstance(driver, RayServeDriver) and driver.proxy_url == "http://127.0.0.1:8000"
    with driver_for(_target()) as driver:
        assert isinstance(driver, ServeDriver)
    with pytest.raises(ValueError, match=r"spec\.ray applies to type: ray-serve only"):
        _target(ray={"proxyUrl": "http://127.0.0.1:9000"})


def test_model_scaling_is_validated() -> None:
    doc = (REPO_ROOT / "specs/models/fraud-scorer.yaml").read_text()
    from specops._yaml import load_documents

    model = load_documents(doc, "fraud-scorer.yaml")[0].data
    model["spec"]["scaling"] = {"autoscaling": {"min": 2, "max": 4}, "numCpus": 0.2}
    parsed = Model.model_validate(model)
    assert parsed.spec.scaling is not None and parsed.spec.scaling.scales
    model["spec"]["scaling"] = {"replicas": 2, "autoscaling": {"max": 2}}
    with pytest.raises(ValueError, match="give replicas or autoscaling, not both"):
        Model.model_validate(model)
    model["spec"]["scaling"] = {"autoscaling": {"min": 3, "max": 2}}
    with pytest.raises(ValueError, match=r"autoscaling.max \(2\) is below autoscaling.min \(3\)"):
        Model.model_validate(model)


def test_specops_serve_refuses_a_model_that_asks_to_scale(tmp_path: Path, estate: Path) -> None:
    model = estate / "specs/models/fraud-scorer.yaml"
    model.write_text(model.read_text().replace("  guardrails: [", "  scaling: {replicas: 2}\n  guardrails: ["))
    commit_all(estate, "scale out")
    code, _, err = run_cli("apply", "--auto-approve", "--repo", str(estate))
    assert code == 1
    assert "asks for spec.scaling (replicas or autoscaling); specops serve is one process and cannot scale" in err
    assert "place the model on a Target of type ray-serve" in err


# -- a real local Ray --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def local_ray(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One Ray head for the session (about 20 s and 2 GB), stopped by its own process group."""
    from specops.ray._local import LocalRay, _group_alive

    # Not under pytest's basetemp: other pytest sessions on this machine prune old ones, and
    # the cluster's artifact directory must outlive this long session.
    workdir = Path(tempfile.mkdtemp(prefix="specops-ray-test-"))
    cluster = LocalRay(workdir, num_cpus=2)
    cluster.start(timeout=300)
    group = cluster.process.pid if cluster.process else 0
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        assert not _group_alive(group), "every process of our Ray is gone (and only ours was signalled)"


@pytest.mark.ray
def test_ray_dashboard_token_auth_failures_say_authentication(local_ray: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WRONG_RAY_TOKEN", "not-the-token")
    wrong = RayServeDriver("edge", local_ray.url, "WRONG_RAY_TOKEN", proxy_url=local_ray.proxy_url)
    with wrong, pytest.raises(TargetAuthError, match=r"authentication failed at the Ray dashboard .*HTTP 403 \(check WRONG"):
        wrong.live_state()
    anonymous = RayServeDriver("edge", local_ray.url, None, proxy_url=local_ray.proxy_url)
    with anonymous, pytest.raises(TargetAuthError, match="HTTP 401"):
        anonymous.live_state()
    monkeypatch.delenv("WRONG_RAY_TOKEN")
    unset = RayServeDriver("edge", local_ray.url, "WRONG_RAY_TOKEN")
    with unset, pytest.raises(TargetAuthError, match=r"WRONG_RAY_TOKEN .* is not set"):
        unset.live_state()


def _serving(status: dict[str, Any]) -> dict[str, int]:
    return {v: w for v, w in status["traffic"].items() if w > 0}


class Load:
    """Steady inference from a thread (Serve's proxy, straight HTTP): counts every answer."""

    def __init__(self, url: str, rows: int = 1) -> None:
        self.url = url
        self.body = {"inputs": [{"name": "features", "shape": [rows, 8], "datatype": "FP32", "data": [1.0] * (8 * rows)}]}
        self.ok = 0
        self.failed: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=30) as client:
            while not self._stop.is_set():
                try:
                    answer = client.post(self.url, json=self.body)
                except httpx.HTTPError as exc:
                    self.failed.append(repr(exc))
                    continue
                if answer.status_code == 200:
                    self.ok += 1
                else:
                    self.failed.append(f"{answer.status_code}: {answer.text[:200]}")

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(60)


@pytest.mark.ray
def test_ray_serve_end_to_end(local_ray: Any) -> None:
    import tritonclient.http as triton

    repo = local_ray.workdir / "estate"
    prepare(REPO_ROOT / "specs", repo, local_ray.url, TEST_ANALYSIS)
    point_at_ray(repo, local_ray.url, local_ray.proxy_url, local_ray.artifact_dir, local_ray.token_env)
    driver = local_ray.driver("local-cpu")  # the settings point_at_ray gave the Target
    assert driver.live_state()["health"] == "Missing"

    # 1. Apply the example estate: the router and 1.0.0 deploy through the REST API.
    code, out, err = run_cli("apply", "--auto-approve", "--repo", str(repo))
    assert code == 0, out + err
    assert "Apply complete: 6 change(s)" in out

    # 2. A third-party Open Inference Protocol client, through Serve's proxy and SpecOps' router.
    client = triton.InferenceServerClient(url=local_ray.proxy_url.removeprefix("http://"))
    features = triton.InferInput("features", [2, 8], "FP32")
    features.set_data_from_numpy(np.ones((2, 8), dtype=np.float32))
    result = client.infer("fraud-scorer", [features])
    probabilities = result.as_numpy("probabilities")
    assert probabilities.shape == (2, 2) and np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert result.get_response()["model_version"] == "1.0.0"

    # 3. A canary of 1.1.0, two replicas of it: the router's weights move, judged on its stats.
    commit_version(repo, "1.1.0")
    model = repo / "specs/models/fraud-scorer.yaml"
    model.write_text(model.read_text().replace("  guardrails: [", "  scaling: {replicas: 2}\n  guardrails: ["))
    commit_all(repo, "1.1.0 on two replicas")
    code, out, err = run_cli("apply", "--auto-approve", "--repo", str(repo), "--traffic", "250")
    assert code == 0, out + err
    assert "10% of traffic on 1.1.0" in out and "analysis at 50%: Successful" in out
    assert "0 failed" in out, out
    state = driver.live_state()
    assert re.fullmatch(r"[0-9a-f]+-\d+", state["revision"]), state["revision"]
    status = state["resources"]["Model/fraud-scorer"]["status"]
    assert _serving(status) == {"1.1.0": 100} and status["health"] == "Healthy"
    assert status["replicas"] == {"1.0.0": 1, "1.1.0": 2}, status
    assert set(status["versions"]) == {"1.0.0", "1.1.0"}  # 1.0.0 stays loaded (weight 0) for a rollback
    assert version_app_name("local-cpu", "fraud-scorer", "1.0.0") in driver.applications()

    # 4. The router restarts (its CPUs change): revision, lease and counters live in the actor.
    before = driver.stats("fraud-scorer")["versions"]["1.1.0"]["requests"]
    driver.router_cpus = 0.15
    driver._sync()
    assert driver.live_state()["revision"] == state["revision"]
    assert driver.stats("fraud-scorer")["versions"]["1.1.0"]["requests"] >= before > 0
    driver.router_cpus = 0.1  # as the Target declares (the next apply would restart it again)
    driver._sync()

    # 5. A broken version (it loads, but every run fails: its warm-up) under steady load:
    # Ray marks it DEPLOY_FAILED, the step fails, the last good config is PUT again,
    # and not one request fails.
    set_model_version(repo, "1.3.0", "specs/artifacts/fraud-scorer-1.3.0.onnx", unrunnable_model())
    commit_all(repo, "fraud-scorer 1.3.0 (unrunnable)")
    with Load(driver.inference_url("fraud-scorer")) as load:
        code, out, err = run_cli("apply", "--auto-approve", "--repo", str(repo))
    assert code == 1
    assert "Ray application specops-local-cpu--fraud-scorer--1.3.0 is DEPLOY_FAILED" in err, err
    assert "warm-up inference failed" in err and "the last good config was PUT again" in err, err
    assert load.failed == [] and load.ok > 20, (load.ok, load.failed[:3])
    status = driver.live_state()["resources"]["Model/fraud-scorer"]["status"]
    assert _serving(status) == {"1.1.0": 100} and status["health"] == "Healthy"
    failed = driver.applications().get(version_app_name("local-cpu", "fraud-scorer", "1.3.0"))
    assert failed is None or failed["status"] == "DELETING", failed  # the re-PUT config dropped it
    assert set(status["versions"]) == {"1.0.0", "1.1.0"}

    # 6. `specops status` shows the versions, their traffic and their replicas.
    code, out, err = run_cli("status", "--repo", str(repo))
    row = next(line for line in out.splitlines() if line.startswith("Model/fraud-scorer"))
    assert "REPLICAS" in out and "1.1.0=100%" in row and "1.1.0=2" in row, out
    assert "OutOfSync" in row  # git asks for 1.3.0, 1.1.0 serves
    driver.close()
