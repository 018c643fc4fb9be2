"""``specops slo status --format html``: the status report as one self-contained page.

The page loads nothing from outside itself (no script, no stylesheet, no
font, no image link): the style is inline and every chart is inline SVG, so
it can be attached to a ticket or opened from a CI artifact offline.

It renders the report of a watch tick (``specops watch --format json``,
``specops slo status --format json``; ``specops.watch._loop`` documents it).
The fields read here, all optional unless marked (missing ones are shown as
"no data", never guessed)::

    {"at": "2026-12-01T10:00:00Z", "watcher": "...",
     "desired": {"ref": "HEAD", "commit": "..."},
     "targets": {"<name>": {"reachable": true, "role": "active", "detail": "...", "error": null}},
     "slos": [{                                             # required, one row per SLO x target x version
        "slo": "fraud-scorer", "model": "fraud-scorer", "target": "local-cpu",
        "version": "1.1.0", "weight": 100, "window_s": 2592000, "no_traffic": false,
        "objectives": [{"objective": "errorRate <= 0.001", "type": "errorRate",
                        "budget": 0.001, "budget_remaining": 0.42 | null,
                        "budget_window": {"seconds": 2592000, "requests": 812, "bad": 1},
                        "burn_rates": [{"long_s": 3600, "short_s": 300, "factor": 14.4,
                                        "severity": "page", "long": 2.1 | null, "short": 0.3 | null,
                                        "long_requests": 812, "short_requests": 60,
                                        "firing": false | null,
                                        "history": [{"at": "2026-...Z" | 1764583200.0,
                                                     "long": 1.2 | null, "short": 0.4 | null}]}]}],
        "drift": [{"objective": "drift psi > 0.2", "method": "psi", "threshold": 0.2,
                   "window_s": 3600, "firing": true | false | null,
                   "features": [{"feature": "amount", "value": 0.41 | null, "samples": 812,
                                 "drifted": true,
                                 "reference": {"edges": [e0, ..., en], "counts": [n counts]},
                                 "current": {"counts": [n counts], "underflow": 0, "overflow": 3}}]}]}],
     "alerts": [{"alertname": "SLOBurnRate", "status": "firing" | "resolved", "labels": {...},
                 "annotations": {"summary": "..."}, "firing_since": "...", "resolved_at": null,
                 "target": "local-cpu"}],
     "actions": [{"action": "rollback", "target": "...", "model": "...", "version": "...", "outcome": "..."}]}

Burn rates are multiples of the budget (1 = spending it exactly over the SLO
window). The chart per objective shows, per window pair, the long and the
short window's burn rate against the pair's factor on a log scale; with a
``history`` it draws the long window's burn rate over time instead. Every
feature marked ``drifted`` gets its reference and current histograms side
by side, as shares of their totals on the profile's bins (plus the current
underflow and overflow), on one scale.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

__all__ = ["render_html"]

_STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px; color: #1d232a; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 6px; }
h3 { font-size: 14px; margin: 16px 0 6px; } .meta { color: #5b6570; margin: 0 0 12px; }
table { border-collapse: collapse; margin: 6px 0 12px; } th, td { padding: 4px 10px; text-align: left;
  border-bottom: 1px solid #e3e7eb; vertical-align: top; } th { background: #f4f6f8; font-weight: 600; }
.firing { color: #b3261e; font-weight: 600; } .ok { color: #1e7b34; } .nodata { color: #8a6d00; }
.card { border: 1px solid #d6dbe0; border-radius: 6px; padding: 4px 16px 12px; margin: 14px 0; }
.charts { display: flex; flex-wrap: wrap; gap: 18px; } figure { margin: 0; }
figcaption { font-size: 12px; color: #5b6570; }
svg text { font: 11px system-ui, sans-serif; fill: #38414a; }
.bar-long { fill: #3b6fb6; } .bar-short { fill: #9bbbe6; } .factor { stroke: #b3261e; stroke-width: 2; }
.axis { stroke: #8b949e; stroke-width: 1; } .grid { stroke: #e3e7eb; stroke-width: 1; }
.ref { fill: #7d8793; } .cur { fill: #d9822b; } .line { fill: none; stroke-width: 2; }
.meter { display: inline-block; width: 120px; height: 10px; background: #e3e7eb; border-radius: 3px;
  vertical-align: middle; margin-right: 6px; } .meter span { display: block; height: 10px; border-radius: 3px; }
"""

