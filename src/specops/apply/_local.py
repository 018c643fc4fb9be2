"""A local ``specops serve`` in a subprocess, for the demo, tests and benchmarks.

It binds 127.0.0.1 on a free port, with an admin token in the environment
variable the Target names, and is stopped with SIGTERM (then SIGKILL after a
grace period) so its state directory is left consistent.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from specops._errors import SpecOpsError
from specops.targets import AdminError, LiveStateError, ServeDriver

__all__ = ["LocalTarget", "free_port"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalTarget:
    """``specops serve --name NAME`` on 127.0.0.1; ``url`` once started."""

    command: tuple[str, ...] = (sys.executable, "-m", "specops", "serve")

    def __init__(
        self,
        name: str,
        state_dir: Path,
        *,
        port: int = 0,
        token_env: str = "SPECOPS_LOCAL_TOKEN",
        log: Path | None = None,
        extra: list[str] | None = None,
    ) -> None:
        self.name = name
        self.state_dir = state_dir
        self.port = port or free_port()
        self.token_env = token_env
        self.log = log or state_dir.parent / f"{name}-serve.log"
        self.extra = extra or []
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> LocalTarget:
        # The token lives in this process's environment too: the runner reads it there.
        os.environ.setdefault(self.token_env, secrets.token_urlsafe(24))
        self.state_dir.mkdir(parents=True, exist_ok=True)
        command = [
            *self.command,
            "--host", "127.0.0.1", "--port", str(self.port), "--name", self.name,
            "--state-dir", str(self.state_dir), "--token-env", self.token_env, *self.extra,
        ]  # fmt: skip
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        with ServeDriver(self.name, self.url, self.token_env, timeout=1, retries=1) as probe:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise SpecOpsError(
                        f"specops serve exited with {self.process.returncode} while starting (log: {self.log})"
                    )
                if _answers(probe):
                    return self
                time.sleep(0.05)
        self.stop()
        raise SpecOpsError(f"specops serve did not answer on {self.url} within {timeout:g}s (log: {self.log})")

    def driver(self, *, timeout: float = 30.0) -> ServeDriver:
        """A driver for this target (close it when done)."""
        return ServeDriver(self.name, self.url, self.token_env, timeout=timeout)


    def stop(self, grace: float = 10.0) -> int | None:
        process, self.process = self.process, None
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return process.returncode

    def kill(self) -> None:
        """Stop it hard, as a crash would (its state must survive that)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def __enter__(self) -> LocalTarget:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _answers(probe: ServeDriver) -> bool:
    try:
        probe.live_state()
    except (AdminError, LiveStateError):
        return False
    return True
