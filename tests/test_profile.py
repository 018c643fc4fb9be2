"""``specops dataset profile``: quantile histograms from a CSV, and the example's profile is its output."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from specops import Dataset, load_estate
from specops._cli import main
from specops.spec import parse_bytes
from specops.spec._profile import feature_profile, profile_columns

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CSV = REPO_ROOT / "specs" / "data" / "transactions-2026-10.csv"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_example_datasets_profile_is_the_commands_output(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "dataset", "profile", str(EXAMPLE_CSV), "--exclude", "label", "--format", "json")
    assert code == 0
    printed = json.loads(out)["profile"]
    dataset = load_estate([REPO_ROOT / "specs"], root=REPO_ROOT).get("Dataset", "transactions").resource
    assert isinstance(dataset, Dataset) and dataset.spec.profile is not None
    assert dataset.spec.profile.model_dump(mode="json", by_alias=True, exclude_none=True) == printed
    # The yaml output is the same profile, ready to paste under spec:
    code, text, _ = run(capsys, "dataset", "profile", str(EXAMPLE_CSV), "--exclude", "label")
    assert code == 0 and text.startswith("profile:\n  rows: 2000\n")
    assert "edges: [0.0, 0.5, 1.0]" in text  # card_present: one bin per value


def test_quantile_bins_share_a_skewed_feature_evenly() -> None:
    values = np.random.default_rng(1).lognormal(3.0, 1.2, 5000)
    profile = feature_profile(values, 50)
    assert profile.histogram is not None
    counts = profile.histogram.counts
    assert len(counts) == 50 and sum(counts) == 5000
    assert [round(c / 5) for c in counts[:4]] == [1, 4, 5, 10]  # 0.1%, 0.5%, 1%, 2%: the tail in finer bins
    assert counts[:4] == counts[-4:][::-1] or abs(sum(counts[:4]) - sum(counts[-4:])) <= 2
    inner = counts[4:-4]
    assert max(inner) <= 125 and min(inner) >= 104  # the rest: about 2.3% each
    equal_width, _ = np.histogram(values, bins=50)
    assert equal_width.max() > 1000  # what equal-width bins would have done
    assert profile.std == pytest.approx(float(np.std(values)), rel=1e-6)
    assert profile.mean == pytest.approx(float(np.mean(values)), rel=1e-6)


def test_a_feature_with_few_values_gets_one_bin_per_value() -> None:
    hours = np.arange(24.0).repeat(10)
    profile = feature_profile(hours, 50)
    assert profile.histogram is not None
    assert profile.histogram.edges == [0.0, *[h + 0.5 for h in range(23)], 23.0]
    assert profile.histogram.counts == [10] * 24
    constant = feature_profile(np.full(7, 3.0), 50)
    assert constant.histogram is not None
    assert (constant.histogram.edges, constant.histogram.counts) == ([2.5, 3.5], [7])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False) | st.integers(-5, 5).map(float), min_size=1, max_size=300),
       st.integers(1, 50))
def test_any_column_profiles_into_a_valid_histogram_holding_every_row(values: list[float], bins: int) -> None:
    profile = profile_columns({"x": np.asarray(values)}, bins)
    histogram = profile.features["x"].histogram
    assert histogram is not None
    assert len(histogram.counts) <= bins
    assert sum(histogram.counts) == len(values)
    assert all(b > a for a, b in zip(histogram.edges, histogram.edges[1:], strict=False))
    assert histogram.edges[0] <= min(values) and max(values) <= histogram.edges[-1]


def test_empty_cells_and_text_columns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "d.csv"
    path.write_text("a,name,b\n1,x,2\n,y,3\n3,z,\n4,w,5\n")
    code, out, err = run(capsys, "dataset", "profile", str(path), "--format", "json")
    assert code == 0
    features = json.loads(out)["profile"]["features"]
    assert set(features) == {"a", "b"}
    assert features["a"]["nullFraction"] == 0.25 and sum(features["a"]["histogram"]["counts"]) == 3
    assert "not profiled (not numeric): name" in err


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        (None, [], "cannot be read"),
        ("a,b\n1,2\n3\n", [], "d.csv:3: 1 cells, the header has 2"),
        ("a,b\n1,2\n", ["--exclude", "c"], "--exclude c is not a column"),
        ("a,b\n1,2\n", ["--bins", "51"], "--bins must be between 1 and 50"),
        ("name\nx\n", [], "no numeric column"),
        ("", [], "the file is empty"),
    ],
)
def test_bad_input_is_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, args: list[str], message: str
) -> None:
    path = tmp_path / "d.csv"
    if content is not None:
        path.write_text(content)
    code, out, err = run(capsys, "dataset", "profile", str(path), *args)
    assert code == 1 and out == ""
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


DATASET = """\
apiVersion: specops.dev/v1
kind: Dataset
metadata: {name: d}
spec:
  version: v1
  artifact: {uri: d.csv, sha256: "%s"}
  schema: {columns: [{name: x, dtype: float}]}
  profile:
    rows: 60
    features:
      x: {histogram: {edges: EDGES, counts: COUNTS}}
""" % ("0" * 64)


def test_a_histogram_has_at_most_50_strictly_increasing_bins() -> None:
    def problems(edges: list[float], counts: list[int]) -> list[str]:
        text = DATASET.replace("EDGES", json.dumps(edges)).replace("COUNTS", json.dumps(counts))
        return [d.message for d in parse_bytes(text.encode(), "d.yaml")[1]]

    assert problems([float(i) for i in range(51)], [1] * 50) == []
    assert any("at most 51" in m or "at most 50" in m for m in problems([float(i) for i in range(52)], [1] * 51))
    assert problems([0.0, 1.0, 1.0], [1, 1]) == ["histogram edges must increase strictly"]
