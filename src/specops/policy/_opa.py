"""A remote OPA server as the policy engine, through ``opa-python-client`` (``specops[opa]``).

Organisations that run OPA centrally either let SpecOps push the bundle
(``PUT /v1/policies/{id}``, data at ``/v1/data/project``) or load the
same packages there themselves; SpecOps then asks for each package by name
(``POST /v1/data/{package path}``). The token is read from the environment
variable the configuration names, never from a file or the command line.

Every failure (connection, HTTP status, a missing package, a body without
``result``) raises ``PolicyEngineError``, which the evaluator turns into a
denial: a policy server that cannot answer never lets a plan through.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

import orjson

from specops._errors import SpecOpsError
from specops.policy._bundle import Bundle
from specops.policy._engine import AGGREGATE_PACKAGE, PolicyEngineError, aggregate_module
from specops.spec._common import has_userinfo

__all__ = ["OpaEngine"]


class OpaEngine:
    def __init__(
        self,
        bundle: Bundle,
        url: str,
        *,
        token_env: str | None = None,
        push: bool = True,
        timeout: float = 5.0,
    ) -> None:
        try:
            from opa_client import OpaClient
        except ImportError:
            raise SpecOpsError(
                "the opa policy engine needs the OPA client, an optional part of SpecOps: "
                "pip install 'specops[opa]' (or use engine: embedded)"
            ) from None

        if has_userinfo(url):  # never echoed: it holds the secret
            raise SpecOpsError("the OPA url holds credentials (user:password@): drop them and pass the "
                               "token's environment variable with --opa-token-env (opa.tokenEnv in specops.yaml)")  # fmt: skip
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SpecOpsError(f"--opa-url {url!r} is not an http(s) url (e.g. http://127.0.0.1:8181)")
        token = None
        if token_env:
            token = os.environ.get(token_env)
            if not token:
                raise SpecOpsError(
                    f"the OPA token variable {token_env} is not set (export it, or drop --opa-token-env)"
                )
        self.bundle = bundle
        self.push = push
        self.name = f"opa {parts.scheme}://{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
        self._client = OpaClient(
            host=parts.hostname,
            port=parts.port or (443 if parts.scheme == "https" else 80),
            ssl=parts.scheme == "https",
            token=token,
            timeout=timeout,
            retries=0,
        )
        if push:
            self._push()

    def _push(self) -> None:
        try:
            for file in self.bundle.policy_files:
                self._client.update_policy_from_string(
                    file.source, f"specops/{file.path}", rego_compat=False
                )
            self._client.update_policy_from_string(
                aggregate_module(self.bundle), "specops/aggregate.rego", rego_compat=False
            )
            if self.bundle.data:
                self._client.update_or_create_data(dict(self.bundle.data), "project")
        except Exception as exc:  # the client raises its own and requests' errors
            raise SpecOpsError(f"cannot push policies to OPA at {self.name}: {_describe(exc)}") from None

    def _query(self, document: dict[str, Any], package: str) -> Any:
        try:
            response = self._client.query_rule(document, package)
        except Exception as exc:
            raise PolicyEngineError(f"OPA query of {package} failed: {_describe(exc)}") from None
        if not isinstance(response, dict) or "result" not in response:
            raise PolicyEngineError(
                f"OPA has no package {package} (the result is undefined); push the policies or load them there"
            )
        return response["result"]

    def evaluate(self, document_json: bytes) -> Any:
        document = orjson.loads(document_json)
        if self.push:
            return self._query(document, AGGREGATE_PACKAGE + ".results")
        out: dict[str, Any] = {}
        for package, outcomes in sorted(self.bundle.outcome_rules.items()):
            value = self._query(document, package)
            if not isinstance(value, dict):
                raise PolicyEngineError(f"OPA returned {type(value).__name__} for package {package}")
            out[package] = {rule: value.get(rule, []) for rule in outcomes}
        return out

    def close(self) -> None:
        self._client.close_connection()


def _describe(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return " ".join(str(message).split())[:300]
