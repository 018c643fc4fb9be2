"""The remote engine: ``opa-python-client`` against an OPA-REST-compatible server on 127.0.0.1.

No OPA server can be installed on this machine, so the test starts its own
small server speaking OPA's REST API shapes (``PUT /v1/policies/{id}``,
``PUT /v1/data/{path}``, ``POST /v1/data/{path}`` with ``{"input": ...}``
answering ``{"result": ...}``, or ``{}`` when undefined), evaluating with
regorus behind it. It checks the bearer token as OPA's token authentication does.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import regorus

from specops._cli import main
from specops.plan import make_plan
from specops.policy._check import PolicyOptions, check_plan
from tests.helpers.git import commit, edit, estate_of

REPO_ROOT = Path(__file__).resolve().parent.parent
TOKEN = "opa-test-token-value"


class OpaLike:
    """State of the fake server: uploaded modules and data documents."""

    def __init__(self, token: str | None) -> None:
        self.token = token
        self.modules: dict[str, str] = {}
        self.data: dict[str, Any] = {}
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def engine(self) -> Any:
        engine = regorus.Engine()
        for path, source in sorted(self.modules.items()):
            engine.add_policy(path, source)
        engine.add_data_json(json.dumps(self.data))
        return engine


def handler_for(state: OpaLike) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return None

        def _reply(self, status: int, body: Any = None) -> None:
            raw = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _authorised(self) -> bool:
            with state.lock:
                state.requests.append((self.command, self.path))
            if state.token and self.headers.get("Authorization") != f"Bearer {state.token}":
                self._reply(401, {"code": "unauthorized", "message": "missing or invalid token"})
                return False
            return True

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def do_GET(self) -> None:
            if self._authorised():
                self._reply(200, {})

        def do_PUT(self) -> None:
            if not self._authorised():
                return
            body = self._body()
            if self.path.startswith("/v1/policies/"):
                name = self.path.removeprefix("/v1/policies/")
                with state.lock:
                    trial = dict(state.modules, **{name: body.decode()})
                    try:
                        engine = regorus.Engine()
                        for path, source in trial.items():
                            engine.add_policy(path, source)
                    except RuntimeError as exc:
                        self._reply(400, {"code": "invalid_parameter", "message": str(exc).split("Stack")[0],
                                          "errors": []})
                        return
                    state.modules = trial
                self._reply(200, {})
            elif self.path.startswith("/v1/data/"):
                parts = [p for p in self.path.removeprefix("/v1/data/").split("/") if p]
                with state.lock:
                    node = state.data
                    for part in parts[:-1]:
                        node = node.setdefault(part, {})
                    node[parts[-1]] = json.loads(body)
                self._reply(204)
            else:
                self._reply(404, {"code": "resource_not_found", "message": self.path})

        def do_POST(self) -> None:
            if not self._authorised():
                return
            if not self.path.startswith("/v1/data/"):
                self._reply(404, {"code": "resource_not_found", "message": self.path})
                return
            document = json.loads(self._body() or b"{}")
            rule = "data." + ".".join(p for p in self.path.removeprefix("/v1/data/").split("?")[0].split("/") if p)
            with state.lock:
                if not state.modules:  # OPA answers an unknown document as undefined: no "result"
                    self._reply(200, {})
                    return
                engine = state.engine()
            engine.set_input_json(json.dumps(document.get("input")))
            try:  # a query, not eval_rule: OPA serves whole packages as documents too
                answer = json.loads(engine.eval_query_as_json(rule))
            except RuntimeError as exc:
                self._reply(500, {"code": "internal_error", "message": str(exc).split("Stack")[0]})
                return
            rows = answer.get("result") or []
            self._reply(200, {"result": rows[0]["expressions"][0]["value"]} if rows else {})

    return Handler


@pytest.fixture
def opa() -> Iterator[tuple[str, OpaLike]]:
    state = OpaLike(TOKEN)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def project(example_repo: Path, tmp_path: Path) -> Path:
    shutil.copytree(REPO_ROOT / "policies", example_repo / "policies")
    commit(example_repo, {"specops.yaml": "policy:\n  data:\n    teams: {risk-ml: [alice]}\n"}, "policies")
    (tmp_path / "live.json").write_text('{"format_version": 1, "targets": []}', encoding="utf-8")
    (tmp_path / "context.yaml").write_text('now: "2026-11-02T10:00:00Z"\n', encoding="utf-8")
    edit(example_repo, "specs/models/fraud-scorer.yaml",
         "  rollout:\n    strategy: canary\n    steps: [10, 50, 100]\n", "  rollout:\n    strategy: direct\n")
    return example_repo


def options(url: str, **extra: Any) -> PolicyOptions:
    return PolicyOptions(opa_url=url, opa_token_env="SPECOPS_TEST_OPA_TOKEN", **extra)


def test_opa_engine_pushes_the_bundle_and_gives_the_embedded_results(
    project: Path, opa: tuple[str, OpaLike], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, state = opa
    monkeypatch.setenv("SPECOPS_TEST_OPA_TOKEN", TOKEN)
    context = str(project.parent / "context.yaml")
    plan = make_plan(project, live=project.parent / "live.json", cache_dir=False)
    remote = check_plan(plan, options(url, context=context), repo_path=project, estate=estate_of(project))
    local = check_plan(plan, PolicyOptions(context=context), repo_path=project, estate=estate_of(project))
    assert remote is not None and local is not None
    assert remote.engine.startswith("opa http://127.0.0.1:")
    assert [r.to_json() for r in remote.results] == [r.to_json() for r in local.results]
    assert [r.rule for r in remote.results] == ["SO-MODEL-002"]
    assert remote.bundle_hash == local.bundle_hash
    assert "specops/policies/model_canary.rego" in state.modules
    assert state.data["project"]["teams"] == {"risk-ml": ["alice"]}
    queried = [p for m, p in state.requests if m == "POST"]
    assert queried and all(p == "/v1/data/specops_internal/evaluate/results" for p in queried)


def test_opa_engine_without_push_asks_each_package_by_name(
    project: Path, opa: tuple[str, OpaLike], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, state = opa
    monkeypatch.setenv("SPECOPS_TEST_OPA_TOKEN", TOKEN)
    context = str(project.parent / "context.yaml")
    plan = make_plan(project, live=project.parent / "live.json", cache_dir=False)
    # Nothing loaded on the server: every package is undefined, and the plan is denied (fail closed).
    report = check_plan(plan, options(url, context=context, opa_push=False), repo_path=project, estate=estate_of(project))
    assert report is not None and report.blocked
    assert {r.rule for r in report.results} == {"SPECOPS-ENGINE"}
    assert "OPA has no package" in report.results[0].message
    # Once the organisation has loaded them, the same plan gets the real verdict.
    for path in sorted((project / "policies").rglob("*.rego")):
        if not path.name.endswith("_test.rego"):
            state.modules[path.name] = path.read_text()
    report = check_plan(plan, options(url, context=context, opa_push=False), repo_path=project, estate=estate_of(project))
    assert report is not None
    assert [r.rule for r in report.results] == ["SO-MODEL-002"]
    assert any(p == "/v1/data/specops/policies/model_canary" for m, p in state.requests if m == "POST")


def test_wrong_token_and_unreachable_server_fail_closed(
    project: Path, opa: tuple[str, OpaLike], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url, state = opa
    context = str(project.parent / "context.yaml")
    plan = make_plan(project, live=project.parent / "live.json", cache_dir=False)
    state.modules = {}
    monkeypatch.setenv("SPECOPS_TEST_OPA_TOKEN", "not-the-token")
    report = check_plan(plan, options(url, context=context, opa_push=False), repo_path=project, estate=estate_of(project))
    assert report is not None and report.blocked
    assert "401" in report.results[0].message
    # a server that is gone: every decision denies, naming the failure
    closed = "http://127.0.0.1:9"
    report = check_plan(plan, options(closed, context=context, opa_push=False), repo_path=project, estate=estate_of(project))
    assert report is not None and report.blocked
    assert all(r.rule == "SPECOPS-ENGINE" and "OPA query" in r.message for r in report.results)
    # the token never reaches the plan or the output
    monkeypatch.setenv("SPECOPS_TEST_OPA_TOKEN", TOKEN)
    code = main(["plan", "--repo", str(project), "--live", str(project.parent / "live.json"), "--context", context,
                 "--opa-url", url, "--opa-token-env", "SPECOPS_TEST_OPA_TOKEN", "--format", "json", "--no-cache"])
    out = capsys.readouterr()
    assert code == 1
    assert TOKEN not in out.out and TOKEN not in out.err
    assert json.loads(out.out)["policy"]["engine"].startswith("opa ")


def test_unset_token_variable_is_a_clear_error(project: Path, opa: tuple[str, OpaLike], capsys: pytest.CaptureFixture[str]) -> None:
    url, _ = opa
    code = main(["plan", "--repo", str(project), "--live", str(project.parent / "live.json"),
                 "--opa-url", url, "--opa-token-env", "SPECOPS_TEST_UNSET_TOKEN", "--no-cache"])
    err = capsys.readouterr().err
    assert code == 1
    assert "SPECOPS_TEST_UNSET_TOKEN is not set" in err


def test_without_the_opa_extra_the_error_names_it(
    project: Path, opa: tuple[str, OpaLike], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # An installation without specops[opa]: the client's import fails (None in sys.modules makes it raise).
    monkeypatch.setitem(__import__("sys").modules, "opa_client", None)
    url, state = opa
    code = main(["plan", "--repo", str(project), "--live", str(project.parent / "live.json"),
                 "--opa-url", url, "--no-cache"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1
    assert "pip install 'specops[opa]'" in err and "Traceback" not in err
    assert state.requests == [], "nothing was sent"
    # The embedded engine never needs it.
    assert main(["plan", "--repo", str(project), "--live", str(project.parent / "live.json"), "--no-cache",
                 "--format", "json"]) == 1, "blocked by SO-MODEL-002, judged without OPA"  # fmt: skip
    assert json.loads(capsys.readouterr().out)["policy"]["engine"].startswith("regorus")


def test_an_opa_url_with_credentials_is_refused_and_never_echoed(
    project: Path, opa: tuple[str, OpaLike], capsys: pytest.CaptureFixture[str]
) -> None:
    url, state = opa
    secret = "s3cr3t-pw"
    with_creds = url.replace("://", f"://admin:{secret}@")
    code = main(["plan", "--repo", str(project), "--live", str(project.parent / "live.json"),
                 "--opa-url", with_creds, "--no-cache"])  # fmt: skip
    out = capsys.readouterr()
    assert code == 1 and "holds credentials" in out.err and "--opa-token-env" in out.err
    assert secret not in out.err + out.out
    assert state.requests == [], "nothing was sent to the server"
    # The same url in specops.yaml: refused at its line and field, the value not echoed either.
    (project / "specops.yaml").write_text(f"policy:\n  engine: opa\n  opa:\n    url: {with_creds}\n")
    code = main(["plan", "--repo", str(project), "--live", str(project.parent / "live.json"), "--no-cache"])
    out = capsys.readouterr()
    assert code == 1 and "specops.yaml:4" in out.err and "opa.url" in out.err and "opa.tokenEnv" in out.err
    assert secret not in out.err + out.out
    assert state.requests == []
