"""The compiled YAML walker and its pure-Python twin: same documents, same problems, same positions.

Random YAML texts (nested block and flow collections, every scalar kind
including the tricky ones, quoting, anchors and aliases, duplicate keys,
tags, nesting past ``MAX_DEPTH``, alias bombs past ``MAX_NODES``, Unicode
line separators, and random single-character damage for syntax errors) go
through both ``parse`` functions; the outcome (the documents, or the
exception with every field) must be identical.
"""

from __future__ import annotations

import math
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.resolver import VersionedResolver

from specops import SpecError, _yaml, _yaml_py
from specops._twins import PURE_FORCED
from specops._yaml import MAX_DEPTH, MAX_NODES, load_documents

try:
    from specops import _yaml_c
except ImportError:  # the test below fails loudly when it should have loaded
    _yaml_c = None  # type: ignore[assignment]

PATH = "specs/x.yaml"

TRICKY = [
    "1e3", "1E-3", ".5", "1.", "+1.5e+2", ".inf", "-.Inf", "+.INF", ".nan", ".NaN",
    "0x1F", "-0x1f", "0o17", "+0o17", "017", "0b101", "1_000", "+12", "-0", "0",
    "~", "null", "Null", "NULL", "", "yes", "No", "on", "OFF", "y", "true", "False", "TRUE",
    "2026-10-01", "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10 -5", "2026-10",
    "1.0.0", "=", "0o_", "._", "0x_", "!!str 12", "!!int '3'", "!!int abc", "!!float 1",
    "!!float x", "!!bool yes", "!!null x", "!!timestamp 5", "!!binary aGk=", "!custom v",
    "! 12", "'quoted'", '"1e3"', "'~'", '"a\\tb"', "a b", "key", "é", "x\u2028y", "p\x85q",
    "'multi\n  line'", "http://h:1/x", "a #comment", "|\n  block\n", ">-\n  folded\n",
]
# Mostly string keys (so duplicates and deep values get reached), now and then one that is refused.
KEYS = ["a", "b", "c", "name", "'q'", '"a"', "x y", "? a"] * 4 + ["1", "true", "~", "<<", "1.5", "null"]


def _scalar() -> st.SearchStrategy[str]:
    return st.sampled_from(TRICKY) | st.text(alphabet="abcXYZ019 _.-:#'\"", min_size=1, max_size=6)


def _value(depth: int) -> st.SearchStrategy[str]:
    """A flow value (fits on one line anywhere)."""
    anchored = st.tuples(st.sampled_from(["", "&a ", "&b ", "&c "]), _scalar()).map("".join)
    alias = st.sampled_from(["*a", "*b", "*c", "*zz"])
    if depth <= 0:
        return anchored | alias
    inner = _value(depth - 1)
    flow_list = st.lists(inner, max_size=4).map(lambda xs: "[" + ", ".join(xs) + "]")
    flow_map = st.lists(st.tuples(st.sampled_from(KEYS), inner), max_size=4).map(
        lambda kv: "{" + ", ".join(f"{k}: {v}" for k, v in kv) + "}"
    )
    return anchored | alias | flow_list | flow_map | st.tuples(st.sampled_from(["&a ", "!!map ", "!!seq ", "!t "]), flow_map).map("".join)


@st.composite
def _block(draw: st.DrawFn, indent: int = 0, depth: int = 3) -> str:
    pad = " " * indent
    lines: list[str] = []
    if draw(st.booleans()):
        for key in draw(st.lists(st.sampled_from(KEYS), min_size=1, max_size=5)):
            if depth > 0 and draw(st.booleans()):
                lines.append(f"{pad}{key}:\n{draw(_block(indent + 2, depth - 1))}")
            else:
                lines.append(f"{pad}{key}: {draw(_value(2))}\n")
    else:
        for _ in range(draw(st.integers(1, 4))):
            if depth > 0 and draw(st.booleans()):
                lines.append(f"{pad}-\n{draw(_block(indent + 2, depth - 1))}")
            else:
                lines.append(f"{pad}- {draw(_value(2))}\n")
    return "".join(lines)


def _deep(levels: int) -> str:
    return "a: " + "[" * levels + "x" + "]" * levels + "\n"


def _bomb(levels: int) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]")
    return "\n".join(lines) + "\n"


@st.composite
def documents(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["block", "block", "block", "flow", "deep", "bomb", "multi"]))
    if kind == "deep":
        text = _deep(draw(st.integers(MAX_DEPTH - 2, MAX_DEPTH + 2)))
    elif kind == "bomb":
        text = _bomb(draw(st.integers(3, 6)))
    elif kind == "flow":
        text = draw(_value(4)) + "\n"
    elif kind == "multi":
        parts = draw(st.lists(_block(), min_size=1, max_size=3))
        text = "".join(f"---\n{p}" for p in parts) + draw(st.sampled_from(["", "---\n", "...\n"]))
    else:
        text = draw(_block())
    if draw(st.integers(0, 4)) == 0 and text:  # damage one character: syntax errors, tabs
        at = draw(st.integers(0, len(text) - 1))
        text = text[:at] + draw(st.sampled_from(["", "\t", ":", "[", "]", "{", "'", "\x01", "\u2028", "- "])) + text[at + 1 :]
    return text


