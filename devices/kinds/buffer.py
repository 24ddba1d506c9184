"""Buffer tank device: hot water store with standing losses."""

from __future__ import annotations

from typing import Any

import numpy as np

from homesim.devices.kinds.base import DeviceShell, FlowKey, KindReport, SettleResult, Window
from homesim.devices.models.buffer import Buffer, buffer_trajectory

HEAT = "heat"


class BufferShell(DeviceShell):
    """Reports its stored energy and ratings (``params``); the heat node charges and
    discharges it and books its standing losses to ``ambient``; the buffer advances itself
    with the same pure step and reports stored energy and temperature."""

    kind = "buffer"
    persist = ("energy",)
    #: heat stored above t_min at the end of the last settled window [J] (negative when
    #: the idle tank has cooled below t_min towards the room)
    energy: float

    def setup(self) -> None:
        p = self.props
        self.tank = Buffer(volume=p.volume, t_min=p.t_min, t_max=p.t_max, ua=p.ua,
                            t_surround=p.t_surround)
        self.node = self.device_of("heat_node")
        if not hasattr(self, "energy"):
            self.energy = p.soc_initial * self.tank.capacity

    def report(self, window: Window, inputs: dict[str, Any]) -> KindReport:
        p = self.props
        return self.Report(energy=self.energy, volume=p.volume, t_min=p.t_min,
                           t_max=p.t_max, ua=p.ua, t_surround=p.t_surround)

    def settle(self, window: Window, flows: dict[FlowKey, np.ndarray]) -> SettleResult:
        zero = np.zeros(window.n)
        charge = flows.get((self.node, self.name, HEAT), zero)
        discharge = flows.get((self.name, self.node, HEAT), zero)
        e0 = self.energy
        stored, _ = buffer_trajectory(self.tank, e0, charge, discharge, window.dt)
        self.energy = float(stored[-1])
        return SettleResult(stored0=e0, stored=stored,
                            metrics={"soc": stored / self.tank.capacity,
                                     "temp": np.asarray(self.tank.temperature(stored))})

    def state(self) -> dict[str, Any]:
        return {"energy": self.energy, "soc": self.energy / self.tank.capacity,
                "temp": float(self.tank.temperature(self.energy))}
