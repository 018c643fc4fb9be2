"""Checks across resources: references, cycles, placement, lineage, artifacts.

Checks that need one document only (secrets, prompt templates) run when the
document is parsed (``_document_checks``), so their results are cached with
the parsed blob and a warm plan never repeats them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import unquote, urlsplit

from specops._errors import Diagnostic, Severity, SpecOpsError
from specops._yaml import format_path
from specops.spec._common import is_repo_path
from specops.spec._dataset import Dataset
from specops.spec._errors_map import suggest
from specops.spec._load import BrokenDocument, Estate, LoadedSpec
from specops.spec._model import Model
from specops.spec._slo import SLO, DriftObjective
from specops.spec._target import Target

if TYPE_CHECKING:
    from specops._onnx import TensorInfo

__all__ = ["CleanMemo", "check_estate", "check_signatures"]

RefTuple = tuple[tuple[str | int, ...], str, str, bool]

def _diag(
    spec: LoadedSpec,
    path: tuple[str | int, ...],
    message: str,
    hint: str = "",
    code: str = "invalid",
    severity: Severity = "error",
) -> Diagnostic:
    line, column = spec.position(path)
    return Diagnostic(
        spec.path,
        line,
        column,
        message,
        field=format_path(path),
        hint=hint,
        code=code,
        severity=severity,
        resource=spec.id,
    )


class CleanMemo(Protocol):
    """Keys of cross-resource checks known to have found nothing (the planner's cache keeps them)."""

    def known(self, keys: list[str]) -> set[str]: ...

    def add(self, keys: list[str]) -> None: ...


def _memo_key(estate: Estate, spec: LoadedSpec) -> str:
    """What a Model's or SLO's checks look at: its content and that of its references and theirs.

    Only a clean result is remembered, so positions (which depend on the
    file's bytes, not on the canonical hash) never come from the memo.
    """
    seen = {spec.id}
    parts = [spec.id, spec.hash]
    frontier = [spec]
    for _ in range(2):  # an SLO reads its model's lineage dataset: two hops
        following: list[LoadedSpec] = []
        for current in frontier:
            for _, kind, name, _ in current.record[5]:
                rid = f"{kind}/{name}"
                if rid in seen:
                    continue
                seen.add(rid)
                other = estate.specs.get(rid)
                parts += (rid, other.hash if other is not None else "-")
                if other is not None:
                    following.append(other)
        frontier = following
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def check_estate(
    estate: Estate, *, verify_artifacts: bool = False, memo: CleanMemo | None = None
) -> list[Diagnostic]:
    """Checks across the resources of an estate (and the references of its broken documents).

    With ``memo``, a Model's or SLO's own checks are skipped when the memo
    knows they found nothing on the same content (its own and its
    references'): a warm plan re-checks only what a change touches.
    """
    problems: list[Diagnostic] = []
    keys: dict[str, str] = {}
    clean: set[str] = set()
    if memo is not None:
        keys = {s.id: _memo_key(estate, s) for s in estate.specs.values() if s.kind in ("Model", "SLO")}
        clean = memo.known(list(keys.values()))
    found_clean: list[str] = []
    for spec in estate:
        problems.extend(_check_references(estate, spec))
        problems.extend(_check_artifacts(estate.root, spec, verify_artifacts))
        if spec.kind not in ("Model", "SLO"):
            continue
        key = keys.get(spec.id)
        if key is not None and key in clean:
            continue
        resource = spec.resource
        if isinstance(resource, Model):
            found = list(_check_model(estate, spec, resource))
        else:
            assert isinstance(resource, SLO)
            found = list(_check_slo(estate, spec, resource))
        problems.extend(found)
        if key is not None and not found:
            found_clean.append(key)
    if memo is not None and found_clean:
        memo.add(found_clean)
    for broken in estate.broken:  # what a broken document's valid parts refer to, told now
        problems.extend(_check_references(estate, broken))
    problems.extend(_check_cycles(estate))
    return problems


def _ref_diag(
    spec: LoadedSpec | BrokenDocument, path: tuple[str | int, ...], message: str, hint: str, code: str
) -> Diagnostic:
    line, column = spec.position(path)
    known = isinstance(spec, LoadedSpec) or (spec.kind is not None and spec.name is not None)
    resource = spec.id if known else ""
    # A reference to a broken document is that document's error, told where it is
    # felt: a warning, so one mistake stays one error.
    severity: Severity = "warning" if code == "ref_invalid" else "error"
    return Diagnostic(
        spec.path, line, column, message, field=format_path(path), hint=hint, code=code,
        severity=severity, resource=resource,
    )


def _check_references(estate: Estate, spec: LoadedSpec | BrokenDocument) -> Iterator[Diagnostic]:
    specs = estate.specs
    # The record's references first: no Ref objects when every one resolves.
    if isinstance(spec, LoadedSpec) and all(f"{kind}/{name}" in specs for _, kind, name, _ in spec.record[5]):
        return
    for ref in spec.refs:
        target = f"{ref.kind}/{ref.name}"
        if target in specs:
            continue
        # A broken document may be the one meant: say so, never "it is something else".
        exact = [b for b in estate.broken if b.kind == ref.kind and b.name == ref.name]
        maybe = [b for b in estate.broken if b.may_define(ref.kind, ref.name) and b is not spec]
        if exact:
            where = exact[0]
            yield _ref_diag(
                spec,
                ref.path,
                f"refers to {target}, but the referenced document is invalid "
                f"({where.path}:{where.line})",
                f"fix the errors reported in {where.path}",
                "ref_invalid",
            )
            continue
        if maybe:
            places = ", ".join(f"{b.path}:{b.line}" for b in maybe[:3])
            more = f" and {len(maybe) - 3} more" if len(maybe) > 3 else ""
            yield _ref_diag(
                spec,
                ref.path,
                f"refers to {target}, which no valid spec defines; the referenced document may "
                f"be an invalid one ({places}{more})",
                f"fix the errors reported in {maybe[0].path}",
                "ref_invalid",
            )
            continue
        other = [s.id for s in estate if s.name == ref.name]
        if other:
            yield _ref_diag(
                spec,
                ref.path,
                f"refers to {target}, but {ref.name!r} is a {other[0].split('/')[0]}",
                f"this field names a {ref.kind}",
                "wrong_kind",
            )
            continue
        names = [s.name for s in estate.of_kind(ref.kind)]
        yield _ref_diag(
            spec,
            ref.path,
            f"{target} does not exist",
            suggest(ref.name, names)
            or (
                f"known {ref.kind} names: {', '.join(names)}"
                if names
                else f"define a {ref.kind} named {ref.name!r}"
            ),
            "dangling",
        )


def _check_cycles(estate: Estate) -> Iterator[Diagnostic]:
    """Dependency edges must form a DAG; report each cycle once, at its first member.

    Whether there is a cycle at all is the planner core's question (compiled: it
    walks arrays); only an estate that has one is walked here to report each.
    """
    from specops import _plan_core

    specs = estate.specs
    _, cycle = _plan_core.levels(list(specs), {rid: spec.deps for rid, spec in specs.items()}, frozenset())
    if cycle:
        yield from _report_cycles(estate)


def _report_cycles(estate: Estate) -> Iterator[Diagnostic]:
    edges: dict[str, list[RefTuple]] = {s.id: [r for r in s.record[5] if r[3]] for s in estate}
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    reported: set[frozenset[str]] = set()
    for start in sorted(edges):
        if state.get(start):
            continue
        stack: list[tuple[str, Iterator[RefTuple]]] = [(start, iter(edges[start]))]
        state[start] = 1
        while stack:
            node, refs = stack[-1]
            ref = next(refs, None)
            if ref is None:
                state[node] = 2
                stack.pop()
                continue
            child = f"{ref[1]}/{ref[2]}"
            if child not in edges:
                continue
            if state.get(child) == 1:
                members = [n for n, _ in stack][[n for n, _ in stack].index(child) :]
                key = frozenset(members)
                if key not in reported:
                    reported.add(key)
                    chain = " -> ".join([*members, child])
                    yield _diag(
                        estate.specs[node],
                        ref[0],
                        f"dependency cycle: {chain}",
                        hint="break the cycle; a shadow or lineage chain must end",
                        code="cycle",
                    )
            elif not state.get(child):
                state[child] = 1
                stack.append((child, iter(edges[child])))


def _check_model(estate: Estate, spec: LoadedSpec, model: Model) -> Iterator[Diagnostic]:
    runtime = model.spec.runtime
    for i, name in enumerate(model.spec.targets):
        target_spec = estate.get("Target", name)
        if target_spec is None:
            continue
        target = target_spec.resource
        assert isinstance(target, Target)
        offered = set(target.spec.providers)
        if runtime.requires_gpu and not target.spec.has_gpu:
            yield _diag(
                spec,
                ("spec", "targets", i),
                f"model needs a GPU ({', '.join(runtime.providers)}) but Target/{name} has none",
                hint="add CPUExecutionProvider to spec.runtime.providers as a fallback, or place "
                "the model on a GPU target",
                code="placement",
            )
        elif not offered.intersection(runtime.providers):
            yield _diag(
                spec,
                ("spec", "targets", i),
                f"Target/{name} offers none of the model's providers ({', '.join(runtime.providers)})",
                hint=f"the target offers {', '.join(target.spec.providers)}",
                code="placement",
            )
        # A model listing a GPU provider with a CPU fallback is placeable on a CPU
        # target by design; the live state reports the provider it really got.
    dataset: Dataset | None = None
    lineage = model.spec.trained_on
    if lineage is not None:
        found = estate.get("Dataset", lineage.dataset)
        if found is not None:
            assert isinstance(found.resource, Dataset)
            dataset = found.resource
            if dataset.spec.version != lineage.version:
                yield _diag(
                    spec,
                    ("spec", "trainedOn", "version"),
                    f"Dataset/{lineage.dataset} is at version {dataset.spec.version!r}, not "
                    f"{lineage.version!r}",
                    hint="a model's lineage names the data version it "
                    "was trained on; update one of them",
                    code="lineage",
                )
    if dataset is not None:
        columns = {c.name for c in dataset.spec.schema_.columns}
        for side in ("inputs", "outputs"):
            for i, tensor in enumerate(getattr(model.spec.signature, side)):
                for j, feature in enumerate(tensor.features or []):
                    if feature not in columns:
                        yield _diag(
                            spec,
                            ("spec", "signature", side, i, "features", j),
                            f"feature {feature!r} is not a column of Dataset/{dataset.name}",
                            hint=suggest(feature, columns),
                            code="lineage",
                        )
    analysis = model.spec.rollout.analysis
    if analysis is not None:
        slo = estate.get("SLO", analysis.slo)
        if (
            slo is not None
            and isinstance(slo.resource, SLO)
            and slo.resource.spec.model != model.name
        ):
            yield _diag(
                spec,
                ("spec", "rollout", "analysis", "slo"),
                f"SLO/{analysis.slo} is about Model/{slo.resource.spec.model}, not this model",
                code="wrong_slo",
            )


def _check_slo(estate: Estate, spec: LoadedSpec, slo: SLO) -> Iterator[Diagnostic]:
    model_spec = estate.get("Model", slo.spec.model)
    if model_spec is None or not isinstance(model_spec.resource, Model):
        return
    for i, objective in enumerate(slo.spec.objectives):
        if not isinstance(objective, DriftObjective):
            continue
        lineage = model_spec.resource.spec.trained_on
        dataset = estate.get("Dataset", lineage.dataset) if lineage else None
        if lineage is not None and dataset is None:
            continue  # the model's dangling lineage is reported on the model
        if dataset is None or not isinstance(dataset.resource, Dataset):
            yield _diag(
                spec,
                ("spec", "objectives", i),
                f"drift needs a reference profile, but Model/{slo.spec.model} has no trainedOn dataset",
                hint="set spec.trainedOn on the model",
                code="drift",
            )
            continue
        profile = dataset.resource.spec.profile
        if profile is None:
            yield _diag(
                spec,
                ("spec", "objectives", i),
                f"drift needs a reference profile, but Dataset/{dataset.resource.name} has none",
                hint="add spec.profile to the dataset",
                code="drift",
            )
            continue
        for j, feature in enumerate(objective.features or []):
            hist = profile.features.get(feature)
            if hist is None or hist.histogram is None:
                yield _diag(
                    spec,
                    ("spec", "objectives", i, "features", j),
                    f"feature {feature!r} has no histogram in Dataset/{dataset.resource.name}'s profile",
                    hint=suggest(feature, profile.features),
                    code="drift",
                )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _local_file(uri: str) -> Path | None:
    """The path of a ``file://`` uri, or None for another scheme."""
    if "file" not in uri.lower():
        return None  # no file scheme without the word (and urlsplit is slow)
    parts = urlsplit(uri)
    return Path(unquote(parts.path)) if parts.scheme.lower() == "file" else None


def _checksum(spec: LoadedSpec, path: tuple[str | int, ...], uri: str, local: Path, sha256: str) -> Iterator[Diagnostic]:
    actual = file_sha256(local)
    if actual != sha256:
        yield _diag(
            spec,
            (*path, "sha256"),
            f"sha256 of {uri} is {actual}",
            hint="the file changed or the digest is wrong; a changed artifact needs a new version",
            code="artifact_checksum",
        )


def _check_artifacts(root: Path, spec: LoadedSpec, verify: bool) -> Iterator[Diagnostic]:
    for path, uri, sha256 in spec.artifacts:
        if not is_repo_path(uri):
            # Remote artifacts are fetched and verified at apply time; a file:// one is
            # checked when this machine has it (it may live on the target's host only).
            local = _local_file(uri)
            if verify and local is not None and local.is_file():
                yield from _checksum(spec, path, uri, local, sha256)
            continue
        local = root / uri
        if not local.is_file():
            yield _diag(
                spec,
                (*path, "uri"),
                f"artifact {uri} does not exist under {root}",
                hint="commit the file, or fix the path (it is relative to the repository root)",
                code="artifact_missing",
            )
        elif verify:
            yield from _checksum(spec, path, uri, local, sha256)


ReadRepoFile = Callable[[str], bytes]
"""Reads a repository-relative path (from the work tree, or from a git tree at a ref)."""


def check_signatures(
    estate: Estate, read: ReadRepoFile | None = None, only: Collection[str] | None = None
) -> list[Diagnostic]:
    """Each Model's ONNX file against its declared signature, before anything is applied.

    The file is read when it lives in the repository (through ``read``; the
    work tree under ``estate.root`` by default) or at a ``file://`` path on
    this machine; remote artifacts are checked by apply. A file whose sha256
    is not the spec's is skipped here (that mismatch is its own error), as is
    a missing one. ``only`` limits the check to these resource ids (a plan
    checks the models it changes). The message is apply's, from the same function.
    """
    problems: list[Diagnostic] = []
    for spec in estate.of_kind("Model"):
        if only is not None and spec.id not in only:
            continue
        uri = spec.artifacts[0][1] if spec.artifacts else ""
        if not is_repo_path(uri) and _local_file(uri) is None:
            continue  # remote: apply checks it (read without loading the resource)
        model = spec.resource
        assert isinstance(model, Model)
        artifact = model.spec.artifact
        data = _read_artifact(estate.root, artifact.uri, read)
        if data is None or hashlib.sha256(data).hexdigest() != artifact.sha256:
            continue
        # ONNX (and numpy) load only when a model file is really read: ``validate`` without
        # --verify-artifacts and a plan that changes no model never pay for them.
        from specops._onnx import OnnxLoadError, signature_problems

        try:
            inputs, outputs = _signature_of(artifact.sha256, data)
        except OnnxLoadError as exc:
            problems.append(
                _diag(
                    spec,
                    ("spec", "artifact", "uri"),
                    f"{artifact.uri} is {exc}",
                    hint="the artifact must be an ONNX model file",
                    code="artifact_onnx",
                )
            )
            continue
        signature = model.spec.signature
        found = signature_problems(signature.inputs, signature.outputs, inputs, outputs)
        if found:
            problems.append(
                _diag(
                    spec,
                    ("spec", "signature"),
                    f"the model does not match the spec's signature: {'; '.join(found)}",
                    hint=f"make spec.signature say what {artifact.uri} takes and gives, or export "
                    "the model with the declared signature (a classifier exported with a ZipMap "
                    "output gives a sequence of maps, not a tensor)",
                    code="signature",
                )
            )
    return problems


def _read_artifact(root: Path, uri: str, read: ReadRepoFile | None) -> bytes | None:
    try:
        if is_repo_path(uri):
            return read(uri) if read is not None else (root / uri).read_bytes()
        local = _local_file(uri)
        return local.read_bytes() if local is not None else None
    except (OSError, SpecOpsError):  # missing: reported as artifact_missing where it must exist
        return None


_SIGNATURES: dict[str, tuple[list[TensorInfo], list[TensorInfo]]] = {}


def _signature_of(sha256: str, data: bytes) -> tuple[list[TensorInfo], list[TensorInfo]]:
    """Keyed by the verified digest (not the bytes, which may be large): a graph is parsed once."""
    from specops._onnx import graph_signature

    found = _SIGNATURES.get(sha256)
    if found is None:
        if len(_SIGNATURES) >= 256:
            _SIGNATURES.clear()
        found = _SIGNATURES[sha256] = graph_signature(data)
    return found
