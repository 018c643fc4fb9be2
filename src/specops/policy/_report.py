"""Policy results as reports other tools read: SARIF 2.1.0 and GitHub workflow annotations.

SARIF is built with ``sarif-pydantic``'s object model (the schema is not
copied here). GitHub code scanning needs a physical location on every
result, so a result with no spec file (a plan-wide rule, a deleted
resource) points at the policy that produced it. Waived results are kept,
as suppressed results with the waiver's justification, which is how code
scanning shows an accepted exception.
"""

from __future__ import annotations

from typing import Any

import orjson
from sarif_pydantic import (  # type: ignore[import-untyped]
    ArtifactLocation,
    Location,
    Message,
    PhysicalLocation,
    Region,
    ReportingConfiguration,
    ReportingDescriptor,
    Result,
    Run,
    Sarif,
    Tool,
    ToolDriver,
)

from specops._version import __version__
from specops.policy._library import is_builtin
from specops.policy._model import PolicyReport, PolicyResult, PolicyRule

__all__ = ["NO_POLICIES", "SARIF_SCHEMA", "SKIPPED_POLICIES", "github_annotations", "render_github", "render_sarif", "sarif_log"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
NO_POLICIES = (
    "no policies configured: nothing checked this plan (name builtin:specops, the library SpecOps "
    "ships, and your own directories in policy.paths of specops.yaml; `specops init` writes one)"
)
SKIPPED_POLICIES = "skipped with --no-policy: nothing checked this plan"
_LEVEL = {"denied": "error", "pending_approval": "error", "warned": "warning", "approved": "note", "waived": "note"}
# GitHub sorts code-scanning alerts by this number (CVSS-like).
_SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "1.0"}


def _where(result: PolicyResult, fallback: str) -> tuple[str, int, int]:
    if result.path:
        return result.path, result.line or 1, result.column or 1
    # The built-in library is not a file of the repository; code scanning needs one that is.
    if result.policy_path and not is_builtin(result.policy_path):
        return result.policy_path, result.policy_line or 1, 1
    return fallback, 1, 1


def _help(rule: PolicyRule) -> Message:
    """What a reader of the alert needs: what the rule wants, how bad, where it is, how to waive it."""
    source = f"{rule.path}:{rule.line}" if rule.path else "a policy of this repository"
    waive = (
        f"fix the spec, or add a reviewed, expiring waiver to waivers.yaml "
        f"(rule: {rule.id}, resource: Kind/name, owner, justification, expires)"
    )
    text = f"{rule.title}. {rule.description} Severity {rule.severity}. Rule source: {source}. To resolve: {waive}."
    markdown = (
        f"**{rule.id}: {rule.title}**\n\n{rule.description}\n\n"
        f"- severity: {rule.severity}\n- rule source: `{source}`\n"
        f"- to resolve: fix the spec, or add a reviewed, expiring waiver to `waivers.yaml`:\n\n"
        f"```yaml\n- rule: {rule.id}\n  resource: Kind/name\n  owner: your-team\n"
        f"  justification: why, and the ticket that ends it\n  expires: YYYY-MM-DD\n```\n"
    )
    return Message(text=text, markdown=markdown)


def _descriptor(rule: PolicyRule) -> ReportingDescriptor:
    return ReportingDescriptor(
        id=rule.id,
        name=rule.package.rsplit(".", 1)[-1] if rule.package else rule.id,
        short_description=Message(text=rule.title),
        full_description=Message(text=rule.description),
        help=_help(rule),
        default_configuration=ReportingConfiguration(level="error"),
        properties={
            "security-severity": _SECURITY_SEVERITY.get(rule.severity, "5.5"),
            "severity": rule.severity,
            # GitHub reads security-severity only from rules tagged "security".
            "tags": ["security", "specops", "policy", f"severity-{rule.severity}"],
            "package": rule.package,
            "source": f"{rule.path}:{rule.line}" if rule.path else "",
        },
    )


