"""The state directory: atomic writes, restarts that serve the same thing, corruption reported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from specops._cli import main
from specops.serve import StateCorruptError
from specops.serve._state import StateStore, atomic_write
from tests.test_serve_kit import Admin, deploy, doc, model_doc, scorer, sha, start

ROW = [[1.0, 2.0, 3.0, 4.0]]


def test_atomic_write_replaces_whole_files(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    atomic_write(path, b"one")
    atomic_write(path, iter([b"t", b"wo"]))
    assert path.read_bytes() == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]  # no temporary file left


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"{\"format_version\": 1, \"target\": ", "invalid JSON"),
        (b"[]", "not a JSON object"),
        (b"{\"format_version\": 7}", "format_version 7"),
        (b"{\"format_version\": 1, \"target\": \"test\", \"revision\": \"x\"}", "'revision' is missing or not a int"),
    ],
)
def test_corrupted_state_is_reported_not_reset(tmp_path: Path, content: bytes, problem: str) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "state.json").write_bytes(content)
    with pytest.raises(StateCorruptError) as raised:
        start(state)
    assert str(state / "state.json") in str(raised.value) and problem in str(raised.value)
    assert "never resets" in str(raised.value)
    assert (state / "state.json").read_bytes() == content


def test_cli_reports_corruption_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "state.json").write_text("{oops", encoding="utf-8")
    assert main(["serve", "--state-dir", str(tmp_path), "--insecure-local", "--port", "0"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: state file") and "invalid JSON" in err


def test_restart_keeps_traffic_unloads_and_refuses_a_changed_artifact(tmp_path: Path) -> None:
    state = tmp_path / "state"
    running = start(state)
    admin = Admin(running.url)
    try:
        deploy(admin, "fraud", "1.0.0", scorer(1))
        admin.upload(scorer(2))
        assert admin.apply(model_doc("fraud", "1.1.0", scorer(2)), activate=False).status_code == 200
        assert admin.traffic("fraud", {"1.0.0": 80, "1.1.0": 20}).status_code == 200
        prompt = doc("Prompt", "p", {"version": "1.0.0", "model": "fraud", "template": "hi"})
        assert admin.apply(prompt).status_code == 200
        deploy(admin, "other", "2.0.0", scorer(3))
        assert admin.http.post("/v2/repository/models/other/unload").status_code == 200
        assert admin.http.post("/v2/models/other/infer", json={}).status_code == 503
        before = admin.http.get("/admin/v1/state").json()
        answers = {f"id{i}": admin.infer("fraud", ROW, id=f"id{i}").json() for i in range(10)}
        index = admin.http.post("/v2/repository/index").json()
    finally:
        admin.close()
        running.stop()
    assert {"name": "other", "version": "2.0.0", "state": "UNAVAILABLE", "reason": "unloaded"} in index

    running = start(state)
    admin = Admin(running.url)
    try:
        after = admin.http.get("/admin/v1/state").json()
        assert after["revision"] == before["revision"]
        assert after["resources"] == before["resources"]
        assert {k: admin.infer("fraud", ROW, id=k).json() for k in answers} == answers
        assert admin.http.post("/v2/repository/models/other/load").status_code == 200
        assert admin.infer("other", ROW).json()["model_version"] == "2.0.0"
    finally:
        admin.close()
        running.stop()

    # An artifact changed on disk behind the server's back is reported, never served.
    stored = StateStore(state).artifact_path(sha(scorer(1)))
    stored.write_bytes(scorer(4))
    with pytest.raises(StateCorruptError) as raised:
        start(state)
    assert str(stored) in str(raised.value) and "sha256" in str(raised.value)
    stored_state = json.loads((state / "state.json").read_text())
    incarnation, _, counter = before["revision"].rpartition("-")
    assert stored_state["incarnation"] == incarnation
    assert stored_state["revision"] == int(counter) + 1  # the load
