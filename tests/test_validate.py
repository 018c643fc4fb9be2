"""Checks across resources: references, identity, cycles, placement, lineage, prompts, artifacts."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from specops import Diagnostic, Estate, SpecError, load_estate

Writer = Callable[[str, str | bytes], Path]

MODEL_FILE = "specs/models/fraud-scorer.yaml"
TARGET_FILE = "specs/targets/local-cpu.yaml"
DATASET_FILE = "specs/datasets/transactions.yaml"
PROMPT_FILE = "specs/prompts/fraud-case-summary.yaml"
SLO_FILE = "specs/slos/fraud-scorer.yaml"
MODEL_SHA = "e2b442b9e9e0a0d830cf2371e54341f1e30351df991f25171f93771050631f8a"
SHA = "c2f5ebc1cad44a0bb845773393df84a68d4cbc82970b062b2b2b98e9c723d898"


def locate(text: str, needle: str, occurrence: int = 1) -> tuple[int, int]:
    """1-based (line, column) of the ``occurrence``-th ``needle`` in ``text``."""
    index = -1
    for _ in range(occurrence):
        index = text.index(needle, index + 1)
    before = text[:index]
    return before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1


def edit(repo: Path, relative: str, old: str, new: str) -> str:
    path = repo / relative
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    text = text.replace(old, new, 1)
    path.write_text(text, encoding="utf-8")
    return text


def load(repo: Path, *, verify_artifacts: bool = False) -> Estate:
    return load_estate([repo / "specs"], verify_artifacts=verify_artifacts)


def problems(repo: Path, *, verify_artifacts: bool = False) -> list[Diagnostic]:
    """Every diagnostic (errors and warnings) of an estate that fails to load."""
    with pytest.raises(SpecError) as info:
        load(repo, verify_artifacts=verify_artifacts)
    assert info.value.errors
    return info.value.diagnostics


def only_error(repo: Path, *, verify_artifacts: bool = False) -> Diagnostic:
    errors = [d for d in problems(repo, verify_artifacts=verify_artifacts) if d.severity == "error"]
    assert len(errors) == 1, [d.format() for d in errors]
    return errors[0]


def model_doc(name: str, extra: str = "", targets: str = "[local-cpu]") -> str:
    """A self-contained model with a remote artifact (no local file to check)."""
    return f"""\
apiVersion: specops.dev/v1
kind: Model
metadata:
  name: {name}
