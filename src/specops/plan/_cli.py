"""``specops plan``: the parser registration and the command, for ``specops._cli`` to wire in.

The command resolves a ``Project``, runs the one pipeline (``run_pipeline``:
load -> live -> plan -> policy) and renders. A plan that a policy denies,
or that waits for an approval, is *blocked*: it is still printed (and
saved with ``--out``), and the command exits 1. Invalid specs make no plan
and write no plan file; the chosen format carries the errors on stdout
(SARIF results, GitHub annotations, a markdown comment, JSON), exit 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from specops._errors import SpecError, SpecOpsError

if TYPE_CHECKING:
    from specops.policy._check import PolicyOptions

__all__ = ["add_plan_parser", "cmd_plan"]

EXIT_OK = 0
EXIT_BLOCKED = 1
EXIT_CHANGES = 2


def add_plan_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``plan`` on the ``specops`` sub-parsers; returns the new parser."""
    plan = subparsers.add_parser(
        "plan", help="show what would change, in what order and why (git desired state vs live)"
    )
    plan.add_argument("--repo", default=".", help="a path inside the git repository (default: .)")
    plan.add_argument("--ref", default="HEAD", help="git ref to read specs from (default: HEAD)")
    plan.add_argument("--worktree", action="store_true", help="plan the uncommitted work tree instead of --ref")
    plan.add_argument("--base", help="also review what the change from this ref to --ref does (pull requests)")
    plan.add_argument("--live", metavar="FILE", help="plan against a saved live-state snapshot (offline)")
    plan.add_argument(
        "--allow-unreachable", action="store_true", help="plan unreachable targets' resources as unknown"
    )
    plan.add_argument(
        "--allow-empty", action="store_true",
        help="allow a plan that deletes every resource of a target (the specs declare nothing for it)",
    )  # fmt: skip
    plan.add_argument("--target", metavar="KIND/NAME", help="plan one resource and what it depends on")
    plan.add_argument("--out", metavar="FILE", help="also save the plan (JSON) for apply")
    plan.add_argument(
        "--retry-rolled-back", action="store_true", help="plan a Model version a target rolled back again, unchanged"
    )
    plan.add_argument(
        "--format", choices=("text", "json", "markdown", "sarif", "github"), default="text",
        help="sarif: SARIF 2.1.0 of the policy results (GitHub code scanning); "
        "github: workflow annotations on the spec lines",
    )
    plan.add_argument(
        "--detailed-exitcode", action="store_true", help="exit 2 when there are changes (0: none, 1: error)"
    )
    plan.add_argument("--specs-root", default="specs", help="directory of specs in the repository (default: specs)")
    plan.add_argument("--no-cache", action="store_true", help="parse every spec file, ignoring the parse cache")
    policy = plan.add_argument_group("policies")
    policy.add_argument(
        "--policies", metavar="DIR", action="append",
        help="Rego policy directory (repeatable; default: policy.paths in specops.yaml, else policies/)",
    )
    policy.add_argument("--config", metavar="FILE", help="project configuration (default: specops.yaml at the root)")
    policy.add_argument(
        "--context", metavar="FILE", help="pull-request context (YAML/JSON: pull_request.author, approvals, labels; now)"
    )
    policy.add_argument("--waivers", metavar="FILE", help="waiver file (default: policy.waivers in specops.yaml)")
    policy.add_argument("--opa-url", metavar="URL", help="evaluate on this OPA server instead of the embedded engine")
    policy.add_argument(
        "--opa-token-env", metavar="VAR", help="environment variable holding the OPA bearer token"
    )
    policy.add_argument(
        "--opa-no-push", action="store_true",
        help="do not upload the policies: the OPA server already has them (by package name)",
    )
    policy.add_argument(
        "--policy-ref", metavar="REF",
        help="read policies, specops.yaml and waivers from git at REF (e.g. the pull request's base), "
        "so a change cannot weaken the policies that judge it",
    )  # fmt: skip
    policy.add_argument("--policy-timeout", type=float, metavar="SECONDS", help="per-decision limit (fail closed)")
    policy.add_argument("--no-policy", action="store_true", help="skip policy evaluation")
    plan.set_defaults(func=cmd_plan)
    return plan  # type: ignore[no-any-return]


def policy_options(args: argparse.Namespace) -> PolicyOptions | None:
    """The policy flags of ``plan`` (``None`` with ``--no-policy``)."""
    from specops.policy._check import PolicyOptions

    if args.no_policy:
        return None
    return PolicyOptions(
        policies=args.policies,
        config=args.config,
        context=args.context,
        waivers=args.waivers,
        opa_url=args.opa_url,
        opa_token_env=args.opa_token_env,
        opa_push=False if args.opa_no_push else None,
        timeout=args.policy_timeout,
        policy_ref=args.policy_ref,
    )


def cmd_plan(args: argparse.Namespace, out: TextIO) -> int:
    # The planner, git and HTTP load only when the command runs: registering the
    # parser must stay cheap for ``specops --version`` and every other subcommand.
    from specops._project import Project
    from specops.plan._pipeline import PlanRequest, run_pipeline
    from specops.plan._render import (
        render_invalid,
        render_json,
        render_markdown,
        render_text,
        use_colour,
    )

    if args.worktree and args.ref != "HEAD":
        raise SpecOpsError("--worktree plans the work tree; it cannot be combined with --ref")
    project = Project.discover(
        args.repo, specs_root=args.specs_root, cache=not args.no_cache, policy=policy_options(args)
    )
    request = PlanRequest(
        ref=args.ref,
        worktree=args.worktree,
        base=args.base,
        live=args.live,
        allow_unreachable=args.allow_unreachable,
        allow_empty=args.allow_empty,
        target=args.target,
        retry_rolled_back=args.retry_rolled_back,
    )
    try:
        result = run_pipeline(project, request)
    except SpecError as exc:
        if args.format == "text":
            raise
        out.write(render_invalid(exc, args.format, fallback=project.specs_root))
        for diagnostic in exc.diagnostics:
            sys.stderr.write(diagnostic.format() + "\n")
        return EXIT_BLOCKED
    for warning in result.warnings:
        sys.stderr.write(f"warning: {warning}\n")
    plan = result.plan
    if args.out:
        Path(args.out).write_text(render_json(plan), encoding="utf-8")
    if args.format == "json":
        out.write(render_json(plan))
    elif args.format == "markdown":
        out.write(render_markdown(plan))
    elif args.format in ("sarif", "github"):
        from specops.policy._model import PolicyReport
        from specops.policy._report import render_github, render_sarif

        report = plan.policy or PolicyReport("none", "", "")
        fallback = plan.desired.specs_root
        out.write(render_sarif(report, fallback=fallback) if args.format == "sarif" else render_github(report, fallback=fallback))
    else:
        out.write(render_text(plan, colour=use_colour(out if out is not sys.stdout else sys.stdout)))
    if plan.policy_blocked:
        return EXIT_BLOCKED
    return EXIT_CHANGES if args.detailed_exitcode and plan.has_changes else EXIT_OK
