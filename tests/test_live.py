"""Live state: the document format, snapshots, and reading real targets over HTTP."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from specops.plan import (
    LiveStateError,
    TargetUnreachableError,
    live_state_schema,
    make_plan,
    read_snapshot,
    render_text,
)
from specops.targets import TargetAuthError
from tests.helpers.git import TARGET, commit, live_document, save

TOKEN = "test-token-value"


class Server:
    def __init__(self) -> None:
        self.document: Any = None
        self.requests: list[dict[str, str]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests.append({"path": self.path, "auth": self.headers.get("Authorization", "")})
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    self.send_response(401)
                    self.end_headers()
                    return
                body = json.dumps(owner.document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def server() -> Iterator[Server]:
    running = Server()
    yield running
    running.close()


@pytest.fixture
def served_repo(example_repo: Path, server: Server, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example estate with its target pointed at the test server."""
    path = example_repo / "specs/targets/local-cpu.yaml"
    text = path.read_text(encoding="utf-8").replace("http://127.0.0.1:8480", f"http://127.0.0.1:{server.port}")
    commit(example_repo, {"specs/targets/local-cpu.yaml": text})
    monkeypatch.setenv("SPECOPS_LOCAL_TOKEN", TOKEN)
    return example_repo


def test_reads_live_state_over_http_with_the_bearer_token(served_repo: Path, server: Server) -> None:
    server.document = live_document(served_repo, revision="41")
    plan = make_plan(served_repo)
    assert not plan.has_changes
    assert plan.live["local-cpu"].revision == "41"
    assert plan.live["local-cpu"].source == "http"
    assert server.requests == [{"path": "/admin/v1/state", "auth": f"Bearer {TOKEN}"}]


def test_http_live_state_drives_the_plan(served_repo: Path, server: Server) -> None:
    doc = live_document(served_repo)
    del doc["resources"]["Prompt/fraud-case-summary"]
    server.document = doc
    plan = make_plan(served_repo)
    assert [c.id for c in plan.resource_changes if c.actions == ["create"]] == ["Prompt/fraud-case-summary"]


def test_wrong_token_is_an_error_naming_the_target(served_repo: Path, server: Server,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    server.document = live_document(served_repo)
    monkeypatch.setenv("SPECOPS_LOCAL_TOKEN", "wrong")
    # Refused credentials are an authentication failure, not an outage (issue 11, item 10).
    with pytest.raises(TargetAuthError, match=r"target local-cpu: authentication failed .* HTTP 401"):
        make_plan(served_repo)
    monkeypatch.delenv("SPECOPS_LOCAL_TOKEN")
    with pytest.raises(TargetAuthError, match="SPECOPS_LOCAL_TOKEN"):
        make_plan(served_repo)


def test_target_reporting_another_name_is_refused(served_repo: Path, server: Server) -> None:
    server.document = live_document(served_repo, target="elsewhere")
    with pytest.raises(LiveStateError, match="reports itself as 'elsewhere'"):
        make_plan(served_repo)


def test_unreachable_target_is_an_error_unless_allowed(example_repo: Path, server: Server) -> None:
    port = server.port
    server.close()  # nothing listens there any more
    server.httpd = _Dummy()  # type: ignore[assignment]
    commit(example_repo, {"specs/targets/local-cpu.yaml": TARGET.format(name="local-cpu", port=port)})
    with pytest.raises(TargetUnreachableError, match=r"target local-cpu at http://127\.0\.0\.1:") as info:
        make_plan(example_repo, timeout=2)
    assert "--allow-unreachable" in str(info.value)
    plan = make_plan(example_repo, allow_unreachable=True, timeout=2)
    assert not plan.live["local-cpu"].reachable
    unknown = {c.id for c in plan.resource_changes if c.actions == ["unknown"]}
    # Everything placed on that target (directly or through the model) is unknown.
    assert {"Target/local-cpu", "Model/fraud-scorer", "Prompt/fraud-case-summary"} <= unknown
    assert plan.summary.unknown == len(unknown)
    assert "UNREACHABLE" in render_text(plan)


class _Dummy:
    def shutdown(self) -> None:
        pass

    def server_close(self) -> None:
        pass


def test_snapshot_with_several_targets(example_repo: Path, tmp_path: Path) -> None:
    one = live_document(example_repo, revision="3")
    other = {"format_version": 1, "target": "gpu-east", "revision": "9", "resources": {}}
    path = save(tmp_path / "s.json", {"format_version": 1, "targets": [one, other]})
    state = read_snapshot(path)
    assert sorted(state.targets) == ["gpu-east", "local-cpu"]
    plan = make_plan(example_repo, live=path)
    assert plan.live["gpu-east"].revision == "9"


def test_two_targets_disagreeing_is_not_in_sync(example_repo: Path, tmp_path: Path) -> None:
    one = live_document(example_repo, target="a")
    two = live_document(example_repo, target="b")
    two["resources"]["Model/fraud-scorer"]["spec"]["spec"]["runtime"]["intraOpThreads"] = 5
    plan = make_plan(example_repo, live=save(tmp_path / "s.json", {"format_version": 1, "targets": [one, two]}))
    assert [c.id for c in plan.resource_changes if c.actions == ["update"]] == ["Model/fraud-scorer"]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"format_version": 2, "target": "x", "revision": "1", "resources": {}}, "format_version 2"),
        ({"format_version": 1, "target": "x", "resources": {}}, "revision"),
        ({"format_version": 1, "target": "x", "revision": "1", "resources": {"M/a": {"spec": {}}}}, "hash"),
        ([1, 2], "format_version"),
    ],
)
def test_invalid_documents_are_explained(tmp_path: Path, document: Any, message: str) -> None:
    with pytest.raises(LiveStateError, match=message):
        read_snapshot(save(tmp_path / "bad.json", document))


