"""Trust in what the specs say: where they come from, what they may hold, how errors are told.

Issue 11, items 5 to 8, as properties over real git repositories (pygit2,
real symlinks, a real gitlink entry), real ONNX files and every loader:
``specops validate`` (the work tree), ``plan --worktree`` and ``plan --ref``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import onnx
import pygit2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper

from specops._cli import main
from specops._errors import Diagnostic, SpecError, SpecOpsError
from specops.plan import load_desired_state
from specops.serve._errors import HTTPError
from specops.serve._registry import load_version
from specops.spec import Model, load_estate, parse_bytes
from tests.conftest import AUTHOR, EXAMPLE_SPECS
from tests.helpers.git import commit

MODEL = "specs/models/fraud-scorer.yaml"
SECRET = "s3cr3t-outside-the-repo"


# -- real repositories ----------------------------------------------------------


@contextlib.contextmanager
def example_repository() -> Iterator[Path]:
    """A fresh repository holding the example estate, committed (Hypothesis needs one per example)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        pygit2.init_repository(str(root), initial_head="main")
        shutil.copytree(EXAMPLE_SPECS, root / "specs")
        commit(root, {}, "example estate")
        yield root


Loader = Callable[[Path], object]


def _validate(repo: Path) -> object:
    return load_estate([repo / "specs"], root=repo, verify_artifacts=True)


def _plan_worktree(repo: Path) -> object:
    return load_desired_state(repo, worktree=True, cache_dir=False)


def _plan_ref(repo: Path) -> object:
    return load_desired_state(repo, ref="HEAD", cache_dir=False)


LOADERS: dict[str, Loader] = {
    "validate": _validate,
    "plan --worktree": _plan_worktree,
    "plan --ref": _plan_ref,
}


def refusal(load: Loader, repo: Path) -> list[Diagnostic]:
    with pytest.raises(SpecError) as caught:
        load(repo)
    return caught.value.errors


def commit_with_gitlink(repo: Path, path: str, target: pygit2.Oid) -> None:
    """Commit the work tree plus a submodule entry (mode 160000) at ``path``, as `git submodule add` does."""
    git = pygit2.Repository(str(repo))
    git.index.read()
    git.index.add(pygit2.IndexEntry(path, target, pygit2.enums.FileMode.COMMIT))
    git.index.write()
    tree = git.index.write_tree()
    git.create_commit("HEAD", AUTHOR, AUTHOR, "add a submodule", tree, [git.head.target])


def commit_all(repo: Path) -> None:
    git = pygit2.Repository(str(repo))
    git.index.add_all()
    git.index.write()
    git.create_commit("HEAD", AUTHOR, AUTHOR, "links", git.index.write_tree(), [git.head.target])


# -- 5. specs come only from inside the repository ------------------------------

link_places = st.sampled_from(["specs", "specs/models", "specs/extra/deep"])
link_names = st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    place=link_places,
    name=link_names,
    suffix=st.sampled_from([".yaml", ".yml"]),
    absolute=st.booleans(),
    loader=st.sampled_from(sorted(LOADERS)),
)
def test_a_symlink_that_leaves_the_repository_is_refused_where_it_is(
    place: str, name: str, suffix: str, absolute: bool, loader: str
) -> None:
    with example_repository() as repo:
        outside = repo.parent / "outside.yaml"
        # A valid spec with a secret in it: reading it would plan it and could print it.
        outside.write_text(
            (repo / MODEL).read_text().replace("fraud-scorer\n", f"stolen\n  annotations: {{k: {SECRET}}}\n", 1)
        )
        link = repo / place / f"{name}{suffix}"
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(outside if absolute else os.path.relpath(outside, link.parent))
        commit_all(repo)
        errors = refusal(LOADERS[loader], repo)
        shown = f"{place}/{name}{suffix}"
        assert [(d.path, d.code) for d in errors] == [(shown, "symlink_outside")]
        assert "leaves the repository" in errors[0].message
        assert errors[0].line >= 1 and errors[0].hint
        text = " ".join(d.format() for d in errors)
        assert SECRET not in text and "not a str" not in text


