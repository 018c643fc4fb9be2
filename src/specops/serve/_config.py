"""How one ``specops serve`` runs: where, under which name, with which secrets and limits."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from specops._errors import SpecOpsError

__all__ = ["ServeConfig", "is_loopback"]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class ServeConfig:
    state_dir: Path
    name: str = "local"
    host: str = "127.0.0.1"
    port: int = 8480
    # Secrets are never printed: they stay out of repr (and so out of logs and tracebacks).
    admin_token: str | None = field(default=None, repr=False)
    inference_token: str | None = field(default=None, repr=False)
    insecure_local: bool = False
    max_body_bytes: int = 64 << 20
    max_artifact_bytes: int = 2 << 30
    max_elements: int = 16 << 20
    threads: int = 4
    access_log: bool = False

    def check(self) -> None:
        """Refuse to expose an admin API nobody has to authenticate to, except on loopback on request."""
        if self.admin_token:
            return
        if not self.insecure_local:
            raise SpecOpsError(
                "the admin API needs a bearer token: set the environment variable named by "
                "--token-env (default SPECOPS_TOKEN), or bind to loopback and pass --insecure-local"
            )
        if not is_loopback(self.host):
            raise SpecOpsError(
                f"--insecure-local only serves on a loopback address, not {self.host}; "
                "set a token (--token-env) to serve on other interfaces"
            )
