"""``Model``: an ONNX artifact, how it runs, where, and how it rolls out."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from specops.spec._common import (
    GPU_PROVIDERS,
    ArtifactRef,
    Duration,
    Name,
    Provider,
    Ref,
    Resource,
    SemVer,
    SpecModel,
    VersionLabel,
    repeats,
    unique,
)

__all__ = ["Model", "ModelSpec", "TensorSpec"]

TensorType = Literal[
    "float32", "float64", "float16", "bfloat16",
    "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "bool", "string",
]  # fmt: skip


def _cpu_only() -> list[Provider]:
    return ["CPUExecutionProvider"]


class TensorSpec(SpecModel):
    """One input or output tensor of the model's signature."""

    name: Annotated[str, Field(min_length=1, max_length=256)]
    dtype: TensorType
    shape: Annotated[list[Annotated[int, Field(ge=-1)]], Field(max_length=16)] = Field(
        description="Dimensions; -1 marks a dynamic one (usually the batch)."
    )
    features: list[str] | None = Field(
        default=None,
        description="Names of the dataset columns along the last axis (for guardrails and drift).",
    )

    @model_validator(mode="after")
    def _features_fit(self) -> TensorSpec:
        if self.features is not None:
            if not self.shape or self.shape[-1] != len(self.features):
                raise ValueError(
                    f"{len(self.features)} features are named but the last dimension of shape "
                    f"{self.shape} is not {len(self.features)}"
                )
            if twice := repeats(self.features):
                raise ValueError(f"feature names must be unique: {twice}")
        return self


def _tensor_name(tensor: TensorSpec) -> str:
    return tensor.name


class Signature(SpecModel):
    inputs: Annotated[
        list[TensorSpec], Field(min_length=1), unique("input tensor names", _tensor_name)
    ]
    outputs: Annotated[
        list[TensorSpec], Field(min_length=1), unique("output tensor names", _tensor_name)
    ]


class Runtime(SpecModel):
    """How ONNX Runtime runs the model."""

    providers: Annotated[list[Provider], Field(min_length=1)] = Field(
        default_factory=_cpu_only,
        description="Execution providers in preference order. Without CPUExecutionProvider "
        "the model needs a GPU.",
    )
    intra_op_threads: Annotated[int, Field(ge=0, le=1024)] = 0
    inter_op_threads: Annotated[int, Field(ge=0, le=1024)] = 0
    graph_optimization: Literal["disabled", "basic", "extended", "all"] = "all"
    warmup_requests: Annotated[int, Field(ge=0, le=10_000)] = 3

    @property
    def requires_gpu(self) -> bool:
        return "CPUExecutionProvider" not in self.providers

    @property
    def wants_gpu(self) -> bool:
        return any(p in GPU_PROVIDERS for p in self.providers)


class Analysis(SpecModel):
    """How each rollout step is judged: against an SLO, once enough traffic was seen."""

    slo: Name
    min_requests: Annotated[int, Field(ge=1)] = 100
    interval: Duration = "30s"
    deadline: Duration = Field(
        default="10m",
        description="Give up (and roll back) when a step stays inconclusive this long.",
    )
    failure_limit: Annotated[int, Field(ge=0, le=10)] = Field(
        default=1,
        description=(
            "Failed measurements a step tolerates before it rolls back; each failure starts a fresh "
            "window. 0 rolls back on the first failed measurement."
        ),
    )


class Rollout(SpecModel):
    strategy: Literal["direct", "canary"] = "direct"
    steps: list[Annotated[int, Field(ge=1, le=100)]] | None = Field(
        default=None, description="Canary traffic percentages, increasing, ending at 100."
    )
    shadow_first: Duration | None = Field(
        default=None, description="Mirror traffic to the candidate this long before the first step."
    )
    analysis: Analysis | None = None
    auto_rollback: bool = Field(
        default=True,
        description="A canary that fails analysis rolls back to the previous version; only true is supported.",
    )

    @field_validator("auto_rollback")
    @classmethod
    def _always_rolls_back(cls, value: bool) -> bool:
        # Accepted and ignored would be worse than refused: a failed canary always rolls back.
        if not value:
            raise ValueError(
                "autoRollback: false is not supported: a canary that fails analysis always rolls back "
                "to the previous version; remove the field"
            )
        return value

    @model_validator(mode="after")
    def _steps(self) -> Rollout:
        if self.strategy == "canary":
            if not self.steps:
                raise ValueError("a canary rollout needs steps, e.g. steps: [10, 50, 100]")
            if any(b <= a for a, b in zip(self.steps, self.steps[1:], strict=False)):
                raise ValueError(f"canary steps must increase: {self.steps}")
            if self.steps[-1] != 100:
                raise ValueError(f"canary steps must end at 100, not {self.steps[-1]}")
        elif self.steps:
            raise ValueError("steps apply to the canary strategy only")
        return self


