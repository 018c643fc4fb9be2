"""Every kind validates, and every mistake in one spec gets a located, helpful error."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from specops import (
    SLO,
    Dataset,
    Diagnostic,
    Guardrail,
    Model,
    Prompt,
    Resource,
    SpecError,
    Target,
    canonical_hash,
    load_estate,
)
from specops.spec import KINDS, parse_bytes

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_SPECS = REPO_ROOT / "specs"
PATH = "specs/spec.yaml"
SHA = "c2f5ebc1cad44a0bb845773393df84a68d4cbc82970b062b2b2b98e9c723d898"
HEX64 = re.compile(r"[0-9a-f]{64}")

TARGET = """\
apiVersion: specops.dev/v1
kind: Target
metadata:
  name: edge
spec:
  url: http://127.0.0.1:8480
  environment: development
"""

DATASET = f"""\
apiVersion: specops.dev/v1
kind: Dataset
metadata:
  name: clicks
spec:
  version: "2026-10"
  artifact:
    uri: s3://risk-data/clicks/2026-10.csv
    sha256: {SHA}
  schema:
    label: y
    columns:
      - {{name: x, dtype: float, min: 0, max: 1}}
      - {{name: y, dtype: int}}
  profile:
    rows: 10
    features:
      x: {{mean: 0.5, histogram: {{edges: [0, 0.5, 1], counts: [5, 5]}}}}
"""

GUARDRAIL = """\
apiVersion: specops.dev/v1
kind: Guardrail
metadata:
  name: limits
spec:
  checks:
    - {type: range, feature: x, min: 0, max: 1}
    - {type: schema, dataset: clicks}
"""

MODEL = f"""\
apiVersion: specops.dev/v1
kind: Model
metadata:
  name: scorer
spec:
  version: 1.0.0
  artifact:
    uri: s3://risk-models/scorer-1.0.0.onnx
    sha256: {SHA}
  signature:
    inputs: [{{name: x, dtype: float32, shape: [-1, 1], features: [x]}}]
    outputs: [{{name: p, dtype: float32, shape: [-1, 2]}}]
  targets: [edge]
  trainedOn: {{dataset: clicks, version: "2026-10"}}
  rollout:
    strategy: canary
    steps: [10, 50, 100]
  guardrails: [limits]
"""

PROMPT = """\
apiVersion: specops.dev/v1
kind: Prompt
metadata:
  name: summary
spec:
  version: 1.0.0
  model: scorer
  template: "Explain the score {{ score }}."
  variables: [{name: score}]
"""

SLO_SPEC = """\
apiVersion: specops.dev/v1
kind: SLO
metadata:
  name: scorer
spec:
  model: scorer
  objectives:
    - {type: latency, thresholdMs: 20}
    - {type: errorRate, max: 0.01}
    - {type: drift, threshold: 0.2, features: [x]}
