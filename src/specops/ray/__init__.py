"""SpecOps on Ray Serve: the application SpecOps deploys to a ray-serve Target.

``_config`` builds the declarative Serve config the driver
(``specops.targets._ray``) PUTs through Ray's REST API; ``_app`` is the
application itself (the router and one deployment per model version, run
by Ray, the only module that imports Ray); ``_state`` is the detached actor
that holds the router's state. ``pip install specops[ray]`` brings Ray.
"""

from __future__ import annotations

from specops.ray._config import router_app, version_app, version_app_name

__all__ = ["router_app", "version_app", "version_app_name"]
