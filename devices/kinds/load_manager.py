"""Load manager device: dynamic load management of the EV chargers under a grid limit."""

from __future__ import annotations

from typing import Any

import numpy as np

from homesim.devices.kinds.base import (
    DeviceShell,
    SettleResult,
    Window,
    firm_demand,
    pv_ac_estimate,
)
from homesim.devices.kinds.ev_charger import params_to_sessions
from homesim.devices.models.loadmanager import ChargerWindow, manage

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
    description = "Dynamic load management: EV chargers throttled under the connection limit"

    def setup(self) -> None:
        spec = self.home.spec
        on = spec.enabled()
        self.chargers = [d.name for d in on if d.kind == "ev_charger"]
        self.loads = [d.name for d in on if d.kind == "load"]
        self.pvs = [d.name for d in on if d.kind == "pv"]
        self.nodes = [d.name for d in on if d.kind == "heat_node"]
        grid = spec.first("grid")
        self.grid = grid.name if grid is not None else None
        inv = spec.first("inverter")
        self.eta = float(inv.properties.eta_inv_nom) * PV_MARGIN
        self.p_ac_max = float(inv.properties.p_ac_max)
        self._last: dict[str, np.ndarray] | None = None
        if not hasattr(self, "totals"):
            self.totals = {"throttled": 0.0, "allocated": 0.0}
            self.per_charger = {c: {"throttled": 0.0, "allocated": 0.0} for c in self.chargers}

    def inputs(self) -> list[str]:
        return [*self.chargers, *self.loads, *self.pvs, *self.nodes,
                *([self.grid] if self.grid else [])]

    def packet_publishers(self) -> list[str]:
        return []

    def report(self, window: Window, inputs: dict[str, Any]) -> dict[str, Any]:
        n, dt = window.n, window.dt
        other = np.zeros(n)
        for name in self.loads:
            other += np.asarray(inputs[name]["signals"]["demand"], dtype=float)
        for name in self.nodes:
            for _, arr in firm_demand(inputs[name]):
                other += arr
        pv = pv_ac_estimate([inputs[x] for x in self.pvs], self.eta, n, self.p_ac_max * dt)
        if self.grid:
            limit = np.asarray(inputs[self.grid]["signals"]["import_max"], dtype=float)
            if self.props.limit is not None:
                limit = np.minimum(limit, self.props.limit * dt)
        else:
            limit = np.zeros(n)
        headroom = np.maximum(limit + pv - other, 0.0)
        surplus = np.maximum(pv - other, 0.0)
        windows = []
        for name in self.chargers:
            cp, sessions = params_to_sessions(inputs[name]["params"])
            windows.append(ChargerWindow(name=name, cp=cp, sessions=sessions))
        r = manage(windows, headroom, dt, self.props.strategy, pv_surplus=surplus,
                   surplus_only=self.props.surplus_only)
        self._last = {**r, "headroom": headroom}
        return {"signals": {f"el:{c}": r["alloc"][:, i] for i, c in enumerate(self.chargers)}}

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
