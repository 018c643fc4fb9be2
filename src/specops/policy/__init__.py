"""Policy as code: Rego policies judge every plan; waivers, approvals and reports."""

from __future__ import annotations
