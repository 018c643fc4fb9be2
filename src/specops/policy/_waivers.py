"""Waivers: exceptions to a rule, reviewed and kept in git like everything else.

```yaml
waivers:
  - rule: SO-PROMPT-001              # a rule id (glob patterns allowed: SO-MODEL-*)
    resource: Prompt/fraud-*         # Kind/name glob; default: every resource
    labels: {team: risk}             # optional: the resource must carry these labels
    owner: alice                     # who answers for it
    justification: evaluation suite is being rebuilt, see RISK-123
    expires: 2026-12-31              # last day in force (UTC)
```

A waiver in force turns a matching result into ``waived`` (still reported);
one past its expiry is itself an error that blocks the plan until someone
renews or deletes it, so a forgotten exception cannot linger.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator

from specops._errors import Diagnostic, SpecError
from specops.policy._files import load_model
from specops.policy._model import WaiverRef
from specops.spec._common import SpecModel

__all__ = ["Waiver", "WaiverSet", "load_waivers"]


class WaiverEntry(SpecModel):
    rule: Annotated[str, Field(min_length=1)]
    resource: Annotated[str, Field(min_length=1)] = "*"
    labels: dict[str, str] = Field(default_factory=dict)
    owner: Annotated[str, Field(min_length=1)]
    justification: Annotated[str, Field(min_length=10)]
    expires: str = Field(description="Last day the waiver is in force, YYYY-MM-DD (UTC).")

    @field_validator("expires")
    @classmethod
    def _date(cls, value: str) -> str:
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError("expected a date YYYY-MM-DD, e.g. 2026-12-31") from None
        return value


class WaiverFile(SpecModel):
    waivers: list[WaiverEntry] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Waiver:
    entry: WaiverEntry
    path: str
    line: int

    @property
    def ref(self) -> WaiverRef:
        e = self.entry
        return WaiverRef(e.rule, e.resource, e.owner, e.justification, e.expires, self.path, self.line)

    def expired(self, today: dt.date) -> bool:
        return dt.date.fromisoformat(self.entry.expires) < today

    def matches(self, rule: str, resource: str | None, labels: dict[str, Any]) -> bool:
        e = self.entry
        if not fnmatchcase(rule, e.rule):
            return False
        if resource is None:
            return e.resource == "*"
        if not fnmatchcase(resource, e.resource):
            return False
        return all(labels.get(k) == v for k, v in e.labels.items())


@dataclass(slots=True)
class WaiverSet:
    waivers: list[Waiver]

    def find(
        self, rule: str, resource: str | None, labels: dict[str, Any], today: dt.date
    ) -> Waiver | None:
        for waiver in self.waivers:
            if not waiver.expired(today) and waiver.matches(rule, resource, labels):
                return waiver
        return None

    def expired(self, today: dt.date) -> list[Waiver]:
        return [w for w in self.waivers if w.expired(today)]


def load_waivers(path: Path | None, display: str = "") -> WaiverSet:
    if path is None:
        return WaiverSet([])
    display = display or path.as_posix()
    model, doc = load_model(path, display, WaiverFile, "waiver file")
    waivers = []
    for index, entry in enumerate(model.waivers):
        line, _ = doc.position(("waivers", index))
        waivers.append(Waiver(entry, display, line))
    seen: dict[tuple[str, str, str], int] = {}
    for waiver in waivers:
        key = (waiver.entry.rule, waiver.entry.resource, str(sorted(waiver.entry.labels.items())))
        if key in seen:
            raise SpecError.of(
                [Diagnostic(display, waiver.line, 1, f"waiver for {key[0]} on {key[1]} repeats the one at "
                            f"line {seen[key]}", field="waivers", hint="keep one waiver per rule and resource",
                            code="duplicate")]
            )
        seen[key] = waiver.line
    return WaiverSet(waivers)
