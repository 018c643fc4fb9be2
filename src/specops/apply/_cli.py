"""``specops apply``, ``specops status`` and ``specops demo``: registration and commands."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from specops._help import HelpFormatter

__all__ = ["add_apply_parsers", "cmd_apply", "cmd_demo", "cmd_status"]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2
EVENT_FORMAT_VERSION = 1
"""``apply --format json``: each line is an event ``{format_version, event, ts, ...}`` (a journal
entry) as it happens; the last is ``{"event": "result", "result": {...}}``, the apply's outcome."""


def add_apply_parsers(subparsers: Any) -> None:
    """Register ``apply``, ``status`` and ``demo`` on the ``specops`` sub-parsers."""
    apply = subparsers.add_parser(
        "apply",
        help="apply a saved plan (or plan and apply with --auto-approve): leases, canaries, rollback",
        description="Apply a plan saved by `specops plan --out` (refused when it is blocked, or when "
        "the desired or live state moved since), or plan and apply in one step with --auto-approve. "
        "Wave by wave under each target's lease; models roll out directly or as canaries judged "
        "against their SLO and roll back by themselves. Every step goes to the journal first; an "
        "interrupted apply is recovered by the next. With --format json, one JSON event per line as "
        "it happens (format_version 1), the last one the result.",
        epilog="""\
examples:
  specops plan --out plan.json && specops apply plan.json
  specops apply --auto-approve                     plan HEAD and apply it
  specops apply plan.json --traffic 200            generate canary traffic from the training data
  specops apply plan.json --format json | jq -c 'select(.event == "analysis")'
""",
        formatter_class=HelpFormatter,
    )
    apply.add_argument("plan_file", nargs="?", metavar="PLAN_FILE", help="a plan saved by `specops plan --out`")
    apply.add_argument("--auto-approve", action="store_true", help="plan now and apply that plan without a file")
    apply.add_argument("--repo", default=".", help="a path inside the git repository (default: .)")
    apply.add_argument("--ref", default="HEAD", help="with --auto-approve: the git ref to apply (default: HEAD)")
    apply.add_argument("--specs-root", default="specs", help="with --auto-approve: the specs directory")
    apply.add_argument(
        "--allow-empty", action="store_true",
        help="with --auto-approve: allow deleting every resource of a target",
    )  # fmt: skip
    apply.add_argument("--context", metavar="FILE", help="with --auto-approve: pull-request context for the policies")
    apply.add_argument(
        "--no-policy", action="store_true", help="with --auto-approve: skip policy evaluation (a saved plan keeps its verdict)"
    )
    apply.add_argument(
        "--retry-rolled-back", action="store_true",
        help="with --auto-approve: apply a Model version a target rolled back again, unchanged",
    )  # fmt: skip
    apply.add_argument("--journal", metavar="FILE", help="the apply journal (default: $SPECOPS_JOURNAL or .git/specops/journal.jsonl)")
    apply.add_argument(
        "--traffic", type=float, metavar="RATE",
        help="send RATE requests/s of dataset rows to each model while its canary runs (demos, tests)",
    )
    apply.add_argument("--lease-ttl", type=float, default=60.0, metavar="SECONDS", help="lease time-to-live (renewed while applying)")
    apply.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS", help="per admin call")
    apply.add_argument(
        "--load-timeout", type=float, default=600.0, metavar="SECONDS",
        help="per artifact upload or model load (the target answers once the version is loaded and warmed up)",
    )  # fmt: skip
    apply.add_argument(
        "--format", choices=("text", "json"), default="text",
        help="text (default), or json: one event per line as it happens, then the result",
    )  # fmt: skip
    apply.set_defaults(func=cmd_apply)

    status = subparsers.add_parser(
        "status",
        help="sync and health of every resource on every target",
        description="Per resource and target: Synced or OutOfSync against git, Healthy, Progressing, "
        "Degraded, Missing or Unknown, the version and traffic split really served and the "
        "providers really got.",
        epilog="""\
examples:
  specops status
  specops status --worktree                        against uncommitted specs
  specops status --detailed-exitcode || echo 'not everything is in sync'
""",
        formatter_class=HelpFormatter,
    )
    status.add_argument("--repo", default=".", help="a path inside the git repository (default: .)")
    status.add_argument("--ref", default="HEAD", help="git ref of the desired state (default: HEAD)")
    status.add_argument("--worktree", action="store_true", help="compare with the uncommitted work tree")
    status.add_argument("--specs-root", default="specs", help="directory of specs in the repository (default: specs)")
    status.add_argument("--format", choices=("text", "json"), default="text", help="text (default) or json")
    status.add_argument(
        "--detailed-exitcode", action="store_true", help="exit 2 unless everything is Synced and Healthy"
    )
    status.set_defaults(func=cmd_status)

    demo = subparsers.add_parser(
        "demo",
        help="serve locally, apply the example estate, roll out a canary, show status, stop",
        description="The end-to-end demo, in a temporary git repository: start a local specops serve, "
        "plan and apply the example estate with the built-in policies, commit a new model version and "
        "watch its canary promote, commit a broken export and watch its canary roll back, print the "
        "status, stop. About 30 s; specs/ is left untouched.",
        epilog="""\
examples:
  specops demo
  specops demo --workdir /tmp/specops-demo         keep the repository and server state
""",
        formatter_class=HelpFormatter,
    )
    demo.add_argument("--specs", default="specs", help="the example estate to copy (default: ./specs)")
    demo.add_argument("--workdir", metavar="DIR", help="keep the demo repository and server state here (default: a temp dir)")
    demo.add_argument("--port", type=int, default=0, help="port for the local target (default: a free one)")
    demo.add_argument("--traffic", type=float, default=300.0, metavar="RATE", help="requests/s during the canary")
    demo.add_argument(
        "--ray", action="store_true",
        help="run the demo on a local Ray cluster (a ray-serve Target; needs pip install 'specops[ray]')",
    )
    demo.set_defaults(func=cmd_demo)


