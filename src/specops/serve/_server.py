"""Running the app on uvicorn: in the foreground for ``specops serve``, or in a thread for tests and benchmarks."""

from __future__ import annotations

import gc
import socket
import threading
import time
from typing import Any

from specops.serve._app import create_app
from specops.serve._config import ServeConfig
from specops.serve._state import StateStore
from specops.serve._target import ServeTarget

__all__ = ["RunningServer", "build", "serve_forever", "start_in_thread"]


def build(config: ServeConfig) -> tuple[Any, ServeTarget]:
    """Check the configuration, restore the state directory, and make the ASGI app."""
    config.check()
    target = ServeTarget(config.name, StateStore(config.state_dir), threads=config.threads)
    target.restore()
    return create_app(target, config), target


def _uvicorn_config(app: Any, config: ServeConfig, port: int) -> Any:
    import uvicorn

    return uvicorn.Config(
        app,
        host=config.host,
        port=port,
        http="httptools",
        ws="none",
        lifespan="off",
        access_log=config.access_log,
        log_level="info" if config.access_log else "warning",
        server_header=False,
        timeout_graceful_shutdown=10,
    )


def serve_forever(config: ServeConfig) -> None:
    import uvicorn

    app, target = build(config)
    # Everything imported and restored so far lives as long as the process: keep it out of the
    # cyclic collector's full passes, which otherwise stall the event loop for ~30 ms each.
    gc.collect()
    gc.freeze()
    try:
        uvicorn.Server(_uvicorn_config(app, config, config.port)).run()
    finally:
        target.metrics.observations.save()
        target.executor.shutdown(wait=False, cancel_futures=True)


class RunningServer:
    """A real uvicorn server on an ephemeral port in a background thread."""

    def __init__(self, config: ServeConfig) -> None:
        import uvicorn

        self.app, self.target = build(config)
        # proto must be IPPROTO_TCP: asyncio only sets TCP_NODELAY on such sockets (else Nagle adds ~40 ms).
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((config.host, config.port))
        self.port = int(self.sock.getsockname()[1])
        self.url = f"http://{config.host}:{self.port}"
        self.server = uvicorn.Server(_uvicorn_config(self.app, config, self.port))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def start(self, timeout: float = 20.0) -> RunningServer:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.sock.close()
        self.target.metrics.observations.save()
        self.target.executor.shutdown(wait=True)

    def __enter__(self) -> RunningServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_in_thread(config: ServeConfig) -> RunningServer:
    return RunningServer(config).start()