@pytest.mark.parametrize("loader", sorted(LOADERS))
def test_a_symlinked_directory_is_reported_not_skipped(example_repo: Path, tmp_path: Path, loader: str) -> None:
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(EXAMPLE_SPECS / "models", elsewhere)
    (example_repo / "specs" / "more").symlink_to(elsewhere)
    commit_all(example_repo)
    errors = refusal(LOADERS[loader], example_repo)
    assert [(d.path, d.code) for d in errors] == [("specs/more", "symlink_outside")]


@pytest.mark.parametrize("loader", sorted(LOADERS))
def test_a_symlink_inside_the_repository_is_reported(example_repo: Path, loader: str) -> None:
    """A link that stays inside is not followed either: at a ref git holds only its target path."""
    (example_repo / "docs").mkdir()
    (example_repo / "specs" / "targets" / "local-cpu.yaml").rename(example_repo / "docs" / "target.yaml")
    (example_repo / "specs" / "targets" / "local-cpu.yaml").symlink_to("../../docs/target.yaml")
    commit_all(example_repo)
    errors = refusal(LOADERS[loader], example_repo)
    links = [d for d in errors if d.code.startswith("symlink")]
    assert [(d.path, d.code) for d in links] == [("specs/targets/local-cpu.yaml", "symlink")]
    # validate goes on to the references: the target the link stood for is not there
    assert all(d.path != "specs/targets/local-cpu.yaml" for d in errors if d not in links)
    assert "'../../docs/target.yaml'" in links[0].message
    assert "replace the link with the file" in links[0].hint


@pytest.mark.parametrize("loader", sorted(LOADERS))
def test_a_submodule_under_the_specs_root_is_reported(example_repo: Path, loader: str) -> None:
    # The submodule is a real repository with a spec of its own, checked out in place.
    nested = example_repo / "specs" / "vendor"
    pygit2.init_repository(str(nested), initial_head="main")
    shutil.copy(EXAMPLE_SPECS / "targets" / "local-cpu.yaml", nested / "other.yaml")
    (nested / "other.yaml").write_text((nested / "other.yaml").read_text().replace("local-cpu", "vendored"))
    head = pygit2.Oid(hex=commit(nested, {}, "vendored specs"))
    commit_with_gitlink(example_repo, "specs/vendor", head)
    tree = pygit2.Repository(str(example_repo)).head.peel(pygit2.Commit).tree
    assert tree["specs"]["vendor"].filemode == pygit2.enums.FileMode.COMMIT  # a real gitlink
    errors = refusal(LOADERS[loader], example_repo)
    assert [(d.path, d.code) for d in errors] == [("specs/vendor", "submodule")]
    assert "another repository" in errors[0].message


def test_a_gitlink_alone_is_reported_at_a_ref(example_repo: Path) -> None:
    """A clone without `submodule update` has the gitlink and an empty directory: still reported."""
    commit_with_gitlink(example_repo, "specs/vendor", pygit2.Oid(hex="1" * 40))
    errors = refusal(_plan_ref, example_repo)
    assert [(d.path, d.code) for d in errors] == [("specs/vendor", "submodule")]


def test_the_specs_root_itself_a_symlink_out_is_refused(repo: Path, tmp_path: Path) -> None:
    shutil.copytree(EXAMPLE_SPECS, tmp_path / "elsewhere")
    (repo / "specs").symlink_to(tmp_path / "elsewhere")
    (repo / "README").write_text("x")
    commit(repo, {}, "linked specs")
    for name in ("validate", "plan --worktree"):
        errors = refusal(LOADERS[name], repo)
        assert [(d.path, d.code) for d in errors] == [("specs", "symlink_outside")]
    # At a ref the pipeline's own check of the root comes first (a link is a blob there): refused too.
    with pytest.raises(SpecOpsError, match="specs"):
        _plan_ref(repo)


