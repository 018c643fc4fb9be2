"""Project configuration: ``specops.yaml`` at the repository root, section ``policy``.

```yaml
policy:
  paths: [policies]            # directories of .rego files (repository-relative)
  engine: embedded             # or opa
  opa: {url: "http://opa.internal:8181", tokenEnv: OPA_TOKEN, push: true}
  timeout: 5s                  # per decision; a slower one denies
  data:                        # data documents, as data.project.<key> in Rego
    teams: {risk-ml: [alice, bob]}
  dataFiles: [policies/data/freeze.yaml]   # more data: each file a mapping merged in
  enforcement: {SO-PROMPT-001: warn}       # deny -> warn while a rule rolls out (or off)
  waivers: waivers.yaml
```

``specops.yaml`` is also what ``find_root`` treats as a repository root
marker, so the file doubles as "this is the top of a SpecOps project".
Other sections belong to other subsystems and are ignored here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from specops._errors import Diagnostic, SpecError
from specops.policy._files import load_model
from specops.spec._common import Duration, EnvVarName, SpecModel, duration_seconds, no_userinfo

__all__ = ["CONFIG_FILE", "OpaSettings", "PolicyConfig", "ProjectConfig", "load_config"]

CONFIG_FILE = "specops.yaml"


_OPA_NO_USERINFO = no_userinfo(
    "secrets are never written in specops.yaml: drop the user:password@ part and name the "
    "environment variable that holds the OPA token in opa.tokenEnv"
)


class OpaSettings(SpecModel):
    url: Annotated[str, _OPA_NO_USERINFO, Field(pattern=r"^https?://[^\s/]+(/[^\s]*)?$")]
    token_env: EnvVarName | None = Field(
        default=None, description="Name of the environment variable holding the bearer token."
    )
    push: bool = Field(default=True, description="Upload the policies; false expects them on the server.")


class PolicyConfig(SpecModel):
    paths: list[str] = Field(default_factory=lambda: ["policies"])
    engine: Literal["embedded", "opa"] = "embedded"
    opa: OpaSettings | None = None
    timeout: Duration = "5s"
    data: dict[str, Any] = Field(default_factory=dict)
    data_files: list[str] = Field(default_factory=list)
    enforcement: dict[str, Literal["deny", "warn", "off"]] = Field(default_factory=dict)
    waivers: str | None = None

    @property
    def timeout_seconds(self) -> float:
        return duration_seconds(self.timeout)


class ProjectConfig(SpecModel):
    # Other subsystems own other top-level sections.
    model_config = ConfigDict(extra="allow")

    policy: PolicyConfig = Field(default_factory=PolicyConfig)


def load_config(root: Path, path: Path | None = None) -> tuple[PolicyConfig, str | None]:
    """The policy section of ``path`` (or ``<root>/specops.yaml`` if it exists), and its display path."""
    if path is None:
        candidate = root / CONFIG_FILE
        if not candidate.is_file():
            return PolicyConfig(), None
        path = candidate
    display = _display(path, root)
    config, _ = load_model(path, display, ProjectConfig, "project configuration")
    policy = config.policy
    merged = dict(policy.data)
    for relative in policy.data_files:
        data_path = root / relative
        from specops._yaml import load_documents

        try:
            text = data_path.read_text(encoding="utf-8")
        except OSError as exc:
            raise SpecError.of(
                [Diagnostic(display, 0, 0, f"cannot read data file {relative}: {exc.strerror}",
                            field="policy.dataFiles", hint="paths are relative to the repository root",
                            code="not_found")]
            ) from None
        docs = load_documents(text, relative)
        if len(docs) != 1 or not isinstance(docs[0].data, dict):
            raise SpecError.of(
                [Diagnostic(relative, 1, 1, "a data file must be one mapping", code="not_a_mapping",
                            hint="its keys become data.project.<key> in Rego")]
            )
        merged.update(docs[0].data)
    if policy.engine == "opa" and policy.opa is None:
        raise SpecError.of(
            [Diagnostic(display, 0, 0, "engine opa needs the server's url", field="policy.opa",
                        hint="add `opa: {url: http://HOST:8181, tokenEnv: OPA_TOKEN}`")]
        )
    return policy.model_copy(update={"data": merged}), display


def _display(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()
