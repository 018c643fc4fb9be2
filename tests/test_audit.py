"""``specops audit``, ``audit verify`` and ``history`` after real applies to a real ``specops serve``.

A real git repository holds the example estate; the applies are the same as
tests/test_apply.py's (creates, 1.1.0 promoted by its canary, a broken
1.2.0 rolled back by analysis), then a change applied with ``--no-policy``
and a model version changed by hand through the admin API. The evidence
chain must list every change with its policies, report both as findings,
and ``audit verify`` must name a record edited or deleted afterwards.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import html5lib
import pygit2

from specops._core import canonical_hash
from specops._git import GitRepo
from specops.apply import LocalTarget
from specops.evidence import REF, EvidenceStore
from specops.evidence._verify import verify
from tests._evidence_util import chain_records, csv_rows, tamper
from tests.helpers.cli import run_cli
from tests.helpers.git import edit
from tests.helpers.serve import TOKEN_ENV, commit_version


def _changes(out: str) -> list[dict[str, str]]:
    return [r for r in csv_rows(out) if r["outcome"] != "FINDING"]


def _findings(out: str) -> dict[str, list[dict[str, str]]]:
    found: dict[str, list[dict[str, str]]] = {}
    for row in csv_rows(out):
        if row["outcome"] == "FINDING":
            found.setdefault(row["outcome_by"], []).append(row)
    return found


def test_audit_lists_every_change_and_finds_what_bypassed_specops(estate: Path, target: LocalTarget) -> None:
    repo = str(estate)
    assert run_cli("apply", "--auto-approve", "--repo", repo)[0] == 0
    commit_version(estate, "1.1.0")
    code, out, err = run_cli("apply", "--auto-approve", "--repo", repo, "--traffic", "250")
    assert code == 0, out + err
    assert "Evidence: " in out and "record(s) sealed on refs/specops/evidence" in out
    commit_version(estate, "1.2.0", broken=True)
    assert run_cli("apply", "--auto-approve", "--repo", repo, "--traffic", "250")[0] == 1

    code, out, err = run_cli("audit", "--repo", repo, "--format", "csv")
    assert code == 0, err
    rows = _changes(out)
    creates = [(r["resource"], r["action"], r["outcome"]) for r in rows[:6]]
    assert sorted(creates) == sorted(
        (rid, "create", "applied") for rid in (
            "Target/local-cpu", "Dataset/transactions", "Guardrail/feature-ranges", "Model/fraud-scorer",
            "Prompt/fraud-case-summary", "SLO/fraud-scorer",
        )
    )  # fmt: skip
    promoted, rolled_back = rows[6], rows[7]
    assert len(rows) == 8
    assert (promoted["resource"], promoted["version"], promoted["outcome"]) == ("Model/fraud-scorer", "1.1.0", "promoted")
    assert [s.split("(")[0] for s in promoted["canary"].split("; ")] == ["10%:Successful", "50%:Successful", "100%:Successful"]
    assert promoted["fields_changed"] and "spec.version" in promoted["fields_changed"]
    assert "dataset transactions@2026-10 sha256 c2f5ebc1" in promoted["tested"]
    assert (rolled_back["version"], rolled_back["outcome"], rolled_back["outcome_by"]) == ("1.2.0", "rolled_back", "analysis")
    assert rolled_back["objective"].startswith("guardrail block rate") and float(rolled_back["measured"]) == 1.0
    assert float(rolled_back["limit"]) == 0.05
    for row in rows:
        # the policies that held for each change, by the bundle that judged it, with their decision records
        assert "SO-MODEL-005:pass" in row["policies"] and "SO-CHANGE-001:pass" in row["policies"], row
        assert row["decisions"] and "@" in row["policy_bundle"]
        assert row["plan_id"] and row["commit"] and row["holder"].startswith("apply@")
    assert len({r["plan_id"] for r in rows}) == 3
    # applied on main without a pull request: every plan is flagged as an unapproved merge, and nothing else is
    assert set(_findings(out)) == {"unapproved-merge"} and len(_findings(out)["unapproved-merge"]) == 3

    # A change applied with --no-policy, and a model version changed by hand through the admin API.
    commit_version(estate, "1.1.0")  # back to what serves, so only the SLO changes
    edit(estate, "specs/slos/fraud-scorer.yaml", "thresholdMs: 50", "thresholdMs: 60")
    code, out, err = run_cli("apply", "--auto-approve", "--no-policy", "--repo", repo)
    assert code == 0 and "Apply complete: 1 change(s)" in out, out + err
    with target.driver() as driver:
        state = driver.live_state()
        spec = json.loads(json.dumps(state["resources"]["Model/fraud-scorer"]["spec"]))
        spec["spec"]["version"] = "1.1.1"
        driver.put_resource("Model", "fraud-scorer", spec, canonical_hash(spec), expected_revision=state["revision"])

    code, out, err = run_cli("audit", "--repo", repo, "--format", "csv", "--live")
    assert code == 0, err
    found = _findings(out)
    assert len(found["no-policy"]) == 1 and "--no-policy" in found["no-policy"][0]["objective"]
    assert [f["resource"] for f in found["live-unexplained"]] == ["Model/fraud-scorer"]
    assert "version 1.1.1" in found["live-unexplained"][0]["objective"]
    slo = _changes(out)[-1]
    assert (slo["resource"], slo["policies"]) == ("SLO/fraud-scorer", "(no policy: --no-policy)")
    # without --live the audit reads the repository alone
    assert "live-unexplained" not in _findings(run_cli("audit", "--repo", repo, "--format", "csv")[1])

    code, out, _ = run_cli("history", "Model/fraud-scorer", "--repo", repo, "--format", "json")
    assert code == 0
    history = json.loads(out)
    assert [(h["version"], h["outcome"]) for h in history] == [
        ("1.0.0", "applied"), ("1.1.0", "promoted"), ("1.2.0", "rolled_back"),
    ]  # fmt: skip
    text = run_cli("history", "Model/fraud-scorer", "--repo", repo)[1]
    assert text.splitlines()[0].split() == ["WHEN", "RESOURCE", "TARGET", "VERSION", "COMMIT", "PLAN", "HOLDER", "OUTCOME"]
    assert "rolled_back by analysis" in text

    page = run_cli("audit", "--repo", repo, "--format", "html")[1]
    document = html5lib.parse(page, treebuilder="etree", namespaceHTMLElements=False)
    parser = html5lib.HTMLParser(strict=True)
    parser.parse(page)  # raises on any parse error
    for element in document.iter():
        assert element.tag not in ("script", "link", "img", "iframe", "object", "embed"), element.tag
        for attribute in ("src", "href", "srcset", "action"):
            assert attribute not in element.attrib, (element.tag, element.attrib)
    assert "url(" not in page and "@import" not in page
    assert page.index("Findings") < page.index("Timeline per resource")
    assert "live-unexplained" not in page and "no-policy" in page

    # Verify: intact, then one byte of one record edited, then a record deleted.
    code, out, err = run_cli("audit", "verify", "--repo", repo)
    assert code == 0, err
    records = chain_records(estate)
    assert f"Evidence chain OK: {len(records)} record(s)" in out
    analysis = next(r for r in records if r["type"] == "analysis")

    def flip(path: str, data: bytes) -> bytes | None:
        marker = b'"seq":%d,' % analysis["seq"]
        if marker not in data:
            return None
        line_start = data.rfind(b"\n", 0, data.index(marker)) + 1
        at = data.index(b'"Successful"', line_start)
        return data[:at + 1] + b"s" + data[at + 2:]  # Successful -> successful

    git = pygit2.Repository(repo)
    intact = git.references[REF].target
    path = tamper(estate, flip, rewrite=True)
    code, _, err = run_cli("audit", "verify", "--repo", repo)
    assert code == 1
    assert f"record {analysis['seq']} ({path}:" in err and "was edited" in err, err
    found = _findings(run_cli("audit", "--repo", repo, "--format", "csv")[1])
    assert f"record {analysis['seq']}" in found["chain-broken"][0]["objective"]

    # Back to the intact chain; then delete one record in a commit on top.
    git.references.create(REF, intact, force=True)
    assert run_cli("audit", "verify", "--repo", repo)[0] == 0
    victim = next(r for r in records if r["type"] == "rollback")

    def drop(path: str, data: bytes) -> bytes | None:
        lines = data.split(b"\n")
        kept = [line for line in lines if not line.startswith(b"{") or b'"seq":%d,' % victim["seq"] not in line]
        return b"\n".join(kept) if len(kept) < len(lines) else None

    tamper(estate, drop)
    code, _, err = run_cli("audit", "verify", "--repo", repo)
    assert code == 1 and f"record {victim['seq']}: is missing: record {victim['seq']} deleted after " in err, err


def test_two_applies_to_two_targets_at_once_both_land_their_evidence(
    estate: Path, target: LocalTarget, token: str, tmp_path: Path,
) -> None:  # fmt: skip
    """Production (main, local-cpu) and staging (a branch whose Target is local-b) of one repository,
    applied at the same moment from two clones, each sealing and pushing to the shared origin."""
    origin = tmp_path / "origin.git"
    pygit2.init_repository(str(origin), bare=True)
    pygit2.Repository(str(estate)).remotes.create("origin", str(origin)).push(["refs/heads/main:refs/heads/main"])
    staging = tmp_path / "staging"
    git = pygit2.clone_repository(str(origin), str(staging), checkout_branch="main")
    git.checkout(git.branches.local.create("staging", git.head.peel(pygit2.Commit)))
    with LocalTarget("local-b", tmp_path / "target-b", token_env=TOKEN_ENV) as second:
        old = staging / "specs/targets/local-cpu.yaml"
        text = old.read_text().replace("name: local-cpu", "name: local-b")
        (staging / "specs/targets/local-b.yaml").write_text(re.sub(r"url: \S+", f"url: {second.url}", text))
        old.unlink()
        edit(staging, "specs/models/fraud-scorer.yaml", "targets: [local-cpu]", "targets: [local-b]")
        procs = [
            subprocess.Popen(
                ["bash", "-ec", f'"{sys.executable}" -m specops apply --auto-approve --repo "{repo}"; '
                                f'"{sys.executable}" -m specops audit seal --push --repo "{repo}"'],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            for repo in (estate, staging)
        ]  # fmt: skip
        for proc in procs:
            out, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, out + err
            assert "Apply complete: 6 change(s)" in out and "pushed to origin" in out
    shared = GitRepo(pygit2.Repository(str(origin)))
    assert verify(shared).problem is None
    records = list(EvidenceStore(shared).load().records())
    done = sorted((r["target"], r["resource"]) for r in records if r["type"] == "change.done")
    resources = sorted(r for t, r in done if t == "local-cpu")
    assert resources == sorted(r.replace("local-b", "local-cpu") for t, r in done if t == "local-b") and len(resources) == 6
    assert len({r["holder"] for r in records if r["type"] == "apply.start"}) == 2
    assert [r["seq"] for r in records] == list(range(len(records)))
