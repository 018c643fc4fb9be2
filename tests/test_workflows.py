"""The GitHub Actions workflows: valid against GitHub's schema (offline), and their
``run:`` lines do what they claim on a real repository with a base branch and a
pull-request branch, against a real target.

The ``run:`` steps named ``specops ...`` are executed as GitHub would
(``bash --noprofile --norc -eo pipefail``) with their ``env:``; ``${{ }}``
expressions are replaced by what the event would supply (unset ones are empty,
as on GitHub), ``GITHUB_OUTPUT`` feeds ``steps.<id>.outputs``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pygit2
import pytest
from ruamel.yaml import YAML

from specops.apply import LocalTarget, TrafficGenerator, rows_from_csv
from tests.helpers.cli import run_cli
from tests.helpers.git import commit, edit
from tests.helpers.serve import (
    REPO_ROOT,
    commit_version,
    live_model,
)

WORKFLOWS = REPO_ROOT / ".github" / "workflows"
BIN = str(Path(sys.executable).parent)


def test_workflows_match_githubs_schema() -> None:
    files = [str(WORKFLOWS / "specops-plan.yml"), str(WORKFLOWS / "specops-apply.yml")]
    result = subprocess.run(
        [str(Path(BIN) / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *files],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    apply = YAML(typ="safe").load((WORKFLOWS / "specops-apply.yml").read_text())
    assert apply["concurrency"] == {"group": "specops-apply", "cancel-in-progress": False}
    assert apply["jobs"]["apply"]["environment"]["name"] == "production"
    assert apply["on"]["push"]["branches"] == ["main"]
    plan = YAML(typ="safe").load((WORKFLOWS / "specops-plan.yml").read_text())
    assert set(plan["on"]["pull_request"]["paths"]) >= {"specs/**", "policies/**"}
    assert plan["permissions"]["pull-requests"] == "write"
    # apply reads the merged pull request's reviews and pushes the evidence ref
    assert apply["permissions"] == {"contents": "write", "pull-requests": "read"}


class Runner:
    """Runs a workflow's ``specops`` steps in a repository, as a GitHub runner would."""

    def __init__(self, workflow: str, repo: Path, values: dict[str, str]) -> None:
        data = YAML(typ="safe").load((WORKFLOWS / workflow).read_text())
        self.steps = [s for job in data["jobs"].values() for s in job["steps"]]
        self.repo = repo
        self.values = dict(values)
        self.summary = repo.parent / f"{workflow}-summary.md"
        self.summary.write_text("")

    def _expand(self, text: str) -> str:
        return re.sub(r"\$\{\{\s*(.*?)\s*\}\}", lambda m: self.values.get(m.group(1), ""), str(text))

    def run(self) -> dict[str, subprocess.CompletedProcess[str]]:
        results: dict[str, subprocess.CompletedProcess[str]] = {}
        for step in self.steps:
            if "run" not in step or not step.get("name", "").startswith("specops"):
                continue
            output = self.repo.parent / "github-output"
            output.write_text("")
            env = {
                **os.environ,
                "PATH": BIN + os.pathsep + os.environ["PATH"],
                "GITHUB_STEP_SUMMARY": str(self.summary),
                "GITHUB_OUTPUT": str(output),
                **{k: self._expand(v) for k, v in (step.get("env") or {}).items()},
            }
            result = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                cwd=self.repo, env=env, capture_output=True, text=True, check=False,
            )  # fmt: skip
            results[step["name"]] = result
            for line in output.read_text().splitlines():
                key, _, value = line.partition("=")
                self.values[f"steps.{step.get('id')}.outputs.{key}"] = value
        return results


def _with_policies(repo: Path) -> str:
    """The estate already carries the project's policies and config (``prepare`` copies them); its head commit."""
    assert (repo / "specops.yaml").is_file() and (repo / "policies").is_dir()
    return str(pygit2.Repository(str(repo)).head.target)


def _branch(repo: Path, name: str, at: str) -> None:
    git = pygit2.Repository(str(repo))
    branch = git.branches.local.create(name, git[at])
    git.checkout(branch)


