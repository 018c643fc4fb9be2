"""The declarative Serve config SpecOps PUTs for one ray-serve target (no Ray import).

One application is the router (``<target>``, route prefix ``/``): the OIP v2
ingress and the admin API, its weights and shadow in its ``user_config``
(changed in place by ``reconfigure``, no restart). Each loaded model version
is its own application (``<target>--<model>--<version>``, no HTTP route),
reached by the router through a deployment handle: adding or removing a
version leaves the router and the other versions untouched, because Ray
rebuilds only an application whose ``args`` change.

Every deployment asks for a fraction of a CPU and updates with surge
(``max_surge_percent: 100``): a replacement starts before the replica it
replaces stops, never a surge-0 single-replica update.
"""

from __future__ import annotations

import hashlib
from typing import Any

__all__ = [
    "ROUTER_IMPORT",
    "VERSION_IMPORT",
    "deployment_options",
    "router_app",
    "router_app_name",
    "token_digest",
    "version_app",
    "version_app_name",
]

ROUTER_IMPORT = "specops.ray._app:router_app"
VERSION_IMPORT = "specops.ray._app:version_app"
ROUTER_DEPLOYMENT = "Router"
VERSION_DEPLOYMENT = "Version"
SURGE_PERCENT = 100
DEFAULT_CPUS = 0.1
ROUTER_ONGOING = 64


def router_app_name(target: str) -> str:
    return f"specops-{target}"


def version_app_name(target: str, model: str, version: str) -> str:
    return f"specops-{target}--{model}--{version}"


def token_digest(token: str | None) -> str | None:
    """What the router compares bearer tokens with: a digest, so the config never holds the token."""
    return None if token is None else hashlib.sha256(token.encode()).hexdigest()


def deployment_options(scaling: dict[str, Any] | None) -> dict[str, Any]:
    """A version's replicas and CPUs from the Model's ``spec.scaling`` (canonical, camelCase)."""
    scaling = scaling or {}
    options: dict[str, Any] = {
        "ray_actor_options": {"num_cpus": float(scaling.get("numCpus", DEFAULT_CPUS))},
        "max_surge_percent": SURGE_PERCENT,
    }
    auto = scaling.get("autoscaling")
    if auto:
        options["autoscaling_config"] = {
            "min_replicas": int(auto.get("min", 1)),
            "max_replicas": int(auto["max"]),
            "target_ongoing_requests": float(auto.get("targetOngoingRequests", 2.0)),
        }
    else:
        options["num_replicas"] = int(scaling.get("replicas") or 1)
    return options


def router_app(
    target: str,
    *,
    artifact_dir: str,
    token: str | None,
    routing: dict[str, Any],
    cpus: float = DEFAULT_CPUS,
    replicas: int = 1,
) -> dict[str, Any]:
    """The router application; ``routing`` (weights, shadow, revision) is its user_config."""
    return {
        "name": router_app_name(target),
        "route_prefix": "/",
        "import_path": ROUTER_IMPORT,
        "args": {"target": target, "artifact_dir": artifact_dir, "token_sha256": token_digest(token)},
        "deployments": [
            {
                "name": ROUTER_DEPLOYMENT,
                "num_replicas": replicas,
                "max_surge_percent": SURGE_PERCENT,
                # The router only awaits the versions: many requests in flight cost it little.
                "max_ongoing_requests": ROUTER_ONGOING,
                "ray_actor_options": {"num_cpus": cpus},
                "user_config": routing,
            }
        ],
    }


def version_app(target: str, model_doc: dict[str, Any], artifact_dir: str) -> dict[str, Any]:
    """One model version's application: ONNX Runtime with the Model's providers, its own scaling."""
    name = model_doc["metadata"]["name"]
    version = model_doc["spec"]["version"]
    return {
        "name": version_app_name(target, name, version),
        "route_prefix": None,
        "import_path": VERSION_IMPORT,
        "args": {"model": model_doc, "artifact_dir": artifact_dir},
        "deployments": [{"name": VERSION_DEPLOYMENT, **deployment_options(model_doc["spec"].get("scaling"))}],
    }
