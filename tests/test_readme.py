"""The README's command table is the command line's: every command has a row, every option of a
command appears in its rows and nowhere else, and the values listed for an option with choices
are its choices. Every command and option also explains itself in ``--help``."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from specops._cli import _parser

README = Path(__file__).resolve().parent.parent / "README.md"
_ROW = re.compile(r"^\| `(specops [^`]*)` \|")
_OPTION = re.compile(r"(--[a-z][a-z0-9-]*)(?:[ =]([A-Za-z0-9_.:/-]+(?:\\\|[A-Za-z0-9_.:/-]+)+))?")


def commands(parser: argparse.ArgumentParser, path: str = "specops") -> dict[str, argparse.ArgumentParser]:
    """Every runnable command (``specops policy test``, not ``specops policy``) and its parser."""
    out: dict[str, argparse.ArgumentParser] = {}
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs or any(not a.required for a in subs):  # runnable itself (`specops audit`), or a leaf
        out[path] = parser
    for action in subs:
        for name, sub in action.choices.items():
            out.update(commands(sub, f"{path} {name}"))
    return out


def readme_rows() -> list[str]:
    text = README.read_text(encoding="utf-8")
    table = text.split("## Commands", 1)[1].split("\n## ", 1)[0]
    return [m.group(1) for line in table.splitlines() if (m := _ROW.match(line))]


def _owner(row: str, names: list[str]) -> str | None:
    # The longest command name the row starts with: `specops slo status` before `specops slo`.
    fits = [n for n in names if row == n or row.startswith(n + " ")]
    return max(fits, key=len) if fits else None


def test_every_command_has_a_row_and_its_rows_list_exactly_its_options() -> None:
    tree = commands(_parser())
    rows: dict[str, list[str]] = {}
    for row in readme_rows():
        owner = _owner(row, list(tree))
        assert owner is not None, f"README row for a command that does not exist: {row}"
        rows.setdefault(owner, []).append(row)
    assert sorted(set(tree) - set(rows)) == [], "commands without a README row"
    problems: list[str] = []
    for name, parser in tree.items():
        listed: dict[str, set[str]] = {}
        for row in rows[name]:
            for option, values in _OPTION.findall(row):
                listed.setdefault(option, set()).update(values.split("\\|") if values else ())
        options = {
            o: a for a in parser._actions for o in a.option_strings if o.startswith("--") and o != "--help"
        }
        if extra := sorted(set(listed) - set(options)):
            problems.append(f"{name}: README lists options it does not have: {extra}")
        if missing := sorted(set(options) - set(listed)):
            problems.append(f"{name}: options missing from the README: {missing}")
        for option, values in listed.items():
            choices = options[option].choices if option in options else None
            if values and choices and values != {str(c) for c in choices}:
                problems.append(f"{name} {option}: README says {sorted(values)}, --help {list(choices)}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", sorted(commands(_parser())))
def test_help_describes_the_command_with_examples_and_every_option(name: str) -> None:
    parser = commands(_parser())[name]
    assert parser.description, f"{name}: no description"
    assert parser.epilog and "examples:" in parser.epilog, f"{name}: no examples in --help"
    assert isinstance(parser.formatter_class, type) and issubclass(
        parser.formatter_class, argparse.RawDescriptionHelpFormatter
    ), f"{name}: the examples must keep their lines"
    for action in parser._actions:
        if action.help is None or not str(action.help).strip():
            pytest.fail(f"{name}: {'/'.join(action.option_strings) or action.dest} has no help text")


def test_help_wraps_prose_to_the_terminal_and_keeps_examples_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    parser = commands(_parser())["specops plan"]
    text = parser.format_help()
    description, examples = text.split("\noptions:")[0], text.split("examples:\n", 1)[1]
    assert max(len(line) for line in description.splitlines()) <= 80
    assert str(parser.epilog).split("examples:\n", 1)[1].strip("\n") == examples.strip("\n"), "examples kept"