def test_plan_workflow_on_a_pull_request(estate: Path, target: LocalTarget) -> None:
    base = _with_policies(estate)
    assert run_cli("apply", "--auto-approve", "--repo", str(estate))[0] == 0  # main is live
    _branch(estate, "feature", base)
    commit_version(estate, "1.1.0")
    results = Runner("specops-plan.yml", estate, {"github.event.pull_request.base.sha": base}).run()
    assert list(results) == ["specops validate", "specops plan", "specops policy verdict"]
    assert all(r.returncode == 0 for r in results.values()), {k: r.stderr for k, r in results.items()}
    plan = json.loads((estate / "plan.json").read_text())
    assert plan["review"]["base"]["commit"] == base
    assert [(r["id"], r["status"]) for r in plan["review"]["resources"]] == [("Model/fraud-scorer", "changed")]
    assert [c["id"] for c in plan["resource_changes"] if c["actions"] == ["update"]] == ["Model/fraud-scorer"]
    assert plan["policy"]["blocked"] is False
    markdown = (estate / "plan.md").read_text()
    assert "fraud-scorer" in markdown and "1.1.0" in markdown
    assert (estate.parent / "specops-plan.yml-summary.md").read_text() == markdown
    assert json.loads((estate / "plan.sarif").read_text())["version"] == "2.1.0"
    assert pygit2.Repository(str(estate)).branches["main"].target == pygit2.Oid(hex=base)


def test_plan_workflow_fails_a_pull_request_policy_blocks(estate: Path, target: LocalTarget) -> None:
    base = _with_policies(estate)
    assert run_cli("apply", "--auto-approve", "--repo", str(estate))[0] == 0  # main is live
    _branch(estate, "bad", base)
    # A new artifact under the same version: SO-MODEL-005 denies it.
    model = "specs/models/fraud-scorer.yaml"
    data = (estate / "specs/artifacts/fraud-scorer-1.1.0.onnx").read_bytes()
    text = (estate / model).read_text()
    old = next(line for line in text.splitlines() if "sha256:" in line).split()[-1]
    commit(estate, {model: text.replace(old, __import__("hashlib").sha256(data).hexdigest())}, "swap")
    edit(estate, model, "fraud-scorer-1.0.0.onnx", "fraud-scorer-1.1.0.onnx")
    results = Runner("specops-plan.yml", estate, {"github.event.pull_request.base.sha": base}).run()
    assert results["specops plan"].returncode == 0, "the plan step publishes; the verdict step fails"
    assert results["specops policy verdict"].returncode == 1
    assert "blocked by policy" in results["specops policy verdict"].stderr
    assert json.loads((estate / "plan.json").read_text())["policy"]["blocked"] is True
    assert "SO-MODEL-005" in (estate / "plan.md").read_text()
    assert "SO-MODEL-005" in (estate / "plan.sarif").read_text()


GITHUB_DATA = REPO_ROOT / "tests" / "data" / "github"
GITHUB_TOKEN = "ghs-test-" + "0" * 8


