"""Domestic hot-water tank heated by an electric element (a geyser) or by the heat node,
tapped by a daily cycle."""

from __future__ import annotations

from typing import Any

import numpy as np

from homesim.devices.context import home_context
from homesim.devices.kinds.base import DeviceShell, FlowKey, KindReport, SettleResult, Window
from homesim.devices.models.dhw import TAPPING_CYCLE_M, DhwTank, dhw_trajectory, tap_energy
from homesim.devices.models.schedule import local_seconds

ELEC = "electricity"
HEAT = "heat"
#: relative tolerance of the check of the heat node's heat against the thermostat's request
_REL_TOL = 1e-9


def tank_of(props: Any) -> DhwTank:
    """The :class:`DhwTank` of a ``dhw_tank``'s properties."""
    p = props
    return DhwTank(volume=p.volume, p_el=p.p_el, t_set=p.t_set, hysteresis=p.hysteresis,
                   t_cold=p.t_cold, t_use=p.t_use, ua=p.ua, t_surround=p.t_surround)


def taps_of(props: Any) -> list[tuple[str, float]]:
    """The daily draws ``(HH:MM, kWh)`` of the properties' ``tapping`` (cycle M or custom)."""
    if props.tapping == "M":
        return list(TAPPING_CYCLE_M)
    return [(t.time, float(t.energy)) for t in props.taps]


class DhwTankShell(DeviceShell):
    """A hot-water tank on the electric bus. Phase 1: the taps' hot-water energy of the
    window (tapping cycle M of EN 16147 or the manifest's draws, local time) and the
    element's thermostat give the electricity it asks for (``demand``); the inverter serves
    it like a load. Phase 2: the tank advances with the electricity it was given (a shed
    element leaves the tank colder; a draw the tank cannot serve is ``unmet``) and books the
    hot water drawn and its standing loss as its losses, the tank's heat above the cold
    water as stored energy.

    With ``heated_by: heat_node`` the element is not used (``demand`` is 0): the tank reports
    its state, ratings and the taps' energy; the heat node heats it (DHW priority, see
    :func:`~homesim.devices.models.heatnode.dispatch`) and publishes ``heat_node → tank``;
    the tank waits for that packet, advances with the heat it got (the same pure step as the
    node) and refuses heat beyond what its thermostat asked for."""

    kind = "dhw_tank"
    persist = ("energy", "heater_on", "totals")
    energy: float  # heat above the cold water at the end of the last settled window [J]
    heater_on: bool  # the element's thermostat state (hysteresis) at that time
    totals: dict[str, float]  # electricity, heat, drawn, unmet, standing loss so far [J]

    def setup(self) -> None:
        self.tank = tank_of(self.props)
        self.taps = taps_of(self.props)
        self.tz = home_context(self.home).tz
        self.inverter = self.device_of("inverter")
        self.by_node = self.props.heated_by == "heat_node"
        self.node = self.device_of("heat_node")
        self._win: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        if not hasattr(self, "energy"):
            self.energy = self.tank.energy(float(self.props.temp_initial))
            self.heater_on = False
            self.totals = {"electricity": 0.0, "drawn": 0.0, "unmet": 0.0, "loss": 0.0,
                           "heat": 0.0}

    def check_state(self, values: dict[str, Any]) -> None:
        e = values.get("energy")
        if e is not None:
            temp = self.tank.t_cold + e / self.tank.heat_capacity
            if not -100.0 <= temp <= 150.0:
                raise ValueError(f"{self.name}: energy: {e} J means {temp:.6g} °C, not a "
                                 "water temperature")

    def packet_publishers(self) -> list[str]:
        """The inverter, and the heat node when it heats this tank."""
        return [d for d in super().packet_publishers()
                if self.by_node or d != self.node]

    @property
    def temp(self) -> float:
        """Tank temperature [°C]."""
        return self.tank.t_cold + self.energy / self.tank.heat_capacity

    def wanted(self, window: Window) -> np.ndarray:
        """Hot-water energy the taps want in each tick of the window [J]."""
        return tap_energy(local_seconds(window.times, self.tz), window.dt, self.taps,
                          float(self.props.scale))

    def report(self, window: Window, inputs: dict[str, Any]) -> KindReport:
        wanted = self.wanted(window)
        if self.by_node:
            demand = np.zeros(window.n)
        else:
            demand = dhw_trajectory(self.tank, self.energy, self.heater_on, wanted,
                                    window.dt).q_in
        self._win = {window.window: (wanted, demand)}
        t = self.tank
        return self.Report(demand=demand, wanted=wanted, energy=self.energy,
                           heater_on=float(self.heater_on), heated_by_node=float(self.by_node),
                           volume=t.volume, t_set=t.t_set, hysteresis=t.hysteresis,
                           t_cold=t.t_cold, t_use=t.t_use, ua=t.ua, t_surround=t.t_surround)

    def settle(self, window: Window, flows: dict[FlowKey, np.ndarray]) -> SettleResult:
        wanted, demand = self._win[window.window]
        got = flows.get((self.inverter, self.name, ELEC), np.zeros(window.n))
        if np.any(got > demand + 1e-6 * np.maximum(demand, 1.0)):
            k = int(np.argmax(got - demand))
            raise ValueError(f"tick {window.tick0 + k}: the element got {got[k]:.6g} J, it "
                             f"asked for {demand[k]:.6g} J")
        heat = np.zeros(window.n)
        if self.by_node:
            heat = flows.get((self.node, self.name, HEAT), heat)
            if not np.all(np.isfinite(heat)) or np.any(heat < 0):
                raise ValueError("heat: must be finite and >= 0 J")
        r = dhw_trajectory(self.tank, self.energy, self.heater_on, wanted, window.dt,
                           q_given=got + heat, q_max=np.inf if self.by_node else None)
        given = heat + got
        if self.by_node and np.any(given > r.asked * (1 + _REL_TOL) + 1e-6):
            k = int(np.argmax(given - r.asked))
            raise ValueError(f"tick {window.tick0 + k}: the heat node gave {heat[k]:.6g} J "
                             f"and the element {got[k]:.6g} J, the thermostat asked for "
                             f"{r.asked[k]:.6g} J")
        stored0 = self.energy
        self.energy = float(r.stored[-1])
        self.heater_on = r.heater_on
        for key, v in (("electricity", got), ("drawn", r.drawn), ("unmet", r.unmet),
                       ("loss", r.loss), ("heat", heat)):
            self.totals[key] = self.totals.get(key, 0.0) + float(v.sum())
        return SettleResult(stored0=stored0, stored=r.stored, losses=r.drawn + r.loss,
                            metrics={"temp": r.temp, "demand": demand,
                                     "unserved": np.maximum(demand - got, 0.0),
                                     "drawn": r.drawn, "unmet": r.unmet,
                                     "standing_loss": r.loss, "heat": heat})

    def state(self) -> dict[str, Any]:
        t = self.totals
        return {"temp": self.temp, "heater_on": self.heater_on,
                "energy_electricity": t["electricity"], "energy_drawn": t["drawn"],
                "energy_unmet": t["unmet"], "standing_loss": t["loss"],
                "energy_heat": t.get("heat", 0.0),
                "heated_by": self.props.heated_by}
