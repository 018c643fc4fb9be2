"""Guardrails and prompts as the target enforces them, over real HTTP and as units."""

from __future__ import annotations

from typing import Any

import pytest

from specops.serve._guardrails import luhn_ok, pii_matches
from tests.test_serve_kit import (
    FEATURES,
    Admin,
    admin,
    deploy,
    doc,
    echo_text_model,
    scorer,
    server,
)

__all__ = ["admin", "server"]  # fixtures

TEXT = [{"name": "text", "dtype": "string", "shape": [-1]}]
REPLY = [{"name": "reply", "dtype": "string", "shape": [-1]}]


def test_luhn_and_pii_detection() -> None:
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    text = "mail ann@example.org, card 4111 1111 1111 1111, call +44 20 7946 0958, not 4111 1111 1111 1112"
    kinds = [k for k, _, _ in pii_matches(text, ["email", "phone", "creditCard"])]
    assert kinds == ["email", "creditCard", "phone"]
    assert pii_matches("iban GB82 WEST 1234 5698 7654 32", ["iban"])[0][0] == "iban"
    assert pii_matches("from 10.1.2.3 and 999.1.1.1", ["ipAddress"]) == [("ipAddress", 5, 13)]


def _dataset() -> dict[str, Any]:
    columns = [{"name": f, "dtype": "float", "min": 0, "max": 100} for f in FEATURES]
    columns[2] = {"name": "count", "dtype": "int", "min": 0, "max": 50}
    return doc("Dataset", "train", {
        "version": "v1", "artifact": {"uri": "data/train.csv", "sha256": "0" * 64},
        "schema": {"columns": columns},
    })


def _infer(admin: Admin, row: list[float]) -> Any:
    return admin.infer("fraud", [row])


def test_numeric_guardrails_block_and_flag(admin: Admin) -> None:
    ranges = doc("Guardrail", "ranges", {"action": "block", "checks": [
        {"type": "schema", "tensor": "features", "dataset": "train"},
        {"type": "range", "tensor": "features", "feature": "hour", "max": 23},
        {"type": "size", "maxElements": 40},
        {"type": "range", "stage": "output", "tensor": "probabilities", "min": 0.0, "max": 0.9, "action": "flag"},
    ]})
    refused = admin.apply(ranges)
    assert refused.status_code == 422 and "Dataset/train" in refused.json()["error"]
    assert admin.apply(_dataset()).status_code == 200
    assert admin.apply(ranges).status_code == 200
    deploy(admin, "fraud", "1.0.0", scorer(1), guardrails=["ranges"])

    ok = _infer(admin, [10, 20, 3, 12])
    assert ok.status_code == 200 and "parameters" not in ok.json()
    cases = {
        "hour": ([10, 20, 3, 30], "feature 'hour' of 'features' = 30.0 is outside"),
        "contract max": ([500, 20, 3, 12], "'amount'"),
        "contract int": ([10, 20, 3.5, 12], "whole numbers"),
    }
    for row, message in cases.values():
        blocked = _infer(admin, row)
        assert blocked.status_code == 422
        assert blocked.json()["guardrail"] == "ranges" and message in blocked.json()["error"]
    big = admin.infer("fraud", [[1, 2, 3, 4]] * 11)
    assert big.status_code == 422 and "44 elements (max 40)" in big.json()["error"]

    stats = admin.http.get("/admin/v1/models/fraud/stats").json()["versions"]["1.0.0"]
    assert stats["guardrail_blocks"] == 4 and stats["errors"] == 0
    metrics = admin.http.get("/metrics").text
    assert 'specops_guardrail_hits_total{action="block",check="1:range",guardrail="ranges",model="fraud",stage="input"} 1.0' in metrics
    # A guardrail in use cannot be deleted; a dataset a guardrail uses neither.
    used = admin.http.delete("/admin/v1/resources/Guardrail/ranges", params={"expected_revision": admin.revision()})
    assert used.status_code == 409 and used.json()["used_by"] == ["Model/fraud"]
    used = admin.http.delete("/admin/v1/resources/Dataset/train", params={"expected_revision": admin.revision()})
    assert used.status_code == 409


