"""The one-document checks' fast paths decide exactly what the plain walks decide."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from specops.spec import _document_checks as checks

SHAPED = [
    "-----BEGIN RSA PRIVATE KEY-----", "AKIAABCDEFGHIJKLMNOP", "ghp_" + "a" * 36, "sk-" + "b" * 24,
    "xoxb-1234567890", "eyJhbGciOiJIUzI1.eyJzdWIiOiIxMjM0.x", "sk", "-", "AKI", "A", "eyJ", "gh", "p_",
]
strings = st.sampled_from(SHAPED) | st.text(alphabet="skAIKgphxoyJe-_ 0", max_size=8)
documents = st.recursive(
    strings | st.integers() | st.none(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(strings, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(documents)
def test_the_joined_prefilter_finds_a_shape_exactly_when_a_single_string_has_one(data: Any) -> None:
    # Strings are joined by NUL for one search; a match must never span two strings.
    per_string = any(checks._ANY_SHAPE.search(text) for _, text in checks._walk_strings(data, ()))
    joined = checks._ANY_SHAPE.search("\0".join(checks._strings(data, []))) is not None
    assert joined is per_string
    assert sorted(checks._strings(data, [])) == sorted(text for _, text in checks._walk_strings(data, ()))


@given(st.text(alphabet="aApiKeytokenSecrt_-.0", max_size=16))
def test_the_memoised_credential_rule_is_the_rule(key: str) -> None:
    assert checks.names_a_credential(key) is checks.names_a_credential.__wrapped__(key)


def test_credential_words() -> None:
    assert checks.names_a_credential("deploy-token")
    assert checks.names_a_credential("apiKey")
    assert not checks.names_a_credential("tokenizer")
    assert not checks.names_a_credential("maxTokens")