def test_unreadable_snapshot(tmp_path: Path) -> None:
    with pytest.raises(LiveStateError, match="cannot read"):
        read_snapshot(tmp_path / "missing.json")
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")
    with pytest.raises(LiveStateError, match="invalid JSON"):
        read_snapshot(tmp_path / "broken.json")


def test_live_state_schema_describes_both_shapes() -> None:
    schema = live_state_schema()
    titles = [s.get("title") for s in schema["oneOf"]]
    assert titles == ["LiveDocument", "LiveSnapshot"]
    assert set(schema["oneOf"][0]["required"]) == {"format_version", "target", "revision", "resources"}


def test_committed_live_state_schema_is_current() -> None:
    committed = Path(__file__).resolve().parent.parent / "schemas" / "live-state.json"
    assert json.loads(committed.read_text(encoding="utf-8")) == live_state_schema()


# -- the snapshot's fast shape check never accepts what the schema refuses ------

_ANY = (
    st.none() | st.booleans() | st.integers(-3, 3) | st.floats(allow_nan=False) | st.text(max_size=3)
    | st.lists(st.integers(), max_size=2) | st.dictionaries(st.text(max_size=2), st.integers(), max_size=2)
)  # fmt: skip
_ENTRY = st.fixed_dictionaries(
    {"hash": st.text(max_size=4) | _ANY},
    optional={
        "spec": st.none() | st.dictionaries(st.text(max_size=3), _ANY, max_size=3) | _ANY,
        "status": st.dictionaries(st.text(max_size=3), _ANY, max_size=2) | _ANY,
    },
)
_DOCUMENT = st.fixed_dictionaries(
    {
        "format_version": st.just(1) | _ANY, "target": st.text(max_size=4) | _ANY,
        "revision": st.text(max_size=4) | _ANY,
        "resources": st.dictionaries(st.text(max_size=6), _ENTRY | _ANY, max_size=3) | _ANY,
    },
    optional={"observed_at": st.text(max_size=4) | _ANY, "extra": _ANY},
)  # fmt: skip
_SNAPSHOT_DOC = st.fixed_dictionaries({"format_version": st.just(1) | _ANY, "targets": st.lists(_DOCUMENT | _ANY, max_size=3) | _ANY})


@settings(max_examples=300, deadline=None)
@given(_SNAPSHOT_DOC)
def test_the_fast_shape_check_accepts_only_what_the_schema_accepts(data: dict[str, Any]) -> None:
    from specops.plan._live import _SNAPSHOT, _plainly_valid

    if _plainly_valid(data):
        _SNAPSHOT.validate_python(data)  # raises if the fast check let through what the schema refuses


def test_a_target_snapshot_takes_the_fast_shape_check(example_repo: Path) -> None:
    from specops.plan._live import _plainly_valid

    snapshot = {"format_version": 1, "targets": [live_document(example_repo), live_document(example_repo, "t2")]}
    assert _plainly_valid(json.loads(json.dumps(snapshot)))
    snapshot["targets"][1]["resources"]["Model/fraud-scorer"]["hash"] = 7
    assert not _plainly_valid(snapshot)
