"""The ONNX serving target, ``specops serve``.

Models run on ONNX Runtime (through ``specops._onnx``) behind the Open
Inference Protocol v2; SpecOps changes the target through the admin API
described in ``docs/admin-api.md``. State lives in a directory and survives
restarts.
"""

from __future__ import annotations

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
