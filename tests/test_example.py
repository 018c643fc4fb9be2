"""The example estate: reproducible from scripts/make_example.py, and consistent with its specs."""

from __future__ import annotations

import csv
import hashlib
import json
import runpy
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest

from specops import Dataset, Model, load_estate

REPO_ROOT = Path(__file__).resolve().parent.parent
SPECS = REPO_ROOT / "specs"
SCRIPT = REPO_ROOT / "scripts" / "make_example.py"
GENERATED = [
    "data/transactions-2026-10.csv",
    "data/transactions-2026-10.profile.json",
    "artifacts/fraud-scorer-1.0.0.onnx",
    "artifacts/fraud-scorer-1.1.0.onnx",
]
ORT_DTYPES = {"float32": "tensor(float)", "float64": "tensor(double)", "int64": "tensor(int64)"}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("example")
    build = runpy.run_path(str(SCRIPT))["build"]
    return out, build(out)


@pytest.fixture(scope="module")
def estate() -> Any:
    return load_estate([SPECS], root=REPO_ROOT)


def model(estate: Any) -> Model:
    resource = estate.get("Model", "fraud-scorer").resource
    assert isinstance(resource, Model)
    return resource


def dataset(estate: Any) -> Dataset:
    resource = estate.get("Dataset", "transactions").resource
    assert isinstance(resource, Dataset)
    return resource


def session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("relative", GENERATED)
def test_build_reproduces_the_committed_files(
    built: tuple[Path, dict[str, Any]], relative: str
) -> None:
    out, summary = built
    assert sha256(out / relative) == sha256(SPECS / relative)
    assert summary["files"][relative]["sha256"] == sha256(SPECS / relative)
    assert summary["files"][relative]["size"] == (SPECS / relative).stat().st_size


def test_build_writes_exactly_the_generated_files(built: tuple[Path, dict[str, Any]]) -> None:
    out, summary = built
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written == sorted(GENERATED)
    assert sorted(summary["files"]) == sorted(GENERATED)


def test_importing_the_script_has_no_side_effects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    namespace = runpy.run_path(str(SCRIPT))
    assert callable(namespace["build"])
    assert list(tmp_path.iterdir()) == []


def test_model_spec_pins_the_committed_artifact(estate: Any) -> None:
    artifact = model(estate).spec.artifact
    path = REPO_ROOT / artifact.uri
    assert artifact.uri == "specs/artifacts/fraud-scorer-1.0.0.onnx"
    assert artifact.sha256 == sha256(path)
    assert artifact.size_bytes == path.stat().st_size


def test_dataset_spec_pins_the_committed_data(estate: Any) -> None:
    artifact = dataset(estate).spec.artifact
    path = REPO_ROOT / artifact.uri
    assert artifact.uri == "specs/data/transactions-2026-10.csv"
    assert artifact.sha256 == sha256(path)
    assert artifact.size_bytes == path.stat().st_size


def test_estate_verifies_its_artifacts() -> None:
    assert len(load_estate([SPECS], root=REPO_ROOT, verify_artifacts=True)) == 6


@pytest.mark.parametrize("version", ["1.0.0", "1.1.0"])
def test_onnx_model_matches_the_signature(estate: Any, version: str) -> None:
    signature = model(estate).spec.signature
    loaded = session(SPECS / "artifacts" / f"fraud-scorer-{version}.onnx")
    assert loaded.get_providers() == ["CPUExecutionProvider"]
    for declared, actual in (
        (signature.inputs, loaded.get_inputs()),
        (signature.outputs, loaded.get_outputs()),
    ):
        assert [t.name for t in declared] == [a.name for a in actual]
        for tensor, arg in zip(declared, actual, strict=True):
            assert ORT_DTYPES[tensor.dtype] == arg.type
            assert len(tensor.shape) == len(arg.shape)
            for want, got in zip(tensor.shape, arg.shape, strict=True):
                if want == -1:
                    assert isinstance(got, str) or got is None  # a symbolic (dynamic) dimension
                else:
                    assert got == want
    meta = loaded.get_modelmeta().custom_metadata_map
    assert meta["model_version"] == version
    assert meta["features"].split(",") == signature.inputs[0].features


def test_onnx_model_scores_the_dataset(estate: Any) -> None:
    signature = model(estate).spec.signature
    with (SPECS / "data" / "transactions-2026-10.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    features = signature.inputs[0].features
    assert features is not None
    x = np.array([[float(row[f]) for f in features] for row in rows[:64]], dtype=np.float32)
    (probabilities,) = session(REPO_ROOT / model(estate).spec.artifact.uri).run(
        [signature.outputs[0].name], {signature.inputs[0].name: x}
    )
    assert probabilities.shape == (64, signature.outputs[0].shape[-1])
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert ((probabilities >= 0) & (probabilities <= 1)).all()


def test_dataset_schema_matches_the_csv(estate: Any) -> None:
    schema = dataset(estate).spec.schema_
    with (SPECS / "data" / "transactions-2026-10.csv").open(newline="") as handle:
        header = next(csv.reader(handle))
        rows = list(csv.reader(handle))
    assert [c.name for c in schema.columns] == header
    assert schema.label == header[-1]
    for column in schema.columns:
        values = [float(row[header.index(column.name)]) for row in rows]
        assert column.min is not None
        assert column.max is not None
        assert column.min <= min(values)
        assert max(values) <= column.max


def test_dataset_profile_equals_the_profile_json(estate: Any) -> None:
    profile = dataset(estate).spec.profile
    assert profile is not None
    reference = json.loads((SPECS / "data" / "transactions-2026-10.profile.json").read_text())
    assert profile.rows == reference["rows"]
    assert set(profile.features) == set(reference["features"])
    for name, expected in reference["features"].items():
        feature = profile.features[name]
        assert feature.histogram is not None
        assert feature.histogram.edges == expected["histogram"]["edges"], name
        assert feature.histogram.counts == expected["histogram"]["counts"], name
        assert sum(feature.histogram.counts) == reference["rows"]
        assert (feature.mean, feature.std, feature.min, feature.max) == (
            expected["mean"],
            expected["std"],
            expected["min"],
            expected["max"],
        ), name
        assert feature.null_fraction == expected["null_fraction"]


def test_model_features_are_the_profiled_ones(estate: Any) -> None:
    profile = dataset(estate).spec.profile
    assert profile is not None
    features = model(estate).spec.signature.inputs[0].features
    assert features is not None
    assert list(profile.features) == features
