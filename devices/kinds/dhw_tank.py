"""Domestic hot-water tank with an electric element (a geyser), tapped by a daily cycle."""

from __future__ import annotations

from typing import Any

import numpy as np

from homesim.devices.context import home_context
from homesim.devices.kinds.base import DeviceShell, FlowKey, KindReport, SettleResult, Window
from homesim.devices.models.dhw import TAPPING_CYCLE_M, DhwTank, dhw_trajectory, tap_energy
from homesim.devices.models.schedule import local_seconds

ELEC = "electricity"


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
    water as stored energy."""

    kind = "dhw_tank"
    persist = ("energy", "heater_on", "totals")
    energy: float  # heat above the cold water at the end of the last settled window [J]
    heater_on: bool  # the element's thermostat state (hysteresis) at that time
    totals: dict[str, float]  # electricity, drawn, unmet, standing loss so far [J]

    def setup(self) -> None:
        self.tank = tank_of(self.props)
        self.taps = taps_of(self.props)
        self.tz = home_context(self.home).tz
        self.inverter = self.device_of("inverter")
        self._win: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        if not hasattr(self, "energy"):
            self.energy = self.tank.energy(float(self.props.temp_initial))
            self.heater_on = False
            self.totals = {"electricity": 0.0, "drawn": 0.0, "unmet": 0.0, "loss": 0.0}

    def check_state(self, values: dict[str, Any]) -> None:
        e = values.get("energy")
        if e is not None:
            temp = self.tank.t_cold + e / self.tank.heat_capacity
            if not -100.0 <= temp <= 150.0:
                raise ValueError(f"{self.name}: energy: {e} J means {temp:.6g} °C, not a "
                                 "water temperature")

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
        plan = dhw_trajectory(self.tank, self.energy, self.heater_on, wanted, window.dt)
        self._win = {window.window: (wanted, plan.q_in)}
        return self.Report(demand=plan.q_in)

    def settle(self, window: Window, flows: dict[FlowKey, np.ndarray]) -> SettleResult:
        wanted, demand = self._win[window.window]
        got = flows.get((self.inverter, self.name, ELEC), np.zeros(window.n))
        if np.any(got > demand + 1e-6 * np.maximum(demand, 1.0)):
            k = int(np.argmax(got - demand))
            raise ValueError(f"tick {window.tick0 + k}: the element got {got[k]:.6g} J, it "
                             f"asked for {demand[k]:.6g} J")
        r = dhw_trajectory(self.tank, self.energy, self.heater_on, wanted, window.dt,
                           q_given=got)
        stored0 = self.energy
        self.energy = float(r.stored[-1])
        self.heater_on = r.heater_on
        for key, v in (("electricity", got), ("drawn", r.drawn), ("unmet", r.unmet),
                       ("loss", r.loss)):
            self.totals[key] += float(v.sum())
        return SettleResult(stored0=stored0, stored=r.stored, losses=r.drawn + r.loss,
                            metrics={"temp": r.temp, "demand": demand,
                                     "unserved": np.maximum(demand - got, 0.0),
                                     "drawn": r.drawn, "unmet": r.unmet,
                                     "standing_loss": r.loss})

    def state(self) -> dict[str, Any]:
        t = self.totals
        return {"temp": self.temp, "heater_on": self.heater_on,
                "energy_electricity": t["electricity"], "energy_drawn": t["drawn"],
                "energy_unmet": t["unmet"], "standing_loss": t["loss"]}
