"""Sun device: solar position for the home's location (pvlib); the unbounded solar source."""

from __future__ import annotations

from typing import Any

from homesim.devices.context import home_context
from homesim.devices.kinds.base import DeviceShell, KindReport, Window
from homesim.devices.kinds.cache import chunked
from homesim.devices.models.sun import solar_position, tick_midpoints


class SunShell(DeviceShell):
    """Publishes apparent_zenith, zenith, azimuth [deg] and dni_extra [W/m^2] at tick midpoints."""

    kind = "sun"

    def setup(self) -> None:
        self.ctx = home_context(self.home)

    def report(self, window: Window, inputs: dict[str, KindReport]) -> KindReport:
        # the same place, start and dt give the same positions in every run: cached on disk
        lat, lon, alt = self.ctx.latitude, self.ctx.longitude, self.ctx.altitude
        start, dt = window.start, window.dt
        pos = chunked(
            "solar_position", {"latitude": lat, "longitude": lon, "altitude": alt,
                               "start": start, "dt": dt},
            window.tick0, window.n, dt,
            lambda c0, m: solar_position(tick_midpoints(start, dt, c0, m), lat, lon, alt),
            versions=("pvlib", "pandas", "numpy"), model=solar_position.__module__)
        self._last = {k: float(v[-1]) for k, v in pos.items()}
        return self.Report(**pos)

    def state(self) -> dict[str, Any]:
        return {"latitude": self.ctx.latitude, "longitude": self.ctx.longitude,
                **getattr(self, "_last", {})}