_PALETTE = ("#3b6fb6", "#d9822b", "#2e8b57", "#8e44ad", "#b3261e", "#5b6570")


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _num(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "no data"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        if math.isinf(value):
            return "∞" if value > 0 else "-∞"
        return format(value, f".{digits}g")
    return str(value)


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, int | float) or seconds <= 0:
        return "?"
    s = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s % size == 0:
            return f"{s // size}{unit}"
    return f"{s}s"


def _state(firing: Any) -> str:
    if firing is True:
        return '<span class="firing">firing</span>'
    if firing is False:
        return '<span class="ok">ok</span>'
    return '<span class="nodata">no data</span>'


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


# -- burn-rate charts -----------------------------------------------------------


class _LogScale:
    """Burn rates on a log10 axis from ``low`` to ``high`` (multiples of the budget)."""

    def __init__(self, values: Sequence[float], top: float, height: float, low: float = 0.01) -> None:
        peak = max([1.0, *[v for v in values if v > 0]])
        self.low = low
        self.high = 10 ** math.ceil(math.log10(peak * 1.2))
        self.top = top
        self.height = height

    def y(self, value: float) -> float:
        v = min(max(value, self.low), self.high)
        share = (math.log10(v) - math.log10(self.low)) / (math.log10(self.high) - math.log10(self.low))
        return self.top + self.height * (1 - share)

    def ticks(self) -> list[float]:
        out, v = [], self.low
        while v <= self.high * 1.0001:
            out.append(v)
            v *= 10
        return out


def _tick_label(v: float) -> str:
    return f"{v:g}x"


def _axis(scale: _LogScale, left: float, right: float) -> list[str]:
    parts = []
    for tick in scale.ticks():
        y = scale.y(tick)
        parts.append(f'<line class="grid" x1="{left:.1f}" y1="{y:.1f}" x2="{right:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text x="{left - 4:.1f}" y="{y + 4:.1f}" text-anchor="end">{_e(_tick_label(tick))}</text>')
    bottom = scale.top + scale.height
    parts.append(f'<line class="axis" x1="{left:.1f}" y1="{scale.top:.1f}" x2="{left:.1f}" y2="{bottom:.1f}"/>')
    parts.append(f'<line class="axis" x1="{left:.1f}" y1="{bottom:.1f}" x2="{right:.1f}" y2="{bottom:.1f}"/>')
    return parts