def test_validate_cli_refuses_the_link_and_prints_no_outside_content(
    example_repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = tmp_path / "passwd.yaml"
    outside.write_text(f"root: {SECRET}\n")
    (example_repo / "specs" / "passwd.yaml").symlink_to(outside)
    monkeypatch.chdir(example_repo)
    assert main(["validate", "--format", "json", "specs"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert [(e["path"], e["code"]) for e in report["errors"]] == [("specs/passwd.yaml", "symlink_outside")]
    assert SECRET not in json.dumps(report)


def test_hidden_directories_stay_skipped(example_repo: Path, tmp_path: Path) -> None:
    (example_repo / "specs" / ".cache").mkdir()
    (example_repo / "specs" / ".cache" / "x.yaml").symlink_to(tmp_path)
    commit_all(example_repo)
    for loader in LOADERS.values():
        loader(example_repo)  # no error: hidden directories are not specs, on disk or in a tree


# -- 6. no credentials in urls ----------------------------------------------------

TARGET = """\
apiVersion: specops.dev/v1
kind: Target
metadata: {{name: edge}}
spec:
  url: "{url}"
  environment: production
"""

userinfo_part = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="@/?#\"\\"),
    min_size=1,
    max_size=20,
)


@settings(max_examples=150, deadline=None)
@given(
    user=userinfo_part,
    password=st.none() | userinfo_part,
    scheme=st.sampled_from(["http", "https", "HTTP"]),
    host=st.sampled_from(["127.0.0.1", "serve.internal", "[::1]", "gpu-east.example.com"]),
    port=st.none() | st.integers(1, 65535),
    path=st.sampled_from(["", "/", "/serve", "/a b"]),
)
def test_a_url_with_userinfo_is_always_refused_and_never_echoed(
    user: str, password: str | None, scheme: str, host: str, port: int | None, path: str
) -> None:
    user, password = f"U5ER{user}", None if password is None else f"PA55{password}"
    userinfo = user if password is None else f"{user}:{password}"
    url = f"{scheme}://{userinfo}@{host}{'' if port is None else f':{port}'}{path}"
    resources, problems = parse_bytes(TARGET.format(url=url).encode(), "t.yaml")
    assert resources == []
    assert [d.field for d in problems] == ["spec.url"]
    text = problems[0].format() + json.dumps(problems[0].to_json())
    assert user not in text and (password is None or password not in text)
    assert "credentials" in problems[0].message
    assert "auth.tokenEnv" in problems[0].hint


@pytest.mark.parametrize(
    "uri", ["https://alice:hunter2@models.example.com/m.onnx", "s3://AKIAKEY:hunter2@bucket/m.onnx"]
)
def test_an_artifact_uri_with_userinfo_is_refused(uri: str) -> None:
    text = (EXAMPLE_SPECS / "models" / "fraud-scorer.yaml").read_text()
    text = text.replace("uri: specs/artifacts/fraud-scorer-1.0.0.onnx", f"uri: {uri}")
    _, problems = parse_bytes(text.encode(), "m.yaml")
    assert [(d.field, d.message) for d in problems] == [
        ("spec.artifact.uri", "the uri holds credentials (user:password@)")
    ]
    assert "credentialsEnv" in problems[0].hint
    assert "hunter2" not in problems[0].format()


def test_a_url_without_userinfo_still_loads() -> None:
    resources, problems = parse_bytes(TARGET.format(url="http://serve.internal:8480/x@y").encode(), "t.yaml")
    assert problems == [] and len(resources) == 1


# -- 8. the model's signature is checked before merge ------------------------------


def classifier(zipmap: bool, *, name: str = "features", width: int = 8) -> bytes:
    """A linear classifier as skl2onnx exports it: with its default ZipMap output, or a tensor."""
    x = helper.make_tensor_value_info(name, TensorProto.FLOAT, [None, width])
    label = helper.make_tensor_value_info("label", TensorProto.INT64, [None])
    linear = helper.make_node(
        "LinearClassifier", [name], ["label", "scores"], domain="ai.onnx.ml",
        classlabels_ints=[0, 1], coefficients=[0.1] * (2 * width), intercepts=[0.0, 0.0],
        post_transform="SOFTMAX",
    )
    nodes = [linear]
    if zipmap:
        probabilities = helper.make_value_info(
            "probabilities",
            helper.make_sequence_type_proto(
                helper.make_map_type_proto(TensorProto.INT64, helper.make_tensor_type_proto(TensorProto.FLOAT, None))
            ),
        )
        nodes.append(
            helper.make_node("ZipMap", ["scores"], ["probabilities"], domain="ai.onnx.ml", classlabels_int64s=[0, 1])
        )
    else:
        probabilities = helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 2])
        nodes.append(helper.make_node("Identity", ["scores"], ["probabilities"]))
    graph = helper.make_graph(nodes, "classifier", [x], [label, probabilities])
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("ai.onnx.ml", 1)],
        ir_version=9,
    )
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


