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


class RaySettings(SpecModel):
    """A ``ray-serve`` target: where Serve's HTTP proxy answers and where replicas read artifacts."""

    proxy_url: Annotated[str, Field(pattern=r"^https?://[^\s/]+(/[^\s]*)?$")] | None = Field(
        default=None, description="Serve's HTTP proxy (inference, router admin); default: url's host, port 8000."
    )
    artifact_dir: str = Field(
        default="/tmp/specops-ray/artifacts",
        description="A path every Ray node reads (a shared volume); the router stores uploads there.",
    )
    router_cpus: Annotated[float, Field(gt=0, le=64)] = 0.1
    router_replicas: Annotated[int, Field(ge=1, le=100)] = 1


class TargetSpec(SpecModel):
    type: Literal["specops-serve", "ray-serve"] = Field(
        default="specops-serve",
        description="The serving runtime at the url: specops serve, or a Ray cluster's dashboard (REST API).",
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
    ray: RaySettings | None = Field(default=None, description="Settings of a ray-serve target.")

    @model_validator(mode="after")
    def _gpu_consistent(self) -> TargetSpec:
        gpu_providers = [p for p in self.providers if p in GPU_PROVIDERS]
        if gpu_providers and self.accelerators.gpus == 0:
            raise ValueError(
                f"providers list {gpu_providers[0]} but accelerators.gpus is 0; "
                "declare the GPUs or drop the GPU provider"
            )
        return self

    @model_validator(mode="after")
    def _ray_settings(self) -> TargetSpec:
        if self.ray is not None and self.type != "ray-serve":
            raise ValueError("spec.ray applies to type: ray-serve only")
        return self

    @property
    def has_gpu(self) -> bool:
        return self.accelerators.gpus > 0


class Target(Resource):
    """A serving target: where models run."""

    KIND: ClassVar[str] = "Target"
    kind: Literal["Target"]
    spec: TargetSpec
