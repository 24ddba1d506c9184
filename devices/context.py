"""Home-level facts every shell needs: location, time zone, start of the run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from homesim.schemas.manifest import Home

__all__ = ["HomeContext", "home_context"]


@dataclass(frozen=True)
class HomeContext:
    """Resolved location and time of a home.

    latitude, longitude [deg]; altitude [m]; tz an IANA/Etc zone name; start [s since epoch].
    """

    latitude: float
    longitude: float
    altitude: float
    tz: str
    start: float


def home_context(home: Home) -> HomeContext:
    """Resolve the home's location (falling back to the weather file's) and start time.

    A naive ``simulation.start`` is local time of the home.

    Raises
    ------
    homesim.devices.models.weather.WeatherFileError
        If the location must come from a weather file that cannot be read.
    """
    loc = home.spec.location
    if loc is None or loc.timezone is None:
        from homesim.devices.models.weather import CsvWeather, read_weather

        wdev = home.spec.first("weather")
        if wdev is None:
            data = read_weather(None)
        else:
            p = wdev.properties
            data = read_weather(p.file, p.format, CsvWeather.from_mapping(
                p.csv.model_dump() if p.csv else None))
        if loc is None and data.latitude is None:
            raise ValueError("spec.location is required: the weather file has no location")
        lat = loc.latitude if loc else data.latitude
        lon = loc.longitude if loc else data.longitude
        alt = loc.altitude if loc else data.altitude
        tz = data.tz
    else:
        lat, lon, alt, tz = loc.latitude, loc.longitude, loc.altitude, loc.timezone
    start: datetime = home.spec.simulation.start
    if start.tzinfo is None:
        from homesim.devices.models.schedule import resolve_tz

        start = start.replace(tzinfo=resolve_tz(tz))
    return HomeContext(float(lat), float(lon), float(alt), tz, start.timestamp())
