"""The plan and apply workflows ``specops init`` writes, derived from SpecOps' own.

SpecOps' repository runs ``.github/workflows/specops-plan.yml`` and
``specops-apply.yml`` on itself (and ``tests/test_workflows.py`` runs their
steps), so they are the templates: the wheel carries them, and a new
repository gets them with two changes. The install step installs a pinned
requirement instead of the source tree (``pip install .`` only works inside
SpecOps' repository), and comment lines that only make sense there
(``# SpecOps' own repository: ...``) are dropped.
"""

from __future__ import annotations

import shlex

from specops._bundled import bundled_dir
from specops._errors import SpecOpsError
from specops._version import __version__

__all__ = ["WORKFLOWS", "default_requirement", "derive_workflow", "workflow_files"]

WORKFLOWS = ("specops-plan.yml", "specops-apply.yml")
SOURCE_INSTALL = "run: python -m pip install ."
SOURCE_ONLY = "# SpecOps' own repository:"


def default_requirement() -> str:
    return f"specops=={__version__}"


def check_requirement(requirement: str) -> str:
    """A pip argument: ``specops==X``, a wheel path, a ``git+`` url, ``specops @ URL``."""
    text = requirement.strip()
    if not text or "\n" in text or "\r" in text or text.startswith("-"):
        raise SpecOpsError(
            f"--requirement {requirement!r} is not a requirement pip installs "
            "(e.g. specops==0.1.0, ./wheels/specops-0.1.0-cp311-cp311-linux_x86_64.whl, "
            "git+https://github.com/OWNER/specops@v0.1.0)"
        )
    return text


def derive_workflow(text: str, requirement: str) -> str:
    """SpecOps' own workflow ``text``, made to install ``requirement``."""
    install = f"run: python -m pip install {shlex.quote(check_requirement(requirement))}"
    lines: list[str] = []
    replaced = 0
    for line in text.splitlines(keepends=True):
        if line.lstrip().startswith(SOURCE_ONLY):
            continue
        if line.strip() == SOURCE_INSTALL:
            line = line.replace(SOURCE_INSTALL, install)
            replaced += 1
        lines.append(line)
    if replaced != 1:
        # The template changed shape; writing a workflow that installs nothing would be worse.
        raise SpecOpsError(f"workflow template has {replaced} `{SOURCE_INSTALL}` lines, expected 1 (a SpecOps bug)")
    return "".join(lines)


def workflow_files(requirement: str) -> dict[str, str]:
    """``.github/workflows/<name>`` -> the derived workflow."""
    directory = bundled_dir("workflows")
    return {
        f".github/workflows/{name}": derive_workflow((directory / name).read_text(encoding="utf-8"), requirement)
        for name in WORKFLOWS
    }
