"""``specops audit`` (and ``audit verify|seal|prune|pr-context``) and ``specops history``."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from specops._errors import SpecOpsError
from specops._help import HelpFormatter

__all__ = ["add_audit_parsers", "cmd_audit", "cmd_history", "history_entries", "print_evidence"]

EXIT_OK = 0


def _moment(value: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date: use YYYY-MM-DD or 2026-11-02T10:00:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _resource(value: str) -> str:
    kind, _, name = value.partition("/")
    if not kind or not name:
        raise argparse.ArgumentTypeError(f"{value!r} is not KIND/NAME (e.g. Model/fraud-scorer)")
    return value


def add_audit_parsers(subparsers: Any) -> None:
    """Register ``audit`` (with its sub-commands) and ``history``."""
    audit = subparsers.add_parser(
        "audit",
        help="every applied change with its policies, approvals, tests and outcome, and the findings",
        description="One row per applied resource change, from the evidence chain: what changed, who wrote and approved it, the policies and their results, waivers, how it was tested, the outcome; findings first. Sub-commands verify, seal, prune and pr-context work on the chain itself.",
        epilog="""\
examples:
  specops audit --since 2026-10-01 --format csv > q4.csv
  specops audit --resource Model/fraud-scorer --live
  specops audit verify
""",
        formatter_class=HelpFormatter,
    )
    audit.add_argument("--repo", default=".", help="a path inside the git repository (default: .)")
    audit.add_argument("--since", type=_moment, metavar="DATE", help="changes applied at or after DATE (UTC)")
    audit.add_argument("--until", type=_moment, metavar="DATE", help="changes applied before DATE (UTC)")
    audit.add_argument("--resource", type=_resource, metavar="KIND/NAME", help="one resource's changes")
    audit.add_argument(
        "--live", action="store_true", help="also ask every target what it serves and report what no record explains"
    )
    audit.add_argument(
        "--format", choices=("text", "csv", "jsonl", "html", "json"), default="text",
        help="text (default), csv, jsonl, html (one self-contained page) or json",
    )  # fmt: skip
    audit.add_argument("--out", metavar="FILE", help="write the report here instead of stdout")
    audit.set_defaults(func=cmd_audit)
    sub = audit.add_subparsers(
        dest="audit_command", metavar="[verify|seal|prune|pr-context]",
        help="work on the chain itself (without one: the audit report)",
    )  # fmt: skip

    verify = sub.add_parser(
        "verify",
        help="recompute the evidence chain; exit 1 naming the first bad record",
        description="Recompute the evidence chain, its head and its append-only history; exit 1 naming the first edited, deleted or reordered record.",
        epilog="""\
examples:
  specops audit verify
  specops audit verify --format json
""",
        formatter_class=HelpFormatter,
    )
    verify.add_argument("--repo", default=".", help="a path inside the git repository (default: .)")
    verify.add_argument("--format", choices=("text", "json"), default="text", help="text (default) or json")
    verify.set_defaults(func=cmd_verify)

    seal = sub.add_parser(
        "seal",
        help="seal the journal's new events into the evidence (apply does it itself)",
        description="Seal the journal's new events into the evidence chain (apply does it itself); --push shares the chain without force.",
        epilog="""\
examples:
  specops audit seal
  specops audit seal --push --remote origin
""",
        formatter_class=HelpFormatter,
    )
    seal.add_argument("--repo", default=".", help="a path inside the git repository (default: .)")
    seal.add_argument("--journal", metavar="FILE", help="the apply journal (default: $SPECOPS_JOURNAL or .git/specops/journal.jsonl)")
    seal.add_argument("--push", action="store_true", help="share the chain: fetch, re-link if needed, push (no force)")
    seal.add_argument("--remote", help="the remote to push to (default: evidence.remote in specops.yaml, else origin)")
    seal.set_defaults(func=cmd_seal)

    prune = sub.add_parser(
        "prune",
        help="remove records older than evidence.retentionDays (recorded in the chain)",
        description="Remove records older than evidence.retentionDays in specops.yaml; the prune itself is recorded in the chain.",
        epilog="""\
examples:
  specops audit prune --dry-run
  specops audit prune
