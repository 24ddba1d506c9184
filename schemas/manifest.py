"""The Home manifest: ``apiVersion: homesim.io/v1alpha1``, ``kind: Home``.

One YAML document declares a home: its location, simulation settings and devices. The same
document is run locally with ``homesim run`` and (later) applied with ``kubectl apply``; its
JSON Schema is exported to ``schemas/home.schema.json`` for the CRD.

A device's ``properties`` use the models generated from ``schemas/asyncapi.yaml``, so the
manifest, the device's ``describe`` and its ``set`` validation are one schema.
"""

from __future__ import annotations

import difflib
import math
import re
import types
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from homesim.schemas.generated.messages import HeatingCurve, Thermostat
from homesim.schemas.quantities import QuantityError, to_unit
from homesim.schemas.registry import REGISTRY

__all__ = [
    "API_VERSION", "DEVICE_KINDS", "Home", "HomeSpec", "Device", "ManifestError",
    "load_manifest", "parse_duration", "home_json_schema", "PROPERTY_MODELS", "EXTERNAL_NODES",
    "Block", "load_any", "as_home", "read_manifest_data", "check_speed", "MAX_MANIFEST_BYTES",
    "MAX_DURATION", "with_simulation", "validation_errors",
]

API_VERSION = "homesim.io/v1alpha1"
#: A manifest file larger than this is refused before it is parsed [bytes].
MAX_MANIFEST_BYTES = 10 * 2**20
#: YAML/JSON nesting deeper than this is refused (a manifest needs < 10 levels).
MAX_MANIFEST_DEPTH = 64
#: Nodes after expanding aliases (a "billion laughs" YAML bomb is refused before it expands).
MAX_MANIFEST_NODES = 100_000
#: The longest simulated duration a manifest or ``--until`` may ask for [s] (100 years).
MAX_DURATION = 100 * 365.25 * 86400
#: Speed factors ``Nx`` a run accepts (as the clock's ``parse_speed``).
SPEED_MIN, SPEED_MAX = 0.01, 1e6
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
HOME_NAME = r"^[a-z][-a-z0-9]{1,61}[a-z0-9]$"

#: Device kind → pydantic model of its properties (generated from the contract; the
#: registry, ``homesim.schemas.registry``, is the source).
PROPERTY_MODELS: dict[str, type[BaseModel]] = {k: REGISTRY.properties_model(k) for k in REGISTRY}
DEVICE_KINDS = REGISTRY.names()
#: Nodes that are not devices: the outdoors (envelope and standing losses, heat-pump source
#: heat), the occupants' internal gains, the gas network. Unbounded, not balanced.
EXTERNAL_NODES = ("ambient", "occupancy", "gas-grid")


class ManifestError(ValueError):
    """A manifest could not be read or is invalid.

    ``errors`` is a list of ``(field_path, reason)``, e.g.
    ``("spec.devices[3].properties.capacity", "Input should be greater than 0")``.
    """

    def __init__(self, errors: list[tuple[str, str]], source: str = "manifest") -> None:
        self.errors = errors
        self.source = source
        lines = "\n".join(f"  {path}: {reason}" for path, reason in errors)
        super().__init__(f"{source}: {len(errors)} error(s)\n{lines}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Metadata(BaseModel):
    """Kubernetes object metadata; only ``name`` is used by homesim."""

    model_config = ConfigDict(extra="allow")
    # a DNS label (Kubernetes object names) that is also a WAMP realm name (Crossbar: a
    # letter first, at least 3 characters): the home's realm is its name
    name: Annotated[str, Field(pattern=HOME_NAME, max_length=63)]
    namespace: str | None = None
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}


class Location(_Strict):
    """Where the home is. Defaults to the weather file's location when absent."""

    latitude: Annotated[float, Field(ge=-90, le=90, description="[deg], north positive")]
    longitude: Annotated[float, Field(ge=-180, le=180, description="[deg], east positive")]
    altitude: Annotated[float, Field(ge=-500, le=10000, description="[m]")] = 0.0
    timezone: Annotated[
        str | None,
        Field(description="IANA zone or 'Etc/GMT+5'; default: the weather file's UTC offset"),
    ] = None


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)?\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PLAIN_NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")