def put_artifact(repo: Path, data: bytes, uri: str | None = None) -> str:
    """Write the model file and point the example Model at it (uri and sha256); returns the uri."""
    path = repo / "specs" / "artifacts" / "candidate.onnx"
    path.write_bytes(data)
    uri = uri or "specs/artifacts/candidate.onnx"
    text = (repo / MODEL).read_text()
    text = text.replace("uri: specs/artifacts/fraud-scorer-1.0.0.onnx", f"uri: {uri}")
    text = text.replace(
        "e2b442b9e9e0a0d830cf2371e54341f1e30351df991f25171f93771050631f8a", hashlib.sha256(data).hexdigest()
    )
    text = text.replace("    sizeBytes: 1032\n", "")
    text = text.replace("    outputs:\n      - {name: probabilities", "    outputs:\n      - {name: label, dtype: int64, shape: [-1]}\n      - {name: probabilities")
    (repo / MODEL).write_text(text)
    commit(repo, {}, "candidate model")
    return uri


def apply_message(repo: Path, data: bytes) -> str:
    """What the serving target says when apply loads this model: the reference wording."""
    model = next(s for s in load_estate([repo / "specs"], root=repo).of_kind("Model"))
    assert isinstance(model.resource, Model)
    with pytest.raises(HTTPError) as caught:
        load_version(model.resource, model.hash, data)
    where = f"Model/{model.resource.name} {model.resource.spec.version}: "
    return caught.value.message.removeprefix(where)


@pytest.mark.parametrize("loader", sorted(LOADERS))
def test_a_zipmap_classifier_fails_before_merge_with_applys_message(example_repo: Path, loader: str) -> None:
    data = classifier(zipmap=True)
    put_artifact(example_repo, data)
    errors = refusal(LOADERS[loader], example_repo)
    assert [(d.code, d.field, d.path) for d in errors] == [("signature", "spec.signature", MODEL)]
    assert "output 'probabilities' is seq(map(int64,tensor(float))) in the model, float32 in the spec" in errors[0].message
    assert errors[0].message == apply_message(example_repo, data)
    assert "ZipMap" in errors[0].hint


def test_the_same_classifier_without_zipmap_passes(example_repo: Path) -> None:
    put_artifact(example_repo, classifier(zipmap=False))
    for loader in LOADERS.values():
        loader(example_repo)


def test_a_file_uri_artifact_is_checked_too(example_repo: Path, tmp_path: Path) -> None:
    data = classifier(zipmap=True)
    outside = tmp_path / "models" / "m.onnx"
    outside.parent.mkdir()
    outside.write_bytes(data)
    put_artifact(example_repo, data, uri=outside.as_uri())
    for loader in LOADERS.values():
        assert [d.code for d in refusal(loader, example_repo)] == ["signature"]


def test_validate_without_verify_does_not_read_the_model(example_repo: Path) -> None:
    put_artifact(example_repo, classifier(zipmap=True))
    load_estate([example_repo / "specs"], root=example_repo)  # only --verify-artifacts opens the file


