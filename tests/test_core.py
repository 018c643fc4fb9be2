"""The compiled core and its pure-Python twin: same names, same bytes, same hashes."""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from specops import _core, _core_py
from specops._twins import PURE_FORCED

try:
    from specops import _core_c
except ImportError:  # the test below fails loudly when it should have loaded
    _core_c = None  # type: ignore[assignment]

IMPLEMENTATIONS = [pytest.param(_core_py, id="python")]
if _core_c is not None:
    IMPLEMENTATIONS.append(pytest.param(_core_c, id="cython"))


def test_compiled_core_is_active_unless_pure_python_is_forced() -> None:
    if PURE_FORCED:
        assert not _core.COMPILED
        assert _core.IMPLEMENTATION == "python"
    else:
        assert _core_c is not None, (
            "the compiled core is not installed: pip install . must build csrc/"
        )
        assert _core.COMPILED, _core.LOAD_ERROR
        assert _core.IMPLEMENTATION == "cython"
        assert _core.canonical_hash is _core_c.canonical_hash


def test_twins_export_the_same_names() -> None:
    if _core_c is None:
        pytest.fail("compiled core missing")
    assert set(_core_c.__all__) == set(_core_py.__all__)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
class TestCanonical:
    def test_key_order_does_not_matter(self, impl: ModuleType) -> None:
        a = {"b": 1, "a": {"y": [1, 2], "x": None}}
        b = {"a": {"x": None, "y": [1, 2]}, "b": 1}
        assert impl.canonical_hash(a) == impl.canonical_hash(b)

    def test_integral_floats_equal_ints(self, impl: ModuleType) -> None:
        assert impl.canonical_hash({"v": 1}) == impl.canonical_hash({"v": 1.0})
        assert impl.canonical_hash({"v": 0}) == impl.canonical_hash({"v": -0.0})
        assert impl.canonical_hash({"v": 1.5}) != impl.canonical_hash({"v": 1})

    def test_types_are_distinguished(self, impl: ModuleType) -> None:
        values: list[Any] = [None, True, False, 1, 0, "1", "true", "", [], {}, ["a"], {"a": None}]
        hashes = {impl.canonical_hash(v) for v in values}
        assert len(hashes) == len(values)

    def test_strings_are_length_prefixed(self, impl: ModuleType) -> None:
        # Without length prefixes these two would concatenate to the same bytes.
        assert impl.canonical_hash(["ab", "c"]) != impl.canonical_hash(["a", "bc"])
        assert impl.canonical_hash({"a": "b"}) != impl.canonical_hash({"ab": ""})

    def test_special_floats(self, impl: ModuleType) -> None:
        assert impl.canonical_bytes(math.inf) == b"dinf;"
        assert impl.canonical_bytes(-math.inf) == b"d-inf;"
        assert impl.canonical_bytes(math.nan) == b"dnan;"
        assert impl.canonical_bytes(0.1) == b"d0.1;"
        assert impl.canonical_bytes(2.0**60) == b"d1.152921504606847e+18;"

    def test_known_encoding(self, impl: ModuleType) -> None:
        doc = {"z": [1, True, None], "a": "é"}
        assert impl.canonical_bytes(doc) == b"m1:as2:\xc3\xa91:zli1;tnee"

    def test_rejects_non_string_keys_and_unknown_types(self, impl: ModuleType) -> None:
        with pytest.raises(TypeError, match="mapping keys must be strings"):
            impl.canonical_hash({1: "a"})
        with pytest.raises(TypeError, match="cannot canonicalise"):
            impl.canonical_hash({"a": object()})

    def test_depth_is_bounded(self, impl: ModuleType) -> None:
        deep: Any = []
        for _ in range(300):
            deep = [deep]
        with pytest.raises(ValueError, match="nested deeper"):
            impl.canonical_hash(deep)


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
documents = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=40,
)


@settings(max_examples=400, deadline=None)
@given(documents)
def test_both_implementations_agree(doc: Any) -> None:
    if _core_c is None:
        pytest.fail("compiled core missing")
    assert _core_c.canonical_bytes(doc) == _core_py.canonical_bytes(doc)
    assert _core_c.canonical_hash(doc) == _core_py.canonical_hash(doc)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=8), json_scalars, max_size=8))
def test_hash_ignores_insertion_order(doc: dict[str, Any]) -> None:
    reversed_doc = dict(reversed(list(doc.items())))
    assert _core.canonical_hash(doc) == _core.canonical_hash(reversed_doc)
