"""Trust holes of the serving target (issue 11): no input answers 5xx or costs unbounded memory,
revisions never repeat across incarnations of a state directory, leases name their holder's
process so a dead one can be taken over.

Real servers on 127.0.0.1 (``tests.test_serve_kit``), real ONNX models, Hypothesis for inputs.
"""

from __future__ import annotations

import json
import math
import shutil
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from specops.serve._codec import FAST_JSON_BYTES, MAX_JSON_VALUES, decode_request
from specops.serve._errors import HTTPError
from tests.test_serve_kit import Admin, deploy, echo_text_model, scorer, start

ROW = [[1.0, 2.0, 3.0, 4.0]]
DATATYPES = ["BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
             "FP16", "FP32", "FP64", "BYTES", "BF16", "fp32", ""]  # fmt: skip


@pytest.fixture(scope="module")
def fuzz_admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Admin]:
    """One server for the fuzzing: ``fraud`` (FP32 [-1, 4]) and ``echo`` (BYTES [-1]) serving."""
    running = start(tmp_path_factory.mktemp("fuzz") / "state", max_elements=1 << 16)
    client = Admin(running.url)
    try:
        deploy(client, "fraud", "1.0.0", scorer(1))
        text_io = {"inputs": [{"name": "text", "dtype": "string", "shape": [-1]}],
                   "outputs": [{"name": "reply", "dtype": "string", "shape": [-1]}]}  # fmt: skip
        deploy(client, "echo", "1.0.0", echo_text_model(), **text_io)
        yield client
    finally:
        client.close()
        running.stop()


def _assert_4xx_or_ok(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        error = response.json()["error"]
        assert isinstance(error, str) and error


# -- any JSON, any shape, any datatype: never a 5xx -------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
_dims = st.integers(min_value=0, max_value=5) | st.sampled_from(
    [-1, -(2**63), 2**31, 2**32, 2**62, 2**63 - 1, 2**63, 2**64, 2**64 + 1, 10**30]
)
_shape = st.lists(_dims, max_size=5) | _json
_numbers = st.lists(st.floats(allow_nan=False, allow_infinity=False, width=32), max_size=20)


@st.composite
def _tensor(draw: st.DrawFn) -> Any:
    tensor: dict[str, Any] = {
        "name": draw(st.sampled_from(["features", "text", "x"]) | _json),
        "datatype": draw(st.sampled_from(DATATYPES) | _json),
        "shape": draw(_shape),
    }
    if draw(st.booleans()):
        tensor["data"] = draw(_numbers | _json | st.lists(_numbers, max_size=4))
    if draw(st.integers(0, 4)) == 0:
        tensor["parameters"] = draw(_json | st.fixed_dictionaries({"binary_data_size": _dims | _json}))
    return tensor


_request = st.fixed_dictionaries(
    {"inputs": st.lists(_tensor(), max_size=3) | _json},
    optional={"id": _json, "parameters": _json, "outputs": _json | st.lists(st.fixed_dictionaries({"name": _json}))},
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=st.sampled_from(["fraud", "echo"]), body=_request, large=st.booleans())
def test_no_json_request_gets_a_5xx(fuzz_admin: Admin, model: str, body: dict[str, Any], large: bool) -> None:
    if large:  # past FAST_JSON_BYTES: the body is split and its numeric data parsed into numpy
        body = {"padding": "x" * FAST_JSON_BYTES, **body}
    _assert_4xx_or_ok(fuzz_admin.http.post(f"/v2/models/{model}/infer", content=json.dumps(body).encode()))


_ADMIN_ROUTES = [
    ("PUT", "/admin/v1/models/fraud/traffic"),
    ("PUT", "/admin/v1/resources/Model/fraud"),
    ("PUT", "/admin/v1/resources/SLO/s"),
    ("DELETE", "/admin/v1/resources/Model/fraud"),
    ("POST", "/v1/prompts/p/render"),
    ("POST", "/admin/v1/lease"),
]
_admin_body = _json | st.fixed_dictionaries(
    {},
    optional={k: _json for k in ("holder", "ttl_s", "identity", "takeover", "weights", "shadow",
                                 "expected_revision", "spec", "hash", "activate", "variables", "version")},
)  # fmt: skip


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(route=st.sampled_from(_ADMIN_ROUTES), body=_admin_body)
def test_no_admin_body_gets_a_5xx(fuzz_admin: Admin, route: tuple[str, str], body: Any) -> None:
    response = fuzz_admin.http.request(route[0], route[1], content=json.dumps(body).encode())
    _assert_4xx_or_ok(response)
    if route[1] == "/admin/v1/lease" and response.status_code == 200:  # leave the target free
        fuzz_admin.http.request("DELETE", route[1], json={"holder": response.json()["holder"]})


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    header=st.integers(min_value=-5, max_value=400).map(str)
    | st.sampled_from(["", "x", "1e3", "+12", "-0", "99999999999999999999999", "0x10"]),
    sizes=st.lists(_dims | _json, min_size=1, max_size=2),
    datatype=st.sampled_from(["FP32", "BYTES", "BOOL", "INT64"]),
    shape=st.lists(_dims, max_size=3),
    blob=st.binary(max_size=64),
)
def test_lying_binary_lengths_get_a_4xx(
    fuzz_admin: Admin, header: str, sizes: list[Any], datatype: str, shape: list[int], blob: bytes
) -> None:
    inputs = [
        {"name": f"in{i}", "datatype": datatype, "shape": shape, "parameters": {"binary_data_size": size}}
        for i, size in enumerate(sizes)
    ]
    head = json.dumps({"inputs": inputs}).encode()
    response = fuzz_admin.http.post(
        "/v2/models/fraud/infer", content=head + blob, headers={"Inference-Header-Content-Length": header}
    )
    _assert_4xx_or_ok(response)
    assert response.status_code != 200


