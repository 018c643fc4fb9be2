"""Rows of issue 15's table: each figure beside its baseline from the same run.

Every bench script calls ``report``; it prints the row at once and keeps it, so
``bench/run.py`` (``nox -s bench``) can print the whole table at the end. A
ratio compares across machines where an absolute time does not.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["ROWS", "Row", "format_table", "report", "seconds", "whole_process"]


@dataclass(frozen=True)
class Row:
    measure: str
    value: float
    unit: str
    baseline: str
    baseline_value: float
    aim: str

    @property
    def ratio(self) -> float:
        return self.value / self.baseline_value if self.baseline_value else float("inf")


ROWS: list[Row] = []


def seconds(value: float) -> tuple[float, str]:
    """A time in the unit that reads best."""
    if value >= 1:
        return value, "s"
    if value >= 1e-3:
        return value * 1e3, "ms"
    return value * 1e6, "us"


def _show(value: float, unit: str) -> str:
    if unit == "s":
        shown, u = seconds(value)
        return f"{shown:.3g} {u}"
    return f"{value:,.0f} {unit}" if abs(value) >= 1000 else f"{value:.4g} {unit}"


def report(measure: str, value: float, unit: str, baseline: str, baseline_value: float, aim: str = "") -> Row:
    """Keep and print one row; ``unit`` ``s`` is shown in s/ms/us, any other unit as is."""
    row = Row(measure, value, unit, baseline, baseline_value, aim)
    ROWS.append(row)
    print(
        f"  {measure}: {_show(value, unit)} | {baseline}: {_show(baseline_value, unit)} | "
        f"ratio {row.ratio:.3g}x{f' | aim {aim}' if aim else ''}",
        flush=True,
    )
    return row


def format_table(rows: Sequence[Row]) -> str:
    """The markdown table of issue 15: measure, now, same-run baseline, ratio, aim."""
    lines = ["| measure | now | baseline (same run) | ratio | aim |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r.measure} | {_show(r.value, r.unit)} | {r.baseline}: {_show(r.baseline_value, r.unit)} "
            f"| {r.ratio:.3g}x | {r.aim} |"
        )
    return "\n".join(lines)


def whole_process(commands: dict[str, Sequence[str]], runs: int, cwd: str | None = None) -> dict[str, float]:
    """Median wall seconds of each command as a whole process, the commands interleaved run by run
    (so load on a shared machine falls on all of them alike)."""
    # As an installed package runs: with its bytecode cached. One untimed run of each command
    # writes it (PYTHONDONTWRITEBYTECODE, set on some machines, would leave every run compiling
    # the package's sources again: 45 ms of validate's 310 ms here).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    for argv in commands.values():
        subprocess.run(argv, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, argv in commands.items():
            start = time.perf_counter()
            subprocess.run(argv, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}