class RecordedGitHub:
    """GitHub's REST API for one repository, answering from recorded JSON on 127.0.0.1.

    ``GET /repos/acme/estate/commits/{sha}/pulls`` answers the recorded merged
    pull request for a commit in ``merged`` (its ``merge_commit_sha`` set to
    it) and ``[]`` for any other; ``GET /repos/acme/estate/pulls/42/reviews``
    the recorded reviews. A request without the job's token gets 401.
    """

    def __init__(self) -> None:
        self.merged: set[str] = set()
        self.requests: list[str] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                api.requests.append(self.path)
                if self.headers.get("Authorization") != f"Bearer {GITHUB_TOKEN}":
                    return self._send(401, {"message": "Bad credentials"})
                match = re.fullmatch(r"/repos/acme/estate/commits/([0-9a-f]{40})/pulls", self.path)
                if match:
                    if match.group(1) not in api.merged:
                        return self._send(200, [])
                    text = (GITHUB_DATA / "commit-pulls.json").read_text().replace("MERGE_SHA", match.group(1))
                    return self._send(200, json.loads(text))
                if self.path.split("?")[0] == "/repos/acme/estate/pulls/42/reviews":
                    return self._send(200, json.loads((GITHUB_DATA / "reviews.json").read_text()))
                return self._send(404, {"message": "Not Found"})

            def _send(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordedGitHub]:
    api = RecordedGitHub()
    thread = threading.Thread(target=api.server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("GITHUB_API_URL", api.url)
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/estate")
    try:
        yield api
    finally:
        api.server.shutdown()
        api.server.server_close()


def test_pr_context_reads_who_approved_the_merged_head(
    github: RecordedGitHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sha = "ab" * 20
    github.merged.add(sha)
    out = tmp_path / "context.json"
    monkeypatch.setenv("GITHUB_TOKEN", GITHUB_TOKEN)
    code, text, err = run_cli("audit", "pr-context", "--out", str(out), "--sha", sha)
    assert code == 0, err
    assert github.requests == [f"/repos/acme/estate/commits/{sha}/pulls", "/repos/acme/estate/pulls/42/reviews?per_page=100"]
    pr = json.loads(out.read_text())["pull_request"]
    # alice's latest review on the merged head approves; bob approved an older head; carol wrote it
    assert (pr["number"], pr["author"], pr["approvals"]) == (42, "carol", ["alice", "risk-ml-lead"])
    assert pr["labels"] == ["model-release"] and pr["base_ref"] == "main"
    assert "approved by alice, risk-ml-lead" in text
    monkeypatch.delenv("GITHUB_TOKEN")
    code, _, err = run_cli("audit", "pr-context", "--out", str(out), "--sha", sha)
    assert code == 1 and "refused" in err and "pull-requests: read" in err


def test_apply_workflow_after_merge(
    estate: Path, target: LocalTarget, token: str, github: RecordedGitHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:  # fmt: skip
    base = _with_policies(estate)
    origin = tmp_path / "origin.git"
    pygit2.init_repository(str(origin), bare=True)
    pygit2.Repository(str(estate)).remotes.create("origin", str(origin)).push(["refs/heads/main:refs/heads/main"])
    values = {"secrets.SPECOPS_LOCAL_TOKEN": token, "github.token": GITHUB_TOKEN}
    # First merge: the estate itself, pushed to main without a pull request.
    monkeypatch.setenv("GITHUB_SHA", base)
    results = Runner("specops-apply.yml", estate, values).run()
    assert results["specops pull-request context"].returncode == 0
    assert "No merged pull request" in results["specops pull-request context"].stdout
    assert results["specops apply"].returncode == 0, results["specops apply"].stdout + results["specops apply"].stderr
    assert live_model(target)["serving"] == {"1.0.0": 100}
    # A pull request merged into main (fast-forward), applied while real traffic flows.
    _branch(estate, "feature", base)
    head = commit_version(estate, "1.1.0")
    git = pygit2.Repository(str(estate))
    git.branches["main"].set_target(head)
    git.checkout(git.branches["main"])
    git.remotes["origin"].push(["refs/heads/main:refs/heads/main"])
    github.merged.add(head)  # merged through pull request 42
    monkeypatch.setenv("GITHUB_SHA", head)
    features = ["amount", "account_age_days", "tx_count_24h", "distinct_merchants_7d",
                "avg_amount_30d", "hour_of_day", "distance_from_home_km", "card_present"]  # fmt: skip
    rows = rows_from_csv((estate / "specs/data/transactions-2026-10.csv").read_bytes(), features)
    with target.driver() as driver, TrafficGenerator(driver, "fraud-scorer", "features", rows, rate=250) as traffic:
        results = Runner("specops-apply.yml", estate, values).run()
    apply = results["specops apply"]
    assert apply.returncode == 0, apply.stdout + apply.stderr
    assert "analysis at 100%: Successful" in (estate / "apply.log").read_text()
    assert live_model(target)["serving"] == {"1.1.0": 100}
    assert traffic.counts.failed == 0 and traffic.counts.ok > 0
    status = json.loads((estate / "status.json").read_text())
    assert {r["sync"] for r in status["resources"]} == {"Synced"}
    summary = (estate.parent / "specops-apply.yml-summary.md").read_text()
    assert "Model/fraud-scorer" in summary and "6/6 synced, 6/6 healthy." in summary
    assert token not in summary + apply.stdout + apply.stderr
    plan = json.loads((estate / "plan.json").read_text())
    assert plan["policy"]["context"]["pull_request"]["approvals"] == ["alice", "risk-ml-lead"]

    # The evidence went to origin: an auditor with the repository alone sees both merges.
    assert "record(s) sealed on refs/specops/evidence, pushed to origin." in (estate / "apply.log").read_text()
    evidence = results["specops evidence"]
    assert evidence.returncode == 0, evidence.stdout + evidence.stderr
    assert "pushed to origin" in evidence.stdout and "Evidence chain OK" in evidence.stdout
    auditor = tmp_path / "auditor"
    pygit2.clone_repository(str(origin), str(auditor))
    pygit2.Repository(str(auditor)).remotes["origin"].fetch(["+refs/specops/evidence:refs/specops/evidence"])
    assert run_cli("audit", "verify", "--repo", str(auditor))[0] == 0
    code, out, err = run_cli("audit", "--repo", str(auditor), "--format", "jsonl", "--resource", "Model/fraud-scorer")
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    changes = [line for line in lines if line["kind"] == "change"]
    assert [(c["version"], c["outcome"]) for c in changes] == [("1.0.0", "applied"), ("1.1.0", "promoted")]
    assert changes[0]["approvers"] == [] and changes[1]["approvers"] == ["alice", "risk-ml-lead"]
    assert changes[1]["author"] == "carol"
    unapproved = [line for line in lines if line["kind"] == "finding" and line["code"] == "unapproved-merge"]
    assert len(unapproved) == 1 and unapproved[0]["plan_id"] == changes[0]["plan_id"]
    assert GITHUB_TOKEN not in "".join(r.stdout + r.stderr for r in results.values())
