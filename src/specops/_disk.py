"""Spec files on disk: the walk ``validate`` and the work tree use, without git.

Links and nested repositories are reported, never followed (a tree could not
hold them the same way). Kept apart from ``_git`` so that validating files
on disk loads no pygit2; ``_git`` re-exports these names.
"""

from __future__ import annotations

import os
from pathlib import Path

from specops._errors import Diagnostic

__all__ = ["SPEC_SUFFIXES", "walk_spec_files"]

SPEC_SUFFIXES = (".yaml", ".yml")


def _is_spec(name: str) -> bool:
    return name.endswith(SPEC_SUFFIXES)


def _reported_link(name: str) -> bool:
    """A link or submodule is reported unless hidden (and not named like a spec file)."""
    return not name.startswith(".") or _is_spec(name)


def _symlink_problem(path: str, target: str, leaves: bool) -> Diagnostic:
    if leaves:
        return Diagnostic(
            path, 1, 1,
            f"symlink to {target!r} leaves the repository; specs are read only from inside it",
            hint="commit what it points to inside the repository instead of linking to it",
            code="symlink_outside",
        )
    return Diagnostic(
        path, 1, 1,
        f"symlink to {target!r}: spec files must be regular files, not links",
        hint="git stores a link as its target path, so a plan at a ref could not read it; "
        "replace the link with the file itself",
        code="symlink",
    )


def _submodule_problem(path: str) -> Diagnostic:
    return Diagnostic(
        path, 1, 1,
        "a git submodule under the specs root: its specs belong to another repository",
        hint="commit the specs in this repository, or run SpecOps in the submodule's own "
        "repository",
        code="submodule",
    )


def _relative(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` when inside it (stable across machines), else as given."""
    absolute = Path(os.path.abspath(path))
    for base in (Path(os.path.abspath(root)), root.resolve()):
        if absolute.is_relative_to(base):
            return absolute.relative_to(base).as_posix()
    return path.as_posix()


def _disk_link_problem(path: Path, root: Path) -> Diagnostic:
    try:
        target = os.readlink(path)
    except OSError:  # pragma: no cover - removed between the listing and now
        target = "?"
    leaves = not path.resolve().is_relative_to(root.resolve())
    return _symlink_problem(_relative(path, root), target, leaves)


def walk_spec_files(base: Path, root: Path) -> tuple[list[Path], list[Diagnostic]]:
    """Spec files under ``base`` on disk, and what refuses to be read as one.

    ``root`` is the repository's root. Hidden directories are skipped, as in
    a tree; a symlink (to a file or a directory, whatever its name) and a
    nested repository (a submodule's work tree) are reported, never followed.
    """
    if base.is_symlink():
        return [], [_disk_link_problem(base, root)]
    if base.is_file():
        return [base], []
    found: list[Path] = []
    problems: list[Diagnostic] = []
    for dirpath, dirnames, filenames in os.walk(base):
        keep = []
        for name in sorted(dirnames):
            full = Path(dirpath, name)
            if name.startswith("."):
                continue
            if full.is_symlink():  # os.walk lists a link to a directory and does not enter it
                problems.append(_disk_link_problem(full, root))
            elif (full / ".git").exists():
                problems.append(_submodule_problem(_relative(full, root)))
            else:
                keep.append(name)
        dirnames[:] = keep
        for name in sorted(filenames):
            full = Path(dirpath, name)
            if full.is_symlink():
                # Whatever its name: a tree cannot tell a link to a directory from one to a file.
                if _reported_link(name):
                    problems.append(_disk_link_problem(full, root))
            elif _is_spec(name):
                found.append(full)
    return found, sorted(problems, key=Diagnostic.sort_key)
