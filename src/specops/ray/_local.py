"""A local Ray cluster for the demo, the tests and the benchmark: started and stopped by its PID.

``ray start --head --block`` in its own process group, on 127.0.0.1, free
ports, its own temp dir and ``RAY_AUTH_MODE=token`` with a random token
(``RAY_AUTH_TOKEN``). Stopping signals that process group only, never
``ray stop`` (which stops every Ray on the machine).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from specops._errors import SpecOpsError

if TYPE_CHECKING:
    from specops.targets import RayServeDriver

__all__ = ["LocalRay"]


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def _free_port() -> int:
    from specops.apply._local import free_port

    return free_port()


class LocalRay:
    """One Ray head node on this machine, with token auth, owned by this process."""

    def __init__(self, workdir: Path, *, num_cpus: int = 2, token_env: str = "SPECOPS_RAY_TOKEN") -> None:
        self.workdir = workdir
        # Ray's socket paths must stay short (107 bytes): its temp dir gets a short name of its own.
        self.temp_dir = Path(f"/tmp/sr{secrets.token_hex(3)}")
        self.num_cpus = num_cpus
        self.token_env = token_env
        self.token = secrets.token_hex(24)
        self.port = _free_port()
        self.dashboard_port = _free_port()
        self.proxy_port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log = workdir / "ray-head.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.dashboard_port}"

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}"

    @property
    def artifact_dir(self) -> Path:
        return self.workdir / "artifacts"

    def driver(self, name: str = "local-cpu") -> RayServeDriver:
        """A driver for the ray-serve Target ``name`` on this cluster."""
        from specops.targets import RayServeDriver

        return RayServeDriver(
            name, self.url, self.token_env, proxy_url=self.proxy_url, artifact_dir=str(self.artifact_dir)
        )

    def env(self) -> dict[str, str]:
        return {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": self.token, self.token_env: self.token}

    def start(self, timeout: float = 180.0) -> None:
        ray = shutil.which("ray", path=str(Path(sys.executable).parent)) or shutil.which("ray")
        if ray is None:
            raise SpecOpsError("ray is not installed (pip install 'specops[ray]')")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.artifact_dir.mkdir(parents=True, exist_ok=True)
        command = [
            ray, "start", "--head", "--block", "--disable-usage-stats",
            "--node-ip-address", "127.0.0.1", "--port", str(self.port),
            "--dashboard-host", "127.0.0.1", "--dashboard-port", str(self.dashboard_port),
            "--include-dashboard=true", "--num-cpus", str(self.num_cpus),
            "--temp-dir", str(self.temp_dir),
            # Every port Ray would take by default is free-picked: other Rays may run here.
            "--ray-client-server-port", str(_free_port()),
            "--dashboard-agent-listen-port", str(_free_port()),
            "--dashboard-agent-grpc-port", str(_free_port()),
            "--metrics-export-port", str(_free_port()),
            "--runtime-env-agent-port", str(_free_port()),
        ]  # fmt: skip
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=self.env(), start_new_session=True
            )
        os.environ[self.token_env] = self.token
        deadline = time.monotonic() + timeout
        headers = {"Authorization": f"Bearer {self.token}"}
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SpecOpsError(f"ray start exited with {self.process.returncode} (log: {self.log})")
            try:
                if httpx.get(self.url + "/api/serve/applications/", headers=headers, timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        self.stop()
        raise SpecOpsError(f"the Ray dashboard did not answer within {timeout:g}s (log: {self.log})")

    def stop(self, timeout: float = 60.0) -> int | None:
        """SIGTERM to our ``ray start --block`` process group (it stops what it started), then SIGKILL.

        Only this group is signalled: Ray's workers die with their raylet, and
        another Ray on the machine is never touched.
        """
        process = self.process
        if process is None:
            return None
        group = process.pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout)
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline and _group_alive(group):
            time.sleep(0.25)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)  # what outlived the grace (gcs_server can take 15 s)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(10.0)
        shutil.rmtree(self.temp_dir, ignore_errors=True)
        self.process = None
        return process.returncode

    def __enter__(self) -> LocalRay:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
