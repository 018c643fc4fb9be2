"""``specops serve`` logs what an operator needs without ``--access-log``: model loads, traffic
changes, rollbacks, deletions and the state it restored; and no line per request. A real
``specops serve`` subprocess; its log is what it wrote."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from specops.apply import LocalTarget
from tests.test_serve_kit import Admin, model_doc, scorer

TOKEN_ENV = "SPECOPS_LOGGING_TEST_TOKEN"


def test_loads_traffic_and_rollbacks_are_logged_and_requests_are_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, "logging-test-token-0123456789")
    state = tmp_path / "state"
    with LocalTarget("logs", state, token_env=TOKEN_ENV) as target:
        admin = Admin(target.url, "logging-test-token-0123456789")
        try:
            for version in (1, 2):
                assert admin.upload(scorer(version)).status_code == 200
            assert admin.apply(doc := model_doc("fraud", "1.0.0", scorer(1), targets=["logs"])).status_code == 200
            candidate = model_doc("fraud", "1.1.0", scorer(2), targets=["logs"])
            assert admin.apply(candidate, activate=False).status_code == 200
            assert admin.traffic("fraud", {"1.0.0": 90, "1.1.0": 10}).status_code == 200
            for i in range(5):
                assert admin.infer("fraud", [[1.0, 2.0, 3.0, 4.0]], id=f"r{i}").status_code == 200
            assert admin.apply(doc).status_code == 200  # the runner's rollback: the previous spec again
            assert admin.http.delete("/admin/v1/resources/Model/fraud",
                                     params={"expected_revision": admin.revision()}).status_code == 200  # fmt: skip
        finally:
            admin.close()
    log = target.log.read_text()
    assert re.search(r"INFO specops\.serve: Model/fraud 1\.0\.0 loaded and warmed up in [\d.]+ s on CPUExecutionProvider", log)
    assert "Model/fraud 1.1.0 loaded and warmed up" in log
    assert "Model/fraud traffic 1.0.0=90% 1.1.0=10% (was 1.0.0=100%)" in log
    assert "Model/fraud rolled back: 1.0.0 serves 100% (1.1.0 no longer serves)" in log
    assert "Model/fraud deleted" in log
    assert "/v2/models" not in log and "POST" not in log, "no access log unless asked"

    with LocalTarget("logs", state, token_env=TOKEN_ENV, log=tmp_path / "restart.log"):
        pass
    assert "INFO specops.serve: restored" in (tmp_path / "restart.log").read_text()
