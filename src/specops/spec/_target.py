"""``Target``: a place where models run."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from specops.spec._common import (
    GPU_PROVIDERS,
    EnvVarName,
    NoUserinfo,
    Provider,
    Resource,
    SpecModel,
)

__all__ = ["Target", "TargetSpec"]


def _cpu_only() -> list[Provider]:
    return ["CPUExecutionProvider"]


class TargetAuth(SpecModel):
    """How to authenticate to the target's admin API: a bearer token read from the environment."""

    scheme: Literal["bearer"] = "bearer"
    token_env: EnvVarName = Field(description="Name of the environment variable holding the token.")


class Accelerators(SpecModel):
    gpus: Annotated[int, Field(ge=0, le=1024)] = 0
    type: str | None = Field(default=None, description="GPU model, e.g. nvidia-h100.")


class Capacity(SpecModel):
    max_models: Annotated[int, Field(ge=1)] | None = None
    memory_mib: Annotated[int, Field(ge=1)] | None = Field(default=None, alias="memoryMiB")


class TargetSpec(SpecModel):
    type: Literal["specops-serve"] = Field(
        default="specops-serve", description="The serving runtime at the url."
    )
    url: Annotated[str, Field(pattern=r"^https?://[^\s/]+(/[^\s]*)?$"), NoUserinfo] = Field(
        description="Base url of the target, e.g. http://127.0.0.1:8480."
    )
    environment: Literal["development", "staging", "production"]
    region: str | None = None
    providers: Annotated[list[Provider], Field(min_length=1)] = Field(
        default_factory=_cpu_only,
        description="Execution providers the target offers, in preference order.",
    )
    accelerators: Accelerators = Field(default_factory=Accelerators)
    auth: TargetAuth | None = None
    capacity: Capacity = Field(default_factory=Capacity)

    @model_validator(mode="after")
    def _gpu_consistent(self) -> TargetSpec:
        gpu_providers = [p for p in self.providers if p in GPU_PROVIDERS]
        if gpu_providers and self.accelerators.gpus == 0:
            raise ValueError(
                f"providers list {gpu_providers[0]} but accelerators.gpus is 0; "
                "declare the GPUs or drop the GPU provider"
            )
        return self

    @property
    def has_gpu(self) -> bool:
        return self.accelerators.gpus > 0


class Target(Resource):
    """A serving target: where models run."""

    KIND: ClassVar[str] = "Target"
    kind: Literal["Target"]
    spec: TargetSpec
