"""Sun device: solar position for the home's location (pvlib); the unbounded solar source."""

from __future__ import annotations

from typing import Any

from homesim.devices.context import home_context
from homesim.devices.kinds.base import DeviceShell, KindReport, Window
from homesim.devices.models.sun import solar_position


class SunShell(DeviceShell):
    """Publishes apparent_zenith, zenith, azimuth [deg] and dni_extra [W/m^2] at tick midpoints."""

    kind = "sun"

    def setup(self) -> None:
        self.ctx = home_context(self.home)

    def report(self, window: Window, inputs: dict[str, KindReport]) -> KindReport:
        pos = solar_position(window.midpoints, self.ctx.latitude, self.ctx.longitude,
                             self.ctx.altitude)
        self._last = {k: float(v[-1]) for k, v in pos.items()}
        return self.Report(**pos)

    def state(self) -> dict[str, Any]:
        return {"latitude": self.ctx.latitude, "longitude": self.ctx.longitude,
                **getattr(self, "_last", {})}
