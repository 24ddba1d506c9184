"""Kubernetes-style status conditions (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

__all__ = ["set_condition", "now"]


def now() -> str:
    """The current time as an RFC 3339 string (UTC, seconds)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def set_condition(conditions: list[dict[str, Any]] | None, type_: str, status: bool | str,
                  reason: str, message: str, generation: int | None,
                  at: str | None = None) -> list[dict[str, Any]]:
    """Return ``conditions`` with condition ``type_`` set.

    ``lastTransitionTime`` changes only when the status changes (Kubernetes API conventions).
    ``status`` is True/False or "True"/"False"/"Unknown"; ``reason`` is CamelCase.
    """
    st = status if isinstance(status, str) else ("True" if status else "False")
    out = [dict(c) for c in (conditions or []) if c.get("type") != type_]
    old = next((c for c in (conditions or []) if c.get("type") == type_), None)
    changed = old is None or old.get("status") != st
    out.append({
        "type": type_, "status": st, "reason": reason, "message": message,
        "observedGeneration": generation,
        "lastTransitionTime": (at or now()) if changed else old.get("lastTransitionTime"),
    })
    return sorted(out, key=lambda c: c["type"])