class Autoscaling(SpecModel):
    """Replicas between ``min`` and ``max``, sized by ongoing requests per replica."""

    min: Annotated[int, Field(ge=0, le=1000)] = 1
    max: Annotated[int, Field(ge=1, le=1000)]
    target_ongoing_requests: Annotated[float, Field(gt=0, le=10_000)] = 2.0

    @model_validator(mode="after")
    def _bounds(self) -> Autoscaling:
        if self.max < self.min:
            raise ValueError(f"autoscaling.max ({self.max}) is below autoscaling.min ({self.min})")
        return self


class Scaling(SpecModel):
    """How many copies of this version serve (a target that scales: ray-serve)."""

    replicas: Annotated[int, Field(ge=1, le=1000)] | None = Field(
        default=None, description="A fixed number of replicas (or use autoscaling)."
    )
    autoscaling: Autoscaling | None = None
    num_cpus: Annotated[float, Field(gt=0, le=1024)] = Field(
        default=0.1, description="CPUs each replica asks for (a fraction fits a small cluster)."
    )

    @model_validator(mode="after")
    def _one_way(self) -> Scaling:
        if self.replicas is not None and self.autoscaling is not None:
            raise ValueError("give replicas or autoscaling, not both")
        return self

    @property
    def scales(self) -> bool:
        """More than one replica is asked for (a single-process target cannot honour it)."""
        return (self.replicas or 1) > 1 or self.autoscaling is not None


class Lineage(SpecModel):
    dataset: Name
    version: VersionLabel


class ModelSpec(SpecModel):
    version: SemVer
    artifact: ArtifactRef
    format: Literal["onnx"] = "onnx"
    signature: Signature
    runtime: Runtime = Field(default_factory=Runtime)
    targets: Annotated[list[Name], Field(min_length=1), unique("targets")] = Field(
        description="Targets the model is placed on."
    )
    trained_on: Lineage | None = Field(
        default=None, description="The dataset version it was trained on."
    )
    rollout: Rollout = Field(default_factory=Rollout)
    guardrails: list[Name] = Field(default_factory=list)
    shadow_of: Name | None = Field(
        default=None,
        description="Serve as a shadow of this model: mirrored traffic, answers discarded.",
    )
    scaling: Scaling | None = Field(
        default=None, description="Replicas and CPUs per replica; honoured by ray-serve targets."
    )


class Model(Resource):
    """An ONNX model version, its runtime, placement and rollout."""

    KIND: ClassVar[str] = "Model"
    kind: Literal["Model"]
    spec: ModelSpec

    def references(self) -> list[Ref]:
        refs = [
            Ref(path=("spec", "targets", i), kind="Target", name=t)
            for i, t in enumerate(self.spec.targets)
        ]
        if self.spec.trained_on is not None:
            refs.append(
                Ref(
                    path=("spec", "trainedOn", "dataset"),
                    kind="Dataset",
                    name=self.spec.trained_on.dataset,
                )
            )
        # Guardrails go first: a model never serves a moment without its checks.
        refs += [
            Ref(path=("spec", "guardrails", i), kind="Guardrail", name=g)
            for i, g in enumerate(self.spec.guardrails)
        ]
        if self.spec.shadow_of is not None:
            refs.append(Ref(path=("spec", "shadowOf"), kind="Model", name=self.spec.shadow_of))
        if self.spec.rollout.analysis is not None:
            # The SLO depends on this model, so this one is not an ordering edge.
            refs.append(
                Ref(
                    path=("spec", "rollout", "analysis", "slo"),
                    kind="SLO",
                    name=self.spec.rollout.analysis.slo,
                    dependency=False,
                )
            )
        return refs