"""

ALL_KINDS = {
    "Target": TARGET,
    "Dataset": DATASET,
    "Guardrail": GUARDRAIL,
    "Model": MODEL,
    "Prompt": PROMPT,
    "SLO": SLO_SPEC,
}


def locate(text: str, needle: str, occurrence: int = 1) -> tuple[int, int]:
    """1-based (line, column) of the ``occurrence``-th ``needle`` in ``text``."""
    index = -1
    for _ in range(occurrence):
        index = text.index(needle, index + 1)
    before = text[:index]
    return before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1


def parse(text: str) -> tuple[list[Resource], list[Diagnostic]]:
    resources, diagnostics = parse_bytes(text.encode(), PATH)
    return [r for r, _ in resources], diagnostics


def valid(text: str) -> Resource:
    resources, diagnostics = parse(text)
    assert diagnostics == []
    (resource,) = resources
    return resource


def errors(text: str) -> list[Diagnostic]:
    resources, diagnostics = parse(text)
    assert resources == []
    assert diagnostics, "expected the document to be rejected"
    for diagnostic in diagnostics:
        assert diagnostic.path == PATH
        assert diagnostic.severity == "error"
        assert diagnostic.line >= 1
        assert diagnostic.column >= 1
    return diagnostics


def error(text: str) -> Diagnostic:
    found = errors(text)
    assert len(found) == 1, [d.format() for d in found]
    return found[0]


def edit(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def hash_of(text: str) -> str:
    return canonical_hash(valid(text).canonical())


# -- every kind validates ---------------------------------------------------------


def test_example_estate_loads_in_dependency_order() -> None:
    estate = load_estate([EXAMPLE_SPECS], root=REPO_ROOT)
    assert len(estate) == 6
    assert [s.resource.KIND for s in estate] == [
        "Target",
        "Dataset",
        "Guardrail",
        "Model",
        "Prompt",
        "SLO",
    ]
    assert [s.id for s in estate] == [
        "Target/local-cpu",
        "Dataset/transactions",
        "Guardrail/feature-ranges",
        "Model/fraud-scorer",
        "Prompt/fraud-case-summary",
        "SLO/fraud-scorer",
    ]
    assert estate.warnings == []
    assert sorted(estate.files) == sorted(
        p.relative_to(REPO_ROOT).as_posix() for p in EXAMPLE_SPECS.rglob("*.yaml")
    )
    for spec in estate:
        assert HEX64.fullmatch(spec.hash)
        assert spec.path.startswith("specs/")
        assert spec.line >= 1
    assert len({s.hash for s in estate}) == 6


def test_example_resources_have_their_declared_values() -> None:
    estate = load_estate([EXAMPLE_SPECS], root=REPO_ROOT)
    model = estate.get("Model", "fraud-scorer")
    assert model is not None
    assert isinstance(model.resource, Model)
    spec = model.resource.spec
    assert spec.version == "1.0.0"
    assert spec.runtime.providers == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert spec.rollout.steps == [10, 50, 100]
    assert spec.signature.inputs[0].features is not None
    assert len(spec.signature.inputs[0].features) == 8
    target = estate.get("Target", "local-cpu")
    assert target is not None
    assert isinstance(target.resource, Target)
    assert target.resource.spec.auth is not None
    assert target.resource.spec.auth.token_env == "SPECOPS_LOCAL_TOKEN"
    assert target.resource.spec.capacity.memory_mib == 2048
    # The SLO and the model share a name: identity is Kind/name.
    assert estate.get("SLO", "fraud-scorer") is not None
    assert "SLO/fraud-scorer" in estate
    assert "Model/nothing" not in estate


def test_every_kind_validates_with_defaults_filled_in(
    repo: Path, write: Callable[[str, str | bytes], Path]
) -> None:
    for kind, text in ALL_KINDS.items():
        write(f"specs/{kind.lower()}.yaml", text)
    estate = load_estate([repo / "specs"])
    assert [s.resource.KIND for s in estate] == list(KINDS)
    assert [type(s.resource) for s in estate] == [Target, Dataset, Guardrail, Model, Prompt, SLO]

    target = estate.of_kind("Target")[0].resource
    assert isinstance(target, Target)
    assert target.spec.providers == ["CPUExecutionProvider"]
    assert target.spec.type == "specops-serve"
    assert not target.spec.has_gpu
    assert target.metadata.protected is False

    dataset = estate.of_kind("Dataset")[0].resource
    assert isinstance(dataset, Dataset)
    assert dataset.spec.format == "csv"
    assert dataset.spec.schema_.column("x") is not None
    assert dataset.spec.profile is not None
    assert dataset.spec.profile.features["x"].null_fraction == 0.0

    guardrail = estate.of_kind("Guardrail")[0].resource
    assert isinstance(guardrail, Guardrail)
    assert guardrail.spec.action == "block"
    assert [c.stage for c in guardrail.spec.checks] == ["input", "input"]

    model = estate.of_kind("Model")[0].resource
    assert isinstance(model, Model)
    assert model.spec.runtime.providers == ["CPUExecutionProvider"]
    assert model.spec.runtime.graph_optimization == "all"
    assert model.spec.rollout.auto_rollback is True
    assert model.spec.format == "onnx"
    assert [(r.kind, r.name) for r in model.references()] == [
        ("Target", "edge"),
        ("Dataset", "clicks"),
        ("Guardrail", "limits"),
    ]

    prompt = estate.of_kind("Prompt")[0].resource
    assert isinstance(prompt, Prompt)
    assert prompt.spec.format == "text"
    assert prompt.spec.variables[0].required is True

    slo = estate.of_kind("SLO")[0].resource
    assert isinstance(slo, SLO)
    assert slo.spec.window == "30d"
    assert slo.spec.on_breach.action == "alert"


def test_one_file_may_hold_several_kinds(
    repo: Path, write: Callable[[str, str | bytes], Path]
) -> None:
    write("specs/all.yaml", "---\n".join(ALL_KINDS.values()))
    estate = load_estate([repo / "specs"])
    assert len(estate) == 6
    assert estate.files == ["specs/all.yaml"]
    lines = [s.line for s in estate]
    assert lines[0] == 1
    assert len(set(lines)) == 6  # each resource remembers its own document


# -- unknown and missing fields -----------------------------------------------------


def test_unknown_field_suggests_the_close_one_at_the_key() -> None:
    text = TARGET + "  regoin: eu-west-1\n"
    diagnostic = error(text)
    assert diagnostic.message == "unknown field 'regoin'"
    assert diagnostic.hint == "did you mean 'region'?"
    assert diagnostic.field == "spec.regoin"
    assert diagnostic.code == "extra_forbidden"
    assert (diagnostic.line, diagnostic.column) == locate(text, "regoin")
    assert diagnostic.resource == "Target/edge"


def test_unknown_field_in_a_nested_flow_mapping_points_at_its_key() -> None:
    text = MODEL.replace(
        "targets: [edge]",
        "targets: [edge]\n  runtime: {providers: [CPUExecutionProvider], intraOpThread: 2}",
    )
    diagnostic = error(text)
    assert diagnostic.field == "spec.runtime.intraOpThread"
    assert diagnostic.hint == "did you mean 'intraOpThreads'?"
    assert (diagnostic.line, diagnostic.column) == locate(text, "intraOpThread")


def test_unknown_field_in_a_list_item() -> None:
    text = edit(MODEL, "shape: [-1, 2]}", "shape: [-1, 2], dtpye: float32}")
    found = errors(text)
    unknown = [d for d in found if d.code == "extra_forbidden"]
    assert len(unknown) == 1
    assert unknown[0].field == "spec.signature.outputs[0].dtpye"
    assert unknown[0].hint == "did you mean 'dtype'?"
    assert (unknown[0].line, unknown[0].column) == locate(text, "dtpye")


def test_unknown_field_without_a_close_match_lists_the_allowed_ones() -> None:
    text = edit(TARGET, "metadata:\n", "metadata:\n  zzz: 1\n")
    diagnostic = error(text)
    assert diagnostic.message == "unknown field 'zzz'"
    assert diagnostic.hint.startswith("allowed here: ")
    for name in ("annotations", "description", "labels", "name", "owner", "protected"):
        assert name in diagnostic.hint


def test_misspelt_required_field_is_reported_with_a_suggestion() -> None:
    found = errors(edit(TARGET, "  environment:", "  enviroment:"))
    unknown = [d for d in found if d.code == "extra_forbidden"]
    assert [d.hint for d in unknown] == ["did you mean 'environment'?"]


@pytest.mark.parametrize("name", ["token", "bearerToken", "password"])
def test_credential_under_auth_points_at_the_env_var_field(name: str) -> None:
    secret_value = "s3cr3t-value-do-not-print"
    text = TARGET + f"  auth:\n    tokenEnv: SPECOPS_TOKEN\n    {name}: {secret_value}\n"
    diagnostic = error(text)
    assert diagnostic.message == f"unknown field {name!r}"
    assert diagnostic.field == f"spec.auth.{name}"
    assert "environment variable" in diagnostic.hint
    assert "'tokenEnv'" in diagnostic.hint
    assert (diagnostic.line, diagnostic.column) == locate(text, f"{name}:")
    assert secret_value not in diagnostic.format()


def test_token_instead_of_token_env() -> None:
    text = TARGET + "  auth:\n    token: abc123\n"
    found = errors(text)
    unknown = next(d for d in found if d.code == "extra_forbidden")
    assert unknown.field == "spec.auth.token"
    assert "tokenEnv" in unknown.hint
    assert "secrets are never written in specs" in unknown.hint
    assert (unknown.line, unknown.column) == locate(text, "token:")


def test_credential_next_to_an_artifact_points_at_credentials_env() -> None:
    text = edit(MODEL, f"    sha256: {SHA}\n", f"    sha256: {SHA}\n    apiKey: abc\n")
    diagnostic = error(text)
    assert diagnostic.field == "spec.artifact.apiKey"
    assert "'credentialsEnv'" in diagnostic.hint


def test_secret_written_into_an_env_var_field_is_not_echoed() -> None:
    # Someone pastes the token itself where its variable's name belongs. The
    # error must say so without printing the token into CI logs.
    token = "ghp_" + "a1B2c3D4e5" * 4
    text = TARGET + f"  auth:\n    tokenEnv: {token}\n"
    diagnostic = error(text)
    assert diagnostic.field == "spec.auth.tokenEnv"
    assert (diagnostic.line, diagnostic.column) == locate(text, token)
    assert token not in diagnostic.format()
    assert token[:20] not in str(diagnostic.to_json())


def test_missing_required_field_points_at_its_mapping() -> None:
    text = TARGET.replace("  environment: development\n", "")
    diagnostic = error(text)
    assert diagnostic.message == "required field is missing"
    assert diagnostic.field == "spec.environment"
    assert diagnostic.hint == "add `environment:`"
    assert diagnostic.code == "missing"
    assert (diagnostic.line, diagnostic.column) == locate(text, "spec:")


def test_missing_field_in_a_list_item_points_at_the_item() -> None:
    text = edit(GUARDRAIL, "{type: schema, dataset: clicks}", "{type: schema}")
    diagnostic = error(text)
    assert diagnostic.field == "spec.checks[1].dataset"
    assert diagnostic.hint == "add `dataset:`"
    assert (diagnostic.line, diagnostic.column) == locate(text, "{type: schema}")


def test_missing_spec_and_name() -> None:
    text = "apiVersion: specops.dev/v1\nkind: Target\nmetadata:\n  owner: risk\n"
    found = {d.field: d for d in errors(text)}
    assert set(found) == {"metadata.name", "spec"}
    assert found["spec"].hint == "add `spec:`"
    assert (found["spec"].line, found["spec"].column) == (1, 1)
    assert (found["metadata.name"].line, found["metadata.name"].column) == locate(text, "metadata:")


def test_two_errors_in_one_document_are_both_reported() -> None:
    text = edit(TARGET, "name: edge", "name: Edge") + "  regoin: eu\n"
    found = errors(text)
    assert {d.field for d in found} == {"metadata.name", "spec.regoin"}


# -- values -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "shown"),
    [("2", "2"), ("2.0", "2.0"), ("1.5", "1.5")],
)
def test_version_that_reads_as_a_number_says_to_quote_it(written: str, shown: str) -> None:
    text = edit(MODEL, "version: 1.0.0", f"version: {written}")
    diagnostic = error(text)
    assert diagnostic.field == "spec.version"
    assert diagnostic.message == f"expected a string, got the number {shown}"
    assert diagnostic.hint == f'quote it: "{shown}"'
    line, column = locate(text, "version: ")
    assert (diagnostic.line, diagnostic.column) == (line, column + len("version: "))


@pytest.mark.parametrize("written", ["2026.10", "1.10", "3.20"])
def test_quote_hint_keeps_the_version_as_written(written: str) -> None:
    # YAML reads 2026.10 as the float 2026.1; quoting "2026.1" would silently
    # change the version, so the hint must quote what the file says.
    text = edit(DATASET, 'version: "2026-10"', f"version: {written}")
    diagnostic = error(text)
    assert diagnostic.field == "spec.version"
    assert diagnostic.hint == f'quote it: "{written}"'


@pytest.mark.parametrize(
    "name", ["Edge", "edge_1", "-edge", "edge-", "edge.local", "'1.0'", "'fraud scorer'"]
)
def test_bad_dns_name(name: str) -> None:
    text = edit(TARGET, "name: edge", f"name: {name}")
    diagnostic = error(text)
    assert diagnostic.field == "metadata.name"
    assert diagnostic.message.endswith("is not a valid name")
    assert "DNS-1123" in diagnostic.hint
    assert (diagnostic.line, diagnostic.column) == locate(text, name)


def test_dns_names_are_at_most_63_characters() -> None:
    assert valid(edit(TARGET, "name: edge", "name: " + "e" * 63)).name == "e" * 63
    diagnostic = error(edit(TARGET, "name: edge", "name: " + "e" * 64))
    assert diagnostic.field == "metadata.name"
    assert "63 characters" in diagnostic.message
    assert (diagnostic.line, diagnostic.column) == (4, 9)


@pytest.mark.parametrize("digest", ["abc123", "A" * 64, "g" * 64, "a" * 63, "'" + "a" * 65 + "'"])
def test_bad_sha256(digest: str) -> None:
    text = edit(MODEL, f"sha256: {SHA}", f"sha256: {digest}")
    diagnostic = error(text)
    assert diagnostic.field == "spec.artifact.sha256"
    assert "is not a SHA-256 digest" in diagnostic.message
    assert "sha256sum" in diagnostic.hint
    assert (diagnostic.line, diagnostic.column) == locate(text, digest)


def test_missing_sha256_on_an_artifact() -> None:
    text = edit(MODEL, f"    sha256: {SHA}\n", "")
    diagnostic = error(text)
    assert diagnostic.field == "spec.artifact.sha256"
    assert diagnostic.message == "required field is missing"
    assert diagnostic.hint == "add `sha256:`"
    assert (diagnostic.line, diagnostic.column) == locate(text, "artifact:")


def test_missing_sha256_on_a_dataset_and_a_classifier() -> None:
    assert error(edit(DATASET, f"    sha256: {SHA}\n", "")).field == "spec.artifact.sha256"
    text = edit(
        GUARDRAIL,
        "    - {type: schema, dataset: clicks}\n",
        "    - {type: classifier, threshold: 0.5, artifact: {uri: 'hf://org/clf'}}\n",
    )
    diagnostic = error(text)
    assert diagnostic.field == "spec.checks[1].artifact.sha256"


def test_wrong_api_version() -> None:
    text = TARGET.replace("specops.dev/v1", "specops.dev/v2")
    diagnostic = error(text)
    assert diagnostic.field == "apiVersion"
    assert diagnostic.message == "unsupported apiVersion 'specops.dev/v2'"
    assert "specops.dev/v1" in diagnostic.hint
    assert (diagnostic.line, diagnostic.column) == (1, 13)
    assert diagnostic.resource == "Target/edge"


def test_missing_api_version() -> None:
    diagnostic = error(TARGET.replace("apiVersion: specops.dev/v1\n", ""))
    assert diagnostic.field == "apiVersion"
    assert diagnostic.message == "required field is missing"
    assert diagnostic.hint == "add `apiVersion: specops.dev/v1`"


@pytest.mark.parametrize(
    ("kind", "suggestion"),
    [
        ("Modle", "Model"),
        ("model", "Model"),
        ("Targte", "Target"),
        ("SLOs", "SLO"),
        ("Guardrails", "Guardrail"),
    ],
)
def test_unknown_kind_suggests_the_close_one(kind: str, suggestion: str) -> None:
    text = TARGET.replace("kind: Target", f"kind: {kind}")
    diagnostic = error(text)
    assert diagnostic.field == "kind"
    assert diagnostic.message == f"unknown kind {kind!r}"
    assert diagnostic.hint == f"did you mean {suggestion!r}?"
    assert (diagnostic.line, diagnostic.column) == (2, 7)


def test_unknown_kind_without_a_close_one_lists_the_kinds() -> None:
    diagnostic = error(TARGET.replace("kind: Target", "kind: Banana"))
    assert diagnostic.hint == "known kinds: Target, Dataset, Guardrail, Model, Prompt, SLO"


def test_missing_kind() -> None:
    diagnostic = error(TARGET.replace("kind: Target\n", ""))
    assert diagnostic.field == "kind"
    assert diagnostic.message == "required field is missing"
    assert "Model" in diagnostic.hint


@pytest.mark.parametrize(
    ("text", "what"),
    [("- a\n- b\n", "a list"), ("just text\n", "str"), ("42\n", "int")],
)
def test_document_that_is_not_a_mapping(text: str, what: str) -> None:
    diagnostic = error(text)
    assert diagnostic.message.startswith("a spec document must be a mapping")
    assert what in diagnostic.message
    assert "apiVersion" in diagnostic.hint
    assert (diagnostic.line, diagnostic.column) == (1, 1)


def test_empty_file_is_an_error() -> None:
    diagnostic = error("# nothing here yet\n")
    assert diagnostic.message == "file has no spec documents"
    assert (diagnostic.line, diagnostic.column) == (1, 1)


def test_bad_document_among_good_ones_is_located_in_the_file() -> None:
    text = TARGET + "---\n" + edit(PROMPT, "version: 1.0.0", "version: 1")
    resources, diagnostics = parse(text)
    assert [r.id for r in resources] == ["Target/edge"]
    (diagnostic,) = diagnostics
    assert diagnostic.field == "spec.version"
    assert diagnostic.resource == "Prompt/summary"
    # Line 6 of the second document, which starts after the target and '---'.
    assert (diagnostic.line, diagnostic.column) == (TARGET.count("\n") + 1 + 6, 12)


def test_literal_with_a_typo_suggests_the_option() -> None:
    text = TARGET.replace("environment: development", "environment: prod")
    diagnostic = error(text)
    assert diagnostic.field == "spec.environment"
    assert "'development', 'staging' or 'production'" in diagnostic.message
    assert diagnostic.hint == "did you mean 'production'?"


def test_quoted_number_says_to_remove_the_quotes() -> None:
    diagnostic = error(TARGET + "  accelerators: {gpus: '2'}\n")
    assert diagnostic.field == "spec.accelerators.gpus"
    assert diagnostic.hint == "remove the quotes"


def test_gpu_provider_needs_gpus() -> None:
    diagnostic = error(TARGET + "  providers: [CUDAExecutionProvider]\n")
    assert diagnostic.field == "spec"
    assert "accelerators.gpus is 0" in diagnostic.message
    assert valid(TARGET + "  providers: [CUDAExecutionProvider]\n  accelerators: {gpus: 1}\n")


# -- discriminated unions -------------------------------------------------------------


@pytest.mark.parametrize(
    ("typo", "meant"),
    [("rnage", "range"), ("regexp", "regex"), ("denylist", "denyList"), ("size_", "size")],
)
def test_guardrail_check_with_an_unknown_type(typo: str, meant: str) -> None:
    text = edit(GUARDRAIL, "{type: range,", f"{{type: {typo},")
    diagnostic = error(text)
    assert diagnostic.field == "spec.checks[0]"
    assert diagnostic.message.startswith(f"unknown type {typo!r} (expected one of ")
    for tag in ("range", "schema", "regex", "denyList", "pii", "size", "classifier"):
        assert repr(tag) in diagnostic.message
    assert diagnostic.hint == f"did you mean {meant!r}?"
    assert (diagnostic.line, diagnostic.column) == locate(text, f"{{type: {typo}")


def test_guardrail_check_without_a_type() -> None:
    text = edit(GUARDRAIL, "{type: range, feature: x,", "{feature: x,")
    diagnostic = error(text)
    assert diagnostic.field == "spec.checks[0]"
    assert "missing `type`" in diagnostic.message


def test_error_inside_a_check_names_the_check_not_its_type_tag() -> None:
    text = edit(GUARDRAIL, "min: 0, max: 1", "min: 2, max: 1")
    diagnostic = error(text)
    assert diagnostic.message == "min (2.0) is greater than max (1.0)"
    assert diagnostic.field == "spec.checks[0]"
    assert (diagnostic.line, diagnostic.column) == locate(text, "{type: range")


def test_unknown_field_inside_a_check_knows_the_checks_fields() -> None:
    text = edit(GUARDRAIL, "min: 0, max: 1", "min: 0, maxx: 1")
    found = errors(text)
    unknown = next(d for d in found if d.code == "extra_forbidden")
    assert unknown.field == "spec.checks[0].maxx"
    assert unknown.hint == "did you mean 'max'?"
    assert (unknown.line, unknown.column) == locate(text, "maxx")


def test_slo_objective_with_an_unknown_type() -> None:
    text = edit(SLO_SPEC, "type: latency", "type: latancy")
    diagnostic = error(text)
    assert diagnostic.field == "spec.objectives[0]"
    assert diagnostic.hint == "did you mean 'latency'?"


def test_redact_applies_to_text_checks_only() -> None:
    diagnostic = error(edit(GUARDRAIL, "max: 1}", "max: 1, action: redact}"))
    assert "redact applies to text checks" in diagnostic.message
    assert valid(
        edit(GUARDRAIL, "{type: range, feature: x, min: 0, max: 1}", "{type: pii, action: redact}")
    )


def test_regex_that_does_not_compile() -> None:
    text = edit(
        GUARDRAIL, "{type: range, feature: x, min: 0, max: 1}", "{type: regex, patterns: ['(']}"
    )
    diagnostic = error(text)
    assert diagnostic.field == "spec.checks[0].patterns"
    assert "does not compile" in diagnostic.message


# -- rollout ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rollout", "message"),
    [
        ("{strategy: canary, steps: [10, 50]}", "canary steps must end at 100, not 50"),
        ("{strategy: canary, steps: [50, 10, 100]}", "canary steps must increase: [50, 10, 100]"),
        ("{strategy: canary, steps: [10, 10, 100]}", "canary steps must increase: [10, 10, 100]"),
        ("{strategy: canary}", "a canary rollout needs steps, e.g. steps: [10, 50, 100]"),
        ("{strategy: direct, steps: [100]}", "steps apply to the canary strategy only"),
    ],
)
def test_canary_steps(rollout: str, message: str) -> None:
    text = edit(
        MODEL, "rollout:\n    strategy: canary\n    steps: [10, 50, 100]", f"rollout: {rollout}"
    )
    diagnostic = error(text)
    assert diagnostic.message == message
    assert diagnostic.field == "spec.rollout"
    assert (diagnostic.line, diagnostic.column) == locate(text, rollout)


def test_canary_step_over_100() -> None:
    text = edit(MODEL, "steps: [10, 50, 100]", "steps: [10, 150]")
    diagnostic = error(text)
    assert diagnostic.field == "spec.rollout.steps[1]"
    assert (diagnostic.line, diagnostic.column) == locate(text, "150")


def test_canary_that_goes_straight_to_100_is_fine() -> None:
    model = valid(edit(MODEL, "steps: [10, 50, 100]", "steps: [100]"))
    assert isinstance(model, Model)
    assert model.spec.rollout.steps == [100]


def test_auto_rollback_false_is_refused_not_ignored() -> None:
    text = edit(MODEL, "steps: [10, 50, 100]", "steps: [10, 50, 100]\n    autoRollback: false")
    diagnostic = error(text)
    assert diagnostic.field == "spec.rollout.autoRollback"
    assert "always rolls back" in diagnostic.message and "remove the field" in diagnostic.message
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "autoRollback" in row)
    assert diagnostic.line == line
    assert isinstance(valid(edit(MODEL, "steps: [10, 50, 100]", "steps: [10, 50, 100]\n    autoRollback: true")), Model)


def test_analysis_failure_limit_defaults_to_one_and_is_bounded() -> None:
    steps = "steps: [10, 50, 100]"
    model = valid(edit(MODEL, steps, steps + "\n    analysis: {slo: scorer}"))
    assert isinstance(model, Model) and model.spec.rollout.analysis is not None
    assert model.spec.rollout.analysis.failure_limit == 1
    assert "failureLimit" not in model.canonical()["spec"]["rollout"]["analysis"], "a default keeps old hashes"
    strict = valid(edit(MODEL, steps, steps + "\n    analysis: {slo: scorer, failureLimit: 0}"))
    assert isinstance(strict, Model) and strict.spec.rollout.analysis is not None
    assert strict.spec.rollout.analysis.failure_limit == 0
    text = edit(MODEL, steps, steps + "\n    analysis: {slo: scorer, failureLimit: -1}")
    diagnostic = error(text)
    assert diagnostic.field == "spec.rollout.analysis.failureLimit"
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "failureLimit" in row)
    assert (diagnostic.line, diagnostic.column) == (line, text.splitlines()[line - 1].index("-1") + 1)


# -- artifact uris ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("../x.onnx", "path escapes the repository"),
        ("models/../../x.onnx", "path escapes the repository"),
        ("..", "path escapes the repository"),
        ("/srv/models/x.onnx", "absolute paths are not portable"),
        ("'C:\\models\\x.onnx'", "absolute paths are not portable"),
        ("'models\\x.onnx'", "use '/' as the path separator"),
        ("file://relative/x.onnx", "a file:// uri needs an absolute path"),
        ("file://relative", "a file:// uri needs an absolute path"),
        ("ftp://host/x.onnx", "unsupported uri scheme 'ftp'"),
        ("s3://bucket", "needs a host or bucket and a path"),
        ("' models/x.onnx'", "without surrounding spaces"),
    ],
)
def test_bad_artifact_uri(uri: str, message: str) -> None:
    text = edit(MODEL, "uri: s3://risk-models/scorer-1.0.0.onnx", f"uri: {uri}")
    diagnostic = error(text)
    assert diagnostic.field == "spec.artifact.uri"
    assert message in diagnostic.message
    assert (diagnostic.line, diagnostic.column) == locate(text, uri)


def test_unsupported_scheme_lists_the_supported_ones() -> None:
    diagnostic = error(
        edit(MODEL, "uri: s3://risk-models/scorer-1.0.0.onnx", "uri: ftp://host/x.onnx")
    )
    for scheme in ("s3", "gs", "az", "https", "hf", "oci", "file"):
        assert scheme in diagnostic.message


@pytest.mark.parametrize(
    "uri",
    [
        "s3://bucket/key",
        "s3://risk-models/scorer/1.0.0/model.onnx",
        "gs://bucket/m.onnx",
        "az://container/m.onnx",
        "https://models.example.com/m.onnx",
        "hf://org/model",
        "oci://registry.example.com/models/m",
        "file:///srv/models/m.onnx",
        "file://localhost/srv/models/m.onnx",
        "models/m.onnx",
        "models/../m.onnx",
    ],
)
def test_good_artifact_uri(uri: str) -> None:
    model = valid(edit(MODEL, "uri: s3://risk-models/scorer-1.0.0.onnx", f"uri: {uri}"))
    assert isinstance(model, Model)
    assert model.spec.artifact.uri == uri


def test_remote_artifacts_need_no_local_file(
    repo: Path, write: Callable[[str, str | bytes], Path]
) -> None:
    for kind, text in ALL_KINDS.items():
        write(f"specs/{kind.lower()}.yaml", text)
    write(
        "specs/model.yaml",
        edit(MODEL, "uri: s3://risk-models/scorer-1.0.0.onnx", "uri: file:///nowhere/m.onnx"),
    )
    assert len(load_estate([repo / "specs"], verify_artifacts=True)) == 6


# -- secrets ----------------------------------------------------------------------------


SECRET_SHAPES = {
    "a GitHub token": "ghp_" + "Ab3dE" * 8,
    "an AWS access key id": "AKIA" + "IOSFODNN7EXAMPLE",
    "an API secret key": "sk-" + "proj" + "x" * 24,
    "a Slack token": "xoxb-" + "1234567890-abcdef",
    "a private key": "-----BEGIN RSA " + "PRIVATE KEY-----",
}


def load_errors(
    repo: Path, write: Callable[[str, str | bytes], Path], text: str
) -> list[Diagnostic]:
    write("specs/spec.yaml", text)
    with pytest.raises(SpecError) as info:
        load_estate([repo / "specs"])
    return info.value.errors


@pytest.mark.parametrize("what", list(SECRET_SHAPES))
def test_secret_looking_value_in_an_annotation_is_rejected(
    repo: Path, write: Callable[[str, str | bytes], Path], what: str
) -> None:
    secret = SECRET_SHAPES[what]
    text = edit(TARGET, "  name: edge\n", f"  name: edge\n  annotations:\n    note: '{secret}'\n")
    (diagnostic,) = load_errors(repo, write, text)
    assert diagnostic.message == f"value looks like {what}"
    assert diagnostic.field == "metadata.annotations.note"
    assert diagnostic.code == "secret"
    assert "environment variable" in diagnostic.hint
    assert "rotate" in diagnostic.hint
    assert (diagnostic.line, diagnostic.column) == locate(text, f"'{secret}'")
    assert secret not in diagnostic.format()


def test_secret_anywhere_in_the_spec_is_rejected(
    repo: Path, write: Callable[[str, str | bytes], Path]
) -> None:
    token = SECRET_SHAPES["a GitHub token"]
    text = edit(
        TARGET, "url: http://127.0.0.1:8480", f"url: http://127.0.0.1:8480\n  region: 'eu {token}'"
    )
    (diagnostic,) = load_errors(repo, write, text)
    assert diagnostic.field == "spec.region"
    assert "GitHub token" in diagnostic.message


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ("labels", "api-token"),
        ("labels", "db_password"),
        ("annotations", "secret"),
        ("annotations", "aws-credentials"),
    ],
)
def test_credential_named_label_or_annotation_is_rejected(
    repo: Path, write: Callable[[str, str | bytes], Path], section: str, key: str
) -> None:
    text = edit(TARGET, "  name: edge\n", f"  name: edge\n  {section}:\n    {key}: x\n")
    (diagnostic,) = load_errors(repo, write, text)
    assert diagnostic.field == f"metadata.{section}.{key}"
    assert diagnostic.message == f"{section[:-1]} {key!r} looks like it carries a credential"
    assert diagnostic.code == "secret"
    assert diagnostic.line == locate(text, key)[0]


def test_ordinary_labels_and_annotations_are_not_credentials(
    repo: Path, write: Callable[[str, str | bytes], Path]
) -> None:
    # Words that merely contain "token" or "secret" are everyday vocabulary
    # of language-model operations.
    text = edit(
        TARGET,
        "  name: edge\n",
        "  name: edge\n  labels: {tokenizer: bpe}\n  annotations: {max-tokens: '256', secretariat: risk}\n",
    )
    write("specs/spec.yaml", text)
    assert len(load_estate([repo / "specs"])) == 1


# -- all errors of a run ---------------------------------------------------------------


def test_every_error_of_every_file_is_reported(
    repo: Path, write: Callable[[str, str | bytes], Path]
) -> None:
    write("specs/a.yaml", edit(TARGET, "name: edge", "name: Edge"))
    write("specs/b.yaml", DATASET.replace('version: "2026-10"', "version: 7") + "  extra: 1\n")
    write("specs/c.yaml", GUARDRAIL.replace("kind: Guardrail", "kind: Guardrial"))
    with pytest.raises(SpecError) as info:
        load_estate([repo / "specs"])
    found = [(d.path, d.field) for d in info.value.errors]
    assert found == [
        ("specs/a.yaml", "metadata.name"),
        ("specs/b.yaml", "spec.version"),
        ("specs/b.yaml", "spec.extra"),
        ("specs/c.yaml", "kind"),
    ]
    assert str(info.value) == "4 errors in 3 files"


def test_single_error_summary_is_the_located_line(
    repo: Path, write: Callable[[str, str | bytes], Path]
) -> None:
    write("specs/a.yaml", edit(TARGET, "name: edge", "name: Edge"))
    with pytest.raises(SpecError) as info:
        load_estate([repo / "specs"])
    assert str(info.value).startswith(
        "specs/a.yaml:4:9: error: metadata.name: 'Edge' is not a valid name"
    )


# -- canonical hash ---------------------------------------------------------------------


GUARDRAIL_REWRITTEN = """\
# The same guardrail, written differently.
spec:
  checks:
    - max: 1.0   # a float written as a float
      feature: "x"
      min: 0.0
      type: range
      stage: input
    - dataset: clicks
      type: schema
      allowNan: false
  action: block
