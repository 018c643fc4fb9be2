"""``specops policy test``: registration and command (heavy imports stay inside the command)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, TextIO

from specops._help import HelpFormatter

__all__ = ["add_policy_parser", "cmd_policy_test"]


def add_policy_parser(subparsers: Any) -> argparse.ArgumentParser:
    policy = subparsers.add_parser(
        "policy",
        help="work with the Rego policies",
        description="Work with the Rego policies that judge every plan.",
        epilog="examples:\n  specops policy test\n  specops policy test builtin:specops --format junit > policy-tests.xml\n",
        formatter_class=HelpFormatter,
    )
    sub = policy.add_subparsers(dest="policy_command", metavar="COMMAND", required=True)
    test = sub.add_parser(
        "test",
        help="run the test_* rules of every *_test.rego file",
        description="Run every test_* rule of the *_test.rego files, with the same load checks as a plan "
        "(syntax, METADATA, forbidden builtins). A test passes when its rule is true; false, undefined "
        "and errors fail. Exit 1 on any failure, or when there are no tests.",
        epilog="""\
examples:
  specops policy test                          the paths in specops.yaml (policy.paths)
  specops policy test policies/                one directory
  specops policy test builtin:specops          the library SpecOps ships
  specops policy test --format junit > policy-tests.xml
""",
        formatter_class=HelpFormatter,
    )
    test.add_argument(
        "paths", nargs="*", metavar="DIR",
        help="policy directories or files, or builtin:specops for the library SpecOps ships "
        "(default: policy.paths in specops.yaml, else policies)",
    )  # fmt: skip
    test.add_argument(
        "--format", choices=("text", "json", "junit"), default="text",
        help="text (default), json, or junit XML for CI test reports",
    )  # fmt: skip
    test.set_defaults(func=cmd_policy_test)
    return policy  # type: ignore[no-any-return]


def cmd_policy_test(args: argparse.Namespace, out: TextIO) -> int:
    from specops.policy._config import load_config
    from specops.policy._library import is_builtin, policy_dirs
    from specops.policy._testing import render_junit, render_text, run_tests
    from specops.spec import find_root

    local = [p for p in args.paths if not is_builtin(p)]
    root = find_root(Path(local[0]) if local else Path.cwd())
    if args.paths:
        paths = policy_dirs(args.paths, Path.cwd())
    else:
        paths = policy_dirs(load_config(root)[0].paths, root)
    run = run_tests(paths, root=root)
    if args.format == "json":
        out.write(json.dumps(run.to_json(), indent=2) + "\n")
    elif args.format == "junit":
        out.write(render_junit(run))
    else:
        out.write(render_text(run))
    if not run.cases:
        import sys

        sys.stderr.write("error: no test_* rules found in *_test.rego files\n")
        return 1
    return 1 if run.failed else 0
