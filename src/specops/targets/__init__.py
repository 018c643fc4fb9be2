"""Targets: the one seam between SpecOps and the places models run.

``TargetDriver`` (``_driver``) is the protocol; ``ServeDriver`` (``_serve``)
implements it for ``specops serve``, ``RayServeDriver`` (``_ray``) for a Ray
Serve cluster; ``driver_for`` picks the driver a
Target spec asks for; ``fan_out`` asks many targets at once. The errors
(``_errors``) are the same for every driver.
"""

from __future__ import annotations

from typing import Any

from specops._errors import SpecOpsError
from specops.targets._driver import LEASE_KINDS, TargetDriver
from specops.targets._errors import (
    AdminError,
    LeaseHeldError,
    LiveStateError,
    MutationUncertainError,
    RevisionConflictError,
    TargetAuthError,
    TargetDownError,
    TargetUnreachableError,
)
from specops.targets._fanout import fan_out
from specops.targets._ray import RayServeDriver
from specops.targets._serve import ServeDriver

__all__ = [
    "LEASE_KINDS",
    "AdminError",
    "LeaseHeldError",
    "LiveStateError",
    "MutationUncertainError",
    "RayServeDriver",
    "RevisionConflictError",
    "ServeDriver",
    "TargetAuthError",
    "TargetDownError",
    "TargetDriver",
    "TargetUnreachableError",
    "driver_for",
    "fan_out",
]

DRIVERS: dict[str, type[ServeDriver] | type[RayServeDriver]] = {
    "specops-serve": ServeDriver,
    "ray-serve": RayServeDriver,
}
"""Driver class per ``Target.spec.type``."""


def driver_for(
    target: Any,
    url: str | None = None,
    token_env: str | None = None,
    *,
    kind: str | None = None,
    timeout: float = 30.0,
    load_timeout: float = 600.0,
    retries: int = 3,
) -> TargetDriver:
    """The driver for a Target (a ``Target`` resource, a loaded spec of one, or just its name).

    With a resource, ``url``, ``token_env`` and ``kind`` default to its spec;
    with a name, ``url`` is required and ``kind`` defaults to ``specops-serve``.
    """
    resource = getattr(target, "resource", target)
    settings = None
    if isinstance(resource, str):
        name = resource
        if url is None:
            raise SpecOpsError(f"target {name}: no url to reach it")
    else:
        spec = resource.spec
        name = resource.name
        url = url or spec.url
        auth = spec.auth
        token_env = token_env if token_env is not None else (auth.token_env if auth is not None else None)
        kind = kind or spec.type
        settings = getattr(spec, "ray", None)
    kind = kind or "specops-serve"
    cls = DRIVERS.get(kind)
    if cls is None:
        raise SpecOpsError(f"target {name}: no driver for spec.type {kind!r} (known: {', '.join(sorted(DRIVERS))})")
    if cls is RayServeDriver:
        return RayServeDriver.from_settings(
            name, str(url), token_env, settings, timeout=timeout, load_timeout=load_timeout, retries=retries
        )
    return cls(name, str(url), token_env, timeout=timeout, load_timeout=load_timeout, retries=retries)
