"""Guardrails as the serving target runs them: compiled once per applied spec, run per request.

A check looks at the tensors of one stage (the request's inputs, or the
model's outputs). Numeric checks (range, schema, classifier) read numeric
tensors; text checks (regex, deny list, PII) read BYTES tensors; size checks
read either. A hit is blocked (the request is refused with the guardrail's
name and reason), redacted (text checks: matches replaced) or flagged
(answered as usual and reported); every hit is counted.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from specops._onnx import Session
from specops.serve._errors import HTTPError
from specops.spec import Dataset, Guardrail
from specops.spec._guardrail import (
    ClassifierCheck,
    DenyListCheck,
    PiiCheck,
    RangeCheck,
    RegexCheck,
    SchemaCheck,
    SizeCheck,
)

__all__ = ["REDACTED", "CompiledGuardrail", "Hit", "compile_guardrail", "luhn_ok", "pii_matches"]

REDACTED = "[REDACTED]"

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_PHONE = re.compile(r"(?<![\w+])\+?\d[\d ().-]{6,18}\d(?!\w)")
_CARD = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum every payment card number carries."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = ord(ch) - 48
        if i % 2:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


def _iban_ok(text: str) -> bool:
    compact = text.replace(" ", "")
    moved = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in moved)
    return int(number) % 97 == 1


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def _phone_ok(text: str) -> bool:
    digits = _digits(text)
    return 9 <= len(digits) <= 15 and not (13 <= len(digits) <= 19 and luhn_ok(digits))


def _ip_ok(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


_PII: dict[str, tuple[re.Pattern[str], Callable[[str], bool]]] = {
    "email": (_EMAIL, lambda s: True),
    "creditCard": (_CARD, lambda s: luhn_ok(_digits(s))),
    "iban": (_IBAN, _iban_ok),
    "phone": (_PHONE, _phone_ok),
    "ipAddress": (_IPV4, _ip_ok),
}


def pii_matches(text: str, kinds: Sequence[str]) -> list[tuple[str, int, int]]:
    """``(kind, start, end)`` of every piece of personal data found, checksums verified."""
    found: list[tuple[str, int, int]] = []
    taken: list[tuple[int, int]] = []
    # Cards before phones: a card number also looks like a long phone number.
    for kind in ("email", "creditCard", "iban", "ipAddress", "phone"):
        if kind not in kinds:
            continue
        pattern, valid = _PII[kind]
        for match in pattern.finditer(text):
            start, end = match.span()
            if any(s < end and start < e for s, e in taken) or not valid(match.group(0)):
                continue
            found.append((kind, start, end))
            taken.append((start, end))
    return sorted(found, key=lambda f: f[1])


@dataclass(frozen=True, slots=True)
class Hit:
    guardrail: str
    check: int
    type: str
    stage: str
    action: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "guardrail": self.guardrail,
            "check": self.check,
            "type": self.type,
            "stage": self.stage,
            "action": self.action,
            "reason": self.reason,
        }


Tensors = dict[str, np.ndarray]
Features = dict[str, list[str]]
# A compiled check: (tensors, features) -> (reason or None, redacted tensors or None)
Runner = Callable[[Tensors, Features], tuple[str | None, Tensors | None]]


def _text(array: np.ndarray) -> bool:
    return array.dtype.kind in "OUS"


def _select(tensors: Tensors, name: str | None, text: bool | None) -> list[tuple[str, np.ndarray]]:
    if name is not None:
        array = tensors.get(name)
        return [] if array is None else [(name, array)]
    return [(n, a) for n, a in tensors.items() if text is None or _text(a) == text]


def _first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask.reshape(-1))[0])


def _small_bounds(low: float, high: float, dtype: np.dtype[Any]) -> tuple[float, float] | None:
    """Bounds that a small tensor of ``dtype`` can be compared with in Python, value by value,
    only ever answering "inside" where numpy's comparison does (None: this dtype goes to numpy).

    numpy compares a float tensor with a Python number cast to the tensor's dtype (float32(0.1)
    is not 0.1); a value is taken as inside here only between bounds that are inside both the
    cast and the exact ones, and anything else is answered by numpy. Integers of at most 32
    bits are exact as Python numbers and as float64, so they compare as numpy compares them.
    """
    exact = []
    for bound in (low, high):
        try:
            value = float(bound)
        except OverflowError:
            return None
        if value != bound:  # an integer beyond float64's exact range
            return None
        exact.append(value)
    if dtype.kind == "f":
        with np.errstate(all="ignore"):
            cast_low, cast_high = float(dtype.type(low)), float(dtype.type(high))
        return max(exact[0], cast_low), min(exact[1], cast_high)
    if dtype.kind in "iu" and dtype.itemsize <= 4:
        return exact[0], exact[1]
    return None


_SMALL_RANGE = 64  # values: a numeric tensor this small is range-checked in Python first


def _range_runner(check: RangeCheck) -> Runner:
    low = -np.inf if check.min is None else check.min
    high = np.inf if check.max is None else check.max
    small: dict[np.dtype[Any], tuple[float, float] | None] = {}

    def run(tensors: Tensors, features: Features) -> tuple[str | None, Tensors | None]:
        for name, array in _select(tensors, check.tensor, False):
            values = array
            if check.feature is not None:
                names = features.get(name) or []
                if check.feature not in names or array.ndim == 0:
                    continue
                values = array[..., names.index(check.feature)]
            if values.size <= _SMALL_RANGE:
                if values.dtype in small:
                    bounds = small[values.dtype]
                else:
                    bounds = small[values.dtype] = _small_bounds(low, high, values.dtype)
                if bounds is not None:
                    lo, hi = bounds
                    if all(lo <= v <= hi for v in values.ravel().tolist()):  # NaN is never inside
                        continue
            bad = ~((values >= low) & (values <= high))
            if bad.any():
                value = values.reshape(-1)[_first_bad(bad)]
                label = f"tensor {name!r}" if check.feature is None else f"feature {check.feature!r} of {name!r}"
                return f"{label} = {value} is outside [{check.min}, {check.max}]", None
        return None, None

    return run


def _schema_violation(values: np.ndarray, column: Any, allow_nan: bool, where: str) -> str | None:
    """The first way ``values`` (one feature) breaks its column, in the order the contract reads."""
    values = values.astype(np.float64, copy=False)
    nan = np.isnan(values)
    if nan.any() and not (allow_nan or column.nullable):
        return f"{where} is NaN but the column is not nullable"
    ok = values[~nan]
    if column.min is not None and (ok < column.min).any():
        return f"{where} = {ok.min()} is below the contract's min {column.min}"
    if column.max is not None and (ok > column.max).any():
        return f"{where} = {ok.max()} is above the contract's max {column.max}"
    if column.dtype in ("int", "bool", "category") and (ok != np.round(ok)).any():
        return f"{where} must be whole numbers ({column.dtype} column)"
    if column.dtype == "bool" and ((ok != 0) & (ok != 1)).any():
        return f"{where} must be 0 or 1 (bool column)"
    if column.allowed is not None:
        allowed = np.array([a for a in column.allowed if isinstance(a, int)], dtype=np.float64)
        if (~np.isin(ok, allowed)).any():
            return f"{where} holds a value outside the allowed {column.allowed}"
    return None


_INFINITIES = (float("inf"), float("-inf"))
_SMALL = 64  # values: a float tensor this small is checked value by value (SchemaPlan.small_inside)


@dataclass(frozen=True, slots=True)
class _SchemaPlan:
    """One tensor's feature list against the contract, as arrays (built once per feature list).

    ``index`` are the checked features' positions (numeric columns of the
    dataset); ``low``/``high`` their bounds (+-inf where none, [0, 1] for a bool
    column; float64 arrays, so a float32 tensor is compared at float64 as the
    per-feature check did); ``whole`` the columns that hold whole numbers;
    ``nan_ok`` those where NaN is allowed. ``exact`` is set when some column
    has an allowed list: those are always read feature by feature (rare).
    """

    index: np.ndarray
    contiguous: bool
    low: np.ndarray
    high: np.ndarray
    whole: np.ndarray | None
    nan_ok: np.ndarray | None
    exact: bool
    # (position, low, high, whole, nan_ok) per checked feature, as Python values: a few rows
    # are read element by element, cheaper than a dozen numpy calls on a handful of values.
    checks: tuple[tuple[int, float, float, bool, bool], ...] = ()

    def small_inside(self, rows: list[list[float]]) -> bool:
        """For float rows: every value within the contract (the vector test's answer, value by value).

        The vector test compares at float64 (the bounds are float64 arrays), which is what
        comparing Python floats does; a whole number is one equal to its rounding (infinities
        are; NaN is not), and a NaN passes where NaN is allowed, whatever else.
        """
        for row in rows:
            for position, low, high, whole, nan_ok in self.checks:
                value = row[position]
                if value != value:  # NaN
                    if nan_ok:
                        continue
                    return False
                if not low <= value <= high:
                    return False
                if whole and not (value.is_integer() or value in _INFINITIES):
                    return False
        return True


def _schema_plan(names: Sequence[str], dataset: Dataset, allow_nan: bool) -> _SchemaPlan:
    schema = dataset.spec.schema_
    rows: list[tuple[int, Any]] = []
    for index, feature in enumerate(names):
        column = schema.column(feature)
        if column is not None and column.dtype not in ("string", "timestamp"):
            rows.append((index, column))
    positions = np.array([i for i, _ in rows], dtype=np.intp)
    whole = np.array([c.dtype in ("int", "bool", "category") for _, c in rows], dtype=bool)
    nan_ok = np.array([allow_nan or c.nullable for _, c in rows], dtype=bool)
    low = np.array([0.0 if c.dtype == "bool" else -np.inf if c.min is None else c.min for _, c in rows])
    high = np.array([1.0 if c.dtype == "bool" else np.inf if c.max is None else c.max for _, c in rows])
    return _SchemaPlan(
        index=positions,
        contiguous=bool(np.array_equal(positions, np.arange(len(names)))),
        low=low,
        high=high,
        whole=~whole if whole.any() else None,
        nan_ok=nan_ok if nan_ok.any() else None,
        exact=any(c.allowed is not None for _, c in rows),
        checks=tuple(
            zip(positions.tolist(), low.astype(np.float64).tolist(), high.astype(np.float64).tolist(),
                whole.tolist(), nan_ok.tolist(), strict=True)
        ),
    )


def _schema_runner(check: SchemaCheck, dataset: Dataset) -> Runner:
    """Every feature of a request checked at once, in a few numpy calls whatever the feature
    count. The vector test only answers "certainly within the contract"; anything else (a value
    out of bounds, a NaN, a fraction in a whole column) is read again feature by feature, so a
    refusal names the first broken feature exactly as the feature-by-feature contract does."""
    schema = dataset.spec.schema_
    plans: dict[tuple[str, ...], _SchemaPlan] = {}

    def run(tensors: Tensors, features: Features) -> tuple[str | None, Tensors | None]:
        for name, array in _select(tensors, check.tensor, False):
            names = features.get(name)
            if not names or array.ndim == 0:
                continue
            key = tuple(names)
            plan = plans.get(key)
            if plan is None:
                plan = plans[key] = _schema_plan(names, dataset, check.allow_nan)
            if plan.exact or array.shape[-1] != len(names):
                reason = _schema_slow(array, names, name)
                if reason is not None:
                    return reason, None
                continue
            if not len(plan.index):
                continue
            if array.dtype.kind == "f" and array.size <= _SMALL:
                if plan.small_inside(array.reshape(-1, len(names)).tolist()):
                    continue
                reason = _schema_slow(array, names, name)
                if reason is not None:
                    return reason, None
                continue
            values = array.reshape(-1, len(names))
            if not plan.contiguous:
                values = values[:, plan.index]
            inside = (values >= plan.low) & (values <= plan.high)  # False for NaN
            if array.dtype.kind == "f":
                if plan.whole is not None:
                    inside &= (values == np.round(values)) | plan.whole
                if plan.nan_ok is not None:
                    inside |= np.isnan(values) & plan.nan_ok
            if not inside.all():
                reason = _schema_slow(array, names, name)
                if reason is not None:
                    return reason, None
        return None, None

    def _schema_slow(array: np.ndarray, names: Sequence[str], name: str) -> str | None:
        for index, feature in enumerate(names):
            column = schema.column(feature)
            if column is None or column.dtype in ("string", "timestamp"):
                continue
            where = f"feature {feature!r} of {name!r} (dataset {dataset.name} {dataset.spec.version})"
            reason = _schema_violation(array[..., index], column, check.allow_nan, where)
            if reason is not None:
                return reason
        return None

    return run


def _text_runner(find: Callable[[str], list[tuple[int, int, str]]], redact: bool, tensor: str | None) -> Runner:
    def run(tensors: Tensors, features: Features) -> tuple[str | None, Tensors | None]:
        reason: str | None = None
        changed: Tensors = {}
        for name, array in _select(tensors, tensor, True):
            flat = array.reshape(-1)
            out = flat.copy() if redact else flat
            for i, value in enumerate(flat):
                text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
                spans = find(text)
                if not spans:
                    continue
                if reason is None:
                    reason = f"{spans[0][2]} in tensor {name!r} element {i}"
                if redact:
                    for start, end, _ in sorted(spans, reverse=True):
                        text = text[:start] + REDACTED + text[end:]
                    out[i] = text
                else:
                    return reason, None
            if redact and reason is not None:
                changed[name] = out.reshape(array.shape)
        return reason, (changed or None)

    return run


def _regex_find(check: RegexCheck) -> Callable[[str], list[tuple[int, int, str]]]:
    flags = re.IGNORECASE if check.ignore_case else 0
    patterns = [re.compile(p, flags) for p in check.patterns]

    def find(text: str) -> list[tuple[int, int, str]]:
        spans = []
        for pattern in patterns:
            for m in pattern.finditer(text):
                if m.end() > m.start():
                    spans.append((m.start(), m.end(), f"pattern {pattern.pattern!r} matched"))
        return _disjoint(spans)

    return find


def _deny_find(check: DenyListCheck) -> Callable[[str], list[tuple[int, int, str]]]:
    flags = 0 if check.case_sensitive else re.IGNORECASE
    words = sorted(check.values, key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(w) for w in words), flags)

    def find(text: str) -> list[tuple[int, int, str]]:
        return [(m.start(), m.end(), f"denied term {m.group(0)!r}") for m in pattern.finditer(text)]

    return find


def _pii_find(check: PiiCheck) -> Callable[[str], list[tuple[int, int, str]]]:
    kinds = list(check.detect)

    def find(text: str) -> list[tuple[int, int, str]]:
        return [(s, e, f"{kind} detected") for kind, s, e in pii_matches(text, kinds)]

    return find


def _disjoint(spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    out: list[tuple[int, int, str]] = []
    for span in sorted(spans):
        if not out or span[0] >= out[-1][1]:
            out.append(span)
    return out


def _size_runner(check: SizeCheck) -> Runner:
    def run(tensors: Tensors, features: Features) -> tuple[str | None, Tensors | None]:
        for name, array in _select(tensors, check.tensor, None):
            if check.max_elements is not None and array.size > check.max_elements:
                return f"tensor {name!r} has {array.size} elements (max {check.max_elements})", None
            if _text(array):
                lengths = [len(str(v)) for v in array.reshape(-1)]
                nbytes = sum(len(str(v).encode("utf-8")) for v in array.reshape(-1))
                if check.max_length is not None and lengths and max(lengths) > check.max_length:
                    return f"tensor {name!r} has a {max(lengths)}-character element (max {check.max_length})", None
            else:
                nbytes = array.nbytes
            if check.max_bytes is not None and nbytes > check.max_bytes:
                return f"tensor {name!r} is {nbytes} bytes (max {check.max_bytes})", None
        return None, None

    return run


_NUMPY_OF = {
    "float32": np.float32, "float64": np.float64, "float16": np.float16, "int64": np.int64,
    "int32": np.int32, "int8": np.int8, "uint8": np.uint8, "bool": np.bool_, "string": object,
}  # fmt: skip


def _classifier_runner(check: ClassifierCheck, session: Session) -> Runner:
    feed = session.inputs[0]
    names = [o.name for o in session.outputs]
    output = check.output or names[0]
    if output not in names:
        raise HTTPError(422, f"classifier has no output {output!r} (it has {', '.join(names)})")
    dtype = _NUMPY_OF.get(feed.dtype, np.float32)

    def run(tensors: Tensors, features: Features) -> tuple[str | None, Tensors | None]:
        for name, array in _select(tensors, check.tensor, None):
            scores = session.run({feed.name: array.astype(dtype, copy=False)}, [output])[0]
            column = scores[..., check.label_index] if scores.ndim >= 2 else scores
            top = float(np.max(column)) if column.size else 0.0
            if top >= check.threshold:
                return f"classifier scored tensor {name!r} {top:.4f} (threshold {check.threshold})", None
        return None, None

    return run


@dataclass(slots=True)
class _Compiled:
    index: int
    type: str
    stage: str
    action: str
    run: Runner


class CompiledGuardrail:
    """One applied Guardrail, ready to run on a stage's tensors."""

    def __init__(self, name: str, checks: list[_Compiled]) -> None:
        self.name = name
        self.checks = checks
        self._stages = {stage: [c for c in checks if c.stage == stage] for stage in {c.stage for c in checks}}

    def apply(self, stage: str, tensors: Tensors, features: Features, hits: list[Hit]) -> Tensors:
        """Run this stage's checks; appends hits, raises on a block, returns (redacted) tensors."""
        for check in self._stages.get(stage, ()):
            reason, redacted = check.run(tensors, features)
            if reason is None:
                continue
            hit = Hit(self.name, check.index, check.type, stage, check.action, reason)
            hits.append(hit)
            # A redaction that could not redact (a numeric tensor) fails closed.
            if check.action == "block" or (check.action == "redact" and not redacted):
                raise GuardrailBlocked(hit, hits)
            if redacted:
                tensors = {**tensors, **redacted}
        return tensors


class GuardrailBlocked(HTTPError):
    def __init__(self, hit: Hit, hits: list[Hit]) -> None:
        super().__init__(
            422,
            f"guardrail {hit.guardrail} blocked the {hit.stage}: {hit.reason}",
            guardrail=hit.guardrail,
            check=hit.check,
            reason=hit.reason,
        )
        self.hit = hit
        self.hits = hits


def compile_guardrail(
    guardrail: Guardrail,
    datasets: dict[str, Dataset],
    load_classifier: Callable[[ClassifierCheck], Session],
) -> CompiledGuardrail:
    """Compile every check; a dataset or classifier it needs must already be on the target."""
    compiled: list[_Compiled] = []
    for index, check in enumerate(guardrail.spec.checks):
        action = check.action or guardrail.spec.action
        run: Runner
        if isinstance(check, RangeCheck):
            run = _range_runner(check)
        elif isinstance(check, SchemaCheck):
            dataset = datasets.get(check.dataset)
            if dataset is None:
                raise HTTPError(
                    422,
                    f"check {index} of Guardrail/{guardrail.name} needs Dataset/{check.dataset}, "
                    "which is not applied on this target (apply it first)",
                )
            run = _schema_runner(check, dataset)
        elif isinstance(check, RegexCheck):
            run = _text_runner(_regex_find(check), action == "redact", check.tensor)
        elif isinstance(check, DenyListCheck):
            run = _text_runner(_deny_find(check), action == "redact", check.tensor)
        elif isinstance(check, PiiCheck):
            run = _text_runner(_pii_find(check), action == "redact", check.tensor)
        elif isinstance(check, SizeCheck):
            run = _size_runner(check)
        else:
            run = _classifier_runner(check, load_classifier(check))
        compiled.append(_Compiled(index, check.type, check.stage, action, run))
    return CompiledGuardrail(guardrail.name, compiled)
