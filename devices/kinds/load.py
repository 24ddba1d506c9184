"""Load: a BDEW standard load profile (demandlib) or a CSV profile, plus scheduled appliances."""

from __future__ import annotations

from typing import Any

import numpy as np

from homesim.devices.context import home_context
from homesim.devices.kinds.base import DeviceShell, FlowKey, KindReport, SettleResult, Window
from homesim.devices.models.load import (
    BdewProfile,
    CsvProfile,
    appliance_energy,
    noise_factors,
    read_load_csv,
)


class LoadShell(DeviceShell):
    """Reports its demand per tick [J]; what is not served (islanded, shed) is ``unserved``.

    Appliances follow their daily schedule (``state: auto``) or are switched ``on``/``off``
    live, e.g. ``set appliances.oven.state on``.
    """

    kind = "load"
    persist = ("served_total", "unserved_total")  # [J] so far (dump_state/load_state)

    _csv_key: Any = None

    def setup(self) -> None:
        self.ctx = home_context(self.home)
        p = self.props
        self.profile: BdewProfile | CsvProfile
        if p.profile == "csv":
            c = p.csv
            key = (c.model_dump_json(), p.annual_kwh if c.scale else None)
            if key != self._csv_key:  # annual_kwh is live: re-read only what changed
                self._csv = read_load_csv(
                    c.file, c.timezone or self.ctx.tz, time_column=c.time_column,
                    column=c.column, unit=c.unit, label=c.label, time_format=c.time_format,
                    annual_kwh=p.annual_kwh if c.scale else None)
                self._csv_key = key
            self.profile = self._csv
        else:
            h = p.holidays
            self.profile = BdewProfile(p.annual_kwh, p.profile,
                                       h.country if h else None, h.subdivision if h else None)
        self.inverter = self.device_of("inverter")
        self._win: dict[int, np.ndarray] = {}
        if not hasattr(self, "served_total"):
            self.served_total = 0.0
            self.unserved_total = 0.0

    def warm(self) -> None:
        """The profile's first tick: demandlib's year of the run start is built (cached)."""
        sim = self.home.spec.simulation
        start = self.ctx.start
        self.profile.energy(start, sim.dt, 0, 1, *(() if isinstance(self.profile, CsvProfile)
                                                  else (self.ctx.tz,)))

    def demand(self, window: Window) -> np.ndarray:
        """Demand per tick [J] over the window."""
        p = self.props
        if isinstance(self.profile, CsvProfile):
            base = self.profile.energy(window.start, window.dt, window.tick0, window.n)
        else:
            base = self.profile.energy(window.start, window.dt, window.tick0, window.n,
                                       self.ctx.tz)
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