@pytest.mark.parametrize(
    ("tensor", "status", "field"),
    [
        ({"datatype": ["FP32"], "shape": [1, 4], "data": ROW}, 400, "datatype ['FP32']"),
        ({"datatype": {"a": 1}, "shape": [1, 4], "data": ROW}, 400, "datatype {'a': 1}"),
        ({"datatype": "FP32", "shape": [2**16, 2**16, 2**16, 2**16], "data": []}, 413, "elements in all"),
        ({"datatype": "FP32", "shape": [2**32, 2**32], "data": []}, 413, "shape dimension 0"),
        ({"datatype": "FP32", "shape": [0, 2**62], "data": []}, 413, "shape dimension 1"),
        ({"datatype": "FP32", "shape": [2**63 - 1, 0], "data": []}, 413, "shape dimension 0"),
        ({"datatype": "FP32", "shape": [2**64, 0], "data": []}, 400, "shape must be a list of non-negative integers"),
        ({"datatype": "FP32", "shape": [1, 4], "data": ROW, "parameters": [1]}, 400, "'parameters' must be an object"),
        ({"datatype": "FP32", "shape": [1, 4], "parameters": {"binary_data_size": True}}, 400, "binary_data_size"),
        ({"datatype": "FP32", "shape": [1, 4], "parameters": {"binary_data_size": 2**64}}, 400, "binary_data_size"),
        ({"datatype": "FP32", "shape": [2, 2, 2], "data": [[1, 2, 3, 4], [5, 6, 7, 8]]}, 400, "nested as [2, 4]"),
        ({"datatype": "FP32", "shape": [1, 4], "data": ROW, "parameters": {"binary_data_size": 0}}, 400, "both 'data'"),
    ],
)
def test_bad_shapes_and_datatypes_name_the_field(fuzz_admin: Admin, tensor: dict[str, Any], status: int, field: str) -> None:
    body = {"inputs": [{"name": "features", **tensor}]}
    response = fuzz_admin.http.post("/v2/models/fraud/infer", content=json.dumps(body).encode())
    assert response.status_code == status, response.text
    assert field in response.json()["error"] and "input 'features'" in response.json()["error"]


