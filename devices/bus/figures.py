"""Headline figures of a run, by the standard definitions: one computation for everyone.

The summary (``summary.json``, written by the ledger), the ledger's Prometheus gauges, the
report, the bills and ``homesim compare`` all take their figures from :func:`headline`.
Its input, :class:`Totals`, is additive over windows and comes from the ledger's rows:
:func:`read_totals` reads it from a ledger store (the analysis side); the ledger process
builds the same sums with :func:`window_totals` from the arrays of each window it has just
committed to the store (a test checks that both paths agree).

Who is who comes from the registry (:class:`Roles`), never from a list of kind names: the
**consumers** are the devices whose kind's descriptor has ``consumer: true`` and carries
electricity (household loads, flats' loads, heat pumps, EV chargers, any plugin kind); the
grid connection is the ``external`` role; batteries are electric ``storage``; PV arrays are
electric ``source``s; the inverter is the ``balancer``.

Definitions (energies over the run [kWh], per tick ``t`` [J] inside sums)
-----------------------------------------------------------------------
* **load** ``L = Σ_t L_t``: the electricity the consumers received (AC, at their meters);
  **demand** ``= L + unserved``; **unserved**: what the balancer had to shed (its
  ``unserved`` metric: household loads, heat pumps and chargers it could not serve).
* **PV AC** ``P``: PV energy after the inverter (the balancer's ``pv_ac`` metric);
  ``pv_dc``: the arrays' DC delivered to the inverter; ``solar_incident``: plane-of-array
  irradiation on the arrays.
* **self-consumed** ``M = Σ_t max(0, L_t − max(0, imp_t − exp_t))`` — the consumption not
  covered by the grid in each tick, i.e. ``∫ min(L, P + S) dt`` of Luthander et al. (2015)
  with ``S`` the battery power (discharge positive), because the AC bus balances in every
  tick (``P + S + imp = L + exp``).
* **self-consumption** ``SC = min(1, max(0, M − D) / P)`` and **self-sufficiency**
  ``SS = min(1, M / L)`` (Luthander, R., Widén, J., Nilsson, D., Palm, J., 2015.
  *Photovoltaic self-consumption in buildings: A review.* Applied Energy 142, 80–94,
  eqs. 1–3, doi:10.1016/j.apenergy.2014.12.028), with ``D = max(0, E_dis − E_ch)`` the
  batteries' net discharge [AC] over the span: energy they held before it (an initial SoC,
  or a what-if fork's snapshot) was not this span's PV, so it covers load (``SS``) but is
  not self-consumed PV (``SC``), which would otherwise exceed 100 %.
* **peak import** [W]: the largest tick's grid import divided by ``dt`` (tick mean power).
* **net cost** [currency]: the grid's net cost (import cost − export revenue, the grid
  device's ``cost`` metric) plus the gas cost (the ``cost`` metric of gas converters).
* **heat** (``heat`` carrier): heat delivered by the heat node to each flat, heat by source
  (heat pumps, boilers, buffer discharge), seasonal COP ``SCOP = Q_heat / E_el`` of the heat
  pumps (per pump and together; EN 14825 calls the year's ratio SCOP), gas [kWh, gross
  calorific value] and boiler efficiency ``Q / gas``.
* **EV**: electricity into the chargers, energy delivered to the cars, energy unmet at
  departure, energy throttled by the load manager (their settle metrics).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from homesim.devices.bus.store import LedgerError, LedgerStore, Meter
from homesim.schemas.manifest import EXTERNAL_NODES
from homesim.schemas.registry import REGISTRY, KindDescriptor
from homesim.schemas.units import J_PER_KWH, S_PER_H

if TYPE_CHECKING:
    from homesim.schemas.manifest import Home

__all__ = ["Roles", "Totals", "Figures", "HeatFigures", "EvFigures", "Kpi", "window_totals",
           "read_totals", "headline", "figures_of", "REFERENCE"]

ELEC, HEAT, GAS, SOLAR = "electricity", "heat", "gas", "solar"
REFERENCE = ("Luthander, R., Widén, J., Nilsson, D., Palm, J. (2015). Photovoltaic "
             "self-consumption in buildings: A review. Applied Energy 142, 80-94. "
             "doi:10.1016/j.apenergy.2014.12.028")
"""The source of the self-consumption and self-sufficiency definitions."""
TICK_CHUNK = 100_000
"""Ticks per SQL pass when :func:`read_totals` reads per-tick meters (bounded memory)."""

FlowKey = tuple[str, str, str]


# ---------------------------------------------------------------------------- roles


def _desc(kind: str) -> KindDescriptor | None:
    return REGISTRY.get(kind) if kind in REGISTRY else None


def _metrics_of(d: KindDescriptor | None) -> set[str]:
    return set(d.settle.metrics) if d is not None else set()


@dataclass(frozen=True)
class Roles:
    """Which devices play which part in the figures, from their kinds' descriptors.

    Unknown kinds (a plugin not registered in this process) count as consumers, as the
    descriptor's ``consumer`` flag defaults to true.
    """

    kinds: Mapping[str, str]
    consumers: tuple[str, ...]
    """``consumer: true``, carries electricity, not a ``source``: loads, heat pumps, chargers."""
    grids: tuple[str, ...]
    """The ``external`` role: the grid connection (import source, export sink)."""
    batteries: tuple[str, ...]
    """Electric ``storage``."""
    sources: tuple[str, ...]
    """Electric ``source``s (PV arrays)."""
    balancers: tuple[str, ...]
    """The ``balancer`` (the inverter): ``pv_ac`` and ``unserved`` metrics."""
    heat_nodes: tuple[str, ...]
    """``controller``s on the heat carrier."""
    heat_pumps: tuple[str, ...]
    """``converter``s from electricity to heat."""
    boilers: tuple[str, ...]
    """``converter``s from gas to heat."""
    heat_stores: tuple[str, ...]
    """``storage`` on the heat carrier (buffer tanks)."""
    zones: tuple[str, ...]
    """Heat ``sink``s (the flats' thermal zones)."""
    chargers: tuple[str, ...]
    """Kinds that settle ``delivered`` and ``unmet`` (EV charge points)."""
    managers: tuple[str, ...]
    """Kinds that settle ``throttled`` (load managers)."""

    @classmethod
    def of(cls, kinds: Mapping[str, str]) -> Roles:
        """Classify the devices ``{name: kind}`` of a home (external nodes are ignored)."""
        out: dict[str, list[str]] = {f: [] for f in (
            "consumers", "grids", "batteries", "sources", "balancers", "heat_nodes",
            "heat_pumps", "boilers", "heat_stores", "zones", "chargers", "managers")}
        for name, kind in kinds.items():
            if name in EXTERNAL_NODES:  # ambient, gas-grid, occupancy: not devices
                continue
            d = _desc(kind)
            if d is None:
                out["consumers"].append(name)
                continue
            c, role, mets = set(d.carriers), d.role, _metrics_of(d)
            if d.consumer and ELEC in c and role != "source":
                out["consumers"].append(name)
            if role == "external" and ELEC in c:
                out["grids"].append(name)
            if role == "storage":
                out["batteries" if ELEC in c else "heat_stores"].append(name)
            if role == "source" and ELEC in c:
                out["sources"].append(name)
            if role == "balancer":
                out["balancers"].append(name)
            if role == "controller" and HEAT in c:
                out["heat_nodes"].append(name)
            if role == "converter" and HEAT in c:
                out["heat_pumps" if ELEC in c else "boilers"].append(name)
            if role == "sink" and HEAT in c:
                out["zones"].append(name)
            if {"delivered", "unmet"} <= mets:
                out["chargers"].append(name)
            if "throttled" in mets:
                out["managers"].append(name)
        return cls(kinds=dict(kinds), **{k: tuple(v) for k, v in out.items()})

    def meters(self) -> tuple[Meter, Meter, Meter]:
        """Per-tick meters ``(import, export, load)``: electricity out of the grid, into the
        grid, into the consumers."""
        return (Meter(ELEC, self.grids, None), Meter(ELEC, None, self.grids),
                Meter(ELEC, None, self.consumers))

    def label(self, device: str) -> str:
        """The kind's label of a device (``Household load``), or its kind."""
        kind = self.kinds.get(device, device)
        d = _desc(kind)
        return d.label if d is not None else kind


# ---------------------------------------------------------------------------- totals


@dataclass
class MetricAgg:
    """Sum, minimum and maximum of a device metric's per-tick values."""

    total: float
    minimum: float
    maximum: float

    def add(self, other: MetricAgg) -> None:
        self.total += other.total
        self.minimum = min(self.minimum, other.minimum)
        self.maximum = max(self.maximum, other.maximum)


@dataclass
class Totals:
    """What the figures need, additive over windows (and over tick ranges).

    ``flows`` [J] per (source, sink, carrier); ``metrics`` per (device, metric) in the
    metric's unit; ``self_consumed`` ``M`` [J]; peaks [W] (tick means); ``ticks`` booked.
    """

    dt: float
    ticks: int = 0
    flows: dict[FlowKey, float] = field(default_factory=dict)
    metrics: dict[tuple[str, str], MetricAgg] = field(default_factory=dict)
    self_consumed: float = 0.0
    peak_import_w: float = 0.0
    peak_load_w: float = 0.0

    def add(self, other: Totals) -> None:
        """Add ``other`` (a later window or tick range) to these totals."""
        self.ticks += other.ticks
        for k, v in other.flows.items():
            self.flows[k] = self.flows.get(k, 0.0) + v
        for k, m in other.metrics.items():
            mine = self.metrics.get(k)
            if mine is None:
                self.metrics[k] = MetricAgg(m.total, m.minimum, m.maximum)
            else:
                mine.add(m)
        self.self_consumed += other.self_consumed
        self.peak_import_w = max(self.peak_import_w, other.peak_import_w)
        self.peak_load_w = max(self.peak_load_w, other.peak_load_w)


def tick_figures(imp: np.ndarray, exp: np.ndarray, load: np.ndarray, dt: float
                 ) -> tuple[float, float, float]:
    """Self-consumed energy ``M`` [J], peak import [W] and peak load [W] of per-tick import,
    export and load [J] (see the module docstring for ``M``)."""
    if imp.size == 0:
        return 0.0, 0.0, 0.0
    m = np.maximum(load - np.maximum(imp - exp, 0.0), 0.0)
    return math.fsum(m.tolist()), float(imp.max()) / dt, float(load.max()) / dt


def _matches(m: Meter, src: str, snk: str, car: str) -> bool:
    return (car == m.carrier and (m.sources is None or src in m.sources)
            and (m.sinks is None or snk in m.sinks))


def window_totals(roles: Roles, dt: float, n: int,
                  flows: Iterable[tuple[str, str, str, np.ndarray]],
                  metrics: Iterable[tuple[str, str, np.ndarray]]) -> Totals:
    """The totals of one window from its arrays (the ledger's path; pure).

    ``flows``: ``(source, sink, carrier, joules[n])`` [J]; ``metrics``: ``(device, metric,
    values[n])``. Flows of a key that appears twice are added.
    """
    t = Totals(dt=dt, ticks=n)
    meters = roles.meters()
    per = [np.zeros(n) for _ in meters]
    for src, snk, car, j in flows:
        a = np.asarray(j, dtype=float)
        key = (src, snk, car)
        t.flows[key] = t.flows.get(key, 0.0) + math.fsum(a.tolist())
        for i, m in enumerate(meters):
            if _matches(m, src, snk, car):
                per[i] += a
    for dev, name, values in metrics:
        v = np.asarray(values, dtype=float)
        if v.size:
            agg = MetricAgg(math.fsum(v.tolist()), float(v.min()), float(v.max()))
            key = (dev, name)
            if key in t.metrics:
                t.metrics[key].add(agg)
            else:
                t.metrics[key] = agg
    t.self_consumed, t.peak_import_w, t.peak_load_w = tick_figures(*per, dt)
    return t


def read_totals(store: LedgerStore, roles: Roles | None = None, tick0: int | None = None,
                tick1: int | None = None) -> Totals:
    """The totals of ticks ``[tick0, tick1)`` (default: every booked tick) from a ledger store.

    Flows and per-tick meters come from the packets; metrics from the windows lying inside
    the range (they are booked per window).

    Raises
    ------
    homesim.devices.bus.store.LedgerError
        If the ledger has no run row or cannot be read.
    """
    run = store.run()
    if run is None:
        raise LedgerError("the ledger has no run row")
    roles = roles or Roles.of(store.kinds())
    span = store.settled_span()
    lo = 0 if tick0 is None else tick0
    hi = (span.end_tick or 0) if tick1 is None else tick1
    t = Totals(dt=run.dt)
    t.flows = store.flow_totals(lo, hi)
    for (dev, name), (total, mn, mx) in store.metric_totals(lo, hi).items():
        t.metrics[(dev, name)] = MetricAgg(total, mn, mx)
    t.ticks = store.booked_ticks(lo, hi)
    meters = roles.meters()
    for k0 in range(lo, hi, TICK_CHUNK):
        k1 = min(k0 + TICK_CHUNK, hi)
        a = store.per_tick(meters, k0, k1)
        sc, pi, pl = tick_figures(a[:, 0], a[:, 1], a[:, 2], run.dt)
        t.self_consumed += sc
        t.peak_import_w = max(t.peak_import_w, pi)
        t.peak_load_w = max(t.peak_load_w, pl)
    return t


# ---------------------------------------------------------------------------- figures


@dataclass(frozen=True)
class Kpi:
    """One headline figure for cards, tables and gauges."""

    key: str
    label: str
    value: float | None
    unit: str
    """``kWh``, ``%`` (value is a ratio 0…1), ``W``, ``-`` or a currency."""
    higher_is_better: bool | None = None


@dataclass(frozen=True)
class HeatFigures:
    """The heat carrier [kWh] (see the module docstring)."""

    hours: float
    demand_kwh: float
    delivered_kwh: float
    unmet_kwh: float
    distribution_loss_kwh: float
    flats: dict[str, dict[str, Any]]
    sources_kwh: dict[str, float]
    """Heat into the heat node per source device (heat pumps, boilers, buffer discharge)."""
    heat_pumps: dict[str, dict[str, Any]]
    boilers: dict[str, dict[str, Any]]
    scop: float | None
    """All heat pumps together: heat out / electricity in [-]."""
    gas_kwh: float


@dataclass(frozen=True)
class EvFigures:
    """EV charging [kWh]."""

    chargers: dict[str, dict[str, Any]]
    electricity_kwh: float
    delivered_kwh: float
    unmet_kwh: float
    throttled_kwh: float


@dataclass(frozen=True)
class Figures:
    """The headline figures of a run or period: energies [kWh], powers [W], ratios [-]."""

    ticks: int
    dt: float
    solar_incident_kwh: float
    pv_dc_kwh: float
    pv_ac_kwh: float
    curtailed_dc_kwh: float
    load_kwh: float
    consumers_kwh: dict[str, float]
    load_by_kind_kwh: dict[str, float]
    unserved_kwh: float
    grid_import_kwh: float
    grid_export_kwh: float
    battery_charge_kwh: float
    battery_discharge_kwh: float
    self_consumed_kwh: float
    self_consumption: float | None
    self_sufficiency: float | None
    peak_import_w: float
    peak_load_w: float
    grid_cost: float
    gas_cost: float
    net_cost: float
    currency: str
    soc: dict[str, dict[str, float]]
    heat: HeatFigures | None
    ev: EvFigures | None

    @property
    def demand_kwh(self) -> float:
        """What the consumers asked for: load + unserved [kWh]."""
        return self.load_kwh + self.unserved_kwh

    @property
    def hours(self) -> float:
        """Length of the period [h]."""
        return self.ticks * self.dt / S_PER_H

    def kpis(self) -> list[Kpi]:
        """The headline figures in display order (heat and EV ones when present)."""
        out = [
            Kpi("self_sufficiency", "Self-sufficiency", self.self_sufficiency, "%", True),
            Kpi("self_consumption", "Self-consumption", self.self_consumption, "%", True),
            Kpi("load", "Load", self.load_kwh, "kWh"),
            Kpi("pv_ac", "PV (AC)", self.pv_ac_kwh, "kWh", True),
            Kpi("grid_import", "Grid import", self.grid_import_kwh, "kWh", False),
            Kpi("grid_export", "Grid export", self.grid_export_kwh, "kWh"),
            Kpi("net_cost", "Net cost", self.net_cost, self.currency, False),
            Kpi("peak_import", "Peak import", self.peak_import_w, "W", False),
            Kpi("unserved", "Unserved", self.unserved_kwh, "kWh", False),
        ]
        if self.heat is not None:
            out += [Kpi("heat_delivered", "Heat delivered", self.heat.delivered_kwh, "kWh"),
                    Kpi("scop", "SCOP", self.heat.scop, "-", True),
                    Kpi("gas", "Gas", self.heat.gas_kwh, "kWh", False)]
        if self.ev is not None:
            out += [Kpi("ev_delivered", "EV delivered", self.ev.delivered_kwh, "kWh"),
                    Kpi("ev_unmet", "EV unmet", self.ev.unmet_kwh, "kWh", False)]
        return out

    def summary(self) -> dict[str, Any]:
        """The figures' part of ``summary.json`` (energies [kWh], ratios, cost, peaks [W])."""
        out: dict[str, Any] = {
            "energy_kwh": {
                "solar_incident": self.solar_incident_kwh,
                "pv_dc": self.pv_dc_kwh,
                "pv_ac": self.pv_ac_kwh,
                "curtailed_dc": self.curtailed_dc_kwh,
                "load": self.load_kwh,
                "load_served": self.load_kwh,
                "load_demand": self.demand_kwh,
                "unserved": self.unserved_kwh,
                "self_consumed": self.self_consumed_kwh,
                "grid_import": self.grid_import_kwh,
                "grid_export": self.grid_export_kwh,
                "battery_charge": self.battery_charge_kwh,
                "battery_discharge": self.battery_discharge_kwh,
            },
            "consumers_kwh": dict(self.consumers_kwh),
            "load_by_kind_kwh": dict(self.load_by_kind_kwh),
            "self_consumption": self.self_consumption,
            "self_sufficiency": self.self_sufficiency,
            "cost": {"net": self.net_cost, "grid": self.grid_cost, "gas": self.gas_cost,
                     "currency": self.currency},
            "peak_import_w": self.peak_import_w,
            "peak_load_w": self.peak_load_w,
            "soc": {d: dict(v) for d, v in self.soc.items()},
            "definitions": "homesim.devices.bus.figures; " + REFERENCE,
        }
        if self.heat is not None:
            h = asdict(self.heat)
            out["heat"] = h
        if self.ev is not None:
            ev = asdict(self.ev)
            ev["peak_import_w"] = self.peak_import_w
            out["ev"] = ev
        return out

    def gauges(self) -> dict[str, dict[str, float]]:
        """Values for the ledger's Prometheus gauges: ``energy`` [J], ``ratio`` [-] (only
        defined ones), ``power`` [W], ``cost`` [currency]."""
        energy = {"load": self.load_kwh, "pv_dc": self.pv_dc_kwh, "pv_ac": self.pv_ac_kwh,
                  "grid_import": self.grid_import_kwh, "grid_export": self.grid_export_kwh,
                  "self_consumed": self.self_consumed_kwh, "unserved": self.unserved_kwh,
                  "battery_charge": self.battery_charge_kwh,
                  "battery_discharge": self.battery_discharge_kwh}
        ratio = {"self_sufficiency": self.self_sufficiency,
                 "self_consumption": self.self_consumption}
        if self.heat is not None:
            energy.update(heat_delivered=self.heat.delivered_kwh, gas=self.heat.gas_kwh)
            ratio["scop"] = self.heat.scop
        if self.ev is not None:
            energy.update(ev_delivered=self.ev.delivered_kwh, ev_unmet=self.ev.unmet_kwh)
        return {"energy": {k: v * J_PER_KWH for k, v in energy.items()},
                "ratio": {k: v for k, v in ratio.items() if v is not None},
                "power": {"peak_import": self.peak_import_w, "peak_load": self.peak_load_w},
                "cost": {"net": self.net_cost, "grid": self.grid_cost, "gas": self.gas_cost}}


def headline(totals: Totals, roles: Roles, home: Home | None = None) -> Figures:
    """The headline figures of ``totals`` (pure; definitions in the module docstring).

    ``home`` (the manifest) gives the currency and which devices belong to which flat.
    """
    ft, mt = totals.flows, totals.metrics

    def flows(src: Iterable[str] | None = None, snk: Iterable[str] | None = None,
              carrier: str | None = None) -> float:
        s = None if src is None else set(src)
        k = None if snk is None else set(snk)
        return math.fsum(v for (a, b, c), v in ft.items()
                         if (s is None or a in s) and (k is None or b in k)
                         and (carrier is None or c == carrier))

    def metric(devices: Iterable[str], name: str) -> float:
        return math.fsum(mt[(d, name)].total for d in devices if (d, name) in mt)

    def kwh(j: float) -> float:
        return j / J_PER_KWH

    r = roles
    consumers = {c: kwh(flows(None, (c,), ELEC)) for c in r.consumers}
    by_kind: dict[str, float] = {}
    for c, v in consumers.items():
        kind = r.kinds.get(c, c)
        by_kind[kind] = by_kind.get(kind, 0.0) + v
    load = flows(None, r.consumers, ELEC)
    pv_ac = metric(r.balancers, "pv_ac")
    sc = totals.self_consumed
    bat_ch, bat_dis = flows(None, r.batteries, ELEC), flows(r.batteries, None, ELEC)
    sc_pv = max(0.0, sc - max(0.0, bat_dis - bat_ch))  # M − D (module docstring)
    grid_cost = metric(r.grids, "cost")
    gas_cost = metric(r.boilers, "cost")
    currency = _currency(home)
    soc = {d: {"min": mt[(d, "soc")].minimum, "max": mt[(d, "soc")].maximum}
           for d in (*r.batteries, *r.heat_stores) if (d, "soc") in mt}
    return Figures(
        ticks=totals.ticks, dt=totals.dt,
        solar_incident_kwh=kwh(flows(None, r.sources, SOLAR)),
        pv_dc_kwh=kwh(flows(r.sources, None, ELEC)),
        pv_ac_kwh=kwh(pv_ac),
        curtailed_dc_kwh=kwh(metric(r.sources, "curtailed")),
        load_kwh=kwh(load), consumers_kwh=consumers, load_by_kind_kwh=by_kind,
        unserved_kwh=kwh(metric(r.balancers, "unserved")),
        grid_import_kwh=kwh(flows(r.grids, None, ELEC)),
        grid_export_kwh=kwh(flows(None, r.grids, ELEC)),
        battery_charge_kwh=kwh(bat_ch),
        battery_discharge_kwh=kwh(bat_dis),
        self_consumed_kwh=kwh(sc),
        self_consumption=min(sc_pv / pv_ac, 1.0) if pv_ac > 0 else None,
        self_sufficiency=min(sc / load, 1.0) if load > 0 else None,
        peak_import_w=totals.peak_import_w, peak_load_w=totals.peak_load_w,
        grid_cost=grid_cost, gas_cost=gas_cost, net_cost=math.fsum((grid_cost, gas_cost)),
        currency=currency, soc=soc,
        heat=_heat(totals, r, home, flows, metric),
        ev=_ev(totals, r, home, flows, metric))


def _currency(home: Home | None) -> str:
    """The grid's currency, else the first device's that has one, else USD."""
    if home is None:
        return "USD"
    devices = home.spec.enabled()
    external = [d for d in devices if getattr(_desc(d.kind), "role", None) == "external"]
    for d in (*external, *devices):
        cur = getattr(d.properties, "currency", None)
        if cur:
            return str(cur)
    return "USD"


def _heat(totals: Totals, r: Roles, home: Home | None, flows: Any, metric: Any
          ) -> HeatFigures | None:
    if not (r.heat_nodes or r.heat_pumps or r.boilers or r.zones):
        return None
    mt = totals.metrics
    kwh = 1.0 / J_PER_KWH
    member = ({d.name: d.flat for d in home.spec.enabled()} if home is not None else {})
    flats: dict[str, dict[str, Any]] = {}
    for f in r.zones:
        group = member.get(f) or f
        elec = math.fsum(flows(None, (d,), ELEC) for d, g in member.items()
                         if g == group and d not in r.zones)
        temp = mt.get((f, "temp_room"))
        flats[f] = {
            "heat_kwh": flows(r.heat_nodes, (f,), HEAT) * kwh,
            "electricity_kwh": elec * kwh,
            "degree_hours_below_setpoint": metric((f,), "degree_hours"),
            "temp_room_mean": temp.total / totals.ticks if temp and totals.ticks else None,
            "temp_room_min": temp.minimum if temp else None,
            "solar_gains_kwh": flows(None, (f,), SOLAR) * kwh,
            "internal_gains_kwh": flows(("occupancy",), (f,), HEAT) * kwh,
            "envelope_loss_kwh": (flows((f,), ("ambient",)) - flows(("ambient",), (f,))) * kwh,
            "to_neighbours_kwh": math.fsum(flows((f,), (g,), HEAT) - flows((g,), (f,), HEAT)
                                           for g in r.zones) * kwh,
        }
    hps: dict[str, dict[str, Any]] = {}
    for h in r.heat_pumps:
        q, el = flows((h,), r.heat_nodes, HEAT), flows(None, (h,), ELEC)
        hps[h] = {"heat_kwh": q * kwh, "electricity_kwh": el * kwh,
                  "scop": q / el if el > 0 else None}
    boilers: dict[str, dict[str, Any]] = {}
    for b in r.boilers:
        q, gas = flows((b,), r.heat_nodes, HEAT), flows(None, (b,), GAS)
        boilers[b] = {"heat_kwh": q * kwh, "gas_kwh": gas * kwh, "cost": metric((b,), "cost"),
                      "efficiency": q / gas if gas > 0 else None}
    sources = {s: flows((s,), r.heat_nodes, HEAT) * kwh
               for s in (*r.heat_pumps, *r.boilers, *r.heat_stores)}
    q_hp = math.fsum(v["heat_kwh"] for v in hps.values())
    el_hp = math.fsum(v["electricity_kwh"] for v in hps.values())
    return HeatFigures(
        hours=totals.ticks * totals.dt / S_PER_H,
        demand_kwh=metric(r.heat_nodes, "demand") * kwh,
        delivered_kwh=metric(r.heat_nodes, "heat") * kwh,
        unmet_kwh=metric(r.heat_nodes, "unmet") * kwh,
        distribution_loss_kwh=flows(r.heat_nodes, ("ambient",)) * kwh,
        flats=flats, sources_kwh=sources, heat_pumps=hps, boilers=boilers,
        scop=q_hp / el_hp if el_hp > 0 else None,
        gas_kwh=flows(None, r.boilers, GAS) * kwh)


def _ev(totals: Totals, r: Roles, home: Home | None, flows: Any, metric: Any
        ) -> EvFigures | None:
    if not r.chargers:
        return None
    kwh = 1.0 / J_PER_KWH
    flat_of = {d.name: d.flat for d in home.spec.devices} if home is not None else {}
    chargers = {c: {"electricity_kwh": flows(None, (c,), ELEC) * kwh,
                    "delivered_kwh": metric((c,), "delivered") * kwh,
                    "unmet_kwh": metric((c,), "unmet") * kwh,
                    "flat": flat_of.get(c)} for c in r.chargers}
    return EvFigures(
        chargers=chargers,
        electricity_kwh=flows(None, r.chargers, ELEC) * kwh,
        delivered_kwh=metric(r.chargers, "delivered") * kwh,
        unmet_kwh=metric(r.chargers, "unmet") * kwh,
        throttled_kwh=metric(r.managers, "throttled") * kwh)


def figures_of(store: LedgerStore, tick0: int | None = None, tick1: int | None = None
               ) -> Figures:
    """The headline figures of a ledger (ticks ``[tick0, tick1)``, default all booked)."""
    roles = Roles.of(store.kinds())
    try:
        home = store.home()
    except Exception:  # noqa: BLE001 - an unreadable manifest: figures without currency/flats
        home = None
    return headline(read_totals(store, roles, tick0, tick1), roles, home)
