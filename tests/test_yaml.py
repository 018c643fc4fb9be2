"""The YAML adapter: positions, documents, and every kind of input that cannot be a spec."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from specops import Diagnostic, SpecError, load_estate
from specops._yaml import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_NODES,
    YamlDocument,
    decode_spec_bytes,
    dump_roundtrip,
    format_path,
    load_documents,
    load_roundtrip,
)

PATH = "specs/example.yaml"

TARGET = (
    "apiVersion: specops.dev/v1\n"
    "kind: Target\n"
    "metadata:\n"
    "  name: local\n"
    "spec:\n"
    "  url: http://127.0.0.1:8480\n"
    "  environment: development\n"
)


def load(text: str) -> list[YamlDocument]:
    return load_documents(text, PATH)


def load_one(text: str) -> YamlDocument:
    documents = load(text)
    assert len(documents) == 1
    return documents[0]


def problem(text: str) -> Diagnostic:
    """The one diagnostic loading ``text`` fails with."""
    with pytest.raises(SpecError) as info:
        load(text)
    assert len(info.value.diagnostics) == 1, [d.format() for d in info.value.diagnostics]
    diagnostic = info.value.diagnostics[0]
    assert diagnostic.path == PATH
    assert diagnostic.severity == "error"
    return diagnostic


def decode_problem(raw: bytes) -> Diagnostic:
    with pytest.raises(SpecError) as info:
        decode_spec_bytes(raw, PATH)
    (diagnostic,) = info.value.diagnostics
    assert diagnostic.path == PATH
    return diagnostic


def nested_flow(depth: int) -> str:
    """``a: [[...]]`` whose innermost list sits ``depth`` levels below the document."""
    return "a: " + "[" * depth + "]" * depth + "\n"


# -- positions ---------------------------------------------------------------


NESTED = (
    "a: 1\n"  # line 1
    "b:\n"  # line 2
    "  c: [x, y]\n"  # line 3
    "  d: {e: f}\n"  # line 4
    "g:\n"  # line 5
    "  - h: 1\n"  # line 6
    "    i: 2\n"  # line 7
)


def test_values_have_one_based_line_and_column() -> None:
    doc = load_one(NESTED)
    assert doc.data == {"a": 1, "b": {"c": ["x", "y"], "d": {"e": "f"}}, "g": [{"h": 1, "i": 2}]}
    assert doc.values[()] == (1, 1)
    assert doc.values[("a",)] == (1, 4)
    assert doc.values[("b", "c")] == (3, 6)
    assert doc.values[("b", "c", 0)] == (3, 7)
    assert doc.values[("b", "c", 1)] == (3, 10)
    assert doc.values[("b", "d", "e")] == (4, 10)
    assert doc.values[("g", 0)] == (6, 5)
    assert doc.values[("g", 0, "i")] == (7, 8)


def test_keys_have_one_based_line_and_column() -> None:
    doc = load_one(NESTED)
    assert doc.keys[("a",)] == (1, 1)
    assert doc.keys[("b",)] == (2, 1)
    assert doc.keys[("b", "c")] == (3, 3)
    assert doc.keys[("b", "d", "e")] == (4, 7)
    assert doc.keys[("g", 0, "h")] == (6, 5)
    assert doc.keys[("g", 0, "i")] == (7, 5)
    # List items have no key.
    assert ("g", 0) not in doc.keys


def test_position_of_a_known_path_is_its_own() -> None:
    doc = load_one(NESTED)
    assert doc.position(("b", "d", "e")) == (4, 10)
    assert doc.position(("b", "d", "e"), key=True) == (4, 7)


def test_position_falls_back_to_the_nearest_ancestor() -> None:
    doc = load_one(NESTED)
    # A field that is not in the file (a missing one) is located at its parent.
    assert doc.position(("b", "d", "missing")) == (4, 6)
    assert doc.position(("b", "d", "missing", 3, "deeper")) == (4, 6)
    assert doc.position(("nowhere", "at", "all")) == (1, 1)
    # Keys fall back to the parent's key, and list items to their value.
    assert doc.position(("b", "d", "missing"), key=True) == (4, 3)
    assert doc.position(("g", 0), key=True) == (6, 5)
    assert doc.position((), key=True) == (1, 1)


def test_document_position_is_where_its_content_starts() -> None:
    doc = load_one("# a comment\n\n  # another\nkind: Target\n")
    assert (doc.line, doc.column) == (4, 1)
    assert doc.position(()) == (4, 1)


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ((), ""),
        (("spec",), "spec"),
        (("spec", "inputs", 0, "name"), "spec.inputs[0].name"),
        (("spec", "checks", 2), "spec.checks[2]"),
        ((0, 1), "[0][1]"),
    ],
)
def test_format_path(path: tuple[str | int, ...], shown: str) -> None:
    assert format_path(path) == shown


# -- documents ---------------------------------------------------------------


def test_every_document_of_a_file_is_loaded_with_file_line_numbers() -> None:
    text = "a: 1\n---\nb: 2\n---\n# third\nc:\n  d: 3\n"
    first, second, third = load(text)
    assert [d.data for d in (first, second, third)] == [{"a": 1}, {"b": 2}, {"c": {"d": 3}}]
    assert [d.index for d in (first, second, third)] == [0, 1, 2]
    assert (second.line, second.column) == (3, 1)
    assert third.line == 6
    assert third.values[("c", "d")] == (7, 6)


def test_empty_documents_are_skipped_but_keep_their_index() -> None:
    text = "---\na: 1\n---\n---\n~\n---\n# nothing\n---\nb: 2\n...\n"
    first, second = load(text)
    assert first.data == {"a": 1}
    assert second.data == {"b": 2}
    assert first.index == 0
    # Documents 1 (empty), 2 (~) and 3 (a comment) are skipped, but counted.
    assert second.index == 4
    assert second.line == 9


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n", "---\n...\n", "~\n"])
def test_files_without_content_have_no_documents(text: str) -> None:
    assert load(text) == []


def test_top_level_list_and_scalar_documents_load_as_data() -> None:
    # Whether a document is a mapping is the spec layer's business.
    assert load_one("- a\n- b\n").data == ["a", "b"]
    assert load_one("just text\n").data == "just text"


# -- duplicate keys ------------------------------------------------------------


def test_duplicate_key_names_the_first_line() -> None:
    diagnostic = problem("a: 1\nb:\n  c: 2\na: 3\n")
    assert (diagnostic.line, diagnostic.column) == (4, 1)
    assert diagnostic.message == "duplicate key 'a' (first defined at line 1)"
    assert "remove one" in diagnostic.hint
    assert diagnostic.code == "yaml"


def test_duplicate_key_in_a_nested_flow_mapping() -> None:
    diagnostic = problem("spec:\n  labels: {team: risk, tier: prod, team: ml}\n")
    assert (diagnostic.line, diagnostic.column) == (2, 36)
    assert "duplicate key 'team' (first defined at line 2)" in diagnostic.message


def test_same_key_in_different_mappings_is_fine() -> None:
    assert load_one("a: {x: 1}\nb: {x: 2}\n").data == {"a": {"x": 1}, "b": {"x": 2}}


def test_a_key_may_repeat_across_documents() -> None:
    assert [d.data for d in load("a: 1\n---\na: 2\n")] == [{"a": 1}, {"a": 2}]


# -- tabs ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a:\n\tb: 1\n", 2),
        ("spec:\n  url: x\n\tenvironment: development\n", 3),
        ("a: 1\n\tb: 1\n", 2),
    ],
)
def test_tab_indentation_is_explained(text: str, line: int) -> None:
    diagnostic = problem(text)
    assert (diagnostic.line, diagnostic.column) == (line, 1)
    assert "tab" in diagnostic.message
    assert "use spaces" in diagnostic.hint


def test_tabs_inside_values_are_fine() -> None:
    assert load_one("a: 'tab\there'\nb:\tc\n").data == {"a": "tab\there", "b": "c"}


# -- encoding and size -----------------------------------------------------------


def test_non_utf8_byte_is_located() -> None:
    diagnostic = decode_problem(b"apiVersion: specops.dev/v1\nowner: Ren\xe9 M\n")
    assert (diagnostic.line, diagnostic.column) == (2, 11)
    assert "not valid UTF-8" in diagnostic.message
    assert "0xe9" in diagnostic.message
    assert "UTF-8" in diagnostic.hint
    assert diagnostic.code == "encoding"


def test_non_utf8_first_byte() -> None:
    diagnostic = decode_problem(b"\xff\xfea: 1\n")
    assert (diagnostic.line, diagnostic.column) == (1, 1)
    assert "0xff" in diagnostic.message


def test_truncated_multibyte_sequence_is_located() -> None:
    diagnostic = decode_problem(b"a: 1\nb: 2\nc: caf\xc3")
    assert (diagnostic.line, diagnostic.column) == (3, 7)


def test_utf8_is_decoded() -> None:
    assert decode_spec_bytes("owner: René\n".encode(), PATH) == "owner: René\n"


def test_bom_is_accepted_and_stripped() -> None:
    text = decode_spec_bytes(b"\xef\xbb\xbfa: 1\n", PATH)
    assert text == "a: 1\n"
    doc = load_one(text)
    assert doc.values[("a",)] == (1, 4)


def test_bom_file_validates_with_the_right_positions(
    repo: Path, write: Callable[[str, str | bytes], Path]
) -> None:
    write("specs/target.yaml", b"\xef\xbb\xbf" + TARGET.encode())
    estate = load_estate([repo / "specs"])
    assert [s.id for s in estate] == ["Target/local"]
    assert estate.get("Target", "local") is not None
    assert next(iter(estate)).line == 1

    write("specs/target.yaml", b"\xef\xbb\xbf" + TARGET.replace("local", "Local").encode())
    with pytest.raises(SpecError) as info:
        load_estate([repo / "specs"])
    (diagnostic,) = info.value.diagnostics
    assert (diagnostic.line, diagnostic.column) == (4, 9)


def test_file_at_the_size_limit_is_decoded() -> None:
    raw = b"#" * (MAX_FILE_BYTES - 1) + b"\n"
    assert len(decode_spec_bytes(raw, PATH)) == MAX_FILE_BYTES


def test_file_over_the_size_limit_is_rejected_before_decoding() -> None:
    # Not even valid UTF-8: the size is checked first.
    diagnostic = decode_problem(b"\xff" * (5 * 1024 * 1024))
    assert diagnostic.code == "too_large"
    assert (diagnostic.line, diagnostic.column) == (1, 1)
    assert "5.0 MiB" in diagnostic.message
    assert "limited to 4 MiB" in diagnostic.message
    assert "uri" in diagnostic.hint
    assert "sha256" in diagnostic.hint


def test_too_large_file_on_disk_is_one_clear_error(
    repo: Path, write: Callable[[str, str | bytes], Path]
) -> None:
    write("specs/huge.yaml", TARGET + "# padding\n" * (MAX_FILE_BYTES // 10 + 1))
    with pytest.raises(SpecError) as info:
        load_estate([repo / "specs"])
    (diagnostic,) = info.value.diagnostics
    assert diagnostic.path == "specs/huge.yaml"
    assert diagnostic.code == "too_large"
    assert "spec files are limited to 4 MiB" in diagnostic.message


# -- bounded expansion ---------------------------------------------------------


def alias_bomb(levels: int) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_stopped() -> None:
    # Nine levels would expand to 10**10 values; the walker stops at MAX_NODES.
    diagnostic = problem(alias_bomb(9))
    assert diagnostic.message == f"document expands to more than {MAX_NODES} values"
    assert "alias" in diagnostic.hint
    assert diagnostic.line > 0
    assert diagnostic.column > 0


def test_aliases_within_the_limit_are_expanded() -> None:
    doc = load_one("a: &x [1, 2]\nb: *x\nc: &y {k: v}\nd: *y\n")
    assert doc.data == {"a": [1, 2], "b": [1, 2], "c": {"k": "v"}, "d": {"k": "v"}}
    doc = load_one(alias_bomb(3))  # 10**4 values: fine
    assert len(doc.data["a3"]) == 10


def test_undefined_alias_is_explained() -> None:
    diagnostic = problem("labels: *common\n")
    assert (diagnostic.line, diagnostic.column) == (1, 9)
    assert "undefined alias" in diagnostic.message
    assert "anchor" in diagnostic.hint


def test_nesting_up_to_the_limit_loads() -> None:
    doc = load_one(nested_flow(MAX_DEPTH))
    depth, value = 0, doc.data["a"]
    while value:
        value = value[0]
        depth += 1
    assert depth == MAX_DEPTH - 1


def test_nesting_beyond_the_limit_is_rejected_at_the_offending_value() -> None:
    diagnostic = problem(nested_flow(MAX_DEPTH + 1))
    assert diagnostic.message == f"document is nested deeper than {MAX_DEPTH} levels"
    # The innermost list: after "a: " and MAX_DEPTH opening brackets.
    assert (diagnostic.line, diagnostic.column) == (1, 4 + MAX_DEPTH)


def test_deep_block_nesting_is_rejected() -> None:
    text = (
        "".join("  " * i + f"k{i}:\n" for i in range(MAX_DEPTH + 2))
        + "  " * (MAX_DEPTH + 2)
        + "v\n"
    )
    diagnostic = problem(text)
    assert "nested deeper" in diagnostic.message
    # k{i}'s value starts on line i + 2 at depth i + 1; depth MAX_DEPTH + 1 is too deep.
    assert diagnostic.line == MAX_DEPTH + 2


def test_pathologically_deep_nesting_is_an_error_not_a_crash(tmp_path: Path) -> None:
    # 60 KB of brackets: far below the size limit. The process must report a
    # located error and exit 1, not die in the parser (a segfault is rc -11).
    path = tmp_path / "deep.yaml"
    path.write_text(
        TARGET.replace(
            "spec:", "  annotations:\n    deep: " + "[" * 30_000 + "]" * 30_000 + "\nspec:", 1
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "specops", "validate", str(path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "SPECOPS_LOG_DIR": str(tmp_path / "log")},
        timeout=60,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-2000:]
    assert "Traceback" not in output
    assert "nested" in output


# -- what plain YAML may not hold ------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tag"),
    [
        ("a: !!binary aGVsbG8=\n", "!!binary"),
        ("a: !custom value\n", "!custom"),
        ("a: !!python/object:os.system ls\n", "!!python/object:os.system"),
        ("a: !!python/name:os.system\n", "!!python/name:os.system"),
        ("a: !!set {x, y}\n", "!!set"),
        ("a: !!omap [b: 1]\n", "!!omap"),
        ("a: !thing {b: 1}\n", "!thing"),
        ("a: !thing [1]\n", "!thing"),
    ],
)
def test_unsupported_tags_are_rejected_at_the_value(text: str, tag: str) -> None:
    # The tag is shown as it is written in the file.
    diagnostic = problem(text)
    assert diagnostic.message == f"unsupported tag {tag}"
    assert (diagnostic.line, diagnostic.column) == (1, 4)
    assert "remove the tag" in diagnostic.hint


def test_standard_scalar_tags_are_plain_values() -> None:
    assert load_one("a: !!str 1\nb: !!int '3'\nc: !!float 1\n").data == {"a": "1", "b": 3, "c": 1.0}


@pytest.mark.parametrize(
    ("text", "shown", "column"),
    [
        ("1: a\n", "1", 1),
        ("x: 1\ntrue: a\n", "true", 1),
        ("labels:\n  2026: q4\n", "2026", 3),
        ("~: a\n", "~", 1),
        ("1.5: a\n", "1.5", 1),
    ],
)
def test_non_string_keys_are_rejected_with_a_quoting_hint(
    text: str, shown: str, column: int
) -> None:
    diagnostic = problem(text)
    assert diagnostic.message == f"mapping key {shown!r} is not a string"
    assert diagnostic.hint == f'quote it: "{shown}"'
    assert diagnostic.line == text.count("\n")
    assert diagnostic.column == column


def test_quoted_keys_are_strings() -> None:
    assert load_one("'1': a\n\"true\": b\n").data == {"1": "a", "true": "b"}


def test_collection_keys_are_rejected() -> None:
    diagnostic = problem("? [a, b]\n: c\n")
    assert diagnostic.message == "mapping keys must be plain strings"
    assert diagnostic.line == 1


def test_merge_keys_are_rejected_at_the_merge_key() -> None:
    diagnostic = problem("base: &b {x: 1}\nthing:\n  y: 2\n  <<: *b\n")
    assert (diagnostic.line, diagnostic.column) == (4, 3)
    assert "merge keys (<<) are not supported" in diagnostic.message
    assert "write the fields out" in diagnostic.hint


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\x7f"])
def test_raw_control_characters_are_rejected_where_they_are(char: str) -> None:
    diagnostic = problem(f"a: 1\nowner: risk{char}ml\n")
    assert (diagnostic.line, diagnostic.column) == (2, 12)
    assert "control characters are not allowed" in diagnostic.message
    assert diagnostic.message.startswith("invalid YAML: ")


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85"])
def test_unicode_line_separators_in_a_value_do_not_shift_line_numbers(separator: str) -> None:
    # Editors and git count only \n as a line break; so must diagnostics.
    text = f'description: "first{separator}second"\nb: 1\nb: 2\n'
    diagnostic = problem(text)
    assert diagnostic.line == 3
    assert diagnostic.message == "duplicate key 'b' (first defined at line 2)"


# -- syntax errors ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("a: [1, 2\n", 2, "did not find expected ',' or ']'"),
        ("a: {b: 1\nc: 2\n", 2, "did not find expected ',' or '}'"),
        ("key: value\n  bad: indent\n", 2, "mapping values are not allowed"),
        ("a: 'unterminated\n", 2, "quoted scalar"),
        ("a: b\n- c\n", 2, "did not find expected key"),
    ],
)
def test_syntax_errors_are_located(text: str, line: int, fragment: str) -> None:
    diagnostic = problem(text)
    assert diagnostic.message.startswith("invalid YAML: ")
    assert fragment in diagnostic.message
    assert diagnostic.line == line
    assert diagnostic.column >= 1
    assert diagnostic.code == "yaml"


def test_colon_in_a_plain_value_gets_a_quoting_hint() -> None:
    diagnostic = problem("description: note: this breaks\n")
    assert (diagnostic.line, diagnostic.column) == (1, 18)
    assert "must be quoted" in diagnostic.hint


# -- YAML 1.2 typing -------------------------------------------------------------


def test_yaml_1_2_implicit_types() -> None:
    doc = load_one(
        "yes_: yes\nno_: no\non_: on\noff_: Off\ny_: y\n"
        "t: true\nf: False\n"
        "float_: 1.0\nexp: 1e3\nhalf: .5\n"
        "hex: 0x1F\noctal: 0o17\nleading_zero: 012\nsigned: +1\n"
        "inf: .inf\nninf: -.Inf\nnan: .nan\n"
        "tilde: ~\nnull_: null\nempty:\n"
        "date: 2026-10-01\nversion: 2026-10\nsemver: 1.0.0\nquoted: '1.0'\n"
    )
    data = doc.data
    for key, text in (("yes_", "yes"), ("no_", "no"), ("on_", "on"), ("off_", "Off"), ("y_", "y")):
        assert data[key] == text
    assert data["t"] is True
    assert data["f"] is False
    assert data["float_"] == 1.0
    assert isinstance(data["float_"], float)
    assert data["exp"] == 1000.0
    assert isinstance(data["exp"], float)
    assert data["half"] == 0.5
    assert data["hex"] == 31
    assert data["octal"] == 15
    assert data["leading_zero"] == 12  # YAML 1.2: decimal, not octal
    assert data["signed"] == 1
    for key in ("hex", "octal", "leading_zero", "signed"):
        assert type(data[key]) is int
    assert data["inf"] == math.inf
    assert data["ninf"] == -math.inf
    assert math.isnan(data["nan"])
    assert data["tilde"] is None
    assert data["null_"] is None
    assert data["empty"] is None
    # Timestamps stay text (the schema decides); versions are strings.
    assert data["date"] == "2026-10-01"
    assert data["version"] == "2026-10"
    assert data["semver"] == "1.0.0"
    assert data["quoted"] == "1.0"


# -- round trip --------------------------------------------------------------------


ROUND_TRIP = """\
# yaml-language-server: $schema=../../schemas/target.json
apiVersion: specops.dev/v1  # the only version
kind: Target
metadata:
  name: local-cpu   # renamed below
  labels: {env: dev, team: risk}
