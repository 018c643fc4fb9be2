"""``specops init``: registration and command."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, TextIO

from specops._help import HelpFormatter
from specops._version import __version__

__all__ = ["add_init_parser", "cmd_init"]

EPILOG = """\
examples:
  specops init                     scaffold the current directory
  specops init fraud-models        scaffold a new directory
  specops init --requirement 'git+https://github.com/OWNER/specops@v0.1.0'
                                   workflows install SpecOps from git instead of PyPI

then:
  git init && git add -A && git commit -m 'SpecOps project'
  specops validate && specops policy test
  specops serve --state-dir .serve --token-env SPECOPS_LOCAL_TOKEN   # in another shell
  specops plan
"""


def add_init_parser(subparsers: Any) -> argparse.ArgumentParser:
    default = f"specops=={__version__}"  # _workflows.default_requirement(), without importing it here
    init = subparsers.add_parser(
        "init",
        help="scaffold a repository: specops.yaml, policies, example specs, workflows",
        description="Scaffold a SpecOps repository: specops.yaml (the built-in policy library plus "
        "policies/ for your own rules), waivers.yaml, one commented example of each kind under "
        "specs/ with their JSON Schemas, and the GitHub plan and apply workflows. Existing files "
        "are kept unless --force.",
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    init.add_argument("directory", nargs="?", default=".", metavar="DIR", help="where to write (default: .)")
    init.add_argument(
        "--requirement", metavar="SPEC", default=default,
        help="what the workflows pip-install: a requirement, a wheel path or a git+ url "
        f"(default: {default})",
    )  # fmt: skip
    init.add_argument("--force", action="store_true", help="overwrite files that already exist")
    init.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    init.set_defaults(func=cmd_init)
    return init  # type: ignore[no-any-return]


def cmd_init(args: argparse.Namespace, out: TextIO) -> int:
    from specops.init._scaffold import init_project

    result = init_project(Path(args.directory), args.requirement, force=args.force)
    if args.format == "json":
        out.write(json.dumps(result.to_json(), indent=2) + "\n")
        return 0
    for path in result.written:
        out.write(f"  wrote {path}\n")
    for path in result.kept:
        out.write(f"  kept  {path} (exists; --force overwrites)\n")
    out.write(
        f"Initialised a SpecOps project in {args.directory}: {len(result.written)} file(s) written, "
        f"{len(result.kept)} kept. Next: git init && git add -A && git commit, then specops validate.\n"
    )
    return 0
