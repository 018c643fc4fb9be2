"""The ONNX serving target, ``specops serve``.

Models run on ONNX Runtime (through ``specops._onnx``) behind the Open
Inference Protocol v2; SpecOps changes the target through the admin API
described in ``docs/admin-api.md``. State lives in a directory and survives
restarts.
"""

from __future__ import annotations

import typing

from specops._lazy import exports as _exports
from specops._lazy import homes as _homes

if typing.TYPE_CHECKING:
    from specops.serve._config import ServeConfig
    from specops.serve._errors import HTTPError, StateCorruptError
    from specops.serve._server import RunningServer, build, serve_forever, start_in_thread
    from specops.serve._target import ServeTarget

__all__ = [
    "HTTPError",
    "RunningServer",
    "ServeConfig",
    "ServeTarget",
    "StateCorruptError",
    "build",
    "serve_forever",
    "start_in_thread",
]

_HOMES = {
    **_homes("specops.serve._config", ("ServeConfig",)),
    **_homes("specops.serve._errors", ("HTTPError", "StateCorruptError")),
    **_homes("specops.serve._server", ("RunningServer", "build", "serve_forever", "start_in_thread")),
    **_homes("specops.serve._target", ("ServeTarget",)),
}  # fmt: skip
__getattr__, __dir__ = _exports(__name__, __all__, _HOMES)
