"""Which manifest changes reach running devices over WAMP, and which need a restart (pure)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from homesim.schemas.manifest import PROPERTY_MODELS, HomeSpec

__all__ = ["live_changes", "restart_hash"]


def _live(kind: str, name: str) -> bool:
    extra = PROPERTY_MODELS[kind].model_fields[name].json_schema_extra
    return bool(extra.get("x-live")) if isinstance(extra, dict) else False


def live_changes(old: HomeSpec, new: HomeSpec) -> list[tuple[str, str, Any]]:
    """``(device, property, new value)`` for every changed live property of a device that
    exists (same name and kind) in both specs."""
    out = []
    before = {d.name: d for d in old.devices}
    for d in new.devices:
        o = before.get(d.name)
        if o is None or o.kind != d.kind:
            continue
        a, b = o.properties.model_dump(mode="json"), d.properties.model_dump(mode="json")
        for key in b:
            if a.get(key) != b[key] and _live(d.kind, key):
                out.append((d.name, key, b[key]))
    return out


def restart_hash(spec: HomeSpec, device: str) -> str:
    """Hash of what a device can only take at start: its non-live properties and the home's
    location and simulation settings. A change rolls the device's pods; live changes don't."""
    d = next(x for x in spec.devices if x.name == device)
    props = d.properties.model_dump(mode="json")
    fixed = {k: v for k, v in props.items() if not _live(d.kind, k)}
    blob = json.dumps({"kind": d.kind, "fixed": fixed,
                       "location": spec.location.model_dump(mode="json") if spec.location
                       else None,
                       "simulation": spec.simulation.model_dump(mode="json")}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
