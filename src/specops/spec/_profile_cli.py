"""``specops dataset profile``: the parser only (argparse); numpy and the profiler load when it runs."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from specops.spec._bins import DEFAULT_BINS, MAX_BINS

__all__ = ["add_dataset_parser"]


def _profile(args: argparse.Namespace, out: TextIO) -> int:
    from specops.spec._profile import cmd_profile

    return cmd_profile(args, out)


def add_dataset_parser(sub: Any) -> None:
    dataset = sub.add_parser("dataset", help="work with Dataset specs")
    commands = dataset.add_subparsers(dest="dataset_command", metavar="COMMAND", required=True)
    profile = commands.add_parser(
        "profile", help="compute a Dataset's reference profile (quantile histograms) from a CSV",
        description="Print spec.profile for a CSV: rows, and per numeric column mean, std, min, max, "
        "nullFraction and a quantile histogram (one bin per value for a column with few distinct values).",
    )  # fmt: skip
    profile.add_argument("file", help="a CSV file with a header row")
    profile.add_argument(
        "--bins", type=int, default=DEFAULT_BINS, help=f"bins per feature, at most {MAX_BINS} (default {DEFAULT_BINS})"
    )
    profile.add_argument(
        "--exclude", action="append", metavar="COLUMN", help="leave a column out (e.g. the label); repeatable"
    )
    profile.add_argument("--format", choices=["yaml", "json"], default="yaml")
    profile.set_defaults(func=_profile)
