"""``specops slo rules``: the parser only (argparse); the rules and numpy load when the command runs."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

__all__ = ["add_slo_rules_parser", "slo_commands"]


def slo_commands(subparsers: Any) -> Any:
    """The sub-parsers of ``specops slo``, created by whichever registrar comes first."""
    slo = subparsers.choices.get("slo")
    if slo is None:
        slo = subparsers.add_parser("slo", help="service-level objectives: status, Prometheus rules")
        slo.add_subparsers(dest="slo_command", metavar="COMMAND", required=True)
    return next(a for a in slo._actions if isinstance(a, argparse._SubParsersAction))


def _rules(args: argparse.Namespace, out: TextIO) -> int:
    from specops.watch._rules import cmd_slo_rules

    return cmd_slo_rules(args, out)


def add_slo_rules_parser(subparsers: Any) -> None:
    """Register ``slo rules`` on the ``specops`` sub-parsers."""
    rules = slo_commands(subparsers).add_parser(
        "rules", help="write Prometheus recording and alerting rules for every SLO"
    )
    rules.add_argument("--out", metavar="DIR", help="write one <slo>.rules.yml per SLO here (default: print)")
    rules.add_argument("--repo", default=".", help="a path inside the git repository (default: .)")
    rules.add_argument("--ref", default="HEAD", help="git ref to read specs from (default: HEAD)")
    rules.add_argument("--worktree", action="store_true", help="read the uncommitted work tree instead of --ref")
    rules.add_argument("--specs-root", default="specs", help="directory of specs in the repository (default: specs)")
    rules.set_defaults(func=_rules)
