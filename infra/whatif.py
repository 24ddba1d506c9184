"""What-if: resume a run, fork it with changed settings, sweep variants of a home (pure
planning here; the runs themselves go through :func:`homesim.infra.supervisor.run_home`).

* ``apply_sets(data, sets)``: ``DEVICE.PROPERTY=VALUE`` changes on a manifest mapping
  (dotted paths into nested properties; values as YAML scalars, so quantities with units
  such as ``18 kWh`` are converted by the manifest's validation, like in a manifest file).
* ``variants(sets)``: the cartesian product of ``--set DEVICE.PROPERTY=V1,V2,…`` options.
* ``fork_home(snapshot, sets, until)``: the Home a fork runs (the snapshot's manifest,
  changed and validated).
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from homesim.schemas.manifest import Home, parse_home, with_simulation

__all__ = ["SetError", "parse_set", "parse_sweep_set", "apply_sets", "variants", "fork_home"]


class SetError(ValueError):
    """A ``--set`` option is malformed or names no device / property (the message says
    which and what exists)."""


def _value(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def parse_set(text: str) -> tuple[str, str, Any]:
    """``DEVICE.PROPERTY=VALUE`` → ``(device, property path, value)``.

    Raises
    ------
    SetError
        Without ``=`` or without a ``.`` between device and property.
    """
    if "=" not in text:
        raise SetError(f"--set {text!r}: expected DEVICE.PROPERTY=VALUE, e.g. "
                       "battery.capacity=18kWh")
    key, raw = text.split("=", 1)
    if "." not in key or key.startswith(".") or key.endswith("."):
        raise SetError(f"--set {text!r}: expected DEVICE.PROPERTY=VALUE (no device or "
                       "property in {key!r})")
    device, prop = key.split(".", 1)
    return device.strip(), prop.strip(), _value(raw.strip())


def parse_sweep_set(text: str) -> tuple[str, str, list[Any]]:
    """``DEVICE.PROPERTY=V1,V2,…`` → ``(device, property path, [values])`` (at least one)."""
    device, prop, _ = parse_set(text)
    raw = text.split("=", 1)[1]
    values = [_value(v.strip()) for v in raw.split(",") if v.strip()]
    if not values:
        raise SetError(f"--set {text!r}: no value")
    return device, prop, values


def apply_sets(data: Mapping[str, Any], sets: Sequence[tuple[str, str, Any]]) -> dict[str, Any]:
    """A copy of manifest mapping ``data`` with each ``(device, property path, value)`` set.

    Raises
    ------
    SetError
        If a device is not in the manifest (the message lists the devices).
    """
    out = copy.deepcopy(dict(data))
    devices = out.get("spec", {}).get("devices", [])
    names = [d.get("name") for d in devices]
    for device, prop, value in sets:
        dev = next((d for d in devices if d.get("name") == device), None)
        if dev is None:
            raise SetError(f"--set {device}.{prop}: no device {device!r} (devices: "
                           f"{', '.join(str(n) for n in names)})")
        node = dev.setdefault("properties", {})
        *parents, leaf = prop.split(".")
        for part in parents:
            nxt = node.get(part)
            if not isinstance(nxt, dict):
                nxt = {} if nxt is None else nxt
                if not isinstance(nxt, dict):
                    raise SetError(f"--set {device}.{prop}: {part!r} is not a mapping")
                node[part] = nxt
            node = nxt
        node[leaf] = value
    return out


def variants(sets: Sequence[tuple[str, str, list[Any]]]) -> list[list[tuple[str, str, Any]]]:
    """Every combination of the values of ``sets`` (cartesian product, in option order)."""
    if not sets:
        return [[]]
    combos = itertools.product(*[[(d, p, v) for v in values] for d, p, values in sets])
    return [list(c) for c in combos]


def fork_home(snapshot: Mapping[str, Any], sets: Sequence[tuple[str, str, Any]],
              until: str | None = None) -> Home:
    """The Home a fork of ``snapshot`` runs: its manifest (every device's properties as they
    were at the snapshot) with ``sets`` applied, validated; ``until`` overrides the duration
    (from the simulation's start, like ``homesim run --until``).

    Raises
    ------
    SetError
        For a ``--set`` naming no device.
    ManifestError
        If the changed manifest is invalid (field path and reason).
    """
    data = apply_sets(snapshot["manifest"], sets)
    home = parse_home(data, "fork")
    if until is not None:
        home = with_simulation(home, until=until)
    return home