def test_lying_header_length_names_the_header(fuzz_admin: Admin) -> None:
    head = orjson.dumps({"inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 4],
                                     "parameters": {"binary_data_size": 16}}]})  # fmt: skip
    blob = np.array(ROW, dtype=np.float32).tobytes()
    for header in ("-1", str(len(head) + len(blob) + 1), "1e3", "nope"):
        response = fuzz_admin.http.post(
            "/v2/models/fraud/infer", content=head + blob, headers={"Inference-Header-Content-Length": header}
        )
        assert response.status_code == 400 and "Inference-Header-Content-Length" in response.json()["error"]
    ok = fuzz_admin.http.post(
        "/v2/models/fraud/infer", content=head + blob, headers={"Inference-Header-Content-Length": str(len(head))}
    )
    assert ok.status_code == 200, ok.text


# -- large bodies: parsed into arrays, refused before they become Python objects --------------


def _float_body(rows: int, *, nested: bool = True, shape: list[int] | None = None) -> tuple[bytes, np.ndarray]:
    values = np.random.default_rng(rows).random((rows, 4)).astype(np.float32)
    data = values.tolist() if nested else values.reshape(-1).tolist()
    body = {"id": "big", "inputs": [{"name": "features", "datatype": "FP32", "shape": shape or [rows, 4], "data": data}]}
    return orjson.dumps(body), values


@pytest.mark.parametrize("nested", [True, False])
def test_a_large_json_body_is_parsed_straight_into_an_array(nested: bool) -> None:
    body, values = _float_body(50_000, nested=nested)
    assert len(body) > FAST_JSON_BYTES
    request = decode_request(body, None, 1 << 20)
    assert request.id == "big" and request.inputs[0].shape == (50_000, 4)
    np.testing.assert_array_equal(request.inputs[0].array, values)
    assert request.inputs[0].array.dtype == np.float32
    # The same request, small enough to be parsed whole, decodes to the same tensor.
    small_body, small_values = _float_body(3, nested=nested)
    np.testing.assert_array_equal(decode_request(small_body, None, 1 << 20).inputs[0].array, small_values)


def _peak_bytes(body: bytes, max_elements: int) -> tuple[int, HTTPError | None]:
    tracemalloc.start()
    try:
        decode_request(body, None, max_elements)
        error = None
    except HTTPError as exc:
        error = exc
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak, error


def test_an_oversized_body_is_refused_before_it_becomes_python_objects() -> None:
    body, _ = _float_body(250_000)  # 1M floats, about 10 MB of JSON
    # Too many elements for the limit: refused from the shape, the data is never parsed.
    peak, error = _peak_bytes(body, 1 << 19)
    assert error is not None and error.status == 413 and "more than 524288 elements in all" in error.message
    assert peak < len(body) // 10, peak  # as Python floats it would be about 4x the body
    # Within the limit it is parsed into one float32 array: about its 4 MB, plus transient text.
    peak, error = _peak_bytes(body, 1 << 20)
    assert error is None
    assert peak < 2 * len(body), peak
    # Many JSON values outside numeric data (each a Python object) are refused before parsing.
    flood = orjson.dumps({"inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 4], "data": ROW}],
                          "parameters": {"data": [[]] * (MAX_JSON_VALUES + 1)}})  # fmt: skip
    peak, error = _peak_bytes(flood, 1 << 20)
    assert error is not None and error.status == 413 and "JSON values" in error.message
    assert peak < len(flood), peak