spec:
  version: 1.0.0
  artifact:
    uri: s3://risk-models/{name}.onnx
    sha256: {SHA}
  signature:
    inputs: [{{name: x, dtype: float32, shape: [-1, 1]}}]
    outputs: [{{name: y, dtype: float32, shape: [-1, 1]}}]
  targets: {targets}
{extra}"""


def test_example_repo_is_valid(example_repo: Path) -> None:
    estate = load(example_repo, verify_artifacts=True)
    assert len(estate) == 6
    assert estate.warnings == []
    assert estate.root == example_repo.resolve()


# -- references ------------------------------------------------------------------------


def test_dangling_reference_suggests_the_close_name(example_repo: Path) -> None:
    text = edit(example_repo, MODEL_FILE, "targets: [local-cpu]", "targets: [local-cpuu]")
    diagnostic = only_error(example_repo)
    assert diagnostic.path == MODEL_FILE
    assert diagnostic.message == "Target/local-cpuu does not exist"
    assert diagnostic.hint == "did you mean 'local-cpu'?"
    assert diagnostic.field == "spec.targets[0]"
    assert diagnostic.code == "dangling"
    assert diagnostic.resource == "Model/fraud-scorer"
    assert (diagnostic.line, diagnostic.column) == locate(text, "local-cpuu")


def test_dangling_reference_without_a_close_name_lists_the_known_ones(example_repo: Path) -> None:
    text = edit(
        example_repo, MODEL_FILE, "guardrails: [feature-ranges]", "guardrails: [pii-filter]"
    )
    diagnostic = only_error(example_repo)
    assert diagnostic.message == "Guardrail/pii-filter does not exist"
    assert diagnostic.hint == "known Guardrail names: feature-ranges"
    assert diagnostic.field == "spec.guardrails[0]"
    assert (diagnostic.line, diagnostic.column) == locate(text, "pii-filter")


def test_dangling_reference_to_a_kind_with_no_resources(repo: Path, write: Writer) -> None:
    text = model_doc("scorer", targets="[edge]")
    write("specs/model.yaml", text)
    diagnostic = only_error(repo)
    assert diagnostic.message == "Target/edge does not exist"
    assert diagnostic.hint == "define a Target named 'edge'"
    assert (diagnostic.line, diagnostic.column) == locate(text, "edge")


def test_dangling_dataset_in_a_guardrail_schema_check(example_repo: Path) -> None:
    text = edit(
        example_repo,
        "specs/guardrails/feature-ranges.yaml",
        "dataset: transactions}",
        "dataset: transaction}",
    )
    diagnostic = only_error(example_repo)
    assert diagnostic.field == "spec.checks[0].dataset"
    assert diagnostic.hint == "did you mean 'transactions'?"
    assert (diagnostic.line, diagnostic.column) == locate(text, "transaction}")


def test_reference_to_the_wrong_kind(example_repo: Path) -> None:
    text = edit(example_repo, MODEL_FILE, "targets: [local-cpu]", "targets: [transactions]")
    diagnostic = only_error(example_repo)
    assert diagnostic.message == "refers to Target/transactions, but 'transactions' is a Dataset"
    assert diagnostic.hint == "this field names a Target"
    assert diagnostic.code == "wrong_kind"
    assert (diagnostic.line, diagnostic.column) == locate(text, "transactions]")


def test_same_name_in_different_kinds_is_fine(example_repo: Path) -> None:
    estate = load(example_repo)
    assert "Model/fraud-scorer" in estate
    assert "SLO/fraud-scorer" in estate


def test_reference_to_an_invalid_resource_is_not_a_second_error(example_repo: Path) -> None:
    # One mistake, one error: the model is defined (wrongly), so the prompt and
    # the SLO that name it must not be told it is missing or of another kind.
    edit(example_repo, MODEL_FILE, "version: 1.0.0", "version: 1.0")
    found = [d for d in problems(example_repo) if d.severity == "error"]
    assert [d.field for d in found] == ["spec.version"]
    assert {d.path for d in found} == {MODEL_FILE}


def test_missing_lineage_dataset_is_not_reported_as_no_lineage(example_repo: Path) -> None:
    edit(
        example_repo,
        MODEL_FILE,
        "trainedOn: {dataset: transactions",
        "trainedOn: {dataset: transaction",
    )
    found = [d for d in problems(example_repo) if d.severity == "error"]
    dangling = [d for d in found if d.code == "dangling"]
    assert [d.field for d in dangling] == ["spec.trainedOn.dataset"]
    assert dangling[0].hint == "did you mean 'transactions'?"
    # The model does have trainedOn; saying otherwise sends the user the wrong way.
    assert not [d for d in found if "has no trainedOn" in d.message]


# -- identity ----------------------------------------------------------------------------


def test_duplicate_identity_across_files_names_the_first(example_repo: Path, write: Writer) -> None:
    copy = (
        (example_repo / TARGET_FILE)
        .read_text()
        .replace("url: http://127.0.0.1:8480", "url: http://10.0.0.2:8480")
    )
    write("specs/targets/zz-copy.yaml", copy)
    diagnostic = only_error(example_repo)
    assert diagnostic.path == "specs/targets/zz-copy.yaml"
    assert diagnostic.message == f"Target/local-cpu is already defined at {TARGET_FILE}:3"
    assert diagnostic.field == "metadata.name"
    assert diagnostic.code == "duplicate"
    assert "rename" in diagnostic.hint
    assert (diagnostic.line, diagnostic.column) == locate(copy, "local-cpu")


def test_duplicate_identity_in_one_file(repo: Path, write: Writer) -> None:
    text = model_doc("scorer", targets="[edge]")
    target = "apiVersion: specops.dev/v1\nkind: Target\nmetadata:\n  name: edge\nspec:\n  url: http://h:1\n  environment: staging\n"
    write("specs/all.yaml", target + "---\n" + text + "---\n" + target)
    diagnostic = only_error(repo)
    assert diagnostic.message == "Target/edge is already defined at specs/all.yaml:1"
    # target, '---', model, '---', then the second target, whose name is on its line 4.
    second_target = target.count("\n") + 1 + text.count("\n") + 1 + 1
    assert (diagnostic.line, diagnostic.column) == (second_target + 3, 9)


# -- cycles ------------------------------------------------------------------------------


def test_shadow_cycle_is_reported_once_with_its_chain(example_repo: Path, write: Writer) -> None:
    write("specs/models/a.yaml", model_doc("a", "  shadowOf: b\n"))
    b = write("specs/models/b.yaml", model_doc("b", "  shadowOf: a\n")).read_text()
    found = problems(example_repo)
    cycles = [d for d in found if d.code == "cycle"]
    assert len(cycles) == 1, [d.format() for d in found]
    (cycle,) = cycles
    assert cycle.message == "dependency cycle: Model/a -> Model/b -> Model/a"
    assert "break the cycle" in cycle.hint
    assert cycle.path == "specs/models/b.yaml"
    assert cycle.field == "spec.shadowOf"
    line, column = locate(b, "shadowOf: a")
    assert (cycle.line, cycle.column) == (line, column + len("shadowOf: "))
    assert [d for d in found if d.severity == "error"] == [cycle]


def test_longer_cycle_names_every_member(example_repo: Path, write: Writer) -> None:
    write("specs/models/a.yaml", model_doc("a", "  shadowOf: b\n"))
    write("specs/models/b.yaml", model_doc("b", "  shadowOf: c\n"))
    write("specs/models/c.yaml", model_doc("c", "  shadowOf: a\n"))
    (cycle,) = [d for d in problems(example_repo) if d.code == "cycle"]
    assert cycle.message == "dependency cycle: Model/a -> Model/b -> Model/c -> Model/a"


def test_model_shadowing_itself(example_repo: Path) -> None:
    edit(
        example_repo,
        MODEL_FILE,
        "  guardrails: [feature-ranges]\n",
        "  guardrails: [feature-ranges]\n  shadowOf: fraud-scorer\n",
    )
    diagnostic = only_error(example_repo)
    assert diagnostic.message == "dependency cycle: Model/fraud-scorer -> Model/fraud-scorer"


def test_shadow_chain_that_ends_is_fine(example_repo: Path, write: Writer) -> None:
    write("specs/models/a.yaml", model_doc("a", "  shadowOf: b\n"))
    write("specs/models/b.yaml", model_doc("b", "  shadowOf: fraud-scorer\n"))
    assert len(load(example_repo)) == 8


# -- placement ---------------------------------------------------------------------------


def test_gpu_only_model_on_a_cpu_target(example_repo: Path) -> None:
    text = edit(
        example_repo,
        MODEL_FILE,
        "providers: [CUDAExecutionProvider, CPUExecutionProvider]",
        "providers: [CUDAExecutionProvider]",
    )
    diagnostic = only_error(example_repo)
    assert diagnostic.code == "placement"
    assert diagnostic.field == "spec.targets[0]"
    assert (
        diagnostic.message
        == "model needs a GPU (CUDAExecutionProvider) but Target/local-cpu has none"
    )
    assert "CPUExecutionProvider" in diagnostic.hint
    assert (diagnostic.line, diagnostic.column) == locate(text, "local-cpu]")


def test_gpu_only_model_on_a_gpu_target(example_repo: Path, write: Writer) -> None:
    write(
        "specs/targets/gpu-box.yaml",
        "apiVersion: specops.dev/v1\nkind: Target\nmetadata:\n  name: gpu-box\nspec:\n"
        "  url: http://10.0.0.9:8480\n  environment: production\n"
        "  providers: [CUDAExecutionProvider, CPUExecutionProvider]\n  accelerators: {gpus: 1, type: nvidia-h100}\n",
    )
    edit(
        example_repo,
        MODEL_FILE,
        "providers: [CUDAExecutionProvider, CPUExecutionProvider]",
        "providers: [CUDAExecutionProvider]",
    )
    edit(example_repo, MODEL_FILE, "targets: [local-cpu]", "targets: [gpu-box]")
    assert len(load(example_repo)) == 7


def test_gpu_model_with_cpu_fallback_places_anywhere(example_repo: Path) -> None:
    # The example itself: CUDA preferred, CPU as fallback, on a CPU target.
    model = load(example_repo).get("Model", "fraud-scorer")
    assert model is not None
    assert "CPUExecutionProvider" in model.resource.spec.runtime.providers  # type: ignore[attr-defined]


def test_target_offering_none_of_the_models_providers(example_repo: Path) -> None:
    edit(
        example_repo,
        MODEL_FILE,
        "providers: [CUDAExecutionProvider, CPUExecutionProvider]",
        "providers: [OpenVINOExecutionProvider, CPUExecutionProvider]",
    )
    edit(
        example_repo,
        TARGET_FILE,
        "providers: [CPUExecutionProvider]",
        "providers: [CoreMLExecutionProvider]",
    )
    diagnostic = only_error(example_repo)
    assert diagnostic.code == "placement"
    assert diagnostic.field == "spec.targets[0]"
    assert "offers none of the model's providers" in diagnostic.message
    assert diagnostic.hint == "the target offers CoreMLExecutionProvider"


# -- prompts -----------------------------------------------------------------------------


def test_template_using_an_undeclared_variable(example_repo: Path) -> None:
    text = edit(example_repo, PROMPT_FILE, "{{ score }}", "{{ scroe }}")
    found = problems(example_repo)
    (error,) = [d for d in found if d.severity == "error"]
    assert error.path == PROMPT_FILE
    assert error.message == "template uses undeclared variable 'scroe'"
    assert error.hint == "did you mean 'score'?"
    assert error.field == "spec.template"
    assert error.code == "undeclared_variable"
    line, column = locate(text, "template: |")
    assert (error.line, error.column) == (line, column + len("template: "))
    # The declared `score` is now unused: a warning, reported with the error.
    (warning,) = [d for d in found if d.severity == "warning"]
    assert warning.field == "spec.variables[1].name"


def test_declared_but_unused_variable_is_a_warning(example_repo: Path) -> None:
    text = edit(example_repo, PROMPT_FILE, "in at most {{ max_sentences }} sentences", "briefly")
    estate = load(example_repo)
    assert len(estate) == 6
    (warning,) = estate.warnings
    assert warning.severity == "warning"
    assert warning.code == "unused_variable"
    assert warning.message == "variable 'max_sentences' is declared but the template never uses it"
    assert warning.field == "spec.variables[2].name"
    assert warning.path == PROMPT_FILE
    assert (warning.line, warning.column) == locate(text, "max_sentences")
    assert warning.format().startswith(f"{PROMPT_FILE}:{warning.line}:{warning.column}: warning: ")


# -- lineage and drift ---------------------------------------------------------------------


def test_lineage_version_mismatch(example_repo: Path) -> None:
    text = edit(example_repo, MODEL_FILE, 'version: "2026-10"}', 'version: "2026-09"}')
    diagnostic = only_error(example_repo)
    assert diagnostic.code == "lineage"
    assert diagnostic.field == "spec.trainedOn.version"
    assert diagnostic.message == "Dataset/transactions is at version '2026-10', not '2026-09'"
    assert (diagnostic.line, diagnostic.column) == locate(text, '"2026-09"')


def test_tensor_feature_that_is_not_a_dataset_column(example_repo: Path) -> None:
    text = edit(example_repo, MODEL_FILE, "card_present]", "card_presnt]")
    diagnostic = only_error(example_repo)
    assert diagnostic.code == "lineage"
    assert diagnostic.field == "spec.signature.inputs[0].features[7]"
    assert diagnostic.message == "feature 'card_presnt' is not a column of Dataset/transactions"
    assert diagnostic.hint == "did you mean 'card_present'?"
    assert (diagnostic.line, diagnostic.column) == locate(text, "card_presnt")


def test_drift_objective_on_a_model_without_lineage(example_repo: Path) -> None:
    edit(example_repo, MODEL_FILE, '  trainedOn: {dataset: transactions, version: "2026-10"}\n', "")
    diagnostic = only_error(example_repo)
    slo = (example_repo / SLO_FILE).read_text()
    assert diagnostic.path == SLO_FILE
    assert diagnostic.code == "drift"
    assert diagnostic.field == "spec.objectives[2]"
    assert (
        diagnostic.message
        == "drift needs a reference profile, but Model/fraud-scorer has no trainedOn dataset"
    )
    assert (diagnostic.line, diagnostic.column) == locate(slo, "{type: drift")


def test_drift_objective_on_a_dataset_without_profile(example_repo: Path) -> None:
    path = example_repo / DATASET_FILE
    text = path.read_text()
    path.write_text(text[: text.index("  profile:\n")])
    diagnostic = only_error(example_repo)
    assert diagnostic.path == SLO_FILE
    assert (
        diagnostic.message == "drift needs a reference profile, but Dataset/transactions has none"
    )


def test_drift_feature_without_a_histogram(example_repo: Path) -> None:
    slo = edit(
        example_repo, SLO_FILE, "features: [amount, hour_of_day]", "features: [amount, hour_of_dya]"
    )
    diagnostic = only_error(example_repo)
    assert diagnostic.field == "spec.objectives[2].features[1]"
    assert diagnostic.hint == "did you mean 'hour_of_day'?"
    assert (diagnostic.line, diagnostic.column) == locate(slo, "hour_of_dya")


def test_analysis_slo_about_a_different_model(example_repo: Path, write: Writer) -> None:
    write("specs/models/b.yaml", model_doc("b"))
    write(
        "specs/slos/b.yaml",
        "apiVersion: specops.dev/v1\nkind: SLO\nmetadata:\n  name: b-latency\nspec:\n  model: b\n"
        "  objectives:\n    - {type: latency, thresholdMs: 10}\n",
    )
    text = edit(
        example_repo, MODEL_FILE, "analysis: {slo: fraud-scorer", "analysis: {slo: b-latency"
    )
    diagnostic = only_error(example_repo)
    assert diagnostic.code == "wrong_slo"
    assert diagnostic.field == "spec.rollout.analysis.slo"
    assert diagnostic.message == "SLO/b-latency is about Model/b, not this model"
    assert (diagnostic.line, diagnostic.column) == locate(text, "b-latency")


def test_analysis_slo_that_does_not_exist(example_repo: Path) -> None:
    edit(
        example_repo, MODEL_FILE, "analysis: {slo: fraud-scorer", "analysis: {slo: fraud-scorer-v2"
    )
    diagnostic = only_error(example_repo)
    assert diagnostic.message == "SLO/fraud-scorer-v2 does not exist"
    assert diagnostic.hint == "did you mean 'fraud-scorer'?"


# -- artifacts ------------------------------------------------------------------------------


def test_missing_local_artifact(example_repo: Path) -> None:
    text = edit(example_repo, MODEL_FILE, "fraud-scorer-1.0.0.onnx", "fraud-scorer-2.0.0.onnx")
    diagnostic = only_error(example_repo)
    assert diagnostic.code == "artifact_missing"
    assert diagnostic.field == "spec.artifact.uri"
    assert "specs/artifacts/fraud-scorer-2.0.0.onnx does not exist" in diagnostic.message
    assert "relative to the repository root" in diagnostic.hint
    assert (diagnostic.line, diagnostic.column) == locate(text, "specs/artifacts/")


def test_deleted_dataset_file(example_repo: Path) -> None:
    (example_repo / "specs/data/transactions-2026-10.csv").unlink()
    diagnostic = only_error(example_repo)
    assert diagnostic.path == DATASET_FILE
    assert diagnostic.code == "artifact_missing"


def test_artifact_paths_are_relative_to_the_repository_root(example_repo: Path) -> None:
    # Loading a sub-directory still resolves uris against the git root.
    estate = load_estate([example_repo / "specs" / "datasets"], verify_artifacts=True)
    assert estate.root == example_repo.resolve()
    assert [s.id for s in estate] == ["Dataset/transactions"]
    assert estate.files == [DATASET_FILE]


def test_a_file_named_twice_is_loaded_once(example_repo: Path) -> None:
    # `specops validate specs specs/models/fraud-scorer.yaml` (a directory and a
    # changed file in it, as pre-commit hooks pass them) is not a duplicate definition.
    estate = load_estate([example_repo / "specs", example_repo / MODEL_FILE])
    assert len(estate) == 6
    assert sorted(estate.files) == sorted(set(estate.files))


def test_sha256_mismatch_is_checked_only_when_asked(example_repo: Path) -> None:
    text = edit(example_repo, MODEL_FILE, MODEL_SHA, "f" * 64)
    assert len(load(example_repo)) == 6
    diagnostic = only_error(example_repo, verify_artifacts=True)
    assert diagnostic.code == "artifact_checksum"
    assert diagnostic.field == "spec.artifact.sha256"
    assert diagnostic.message == f"sha256 of specs/artifacts/fraud-scorer-1.0.0.onnx is {MODEL_SHA}"
    assert (diagnostic.line, diagnostic.column) == locate(text, "f" * 64)


def test_changed_artifact_bytes_are_caught(example_repo: Path) -> None:
    artifact = example_repo / "specs/artifacts/fraud-scorer-1.0.0.onnx"
    artifact.write_bytes(artifact.read_bytes() + b"\0")
    assert len(load(example_repo)) == 6
    diagnostic = only_error(example_repo, verify_artifacts=True)
    assert diagnostic.message.endswith(hashlib.sha256(artifact.read_bytes()).hexdigest())
