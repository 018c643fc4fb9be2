"""The ``evidence`` section of ``specops.yaml``.

```yaml
evidence:
  retentionDays: 180     # records younger than this are never pruned (`specops audit prune`)
  remote: origin         # where `specops audit seal --push` shares the chain
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import ConfigDict, Field

from specops.spec._common import SpecModel

__all__ = ["DEFAULT_RETENTION_DAYS", "EvidenceConfig", "load_evidence_config"]

DEFAULT_RETENTION_DAYS = 180


class EvidenceConfig(SpecModel):
    retention_days: Annotated[int, Field(ge=1, le=36500)] = Field(
        default=DEFAULT_RETENTION_DAYS, description="Keep records at least this many days; pruning beyond is explicit."
    )
    remote: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9._-]+$")] = "origin"


class _Project(SpecModel):
    model_config = ConfigDict(extra="allow")

    evidence: EvidenceConfig = Field(default_factory=EvidenceConfig)


def load_evidence_config(root: Path) -> EvidenceConfig:
    """``evidence`` of ``<root>/specops.yaml`` (defaults without one); a bad value names file, line and field."""
    path = root / "specops.yaml"
    if not path.is_file():
        return EvidenceConfig()
    from specops.policy._files import load_model

    project, _ = load_model(path, "specops.yaml", _Project, "project configuration")
    return project.evidence
