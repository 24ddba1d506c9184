"""Heat pump device: hplib performance with a weather-compensated supply temperature."""

from __future__ import annotations

from typing import Any

import numpy as np

from homesim.devices.kinds.base import DeviceShell, FlowKey, KindReport, SettleResult, Window
from homesim.devices.models.heatpump import HeatPumpModel, Performance, heating_curve
from homesim.schemas.generated.kinds import WeatherReport
from homesim.schemas.generated.messages import HeatingCurve

HEAT = "heat"
#: the hot-water flow temperature above the tanks' set point by default [K]
DHW_FLOW_MARGIN = 5.0
#: relative tolerance of the electricity check (the heat node and the heat pump compute the
#: same expression; this only absorbs rounding)
_REL_TOL = 1e-6


class HeatPumpShell(DeviceShell):
    """Reports its full-load heat output and COP per tick (hplib, source = outdoor air for
    air/water) at two flow temperatures: its heating curve's, and the buffer's charging
    temperature (``t_flow_buffer``, default the buffer's ``t_max``; never below the curve),
    with its EN 14825 part-load parameters, and (a third) at the hot-water charging
    temperature ``t_flow_dhw`` (default the highest ``t_set`` of the tanks the heat node
    heats + 5 K; never below the curve). The heat node decides how much heat it makes and
    at which temperature; the heat pump then receives the electricity from the
    inverter and the source heat from ``ambient``, and checks the electricity against its own
    model at one of the two temperatures (a mismatch fails the window: no joule is dropped
    silently)."""

    kind = "heat_pump"
    persist = ("totals",)
    totals: dict[str, float]  # heat and electricity so far [J]

    def setup(self) -> None:
        p = self.props
        self.hp = HeatPumpModel(p.model, group_id=p.group_id, p_th_ref=p.p_th_ref,
                                t_cutoff=p.t_cutoff, modulation_min=p.modulation_min,
                                cd=p.cd, heating_rod=p.heating_rod)
        self.curve = p.heating_curve or HeatingCurve()
        self.weather = self.device_of("weather")
        self.node = self.device_of("heat_node")
        self.inverter = self.device_of("inverter")
        buffer = self.device_of("buffer")
        t_buf = p.t_flow_buffer
        if t_buf is None and buffer is not None:
            t_buf = float(self.home.spec.device(buffer).properties.t_max)
        self.t_buffer: float | None = None if t_buf is None else float(t_buf)
        t_dhw = p.t_flow_dhw
        if t_dhw is None:
            sets = [float(d.properties.t_set) for d in self.home.spec.enabled()
                    if d.kind == "dhw_tank" and d.properties.heated_by == "heat_node"]
            t_dhw = max(sets) + DHW_FLOW_MARGIN if sets else None
        self.t_dhw: float | None = None if t_dhw is None else float(t_dhw)
        self._win: dict[int, list[tuple[Performance, np.ndarray]]] = {}
        if not hasattr(self, "totals"):
            self.totals = {"heat": 0.0, "electricity": 0.0, "rod": 0.0}

    def report(self, window: Window, inputs: dict[str, Any]) -> KindReport:
        weather: WeatherReport = inputs[self.weather]
        temp_air = weather.temp_air
        c = self.curve
        t_flow = heating_curve(temp_air, t_flow_design=c.t_flow_design,
                               temp_air_design=c.temp_air_design, exponent=c.exponent,
                               t_flow_min=c.t_flow_min)
        perf = self.hp.performance(temp_air, t_flow)
        modes = [(perf, t_flow)]
        for t_set in (self.t_buffer, self.t_dhw):
            if t_set is None:
                modes.append((perf, t_flow))
            else:  # one flow temperature per tick: never below what the heating circuit needs
                t_hot = np.maximum(t_flow, t_set)
                modes.append((self.hp.performance(temp_air, t_hot), t_hot))
        self._win = {window.window: modes}
        (perf_buf, t_buf), (perf_dhw, t_dhw) = modes[1], modes[2]
        rod = perf.rod if perf.rod is not None else np.zeros(window.n, dtype=bool)
        return self.Report(p_th_max=perf.p_th_max, cop=perf.cop, t_flow=t_flow,
                           p_th_max_buffer=perf_buf.p_th_max, cop_buffer=perf_buf.cop,
                           t_flow_buffer=t_buf, rod=rod.astype(float),
                           p_th_max_dhw=perf_dhw.p_th_max, cop_dhw=perf_dhw.cop,
                           t_flow_dhw=t_dhw,
                           modulation_min=self.hp.modulation_min, cd=self.hp.cd)

    def settle(self, window: Window, flows: dict[FlowKey, np.ndarray]) -> SettleResult:
        modes = self._win[window.window]
        dt = window.dt
        zero = np.zeros(window.n)
        heat = flows.get((self.name, self.node, HEAT), zero)
        el = flows.get((self.inverter, self.name, "electricity"), zero)
        if not np.all(np.isfinite(heat)) or np.any(heat < 0):
            raise ValueError("heat: must be finite and >= 0 J")

        def model(pf: Performance) -> tuple[np.ndarray, np.ndarray]:
            """The model's electricity for ``heat`` at ``pf`` [J], and where it fits."""
            fits = heat / dt <= pf.p_th_max * (1.0 + 1e-9) + 1e-6
            x = self.hp.electric_power(np.where(fits, heat / dt, 0.0), pf) * dt
            return x, fits & (np.abs(el - x) <= _REL_TOL * np.maximum(x, 1.0))

        checks = [model(pf) for pf, _ in modes]  # heating curve, buffer, hot water
        ok_any = np.logical_or.reduce([ok for _, ok in checks])
        if not np.all(ok_any):
            k = int(np.argmax(~ok_any))
            (need, _), (need_buf, _), (need_dhw, _) = checks
            raise ValueError(f"tick {window.tick0 + k}: got {el[k]:.6g} J of electricity for "
                             f"{heat[k]:.6g} J of heat; the model needs {need[k]:.6g} J "
                             f"(or {need_buf[k]:.6g} J at the buffer's temperature, "
                             f"{need_dhw[k]:.6g} J at the hot-water temperature)")
        # which temperature explains each tick: the curve's first, then the buffer's
        which = np.where(checks[0][1], 0, np.where(checks[1][1], 1, 2))
        t_used = np.choose(which, [t for _, t in modes])
        rod_flag = np.choose(which, [_flag(pf.rod, window.n) for pf, _ in modes])
        rod = np.where(rod_flag & (heat > 0), heat, 0.0)
        self.totals["heat"] += float(heat.sum())
        self.totals["electricity"] += float(el.sum())
        self.totals["rod"] = self.totals.get("rod", 0.0) + float(rod.sum())
        cop = np.divide(heat, el, out=np.zeros_like(heat), where=el > 0)
        return SettleResult(metrics={"p_th": heat / dt, "p_el": el / dt, "cop": cop,
                                     "t_flow": t_used,
                                     "rod": rod})

    def state(self) -> dict[str, Any]:
        el = self.totals["electricity"]
        return {"energy_heat": self.totals["heat"], "energy_electricity": el,
                "energy_rod": self.totals.get("rod", 0.0),
                "scop": self.totals["heat"] / el if el > 0 else None}


def _flag(rod: np.ndarray | None, n: int) -> np.ndarray:
    return np.zeros(n, dtype=bool) if rod is None else np.asarray(rod, dtype=bool)