def test_bytes_that_are_not_onnx_are_named(example_repo: Path) -> None:
    put_artifact(example_repo, b"\xff\xfe not a model at all " * 10)
    errors = refusal(_validate, example_repo)
    assert [(d.code, d.field) for d in errors] == [("artifact_onnx", "spec.artifact.uri")]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("name: features", "name: inputs", "the model has no input 'inputs' (it has features)"),
        ("dtype: float32\n        shape: [-1, 8]", "dtype: float64\n        shape: [-1, 8]",
         "input 'features' is float32 in the model, float64 in the spec"),
        ("name: label, dtype: int64, shape: [-1]", "name: label, dtype: int64, shape: [-1, 1]",
         "output 'label' has rank 1 in the model, 2 in the spec"),
        ("shape: [-1, 8]", "shape: [4, 8]", None),  # a fixed batch where the model is dynamic: fine
        ("name: label, dtype: int64", "name: label, dtype: int32",
         "output 'label' is int64 in the model, int32 in the spec"),
    ],
)
def test_signature_differences_are_found_as_apply_finds_them(
    example_repo: Path, old: str, new: str, expected: str | None
) -> None:
    data = classifier(zipmap=False)
    put_artifact(example_repo, data)
    text = (example_repo / MODEL).read_text()
    assert old in text
    (example_repo / MODEL).write_text(text.replace(old, new))
    found = [d for d in _errors_or_none(example_repo) if d.code == "signature"]
    if expected is None:
        assert found == []
    else:
        assert len(found) == 1 and expected in found[0].message
        assert found[0].message == apply_message(example_repo, data)


def test_a_fixed_dim_that_differs_is_found(example_repo: Path) -> None:
    data = classifier(zipmap=False, width=6)
    put_artifact(example_repo, data)
    found = [d for d in _errors_or_none(example_repo) if d.code == "signature"]
    assert len(found) == 1
    assert "input 'features' dimension 1 is 6 in the model, 8 in the spec" in found[0].message
    assert found[0].message == apply_message(example_repo, data)


def _errors_or_none(repo: Path) -> list[Diagnostic]:
    try:
        _validate(repo)
    except SpecError as exc:
        return exc.errors
    return []


def test_any_message_that_echoes_a_value_redacts_its_userinfo() -> None:
    text = TARGET.format(url="http://127.0.0.1:8480") + '  type: "http://U5ER:PA55word@elsewhere"\n'
    _, problems = parse_bytes(text.encode(), "t.yaml")
    assert [d.field for d in problems] == ["spec.type"]
    assert "http://***@elsewhere" in problems[0].message
    assert "PA55word" not in problems[0].format()


# -- 7. errors that tell the truth, all at once --------------------------------------

KINDS_ = {"Target", "Model", "Dataset", "Guardrail", "Prompt", "SLO"}


@st.composite
def breakages(draw: st.DrawFn) -> tuple[str, Callable[[str], str]]:
    """One way to break the Model document that the SLO and the Prompt name (the SLO has its name too)."""
    how = draw(st.sampled_from(["syntax", "kind", "name", "field"]))
    if how == "syntax":
        line = draw(st.integers(0, 30))
        junk = draw(st.sampled_from(["  broken: [unclosed", "\tspec: tab", "  - : :", "{", "key: 'open"]))

        def syntax(text: str) -> str:
            lines = text.split("\n")
            lines.insert(min(line, len(lines) - 1), junk)
            return "\n".join(lines)

        return how, syntax
    if how == "kind":
        kind = draw(st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,10}", fullmatch=True).filter(lambda k: k not in KINDS_))
        return how, lambda text: text.replace("kind: Model", f"kind: {kind}", 1)
    if how == "name":
        name = draw(
            st.one_of(
                st.from_regex(r"[A-Z_][A-Za-z0-9_]{0,20}", fullmatch=True),
                st.just("x" * 64),
                st.just("-lead"),
                st.just("trail-"),
            )
        )
        return how, lambda text: text.replace("  name: fraud-scorer\n", f"  name: '{name}'\n", 1)
    key = draw(st.from_regex(r"[a-z][a-zA-Z]{2,12}", fullmatch=True).filter(lambda k: k not in {"version", "artifact", "format", "signature", "runtime", "targets", "trainedOn", "rollout", "guardrails", "shadowOf"}))
    where = draw(st.sampled_from(["metadata:\n", "spec:\n", "  signature:\n"]))
    indent = " " * (len(where) - len(where.lstrip()) + 2)
    return how, lambda text: text.replace(where, f"{where}{indent}{key}: 1\n", 1)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(breakage=breakages(), loader=st.sampled_from(sorted(LOADERS)))