def test_large_bodies_keep_json_semantics(fuzz_admin: Admin) -> None:
    rows = math.ceil(FAST_JSON_BYTES / 20) + 10
    body, values = _float_body(rows)
    expected = fuzz_admin.infer("fraud", values[:2].tolist()).json()["outputs"][0]["data"]
    answer = fuzz_admin.http.post("/v2/models/fraud/infer", content=body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["outputs"][0]["data"][:4] == pytest.approx(expected, rel=1e-6)
    text = body.decode()
    broken = {
        "a number JSON does not allow": text.replace("]]}]", ", 1.5.3]]}]", 1),
        "one row too short": text.replace("]]}]", "][0.5, 0.5, 0.5]]}]", 1),
        "a string among numbers": text.replace("[[", '[["7", ', 1),
        "a ragged row": text.replace("]]}]", ", 1]]}]", 1),
        "trailing garbage": text + " [",
    }
    for why, wrong in broken.items():
        response = fuzz_admin.http.post("/v2/models/fraud/infer", content=wrong.encode())
        assert response.status_code == 400, (why, response.text)
    # A "data" key in a string or in parameters is not an input's data.
    odd = orjson.loads(body)
    odd["id"] = 'x\\" "data": [1, 2]'
    odd["parameters"] = {"data": [[1, 2], [3]], "note": '"data": [9]'}
    response = fuzz_admin.http.post("/v2/models/fraud/infer", content=orjson.dumps(odd))
    assert response.status_code == 200, response.text
    assert response.json()["id"] == odd["id"]


# -- revisions: a rebuilt state directory never repeats one ----------------------------------


def test_revisions_name_the_incarnation_and_survive_restarts(tmp_path: Path) -> None:
    state = tmp_path / "state"
    seen: list[str] = []
    for _ in range(2):
        running = start(state)
        admin = Admin(running.url)
        try:
            seen.append(admin.revision())
            deploy(admin, "fraud", "1.0.0", scorer(1))
            seen.append(admin.revision())
        finally:
            admin.close()
            running.stop()
        incarnation = json.loads((state / "state.json").read_text())["incarnation"]
        assert len(incarnation) >= 12 and seen[-1] == f"{incarnation}-{seen[-1].rpartition('-')[2]}"
        shutil.rmtree(state)  # wiped: the next server is a new incarnation
    assert len(set(seen)) == len(seen), seen
    assert seen[0].rpartition("-")[0] != seen[2].rpartition("-")[0]

    # Restarted on the same directory: the same incarnation goes on counting.
    running = start(state)
    admin = Admin(running.url)
    first = admin.revision()
    admin.close()
    running.stop()
    running = start(state)
    admin = Admin(running.url)
    try:
        assert admin.revision() == first
        deploy(admin, "fraud", "1.0.0", scorer(1))
        assert admin.revision().rpartition("-")[0] == first.rpartition("-")[0] != ""
    finally:
        admin.close()
        running.stop()


def test_a_state_file_without_an_incarnation_gets_one(tmp_path: Path) -> None:
    state = tmp_path / "state"
    running = start(state)
    running.stop()
    doc = json.loads((state / "state.json").read_text())
    del doc["incarnation"]
    (state / "state.json").write_text(json.dumps(doc))
    running = start(state)
    admin = Admin(running.url)
    try:
        revision = admin.revision()
    finally:
        admin.close()
        running.stop()
    stored = json.loads((state / "state.json").read_text())["incarnation"]
    assert revision == f"{stored}-0"
    doc["incarnation"] = "not hex"
    (state / "state.json").write_text(json.dumps(doc))
    from specops.serve import StateCorruptError

    with pytest.raises(StateCorruptError, match="'incarnation' 'not hex' is not"):
        start(state)


# -- the lease: identity stored and shown, takeover only of the named holder -----------------


def test_lease_identity_and_takeover(tmp_path: Path) -> None:
    running = start(tmp_path / "state")
    admin = Admin(running.url)
    lease = "/admin/v1/lease"
    me = {"host": "h", "boot_id": "b", "pid": 7, "start_time": 99}
    try:
        taken = admin.http.post(lease, json={"holder": "apply@h:7", "ttl_s": 600, "identity": me})
        assert taken.status_code == 200 and taken.json()["identity"] == me
        assert admin.http.get(lease).json()["identity"] == me
        # A renewal without the identity keeps it.
        assert admin.http.post(lease, json={"holder": "apply@h:7", "ttl_s": 600}).json()["identity"] == me
        refused = admin.http.post(lease, json={"holder": "apply@h:8", "ttl_s": 60})
        assert refused.status_code == 409 and refused.json()["identity"] == me
        # A mutating call without the holder's header names the holder's identity too.
        held = admin.http.put("/admin/v1/models/x/traffic", json={})
        assert held.status_code == 409 and held.json()["identity"] == me
        # A takeover naming someone who does not hold the lease changes nothing.
        wrong = admin.http.post(lease, json={"holder": "apply@h:8", "ttl_s": 60, "takeover": "apply@h:6"})
        assert wrong.status_code == 409 and admin.http.get(lease).json()["holder"] == "apply@h:7"
        new = {"host": "h", "boot_id": "b", "pid": 8, "start_time": 100}
        over = admin.http.post(lease, json={"holder": "apply@h:8", "ttl_s": 60, "takeover": "apply@h:7", "identity": new})
        assert over.status_code == 200 and over.json()["took_over"] == "apply@h:7"
        assert admin.http.get(lease).json() | {"expires_at": None} == {"holder": "apply@h:8", "identity": new, "expires_at": None}
        # The second of two racing takeovers of the same dead holder loses.
        late = admin.http.post(lease, json={"holder": "apply@h:9", "ttl_s": 60, "takeover": "apply@h:7"})
        assert late.status_code == 409 and late.json()["holder"] == "apply@h:8"
        for bad in ([1], {"k": [1]}, {"k": "v" * 300}, {f"k{i}": i for i in range(20)}, {"k": True}):
            answer = admin.http.post(lease, json={"holder": "apply@h:8", "ttl_s": 60, "identity": bad})
            assert answer.status_code == 400 and "identity" in answer.json()["error"]
        assert admin.http.post(lease, json={"holder": "x", "ttl_s": 60, "takeover": 5}).status_code == 400
    finally:
        admin.close()
        running.stop()
    # The identity survives a restart with the lease.
    running = start(tmp_path / "state")
    admin = Admin(running.url)
    try:
        assert admin.http.get(lease).json()["identity"] == new
    finally:
        admin.close()
        running.stop()


_NUMERIC = ["BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32", "FP64"]


@st.composite
def _numeric_request(draw: st.DrawFn) -> tuple[str, list[int], Any]:
    datatype = draw(st.sampled_from(_NUMERIC))
    shape = draw(st.lists(st.integers(0, 3), max_size=3))
    count = math.prod(shape)
    if datatype == "BOOL":
        element: st.SearchStrategy[Any] = st.booleans()
    elif datatype.startswith("FP"):
        element = st.floats(allow_nan=False, allow_infinity=False) | st.integers(-1000, 1000)
    else:
        element = st.integers(-(2**64), 2**64) | st.integers(-200, 200)
    flat = draw(st.lists(element, min_size=count, max_size=count) | st.lists(element, max_size=6))
    data: Any = flat
    if len(flat) == count and len(shape) > 1 and draw(st.booleans()):
        data = np.array(flat, dtype=object).reshape(shape).tolist()
    if draw(st.integers(0, 9)) == 0:
        data = draw(_json)
    return datatype, shape, data


@settings(max_examples=300, deadline=None)
@given(request=_numeric_request())
def test_the_large_body_path_decodes_as_the_json_parser_does(request: tuple[str, list[int], Any]) -> None:
    """Property: a body split and converted straight to numpy means what the whole-JSON path says."""
    import specops.serve._codec as codec

    datatype, shape, data = request
    body = json.dumps({"inputs": [{"name": "x", "datatype": datatype, "shape": shape, "data": data}]}).encode()

    def decode(split_above: int) -> tuple[str, Any]:
        saved = codec.FAST_JSON_BYTES
        codec.FAST_JSON_BYTES = split_above
        try:
            array = codec.decode_request(body, None, 1 << 20).inputs[0].array
            return "ok", array
        except HTTPError as exc:
            return "refused", exc.status
        finally:
            codec.FAST_JSON_BYTES = saved

    whole, split = decode(1 << 30), decode(0)
    if whole[0] == "ok" and split[0] == "ok":
        assert whole[1].dtype == split[1].dtype and whole[1].shape == split[1].shape
        np.testing.assert_array_equal(whole[1], split[1])
    elif whole[0] == "ok":
        # The one difference allowed: integers past 18 digits are refused in large bodies.
        assert any(isinstance(v, int) and abs(v) >= 10**18 for v in np.asarray(data, dtype=object).reshape(-1))
    else:
        assert split[0] == "refused" and split[1] == whole[1] == 400, (whole, split)
