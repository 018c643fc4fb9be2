"""The one error hierarchy of SpecOps.

Every expected failure is a ``SpecOpsError``: the command line turns it into
a one-line message and exit code 1, never a traceback (anything else is a bug:
exit 3, the traceback in ``$SPECOPS_LOG_DIR/specops.log``). Errors about spec
files carry ``Diagnostic`` records that locate the problem (file, line,
column, field path) and, where one exists, a hint that says how to fix it.

The tree (where each class lives)::

    SpecOpsError                              _errors
     ├── SpecError                            _errors      invalid specs; .diagnostics locate each problem
     │    └── PolicyLoadError                 policy._bundle
     ├── GitError                             _git
     │    ├── NotARepositoryError             _git
     │    └── UnknownRefError                 _git
     ├── OnnxError                            _onnx
     │    ├── OnnxLoadError / OnnxInputError / OnnxRunError
     ├── DesiredStateError                    plan._desired   missing specs root, empty desired state
     ├── PlanError                            plan._planner
     │    └── DependencyCycleError            plan._planner
     ├── PlanFormatError                      plan._model     not a plan / edited / wrong format_version
     ├── LiveStateError                       targets._errors invalid live-state document
     │    └── TargetUnreachableError          targets._errors plan could not read a target
     ├── AdminError                           targets._errors a target answered an admin call with an error
     │    ├── TargetDownError                 targets._errors unreachable (the next apply recovers)
     │    │    └── MutationUncertainError     targets._errors a change's answer was lost: re-read, never repeat
     │    ├── TargetAuthError                 targets._errors 401/403 or the token variable unset
     │    ├── LeaseHeldError                  targets._errors another runner holds the lease
     │    └── RevisionConflictError           targets._errors live state moved: re-plan
     ├── PlanRefusedError                     apply._checks   not applyable, or stale
     ├── RolloutFailedError                   apply._rollout  analysis failed; rolled back
     ├── ArtifactError                        apply._artifacts
     ├── HTTPError                            serve._errors   what the serving target answers (4xx)
     └── StateCorruptError                    serve._errors
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "Diagnostic",
    "Severity",
    "SpecError",
    "SpecOpsError",
]

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One located problem in a spec file.

    ``line`` and ``column`` are 1-based (as editors show them); 0 means the
    position is unknown (for example a file that could not be read at all).
    """

    path: str
    line: int
    column: int
    message: str
    field: str = ""
    hint: str = ""
    code: str = "invalid"
    severity: Severity = "error"
    resource: str = ""

    def format(self) -> str:
        """Render in the compiler form ``path:line:col: error: field: message (hint)``."""
        where = f"{self.path}:{self.line}:{self.column}"
        what = f"{self.field}: {self.message}" if self.field else self.message
        text = f"{where}: {self.severity}: {what}"
        if self.hint:
            text += f" ({self.hint})"
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "severity": self.severity,
            "code": self.code,
            "field": self.field,
            "message": self.message,
            "hint": self.hint,
            "resource": self.resource,
        }

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.path, self.line, self.column, self.message)


class SpecOpsError(Exception):
    """Base class of every error SpecOps expects and reports without a traceback."""

    exit_code = 1


@dataclass
class SpecError(SpecOpsError):
    """One or more spec files are invalid; ``diagnostics`` locates every problem."""

    diagnostics: list[Diagnostic] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.summary())

    @classmethod
    def of(cls, diagnostics: Iterable[Diagnostic]) -> SpecError:
        return cls(sorted(diagnostics, key=Diagnostic.sort_key))

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    def summary(self) -> str:
        errors = self.errors
        if len(errors) == 1:
            return errors[0].format()
        files = len({d.path for d in errors})
        return f"{len(errors)} errors in {files} file{'s' if files != 1 else ''}"

    def __str__(self) -> str:
        return self.summary()
