"""``specops watch`` and ``specops slo status``: registration and commands.

``watch`` runs the loop (``_loop``), or one tick with ``--once`` (cron, CI,
the demo); ``slo status`` is the same evaluation read-only: no lease, no
notification, no action; it shows the alert state each target keeps. Both
print the tick report (``_loop``'s docstring documents its JSON; ``slo status
--format html`` renders that JSON).
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any, TextIO

from specops._errors import SpecOpsError

__all__ = ["add_watch_parsers", "cmd_slo_status", "cmd_watch", "parse_interval", "render_text"]

_INTERVAL = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)?$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_interval(text: str) -> float:
    match = _INTERVAL.match(text.strip())
    if match is None or float(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not an interval such as 30s, 2m or 500ms")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repo", default=".", help="a path inside the git repository (default: .)")
    parser.add_argument("--ref", default="HEAD", help="git ref of the desired state (default: HEAD)")
    parser.add_argument("--specs-root", default="specs", help="directory of specs in the repository (default: specs)")
    parser.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS", help="per call to a target")


def add_watch_parsers(subparsers: Any) -> None:
    """Register ``watch`` and ``slo status`` on the ``specops`` sub-parsers."""
    watch = subparsers.add_parser(
        "watch", help="judge every SLO of every served model: burn rates, drift, alerts, rollback on breach"
    )
    _common(watch)
    watch.add_argument("--once", action="store_true", help="one tick, then exit (cron, CI, demos)")
    watch.add_argument("--interval", type=parse_interval, default=30.0, metavar="DURATION", help="between ticks (default: 30s)")
    watch.add_argument(
        "--resend", type=parse_interval, default=240.0, metavar="DURATION",
        help="re-send a firing alert to Alertmanager this often (default: 4m, under its 5m resolve_timeout)",
    )  # fmt: skip
    watch.add_argument("--lease-ttl", type=parse_interval, default=None, metavar="DURATION",
                       help="watch lease time-to-live (default: 3 intervals, at least 60s)")  # fmt: skip
    watch.add_argument("--journal", metavar="FILE", help="the journal (default: $SPECOPS_JOURNAL or .git/specops/journal.jsonl)")
    watch.add_argument("--format", choices=("text", "json"), default="text")
    watch.set_defaults(func=cmd_watch)

    from specops.watch._rules_cli import slo_commands

    status = slo_commands(subparsers).add_parser(
        "status", help="per SLO: budget remaining, burn rates, firing alerts, drift per feature"
    )
    _common(status)
    status.add_argument(
        "--format", choices=("text", "json", "html"), default="text",
        help="html: one self-contained page with burn-rate charts and histograms (nothing loaded from outside)",
    )
    status.set_defaults(func=cmd_slo_status)


def _options(args: argparse.Namespace, out: TextIO, *, act: bool) -> Any:
    from specops._project import Project
    from specops.watch._loop import WatchOptions

    text = args.format == "text"

    def say(line: str) -> None:
        if text:
            out.write(line + "\n")
            out.flush()

    journal = None
    if act:
        journal = Project.discover(args.repo, journal=args.journal).journal
    options = WatchOptions(
        repo=Path(args.repo), ref=args.ref, specs_root=args.specs_root, journal=journal, timeout=args.timeout,
        act=act, say=say,
    )  # fmt: skip
    if act:
        options.resend_s = args.resend
        options.lease_ttl_s = args.lease_ttl or max(3 * args.interval, 60.0)
    return options


def cmd_watch(args: argparse.Namespace, out: TextIO) -> int:
    from specops.watch._loop import release_leases, run_watch, watch_once

    options = _options(args, out, act=True)

    def emit(report: dict[str, Any]) -> None:
        if args.format == "json":
            out.write(json.dumps(report, indent=None if not args.once else 2) + "\n")
        else:
            out.write(render_text(report))
        out.flush()

    if args.once:
        try:
            emit(watch_once(options))
        finally:
            release_leases(options)
        return 0
    if args.interval < 1:
        raise SpecOpsError("--interval below 1s would hammer the targets; use --once in a loop of your own")
    run_watch(options, args.interval, emit)
    return 0  # pragma: no cover - the loop ends by an interrupt


def cmd_slo_status(args: argparse.Namespace, out: TextIO) -> int:
    from specops.watch._loop import watch_once

    report = watch_once(_options(args, out, act=False))
    if args.format == "json":
        out.write(json.dumps(report, indent=2) + "\n")
    elif args.format == "html":
        from specops.watch._html import render_html

        out.write(render_html(report))
    else:
        out.write(render_text(report))
    return 0


def _pct(value: Any) -> str:
    return "no data" if value is None else f"{value * 100:.1f}%"


def _rate(value: Any) -> str:
    return "-" if value is None else f"{value:.2f}x"


def render_text(report: dict[str, Any]) -> str:
    """The tick report for people: targets, then per SLO and version its numbers, then alerts and actions."""
    lines = [f"watch {report['at']} ({report['watcher']}), git {str(report['desired'].get('commit'))[:12]}"]
    for name, t in sorted(report["targets"].items()):
        state = t["role"] + (f": {t['detail']}" if t.get("detail") else "") + (f" ({t['error']})" if t.get("error") else "")
        lines.append(f"target {name}: {state}")
    for row in report["slos"]:
        if row.get("version") is None:
            lines.append(f"SLO {row['slo']} ({row['model']} on {row['target']}): no data ({row.get('no_data')})")
            continue
        traffic = " NO TRAFFIC" if row.get("no_traffic") else ""
        lines.append(f"SLO {row['slo']}: {row['model']} {row['version']} on {row['target']} ({row['weight']}% of traffic){traffic}")
        for o in row.get("objectives", []):
            lines.append(f"  {o['objective']}: budget remaining {_pct(o['budget_remaining'])}")
            for b in o["burn_rates"]:
                state = {True: "FIRING", False: "ok", None: "no data"}[b["firing"]]
                lines.append(
                    f"    {b['severity']:<6} {b.get('windows') or str(b['long_s']) + 's/' + str(b['short_s']) + 's'} > {b['factor']:g}x: "
                    f"{_rate(b['long'])} / {_rate(b['short'])} ({b['long_requests']}/{b['short_requests']} requests) {state}"
                )
        for d in row.get("drift", []):
            state = {True: "DRIFT", False: "ok", None: "no data"}[d["firing"]]
            lines.append(f"  {d['objective']} over {d['window_s']}s: {state}")
            for f in d["features"]:
                value = "-" if f.get("value") is None else f"{f['value']:.4g}"
                lines.append(f"    {f['feature']:<24} {value:>10} ({f.get('samples', 0)} samples){' DRIFTED' if f.get('drifted') else ''}")
    firing = [a for a in report["alerts"] if a["status"] == "firing"]
    lines.append(f"{len(firing)} alert(s) firing" + (":" if firing else "."))
    for a in firing:
        lines.append(f"  {a['alertname']} since {a['firing_since']}: {a['annotations'].get('summary')}")
    for a in report["alerts"]:
        if a["status"] == "resolved":
            lines.append(f"  resolved {a['alertname']} at {a['resolved_at']}: {a['annotations'].get('summary')}")
    for action in report["actions"]:
        extra = ""
        if action.get("revert"):
            r = action["revert"]
            extra = f"; revert on branch {r['branch']}" + (" (pushed)" if r.get("pushed") else "") + (f" ({r['error']})" if r.get("error") else "")
        lines.append(f"action {action['action']} {action['model']} {action['version']} on {action['target']}: "
                     f"{action.get('outcome')}{(': ' + action['reason']) if action.get('reason') else ''}{extra}")  # fmt: skip
    n = report["notifications"]
    if n["sent"] or n["failed"]:
        lines.append(f"notifications: {n['sent']} sent, {n['failed']} failed")
    return "\n".join(lines) + "\n"