def test_text_guardrails_redact_block_flag(admin: Admin) -> None:
    guard = doc("Guardrail", "text", {"action": "block", "checks": [
        {"type": "denyList", "values": ["drop table"]},
        {"type": "pii", "action": "redact"},
        {"type": "pii", "stage": "output", "detect": ["email"], "action": "redact"},
        {"type": "regex", "patterns": ["(?i)urgent"], "action": "flag"},
        {"type": "size", "maxLength": 200},
    ]})
    assert admin.apply(guard).status_code == 200
    artifact = echo_text_model()
    deploy(admin, "echo", "1.0.0", artifact, guardrails=["text"], inputs=TEXT, outputs=REPLY)

    def say(*texts: str) -> Any:
        body = {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [len(texts)], "data": list(texts)}]}
        return admin.http.post("/v2/models/echo/infer", json=body)

    answer = say("URGENT: card 4111-1111-1111-1111 of ann@example.org", "hello")
    assert answer.status_code == 200, answer.text
    assert answer.json()["outputs"][0]["data"] == ["URGENT: card [REDACTED] of [REDACTED]", "hello"]
    actions = {(h["type"], h["action"]) for h in answer.json()["parameters"]["guardrail_hits"]}
    assert actions == {("pii", "redact"), ("regex", "flag")}
    blocked = say("please DROP TABLE users")
    assert blocked.status_code == 422 and "denied term 'DROP TABLE'" in blocked.json()["error"]
    assert say("x" * 201).status_code == 422


def test_prompts_render_declared_variables_only(admin: Admin) -> None:
    def prompt(version: str, template: str) -> dict[str, Any]:
        return doc("Prompt", "summary", {
            "version": version, "model": "fraud", "template": template,
            "variables": [{"name": "tx", "maxLength": 8}, {"name": "n", "required": False, "default": "3"}],
            "parameters": {"temperature": 0.2},
        })

    assert admin.apply(prompt("1.0.0", "Tx {{ tx }} in {{n}} sentences.")).status_code == 200
    assert admin.apply(prompt("1.1.0", "Explain {{ tx }} ({{ n }}).")).status_code == 200
    render = admin.http.post("/v1/prompts/summary/render", json={"variables": {"tx": "{{ n }}"}})
    assert render.status_code == 200
    assert render.json()["text"] == "Explain {{ n }} (3)."  # values are never templates themselves
    assert render.json()["version"] == "1.1.0" and render.json()["model"] == "fraud"
    assert render.json()["parameters"] == {"temperature": 0.2}
    old = admin.http.post("/v1/prompts/summary/render", json={"version": "1.0.0", "variables": {"tx": "t1", "n": 2}})
    assert old.json()["text"] == "Tx t1 in 2 sentences."
    for variables, message in (
        ({}, "'tx' is required"),
        ({"tx": "123456789"}, "maxLength 8"),
        ({"tx": "a", "evil": "__import__"}, "declares no variable 'evil'"),
    ):
        refused = admin.http.post("/v1/prompts/summary/render", json={"variables": variables})
        assert refused.status_code == 422 and message in refused.json()["error"]
    assert admin.http.post("/v1/prompts/none/render", json={}).status_code == 404
    listing = admin.http.get("/v1/prompts").json()["prompts"]["summary"]
    assert listing["versions"] == ["1.0.0", "1.1.0"]


@pytest.mark.parametrize("kind", ["Target"])
def test_target_resource_must_be_this_target(admin: Admin, kind: str) -> None:
    other = doc(kind, "elsewhere", {"url": "http://10.0.0.1:8480", "environment": "staging"})
    assert admin.apply(other).status_code == 422
    mine = doc(kind, "test", {"url": "http://127.0.0.1:8480", "environment": "development"})
    applied = admin.apply(mine)
    assert applied.status_code == 200
    state = admin.http.get("/admin/v1/state").json()
    assert state["resources"]["Target/test"]["status"] == {"ready": True}
    gone = admin.http.delete("/admin/v1/resources/Target/test", params={"expected_revision": state["revision"]})
    incarnation, _, counter = state["revision"].rpartition("-")
    assert gone.status_code == 200 and gone.json()["revision"] == f"{incarnation}-{int(counter) + 1}"


