"""PV array device: one per array; pvlib's model chain with PVWatts or a CEC module."""

from __future__ import annotations

from typing import Any

import numpy as np

from homesim.devices.context import home_context
from homesim.devices.kinds.base import (
    DeviceShell,
    Flow,
    FlowKey,
    KindReport,
    SettleResult,
    Window,
)
from homesim.devices.models.pv import CECArray, PVWattsArray, pv_dc
from homesim.schemas.generated.kinds import SunReport, WeatherReport


class PvShell(DeviceShell):
    """Reports the DC energy it can deliver each tick [J]; publishes the solar packets it absorbs.

    Losses = incident solar − DC delivered (optics, conversion, temperature, system losses,
    curtailment). Curtailed DC is reported as a metric.
    """

    kind = "pv"
    persist = ("energy_dc",)  # DC delivered so far [J] (dump_state/load_state)

    def setup(self) -> None:
        p = self.props
        chain: dict[str, Any] = {
            "surface_tilt": p.surface_tilt, "surface_azimuth": p.surface_azimuth,
            "transposition": p.transposition, "albedo": p.albedo,
            "temperature_model": p.temperature_model, "losses_percent": p.losses_percent,
            "aoi_model": p.aoi_model,
            "iam_parameters": p.iam_parameters.model_dump() if p.iam_parameters else {},
            "spectral_model": p.spectral_model, "module_type": p.module_type,
            "precipitable_water": p.precipitable_water, "sandia_module": p.sandia_module,
            "temperature_parameters": (p.temperature_parameters.model_dump()
                                       if p.temperature_parameters else {}),
            "pvwatts_losses": p.pvwatts_losses.model_dump() if p.pvwatts_losses else None,
            "horizon": tuple((h.azimuth, h.elevation) for h in p.horizon),
        }
        self.array: CECArray | PVWattsArray
        if p.model == "cec":
            self.array = CECArray(module=p.module, modules_per_string=p.modules_per_string,
                                  strings_per_inverter=p.strings, **chain)
        else:
            self.array = PVWattsArray(pdc0=p.pdc0, gamma_pdc=p.gamma_pdc,
                                      module_efficiency=p.module_efficiency, **chain)
        self.altitude = home_context(self.home).altitude
        self.weather = self.device_of("weather")
        self.sun = self.device_of("sun")
        # where the DC goes: its PV inverter, else the hybrid inverter's DC bus
        self.inverter = p.inverter or self.device_of("inverter")
        self._win: dict[int, dict[str, np.ndarray]] = {}
        if not hasattr(self, "energy_dc"):  # setup runs again after a live set
            self.energy_dc = 0.0

    def report(self, window: Window, inputs: dict[str, Any]) -> KindReport:
        w: WeatherReport = inputs[self.weather]
        s: SunReport = inputs[self.sun]
        out = pv_dc(self.array, w.ghi, w.dni, w.dhi, w.temp_air, w.wind_speed,
                    s.apparent_zenith, s.azimuth, s.dni_extra, window.dt, self.altitude)
        self._win = {window.window: out}
        v_dc = out.get("v_dc")
        return self.Report(dc=out["dc"], solar=out["solar"],
                           v_dc=v_dc if v_dc is not None else np.full(window.n, np.nan))

    def own_flows(self, window: Window) -> list[Flow]:
        return [Flow(self.sun, self.name, "solar", self._win[window.window]["solar"])]

    def settle(self, window: Window, flows: dict[FlowKey, np.ndarray]) -> SettleResult:
        out = self._win[window.window]
        used = flows.get((self.name, self.inverter, "electricity"), np.zeros(window.n))
        over = used - out["dc"]
        if np.any(over > 1e-6 * np.maximum(out["dc"], 1.0)):
            raise ValueError(f"inverter took more DC than available (by {over.max():.3g} J)")
        self.energy_dc += float(used.sum())
        return SettleResult(losses=out["solar"] - used,
                            metrics={"curtailed": np.maximum(out["dc"] - used, 0.0)})

    def state(self) -> dict[str, Any]:
        return {"energy_dc": self.energy_dc}