kind: Guardrail
metadata: {protected: false, labels: {}, name: limits, annotations: {}}
apiVersion: "specops.dev/v1"
"""


def test_hash_ignores_key_order_formatting_comments_style_and_defaults() -> None:
    assert hash_of(GUARDRAIL) == hash_of(GUARDRAIL_REWRITTEN)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("max: 1}", "max: 1.0}"),
        ("min: 0,", "min: 0.0,"),
        ("name: limits\n", "name: limits\n  protected: false\n"),
        ("name: limits\n", "name: limits\n  labels: {}\n"),
        ("spec:\n", "spec:\n  action: block\n"),
        ("spec:\n", "# a comment\nspec:  # another\n"),
        ("{type: schema, dataset: clicks}", "{dataset: clicks, type: schema}"),
        ("{type: schema, dataset: clicks}", "\n      type: schema\n      dataset: 'clicks'"),
    ],
)
def test_hash_is_stable_under_equivalent_edits(old: str, new: str) -> None:
    assert hash_of(edit(GUARDRAIL, old, new)) == hash_of(GUARDRAIL)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("max: 1}", "max: 0.9}"),
        ("name: limits\n", "name: limits\n  protected: true\n"),
        ("name: limits\n", "name: limits\n  labels: {team: risk}\n"),
        ("spec:\n", "spec:\n  action: flag\n"),
        ("feature: x", "feature: y"),
        ("dataset: clicks}", "dataset: clicks, allowNan: true}"),
    ],
)
def test_hash_changes_with_a_real_change(old: str, new: str) -> None:
    assert hash_of(edit(GUARDRAIL, old, new)) != hash_of(GUARDRAIL)


def test_reordering_checks_changes_the_hash() -> None:
    swapped = edit(
        GUARDRAIL,
        "    - {type: range, feature: x, min: 0, max: 1}\n    - {type: schema, dataset: clicks}\n",
        "    - {type: schema, dataset: clicks}\n    - {type: range, feature: x, min: 0, max: 1}\n",
    )
    # Checks run in order: reordering them is a change.
    assert hash_of(swapped) != hash_of(GUARDRAIL)


def test_hash_is_pinned() -> None:
    # The identity of a spec must not drift between releases or between the
    # compiled core and its pure-Python twin (this runs under both).
    assert hash_of(GUARDRAIL) == "ee76c1f714b36e473fb0bba41c68e93317260d4c0b19ac784c5c34d81b5c9819"


def test_loaded_spec_hash_is_the_canonical_hash(
    repo: Path, write: Callable[[str, str | bytes], Path]
) -> None:
    write("specs/a.yaml", TARGET)
    write(
        "specs/b.yaml",
        GUARDRAIL_REWRITTEN.replace(
            "- dataset: clicks\n      type: schema\n      allowNan: false\n",
            "- {type: size, maxBytes: 1024}\n",
        ),
    )
    estate = load_estate([repo / "specs"])
    for spec in estate:
        assert spec.hash == canonical_hash(spec.resource.canonical())
    assert estate.specs["Target/edge"].hash == hash_of(TARGET)
