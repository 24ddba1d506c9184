"""Gas boiler device: condensing efficiency curve, modulation, gas priced per kWh."""

from __future__ import annotations

from typing import Any

import numpy as np

from homesim.devices.kinds.base import DeviceShell, FlowKey, KindReport, SettleResult, Window
from homesim.devices.models.boiler import Boiler
from homesim.devices.models.heatpump import heating_curve
from homesim.schemas.generated.kinds import WeatherReport
from homesim.schemas.units import J_PER_KWH

HEAT = "heat"


class BoilerShell(DeviceShell):
    """Reports its ratings (``params``) and return temperature per tick (a default
    weather-compensated heating curve minus ``delta_t``). Receives gas from ``gas-grid``,
    gives heat to the heat node and its flue/standing losses to ``ambient``; checks the gas
    against its own efficiency curve and books the gas cost."""

    kind = "boiler"
    persist = ("totals",)
    totals: dict[str, float]  # heat, gas [J] and cost [currency] so far

    def setup(self) -> None:
        p = self.props
        self.unit = Boiler(p_th_max=p.p_th_max, modulation_min=p.modulation_min,
                            eta_full=p.eta_full, eta_part=p.eta_part)
        self.weather = self.device_of("weather")
        self.node = self.device_of("heat_node")
        self._win: dict[int, np.ndarray] = {}
        if not hasattr(self, "totals"):
            self.totals = {"heat": 0.0, "gas": 0.0, "cost": 0.0}

    def report(self, window: Window, inputs: dict[str, Any]) -> KindReport:
        weather: WeatherReport = inputs[self.weather]
        temp_air = weather.temp_air
        t_return = heating_curve(temp_air) - self.props.delta_t
        self._win = {window.window: t_return}
        p = self.props
        return self.Report(t_return=t_return, p_th_max=p.p_th_max,
                           modulation_min=p.modulation_min, eta_full=p.eta_full,
                           eta_part=p.eta_part, gas_price=p.gas_price)

    def settle(self, window: Window, flows: dict[FlowKey, np.ndarray]) -> SettleResult:
        zero = np.zeros(window.n)
        heat = flows.get((self.name, self.node, HEAT), zero)
        gas = flows.get(("gas-grid", self.name, "gas"), zero)
        need = self.unit.gas_energy(heat, window.dt, self._win[window.window])
        if np.any(np.abs(gas - need) > 1e-6 * np.maximum(need, 1.0)):
            k = int(np.argmax(np.abs(gas - need)))
            raise ValueError(f"tick {window.tick0 + k}: got {gas[k]:.6g} J of gas for "
                             f"{heat[k]:.6g} J of heat; the model needs {need[k]:.6g} J")
        cost = gas / J_PER_KWH * self.props.gas_price
        self.totals["heat"] += float(heat.sum())
        self.totals["gas"] += float(gas.sum())
        self.totals["cost"] += float(cost.sum())
        eff = np.divide(heat, gas, out=np.zeros_like(heat), where=gas > 0)
        return SettleResult(metrics={"p_th": heat / window.dt, "gas": gas,
                                     "efficiency": eff, "cost": cost})

    def state(self) -> dict[str, Any]:
        return {"energy_heat": self.totals["heat"], "energy_gas": self.totals["gas"],
                "cost": self.totals["cost"], "currency": self.props.currency}