def _burn_bars(objective: Mapping[str, Any]) -> str:
    rates = [_dict(r) for r in _list(objective.get("burn_rates"))]
    values = [v for r in rates for v in (_finite(r.get("long")), _finite(r.get("short")), _finite(r.get("factor"))) if v]
    group_w, left, top, plot_h = 74.0, 52.0, 14.0, 150.0
    width = max(left + max(len(rates), 1) * group_w + 10, left + 250)  # room for the legend
    height = top + plot_h + 44
    scale = _LogScale(values, top, plot_h)
    name = str(objective.get("objective") or objective.get("type") or "objective")
    parts = [
        f'<svg width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" class="burn-chart" '
        f'aria-label="burn rates of {_e(name)}"><title>Burn rates of {_e(name)}</title>',
        *_axis(scale, left, width - 10),
    ]
    bottom = top + plot_h
    for i, rate in enumerate(rates):
        x0 = left + i * group_w + 10
        for j, (key, css) in enumerate((("long", "bar-long"), ("short", "bar-short"))):
            value = _finite(rate.get(key))
            x = x0 + j * 24
            if value is None:
                parts.append(f'<text x="{x + 10:.1f}" y="{bottom - 4:.1f}" text-anchor="middle" class="nodata">–</text>')
                continue
            y = scale.y(value)
            parts.append(
                f'<rect class="{css}" x="{x:.1f}" y="{y:.1f}" width="20" height="{max(bottom - y, 0.5):.1f}">'
                f"<title>{_e(key)} window: {_e(_num(value))}x</title></rect>"
            )
        factor = _finite(rate.get("factor"))
        if factor is not None:
            y = scale.y(factor)
            parts.append(
                f'<line class="factor" x1="{x0 - 4:.1f}" y1="{y:.1f}" x2="{x0 + 48:.1f}" y2="{y:.1f}">'
                f"<title>factor {_e(_num(factor))}x</title></line>"
            )
        label = f"{_duration(rate.get('long_s'))}/{_duration(rate.get('short_s'))}"
        parts.append(f'<text x="{x0 + 22:.1f}" y="{bottom + 14:.1f}" text-anchor="middle">{_e(label)}</text>')
        parts.append(
            f'<text x="{x0 + 22:.1f}" y="{bottom + 27:.1f}" text-anchor="middle">{_e(rate.get("severity") or "")} '
            f'×{_e(_num(factor))}</text>'
        )
    parts.append(f'<rect class="bar-long" x="{left:.1f}" y="{height - 12:.1f}" width="10" height="8"/>')
    parts.append(f'<text x="{left + 14:.1f}" y="{height - 4:.1f}">long window</text>')
    parts.append(f'<rect class="bar-short" x="{left + 90:.1f}" y="{height - 12:.1f}" width="10" height="8"/>')
    parts.append(f'<text x="{left + 104:.1f}" y="{height - 4:.1f}">short window</text>')
    parts.append(f'<line class="factor" x1="{left + 186:.1f}" y1="{height - 8:.1f}" x2="{left + 200:.1f}" y2="{height - 8:.1f}"/>')
    parts.append(f'<text x="{left + 204:.1f}" y="{height - 4:.1f}">factor</text>')
    parts.append("</svg>")
    return "".join(parts)


