"""Weather device: irradiance and air conditions from a weather file (pvlib.iotools, CSV)."""

from __future__ import annotations

from typing import Any

from homesim.devices.kinds.base import DeviceShell, KindReport, Window
from homesim.devices.models.weather import CsvWeather, apply_cloud_cover, read_weather


class WeatherShell(DeviceShell):
    """Publishes ghi, dni, dhi [W/m^2], temp_air [°C], wind_speed [m/s] for every tick.

    Live property ``cloud_cover`` [0–1] attenuates the file's irradiance.
    """

    kind = "weather"
    _file: Any = object()

    def setup(self) -> None:
        p = self.props
        key = (p.file, p.format, p.csv.model_dump_json() if p.csv else None)
        if key != self._file:
            self.data = read_weather(p.file, p.format, CsvWeather.from_mapping(
                p.csv.model_dump() if p.csv else None))
            self._file = key

    def report(self, window: Window, inputs: dict[str, KindReport]) -> KindReport:
        s = self.data.sample(window.start, window.dt, window.tick0, window.n)
        ghi, dni, dhi = apply_cloud_cover(s["ghi"], s["dni"], s["dhi"], self.props.cloud_cover)
        return self.Report(ghi=ghi, dni=dni, dhi=dhi, temp_air=s["temp_air"],
                           wind_speed=s["wind_speed"])

    def state(self) -> dict[str, Any]:
        return {"station": self.data.name, "latitude": self.data.latitude,
                "longitude": self.data.longitude, "cloud_cover": self.props.cloud_cover}