""",
        formatter_class=HelpFormatter,
    )
    prune.add_argument("--repo", default=".", help="a path inside the git repository (default: .)")
    prune.add_argument("--dry-run", action="store_true", help="say what would go, change nothing")
    prune.set_defaults(func=cmd_prune)

    context = sub.add_parser(
        "pr-context",
        help="the merged pull request and its approvals, from GitHub's API, as --context",
        description="Write the merged pull request behind a commit and who approved its final head, from GitHub's REST API (GITHUB_TOKEN), as the --context document the policies and the evidence read.",
        epilog="""\
examples:
  specops audit pr-context --out pr-context.json
  specops audit pr-context --sha $GITHUB_SHA --repository OWNER/NAME --out ctx.json
""",
        formatter_class=HelpFormatter,
    )
    context.add_argument("--out", metavar="FILE", required=True, help="write the context document (JSON) here")
    context.add_argument("--sha", help="the merged commit (default: $GITHUB_SHA)")
    context.add_argument("--repository", metavar="OWNER/NAME", help="the GitHub repository (default: $GITHUB_REPOSITORY)")
    context.set_defaults(func=cmd_pr_context)

    history = subparsers.add_parser(
        "history",
        help="the history of applies per resource, from the evidence",
        description="The applies per resource, from the evidence: when, target, version, commit, plan, holder, outcome.",
        epilog="""\
examples:
  specops history
  specops history Model/fraud-scorer --format json
