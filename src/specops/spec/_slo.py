"""``SLO``: objectives for a model, how breaches alert, and what a breach does."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from specops.spec._common import Duration, Name, Ref, Resource, SpecModel, duration_seconds

__all__ = ["SLO", "SLOSpec"]


class LatencyObjective(SpecModel):
    type: Literal["latency"]
    percentile: Annotated[float, Field(gt=0, lt=100)] = 99.0
    threshold_ms: Annotated[float, Field(gt=0)]


class ErrorRateObjective(SpecModel):
    type: Literal["errorRate"]
    max: Annotated[float, Field(ge=0, le=1)] = Field(
        description="Highest tolerated error fraction."
    )


class AvailabilityObjective(SpecModel):
    type: Literal["availability"]
    target: Annotated[float, Field(gt=0, le=1)] = Field(description="e.g. 0.999")


class DriftObjective(SpecModel):
    """Input drift against the reference profile of the model's training dataset."""

    type: Literal["drift"]
    method: Literal["psi", "ks", "jensenShannon", "wasserstein"] = "psi"
    threshold: Annotated[float, Field(gt=0)]
    features: list[str] | None = Field(default=None, description="Default: every profiled feature.")
    min_samples: Annotated[int, Field(ge=1)] = 500


Objective = Annotated[
    LatencyObjective | ErrorRateObjective | AvailabilityObjective | DriftObjective,
    Field(discriminator="type"),
]


class BurnRate(SpecModel):
    """Multi-window burn-rate alert (the SRE workbook's recipe)."""

    long_window: Duration
    short_window: Duration
    factor: Annotated[float, Field(gt=0)]
    severity: Literal["page", "ticket"] = "page"

    @model_validator(mode="after")
    def _windows(self) -> BurnRate:
        if duration_seconds(self.short_window) >= duration_seconds(self.long_window):
            raise ValueError("shortWindow must be shorter than longWindow")
        return self


class Alerting(SpecModel):
    burn_rates: list[BurnRate] = Field(default_factory=list)
    notify: list[str] = Field(
        default_factory=list, description="Channels, e.g. slack:#risk-oncall."
    )


class OnBreach(SpecModel):
    action: Literal["alert", "rollback"] = "alert"


class SLOSpec(SpecModel):
    model: Name
    window: Duration = "30d"
    objectives: Annotated[list[Objective], Field(min_length=1)]
    alerting: Alerting = Field(default_factory=Alerting)
    on_breach: OnBreach = Field(default_factory=OnBreach)

    @model_validator(mode="after")
    def _burn_rate_needs_budget(self) -> SLOSpec:
        budgeted = any(
            isinstance(o, ErrorRateObjective | AvailabilityObjective) for o in self.objectives
        )
        if self.alerting.burn_rates and not budgeted:
            raise ValueError("burn-rate alerting needs an errorRate or availability objective")
        window = duration_seconds(self.window)
        for rate in self.alerting.burn_rates:
            if duration_seconds(rate.long_window) > window:
                raise ValueError(
                    f"burn-rate window {rate.long_window} is longer than the SLO window"
                )
        return self


class SLO(Resource):
    """Service-level objectives for one model."""

    KIND: ClassVar[str] = "SLO"
    kind: Literal["SLO"]
    spec: SLOSpec

    def references(self) -> list[Ref]:
        return [Ref(path=("spec", "model"), kind="Model", name=self.spec.model)]
