"""``Dataset``: a pinned data version with its contract and reference profile."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from specops.spec._bins import MAX_BINS
from specops.spec._common import ArtifactRef, Resource, SpecModel, VersionLabel, unique

__all__ = ["MAX_BINS", "Column", "Dataset", "DatasetSpec", "FeatureProfile", "Histogram"]

ColumnType = Literal["float", "int", "bool", "string", "category", "timestamp"]


class Column(SpecModel):
    """One column of the data contract."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]{0,127}$")]
    dtype: ColumnType
    nullable: bool = False
    min: float | None = None
    max: float | None = None
    allowed: list[str | int] | None = Field(
        default=None, description="Allowed values (categories)."
    )
    pii: bool = False
    description: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Column:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        if (self.min is not None or self.max is not None) and self.dtype not in ("float", "int"):
            raise ValueError(f"min/max apply to numeric columns, not {self.dtype}")
        return self


def _column_name(column: Column) -> str:
    return column.name


class DataSchema(SpecModel):
    columns: Annotated[list[Column], Field(min_length=1), unique("column names", _column_name)]
    label: str | None = Field(default=None, description="The target column, if any.")

    @model_validator(mode="after")
    def _label_is_a_column(self) -> DataSchema:
        if self.label is not None and self.label not in {c.name for c in self.columns}:
            raise ValueError(f"label column {self.label!r} is not among the columns")
        return self

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)



class Histogram(SpecModel):
    """Counts of the reference data on bins (numpy's: half-open, the last one closed).

    Edges may be equal-width or quantiles (``specops dataset profile`` writes
    quantiles, so a skewed feature is not all in one bin); they increase
    strictly, so a feature with few distinct values gets one bin per value.
    """

    edges: Annotated[list[float], Field(min_length=2, max_length=MAX_BINS + 1)]
    counts: Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1, max_length=MAX_BINS)]

    @model_validator(mode="after")
    def _shape(self) -> Histogram:
        if len(self.edges) != len(self.counts) + 1:
            raise ValueError(
                f"a histogram needs one more edge than counts ({len(self.edges)} edges, "
                f"{len(self.counts)} counts)"
            )
        if any(b <= a for a, b in zip(self.edges, self.edges[1:], strict=False)):
            raise ValueError("histogram edges must increase strictly")
        return self


class FeatureProfile(SpecModel):
    """Reference statistics of one feature, the baseline drift is measured against."""

    mean: float | None = None
    std: Annotated[float, Field(ge=0)] | None = None
    min: float | None = None
    max: float | None = None
    null_fraction: Annotated[float, Field(ge=0, le=1)] = 0.0
    histogram: Histogram | None = None


class Profile(SpecModel):
    rows: Annotated[int, Field(ge=1)]
    features: dict[str, FeatureProfile] = Field(default_factory=dict)


class DatasetSpec(SpecModel):
    version: VersionLabel
    artifact: ArtifactRef
    format: Literal["csv", "parquet", "jsonl", "arrow"] = "csv"
    pii: bool = Field(default=False, description="Whether the data holds personal information.")
    schema_: DataSchema = Field(alias="schema")
    profile: Profile | None = None

    @model_validator(mode="after")
    def _profile_matches_schema(self) -> DatasetSpec:
        if self.profile is not None:
            names = {c.name for c in self.schema_.columns}
            for feature in self.profile.features:
                if feature not in names:
                    raise ValueError(f"profile feature {feature!r} is not a column of the schema")
        return self


class Dataset(Resource):
    """A data version: a pinned file, its schema as a contract, and a reference profile."""

    KIND: ClassVar[str] = "Dataset"
    kind: Literal["Dataset"]
    spec: DatasetSpec
