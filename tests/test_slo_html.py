"""``specops slo status --format html``: one self-contained page that a strict HTML5 parser accepts."""

from __future__ import annotations

import copy
import re
import xml.etree.ElementTree as ET
from typing import Any

import html5lib
import numpy as np
import pytest

from specops.watch._html import render_html

SVG = "{http://www.w3.org/2000/svg}"
# Attributes through which a page loads something.
LOADING_ATTRIBUTES = {"src", "href", "{http://www.w3.org/1999/xlink}href", "action", "data", "poster", "srcset", "background"}
LOADING_ELEMENTS = {"script", "link", "img", "iframe", "object", "embed", "audio", "video", "source", "base"}


def parse(page: str) -> ET.Element:
    """html5lib in strict mode: any parse error raises instead of being repaired."""
    parser = html5lib.HTMLParser(tree=html5lib.getTreeBuilder("etree"), strict=True, namespaceHTMLElements=False)
    root: ET.Element = parser.parse(page)
    return root


def _counts(rng: np.random.Generator, loc: float, edges: list[float], n: int) -> dict[str, Any]:
    values = rng.normal(loc, 1.0, n)
    counts, _ = np.histogram(values[(values >= edges[0]) & (values <= edges[-1])], bins=edges)
    return {
        "counts": counts.tolist(),
        "underflow": int((values < edges[0]).sum()),
        "overflow": int((values > edges[-1]).sum()),
    }


def report() -> dict[str, Any]:
    """A status report in the shape ``specops.watch._loop`` documents, two features drifted of three."""
    rng = np.random.default_rng(7)
    edges = [float(e) for e in np.linspace(-3, 3, 13)]
    reference = _counts(rng, 0.0, edges, 2000)
    features = []
    for name, shift, drifted in (("amount", 1.5, True), ("hour_of_day", 0.8, True), ("card_present", 0.0, False)):
        features.append({
            "feature": name, "value": 0.41 if drifted else 0.01, "samples": 1200, "drifted": drifted,
            "reference": {"edges": edges, "counts": reference["counts"]},
            "current": _counts(rng, shift, edges, 1200),
        })  # fmt: skip
    base = 1_764_583_200.0
    history = [{"at": base + 60 * i, "long": 0.5 * 1.4**i, "short": 0.6 * 1.4**i} for i in range(12)]
    return {
        "format_version": 1, "at": "2026-12-01T10:00:00Z", "watcher": "watch@host:1",
        "desired": {"ref": "HEAD", "commit": "0123456789abcdef0123"},
        "targets": {"local-cpu": {"reachable": True, "role": "active", "detail": "", "error": None},
                    "gpu-east": {"reachable": False, "role": "unreachable", "error": "connection refused"}},
        "slos": [{
            "slo": "fraud-scorer", "model": "fraud-scorer", "target": "local-cpu", "version": "1.2.0",
            "weight": 100, "window_s": 2592000, "no_traffic": False,
            "objectives": [
                {"objective": "errorRate <= 0.001", "type": "errorRate", "budget": 0.001, "budget_remaining": -3.2,
                 "budget_window": {"seconds": 2592000, "requests": 5000, "bad": 21},
                 "burn_rates": [
                     {"long_s": 3600, "short_s": 300, "factor": 14.4, "severity": "page", "long": 52.0,
                      "short": 61.0, "long_requests": 4000, "short_requests": 300, "firing": True, "history": history},
                     {"long_s": 21600, "short_s": 1800, "factor": 6, "severity": "page", "long": 8.0,
                      "short": 30.0, "long_requests": 5000, "short_requests": 1500, "firing": True},
                 ]},
                {"objective": "latency p95 <= 50ms", "type": "latency", "budget": 0.05, "budget_remaining": 0.93,
                 "burn_rates": [
                     {"long_s": 3600, "short_s": 300, "factor": 14.4, "severity": "page", "long": 0.2,
                      "short": None, "long_requests": 4000, "short_requests": 3, "firing": None},
                 ]},
            ],
            "drift": [{"objective": "drift psi > 0.2", "method": "psi", "threshold": 0.2, "window_s": 3600,
                       "firing": True, "features": features}],
        }],
        "alerts": [
            {"key": "k1", "alertname": "SLOBurnRate", "status": "firing", "target": "local-cpu",
             "labels": {"model": "fraud-scorer", "version": "1.2.0", "severity": "page",
                        "objective": "errorRate <= 0.001", "windows": "1h/5m"},
             "annotations": {"summary": "fraud-scorer 1.2.0 burns <fast> & \"hard\" (see http://example.com/runbook)"},
             "firing_since": "2026-12-01T09:58:00Z", "resolved_at": None},
            {"key": "k2", "alertname": "SLODrift", "status": "resolved", "labels": {"model": "fraud-scorer"},
             "annotations": {"summary": "old drift"}, "resolved_at": "2026-12-01T09:00:00Z"},
        ],
        "actions": [{"action": "rollback", "target": "local-cpu", "model": "fraud-scorer", "version": "1.2.0",
                     "outcome": "rolled back to 1.1.0"}],
    }  # fmt: skip


def _by_class(root: ET.Element, cls: str) -> list[ET.Element]:
    return [e for e in root.iter() if cls in (e.get("class") or "").split()]


def test_page_is_strict_html5_and_loads_nothing_from_outside() -> None:
    page = render_html(report())
    root = parse(page)
    assert page.startswith("<!DOCTYPE html>")
    assert root.find("head/meta[@charset='utf-8']") is not None
    for element in root.iter():
        tag = element.tag.split("}")[-1] if isinstance(element.tag, str) else ""
        assert tag not in LOADING_ELEMENTS, f"<{tag}> loads from outside"
        for name, value in element.attrib.items():
            if name in LOADING_ATTRIBUTES:
                pytest.fail(f"<{tag} {name}={value!r}>: the page must not reference anything")
    assert "@import" not in page
    assert not re.search(r"url\s*\(", page)
    # The alert text with a URL is shown as text, escaped, never as a link.
    assert "&lt;fast&gt; &amp; &quot;hard&quot;" in page
    assert not root.findall(".//a")


def test_a_burn_rate_chart_per_objective() -> None:
    root = parse(render_html(report()))
    charts = [e for e in root.iter(f"{SVG}svg") if "burn-chart" in (e.get("class") or "")]
    assert len(charts) == 2  # one per objective with an error budget
    history, bars = charts
    # with a history: the long window's burn rate over time, and the factor line
    assert "burn-history" in (history.get("class") or "")
    path = history.find(f"{SVG}path")
    assert path is not None and len(re.findall(r"[ML]", path.get("d") or "")) == 12
    # without one: a long and a short bar per pair; the short window without data draws none
    assert len([r for r in bars.iter(f"{SVG}rect") if r.get("class") == "bar-long"]) == 2  # one + legend
    assert len([r for r in bars.iter(f"{SVG}rect") if r.get("class") == "bar-short"]) == 1  # legend only
    assert len(_by_class(bars, "factor")) == 2  # the pair's factor + legend


def test_burn_bars_are_drawn_to_scale() -> None:
    doc = report()
    del doc["slos"][0]["objectives"][0]["burn_rates"][0]["history"]
    root = parse(render_html(doc))
    chart = next(e for e in root.iter(f"{SVG}svg") if "burn-chart" in (e.get("class") or ""))
    heights = {
        r.findtext(f"{SVG}title"): float(r.get("height") or 0)
        for r in chart.iter(f"{SVG}rect") if r.findtext(f"{SVG}title")
    }  # fmt: skip
    # 61x > 52x > 30x > 8x: taller bar for the faster burn
    assert heights["short window: 61x"] > heights["long window: 52x"] > heights["short window: 30x"] > heights["long window: 8x"]


def test_one_histogram_pair_per_drifted_feature() -> None:
    doc = report()
    root = parse(render_html(doc))
    pairs = _by_class(root, "histogram-pair")
    assert [p.get("data-feature") for p in pairs] == ["amount", "hour_of_day"]
    for pair in pairs:
        reference, current = pair.iter(f"{SVG}svg")
        assert "ref" in (reference.get("class") or "").split() and "cur" in (current.get("class") or "").split()
        # 12 bins + underflow + overflow each
        ref_bars = [r for r in reference.iter(f"{SVG}rect") if r.get("class") == "ref"]
        cur_bars = [r for r in current.iter(f"{SVG}rect") if r.get("class") == "cur"]
        assert len(ref_bars) == len(cur_bars) == 14
    # the tallest current bar of "amount" is its most populated bin
    feature = doc["slos"][0]["drift"][0]["features"][0]
    cells = [feature["current"]["underflow"], *feature["current"]["counts"], feature["current"]["overflow"]]
    current = list(pairs[0].iter(f"{SVG}svg"))[1]
    heights = [float(r.get("height") or 0) for r in current.iter(f"{SVG}rect") if r.get("class") == "cur"]
    assert int(np.argmax(heights)) == int(np.argmax(cells))


def test_no_data_and_missing_fields_are_shown_not_guessed() -> None:
    doc = report()
    row = doc["slos"][0]
    row["no_traffic"] = True
    row["objectives"][1]["budget_remaining"] = None
    del row["drift"][0]["features"][0]["current"]["underflow"]
    page = render_html(doc)
    parse(page)
    assert "no traffic: no data, never a pass" in page
    assert page.count("no data") >= 3  # the latency short window, its state, its budget
    # a report with nothing in it is still a valid page
    empty = render_html({})
    parse(empty)
    assert "no SLO rows" in empty


def test_hostile_text_cannot_break_the_page() -> None:
    doc = copy.deepcopy(report())
    doc["slos"][0]["slo"] = "</title><script>alert(1)</script>"
    doc["slos"][0]["drift"][0]["features"][0]["feature"] = '"><svg onload=alert(1)>'
    page = render_html(doc)
    root = parse(page)
    assert not any(isinstance(e.tag, str) and e.tag.endswith("script") for e in root.iter())
    assert not any("onload" in e.attrib for e in root.iter())