def sarif_log(report: PolicyReport, *, fallback: str = "specops.yaml") -> Sarif:
    """The SARIF 2.1.0 log of a plan's policy results, as ``sarif-pydantic`` objects."""
    rules: dict[str, PolicyRule] = {r.id: r for r in report.rules}
    for result in report.results:
        rules.setdefault(
            result.rule,
            PolicyRule(result.rule, result.title, result.severity, result.description, "", "", 0),
        )
    ordered = sorted(rules)
    index = {rid: i for i, rid in enumerate(ordered)}
    results: list[Result] = []
    for result in report.results:
        path, line, column = _where(result, fallback)
        extra: dict[str, Any] = {}
        if result.waiver is not None and result.status == "waived":
            extra["suppressions"] = [
                {
                    "kind": "external",
                    "status": "accepted",
                    "justification": f"{result.waiver.justification} (owner {result.waiver.owner}, "
                    f"expires {result.waiver.expires}, {result.waiver.path}:{result.waiver.line})",
                }
            ]
        text = result.message
        if result.status == "pending_approval":
            text += f" (waiting for approval by {', '.join(result.approvers)})"
        results.append(
            Result(
                rule_id=result.rule,
                rule_index=index[result.rule],
                level=_LEVEL[result.status],
                message=Message(text=text),
                locations=[
                    Location(
                        physical_location=PhysicalLocation(
                            artifact_location=ArtifactLocation(uri=path, uri_base_id="%SRCROOT%"),
                            region=Region(start_line=line, start_column=column),
                        )
                    )
                ],
                partial_fingerprints={
                    "specopsResult/v1": f"{result.rule}:{result.resource or '-'}:{result.field or '-'}",
                },
                properties={
                    "status": result.status,
                    "outcome": result.outcome,
                    "resource": result.resource,
                    "field": result.field,
                    "decisionId": result.decision_id,
                    "approvers": result.approvers,
                    "approvedBy": result.approved_by,
                },
                **extra,
            )
        )
    run = Run(
        tool=Tool(
            driver=ToolDriver(
                name="SpecOps",
                full_name="SpecOps policy evaluation",
                version=__version__,
                semantic_version=__version__,
                information_uri="https://specops.dev",
                rules=[_descriptor(rules[rid]) for rid in ordered],
            )
        ),
        results=results,
        properties={
            "engine": report.engine,
            "bundleHash": report.bundle_hash,
            "evaluatedAt": report.evaluated_at,
            "blocked": report.blocked,
        },
    )
    return Sarif(version="2.1.0", schema_uri=SARIF_SCHEMA, runs=[run])


def render_sarif(report: PolicyReport | None, *, fallback: str = "specops.yaml", absent: str = NO_POLICIES) -> str:
    """SARIF of ``report``; ``None`` (nothing judged the plan) is an empty run that says why in ``absent``."""
    if report is None:
        log = sarif_log(PolicyReport("none", "", ""), fallback=fallback)
        log.runs[0].properties = {"engine": "none", "blocked": False, "policies": "none", "message": absent}
    else:
        log = sarif_log(report, fallback=fallback)
    data = log.model_dump(mode="json", by_alias=True, exclude_none=True)
    return orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotations(report: PolicyReport, *, fallback: str = "specops.yaml") -> list[str]:
    """``::error file=...,line=...::message`` workflow commands, one per result."""
    lines: list[str] = []
    for result in report.results:
        path, line, column = _where(result, fallback)
        level = {"error": "error", "warning": "warning", "note": "notice"}[_LEVEL[result.status]]
        title = f"{result.rule}: {result.title}"
        if result.status == "waived" and result.waiver is not None:
            title += f" (waived by {result.waiver.owner} until {result.waiver.expires})"
        elif result.status == "approved":
            title += f" (approved by {', '.join(result.approved_by)})"
        elif result.status == "pending_approval":
            title += f" (needs approval by {', '.join(result.approvers)})"
        properties = ",".join(
            f"{k}={_escape_property(str(v))}"
            for k, v in (("file", path), ("line", line), ("col", column), ("title", title))
        )
        lines.append(f"::{level} {properties}::{_escape_data(result.message)}")
    return lines


def render_github(report: PolicyReport | None, *, fallback: str = "specops.yaml", absent: str = NO_POLICIES) -> str:
    if report is None:
        return f"::warning title=SpecOps policy::{_escape_data(absent)}\n"
    lines = github_annotations(report, fallback=fallback)
    verdict = "blocked" if report.blocked else "passed"
    counts = ", ".join(f"{n} {status.replace('_', ' ')}" for status, n in report.counts.items() if n)
    lines.append(f"::notice title=SpecOps policy::policy check {verdict}" + (f" ({counts})" if counts else ""))
    return "\n".join(lines) + "\n"
