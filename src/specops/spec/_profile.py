"""``specops dataset profile``: a Dataset's reference profile computed from its CSV with numpy.

Per numeric column: mean and standard deviation (population, ``ddof=0``,
as drift methods norm by it), min, max, the fraction of empty or NaN cells,
and a quantile histogram: edges at quantiles, so the bins hold about the
same share of the rows and a skewed feature is not all in one bin. With 20
bins or more the outermost are split at the 0.1 %, 0.5 % and 1 % quantiles
from each end (:func:`quantile_levels`): the last 2 % of a heavy tail is
otherwise one very wide bin, where a bin-level wasserstein or ks loses the
shape of the tail. A column with at most ``bins`` distinct values gets one bin per
value instead (edges halfway between neighbouring values), since edges must
increase strictly. Counts are taken on the edges as written, so anyone
binning the same data with the printed edges gets the printed counts.

Numbers are rounded to :data:`DIGITS` significant digits; sums use
``math.fsum``, so the output is the same on every machine.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from specops._errors import SpecOpsError
from specops.spec._bins import DEFAULT_BINS
from specops.spec._dataset import MAX_BINS, FeatureProfile, Histogram, Profile
from specops.spec._profile_cli import add_dataset_parser

__all__ = ["DEFAULT_BINS", "DIGITS", "add_dataset_parser", "profile_columns", "profile_csv", "quantile_levels"]

DIGITS = 8


class ProfileError(SpecOpsError):
    """A CSV that cannot be profiled."""


def _round(value: float) -> float:
    # "+ 0.0" turns -0.0 into 0.0, so the text never depends on a sign bit.
    return float(f"{value:.{DIGITS}g}") + 0.0


TAIL_LEVELS = (0.001, 0.005, 0.01)


def quantile_levels(bins: int) -> np.ndarray:
    """The quantile levels of the edges: even steps, and with 20 bins or more refined tails."""
    if bins < 20:
        return np.linspace(0.0, 1.0, bins + 1)
    inner = np.linspace(0.02, 0.98, bins + 1 - 2 * (len(TAIL_LEVELS) + 1))
    tails = np.asarray(TAIL_LEVELS)
    return np.concatenate(([0.0], tails, inner, 1.0 - tails[::-1], [1.0]))


def _edges(values: np.ndarray, bins: int) -> list[float]:
    distinct = np.unique(values)
    if distinct.size == 1:
        v = float(distinct[0])
        return [_round(v - 0.5), _round(v + 0.5)]
    if distinct.size <= bins:
        mids = (distinct[:-1] + distinct[1:]) / 2
        raw = [float(distinct[0]), *mids.tolist(), float(distinct[-1])]
    else:
        raw = np.quantile(values, quantile_levels(bins)).tolist()
    edges: list[float] = []
    for e in raw:
        r = _round(e)
        if not edges or r > edges[-1]:
            edges.append(r)
    # Rounding must not leave the extremes outside the histogram.
    edges[0] = min(edges[0], float(values.min()))
    edges[-1] = max(edges[-1], float(values.max()))
    if len(edges) == 1:
        edges.append(edges[0] + 1.0)
    return edges


def feature_profile(column: np.ndarray, bins: int = DEFAULT_BINS) -> FeatureProfile:
    """One numeric column (NaN for an empty cell) as the profile's ``FeatureProfile``."""
    present = column[~np.isnan(column)]
    null_fraction = _round(1 - present.size / column.size) if column.size else 0.0
    if present.size == 0:
        return FeatureProfile(null_fraction=null_fraction)
    n = present.size
    mean = math.fsum(present.tolist()) / n
    std = math.sqrt(math.fsum(((present - mean) ** 2).tolist()) / n)
    edges = _edges(present, bins)
    counts, _ = np.histogram(present, bins=np.asarray(edges))
    return FeatureProfile(
        mean=_round(mean), std=_round(std), min=_round(float(present.min())), max=_round(float(present.max())),
        null_fraction=null_fraction, histogram=Histogram(edges=edges, counts=[int(c) for c in counts]),
    )


def profile_columns(columns: Mapping[str, np.ndarray], bins: int = DEFAULT_BINS) -> Profile:
    """The profile of numeric columns of equal length (NaN marks an empty cell)."""
    if not 1 <= bins <= MAX_BINS:
        raise ProfileError(f"--bins must be between 1 and {MAX_BINS}, got {bins}")
    rows = {len(c) for c in columns.values()}
    if len(rows) > 1:
        raise ProfileError("every column must have the same number of rows")
    n = rows.pop() if rows else 0
    if n == 0:
        raise ProfileError("there are no rows to profile")
    return Profile(rows=n, features={name: feature_profile(np.asarray(c, dtype=np.float64), bins) for name, c in columns.items()})


def read_numeric_csv(path: Path, exclude: Iterable[str] = ()) -> tuple[dict[str, np.ndarray], list[str]]:
    """The numeric columns of a CSV with a header (empty cells are NaN) and the names of the others."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if not header:
                raise ProfileError(f"{path}: the file is empty; a CSV with a header row is expected")
            cells = [row for row in reader if row]
    except OSError as exc:
        raise ProfileError(f"{path}: cannot be read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ProfileError(f"{path}: is not UTF-8 text; a CSV file is expected") from None
    for line, row in enumerate(cells, start=2):
        if len(row) != len(header):
            raise ProfileError(f"{path}:{line}: {len(row)} cells, the header has {len(header)}")
    skipped = set(exclude)
    unknown = sorted(skipped - set(header))
    if unknown:
        raise ProfileError(f"{path}: --exclude {unknown[0]} is not a column (columns: {', '.join(header)})")
    numeric: dict[str, np.ndarray] = {}
    other: list[str] = []
    for i, name in enumerate(header):
        if name in skipped:
            continue
        texts = [row[i].strip() or "nan" for row in cells]
        try:
            numeric[name] = np.asarray(texts, dtype=np.float64)
        except ValueError:
            other.append(name)
    return numeric, other


def profile_csv(path: Path, bins: int = DEFAULT_BINS, exclude: Iterable[str] = ()) -> tuple[Profile, list[str]]:
    columns, other = read_numeric_csv(path, exclude)
    if not columns:
        raise ProfileError(f"{path}: no numeric column to profile")
    return profile_columns(columns, bins), other


# -- the command ----------------------------------------------------------------------


def _flow(values: list[Any]) -> str:
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def render_yaml(document: dict[str, Any]) -> str:
    """The profile as the block to paste under a Dataset's ``spec.profile`` (lists in flow style)."""
    lines = ["profile:", f"  rows: {document['rows']}", "  features:"]
    for name, feature in document["features"].items():
        lines.append(f"    {name}:")
        for key, value in feature.items():
            if key == "histogram":
                lines.append("      histogram:")
                lines.append(f"        edges: {_flow(value['edges'])}")
                lines.append(f"        counts: {_flow(value['counts'])}")
            else:
                lines.append(f"      {key}: {json.dumps(value)}")
    return "\n".join(lines) + "\n"


def cmd_profile(args: argparse.Namespace, out: TextIO) -> int:
    profile, other = profile_csv(Path(args.file), args.bins, args.exclude or ())
    document = profile.model_dump(mode="json", by_alias=True, exclude_none=True)
    if args.format == "json":
        out.write(json.dumps({"profile": document}, indent=2) + "\n")
    else:
        out.write(render_yaml(document))
    if other:
        print(f"not profiled (not numeric): {', '.join(other)}", file=sys.stderr)
    return 0
