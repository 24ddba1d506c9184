"""Heat pump device: hplib performance with a weather-compensated supply temperature."""

from __future__ import annotations

from typing import Any

import numpy as np

from homesim.devices.kinds.base import DeviceShell, FlowKey, KindReport, SettleResult, Window
from homesim.devices.models.heatpump import HeatPumpModel, Performance, heating_curve
from homesim.schemas.generated.kinds import WeatherReport
from homesim.schemas.generated.messages import HeatingCurve

HEAT = "heat"


class HeatPumpShell(DeviceShell):
    """Reports its full-load heat output and COP per tick (hplib, source = outdoor air for
    air/water, supply temperature from its heating curve). The heat node decides how much
    heat it makes; the heat pump then receives the electricity from the inverter and the
    source heat from ``ambient``, and checks both against its own model (a mismatch fails
    the window: no joule is dropped silently)."""

    kind = "heat_pump"
    persist = ("totals",)
    totals: dict[str, float]  # heat and electricity so far [J]

    def setup(self) -> None:
        p = self.props
        self.hp = HeatPumpModel(p.model, group_id=p.group_id, p_th_ref=p.p_th_ref,
                                   t_cutoff=p.t_cutoff, modulation_min=p.modulation_min)
        self.curve = p.heating_curve or HeatingCurve()
        self.weather = self.device_of("weather")
        self.node = self.device_of("heat_node")
        self.inverter = self.device_of("inverter")
        self._win: dict[int, tuple[Performance, np.ndarray]] = {}
        if not hasattr(self, "totals"):
            self.totals = {"heat": 0.0, "electricity": 0.0}

    def report(self, window: Window, inputs: dict[str, Any]) -> KindReport:
        weather: WeatherReport = inputs[self.weather]
        temp_air = weather.temp_air
        c = self.curve
        t_flow = heating_curve(temp_air, t_flow_design=c.t_flow_design,
                               temp_air_design=c.temp_air_design, exponent=c.exponent,
                               t_flow_min=c.t_flow_min)
        perf = self.hp.performance(temp_air, t_flow)
        self._win = {window.window: (perf, t_flow)}
        return self.Report(p_th_max=perf.p_th_max, cop=perf.cop, t_flow=t_flow)

    def settle(self, window: Window, flows: dict[FlowKey, np.ndarray]) -> SettleResult:
        perf, t_flow = self._win[window.window]
        zero = np.zeros(window.n)
        heat = flows.get((self.name, self.node, HEAT), zero)
        el = flows.get((self.inverter, self.name, "electricity"), zero)
        need = self.hp.electric_power(heat / window.dt, perf) * window.dt
        if np.any(np.abs(el - need) > 1e-6 * np.maximum(need, 1.0)):
            k = int(np.argmax(np.abs(el - need)))
            raise ValueError(f"tick {window.tick0 + k}: got {el[k]:.6g} J of electricity for "
                             f"{heat[k]:.6g} J of heat; the model needs {need[k]:.6g} J")
        self.totals["heat"] += float(heat.sum())
        self.totals["electricity"] += float(el.sum())
        cop = np.divide(heat, el, out=np.zeros_like(heat), where=el > 0)
        return SettleResult(metrics={"p_th": heat / window.dt, "p_el": el / window.dt,
                                     "cop": cop, "t_flow": t_flow})

    def state(self) -> dict[str, Any]:
        el = self.totals["electricity"]
        return {"energy_heat": self.totals["heat"], "energy_electricity": el,
                "scop": self.totals["heat"] / el if el > 0 else None}