def cmd_apply(args: argparse.Namespace, out: TextIO) -> int:
    from specops._errors import SpecOpsError
    from specops._project import Project
    from specops.apply._checks import load_plan
    from specops.apply._runner import ApplyOptions, apply_plan
    from specops.evidence import stash_plan
    from specops.plan import PlanRequest, PlanResult, run_pipeline
    from specops.policy._check import PolicyOptions

    if bool(args.plan_file) == bool(args.auto_approve):
        raise SpecOpsError(
            "give a saved plan (`specops plan --out plan.json` then `specops apply plan.json`) "
            "or --auto-approve to plan and apply in one step, not both"
        )
    text = args.format == "text"

    def say(line: str) -> None:
        if text:
            out.write(line + "\n")
            out.flush()

    def event(entry: dict[str, Any]) -> None:
        # --format json: one JSON document per line, as each step is journaled.
        out.write(json.dumps({"format_version": EVENT_FORMAT_VERSION, **entry}, default=str) + "\n")
        out.flush()

    policy = None if args.no_policy else PolicyOptions(context=args.context)
    project = Project.discover(args.repo, specs_root=args.specs_root, journal=args.journal, policy=policy)
    options = ApplyOptions(
        project=project,
        lease_ttl_s=args.lease_ttl,
        traffic_rate=args.traffic,
        timeout=args.timeout,
        load_timeout=args.load_timeout,
        say=say,
        on_event=None if text else event,
    )
    replan = None
    desired = None
    if args.plan_file:
        plan = load_plan(Path(args.plan_file))
    else:

        def replan() -> PlanResult:
            # The same pipeline as `specops plan`: one estate, planned and judged.
            request = PlanRequest(ref=args.ref, allow_empty=args.allow_empty, retry_rolled_back=args.retry_rolled_back)
            made = run_pipeline(project, request)
            stash_plan(project.journal, made.plan.to_json())
            return made

        made = replan()
        plan, desired = made.plan, made.desired
    say(f"Applying plan {plan.plan_id[:12]} (commit {str(plan.desired.commit)[:12]}); journal {project.journal}")
    stash_plan(project.journal, plan.to_json())  # the evidence seals the plan's policy decisions with the apply
    try:
        result = apply_plan(plan, options, desired=desired, replan=replan)
    except SpecOpsError as exc:
        if not text:
            event({"event": "result", "result": {"outcome": "failed", "error": str(exc)}})
        raise
    finally:
        _seal_evidence(project.repo, project.journal, say)
    if text:
        say(result.message)
        if result.traffic.sent:
            t = result.traffic
            say(f"Generated traffic: {t.sent} requests, {t.ok} ok, {t.blocked} blocked, {t.failed} failed.")
    else:
        event({"event": "result", "result": result.to_json()})
    return EXIT_OK


def _seal_evidence(repo: Any, journal: Path | None, say: Any) -> None:
    """Seal what this apply journaled into the repository's evidence and push it where a remote is
    configured (``evidence.remote``, default origin); a failure warns, the apply's result stands."""
    from specops._errors import SpecOpsError
    from specops.evidence import seal
    from specops.evidence._config import load_evidence_config

    if journal is None:
        return
    try:
        seal(repo, journal, push=True, remote=load_evidence_config(repo.workdir).remote, say=say)
    except SpecOpsError as exc:
        sys.stderr.write(f"warning: evidence not sealed ({exc}); run `specops audit seal`\n")


def cmd_status(args: argparse.Namespace, out: TextIO) -> int:
    from specops._project import Project
    from specops.apply._status import collect_status, render_status_text

    project = Project.discover(args.repo, specs_root=args.specs_root)
    report = collect_status(project, ref=args.ref, worktree=args.worktree)
    if args.format == "json":
        out.write(json.dumps(report.to_json(), indent=2) + "\n")
    else:
        out.write(render_status_text(report))
    return EXIT_CHANGES if args.detailed_exitcode and not report.in_sync else EXIT_OK


def cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    from specops.apply._demo import run_demo

    return run_demo(
        Path(args.specs),
        out,
        workdir=Path(args.workdir) if args.workdir else None,
        port=args.port,
        traffic=args.traffic,
        err=sys.stderr,
        ray=args.ray,
    )
