"""Household load: BDEW H0 base load (demandlib) plus scheduled appliances."""

from __future__ import annotations

from typing import Any

import numpy as np

from homesim.devices.context import home_context
from homesim.devices.kinds.base import DeviceShell, FlowKey, KindReport, SettleResult, Window
from homesim.devices.models.load import H0Profile, appliance_energy, noise_factors


class LoadShell(DeviceShell):
    """Reports its demand per tick [J]; what is not served (islanded, shed) is ``unserved``.

    Appliances follow their daily schedule (``state: auto``) or are switched ``on``/``off``
    live, e.g. ``set appliances.oven.state on``.
    """

    kind = "load"
    persist = ("served_total", "unserved_total")  # [J] so far (dump_state/load_state)

    def setup(self) -> None:
        self.ctx = home_context(self.home)
        self.profile = H0Profile(annual_kwh=self.props.annual_kwh)
        self.inverter = self.device_of("inverter")
        self._win: dict[int, np.ndarray] = {}
        if not hasattr(self, "served_total"):
            self.served_total = 0.0
            self.unserved_total = 0.0

    def demand(self, window: Window) -> np.ndarray:
        """Demand per tick [J] over the window."""
        p = self.props
        base = self.profile.energy(window.start, window.dt, window.tick0, window.n, self.ctx.tz)
        if p.noise_sigma > 0:
            base = base * noise_factors(self.seed, self.name, window.tick0, window.n,
                                        p.noise_sigma)
        total = base
        for a in p.appliances:
            if a.state == "off":
                continue
            if a.state == "on":
                total = total + a.power * window.dt
            else:
                total = total + appliance_energy(window.times, window.dt, self.ctx.tz,
                                                 a.power, a.start, a.end, a.days)
        return total

    def report(self, window: Window, inputs: dict[str, KindReport]) -> KindReport:
        d = self.demand(window)
        self._win = {window.window: d}
        return self.Report(demand=d)

    def settle(self, window: Window, flows: dict[FlowKey, np.ndarray]) -> SettleResult:
        d = self._win[window.window]
        served = flows.get((self.inverter, self.name, "electricity"), np.zeros(window.n))
        if np.any(served > d + 1e-6 * np.maximum(d, 1.0)):
            raise ValueError("load received more energy than it demanded")
        unserved = np.maximum(d - served, 0.0)
        self.served_total += float(served.sum())
        self.unserved_total += float(unserved.sum())
        return SettleResult(losses=served, metrics={"demand": d, "unserved": unserved})

    def state(self) -> dict[str, Any]:
        return {"served": self.served_total, "unserved": self.unserved_total,
                "appliances": {a.name: a.state for a in self.props.appliances}}
