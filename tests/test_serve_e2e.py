"""The must-show path: apply through the admin API, infer with tritonclient, restart, same answer."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from specops.plan import live_state_schema
from specops.plan._live import parse_document
from tests.test_serve_kit import TOKEN, Admin, admin, deploy, scorer, server, start

__all__ = ["admin", "server"]  # fixtures

ROWS = np.array([[10.0, 300.0, 2.0, 13.0], [900.0, 3.0, 8.0, 2.0]], dtype=np.float32)


def _triton(url: str) -> Any:
    # tritonclient's HTTP client rides on gevent; keep any deprecation noise it makes local to it.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import tritonclient.http as httpclient

        return httpclient, httpclient.InferenceServerClient(url.removeprefix("http://"))


def _triton_infer(url: str, binary: bool) -> tuple[np.ndarray, str]:
    httpclient, client = _triton(url)
    try:
        assert client.is_server_live()
        assert client.is_server_ready()
        assert client.is_model_ready("fraud")
        meta = client.get_model_metadata("fraud")
        assert meta["inputs"] == [{"name": "features", "datatype": "FP32", "shape": [-1, 4]}]
        tensor = httpclient.InferInput("features", list(ROWS.shape), "FP32")
        tensor.set_data_from_numpy(ROWS, binary_data=binary)
        wanted = [httpclient.InferRequestedOutput("probabilities", binary_data=binary)]
        result = client.infer("fraud", [tensor], outputs=wanted, request_id="case-1")
        response = result.get_response()
        return result.as_numpy("probabilities"), response["model_version"]
    finally:
        client.close()


def test_apply_infer_restart_same_answer(tmp_path: Path) -> None:
    state = tmp_path / "state"
    artifact = scorer(1)
    server = start(state)
    try:
        admin = Admin(server.url)
        deploy(admin, "fraud", "1.0.0", artifact)
        before, version = _triton_infer(server.url, binary=False)
        binary, _ = _triton_infer(server.url, binary=True)
        live = admin.http.get("/admin/v1/state").json()
        admin.close()
    finally:
        server.stop()
    assert version == "1.0.0"
    assert before.shape == (2, 2)
    np.testing.assert_allclose(before.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(before, binary)

    # The live-state document is what the planner reads.
    parsed = parse_document(live, "test", "http")
    assert parsed.name == "test"
    entry = parsed.resources["Model/fraud"]
    assert entry.hash == entry.running_hash  # the spec it runs is the spec it recorded applying
    status = entry.status
    assert status["version"] == "1.0.0" and status["ready"] is True
    assert status["providers"] == ["CPUExecutionProvider"]  # wanted CUDA first; this machine has none
    assert status["wanted_providers"] == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert status["traffic"] == {"1.0.0": 100}
    assert set(live_state_schema()["oneOf"][0]["required"]) <= set(live)

    restarted = start(state)
    try:
        after, version_after = _triton_infer(restarted.url, binary=False)
        admin = Admin(restarted.url)
        assert admin.http.get("/admin/v1/state").json()["revision"] == live["revision"]
        admin.close()
    finally:
        restarted.stop()
    assert version_after == "1.0.0"
    np.testing.assert_array_equal(before, after)


def test_cli_refuses_admin_without_token(tmp_path: Path) -> None:
    from specops._cli import main

    code = main(["serve", "--state-dir", str(tmp_path), "--token-env", "SPECOPS_TEST_UNSET_TOKEN"])
    assert code == 1
    code = main(
        ["serve", "--host", "0.0.0.0", "--insecure-local", "--state-dir", str(tmp_path),
         "--token-env", "SPECOPS_TEST_UNSET_TOKEN"]
    )
    assert code == 1


def test_insecure_local_needs_no_header(tmp_path: Path) -> None:
    from specops.serve import RunningServer, ServeConfig

    config = ServeConfig(state_dir=tmp_path / "s", name="test", port=0, insecure_local=True)
    with RunningServer(config) as running:
        admin = Admin(running.url, token=None)
        assert admin.http.get("/admin/v1/state").status_code == 200
        admin.close()


def test_token_is_required_and_checked(admin: Admin, server: Any) -> None:
    anonymous = Admin(server.url, token=None)
    wrong = Admin(server.url, token=TOKEN + "x")
    try:
        for client in (anonymous, wrong):
            response = client.http.get("/admin/v1/state")
            assert response.status_code == 401
            assert "Bearer" in response.json()["error"]
            assert TOKEN not in response.text
        assert anonymous.http.post("/v2/repository/index").status_code == 401
        assert anonymous.http.get("/v2/health/ready").status_code == 200
    finally:
        anonymous.close()
        wrong.close()
