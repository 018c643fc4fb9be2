"""Render a plan: coloured text for people, markdown for a pull request, JSON for machines."""

from __future__ import annotations

import json
import os
from typing import Any, TextIO

import orjson

from specops._errors import SpecError
from specops.plan._cli import FORMATS as _cli_formats
from specops.plan._model import Plan, ResourceChange
from specops.policy._model import PolicyReport, PolicyResult, PolicyRule

__all__ = [
    "FORMATS",
    "MARKDOWN_LIMIT",
    "absent_policy_text",
    "diagnostics_report",
    "policy_line",
    "render_invalid",
    "render_json",
    "render_markdown",
    "render_plan",
    "render_text",
    "summary_line",
    "use_colour",
]

MARKDOWN_LIMIT = 65_535
"""GitHub rejects a comment longer than this many characters."""

_SYMBOL = {"create": "+", "update": "~", "replace": "-/+", "delete": "-", "unknown": "?", "no-op": " "}
_COLOUR = {"create": "32", "update": "33", "replace": "35", "delete": "31", "unknown": "36", "no-op": "0"}
_EMOJI = {"create": "🟢", "update": "🟡", "replace": "🟣", "delete": "🔴", "unknown": "⚪"}


def use_colour(stream: TextIO) -> bool:
    """Colour only on a terminal, and never when ``NO_COLOR`` is set (no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def summary_line(plan: Plan) -> str:
    s = plan.summary
    return f"Plan: {s.create} to create, {s.update} to update, {s.replace} to replace, {s.delete} to delete."


def _value(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 120 else text[:117] + "..."


def _paint(text: str, code: str, colour: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if colour and code != "0" else text


def render_text(plan: Plan, *, colour: bool = False) -> str:
    lines: list[str] = []
    fp = plan.desired
    source = "work tree" if fp.worktree else f"{fp.ref} ({(fp.commit or '')[:12]})"
    lines.append(f"Desired state: {source}, {fp.specs_root}/")
    for name, live in sorted(plan.live.items()):
        if not live.reachable:
            state = "UNREACHABLE"
        elif live.revision is None:
            state = "runs nothing"
        else:
            state = f"revision {live.revision}"
        lines.append(f"Live state: {name} ({live.source}, {state})")
    lines.append("")
    for number, wave in enumerate(plan.waves):
        lines.append(f"Wave {number + 1}:")
        index = {c.id: c for c in plan.resource_changes}
        for rid in wave:
            lines.extend(_text_change(index[rid], colour))
    unknown = [c for c in plan.resource_changes if c.action == "unknown"]
    if unknown:
        lines.append("Unknown (target unreachable):")
        lines.extend(f"  ? {c.id}" for c in unknown)
    for blocked in plan.blocked_deletions:
        lines.append(_paint(f"Blocked: {blocked.message}", "31;1", colour))
    if plan.review is not None:
        lines.append(f"Review against {plan.review.base.ref} ({(plan.review.base.commit or '')[:12]}):")
        for item in plan.review.resources:
            fields = f": {', '.join(item.fields)}" if item.fields else ""
            lines.append(f"  {item.status} {item.id}{fields}")
    if not plan.has_changes:
        lines.append("No changes. Live state matches the desired state.")
    lines.extend(_text_policy(plan, colour))
    lines.append(_paint(summary_line(plan), "1", colour))
    return "\n".join(lines) + "\n"


_STATUS_TEXT = {
    "denied": ("DENY", "31;1"),
    "pending_approval": ("NEEDS APPROVAL", "31;1"),
    "warned": ("WARN", "33"),
    "approved": ("APPROVED", "32"),
    "waived": ("WAIVED", "36"),
}


def policy_line(plan: Plan) -> str:
    """One line: whether the policies let this plan through."""
    report = plan.policy
    if report is None:
        return f"Policies: {absent_policy_text(plan)}."
    counts = ", ".join(f"{n} {status.replace('_', ' ')}" for status, n in report.counts.items() if n)
    verdict = "BLOCKED" if report.blocked else "passed"
    source = f" [policies from {report.source['ref']} at {report.source['commit'][:12]}]" if report.source else ""
    return f"Policies: {verdict} ({len(report.rules)} rules, {len(report.decisions)} decisions" + (
        f"; {counts})" if counts else ")"
    ) + source


def absent_policy_text(plan: Plan) -> str:
    """Why no policy judged ``plan``, in words (also the SARIF and GitHub message)."""
    from specops.policy._report import NO_POLICIES, SKIPPED_POLICIES

    if plan.policy_absent == "none_configured":
        return NO_POLICIES
    if plan.policy_absent == "skipped":
        return SKIPPED_POLICIES
    return "not evaluated"


def _text_policy(plan: Plan, colour: bool) -> list[str]:
    report = plan.policy
    if report is None:
        return ["", _paint(policy_line(plan), "33", colour)]
    lines = [""]
    for result in report.results:
        label, code = _STATUS_TEXT[result.status]
        where = f"{result.path}:{result.line}" if result.path else (result.resource or "plan")
        lines.append(f"{_paint(label, code, colour)} {result.rule} {where}: {result.message}")
        if result.status == "pending_approval":
            lines.append(f"      approvers: {', '.join(result.approvers)}")
        elif result.status == "approved":
            lines.append(f"      approved by: {', '.join(result.approved_by)}")
        elif result.waiver is not None and result.status == "waived":
            w = result.waiver
            lines.append(f"      waiver: {w.path}:{w.line} owner {w.owner}, expires {w.expires}: {w.justification}")
    lines.append(_paint(policy_line(plan), "31;1" if report.blocked else "1", colour))
    return lines


def _text_change(change: ResourceChange, colour: bool) -> list[str]:
    action = change.action
    head = f"  {_SYMBOL[action]} {change.id}"
    note = f" ({action}, {change.reason})"
    out = [_paint(head, _COLOUR[action], colour) + note]
    for diff in change.diffs:
        marker = " # forces replacement" if diff.forces_replacement else ""
        out.append(f"      {diff.path}: {_value(diff.before)} -> {_value(diff.after)}{marker}")
    return out


def render_json(plan: Plan) -> str:
    """The plan file's bytes: the model's own dump (``Plan.from_json`` reads them back)."""
    return plan.dump_json()


FORMATS = _cli_formats


def render_plan(plan: Plan, fmt: str, *, colour: bool = False) -> str:
    """``plan`` in one of ``FORMATS``: what ``specops plan`` prints, and ``specops show`` from a file."""
    if fmt == "json":
        return render_json(plan)
    if fmt == "markdown":
        return render_markdown(plan)
    if fmt in ("sarif", "github"):
        from specops.policy._report import render_github, render_sarif

        render = render_sarif if fmt == "sarif" else render_github
        return render(plan.policy, fallback=plan.desired.specs_root, absent=absent_policy_text(plan))
    return render_text(plan, colour=colour)


# -- invalid specs, in every format ---------------------------------------------

_INVALID = PolicyRule(
    "SPECOPS-SPEC", "Invalid spec", "high",
    "The spec does not validate; nothing can be planned until it does (`specops validate`).",
    "specops", "", 0,
)  # fmt: skip


def diagnostics_report(error: SpecError) -> PolicyReport:
    """Validation errors as a report the SARIF and GitHub renderers show like policy denials."""
    report = PolicyReport("validate", "", "")
    report.rules = [_INVALID]
    for d in error.diagnostics:
        text = d.message + (f" ({d.hint})" if d.hint else "")
        if d.field:
            text = f"{d.field}: {text}"
        report.results.append(
            PolicyResult(
                _INVALID.id, _INVALID.title, _INVALID.severity, _INVALID.description, "deny",
                "denied" if d.severity == "error" else "warned", text, resource=d.resource or None,
                path=d.path, line=d.line or 1, column=d.column or 1, field=d.field or None,
            )
        )  # fmt: skip
    return report.finish()


def render_invalid(error: SpecError, fmt: str, *, fallback: str = "specs") -> str:
    """What ``specops plan --format FMT`` prints when the specs do not validate (no plan is made)."""
    errors = error.errors
    if fmt == "json":
        return orjson.dumps(
            {"valid": False, "errors": [d.to_json() for d in errors],
             "warnings": [d.to_json() for d in error.diagnostics if d.severity == "warning"]},
            option=orjson.OPT_INDENT_2,
        ).decode() + "\n"  # fmt: skip
    if fmt == "sarif":
        from specops.policy._report import render_sarif

        return render_sarif(diagnostics_report(error), fallback=fallback)
    if fmt == "github":
        from specops.policy._report import github_annotations

        lines = github_annotations(diagnostics_report(error), fallback=fallback)
        lines.append(f"::notice title=SpecOps plan::invalid specs ({error.summary()}); no plan was made")
        return "\n".join(lines) + "\n"
    if fmt == "markdown":
        lines = [
            "### SpecOps plan",
            "",
            f"> [!CAUTION]\n> **The specs are invalid ({error.summary()}); no plan was made.**",
            "",
            "| file | line | field | problem |",
            "|---|---:|---|---|",
        ]
        for d in errors:
            problem = d.message + (f" ({d.hint})" if d.hint else "")
            lines.append(f"| `{d.path}` | {d.line} | {_cell(d.field or '-')} | {_cell(problem)} |")
        return "\n".join(lines)[:MARKDOWN_LIMIT] + "\n"
    return "".join(d.format() + "\n" for d in error.diagnostics)


def _md_change(change: ResourceChange) -> str:
    action = change.action
    title = f"{_EMOJI.get(action, '')} <code>{change.id}</code>: {action} ({change.reason})"
    rows = ["| field | before | after |", "|---|---|---|"]
    for diff in change.diffs:
        flag = " ⚠️ replace" if diff.forces_replacement else ""
        before = _value(diff.before).replace("|", "\\|")
        after = _value(diff.after).replace("|", "\\|")
        rows.append(f"| `{diff.path}`{flag} | `{before}` | `{after}` |")
    body = "\n".join(rows) if change.diffs else f"source: `{change.path}:{change.line}`"
    return f"<details><summary>{title}</summary>\n\n{body}\n\n</details>\n"


_STATUS_MD = {
    "denied": "⛔ deny",
    "pending_approval": "✋ needs approval",
    "warned": "⚠️ warn",
    "approved": "✅ approved",
    "waived": "🏳️ waived",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_policy(plan: Plan) -> list[str]:
    report = plan.policy
    if report is None:
        return [f"> [!WARNING]\n> {policy_line(plan)}", ""]
    out = [f"**{policy_line(plan)}**", ""]
    if report.blocked:
        out.append("> [!CAUTION]\n> A policy denies this plan or waits for an approval; it cannot be applied.\n")
    if report.results:
        out += ["| status | rule | where | message |", "|---|---|---|---|"]
        for result in report.results[:200]:
            where = f"`{result.path}:{result.line}`" if result.path else f"`{result.resource or 'plan'}`"
            note = ""
            if result.status == "pending_approval":
                note = f" (approvers: {', '.join(result.approvers)})"
            elif result.waiver is not None and result.status == "waived":
                note = f" (waiver by {result.waiver.owner} until {result.waiver.expires})"
            out.append(
                f"| {_STATUS_MD[result.status]} | {result.rule} {_cell(result.title)} | {where} | "
                f"{_cell(result.message + note)} |"
            )
        if len(report.results) > 200:
            out.append(f"\n_{len(report.results) - 200} more policy result(s) in the JSON plan._")
        out.append("")
    return out


def render_markdown(plan: Plan, *, limit: int = MARKDOWN_LIMIT) -> str:
    """A pull-request comment; details fold away, and whatever does not fit is counted, not cut."""
    s = plan.summary
    fp = plan.desired
    head = [
        "### SpecOps plan",
        "",
        f"**{summary_line(plan)}**",
        "",
        "| create | update | replace | delete | unchanged | unknown | blocked |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        f"| {s.create} | {s.update} | {s.replace} | {s.delete} | {s.no_op} | {s.unknown} | {s.blocked} |",
        "",
        f"Desired: `{fp.ref or 'work tree'}` at `{(fp.commit or '')[:12]}` · plan id `{plan.plan_id[:16]}`",
        "",
    ]
    for blocked in plan.blocked_deletions:
        head.append(f"> [!WARNING]\n> {blocked.message}\n")
    head.extend(_md_policy(plan))
    if plan.review is not None:
        head.append(f"#### What this change does to the desired state (against `{plan.review.base.ref}`)\n")
        head.extend(
            f"- {r.status} `{r.id}`" + (f": {', '.join(f'`{f}`' for f in r.fields[:20])}" if r.fields else "")
            for r in plan.review.resources[:200]
        )
        head.append("")
    text = "\n".join(head)
    changes = [c for c in plan.resource_changes if c.action not in ("no-op",)]
    # Reserve room for the footer that says what was left out.
    budget = limit - len(text) - 400
    parts: list[str] = []
    shown = 0
    for change in changes:
        piece = _md_change(change)
        if len(piece) > budget:
            break
        parts.append(piece)
        budget -= len(piece)
        shown += 1
    text += "\n" + "".join(parts)
    if shown < len(changes):
        text += (
            f"\n_{len(changes) - shown} more change(s) not shown to stay under GitHub's "
            f"{MARKDOWN_LIMIT:,}-character limit; the full plan is in the JSON artifact "
            f"(`specops plan --format json`)._\n"
        )
    return text[:limit]
