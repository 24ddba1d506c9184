"""Heat node: the building's heat balancing device (dispatch + allocation to the flats)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields
from typing import Any

import numpy as np

from homesim.devices.kinds.base import (
    DeviceShell,
    Flow,
    FlowKey,
    KindReport,
    SettleResult,
    Window,
    pv_ac_estimate,
)
from homesim.devices.models.boiler import Boiler
from homesim.devices.models.buffer import Buffer
from homesim.devices.models.comfort import OccupantResponse
from homesim.devices.models.dhw import DhwTank
from homesim.devices.models.heatnode import (
    BrokerChoice,
    DhwDemand,
    DispatchInputs,
    DispatchPlant,
    HeatDispatch,
    HeatPumpOffer,
    dispatch,
)
from homesim.devices.models.zone import Zone
from homesim.schemas.generated.kinds import (
    BoilerReport,
    BufferReport,
    DhwTankReport,
    FlatReport,
    GridReport,
    HeatPumpReport,
    LoadReport,
    WeatherReport,
)

HEAT = "heat"
ZONE_FIELDS = tuple(f.name for f in fields(Zone))  # the flat reports them (FlatReport)


class HeatNodeShell(DeviceShell):
    """Waits for the reports of the flats, heat pumps, boiler, buffer (and the grid's import
    limit), solves the coupled flats with the plant tick by tick
    (:func:`~homesim.devices.models.heatnode.dispatch`) and publishes every heat and gas
    packet of the building: sources → node → flats, flat ⇄ flat through party walls,
    flat ⇄ ambient, buffer and distribution losses → ambient, ambient → heat pump (source
    heat), gas-grid → boiler. Its report tells the inverter the electricity each heat pump
    needs (``el:<heat pump>`` [J]). Keeps a virtual heat meter per flat. Heats the hot-water
    tanks whose ``heated_by`` is ``heat_node`` first (DHW priority) and publishes
    ``node → tank``."""

    kind = "heat_node"
    persist = ("meters", "totals", "last_choice", "choice_ticks", "last_dhw_choice")
    meters: dict[str, float]  # heat delivered to each flat so far [J]
    totals: dict[str, float]  # unmet heat, distribution losses, heat to hot water so far [J]
    #: the broker's last heat source ("" before the first choice): an event is published
    #: when it changes, so it decides what the next window publishes
    last_choice: str
    choice_ticks: dict[str, int]  # ticks per heat source chosen by the broker
    #: the broker's last source for hot water ("" before the first): ``dhw_source`` events
    last_dhw_choice: str

    def setup(self) -> None:
        self.flats = self.devices_of("flat")
        self.heat_pumps = self.devices_of("heat_pump")
        self.boiler = self.device_of("boiler")
        self.buffer = self.device_of("buffer")
        self.weather = self.device_of("weather")
        self.grid = self.device_of("grid")
        # the hot-water tanks it heats (the others are their element's, on the inverter)
        self.tanks = [t for t in self.devices_of("dhw_tank")
                      if self.home.spec.device(t).properties.heated_by == "heat_node"]
        # PV and the other loads: the economic broker's PV surplus
        self.pvs = self.devices_of("pv") if self.heat_pumps else []
        self.loads = self.devices_of("load") if self.heat_pumps else []
        inv = self.device_of("inverter")
        self.eta_inv = (float(self.home.spec.device(inv).properties.eta_inv_nom)
                        if inv is not None else 0.96)
        idx = {f: i for i, f in enumerate(self.flats)}
        k = np.zeros((len(self.flats), len(self.flats)))
        for c in self.props.couplings:
            i, j = idx[c.a], idx[c.b]
            k[i, j] += c.conductance
            k[j, i] += c.conductance
        self.coupling = k
        self._last: HeatDispatch | None = None
        if not hasattr(self, "meters"):
            self.meters = {f: 0.0 for f in self.flats}
            self.totals = {"unmet": 0.0, "distribution_loss": 0.0, "dhw": 0.0}
            self.last_choice = ""
            self.choice_ticks = {}
        if not hasattr(self, "last_dhw_choice"):  # also a snapshot from before it existed
            self.last_dhw_choice = ""

    def inputs(self) -> list[str]:
        """The registry's inputs without the hot-water tanks heated by their own element."""
        others = set(self.devices_of("dhw_tank")) - set(self.tanks)
        return [d for d in super().inputs() if d not in others]

    def report(self, window: Window, inputs: dict[str, Any]) -> KindReport:
        n = window.n
        reps: list[FlatReport] = [inputs[f] for f in self.flats]
        zones = [Zone(**{k: getattr(r, k) for k in ZONE_FIELDS}) for r in reps]
        theta_m0 = np.array([r.theta_m0 for r in reps], dtype=float)
        # one ground temperature under the building (the first flat's)
        theta_g = reps[0].theta_g if reps else 10.0

        def stack(name: str) -> np.ndarray:
            if not reps:
                return np.zeros((n, 0))
            return np.stack([getattr(r, name) for r in reps], axis=1)

        if reps:
            theta_e = reps[0].theta_e
        elif self.weather:
            weather: WeatherReport = inputs[self.weather]
            theta_e = weather.temp_air
        else:
            theta_e = np.full(n, 10.0)
        hps: list[HeatPumpReport] = [inputs[h] for h in self.heat_pumps]
        offers = [HeatPumpOffer(h.p_th_max, h.cop, p_th_max_buffer=h.p_th_max_buffer,
                                cop_buffer=h.cop_buffer, modulation_min=h.modulation_min,
                                cd=h.cd, p_th_max_dhw=h.p_th_max_dhw, cop_dhw=h.cop_dhw)
                  for h in hps]
        tanks: list[DhwTankReport] = [inputs[t] for t in self.tanks]
        for name, r in zip(self.tanks, tanks, strict=True):
            if r.heated_by_node != 1.0:
                raise ValueError(f"{name}: reports heated_by_node {r.heated_by_node}; the "
                                 "manifest says the heat node heats it")
        dhw = [DhwDemand(DhwTank(volume=r.volume, p_el=0.0, t_set=r.t_set,
                                 hysteresis=r.hysteresis, t_cold=r.t_cold, t_use=r.t_use,
                                 ua=r.ua, t_surround=r.t_surround),
                         energy0=r.energy, heater_on0=r.heater_on > 0.5, wanted=r.wanted)
               for r in tanks]
        el_max = price_el = None
        if self.grid and self.heat_pumps:
            g: GridReport = inputs[self.grid]
            el_max = g.import_max
            price_el = g.price_import
        # estimated AC (DC × nominal inverter efficiency) left after the other loads
        pv_surplus = pv_ac_estimate([inputs[x] for x in self.pvs], self.eta_inv, n)
        for name in self.loads:
            load: LoadReport = inputs[name]
            pv_surplus -= load.demand
        pv_surplus = np.maximum(pv_surplus, 0.0)
        boiler = t_return = None
        gas_price = 0.0
        if self.boiler:
            b: BoilerReport = inputs[self.boiler]
            boiler = Boiler(p_th_max=b.p_th_max, modulation_min=b.modulation_min,
                            eta_full=b.eta_full, eta_part=b.eta_part)
            t_return = b.t_return
            gas_price = b.gas_price
        buffer = None
        e0 = 0.0
        if self.buffer:
            bp: BufferReport = inputs[self.buffer]
            buffer = Buffer(volume=bp.volume, t_min=bp.t_min, t_max=bp.t_max,
                            ua=bp.ua, t_surround=bp.t_surround)
            e0 = bp.energy
        d = dispatch(
            DispatchInputs(zones=zones, coupling=self.coupling, theta_m0=theta_m0, dt=window.dt,
                           theta_e=theta_e, theta_g=theta_g, h_ve=stack("h_ve"),
                           phi_int=stack("phi_int"), phi_sol=stack("phi_sol"),
                           setpoint=stack("setpoint"),
                           response=[occupants(r) for r in reps]),
            DispatchPlant(heat_pumps=offers, el_max=el_max, boiler=boiler, t_return=t_return,
                          buffer=buffer, buffer_energy0=e0, strategy=self.props.strategy,
                          distribution_loss=self.props.distribution_loss, price_el=price_el,
                          gas_price=gas_price, pv_surplus=pv_surplus if self.pvs else None,
                          dhw=dhw))
        self._last = d
        return self.Report(firm={h: d.hp_el[:, i] for i, h in enumerate(self.heat_pumps)})

    def own_flows(self, window: Window) -> list[Flow]:
        d = self._last
        me = self.name
        flows: list[Flow] = []
        for i, f in enumerate(self.flats):
            flows.append(Flow(me, f, HEAT, d.heat[:, i]))
            q = d.q_ambient[:, i]
            flows.append(Flow(f, "ambient", HEAT, np.maximum(q, 0.0)))
            flows.append(Flow("ambient", f, HEAT, np.maximum(-q, 0.0)))
            for j in range(i + 1, len(self.flats)):
                if self.coupling[i, j] > 0:
                    q = d.q_couple[:, i, j]
                    flows.append(Flow(f, self.flats[j], HEAT, np.maximum(q, 0.0)))
                    flows.append(Flow(self.flats[j], f, HEAT, np.maximum(-q, 0.0)))
        for i, h in enumerate(self.heat_pumps):
            flows.append(Flow(h, me, HEAT, d.hp_heat[:, i]))
            flows.append(Flow("ambient", h, HEAT, np.maximum(d.hp_heat[:, i] - d.hp_el[:, i],
                                                             0.0)))
            # EN 14825 cycling loss where the part-load COP falls below 1
            flows.append(Flow(h, "ambient", HEAT, np.maximum(d.hp_el[:, i] - d.hp_heat[:, i],
                                                             0.0)))
        if self.boiler:
            b = self.boiler
            flows.append(Flow(b, me, HEAT, d.boiler_heat))
            flows.append(Flow("gas-grid", b, "gas", d.boiler_gas))
            flows.append(Flow(b, "ambient", HEAT, np.maximum(d.boiler_gas - d.boiler_heat,
                                                             0.0)))
        if self.buffer:
            b = self.buffer
            flows.append(Flow(me, b, HEAT, d.buffer_charge))
            flows.append(Flow(b, me, HEAT, d.buffer_discharge))
            flows.append(Flow(b, "ambient", HEAT, d.buffer_loss))
        for t, tank in enumerate(self.tanks):
            flows.append(Flow(me, tank, HEAT, d.dhw_heat[:, t]))
        flows.append(Flow(me, "ambient", HEAT, d.distribution_loss))
        return flows

    def settle(self, window: Window, flows: dict[FlowKey, np.ndarray]) -> SettleResult:
        d = self._last
        for i, f in enumerate(self.flats):
            self.meters[f] += float(d.heat[:, i].sum())
        self.totals["unmet"] += float(d.unmet.sum())
        self.totals["distribution_loss"] += float(d.distribution_loss.sum())
        src = np.array([{"heat_pump": 1.0, "boiler": 2.0, "buffer": 3.0}.get(s, 0.0)
                        for s in d.source])
        for c in d.choice:
            self.choice_ticks[c.source] = self.choice_ticks.get(c.source, 0) + 1
        # the broker's decisions for the rooms and for hot water, when they change
        rooms, self.last_choice = choice_events(enumerate(d.choice), self.last_choice,
                                                "heat_source", window.tick0)
        water, self.last_dhw_choice = choice_events(d.choice_dhw, self.last_dhw_choice,
                                                    "dhw_source", window.tick0)
        events = sorted(rooms + water, key=lambda e: e["tick"])
        metrics = {"demand": d.demand.sum(axis=1), "unmet": d.unmet,
                   "heat": d.heat.sum(axis=1), "source": src, "dhw": d.dhw_heat.sum(axis=1)}
        self.totals["dhw"] += float(d.dhw_heat.sum())
        return SettleResult(metrics=metrics, events=events)

    def state(self) -> dict[str, Any]:
        return {"heat_meters": dict(self.meters), **self.totals,
                "strategy": self.props.strategy, "heat_source": self.last_choice or None,
                "broker_ticks": dict(self.choice_ticks)}


def choice_events(choices: Iterable[tuple[int, BrokerChoice]], last: str, kind: str,
                  tick0: int) -> tuple[list[dict[str, Any]], str]:
    """Events (``kind``: ``heat_source`` or ``dhw_source``) for the broker's choices
    ``(tick in window, choice)`` whose source differs from the one before (``last`` before
    the first), and the last source."""
    events = []
    for k, c in choices:
        if c.source != last:
            data = {x: v for x, v in (("cost_hp", c.cost_hp), ("cost_gas", c.cost_gas))
                    if np.isfinite(v)}
            events.append({"tick": tick0 + k, "kind": kind, "value": c.source,
                           "reason": c.reason, "data": data})
            last = c.source
    return events, last


def occupants(r: FlatReport) -> OccupantResponse:
    """The occupant response a flat reports (its ``occupant_*`` params)."""
    return OccupantResponse(ach_boost=r.ach_boost, t_open=r.t_open, t_shade=r.t_shade,
                            shading_factor=r.shading_factor, band=r.band)
