"""Typed device reports: the schema of each kind's phase-1 report, and its check.

A kind's report is declared in the contract (``x-homesim-kind.report``): named per-tick
``signals`` (arrays of ``n``), scalar ``params``, optionally a variable-length list of
``items`` (an EV charger's sessions), a storage ``envelope`` and ``firm`` electricity
(``el:<device>`` [J] per tick, what a controller decided for other devices). Each kind gets
a frozen dataclass with one attribute per signal and param (generated into
``schemas/generated/kinds.py``); consumers read ``report.dc``, never ``report["dc"]``.

On the wire the report stays a ``DeviceReport`` (``signals``, ``params``, ``envelope``).
:meth:`KindReport.from_wire` checks it against the kind's schema with numpy (names, shape
``(n,)``, finite unless the schema allows NaN/inf) and raises :class:`ReportError` naming the
device and the field; :meth:`KindReport.check` does the same on the producing side.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from homesim.schemas.wire import pack, unpack

__all__ = ["SignalSpec", "ItemsSpec", "ReportSpec", "KindReport", "ReportError", "report_type",
           "FIRM_PREFIX"]

#: Wire prefix of firm electricity signals: ``el:<device>`` [J] per tick.
FIRM_PREFIX = "el:"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SignalSpec(_Strict):
    """One signal (per-tick array), param (scalar) or metric of a kind."""

    unit: str = Field(description="Unit, e.g. J, W, °C, W/m^2, 1 (dimensionless)")
    description: str = ""
    nan: bool = Field(False, description="NaN allowed (e.g. a voltage a model does not give)")
    inf: bool = Field(False, description="±inf allowed (e.g. an unlimited capacity)")


class ItemsSpec(_Strict):
    """A variable-length list of records in the params (e.g. an EV charger's sessions): on the
    wire ``params[<name>]`` holds the count and ``params[<prefix><i>_<field>]`` each value."""

    name: str
    prefix: str
    description: str = ""
    fields: dict[str, SignalSpec]


class ReportSpec(_Strict):
    """The schema of a kind's phase-1 report."""

    signals: dict[str, SignalSpec] = {}
    params: dict[str, SignalSpec] = {}
    items: ItemsSpec | None = None
    envelope: bool = Field(False, description="carries a storage envelope (BatteryEnvelopeReport)")
    firm: bool = Field(False, description="carries el:<device> [J]: electricity it decided for "
                                          "other devices, served by the inverter first")


class ReportError(ValueError):
    """A report does not match its kind's schema; names the device and the field."""

    def __init__(self, device: str, field: str, reason: str) -> None:
        super().__init__(f"report of {device}: {field}: {reason}")
        self.device = device
        self.field = field
        self.reason = reason


def _values_ok(x: np.ndarray, spec: SignalSpec) -> bool:
    bad = ~np.isfinite(x)
    if spec.nan:
        bad &= ~np.isnan(x)
    if spec.inf:
        bad &= ~np.isinf(x)
    return not bool(bad.any())


def _array(device: str, field: str, value: Any, n: int, spec: SignalSpec) -> np.ndarray:
    try:
        x = unpack(value) if isinstance(value, (bytes, bytearray, memoryview, list)) \
            else np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ReportError(device, field, "not an array of numbers") from None
    if x.shape != (n,):
        raise ReportError(device, field, f"shape {x.shape}, expected ({n},)")
    if not _values_ok(x, spec):
        raise ReportError(device, field, "values must be finite"
                          + (" or NaN" if spec.nan else "") + (" or ±inf" if spec.inf else ""))
    return x


def _scalar(device: str, field: str, value: Any, spec: SignalSpec) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise ReportError(device, field, f"a number is expected, got {type(value).__name__}")
    v = float(value)
    if not _values_ok(np.asarray([v]), spec):
        raise ReportError(device, field, "must be finite")
    return v


@dataclasses.dataclass(frozen=True, eq=False)
class KindReport:
    """Base of the typed reports (one generated subclass per kind).

    Subclasses have one attribute per signal (``np.ndarray`` of shape (n,)) and param
    (``float``); the items list under its own name (a tuple of dicts), ``envelope`` (a dict)
    and ``firm`` (``{device: np.ndarray}``) when the kind's schema has them.
    """

    KIND: ClassVar[str] = ""
    SPEC: ClassVar[ReportSpec] = ReportSpec()

    # ------------------------------------------------------------------ wire
    @classmethod
    def from_wire(cls, msg: dict[str, Any], n: int, device: str = "?") -> KindReport:
        """The typed report of a ``DeviceReport`` payload (its ``signals``/``params``/
        ``envelope``) for a window of ``n`` ticks.

        Raises
        ------
        ReportError
            If a signal or param is missing, unknown, of the wrong shape or not finite.
        """
        spec = cls.SPEC
        signals = msg.get("signals") or {}
        params = msg.get("params") or {}
        if not isinstance(signals, dict) or not isinstance(params, dict):
            raise ReportError(device, "signals", "signals and params must be objects")
        kw: dict[str, Any] = {}
        firm: dict[str, np.ndarray] = {}
        for name, value in signals.items():
            if spec.firm and isinstance(name, str) and name.startswith(FIRM_PREFIX):
                firm[name[len(FIRM_PREFIX):]] = _array(device, f"signals.{name}", value, n,
                                                       SignalSpec(unit="J"))
            elif name not in spec.signals:
                raise ReportError(device, f"signals.{name}", f"not a signal of a {cls.KIND}")
        for name, s in spec.signals.items():
            if name not in signals:
                raise ReportError(device, f"signals.{name}", "missing")
            kw[name] = _array(device, f"signals.{name}", signals[name], n, s)
        item_keys: set[str] = set()
        if spec.items is not None:
            it = spec.items
            count = params.get(it.name)
            if isinstance(count, bool) or not isinstance(count, (int, float)) \
                    or not math.isfinite(count) or count != int(count) \
                    or not 0 <= count <= 10_000:
                raise ReportError(device, f"params.{it.name}", "a count ≥ 0 is expected")
            rows = []
            for i in range(int(count)):
                row = {}
                for f, fs in it.fields.items():
                    key = f"{it.prefix}{i}_{f}"
                    if key not in params:
                        raise ReportError(device, f"params.{key}", "missing")
                    row[f] = _scalar(device, f"params.{key}", params[key], fs)
                    item_keys.add(key)
                rows.append(row)
            item_keys.add(it.name)
            kw[it.name] = tuple(rows)
        for name in params:
            if name not in spec.params and name not in item_keys:
                raise ReportError(device, f"params.{name}", f"not a param of a {cls.KIND}")
        for name, s in spec.params.items():
            if name not in params:
                raise ReportError(device, f"params.{name}", "missing")
            kw[name] = _scalar(device, f"params.{name}", params[name], s)
        if spec.envelope:
            env = msg.get("envelope")
            if not isinstance(env, dict):
                raise ReportError(device, "envelope", "missing")
            from homesim.schemas.generated.messages import BatteryEnvelopeReport

            try:
                kw["envelope"] = BatteryEnvelopeReport.model_validate(env).model_dump()
            except Exception as exc:  # noqa: BLE001 - pydantic's message names the field
                raise ReportError(device, "envelope", str(exc).splitlines()[-1]) from None
        elif msg.get("envelope") is not None:
            raise ReportError(device, "envelope", f"a {cls.KIND} has no envelope")
        if spec.firm:
            kw["firm"] = firm
        return cls(**kw)

    def to_wire(self) -> dict[str, Any]:
        """``{"signals", "params"?, "envelope"?}`` of a ``DeviceReport`` (signals packed
        as ``TickArray`` bytes, :mod:`homesim.schemas.wire`)."""
        spec = self.SPEC
        signals = {k: pack(getattr(self, k)) for k in spec.signals}
        if spec.firm:
            for dev, arr in self.firm.items():  # type: ignore[attr-defined]
                signals[FIRM_PREFIX + dev] = pack(arr)
        out: dict[str, Any] = {"signals": signals}
        params = {k: float(getattr(self, k)) for k in spec.params}
        if spec.items is not None:
            it = spec.items
            rows = getattr(self, it.name)
            params[it.name] = len(rows)
            for i, row in enumerate(rows):
                for f in it.fields:
                    params[f"{it.prefix}{i}_{f}"] = float(row[f])
        if params:
            out["params"] = params
        if spec.envelope:
            out["envelope"] = self.envelope  # type: ignore[attr-defined]
        return out

    def check(self, n: int, device: str = "?") -> KindReport:
        """Check the report against its schema for a window of ``n`` ticks (the producing
        side); returns it with every array as float.

        Raises
        ------
        ReportError
            As :meth:`from_wire`.
        """
        return self.from_wire(self.to_wire(), n, device)


def report_type(kind: str, spec: ReportSpec) -> type[KindReport]:
    """A typed report class built at run time (plugin kinds; contract kinds are generated)."""
    fields: list[tuple[str, Any]] = [(k, np.ndarray) for k in spec.signals]
    fields += [(k, float) for k in spec.params]
    if spec.items is not None:
        fields.append((spec.items.name, tuple))
    if spec.envelope:
        fields.append(("envelope", dict))
    if spec.firm:
        fields.append(("firm", dict))
    name = "".join(p.capitalize() for p in kind.split("_")) + "Report"
    return dataclasses.make_dataclass(name, fields, bases=(KindReport,), frozen=True, eq=False,
                                      namespace={"KIND": kind, "SPEC": spec})
