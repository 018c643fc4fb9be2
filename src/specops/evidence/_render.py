"""Rendering an audit: text for a terminal, CSV and JSON lines for tools, one HTML page for a review."""

from __future__ import annotations

import csv
import html
import io
from collections import defaultdict
from typing import Any

import orjson

from specops.evidence._audit import AUDIT_COLUMNS, Audit, AuditRow

__all__ = ["render_audit", "render_history"]


def render_audit(audit: Audit, fmt: str) -> str:
    if fmt == "csv":
        return _csv(audit)
    if fmt == "jsonl":
        lines = [orjson.dumps({"kind": "finding", **f.to_json()}) for f in audit.findings]
        lines += [orjson.dumps({"kind": "change", **r.to_json()}) for r in audit.rows]
        return "".join(line.decode() + "\n" for line in lines)
    if fmt == "html":
        return _html(audit)
    return _text(audit)


def _csv(audit: Audit) -> str:
    """Findings first (as rows whose ``outcome`` is ``FINDING``), then one row per change."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(AUDIT_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for finding in audit.findings:
        writer.writerow({
            "applied_at": finding.at or "", "target": finding.target or "", "resource": finding.resource or "",
            "plan_id": finding.plan_id or "", "outcome": "FINDING", "outcome_by": finding.code,
            "objective": finding.message,
        })  # fmt: skip
    for row in audit.rows:
        writer.writerow(row.flat())
    return buffer.getvalue()


def _text(audit: Audit) -> str:
    out: list[str] = []
    if audit.findings:
        out.append(f"Findings ({len(audit.findings)}):")
        out.extend(f"  ! [{f.code}] {f.message}" + (f" (plan {f.plan_id[:12]})" if f.plan_id else "") for f in audit.findings)
    else:
        out.append("Findings: none.")
    out.append(f"Changes ({len(audit.rows)}, from {audit.records} record(s)):")
    for row in audit.rows:
        version = f" {row.version}" if row.version else ""
        by = f" by {row.outcome_by}" if row.outcome_by else ""
        out.append(f"  {row.applied_at}  {row.resource}{version} on {row.target}: {row.action} -> {row.outcome}{by}")
        out.append(f"      plan {row.plan_id[:12]}  commit {row.commit[:12]}  holder {row.holder}  author {row.author or '?'}"
                   f"  approvers {', '.join(row.approvers) or 'none'}")  # fmt: skip
        if row.policies:
            out.append(f"      policies {_policy_summary(row)}")
        if row.waivers:
            out.append(f"      waivers {'; '.join(row.waivers)}")
        if row.canary:
            out.append(f"      canary {AuditRow.flat(row)['canary']}")
        if row.objective:
            measured = f" measured {row.measured:g} limit {row.limit:g}" if isinstance(row.measured, (int, float)) and isinstance(row.limit, (int, float)) else ""
            out.append(f"      objective {row.objective}{measured}")
        if row.alerts:
            out.append(f"      alerts {AuditRow.flat(row)['alerts']}")
    return "\n".join(out) + "\n"


def _policy_summary(row: AuditRow) -> str:
    """``12/12 pass (bundle ...)``, naming only the rules that did not simply pass."""
    judged = [p for p in row.policies if not p.startswith("(")]
    if not judged:
        return ", ".join(row.policies)
    other = [p for p in judged if not p.endswith(":pass")]
    text = f"{len(judged) - len(other)}/{len(judged)} pass"
    if other:
        text += "; " + ", ".join(other)
    return f"{text} (bundle {row.policy_bundle})" if row.policy_bundle else text


_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse;width:100%;font-size:.85em}
th,td{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3}.finding{background:#fff1f0}.ok{color:#13722b}.bad{color:#b42318}
ol.timeline{list-style:none;padding-left:0;border-left:3px solid #888}
ol.timeline li{margin:.4em 0 .4em .8em}code{font-size:.9em}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _html(audit: Audit) -> str:
    """One self-contained page: inline style, no script, no link or image to load."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>SpecOps audit</title>',
        f"<style>{_STYLE}</style></head><body>",
        "<h1>SpecOps audit</h1>",
        f"<p>{len(audit.rows)} change(s) from {audit.records} evidence record(s); chain head <code>{_e(audit.head or 'none')}</code>.</p>",
        f"<h2>Findings ({len(audit.findings)})</h2>",
    ]
    if audit.findings:
        parts.append("<table><thead><tr><th>finding</th><th>what</th><th>resource</th><th>when</th><th>plan</th></tr></thead><tbody>")
        for f in audit.findings:
            parts.append(
                f'<tr class="finding"><td>{_e(f.code)}</td><td>{_e(f.message)}</td><td>{_e(f.resource or "")}</td>'
                f"<td>{_e(f.at or '')}</td><td><code>{_e((f.plan_id or '')[:12])}</code></td></tr>"
            )
        parts.append("</tbody></table>")
    else:
        parts.append('<p class="ok">None.</p>')
    by_resource: dict[str, list[AuditRow]] = defaultdict(list)
    for row in audit.rows:
        by_resource[row.resource].append(row)
    parts.append("<h2>Timeline per resource</h2>")
    for rid in sorted(by_resource, key=lambda r: (not r.startswith("Model/"), r)):
        parts.append(f"<h3>{_e(rid)}</h3><ol class=\"timeline\">")
        for row in by_resource[rid]:
            mark = "bad" if row.outcome.startswith(("rolled_back", "failed")) else "ok"
            by = f" by {row.outcome_by}" if row.outcome_by else ""
            why = f" ({row.objective}" + (f" measured {row.measured}, limit {row.limit}" if row.measured is not None else "") + ")" if row.objective else ""
            parts.append(
                f"<li><code>{_e(row.applied_at)}</code> {_e(row.version)} on {_e(row.target)}: {_e(row.action)} "
                f'<span class="{mark}">{_e(row.outcome)}{_e(by)}</span>{_e(why)}; plan <code>{_e(row.plan_id[:12])}</code>, '
                f"commit <code>{_e(row.commit[:12])}</code>, approvers {_e(', '.join(row.approvers) or 'none')}"
                + (f"; alerts: {_e(AuditRow.flat(row)['alerts'])}" if row.alerts else "")
                + "</li>"
            )
        parts.append("</ol>")
    parts.append("<h2>Changes</h2><table><thead><tr>")
    parts.extend(f"<th>{_e(c)}</th>" for c in AUDIT_COLUMNS)
    parts.append("</tr></thead><tbody>")
    for row in audit.rows:
        flat = row.flat()
        parts.append("<tr>" + "".join(f"<td>{_e(flat[c])}</td>" for c in AUDIT_COLUMNS) + "</tr>")
    parts.append("</tbody></table></body></html>")
    return "\n".join(parts) + "\n"


def render_history(entries: list[dict[str, Any]], fmt: str) -> str:
    if fmt == "json":
        return orjson.dumps(entries, option=orjson.OPT_INDENT_2).decode() + "\n"
    if not entries:
        return "No applies recorded.\n"
    header = ("WHEN", "RESOURCE", "TARGET", "VERSION", "COMMIT", "PLAN", "HOLDER", "OUTCOME")
    rows = [
        (e["when"], e["resource"], e["target"], e["version"] or "-", e["commit"][:12], e["plan_id"][:12], e["holder"],
         e["outcome"] + (f" by {e['outcome_by']}" if e.get("outcome_by") else ""))
        for e in entries
    ]  # fmt: skip
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(v).ljust(widths[i]) for i, v in enumerate(r)).rstrip() for r in [header, *rows]]
    return "\n".join(lines) + "\n"