# -- the schema check, all features at once, against the feature-by-feature contract ----------

def _reference_schema(array: Any, names: list[str], dataset: Any, allow_nan: bool) -> str | None:
    """The contract read one feature at a time (how the target checked it before it was
    vectorised; the target still reads it so to word a refusal)."""
    from specops.serve._guardrails import _schema_violation

    schema = dataset.spec.schema_
    for index, feature in enumerate(names):
        column = schema.column(feature)
        if column is None or column.dtype in ("string", "timestamp"):
            continue
        where = f"feature {feature!r} of 'x' (dataset {dataset.name} {dataset.spec.version})"
        reason = _schema_violation(array[..., index], column, allow_nan, where)
        if reason is not None:
            return reason
    return None


def _schema_case() -> Any:
    import numpy as np
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp

    bound = st.sampled_from([None, -1.5, 0.0, 0.1, 1.0, 2.0, 100.0])

    @st.composite
    def case(draw: Any) -> Any:
        count = draw(st.integers(1, 6))
        columns = []
        for i in range(count):
            dtype = draw(st.sampled_from(["float", "int", "bool", "category", "string", "timestamp"]))
            column: dict[str, Any] = {"name": f"f{i}", "dtype": dtype, "nullable": draw(st.booleans())}
            if dtype in ("float", "int"):
                low, high = draw(bound), draw(bound)
                if low is not None and high is not None and low > high:
                    low, high = high, low
                column.update({"min": low, "max": high})
            if dtype == "category" and draw(st.booleans()):
                column["allowed"] = draw(st.lists(st.integers(-2, 3), min_size=1, max_size=3, unique=True))
            columns.append(column)
        # Features the dataset does not declare are skipped; the order may differ from the columns.
        names = draw(st.permutations([c["name"] for c in columns] + draw(st.sampled_from([[], ["extra"]]))))
        dtype = draw(st.sampled_from([np.float32, np.float64, np.int64, np.int32]))
        rows = draw(st.integers(1, 4))
        if np.issubdtype(dtype, np.floating):
            elements = st.one_of(
                st.sampled_from([0.0, 1.0, 0.1, 0.5, -1.5, 2.0, 100.0, 100.5, -0.0, float("nan"), float("inf")]),
                st.floats(-200, 200, width=32),
            )
        else:
            elements = st.integers(-3, 120)
        array = draw(hnp.arrays(dtype, (rows, len(names)), elements=elements))
        return columns, names, array, draw(st.booleans())

    return case()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("small", [0, 64], ids=["numpy", "value-by-value"])
