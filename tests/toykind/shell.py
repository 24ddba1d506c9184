"""The toy kettle's shell: reports its demand, takes what the inverter gives."""

from __future__ import annotations

from typing import Any

import numpy as np

from homesim.devices.kinds.base import DeviceShell, FlowKey, KindReport, SettleResult, Window
from toykind.model import kettle_energy


class KettleShell(DeviceShell):
    """Reports the energy it wants per tick [J]; end use is its loss."""

    kind = "kettle"
    persist = ("served",)  # the generic dump/load: the type comes from the value (a float)

    def setup(self) -> None:
        self.inverter = self.device_of("inverter")
        self._win: dict[int, np.ndarray] = {}
        if not hasattr(self, "served"):
            self.served = 0.0

    def report(self, window: Window, inputs: dict[str, Any]) -> KindReport:
        d = kettle_energy(window.times, window.dt, self.props.power, self.props.hours)
        self._win = {window.window: d}
        return self.Report(demand=d)

    def settle(self, window: Window, flows: dict[FlowKey, np.ndarray]) -> SettleResult:
        d = self._win[window.window]
        got = flows.get((self.inverter, self.name, "electricity"), np.zeros(window.n))
        self.served += float(got.sum())
        return SettleResult(losses=got, metrics={"demand": d,
                                                 "unserved": np.maximum(d - got, 0.0)})

    def state(self) -> dict[str, Any]:
        return {"served": self.served}
