"""EV charger device: one charge point, its sessions, energy delivered and unmet."""

from __future__ import annotations

from typing import Any, TypedDict

import numpy as np

from homesim.devices.context import home_context
from homesim.devices.kinds.base import DeviceShell, FlowKey, KindReport, SettleResult, Window
from homesim.devices.models.ev_charging import (
    ActiveSession,
    ChargePoint,
    advance,
    flexible_demand,
    window_sessions,
)
from homesim.devices.models.ev_sessions import commuter_sessions, scheduled_sessions
from homesim.schemas.generated.kinds import EvChargerReport

SESSION_FIELDS = ("arrival_tick", "departure_tick", "remaining", "capacity", "soc_start",
                  "unmet_tick")


class ChargerTotals(TypedDict):
    """What a charger has booked so far."""

    electricity: float  # drawn from the inverter [J]
    delivered: float  # into cars [J]
    unmet: float  # still wanted by cars when they left [J]
    sessions: int  # sessions ended


class ChargerLast(TypedDict):
    """The end of the last settled window."""

    connected: bool
    soc: float | None  # the connected car's state of charge (None: no car)


def report_sessions(rep: EvChargerReport) -> tuple[ChargePoint, list[ActiveSession]]:
    """The charge point and the window's sessions of a charger's report (the load manager's
    view of it)."""
    cp = ChargePoint(p_max=rep.p_max, p_min=rep.p_min, efficiency=rep.efficiency)
    out = [ActiveSession(arrival_tick=int(v["arrival_tick"]),
                         departure_tick=int(v["departure_tick"]),
                         remaining=v["remaining"], capacity=v["capacity"],
                         soc_start=v["soc_start"], unmet_tick=int(v["unmet_tick"]))
           for v in rep.sessions]
    return cp, out


class EvChargerShell(DeviceShell):
    """Reports the EV sessions of the window (scheduled and/or a seeded commuter generator)
    with its power range as ``params`` and its flexible demand per tick (``e_min``: what it
    must take to be ready at departure, ``e_max``: as fast as it can) [J]. The load manager
    decides how much it charges; the charger receives that electricity from the inverter,
    charges the car (efficiency), and books energy delivered and, when a car leaves, the
    energy it still wanted (unmet)."""

    kind = "ev_charger"
    persist = ("ev_state", "totals", "last")
    #: {arrival [s since epoch]: energy still wanted [J]} of the car connected at the end of
    #: the last settled window (what :func:`window_sessions` carries to the next window)
    ev_state: dict[float, float]
    totals: ChargerTotals
    last: ChargerLast

    def setup(self) -> None:
        p = self.props
        self.ctx = home_context(self.home)
        self.cp = ChargePoint(p_max=p.p_max, p_min=p.p_min, efficiency=p.efficiency)
        self.inverter = self.device_of("inverter")
        self._win: dict[int, list[ActiveSession]] = {}
        if not hasattr(self, "ev_state"):
            self.ev_state = {}
            self.totals = {"electricity": 0.0, "delivered": 0.0, "unmet": 0.0, "sessions": 0}
            self.last = {"connected": False, "soc": None}

    def sessions(self, t_from: float, t_to: float) -> list[Any]:
        """Sessions overlapping ``[t_from, t_to)``."""
        p = self.props
        out = scheduled_sessions([s.model_dump(exclude_none=True) for s in p.sessions],
                                 self.ctx.tz, t_from, t_to) if p.sessions else []
        if p.generator is not None:
            g = p.generator
            out += commuter_sessions(self.seed, self.name, self.ctx.tz, t_from, t_to,
                                     capacity_kwh=g.capacity_kwh, kwh_per_km=g.kwh_per_km,
                                     km_mean=g.km_mean, arrival_mean=g.arrival_mean,
                                     departure_mean=g.departure_mean,
                                     weekend_prob=g.weekend_prob)
        return out

    def report(self, window: Window, inputs: dict[str, Any]) -> KindReport:
        t0 = float(window.times[0])
        active = window_sessions(self.sessions(t0, window.end), self.ev_state, t0, window.dt,
                                 window.n)
        self._win = {window.window: active}
        e_min, e_max = flexible_demand(self.cp, active, window.dt, window.n)
        return self.Report(e_min=e_min, e_max=e_max, p_max=self.cp.p_max, p_min=self.cp.p_min,
                           efficiency=self.cp.efficiency,
                           sessions=tuple({f: float(getattr(s, f)) for f in SESSION_FIELDS}
                                          for s in active))

    def settle(self, window: Window, flows: dict[FlowKey, np.ndarray]) -> SettleResult:
        active = self._win[window.window]
        elec = flows.get((self.inverter, self.name, "electricity"), np.zeros(window.n))
        r = advance(self.cp, active, elec, window.dt)
        self.ev_state = r["state"]
        self.totals["electricity"] += float(elec.sum())
        self.totals["delivered"] += float(r["delivered"].sum())
        self.totals["unmet"] += float(r["unmet"].sum())
        self.totals["sessions"] += sum(1 for s in active if 0 <= s.unmet_tick < window.n)
        soc = r["soc"][-1] if window.n else np.nan
        self.last = {"connected": bool(r["connected"][-1]) if window.n else False,
                     "soc": None if np.isnan(soc) else float(soc)}
        # what reaches the car leaves the building: end use, like a load
        return SettleResult(losses=elec, metrics={
            "delivered": r["delivered"], "unmet": r["unmet"], "connected": r["connected"],
            "charger_loss": r["losses"], "p": elec / window.dt})

    def check_state(self, values: dict[str, Any]) -> None:
        for arrival, remaining in values.get("ev_state", {}).items():
            if remaining < 0:
                raise ValueError(f"{self.name}: ev_state.{arrival!r}: {remaining!r} J is "
                                 "negative")

    def state(self) -> dict[str, Any]:
        return {**self.totals, **self.last}
