"""Load manager device: dynamic load management of the EV chargers under a grid limit."""

from __future__ import annotations

from typing import Any

import numpy as np

from homesim.devices.kinds.base import (
    DeviceShell,
    KindReport,
    SettleResult,
    Window,
    firm_demand,
    pv_ac_estimate,
)
from homesim.devices.kinds.ev_charger import report_sessions
from homesim.devices.models.loadmanager import ChargerWindow, manage
from homesim.schemas.generated.kinds import GridReport, LoadReport

#: PV AC is estimated from the reported DC with the inverter's nominal efficiency times
#: this margin, so that the chargers never rely on PV the inverter cannot deliver.
PV_MARGIN = 0.97


class LoadManagerShell(DeviceShell):
    """Keeps the grid connection under its limit: waits for every load's demand, the heat
    node's heat-pump electricity, the PV and the chargers' sessions, computes the headroom
    per tick (limit + PV − other loads) and allocates it to the chargers by strategy
    (:func:`~homesim.devices.models.loadmanager.manage`: throttled down to their minimum,
    then paused, released when demand falls). Its report tells the inverter each charger's
    electricity (``el:<charger>`` [J])."""

    kind = "load_manager"
    persist = ("totals", "per_charger")
    totals: dict[str, float]  # energy throttled and allocated so far [J]
    per_charger: dict[str, dict[str, float]]  # the same per charger [J]

    def setup(self) -> None:
        self.chargers = self.devices_of("ev_charger")
        self.loads = self.devices_of("load")
        self.pvs = self.devices_of("pv")
        self.nodes = self.devices_of("heat_node")
        self.grid = self.device_of("grid")
        inv = self.home.spec.device(self.device_of("inverter"))
        self.eta = float(inv.properties.eta_inv_nom) * PV_MARGIN
        self.p_ac_max = float(inv.properties.p_ac_max)
        self._last: dict[str, np.ndarray] | None = None
        if not hasattr(self, "totals"):
            self.totals = {"throttled": 0.0, "allocated": 0.0}
            self.per_charger = {c: {"throttled": 0.0, "allocated": 0.0} for c in self.chargers}

    def report(self, window: Window, inputs: dict[str, Any]) -> KindReport:
        n, dt = window.n, window.dt
        other = np.zeros(n)
        for name in self.loads:
            load: LoadReport = inputs[name]
            other += load.demand
        for name in self.nodes:
            for _, arr in firm_demand(inputs[name]):
                other += arr
        pv = pv_ac_estimate([inputs[x] for x in self.pvs], self.eta, n, self.p_ac_max * dt)
        if self.grid:
            grid: GridReport = inputs[self.grid]
            limit = grid.import_max
            if self.props.limit is not None:
                limit = np.minimum(limit, self.props.limit * dt)
        else:
            limit = np.zeros(n)
        headroom = np.maximum(limit + pv - other, 0.0)
        surplus = np.maximum(pv - other, 0.0)
        windows = []
        for name in self.chargers:
            cp, sessions = report_sessions(inputs[name])
            windows.append(ChargerWindow(name=name, cp=cp, sessions=sessions))
        r = manage(windows, headroom, dt, self.props.strategy, pv_surplus=surplus,
                   surplus_only=self.props.surplus_only)
        self._last = {**r, "headroom": headroom}
        return self.Report(firm={c: r["alloc"][:, i] for i, c in enumerate(self.chargers)})

    def settle(self, window: Window, flows: dict[Any, np.ndarray]) -> SettleResult:
        r = self._last
        alloc = r["alloc"].reshape(window.n, len(self.chargers))
        thr = r["throttled"].reshape(window.n, len(self.chargers))
        for i, c in enumerate(self.chargers):
            self.per_charger[c]["throttled"] += float(thr[:, i].sum())
            self.per_charger[c]["allocated"] += float(alloc[:, i].sum())
        self.totals["throttled"] += float(thr.sum())
        self.totals["allocated"] += float(alloc.sum())
        return SettleResult(metrics={"throttled": thr.sum(axis=1), "allocated": alloc.sum(axis=1),
                                     "headroom": r["headroom"],
                                     "paused": r["paused"].reshape(window.n, -1).sum(axis=1)})

    def state(self) -> dict[str, Any]:
        return {**self.totals, "chargers": self.per_charger, "strategy": self.props.strategy}
