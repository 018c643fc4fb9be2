"""Watching what was shipped: SLO burn rates, drift, alerts, and their Prometheus rules."""

from __future__ import annotations