def outcome(parse: Any, text: str) -> Any:
    """What ``parse`` does with ``text``, in a form that compares (NaN as its repr)."""
    try:
        return ("ok", repr(parse(text, _yaml._line_starts(text))))
    except _yaml_py.YamlProblem as problem:
        return ("problem", problem.line, problem.column, problem.message, problem.hint)
    except Exception as exc:  # ruamel's YAMLError: libyaml's syntax errors, all fields
        fields = {k: (v.line, v.column, v.index) if hasattr(v, "line") else v for k, v in vars(exc).items()}
        return ("error", type(exc), str(exc), sorted(fields.items(), key=lambda kv: kv[0]))


needs_compiled = pytest.mark.skipif(
    _yaml_c is None and PURE_FORCED, reason="the compiled walker is not built in the pure-Python pass"
)


def test_compiled_walker_is_active_unless_pure_python_is_forced() -> None:
    if PURE_FORCED:
        assert not _yaml.COMPILED
        assert _yaml.IMPLEMENTATION == "python"
    else:
        assert _yaml_c is not None, "the compiled YAML walker is not installed: pip install . must build csrc/"
        assert _yaml.COMPILED, _yaml.LOAD_ERROR
        assert _yaml.IMPLEMENTATION == "cython"


@needs_compiled
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_compiled_and_twin_agree_on_random_yaml(text: str) -> None:
    assert _yaml_c is not None
    assert outcome(_yaml_c.parse, text) == outcome(_yaml_py.parse, text)


@needs_compiled
@pytest.mark.parametrize(
    "text",
    [
        _deep(MAX_DEPTH + 1),
        _bomb(9),
        "a: 1\na: 2\n",
        "a: {b: 1, b: 2}\n",
        "1: a\n",
        "base: &b {x: 1}\nthing:\n  <<: *b\n",
        "a: *nope\n",
        "? [a]\n: b\n",
        "a: !!binary aGk=\n",
        "a: !!int abc\n",
        "a: 0o_\n",
        "a: =\n",
        "x: \u2028\nb: [1, 2\n",
        "x: '\u2028'\na: 1\na: 2\n",
        "a: [1\n",
        "a:\n\t- b\n",
        "a: b\x01\n",
    ],
)
def test_compiled_and_twin_agree_on_every_refusal(text: str) -> None:
    assert _yaml_c is not None
    got = outcome(_yaml_c.parse, text)
    assert got[0] != "ok"
    assert got == outcome(_yaml_py.parse, text)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(TRICKY) | st.text(alphabet="0123456789+-._eExXoObB:tTfFnNuUlL~ yYsS=<", max_size=12))
def test_resolution_is_ruamels_yaml_1_2_resolution(value: str) -> None:
    # The walker's table-driven resolution is ruamel's VersionedResolver (YAML 1.2) for every value.
    ruamel = VersionedResolver(version=(1, 2))
    for plain in (True, False):
        expected = str(ruamel.resolve(ScalarNode, value, (plain, not plain)))
        assert _yaml_py.resolve(value, plain) == expected


@pytest.mark.parametrize(
    ("text", "tag"),
    [("a: 0o_\n", "!!int"), ("a: ._\n", "!!float"), ("a: !!int abc\n", "!!int"), ("a: !!float x\n", "!!float")],
)
def test_a_number_that_does_not_convert_is_a_located_problem(text: str, tag: str) -> None:
    # These crashed with a ValueError traceback before; now a diagnostic at the value.
    with pytest.raises(SpecError) as info:
        load_documents(text, PATH)
    (diagnostic,) = info.value.diagnostics
    assert (diagnostic.line, diagnostic.column) == (1, 4)
    value = re.search(r"a: (?:!!\w+ )?(.*)", text).group(1)  # type: ignore[union-attr]
    assert diagnostic.message == f"{tag} value {value!r} is not a number"
    assert "quote it" in diagnostic.hint


def test_the_value_resolver_tag_is_refused_not_a_crash() -> None:
    with pytest.raises(SpecError) as info:
        load_documents("a: =\n", PATH)
    (diagnostic,) = info.value.diagnostics
    assert diagnostic.message == "unsupported tag !!value"
    assert (diagnostic.line, diagnostic.column) == (1, 4)


def test_the_limits_are_shared_by_both_twins() -> None:
    assert (_yaml.MAX_NODES, _yaml.MAX_DEPTH) == (_yaml_py.MAX_NODES, _yaml_py.MAX_DEPTH) == (MAX_NODES, MAX_DEPTH)
    assert math.isinf(load_documents("a: .inf\n", PATH)[0].data["a"])