def test_a_reference_to_a_broken_document_says_it_is_invalid(
    breakage: tuple[str, Callable[[str], str]], loader: str
) -> None:
    _, breaks = breakage
    with example_repository() as repo:
        (repo / MODEL).write_text(breaks((repo / MODEL).read_text()))
        commit(repo, {}, "break the model")
        with pytest.raises(SpecError) as caught:
            LOADERS[loader](repo)
        told = caught.value.diagnostics
        # The broken document's own error is the error...
        assert {d.path for d in told if d.severity == "error"} == {MODEL}
        # ...and the SLO and the Prompt that name it are told it is invalid, not that 'fraud-scorer' is an SLO.
        for referrer in ("specs/slos/fraud-scorer.yaml", "specs/prompts/fraud-case-summary.yaml"):
            said = [d for d in told if d.path == referrer]
            assert [(d.code, d.field) for d in said] == [("ref_invalid", "spec.model")]
            assert "the referenced document" in said[0].message and "invalid" in said[0].message
            assert MODEL in said[0].message
        assert not [d for d in told if d.code in ("wrong_kind", "dangling") or " is a SLO" in d.message]


MODEL_FAULTS: dict[str, tuple[str, str, str]] = {
    # name: (old, new, the field of the error it must cause)
    "unknown field": ("  owner: risk-ml\n", "  owner: risk-ml\n  colour: red\n", "metadata.colour"),
    "number version": ("version: 1.0.0", "version: 1.0", "spec.version"),
    "duplicate target": ("targets: [local-cpu]", "targets: [local-cpu, local-cpu]", "spec.targets"),
    "canary steps": ("steps: [10, 50, 100]", "steps: [50, 10, 100]", "spec.rollout"),
    "dtype": ("dtype: float32\n        shape: [-1, 8]", "dtype: float33\n        shape: [-1, 8]",
              "spec.signature.inputs[0].dtype"),
    "features vs shape": ("shape: [-1, 8]", "shape: [-1, 7]", "spec.signature.inputs[0]"),
    "dangling guardrail": ("guardrails: [feature-ranges]", "guardrails: [feature-ranges, nope]", "spec.guardrails[1]"),
    "dangling analysis slo": ("analysis: {slo: fraud-scorer,", "analysis: {slo: nope,", "spec.rollout.analysis.slo"),
}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(faults=st.sets(st.sampled_from(sorted(MODEL_FAULTS)), min_size=1), loader=st.sampled_from(sorted(LOADERS)))
def test_every_error_of_a_file_is_reported_in_one_run(faults: set[str], loader: str) -> None:
    """Field errors, the validators of the valid parts and the references: never revealed in rounds."""
    with example_repository() as repo:
        text = (repo / MODEL).read_text()
        for fault in sorted(faults):
            old, new, _ = MODEL_FAULTS[fault]
            assert old in text
            text = text.replace(old, new, 1)
        (repo / MODEL).write_text(text)
        commit(repo, {}, "many faults")
        errors = refusal(LOADERS[loader], repo)
    assert sorted(d.field for d in errors) == sorted(MODEL_FAULTS[f][2] for f in faults)
    assert {d.path for d in errors} == {MODEL}


def test_a_plan_knows_a_broken_document_from_the_parse_cache(example_repo: Path) -> None:
    """The broken document's identity and references travel with its diagnostics through the cache."""
    edit = MODEL_FAULTS["unknown field"], MODEL_FAULTS["dangling guardrail"]
    text = (example_repo / MODEL).read_text()
    for old, new, _ in edit:
        text = text.replace(old, new, 1)
    (example_repo / MODEL).write_text(text)
    commit(example_repo, {}, "broken model")
    for _ in range(2):  # cold, then every file from the on-disk cache
        with pytest.raises(SpecError) as caught:
            load_desired_state(example_repo, ref="HEAD", cache_dir=True)
        told = caught.value.diagnostics
        assert sorted(d.field for d in told if d.severity == "error") == ["metadata.colour", "spec.guardrails[1]"]
        assert [d.code for d in told if d.path == "specs/slos/fraud-scorer.yaml"] == ["ref_invalid"]


