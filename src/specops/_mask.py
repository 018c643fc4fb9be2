"""Masking credentials out of documents before they reach a plan, a policy input or a log.

A field whose key mentions a token, secret, password, credential or private
key is masked; keys ending in ``Env`` are exempt: they *name* an environment
variable (``auth.tokenEnv``), which is what specs are for.
"""

from __future__ import annotations

from typing import Any

from specops.spec._document_checks import names_a_credential

__all__ = ["MASK", "is_sensitive", "mask"]

MASK = "(sensitive)"


def is_sensitive(key: str) -> bool:
    """A key that names a credential, by whole words: ``apiKey`` and ``client_secret`` are,
    ``maxTokens`` and ``tokenizer`` are not (the same rule that rejects such labels in specs)."""
    if key.endswith("Env"):
        return False
    return names_a_credential(key)


def mask(value: Any) -> Any:
    """A copy of a JSON-like value with sensitive keys' values replaced by ``MASK``."""
    if isinstance(value, dict):
        return {k: MASK if is_sensitive(k) else mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v) for v in value]
    return value