def test_vectorised_schema_check_agrees_with_the_feature_by_feature_contract(small: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both ways of the vector test: numpy calls over the batch, and (a float tensor of at most
    ``_SMALL`` values) value by value in Python."""
    from hypothesis import given, settings

    from specops.serve import _guardrails
    from specops.serve._guardrails import _schema_runner

    monkeypatch.setattr(_guardrails, "_SMALL", small)
    from specops.spec import Dataset
    from specops.spec._guardrail import SchemaCheck

    @settings(max_examples=300, deadline=None)
    @given(_schema_case())
    def check(case: Any) -> None:
        columns, names, array, allow_nan = case
        dataset = Dataset.model_validate(doc("Dataset", "train", {
            "version": "v1", "artifact": {"uri": "data/train.csv", "sha256": "0" * 64},
            "schema": {"columns": columns},
        }))
        schema = SchemaCheck.model_validate(
            {"type": "schema", "stage": "input", "tensor": "x", "dataset": "train", "allowNan": allow_nan}
        )
        run = _schema_runner(schema, dataset)
        expected = _reference_schema(array, names, dataset, allow_nan)
        assert run({"x": array}, {"x": names}) == (expected, None)
        assert run({"x": array}, {"x": names}) == (expected, None)  # the cached plan answers the same

    check()


@pytest.mark.parametrize(
    ("column", "values", "dtype"),
    [
        ({"dtype": "bool"}, [0, 1, -1], "int64"),
        ({"dtype": "bool"}, [0.0, 2.0], "float32"),
        ({"dtype": "bool"}, [0.5], "float64"),
        ({"dtype": "int", "min": 0, "max": 5}, [1.5], "float32"),
        ({"dtype": "float", "max": 0.1}, [0.1], "float32"),  # float32(0.1) > 0.1 at float64
        ({"dtype": "float", "nullable": True, "min": 0}, [float("nan"), -1.0], "float64"),
        ({"dtype": "float", "min": 0}, [float("nan")], "float32"),
        ({"dtype": "category", "allowed": [1, 2]}, [1, 3], "int32"),
        ({"dtype": "float", "min": 0, "max": 1}, [float("inf")], "float64"),
        ({"dtype": "string"}, [-5.0], "float64"),
    ],
)
def test_schema_check_edges_agree_with_the_contract(column: dict[str, Any], values: list[float], dtype: str) -> None:
    import numpy as np

    from specops.serve._guardrails import _schema_runner
    from specops.spec import Dataset
    from specops.spec._guardrail import SchemaCheck

    dataset = Dataset.model_validate(doc("Dataset", "train", {
        "version": "v1", "artifact": {"uri": "data/train.csv", "sha256": "0" * 64},
        "schema": {"columns": [{"name": "ok", "dtype": "float"}, {"name": "f", **column}]},
    }))
    run = _schema_runner(SchemaCheck.model_validate({"type": "schema", "stage": "input", "dataset": "train"}), dataset)
    array = np.array([[0.0, v] for v in values], dtype=dtype)
    expected = _reference_schema(array, ["ok", "f"], dataset, False)
    assert run({"x": array}, {"x": ["ok", "f"]}) == (expected, None)
    assert (expected is None) == (column["dtype"] == "string")  # every case but the string column breaks the contract


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_range_check_agrees_with_every_value_compared() -> None:
    """The range check looks at a tensor's extremes first; its verdict is the one comparing every value."""
    import numpy as np
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp

    from specops.serve._guardrails import _range_runner
    from specops.spec._guardrail import RangeCheck

    bounds = st.sampled_from([None, 0, 1, 127, 128, 1000, -0.1, 0.1, 0.5, 1e300, -1e300, 2**70, -(2**70), 2**53 + 1,
                              3.4028235e38, 3.5e38, 65504, 70000, 0.30000001192092896])

    @settings(max_examples=300, deadline=None)
    @given(bounds, bounds, st.sampled_from(["float32", "float64", "float16", "int8", "uint8", "int32", "uint16", "int64"]),
           st.data())
    def check(low: Any, high: Any, dtype: str, data: Any) -> None:
        if (low is None and high is None) or (low is not None and high is not None and low > high):
            return  # not a range check (the spec refuses it)
        if dtype.startswith("float"):
            elements = st.sampled_from([0.0, 0.1, -0.1, 0.3, 0.5, 1.0, 127.0, 1000.0, 65504.0, 3.4e38, float("nan"),
                                        float("inf"), -float("inf")])
        else:
            info = np.iinfo(dtype)
            elements = st.integers(max(int(info.min), -200), min(int(info.max), 1200))
        shape = data.draw(st.sampled_from([(0,), (1,), (3,), (2, 2), (70,)]))  # (70,): past the Python path
        array = data.draw(hnp.arrays(dtype, shape, elements=elements))
        run = _range_runner(RangeCheck.model_validate({"type": "range", "stage": "input", "min": low, "max": high}))
        lo = -np.inf if low is None else low
        hi = np.inf if high is None else high
        outside = ~((array >= lo) & (array <= hi))
        reason, _ = run({"x": array}, {})
        assert (reason is not None) == bool(outside.any())
        if reason is not None:
            assert reason.startswith(f"tensor 'x' = {array.reshape(-1)[np.flatnonzero(outside)[0]]} is outside")

    check()