def test_a_failed_documents_validators_and_references_are_told_with_its_field_errors() -> None:
    text = """\
apiVersion: specops.dev/v1
kind: Target
metadata: {name: gpu-east, colour: blue}
spec:
  url: http://127.0.0.1:8480
  environment: production
  region: 5
  providers: [CUDAExecutionProvider]
"""
    _, problems = parse_bytes(text.encode(), "t.yaml")
    assert [(d.field, d.code) for d in problems] == [
        ("metadata.colour", "extra_forbidden"),
        ("spec.region", "string_type"),
        ("spec", "value_error"),  # TargetSpec's own validator, on its valid fields
    ]
    assert "accelerators.gpus is 0" in problems[2].message


@pytest.mark.parametrize(
    ("targets", "said"),
    [
        ("[a, b, a]", "targets must be unique: 'a' appears twice"),
        ("[a, a, a, b, b]", "targets must be unique: 'a' appears 3 times, 'b' appears twice"),
    ],
)
def test_duplicates_name_the_duplicate(targets: str, said: str) -> None:
    text = (EXAMPLE_SPECS / "models" / "fraud-scorer.yaml").read_text()
    _, problems = parse_bytes(text.replace("targets: [local-cpu]", f"targets: {targets}").encode(), "m.yaml")
    assert [(d.field, d.message) for d in problems] == [("spec.targets", said)]


def test_duplicate_tensor_columns_and_variables_are_named() -> None:
    model = (EXAMPLE_SPECS / "models" / "fraud-scorer.yaml").read_text()
    model = model.replace("- {name: probabilities, dtype: float32, shape: [-1, 2]}",
                          "- {name: p, dtype: float32, shape: [-1, 2]}\n      - {name: p, dtype: float32, shape: [-1, 2]}")
    _, problems = parse_bytes(model.encode(), "m.yaml")
    assert [d.message for d in problems] == ["output tensor names must be unique: 'p' appears twice"]


TARGET_GPUS = """\
apiVersion: specops.dev/v1
kind: Target
metadata: {{name: edge}}
spec:
  url: http://127.0.0.1:8480
  environment: production
  accelerators: {{gpus: {written}}}
"""


@settings(max_examples=100, deadline=None)
@given(
    value=st.one_of(
        st.integers(-5, 10**6).map(str),
        st.from_regex(r"[a-z][a-z ]{0,10}[a-z]", fullmatch=True),
        st.sampled_from(["1.5", "true", "0x10", "ten", "2 GPUs"]),
    ),
    quoted=st.booleans(),
)
def test_remove_the_quotes_only_where_quotes_were_written(value: str, quoted: bool) -> None:
    written = f'"{value}"' if quoted else value
    _, problems = parse_bytes(TARGET_GPUS.format(written=written).encode(), "t.yaml")
    hints = [d.hint for d in problems if d.field == "spec.accelerators.gpus"]
    if "remove the quotes" in hints:
        assert quoted, f"{written} has no quotes to remove"
        # and without them the value reads as a number (it may still be out of range)
        _, again = parse_bytes(TARGET_GPUS.format(written=value).encode(), "t.yaml")
        assert not [d for d in again if "got the string" in d.message]
    if not quoted:
        assert "remove the quotes" not in hints


@pytest.mark.parametrize("loader", sorted(LOADERS))
def test_a_target_url_with_credentials_never_reaches_a_plan(example_repo: Path, loader: str) -> None:
    target = example_repo / "specs" / "targets" / "local-cpu.yaml"
    target.write_text(target.read_text().replace("url: http://127.0.0.1:8480", "url: http://ops:PA55w0rd@127.0.0.1:8480"))
    commit(example_repo, {}, "credentials in a url")
    errors = refusal(LOADERS[loader], example_repo)
    assert [(d.path, d.field) for d in errors] == [("specs/targets/local-cpu.yaml", "spec.url")]
    assert all("PA55w0rd" not in d.format() for d in errors)
