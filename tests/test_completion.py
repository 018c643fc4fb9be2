"""``specops completion bash|zsh``: the generated script completes subcommands, options, choices and
file names in a real bash, and in a real zsh through bashcompinit.

The harness sets what the shell sets before calling a completion function
(``COMP_WORDS``, ``COMP_CWORD``) and prints ``COMPREPLY``. zsh filters the
candidates by the typed prefix itself (compadd), so under zsh the test
compares candidate sets before that filter. zsh is installed by `nox -s tests`
with apt-get where it is missing (like promtool and Alertmanager); no half of
this test is skipped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from specops._cli import _parser, main
from specops._completion import bash_script, zsh_script

# Both always: `nox -s tests` installs zsh (Debian's package) where it is missing.
SHELLS = ["bash", "zsh"]

HARNESS = """
t() {{ COMP_WORDS=("$@"); COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 )); COMPREPLY=(); {function}; echo "${{COMPREPLY[*]}}"; }}
"""


def complete(shell: str, *words: str, cwd: Path | None = None) -> list[str]:
    script = bash_script(_parser()) if shell == "bash" else zsh_script(_parser())
    setup = "autoload -U compinit && compinit -u\n" if shell == "zsh" else ""
    line = " ".join("''" if w == "" else w for w in words)
    result = subprocess.run(
        [shell, "-c", setup + script + HARNESS.format(function="_specops") + f"t {line}\n"],
        capture_output=True, text=True, check=False, cwd=cwd,
        env={**os.environ, "HOME": str(cwd or Path.cwd())},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_both_shells_are_here() -> None:
    missing = [shell for shell in SHELLS if shutil.which(shell) is None]
    assert not missing, f"{missing} not installed: `nox -s tests` installs zsh with apt-get"


@pytest.mark.parametrize("shell", SHELLS)
def test_completion_follows_the_command_tree(shell: str, tmp_path: Path) -> None:
    def sees(words: list[str], expected: set[str], prefix: str = "") -> None:
        got = set(complete(shell, *words, cwd=tmp_path))
        if shell == "zsh":  # zsh filters by prefix after the function
            got = {w for w in got if w.startswith(prefix)}
        assert got == expected, (words, got)

    commands = {"validate", "schema", "doctor", "plan", "policy", "serve", "apply", "status", "demo", "init",
                "completion"}  # fmt: skip
    got = set(complete(shell, "specops", "", cwd=tmp_path))
    assert commands <= got and "--version" in got
    sees(["specops", "pl"], {"plan"}, "pl")
    sees(["specops", "plan", "--format", ""], {"text", "json", "markdown", "sarif", "github"})
    sees(["specops", "policy", "test", "--format", "j"], {"json", "junit"}, "j")
    sees(["specops", "policy", ""], {"test", "-h", "--help"})
    sees(["specops", "completion", ""], {"bash", "zsh", "-h", "--help"})
    # An option's value is skipped when finding the subcommand: "policy" here is a git ref.
    after_ref = set(complete(shell, "specops", "plan", "--ref", "policy", "--", cwd=tmp_path))
    assert "--format" in after_ref and "test" not in after_ref
    # Paths complete file names.
    (tmp_path / "plan-a.json").write_text("{}")
    sees(["specops", "apply", "plan-"], {"plan-a.json"}, "plan-")
    sees(["specops", "plan", "--live", "pla"], {"plan-a.json"}, "pla")


def test_every_option_of_every_command_is_in_the_script() -> None:
    import argparse

    script = bash_script(_parser())

    def walk(parser: argparse.ArgumentParser) -> int:
        seen = 0
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    seen += walk(sub)
            for option in action.option_strings:
                assert f" {option}" in script, (parser.prog, option)
                seen += 1
        return seen

    assert walk(_parser()) > 50


def test_completion_command_prints_the_script(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", "zsh"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("#compdef specops\n") and "bashcompinit" in out and "complete -o bashdefault" in out