def parse_duration(value: str | float | int) -> float:
    """Parse a duration: ``"365d"``, ``"12h"``, ``"30m"`` (minutes), ``"90s"``, ``"2w"``, any
    time quantity pint reads (``"15 min"``, ``"1.5 hours"``, ``"2 weeks"``), or a number of
    seconds given as a number (not as text: ``"7"`` is ambiguous and refused).

    Returns
    -------
    float
        Duration [s].

    Raises
    ------
    ValueError
        If the text has no unit, is not a duration, or is not a non-negative duration of at
        most 100 years (``MAX_DURATION``).
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        text = str(value)[:65]
        if len(str(value)) > 64:
            raise ValueError(f"not a duration: {text[:64]!r}… (use e.g. 365d, 12h, 30m, 90s)")
        m = _DURATION.match(text)
        if m and m.group(2) is None:
            n = m.group(1)
            raise ValueError(f"{text.strip()!r} has no unit: give a unit, e.g. {n}d or {n}h "
                             "(s, m = minutes, h, d, w)")
        if m:
            seconds = float(m.group(1)) * _UNIT_S[m.group(2)]
        elif _PLAIN_NUMBER.match(text):
            raise ValueError(f"{text.strip()!r} has no unit: give a unit, e.g. 7d or 7h")
        else:
            try:
                seconds = to_unit(text, "s")
            except QuantityError:
                raise ValueError(f"not a duration: {text!r} (use e.g. 365d, 12h, 30m, 90s or "
                                 "15 min)") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError("duration must be a finite number ≥ 0")
    if seconds > MAX_DURATION:
        raise ValueError(f"duration must be at most 100 years ({MAX_DURATION:.0f} s)")
    return seconds


def parse_seconds(value: Any) -> Any:
    """A tick length or timeout: a number [s] as it is, or a time quantity as text
    (``"15 min"``, ``"1h"``, ``"30m"`` = 30 minutes) in seconds; anything else unchanged (for
    the field's own check).

    Raises
    ------
    ValueError
        If a text is not a time quantity.
    """
    if not isinstance(value, str):
        return value
    m = _DURATION.match(value[:65])
    if m and m.group(2) is not None:
        return float(m.group(1)) * _UNIT_S[m.group(2)]
    return to_unit(value, "s")


def check_speed(speed: str) -> str:
    """Check a speed (``realtime``, ``max`` or ``Nx`` with 0.01 ≤ N ≤ 1e6), as the clock does.

    Raises
    ------
    ValueError
    """
    text = str(speed)
    if text in ("realtime", "max"):
        return text
    m = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)x", text[:33])
    if not m or len(text) > 32:
        raise ValueError(f"invalid speed {text[:40]!r}: use realtime, max or e.g. 60x")
    factor = float(m.group(1))
    if not (math.isfinite(factor) and SPEED_MIN <= factor <= SPEED_MAX):
        raise ValueError(f"invalid speed {text!r}: the factor must be between "
                         f"{SPEED_MIN:g} and {SPEED_MAX:g}")
    return text


class Simulation(_Strict):
    """Simulation defaults; ``homesim run`` options override them."""

    start: Annotated[
        datetime,
        Field(description="Start of the run; a naive time is local time of the home"),
    ] = datetime(2025, 1, 1)
    duration: Annotated[str, Field(description="e.g. 365d, 12h, 30m")] = "1d"
    dt: Annotated[float, Field(gt=0, le=3600, description="Tick length [s]")] = 60.0
    speed: Annotated[
        str, Field(pattern=r"^(realtime|max|[0-9]+(\.[0-9]+)?x)$", max_length=32)
    ] = "max"
    # 2^32 - 1, not 2^63 - 1: the API server reads a CRD's maximum as float64, and 2^63 - 1
    # overflowed to -2^63 there (every Home was refused)
    seed: Annotated[int, Field(ge=0, le=2**32 - 1, description="Random seed")] = 0
    timeout: Annotated[
        float, Field(gt=0, le=86400, description="Seconds a device may take to settle a window")
    ] = 60.0

    @field_validator("duration", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> Any:
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            n = f"{v:g}" if isinstance(v, float) else str(v)
            raise ValueError(f"{n} has no unit: give a unit, e.g. {n}d or {n}h "
                             "(s, m = minutes, h, d, w)")
        if isinstance(v, str):
            parse_duration(v)
        return v

    @field_validator("dt", "timeout", mode="before")
    @classmethod
    def _seconds(cls, v: Any) -> Any:
        return parse_seconds(v)

    @field_validator("speed", mode="before")
    @classmethod
    def _speed(cls, v: Any) -> Any:
        return check_speed(v) if isinstance(v, str) else v


class _DeviceBase(_Strict):
    name: Annotated[str, Field(pattern=DNS_LABEL, max_length=63, description="Device id")]
    enabled: Annotated[bool, Field(description="false = not started (replicas 0)")] = True
    flat: Annotated[
        str | None,
        Field(description="The flat this device belongs to (set for the devices of a Block's "
                          "flats; meters, summaries and bills group by it)"),
    ] = None


_IAM_FIELDS = {"physical": {"n", "K", "L"}, "ashrae": {"b"}, "martin_ruiz": {"a_r"}}
_TEMPERATURE_FIELDS = {"sapm": {"a", "b", "deltaT"}, "faiman": {"u0", "u1"},
                       "pvsyst": {"u_c", "u_v", "module_efficiency", "alpha_absorption"}}


def _given(model: Any) -> set[str]:
    return set() if model is None else {k for k, v in model.model_dump().items()
                                        if v is not None}


def _pv(p: Any) -> None:
    if p.model == "cec" and not p.module:
        raise ValueError("properties.module is required when properties.model is 'cec'")
    if p.losses_percent is not None and p.pvwatts_losses is not None:
        raise ValueError("properties.losses_percent and properties.pvwatts_losses: give one")
    if "sapm" in (p.aoi_model, p.spectral_model) and not p.sandia_module:
        raise ValueError("properties.sandia_module (a module of pvlib's Sandia database) is "
                         "required by aoi_model or spectral_model 'sapm'")
    if p.spectral_model == "first_solar" and p.module_type is None:
        raise ValueError("properties.module_type is required when properties.spectral_model "
                         "is 'first_solar'")
    foreign = sorted(_given(p.iam_parameters) - _IAM_FIELDS.get(p.aoi_model, set()))
    if foreign:
        raise ValueError(f"properties.iam_parameters: {', '.join(foreign)} not a parameter of "
                         f"aoi_model {p.aoi_model!r}")
    tm = p.temperature_model
    family = "faiman" if tm == "faiman" else "pvsyst" if tm.startswith("pvsyst") else "sapm"
    given = _given(p.temperature_parameters)
    foreign = sorted(given - _TEMPERATURE_FIELDS[family])
    if foreign:
        raise ValueError(f"properties.temperature_parameters: {', '.join(foreign)} not a "
                         f"parameter of the {family} cell-temperature model")
    if tm == "sapm" and given != _TEMPERATURE_FIELDS["sapm"]:
        raise ValueError("properties.temperature_parameters a, b and deltaT are required when "
                         "properties.temperature_model is 'sapm'")


def _load(p: Any) -> None:
    if p.profile == "csv" and p.csv is None:
        raise ValueError("properties.csv (file, column, unit …) is required when "
                         "properties.profile is 'csv'")
    if p.holidays is not None:
        import holidays

        known = holidays.list_supported_countries()
        c, sub = p.holidays.country, p.holidays.subdivision
        if c not in known:
            raise ValueError(f"properties.holidays.country: {c!r} is not a country of the "
                             "holidays package (ISO 3166-1 alpha-2, e.g. DE)")
        if sub is not None and sub not in known[c]:
            raise ValueError(f"properties.holidays.subdivision: {sub!r} is not a subdivision "
                             f"of {c} ({', '.join(known[c][:40])})")


def _inverter(p: Any) -> None:
    if p.efficiency_model == "cec" and not p.inverter:
        raise ValueError("properties.inverter is required when properties.efficiency_model is "
                         "'cec'")


def _flat(p: Any) -> None:
    if p.thermostat is None:  # explicit, so that set thermostat.x works
        p.thermostat = Thermostat()


def _heat_pump(p: Any) -> None:
    if p.heating_curve is None:  # explicit: set heating_curve.x works
        p.heating_curve = HeatingCurve()


def _buffer(p: Any) -> None:
    if p.t_max <= p.t_min:
        raise ValueError("properties.t_max must be above properties.t_min")


def _dhw_tank(p: Any) -> None:
    if p.t_set <= p.t_cold:
        raise ValueError("properties.t_set must be above properties.t_cold")
    if not p.t_cold <= p.t_use <= p.t_set:
        raise ValueError("properties.t_use must lie between properties.t_cold and "
                         "properties.t_set")
    if p.tapping == "custom" and not p.taps:
        raise ValueError("properties.taps: tapping 'custom' needs at least one draw")


def _ev_charger(p: Any) -> None:
    if p.p_min > p.p_max:
        raise ValueError("properties.p_min must not exceed properties.p_max")
    for i, s in enumerate(p.sessions):
        soc = s.soc_arrival is not None and s.target_soc is not None
        if (s.energy_kwh is None) == (not soc):
            raise ValueError(f"properties.sessions[{i}]: give energy_kwh, or soc_arrival "
                             "and target_soc")
        if soc and s.target_soc < s.soc_arrival:
            raise ValueError(f"properties.sessions[{i}]: target_soc below soc_arrival")


def _non_finite(node: Any, path: str) -> str | None:
    """Path of the first non-finite float in a properties dump (every number of the
    contract has bounds; this also covers plugin kinds and the few left unbounded)."""
    if isinstance(node, float):
        return None if math.isfinite(node) else path
    if isinstance(node, dict):
        for k, v in node.items():
            bad = _non_finite(v, f"{path}.{k}")
            if bad:
                return bad
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            bad = _non_finite(v, f"{path}[{i}]")
            if bad:
                return bad
    return None


def _battery(p: Any) -> None:
    if not p.soc_min <= p.soc_initial <= p.soc_max:
        raise ValueError("need soc_min ≤ soc_initial ≤ soc_max")
    if not p.capacity <= 1e15:  # not live: checked here (the CRD keeps the model's schema)
        raise ValueError("properties.capacity must be at most 1e15 J")
    if p.coupling == "dc" and p.p_ac_max is not None:  # refused, never ignored
        raise ValueError("properties.p_ac_max is the rating of an AC-coupled battery's own "
                         "converter: set properties.coupling to 'ac' or remove it (a "
                         "DC-coupled battery is limited by the inverter's p_ac_max)")


#: Cross-field rules of a kind's properties that a JSON Schema cannot hold (they may also
#: fill defaults that live ``set`` needs). Checked after the properties validate; the
#: operator reports them as ``InvalidSpec``. Plugin kinds put such rules on their own model.
PROPERTY_CHECKS: dict[str, Callable[[Any], None]] = {
    "pv": _pv, "load": _load, "inverter": _inverter, "battery": _battery, "flat": _flat,
    "heat_pump": _heat_pump, "buffer": _buffer, "ev_charger": _ev_charger,
    "dhw_tank": _dhw_tank,
}


def _unwrap(tp: Any) -> Any:
    """``X`` of ``Annotated[X, …]`` and of ``X | None``; a union of several types as it is."""
    while True:
        if get_origin(tp) is Annotated:
            tp = get_args(tp)[0]
            continue
        if get_origin(tp) in (Union, types.UnionType):
            args = [a for a in get_args(tp) if a is not type(None)]
            if len(args) == 1:
                tp = args[0]
                continue
        return tp


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def field_unit(field: Any) -> str | None:
    """The contract's unit of a model field (``x-unit`` of the property), or None."""
    extra = getattr(field, "json_schema_extra", None)
    unit = extra.get("x-unit") if isinstance(extra, dict) else None
    return unit if isinstance(unit, str) else None


def _with_units(model: type[BaseModel], data: Any) -> Any:
    """``data`` (the raw properties of ``model``) with every quantity written as text on a
    property that has a unit (``capacity: 10 kWh``) converted to that unit (3.6e7 [J]);
    recurses into nested objects and lists of them. Texts that do not convert stay as they
    are: the property's validation refuses them, and :func:`validation_errors` explains."""
    if not isinstance(data, Mapping):
        return data
    out = dict(data)
    for key, value in data.items():
        field = model.model_fields.get(key) if isinstance(key, str) else None
        if field is None:
            continue
        unit = field_unit(field)
        if unit is not None and isinstance(value, str):
            try:
                out[key] = to_unit(value, unit)
            except QuantityError:
                pass
            continue
        tp = _unwrap(field.annotation)
        if _is_model(tp):
            out[key] = _with_units(tp, value)
        elif get_origin(tp) is list and isinstance(value, list):
            item = _unwrap(get_args(tp)[0]) if get_args(tp) else None
            if _is_model(item):
                out[key] = [_with_units(item, v) for v in value]
    return out


def _device_model(kind: str) -> type[_DeviceBase]:
    """The manifest entry model of one kind: name, enabled, flat, ``kind``, ``properties``."""
    props = REGISTRY.properties_model(kind)
    check = PROPERTY_CHECKS.get(kind)

    def _check(self: Any) -> Any:
        bad = _non_finite(self.properties.model_dump(), "properties")
        if bad:
            raise ValueError(f"{bad} must be a finite number (not inf or nan)")
        if check is not None:
            check(self.properties)
        return self

    def _units(cls: Any, data: Any) -> Any:
        if isinstance(data, Mapping) and isinstance(data.get("properties"), Mapping):
            return {**data, "properties": _with_units(props, data["properties"])}
        return data

    name = "".join(p.capitalize() for p in kind.split("_")) + "Device"
    return create_model(  # type: ignore[call-overload, no-any-return]
        name, __base__=_DeviceBase, __module__=__name__,
        __doc__=f"A ``{kind}`` device: {REGISTRY.get(kind).description}",
        __validators__={"_units": model_validator(mode="before")(_units),
                        "_check": model_validator(mode="after")(_check)},
        kind=(Literal[kind], ...),  # type: ignore[valid-type]
        properties=(props, Field(default_factory=props)))


#: Kind → manifest entry model, one per registered kind.
DEVICE_MODELS: dict[str, type[_DeviceBase]] = {k: _device_model(k) for k in REGISTRY}

Device = Annotated[
    Union[tuple(DEVICE_MODELS.values())],  # type: ignore[valid-type]  # noqa: UP007
    Field(discriminator="kind"),
]


#: Properties that name another device of the home: ``(kind, property) → kind`` of the
#: device named (a pv array wired to a PV inverter), from the descriptors' ``references``.
#: Checked by :func:`topology_errors`.
DEVICE_REFERENCES: dict[tuple[str, str], str] = {
    (k, prop): target for k in REGISTRY.names()
    for prop, target in REGISTRY.get(k).references.items()}


def _reference_errors(devices: list[Any]) -> list[tuple[str, str]]:
    """A reference (:data:`DEVICE_REFERENCES`) must name an enabled device of its kind, and
    a PV inverter must have an enabled array wired to it."""
    errors: list[tuple[str, str]] = []
    by_name = {d.name: d for d in devices}
    named: set[str] = set()
    for i, d in enumerate(devices):
        for (kind, prop), target in DEVICE_REFERENCES.items():
            ref = getattr(d.properties, prop, None) if d.kind == kind else None
            if not ref or not d.enabled:
                continue
            named.add(ref)
            path = f"devices[{i}].properties.{prop}"
            other = by_name.get(ref)
            some = ", ".join(repr(x.name) for x in devices if x.kind == target and x.enabled)
            if other is None:
                errors.append((path, f"no device {ref!r} in this home (a {target} is "
                               f"expected{': ' + some if some else ''})"))
            elif other.kind != target:
                errors.append((path, f"{ref!r} is a {other.kind}, not a {target} "
                               f"(a {kind}'s {prop} names a {target}"
                               f"{': ' + some if some else ''})"))
            elif not other.enabled:
                errors.append((path, f"{target} {ref!r} is disabled: enable it or remove "
                               f"this {prop}"))
    for i, d in enumerate(devices):
        if d.kind == "pv_inverter" and d.enabled and d.name not in named:
            errors.append((f"devices[{i}]", f"pv_inverter {d.name!r} has no enabled pv array "
                           f"(set a pv's properties.inverter to {d.name!r})"))
    return errors


def _balancer_errors(devices: list[Any], flagged: set[str]) -> list[tuple[str, str]]:
    """One balancing device (role ``balancer``) per carrier: the home's balancing device is
    explicit; a second one (whatever its kind) is named. ``flagged``: paths already refused."""
    errors: list[tuple[str, str]] = []
    first: dict[str, int] = {}
    for i, d in enumerate(devices):
        desc = REGISTRY.get(d.kind) if d.kind in REGISTRY else None
        if not d.enabled or desc is None or not desc.balancer:
            continue
        for carrier in desc.carriers:
            if carrier not in first:
                first[carrier] = i
            elif f"devices[{i}]" not in flagged:
                j = first[carrier]
                errors.append((f"devices[{i}]", f"the {carrier} bus has one balancing device, "
                               f"devices[{j}] {devices[j].name!r} ({devices[j].kind}); "
                               f"{d.name!r} ({d.kind}) would be a second one: disable or "
                               "remove it (a PV inverter beside the hybrid inverter is a "
                               "pv_inverter)"))
                flagged.add(f"devices[{i}]")
    return errors


def topology_errors(devices: list[Any]) -> list[tuple[str, str]]:
    """What the kinds' descriptors forbid in a home's device list: ``(path, reason)`` with
    ``path`` relative to the list (``devices[3]``).

    Rules (``x-homesim-kind``): ``limits.max_per_home`` / ``min_per_home`` / ``max_per_flat``
    of enabled devices, ``requires`` (kinds that must be enabled with it). A device beyond a
    limit is named (the balancing devices cannot use it, so it is refused, never ignored).
    One balancing device (role ``balancer``) per carrier; properties that name a device
    (:data:`DEVICE_REFERENCES`) name an enabled one of the right kind.
    """
    errors: list[tuple[str, str]] = []
    on = [(i, d) for i, d in enumerate(devices) if d.enabled]
    by_kind: dict[str, list[int]] = {}
    for i, d in on:
        by_kind.setdefault(d.kind, []).append(i)
    for kind in REGISTRY:
        desc = REGISTRY.get(kind)
        idx = by_kind.get(kind, [])
        lim = desc.limits
        if lim.max_per_home is not None and len(idx) > lim.max_per_home:
            first = ", ".join(f"devices[{j}] {devices[j].name!r}" for j in idx[:lim.max_per_home])
            for j in idx[lim.max_per_home:]:
                errors.append((f"devices[{j}]", f"a home has at most {lim.max_per_home} enabled "
                               f"{kind} device(s) ({first} already); disable or remove this one"))
        if len(idx) < lim.min_per_home:
            errors.append(("devices", f"a home needs {lim.min_per_home} enabled {kind} "
                           f"device(s) ({desc.label}: {desc.description})"))
        if lim.max_per_flat is not None:
            per_flat: dict[str, list[int]] = {}
            for j in idx:
                if devices[j].flat is not None:
                    per_flat.setdefault(devices[j].flat, []).append(j)
            for flat, js in per_flat.items():
                for j in js[lim.max_per_flat:]:
                    errors.append((f"devices[{j}]", f"flat {flat!r} has more than "
                                   f"{lim.max_per_flat} enabled {kind} device(s)"))
        if idx:
            missing = [r for r in desc.requires if r not in by_kind]
            if missing:
                errors.append((f"devices[{idx[0]}]", f"{kind} devices need an enabled "
                               f"{' and '.join(missing)} device ({desc.label} uses "
                               f"{', '.join(REGISTRY.get(m).label for m in missing)})"))
    errors += _balancer_errors(devices, {p for p, _ in errors})
    errors += _reference_errors(devices)
    return sorted(errors, key=lambda e: [int(x) for x in re.findall(r"\d+", e[0])])


def _dhw_heat_errors(devices: list[Any]) -> list[tuple[str, str]]:
    """A hot-water tank ``heated_by: heat_node`` needs an enabled heat node with a heat pump
    or a boiler in the home (the building of a block): ``(path, reason)``."""
    on = [d for d in devices if d.enabled]
    kinds = {d.kind for d in on}
    out = []
    for i, d in enumerate(devices):
        if d.enabled and d.kind == "dhw_tank" and d.properties.heated_by == "heat_node":
            if "heat_node" not in kinds:
                out.append((f"devices[{i}].properties.heated_by", "'heat_node' needs an "
                            "enabled heat_node device in the home (or the block); add one "
                            "or use 'element'"))
            elif not kinds & {"heat_pump", "boiler"}:
                out.append((f"devices[{i}].properties.heated_by", "'heat_node' needs an "
                            "enabled heat_pump or boiler to heat the tank; add one or use "
                            "'element'"))
    return out


_REL = re.compile(r"^((?:devices|flats)(?:\[\d+\]|\.[A-Za-z_]\w*)*): (.*)$", re.S)


class HomeSpec(_Strict):
    location: Location | None = None
    simulation: Simulation = Simulation()
    devices: Annotated[list[Device], Field(min_length=1)]

    @model_validator(mode="after")
    def _topology(self) -> HomeSpec:
        errs = topology_errors(self.devices) + _dhw_heat_errors(self.devices)
        if errs:
            raise ValueError("\n".join(f"{p}: {r}" for p, r in errs))
        names = Counter(d.name for d in self.devices)
        dupes = sorted(n for n, c in names.items() if c > 1)
        if dupes:
            raise ValueError(f"device names must be unique: {', '.join(dupes)}")
        # the clock, the ledger, people's roles and the Home Secret's key are identities too
        reserved = {"clock", "ledger", "manager", "viewer", "operator", "tap", "authenticator",
                    "home-key", *EXTERNAL_NODES}
        bad = sorted(reserved.intersection(names))
        if bad:
            raise ValueError(f"reserved device name(s): {', '.join(bad)}")
        node = self.first("heat_node")
        if node is not None:
            flats = {d.name for d in self.devices if d.kind == "flat" and d.enabled}
            for i, c in enumerate(node.properties.couplings):
                for end in (c.a, c.b):
                    if end not in flats:
                        raise ValueError(
                            f"heat_node {node.name!r} couplings[{i}]: {end!r} is not an "
                            f"enabled flat device (flats: {', '.join(sorted(flats)) or 'none'})")
                if c.a == c.b:
                    raise ValueError(f"heat_node {node.name!r} couplings[{i}]: a flat cannot "
                                     "be coupled to itself")
        return self

    def enabled(self) -> list[Any]:
        """Enabled devices, in manifest order."""
        return [d for d in self.devices if d.enabled]

    def by_flat(self, enabled_only: bool = True) -> dict[str, list[str]]:
        """The device names of each flat of a block (the devices that carry ``flat``), in
        manifest order; only enabled devices unless ``enabled_only`` is false."""
        out: dict[str, list[str]] = {}
        for d in self.enabled() if enabled_only else self.devices:
            if d.flat:
                out.setdefault(d.flat, []).append(d.name)
        return out

    def device(self, name: str) -> Any:
        """The device called ``name``; KeyError if there is none."""
        for d in self.devices:
            if d.name == name:
                return d
        raise KeyError(name)

    def first(self, kind: str) -> Any | None:
        """The first enabled device of ``kind``, or None."""
        return next((d for d in self.devices if d.kind == kind and d.enabled), None)


class Home(_Strict):
    """A home manifest (``kind: Home``)."""

    apiVersion: Literal["homesim.io/v1alpha1"]  # noqa: N815 (Kubernetes field name)
    kind: Literal["Home"]
    metadata: Metadata
    spec: HomeSpec


def _path(loc: tuple[Any, ...]) -> str:
    """Turn a pydantic error location into ``spec.devices[2].properties.capacity``.

    The tag pydantic inserts after a discriminated-union index (the kind) is dropped.
    """
    out = ""
    prev_int = False
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            prev_int = True
            continue
        if prev_int and part in DEVICE_KINDS:
            prev_int = False
            continue
        prev_int = False
        out += ("." if out else "") + str(part)
    return out or "(root)"


def _type_at(root: Any, loc: tuple[Any, ...]) -> tuple[Any, Any]:
    """``(type, field)`` at a pydantic error location under the model ``root`` (a device's
    kind tag in ``loc`` selects its model); ``(None, None)`` where the location leaves the
    models (a dict key, an unknown field)."""
    tp: Any = root
    field: Any = None
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(part, int):
            if get_origin(tp) in (list, tuple) and get_args(tp):
                tp, field = get_args(tp)[0], None
                continue
            return None, None
        if _is_model(tp) and isinstance(part, str) and part in tp.model_fields:
            field = tp.model_fields[part]
            tp = field.annotation
            continue
        if part in DEVICE_MODELS:  # the discriminator's tag: the kind's entry model
            tp, field = DEVICE_MODELS[part], None
            continue
        return None, None
    return _unwrap(tp), field


def _did_you_mean(word: Any, choices: list[str]) -> str:
    """``"; did you mean 'battery'?"`` when ``word`` is close to one of ``choices``."""
    if not isinstance(word, str) or not choices:
        return ""
    lower = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(word.lower(), list(lower), n=1, cutoff=0.6)
    return f"; did you mean {lower[close[0]]!r}?" if close else ""


_PATTERNS = {
    DNS_LABEL: "must be a DNS label: lowercase letters, digits and '-', starting and ending "
               "with a letter or digit",
    HOME_NAME: "must be a DNS label that is also a WAMP realm name: lowercase letters, digits "
               "and '-', at least 3 characters, starting with a letter and ending with a "
               "letter or digit",
    r"^([01][0-9]|2[0-3]):[0-5][0-9]$": "must be a time of day HH:MM, 00:00 to 23:59",
    r"^([01][0-9]|2[0-4]):[0-5][0-9]$": "must be a time of day HH:MM, 00:00 to 24:00",
}


def _explain(e: Any, root: Any) -> str:
    """The reason of one pydantic error, in words a manifest's author understands: unknown
    kinds, properties and values with the closest valid one, quantities with the expected
    unit, patterns in words. Other errors keep pydantic's sentence (without its prefix)."""
    kind, loc, given = e["type"], tuple(e["loc"]), e.get("input")
    ctx = e.get("ctx") or {}
    msg = str(e["msg"]).removeprefix("Value error, ")
    if kind == "union_tag_invalid" and "kind" in str(ctx.get("discriminator", "")):
        tag = ctx.get("tag")
        return (f"unknown kind {tag!r}{_did_you_mean(tag, list(DEVICE_MODELS))} "
                f"(kinds: {', '.join(DEVICE_MODELS)})")
    if kind == "union_tag_not_found" and "kind" in str(ctx.get("discriminator", "")):
        return f"a device needs a kind: one of {', '.join(DEVICE_MODELS)}"
    if kind == "extra_forbidden" and loc:
        parent, _ = _type_at(root, loc[:-1])
        names = list(parent.model_fields) if _is_model(parent) else []
        what = "property" if "properties" in loc[:-1] else "field"
        plural = "properties" if what == "property" else "fields"
        known = f" ({plural}: {', '.join(names)})" if names else ""
        return f"unknown {what} {loc[-1]!r}{_did_you_mean(loc[-1], names)}{known}"
    if kind in ("literal_error", "enum"):
        options = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        if loc == ("kind",) and options == ["Home"]:  # the document's kind
            return f"must be Home or Block, not {given!r}{_did_you_mean(given, ['Home', 'Block'])}"
        if isinstance(given, bool) and {"on", "off"} & set(options):
            return (f"{msg} (YAML reads on/off/yes/no without quotes as true/false: "
                    "write it in quotes, e.g. \"on\")")
        return msg + _did_you_mean(given, options)
    if kind in ("float_parsing", "float_type", "int_parsing", "int_type") and \
            isinstance(given, str):
        _, field = _type_at(root, loc)
        unit = field_unit(field)
        if unit is None:
            return f"expected a plain number (this property has no unit), not {given[:64]!r}"
        try:
            to_unit(given, unit)
        except QuantityError as exc:
            return str(exc)
    if kind == "string_pattern_mismatch" and ctx.get("pattern") in _PATTERNS:
        return f"{_PATTERNS[ctx['pattern']]}, not {str(given)[:64]!r}"
    return msg


def validation_errors(exc: ValidationError, root: Any = None) -> list[tuple[str, str]]:
    """``(field_path, reason)`` for every error of a pydantic ValidationError.

    A model-level rule that names the element it is about (``devices[3]: reason``, one per
    line) is reported at that element's path. ``root`` is the model that was validated
    (:class:`Home`, :class:`Block`, :class:`HomeSpec`): with it, reasons name the expected
    unit, kind, property or value (see :func:`_explain`).
    """
    out = []
    for e in exc.errors():
        base = _path(e["loc"])
        msg = str(e["msg"]).removeprefix("Value error, ")
        lines = msg.split("\n")
        if e["type"] == "value_error" and all(_REL.match(x) for x in lines):
            for x in lines:
                rel, reason = _REL.match(x).groups()  # type: ignore[union-attr]
                out.append((rel if base == "(root)" else f"{base}.{rel}", reason))
        else:
            try:
                reason = _explain(e, root) if root is not None else msg
            except Exception:  # noqa: BLE001 - an explanation never hides the error
                reason = msg
            out.append((base, reason or msg))
    return out


def resident_may_set(kind: str, name: str) -> bool:
    """Whether a flat's resident may set property ``name`` (a dotted path like
    ``thermostat.comfort`` counts as its top-level property) of a device of ``kind``: the
    property carries ``x-resident: true`` in the contract."""
    top = name.split(".", 1)[0]
    model = PROPERTY_MODELS.get(kind)
    f = model.model_fields.get(top) if model is not None else None
    extra = f.json_schema_extra if f is not None else None
    return bool(extra.get("x-resident")) if isinstance(extra, dict) else False


def parse_home(data: Any, source: str = "manifest") -> Home:
    """Validate a manifest already loaded from YAML/JSON.

    Raises
    ------
    ManifestError
        With every error and its field path.
    """
    if not isinstance(data, dict):
        raise ManifestError([("(root)", "a manifest is a mapping with apiVersion, kind, "
                              "metadata and spec")], source)
    try:
        return Home.model_validate(data)
    except ValidationError as exc:
        raise ManifestError(validation_errors(exc, Home), source) from None


def load_manifest(path: str | Path) -> Home:
    """Read and validate a Home manifest from a YAML file (read as :func:`read_manifest_data`).

    Raises
    ------
    ManifestError
        If the file is missing, is not YAML, or does not validate (every error with its path).
    """
    p = Path(path)
    return parse_home(read_manifest_data(p), str(p))


def home_json_schema() -> dict[str, Any]:
    """JSON Schema of the Home manifest (pydantic, draft 2020-12)."""
    return Home.model_json_schema()


# ---------------------------------------------------------------------------- Block


class Flat(_Strict):
    """One flat of a block: its devices (a ``flat`` thermal zone, loads, chargers…)."""

    name: Annotated[str, Field(pattern=DNS_LABEL, max_length=40, description="Flat id")]
    devices: Annotated[list[Device], Field(min_length=1)]


class BlockSpec(_Strict):
    """A block of flats that share one building: one grid connection, one inverter, one heat
    node. It runs as **one** simulation (one clock, one ledger): the flats' devices join the
    block-level devices on the building's buses, renamed ``<flat>-<device>``; a device of kind
    ``flat`` (the flat's thermal zone) takes the flat's own name, so that heat-node couplings
    and meters can name flats directly. Every flat device carries ``flat: <flat>``."""

    location: Location | None = None
    simulation: Simulation = Simulation()
    flats: Annotated[list[Flat], Field(min_length=1)]
    devices: Annotated[list[Device], Field(description="Block-level (shared) devices")] = []

    @model_validator(mode="after")
    def _is_a_building(self) -> BlockSpec:
        names = [f.name for f in self.flats]
        dupes = sorted(n for n, c in Counter(names).items() if c > 1)
        if dupes:
            raise ValueError(f"flat names must be unique: {', '.join(dupes)}")
        for i, f in enumerate(self.flats):
            for j, d in enumerate(f.devices):
                full = f"{f.name}-{d.name}"
                if d.kind != "flat" and len(full) > 63:
                    raise ValueError(f"flats[{i}].devices[{j}].name: {full!r} (flat name + "
                                     "'-' + device name) is longer than 63 characters")
        for j, d in enumerate(self.devices):
            if d.flat is not None and d.flat not in names:
                raise ValueError(f"devices[{j}].flat: {d.flat!r} is not a flat of this block "
                                 f"(flats: {', '.join(names)})")
        try:
            HomeSpec.model_validate(self.home_spec().model_dump())
        except ValidationError as exc:
            origin = self.origins()
            lines = []
            for path, reason in validation_errors(exc, HomeSpec):
                reason = reason.removeprefix("Value error, ")
                line = reason if path == "(root)" else f"{path}: {reason}"
                lines.append(re.sub(r"(?<![\w.])devices\[(\d+)\]",
                                    lambda m: origin[int(m.group(1))], line))
            raise ValueError("\n".join(lines)) from None
        return self

    def origins(self) -> list[str]:
        """Where each device of :meth:`home_spec` is declared (``flats[1].devices[0]``)."""
        out = [f"flats[{i}].devices[{j}]" for i, f in enumerate(self.flats)
               for j in range(len(f.devices))]
        return out + [f"devices[{j}]" for j in range(len(self.devices))]

    def home_spec(self) -> HomeSpec:
        """The building as one HomeSpec (not validated; ``Block`` validation does that)."""
        devices: list[Any] = []
        for f in self.flats:
            own = {d.name: f.name if d.kind == "flat" else f"{f.name}-{d.name}"
                   for d in f.devices}
            for d in f.devices:
                update: dict[str, Any] = {"name": own[d.name], "flat": f.name}
                for (kind, prop), _ in DEVICE_REFERENCES.items():  # a flat's own device
                    ref = getattr(d.properties, prop, None) if d.kind == kind else None
                    if ref in own:
                        update["properties"] = d.properties.model_copy(
                            update={prop: own[ref]})
                devices.append(d.model_copy(update=update))
        devices.extend(self.devices)
        return HomeSpec.model_construct(location=self.location, simulation=self.simulation,
                                        devices=devices)


class Block(_Strict):
    """A block of flats (``kind: Block``)."""

    apiVersion: Literal["homesim.io/v1alpha1"]  # noqa: N815 (Kubernetes field name)
    kind: Literal["Block"]
    metadata: Metadata
    spec: BlockSpec


def block_json_schema() -> dict[str, Any]:
    """JSON Schema of the Block manifest (pydantic, draft 2020-12)."""
    return Block.model_json_schema()


def as_home(block: Block) -> Home:
    """The Home that runs a Block: same name, every flat's devices on the building's buses."""
    meta = block.metadata.model_dump()
    meta["labels"] = {**meta.get("labels", {}), "homesim.io/block": block.metadata.name}
    spec = HomeSpec.model_validate(block.spec.home_spec().model_dump())
    return Home(apiVersion=API_VERSION, kind="Home", metadata=Metadata(**meta), spec=spec)


def parse_any(data: Any, source: str = "manifest") -> Home:
    """Validate a Home or a Block (returned as its Home, see :func:`as_home`).

    Raises
    ------
    ManifestError
        With every error and its field path.
    """
    kind = data.get("kind") if isinstance(data, dict) else None
    if isinstance(kind, str) and kind not in ("Home", "Block"):  # the rest would be noise
        raise ManifestError([("kind", f"must be Home or Block, not {kind[:64]!r}"
                              f"{_did_you_mean(kind, ['Home', 'Block'])}")], source)
    if kind == "Block":
        try:
            return as_home(Block.model_validate(data))
        except ValidationError as exc:
            raise ManifestError(validation_errors(exc, Block), source) from None
    return parse_home(data, source)


def resolve_paths(home: Home, base: Path, check: bool = True) -> Home:
    """Make the home's relative file paths (weather file, tariff price files) absolute,
    relative to ``base`` (the manifest's folder): processes run in their run folder.

    Raises
    ------
    ManifestError
        If ``check`` and a named file does not exist or is not a file (with its field path,
        e.g. ``spec.devices[5].properties.tariff_import.file``).
    """
    errors: list[tuple[str, str]] = []
    for i, d in enumerate(home.spec.devices):
        for path in REGISTRY.get(d.kind).files:  # e.g. "tariff_import.file"
            *parents, leaf = path.split(".")
            node: Any = d.properties
            for part in parents:
                node = getattr(node, part, None)
            value = getattr(node, leaf, None) if node is not None else None
            if not value:
                continue
            if not Path(value).is_absolute():
                value = str((base / value).resolve())
                setattr(node, leaf, value)
            if check and d.enabled:
                try:
                    ok = Path(value).is_file()
                except (OSError, ValueError):
                    ok = False
                if not ok:
                    errors.append((f"spec.devices[{i}].properties.{path}",
                                   f"no such file: {value}"))
    if errors:
        raise ManifestError(errors)
    return home


class _BoundedLoader(yaml.SafeLoader):
    """Safe YAML loader (pure Python, used when libyaml is missing)."""


def _yaml_loader() -> type[Any]:
    return getattr(yaml, "CSafeLoader", _BoundedLoader)


def _scan_yaml(text: str) -> None:
    """Refuse, before composing, YAML that would expand beyond ``MAX_MANIFEST_NODES`` nodes
    (aliases counted with the size of what they refer to: YAML bombs) or nest deeper than
    ``MAX_MANIFEST_DEPTH``; also refuse more than one document.

    Raises
    ------
    ValueError
        With the reason.
    yaml.YAMLError
        If the text is not YAML.
    """
    depth = 0
    total = 0
    docs = 0
    sizes: dict[str, int] = {}
    open_anchors: list[tuple[str | None, int]] = []
    for ev in yaml.parse(text, Loader=_yaml_loader()):
        if isinstance(ev, yaml.DocumentStartEvent):
            docs += 1
            if docs > 1:
                raise ValueError("more than one YAML document: a manifest is one document")
        elif isinstance(ev, yaml.AliasEvent):
            total += sizes.get(str(ev.anchor), 1)
        elif isinstance(ev, yaml.ScalarEvent):
            total += 1
            if ev.anchor is not None:
                sizes[str(ev.anchor)] = 1
        elif isinstance(ev, yaml.CollectionStartEvent):
            total += 1
            depth += 1
            if depth > MAX_MANIFEST_DEPTH:
                raise ValueError(f"nested deeper than {MAX_MANIFEST_DEPTH} levels")
            open_anchors.append((ev.anchor, total))
        elif isinstance(ev, yaml.CollectionEndEvent):
            depth -= 1
            anchor, start = open_anchors.pop()
            if anchor is not None:
                sizes[str(anchor)] = total - start + 1
        if total > MAX_MANIFEST_NODES:
            raise ValueError(f"more than {MAX_MANIFEST_NODES} values (aliases expanded): "
                             "too large for a manifest (a YAML bomb?)")


def read_manifest_data(path: str | Path) -> Any:
    """Read a manifest file's YAML (or JSON) data, safely: at most ``MAX_MANIFEST_BYTES``
    (checked before parsing), UTF-8 text, no NUL bytes, nesting and alias expansion
    bounded (see :func:`_scan_yaml`).

    Raises
    ------
    ManifestError
        With ``(file)``, ``(encoding)`` or ``(yaml)`` and a readable reason.
    """
    p = Path(path)
    src = str(p)
    try:
        if not p.is_file():
            what = "no such file" if not p.exists() else "not a regular file"
            raise ManifestError([("(file)", f"{what}: {src}")], src)
        with p.open("rb") as fh:
            raw = fh.read(MAX_MANIFEST_BYTES + 1)
    except OSError as exc:
        raise ManifestError([("(file)", f"cannot read {src}: {exc.strerror or exc}")],
                            src) from None
    if len(raw) > MAX_MANIFEST_BYTES:
        raise ManifestError([("(file)", f"larger than {MAX_MANIFEST_BYTES // 2**20} MiB: "
                              "not a manifest")], src)
    if b"\x00" in raw:
        raise ManifestError([("(encoding)", "binary data (NUL bytes): not a YAML manifest")], src)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestError([("(encoding)", f"not UTF-8 text (byte {exc.start}): "
                              "a manifest is UTF-8 YAML or JSON")], src) from None
    try:
        _scan_yaml(text)
        return yaml.load(text, Loader=_yaml_loader())  # noqa: S506 (a safe loader)
    except yaml.YAMLError as exc:
        raise ManifestError([("(yaml)", " ".join(str(exc).split())[:500])], src) from None
    except (ValueError, RecursionError, MemoryError) as exc:
        reason = str(exc) or type(exc).__name__
        raise ManifestError([("(yaml)", reason[:500])], src) from None


def load_any(path: str | Path, check_files: bool = False) -> Home:
    """Read a Home or Block manifest from a YAML file (a Block as its Home).

    Raises
    ------
    ManifestError
        If the file is missing, too large, binary, not YAML, or does not validate, or (with
        ``check_files``: ``homesim validate`` and ``run`` on the host) a file it names
        (weather, tariff) does not exist. Device processes do not check: in a container
        only the device that reads a file needs it.
    """
    p = Path(path)
    data = read_manifest_data(p)
    home = parse_any(data, str(p))
    try:
        return resolve_paths(home, p.resolve().parent, check=check_files)
    except ManifestError as exc:
        raise ManifestError(exc.errors, str(p)) from None


def with_simulation(home: Home, until: str | None = None, dt: float | str | None = None,
                    speed: str | None = None, seed: int | None = None,
                    timeout: float | str | None = None,
                    labels: Mapping[str, str] | None = None) -> Home:
    """``home`` with its simulation settings overridden (None keeps the manifest's value),
    validated as the manifest is: ``until`` a duration with a unit (``"7d"``), ``dt`` and
    ``timeout`` [s] or time quantities (``"15 min"``), ``speed`` ``realtime``, ``max`` or
    ``Nx``.

    Parameters
    ----------
    labels
        Names to report errors under instead of the field paths, e.g. ``{"duration":
        "--until"}`` (keys: ``duration``, ``dt``, ``speed``, ``seed``, ``timeout``).

    Raises
    ------
    ManifestError
        With every invalid override (``spec.simulation.dt`` or its label, and the reason).
    """
    changes = {"duration": until, "dt": dt, "speed": speed, "seed": seed, "timeout": timeout}
    changes = {k: v for k, v in changes.items() if v is not None}
    if not changes:
        return home
    data = home.model_dump(mode="json")
    data["spec"]["simulation"].update(changes)
    try:
        return Home.model_validate(data)
    except ValidationError as exc:
        names = labels or {}
        errors = []
        for path, reason in validation_errors(exc, Home):
            key = path.removeprefix("spec.simulation.")
            errors.append((names.get(key, path), reason))
        raise ManifestError(errors, "options") from None