spec:
  # where it runs
  url: http://127.0.0.1:8480
  environment: development
  answer: yes
"""


def test_round_trip_keeps_comments_order_and_style() -> None:
    data = load_roundtrip(ROUND_TRIP)
    data["metadata"]["name"] = "gpu-box"
    out = dump_roundtrip(data)
    for comment in (
        "# yaml-language-server: $schema=../../schemas/target.json",
        "# the only version",
        "# renamed below",
        "# where it runs",
    ):
        assert comment in out
    assert "name: gpu-box" in out
    assert "local-cpu" not in out
    assert "labels: {env: dev, team: risk}" in out  # flow style kept
    keys = [line.split(":")[0] for line in out.splitlines() if line and line[0].isalpha()]
    assert keys == ["apiVersion", "kind", "metadata", "spec"]
    # The edited text still reads as the same data, with YAML 1.2 typing.
    reloaded = load_one(out).data
    assert reloaded["spec"]["answer"] == "yes"
    assert reloaded["metadata"]["labels"] == {"env": "dev", "team": "risk"}
    assert reloaded["metadata"]["name"] == "gpu-box"


def test_unchanged_round_trip_is_the_same_data() -> None:
    assert load_one(dump_roundtrip(load_roundtrip(ROUND_TRIP))).data == load_one(ROUND_TRIP).data