""",
        formatter_class=HelpFormatter,
    )
    history.add_argument("resource", nargs="?", type=_resource, metavar="KIND/NAME", help="one resource (default: all)")
    history.add_argument("--repo", default=".", help="a path inside the git repository (default: .)")
    history.add_argument("--format", choices=("text", "json"), default="text", help="text (default) or json")
    history.set_defaults(func=cmd_history)


def _repo(path: str) -> Any:
    """The repository at ``path``; a ``specops demo --workdir DIR`` keeps its repository in
    ``DIR/estate``, so ``--repo DIR`` reads that one (the demo says where it is)."""
    from specops._git import GitRepo

    demo = Path(path) / "estate"
    if not (Path(path) / ".git").exists() and (demo / ".git").is_dir() and (Path(path) / "journal.jsonl").is_file():
        return GitRepo.discover(demo)
    return GitRepo.discover(path)


def _targets(repo: Any, records: list[dict[str, Any]]) -> dict[str, tuple[str, str | None, str | None]]:
    """Every target the records name (the URL each apply used) and the desired Targets at HEAD."""
    targets: dict[str, tuple[str, str | None, str | None]] = {}
    for record in records:
        if record.get("type") == "apply.start":
            for name, where in ((record.get("detail") or {}).get("targets") or {}).items():
                if where.get("url"):
                    targets[name] = (str(where["url"]), where.get("tokenEnv"), where.get("type"))
    try:
        from specops.plan import load_desired_state

        estate = load_desired_state(repo.workdir).estate
    except SpecOpsError:
        return targets
    for spec in estate.of_kind("Target"):
        body = spec.resource.canonical()["spec"]
        targets[spec.resource.name] = (str(body["url"]), (body.get("auth") or {}).get("tokenEnv"), body.get("type"))
    return targets


def evidence_records(repo: Any) -> tuple[str | None, Iterator[dict[str, Any]], Any]:
    """The evidence head, its records as one streaming pass, and the chain check that pass feeds."""
    from specops.evidence._record import ChainCheck
    from specops.evidence._store import EvidenceStore

    store = EvidenceStore(repo)
    commit = store.head_commit()
    check = ChainCheck(store.read_head(commit))

    def records() -> Iterator[dict[str, Any]]:
        for line, where in store.iter_lines(commit):
            record = check.feed(line, where)
            if record is not None:
                yield record

    return commit, records(), check


def cmd_audit(args: argparse.Namespace, out: TextIO) -> int:
    from specops.evidence._audit import build_audit, live_findings
    from specops.evidence._render import render_audit

    repo = _repo(args.repo)
    commit, stream, check = evidence_records(repo)
    records: Iterable[dict[str, Any]] = list(stream) if args.live else stream  # --live reads them twice
    audit = build_audit(records, repo=repo, since=args.since, until=args.until, resource=args.resource, check=check)
    audit.head = commit
    if args.live:
        assert isinstance(records, list)
        found = live_findings(records, _targets(repo, records))
        audit.findings.extend(f for f in found if args.resource is None or f.resource in (None, args.resource))
    text = json.dumps(audit.to_json(), indent=2) + "\n" if args.format == "json" else render_audit(audit, args.format)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        out.write(text)
    return EXIT_OK


def cmd_verify(args: argparse.Namespace, out: TextIO) -> int:
    from specops.evidence._store import EvidenceError
    from specops.evidence._verify import verify

    result = verify(_repo(args.repo))
    if args.format == "json":
        out.write(json.dumps(result.to_json(), indent=2) + "\n")
    if result.problem is not None:
        raise EvidenceError(f"evidence chain broken: {result.problem}")
    if args.format == "text":
        out.write(
            f"Evidence chain OK: {result.records} record(s), head record {result.head.get('seq')} "
            f"(sha256 {str(result.head.get('hash'))[:16]}), commit {str(result.commit)[:12]}.\n"
        )
    return EXIT_OK


def cmd_seal(args: argparse.Namespace, out: TextIO) -> int:
    from specops._project import Project
    from specops.evidence._config import load_evidence_config
    from specops.evidence._seal import seal

    project = Project.discover(args.repo, journal=args.journal, cache=False)
    remote = args.remote or load_evidence_config(project.repo.workdir).remote
    assert project.journal is not None  # Project always resolves one
    result = seal(args.repo, project.journal, push=args.push, remote=remote)
    if args.push and not result.pushed:
        raise SpecOpsError(f"no remote named {remote!r} to push the evidence to (git remote add {remote} URL)")
    where = f"; pushed to {remote} ({result.push_attempts} attempt(s))" if result.pushed else ""
    out.write(f"Sealed {result.sealed} record(s) on refs/specops/evidence{where}.\n")
    return EXIT_OK


def cmd_prune(args: argparse.Namespace, out: TextIO) -> int:
    from specops.evidence._config import load_evidence_config
    from specops.evidence._verify import prune

    repo = _repo(args.repo)
    config = load_evidence_config(repo.workdir)
    result = prune(repo, config.retention_days, dry_run=args.dry_run)
    verb = "Would remove" if args.dry_run else "Removed"
    out.write(
        f"{verb} {len(result.removed)} segment(s) sealed before {result.cutoff} "
        f"(evidence.retentionDays {config.retention_days}).\n"
    )
    return EXIT_OK


def cmd_pr_context(args: argparse.Namespace, out: TextIO) -> int:
    from specops.evidence._github import pull_request_context

    context = pull_request_context(args.sha, args.repository)
    Path(args.out).write_text(json.dumps(context, indent=2) + "\n", encoding="utf-8")
    pr = context.get("pull_request")
    if pr is None:
        out.write("No merged pull request for this commit: the context records no approval.\n")
    else:
        out.write(f"Pull request #{pr['number']} by {pr['author']}, approved by {', '.join(pr['approvals']) or 'nobody'}.\n")
    return EXIT_OK


def history_entries(records: Iterable[dict[str, Any]], resource: str | None = None) -> list[dict[str, Any]]:
    """Argo CD-style history: one entry per apply of a resource on a target, oldest first."""
    from specops.evidence._audit import build_audit

    audit = build_audit(records, resource=resource)
    return [
        {
            "when": row.applied_at,
            "resource": row.resource,
            "target": row.target,
            "version": row.version,
            "commit": row.commit,
            "plan_id": row.plan_id,
            "apply_id": row.apply_id,
            "holder": row.holder,
            "outcome": row.outcome,
            "outcome_by": row.outcome_by,
        }
        for row in audit.rows
    ]


def print_evidence(repo_path: Path, out: TextIO, resource: str) -> None:
    """``specops audit`` and ``specops history RESOURCE`` of a repository, as text (the demo's last step)."""
    from specops.evidence._audit import build_audit
    from specops.evidence._render import render_audit, render_history

    repo = _repo(str(repo_path))
    commit, stream, check = evidence_records(repo)
    records = list(stream)
    audit = build_audit(records, repo=repo, check=check)
    audit.head = commit
    out.write("$ specops audit\n" + render_audit(audit, "text"))
    out.write(f"$ specops history {resource}\n" + render_history(history_entries(records, resource), "text"))


def cmd_history(args: argparse.Namespace, out: TextIO) -> int:
    from specops.evidence._render import render_history

    _, records, _ = evidence_records(_repo(args.repo))
    out.write(render_history(history_entries(records, args.resource), args.format))
    return EXIT_OK