def _timestamp(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def _burn_history(objective: Mapping[str, Any]) -> str | None:
    rates = [_dict(r) for r in _list(objective.get("burn_rates"))]
    series: list[tuple[Mapping[str, Any], list[tuple[float, float]]]] = []
    for rate in rates:
        points = []
        for point in _list(rate.get("history")):
            t, v = _timestamp(_dict(point).get("at")), _finite(_dict(point).get("long"))
            if t is not None and v is not None:
                points.append((t, v))
        if len(points) >= 2:
            series.append((rate, sorted(points)))
    if not series:
        return None
    left, top, plot_w, plot_h = 52.0, 14.0, 420.0, 150.0
    width, height = left + plot_w + 12, top + plot_h + 34 + 14 * len(series)
    times = [t for _, pts in series for t, _ in pts]
    t0, t1 = min(times), max(times)
    span = (t1 - t0) or 1.0
    values = [v for _, pts in series for _, v in pts] + [f for r, _ in series if (f := _finite(r.get("factor")))]
    scale = _LogScale(values, top, plot_h)
    name = str(objective.get("objective") or objective.get("type") or "objective")
    parts = [
        f'<svg width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" class="burn-chart burn-history" '
        f'aria-label="burn rate history of {_e(name)}"><title>Burn rate history of {_e(name)}</title>',
        *_axis(scale, left, left + plot_w),
    ]
    bottom = top + plot_h
    for i, (pair, points) in enumerate(series):
        colour = _PALETTE[i % len(_PALETTE)]
        path = " ".join(
            f"{'M' if k == 0 else 'L'}{left + plot_w * (t - t0) / span:.1f},{scale.y(v):.1f}" for k, (t, v) in enumerate(points)
        )
        parts.append(f'<path class="line" stroke="{colour}" d="{path}"/>')
        factor = _finite(pair.get("factor"))
        label = f"{_duration(pair.get('long_s'))}/{_duration(pair.get('short_s'))}"
        if factor is not None:
            y = scale.y(factor)
            parts.append(
                f'<line x1="{left:.1f}" y1="{y:.1f}" x2="{left + plot_w:.1f}" y2="{y:.1f}" stroke="{colour}" '
                f'stroke-dasharray="5 4" stroke-width="1.5"><title>{_e(label)} factor {_e(_num(factor))}x</title></line>'
            )
        ly = bottom + 30 + 14 * i
        parts.append(f'<rect x="{left:.1f}" y="{ly - 8:.1f}" width="12" height="4" fill="{colour}"/>')
        parts.append(
            f'<text x="{left + 16:.1f}" y="{ly:.1f}">{_e(label)}: long-window burn rate '
            f"(dashed: factor {_e(_num(factor))}x)</text>"
        )
    for t, anchor, x in ((t0, "start", left), (t1, "end", left + plot_w)):
        stamp = datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M")
        parts.append(f'<text x="{x:.1f}" y="{bottom + 14:.1f}" text-anchor="{anchor}">{_e(stamp)}</text>')
    parts.append("</svg>")
    return "".join(parts)


# -- drift histograms -------------------------------------------------------------


def _shares(counts: Sequence[float]) -> list[float]:
    total = sum(counts)
    return [c / total if total > 0 else 0.0 for c in counts]


def _histogram(title: str, css: str, edges: Sequence[float], shares: Sequence[float], peak: float) -> str:
    """Bars of ``shares``: underflow, one per bin between ``edges``, overflow."""
    left, top, plot_w, plot_h = 40.0, 18.0, 300.0, 120.0
    width, height = left + plot_w + 10, top + plot_h + 30
    n = len(shares)
    bar_w = plot_w / max(n, 1)
    peak = peak if peak > 0 else 1.0
    bottom = top + plot_h
    parts = [
        f'<svg width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" class="histogram {css}" aria-label="{_e(title)}">'
        f"<title>{_e(title)}</title>",
        f'<text x="{left:.1f}" y="12">{_e(title)}</text>',
        f'<line class="axis" x1="{left:.1f}" y1="{bottom:.1f}" x2="{left + plot_w:.1f}" y2="{bottom:.1f}"/>',
        f'<line class="axis" x1="{left:.1f}" y1="{top:.1f}" x2="{left:.1f}" y2="{bottom:.1f}"/>',
        f'<text x="{left - 4:.1f}" y="{top + 8:.1f}" text-anchor="end">{_e(format(peak * 100, ".3g"))}%</text>',
        f'<text x="{left - 4:.1f}" y="{bottom:.1f}" text-anchor="end">0</text>',
    ]
    for i, share in enumerate(shares):
        h = plot_h * share / peak
        if i == 0:
            what = f"below {_num(edges[0])}" if edges else "underflow"
        elif i == n - 1:
            what = f"above {_num(edges[-1])}" if edges else "overflow"
        else:
            what = f"[{_num(edges[i - 1])}, {_num(edges[i])})" if i < len(edges) else f"bin {i}"
        parts.append(
            f'<rect class="{css}" x="{left + i * bar_w + 0.5:.1f}" y="{bottom - h:.1f}" '
            f'width="{max(bar_w - 1, 0.5):.1f}" height="{max(h, 0):.1f}"><title>{_e(what)}: '
            f"{_e(format(share * 100, '.3g'))}%</title></rect>"
        )
    if edges:
        parts.append(f'<text x="{left + bar_w:.1f}" y="{bottom + 13:.1f}" text-anchor="middle">{_e(_num(edges[0]))}</text>')
        parts.append(
            f'<text x="{left + plot_w - bar_w:.1f}" y="{bottom + 13:.1f}" text-anchor="middle">{_e(_num(edges[-1]))}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _histogram_pair(feature: Mapping[str, Any]) -> str:
    name = str(feature.get("feature") or "feature")
    reference, current = _dict(feature.get("reference")), _dict(feature.get("current"))
    edges = [float(e) for e in _list(reference.get("edges") or current.get("edges")) if _finite(e) is not None]
    ref_counts = [float(c) for c in _list(reference.get("counts"))]
    cur_counts = [float(c) for c in _list(current.get("counts"))]
    bins = max(len(ref_counts), len(cur_counts), max(len(edges) - 1, 0))
    ref = [0.0, *(ref_counts + [0.0] * (bins - len(ref_counts))), 0.0]
    cur = [
        float(current.get("underflow") or 0),
        *(cur_counts + [0.0] * (bins - len(cur_counts))),
        float(current.get("overflow") or 0),
    ]
    ref_s, cur_s = _shares(ref), _shares(cur)
    peak = max([*ref_s, *cur_s, 0.0])
    value = _num(feature.get("value"))
    return (
        f'<figure class="histogram-pair" data-feature="{_e(name)}">'
        f'<div class="charts">{_histogram(f"{name}: reference", "ref", edges, ref_s, peak)}'
        f'{_histogram(f"{name}: current", "cur", edges, cur_s, peak)}</div>'
        f"<figcaption>{_e(name)}: drift {_e(value)} over {_e(_num(feature.get('samples'), 6))} samples; "
        "shares of each total on the reference profile's bins, with underflow and overflow at the ends"
        "</figcaption></figure>"
    )


# -- the page ---------------------------------------------------------------------


def _meter(remaining: Any) -> str:
    value = _finite(remaining)
    if value is None:
        return '<span class="nodata">no data</span>'
    width = max(0.0, min(1.0, value)) * 100
    colour = "#1e7b34" if value > 0.25 else "#d9822b" if value > 0 else "#b3261e"
    return (
        f'<span class="meter"><span style="width: {width:.0f}%; background: {colour}"></span></span>'
        f"{_e(format(value * 100, '.3g'))}%"
    )


def _slo_card(row: Mapping[str, Any]) -> str:
    title = (
        f"SLO {row.get('slo', '?')}: {row.get('model', '?')} {row.get('version', '?')} on {row.get('target', '?')}"
    )
    out = [f'<section class="card"><h2>{_e(title)}</h2>']
    meta = [f"traffic weight {_e(_num(row.get('weight')))}%", f"SLO window {_e(_duration(row.get('window_s')))}"]
    if row.get("no_traffic"):
        meta.append('<span class="nodata">no traffic: no data, never a pass</span>')
    out.append(f'<p class="meta">{" · ".join(meta)}</p>')
    objectives = [_dict(o) for o in _list(row.get("objectives"))]
    if objectives:
        out.append(
            "<table><thead><tr><th>objective</th><th>budget</th><th>budget remaining</th>"
            "<th>window pair</th><th>long</th><th>short</th><th>factor</th><th>severity</th><th>state</th>"
            "</tr></thead><tbody>"
        )
        for objective in objectives:
            rates = [_dict(r) for r in _list(objective.get("burn_rates"))] or [{}]
            for k, rate in enumerate(rates):
                head = ""
                if k == 0:
                    span = f' rowspan="{len(rates)}"' if len(rates) > 1 else ""
                    head = (
                        f"<td{span}>{_e(objective.get('objective') or objective.get('type') or '?')}</td>"
                        f"<td{span}>{_e(_num(objective.get('budget')))}</td>"
                        f"<td{span}>{_meter(objective.get('budget_remaining'))}</td>"
                    )
                pair = f"{_duration(rate.get('long_s'))}/{_duration(rate.get('short_s'))}" if rate else "–"
                out.append(
                    f"<tr>{head}<td>{_e(pair)}</td><td>{_e(_num(rate.get('long')))}</td>"
                    f"<td>{_e(_num(rate.get('short')))}</td><td>{_e(_num(rate.get('factor')))}</td>"
                    f"<td>{_e(rate.get('severity') or '')}</td><td>{_state(rate.get('firing')) if rate else ''}</td></tr>"
                )
        out.append("</tbody></table>")
        out.append('<h3>Burn rates (multiples of the budget, log scale)</h3><div class="charts">')
        for objective in objectives:
            chart = _burn_history(objective) or _burn_bars(objective)
            name = objective.get("objective") or objective.get("type") or "?"
            out.append(f'<figure class="burn">{chart}<figcaption>{_e(name)}</figcaption></figure>')
        out.append("</div>")
    drifts = [_dict(d) for d in _list(row.get("drift"))]
    for drift in drifts:
        out.append(
            f"<h3>{_e(drift.get('objective') or 'drift')}: {_state(drift.get('firing'))} "
            f"(over {_e(_duration(drift.get('window_s')))})</h3>"
        )
        features = [_dict(f) for f in _list(drift.get("features"))]
        out.append(
            "<table><thead><tr><th>feature</th><th>method</th><th>value</th><th>threshold</th>"
            "<th>samples</th><th>drifted</th></tr></thead><tbody>"
        )
        for feature in features:
            drifted = feature.get("drifted")
            out.append(
                f"<tr><td>{_e(feature.get('feature', '?'))}</td><td>{_e(drift.get('method', '?'))}</td>"
                f"<td>{_e(_num(feature.get('value')))}</td><td>{_e(_num(drift.get('threshold')))}</td>"
                f"<td>{_e(_num(feature.get('samples'), 9))}</td>"
                f"<td>{_state(drifted) if drifted is not None else _state(None)}</td></tr>"
            )
        out.append("</tbody></table>")
        for feature in features:
            if feature.get("drifted") is True:
                out.append(_histogram_pair(feature))
    out.append("</section>")
    return "".join(out)


def _alerts(report: Mapping[str, Any]) -> str:
    alerts = [_dict(a) for a in _list(report.get("alerts"))]
    firing = [a for a in alerts if a.get("status") == "firing"]
    if not firing:
        return '<h2>Firing alerts</h2><p class="ok">none</p>'
    rows = []
    for alert in firing:
        labels = _dict(alert.get("labels"))
        subject = " ".join(str(labels[k]) for k in ("model", "version") if k in labels) or labels.get("resource", "")
        rows.append(
            f'<tr><td class="firing">{_e(alert.get("alertname", "?"))}</td><td>{_e(labels.get("severity", ""))}</td>'
            f"<td>{_e(alert.get('target') or labels.get('target', ''))}</td><td>{_e(subject)}</td>"
            f"<td>{_e(labels.get('objective', ''))}</td>"
            f"<td>{_e(_dict(alert.get('annotations')).get('summary', ''))}</td>"
            f"<td>{_e(alert.get('firing_since') or '')}</td></tr>"
        )
    return (
        "<h2>Firing alerts</h2><table><thead><tr><th>alert</th><th>severity</th><th>target</th><th>model</th>"
        "<th>objective</th><th>summary</th><th>since</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def _targets(report: Mapping[str, Any]) -> str:
    targets = _dict(report.get("targets"))
    if not targets:
        return ""
    rows = []
    for name, info in sorted(targets.items()):
        info = _dict(info)
        reachable = info.get("reachable")
        state = '<span class="ok">reachable</span>' if reachable else '<span class="firing">unreachable</span>'
        rows.append(
            f"<tr><td>{_e(name)}</td><td>{state}</td><td>{_e(info.get('role') or '')}</td>"
            f"<td>{_e(info.get('error') or info.get('detail') or '')}</td></tr>"
        )
    return (
        "<h2>Targets</h2><table><thead><tr><th>target</th><th>state</th><th>watch role</th><th>detail</th></tr>"
        "</thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def _actions(report: Mapping[str, Any]) -> str:
    actions = [_dict(a) for a in _list(report.get("actions"))]
    if not actions:
        return ""
    rows = "".join(
        f"<tr><td>{_e(a.get('action', '?'))}</td><td>{_e(a.get('target', ''))}</td>"
        f"<td>{_e(' '.join(str(a[k]) for k in ('model', 'version') if k in a))}</td><td>{_e(a.get('outcome', ''))}</td></tr>"
        for a in actions
    )
    return (
        "<h2>Actions</h2><table><thead><tr><th>action</th><th>target</th><th>model</th><th>outcome</th></tr>"
        f"</thead><tbody>{rows}</tbody></table>"
    )


def render_html(report: Mapping[str, Any]) -> str:
    """The page for one status report (the JSON shape in the module docstring)."""
    desired = _dict(report.get("desired"))
    meta = [f"at {_e(report.get('at') or '?')}"]
    if desired:
        commit = str(desired.get("commit") or "")[:12]
        meta.append(f"desired state {_e(desired.get('ref') or '?')} {_e(commit)}")
    if report.get("watcher"):
        meta.append(f"by {_e(report['watcher'])}")
    rows = [_dict(r) for r in _list(report.get("slos"))]
    body = [
        "<h1>SpecOps SLO status</h1>",
        f'<p class="meta">{" · ".join(meta)}</p>',
        _alerts(report),
        _targets(report),
        _actions(report),
        *(_slo_card(r) for r in rows),
    ]
    if not rows:
        body.append('<p class="nodata">no SLO rows: no served model has an SLO, or no target answered</p>')
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>SpecOps SLO status</title><style>{_STYLE}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )
