"""``/metrics`` as Prometheus and OpenMetrics scrapers read it: content negotiation, bounds without
float noise, ratios from 0 to 1, and the build it came from."""

from __future__ import annotations

import re

from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text

from specops._version import __version__
from specops.serve._metrics import _le
from tests.test_serve_kit import FEATURES, Admin, admin, deploy, doc, model_doc, scorer, server

__all__ = ["admin", "server"]  # fixtures

OPENMETRICS = "application/openmetrics-text; version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"


def _estate(admin: Admin) -> None:
    # amount's range 0..17 in ten bins: 9 * 1.7 is 15.299999999999999 in binary.
    columns = [{"name": f, "dtype": "float", "min": 0, "max": 17} for f in FEATURES]
    dataset = doc("Dataset", "tx", {
        "version": "1", "artifact": {"uri": "data/tx.csv", "sha256": "a" * 64}, "format": "csv",
        "schema": {"columns": columns},
    })  # fmt: skip
    assert admin.apply(dataset).status_code == 200
    deploy(admin, "fraud", "1.0.0", scorer(1), trainedOn={"dataset": "tx", "version": "1"})
    assert admin.upload(scorer(2)).status_code == 200
    candidate = model_doc("fraud", "1.1.0", scorer(2), trainedOn={"dataset": "tx", "version": "1"})
    assert admin.apply(candidate, activate=False).status_code == 200
    assert admin.traffic("fraud", {"1.0.0": 70, "1.1.0": 30}).status_code == 200
    for i in range(10):
        assert admin.infer("fraud", [[1.0, 2.0, 3.0, 4.0]], id=f"m{i}").status_code == 200


def test_metrics_negotiate_openmetrics_and_print_clean_numbers(admin: Admin) -> None:
    _estate(admin)
    plain = admin.http.get("/metrics")
    assert plain.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in parse_text(plain.text)}

    om = admin.http.get("/metrics", headers={"Accept": OPENMETRICS})
    assert om.headers["content-type"].startswith("application/openmetrics-text; version=1.0.0")
    assert om.text.endswith("# EOF\n")
    om_families = {f.name: f for f in parse_openmetrics(om.text)}  # the strict OpenMetrics parser
    assert {"specops_requests", "specops_request_duration_seconds", "specops_build_info"} <= set(om_families)

    shares = {s.labels["version"]: s.value for s in families["specops_traffic_ratio"].samples}
    assert shares == {"1.0.0": 0.7, "1.1.0": 0.3}
    [build] = families["specops_build_info"].samples
    assert build.value == 1 and build.labels["version"] == __version__
    assert build.labels["core"] in {"compiled", "pure"}

    bounds = re.findall(r'le="([^"]+)"', plain.text + om.text)
    assert "15.3" in bounds, "the feature bound 9 * 1.7 prints as written"
    assert not [b for b in bounds if len(b.replace("e-", "").lstrip("-0.")) > 13], bounds


def test_bounds_print_as_written() -> None:
    assert _le(4 * 1.7) == "6.8"
    assert _le(9 * 1.7) == "15.3"
    assert _le(0.037) == "0.037"
    assert _le(1e-6) == "1e-06"
    assert _le(1000) == "1000.0"
