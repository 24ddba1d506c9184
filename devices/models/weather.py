"""Typical-year weather: reading TMY3 / TMY2 / EPW files and sampling them onto ticks.

A typical meteorological year (TMY) holds 8760 hourly records in local standard time. Each
irradiance value is the average over the hour *ending* at the record's time stamp; air
temperature and wind speed are spot values, which we place at the middle of that hour.

Simulated time is mapped onto the typical year by time of year in the file's local standard
time, so any start year works: the year wraps around, and 29 February of a leap year repeats
28 February.

References
----------
Wilcox, S. and Marion, W. (2008). Users Manual for TMY3 Data Sets. NREL/TP-581-43156.
:doi:`10.2172/928611`

Marion, W. and Urban, K. (1995). User's Manual for TMY2s. NREL. :doi:`10.2172/87130`

Kasten, F. and Czeplak, G. (1980). Solar and terrestrial radiation dependent on the amount
and type of cloud. Solar Energy 24(2), 177–189. :doi:`10.1016/0038-092X(80)90391-6`
"""

from __future__ import annotations

import calendar
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._timeseries import CalendarSeries

__all__ = [
    "WeatherData",
    "WeatherFileError",
    "apply_cloud_cover",
    "default_weather_path",
    "read_weather",
]

_HOURS = 8760
_FEB29_START = 59 * 24  # hour-of-year of 29 Feb 00:00 in a leap year
_VARIABLES = ("ghi", "dni", "dhi", "temp_air", "wind_speed")
# Physical plausibility ranges; outside them the file is treated as damaged (EPW and TMY
# mark missing values with 9999, 99.9, 999, …).
_RANGES = {
    "ghi": (0.0, 1500.0),
    "dni": (0.0, 1500.0),
    "dhi": (0.0, 1000.0),
    "temp_air": (-90.0, 70.0),
    "wind_speed": (0.0, 100.0),
}


class WeatherFileError(ValueError):
    """A weather file is missing, of an unknown format, or has unusable content."""


def default_weather_path() -> str:
    """Path of pvlib's bundled TMY3 file for Greensboro NC (``pvlib/data/723170TYA.CSV``)."""
    import pvlib

    return str(Path(pvlib.__file__).parent / "data" / "723170TYA.CSV")


def _tz_name(utc_offset_hours: float) -> str:
    """Time-zone string for a fixed UTC offset: ``-5 -> 'Etc/GMT+5'`` (POSIX sign)."""
    if utc_offset_hours == 0:
        return "Etc/GMT"
    if float(utc_offset_hours).is_integer() and abs(utc_offset_hours) <= 14:
        return f"Etc/GMT{-int(utc_offset_hours):+d}"
    minutes = round(abs(utc_offset_hours) * 60)
    sign = "-" if utc_offset_hours < 0 else "+"
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _detect_format(path: str) -> str:
    ext = os.path.splitext(path)[1].lower()
    if ext in (".csv", ".tmy3"):
        return "tmy3"
    if ext == ".tm2":
        return "tmy2"
    if ext == ".epw":
        return "epw"
    with open(path, encoding="utf-8", errors="replace") as f:
        first = f.readline()
    if first.upper().startswith("LOCATION,"):
        return "epw"
    if first.count(",") >= 6:
        return "tmy3"
    if first[:5].strip().isdigit():
        return "tmy2"
    raise WeatherFileError(
        f"{path}: unknown weather file format (expected TMY3 .csv, TMY2 .tm2 or EPW .epw)"
    )


def _read(path: str, fmt: str) -> tuple[pd.DataFrame, np.ndarray, dict[str, Any]]:
    """Read with pvlib.iotools; return (data in pvlib names, hour-ending hour-of-year, meta)."""
    from pvlib import iotools

    if fmt == "tmy3":
        data, meta = iotools.read_tmy3(path, map_variables=True)
        date = pd.to_datetime(data["Date (MM/DD/YYYY)"], format="%m/%d/%Y")
        month, day = date.dt.month.to_numpy(), date.dt.day.to_numpy()
        hour = data["Time (HH:MM)"].str.split(":").str[0].astype(int).to_numpy()
        name = str(meta.get("Name", "")).strip().strip('"')
    elif fmt == "tmy2":
        data, meta = iotools.read_tmy2(path)
        # TMY2 keeps the file's units: tenths of °C and tenths of m/s.
        data = pd.DataFrame(
            {
                "ghi": data["GHI"].to_numpy(float),
                "dni": data["DNI"].to_numpy(float),
                "dhi": data["DHI"].to_numpy(float),
                "temp_air": data["DryBulb"].to_numpy(float) / 10.0,
                "wind_speed": data["Wspd"].to_numpy(float) / 10.0,
                "month": data["month"].to_numpy(int),
                "day": data["day"].to_numpy(int),
                "hour": data["hour"].to_numpy(int),
            }
        )
        month, day, hour = data["month"].to_numpy(), data["day"].to_numpy(), data["hour"]
        hour = hour.to_numpy()
        name = f"{meta.get('City', '')} {meta.get('State', '')}".strip()
    else:
        data, meta = iotools.read_epw(path)
        month, day = data["month"].to_numpy(int), data["day"].to_numpy(int)
        hour = data["hour"].to_numpy(int)
        name = str(meta.get("city", "")).strip()
    # Records are labelled by the hour they end in (1..24) on (month, day).
    keep = ~((month == 2) & (day == 29))  # typical years have no leap day; drop if present
    doy = np.array(
        [pd.Timestamp(2001, m, d).dayofyear for m, d in zip(month[keep], day[keep], strict=True)]
    )
    hour_end = (doy - 1) * 24 + hour[keep]
    return data.loc[keep], hour_end, {"name": name, **meta}


def read_weather(path: str | os.PathLike[str] | None = None) -> WeatherData:
    """Read a typical-year weather file.

    Parameters
    ----------
    path : str or path-like, optional
        TMY3 (``.csv``), TMY2 (``.tm2``) or EPW (``.epw``) file; other extensions are
        recognised by content. Default: pvlib's bundled TMY3 for Greensboro NC
        (``pvlib/data/723170TYA.CSV``).

    Returns
    -------
    WeatherData

    Raises
    ------
    WeatherFileError
        If the file does not exist, cannot be parsed, does not hold exactly one record for
        each of the 8760 hours of a year, or has values outside physical ranges (missing-value
        codes such as 9999).

    Notes
    -----
    Files are read with :func:`pvlib.iotools.read_tmy3` (``map_variables=True``),
    :func:`pvlib.iotools.read_tmy2` and :func:`pvlib.iotools.read_epw`. Records dated
    29 February are dropped.
    """
    p = default_weather_path() if path is None else os.fspath(path)
    if not os.path.isfile(p):
        raise WeatherFileError(f"{p}: weather file not found")
    fmt = _detect_format(p)
    try:
        data, hour_end, meta = _read(p, fmt)
    except WeatherFileError:
        raise
    except Exception as exc:  # pvlib raises many kinds on malformed files
        raise WeatherFileError(f"{p}: cannot read as {fmt.upper()}: {exc}") from None
    if len(hour_end) != _HOURS or not np.array_equal(np.sort(hour_end), np.arange(1, 8761)):
        raise WeatherFileError(
            f"{p}: expected one record for each of the 8760 hours of a year, "
            f"got {len(hour_end)} records"
        )
    order = np.argsort(hour_end)
    arrays = {}
    for var in _VARIABLES:
        if var not in data:
            raise WeatherFileError(f"{p}: column {var!r} missing")
        v = data[var].to_numpy(dtype=float)[order]
        lo, hi = _RANGES[var]
        bad = ~np.isfinite(v) | (v < lo) | (v > hi)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise WeatherFileError(
                f"{p}: {var} = {v[i]} at hour {i + 1} of the year is missing or outside "
                f"[{lo}, {hi}]"
            )
        arrays[var] = v
    tz_hours = float(meta["TZ"])
    return WeatherData(
        latitude=float(meta["latitude"]),
        longitude=float(meta["longitude"]),
        altitude=float(meta["altitude"]),
        tz=_tz_name(tz_hours),
        utc_offset=tz_hours,
        name=meta["name"] or Path(p).stem,
        **arrays,
    )


@dataclass(frozen=True, eq=False)
class WeatherData:
    """A typical meteorological year (8760 hourly records in local standard time).

    Attributes
    ----------
    latitude : float
        Site latitude, north positive [deg].
    longitude : float
        Site longitude, east positive [deg].
    altitude : float
        Site altitude above sea level [m].
    tz : str
        Fixed-offset time zone of the file, e.g. ``'Etc/GMT+5'`` for UTC−5.
    utc_offset : float
        Local standard time minus UTC [h].
    name : str
        Station name.
    ghi, dni, dhi : numpy.ndarray
        Global horizontal, direct normal and diffuse horizontal irradiance, averages over the
        hour ending at hour ``i + 1`` of the year [W/m^2].
    temp_air : numpy.ndarray
        Dry-bulb air temperature of hour ``i`` of the year, placed at the hour midpoint [°C].
    wind_speed : numpy.ndarray
        Wind speed at 10 m, placed at the hour midpoint [m/s].
    """

    latitude: float
    longitude: float
    altitude: float
    tz: str
    utc_offset: float
    name: str
    ghi: np.ndarray = field(repr=False)
    dni: np.ndarray = field(repr=False)
    dhi: np.ndarray = field(repr=False)
    temp_air: np.ndarray = field(repr=False)
    wind_speed: np.ndarray = field(repr=False)
    _series: dict[str, CalendarSeries] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        series = {}
        for var in _VARIABLES:
            v = np.array(getattr(self, var), dtype=float)
            if v.shape != (_HOURS,):
                raise ValueError(f"{var}: expected {_HOURS} hourly values, got {v.shape}")
            v.setflags(write=False)
            object.__setattr__(self, var, v)
            series[var] = CalendarSeries(3600, _typical_year(v))
        object.__setattr__(self, "_series", series)

    def sample(self, start: float, dt: float, tick0: int, n: int) -> dict[str, np.ndarray]:
        """Weather for ticks ``tick0 … tick0 + n - 1``.

        Parameters
        ----------
        start : float
            Start of tick 0, seconds since the Unix epoch (UTC) [s].
        dt : float
            Tick length [s], > 0.
        tick0 : int
            Index of the first tick, >= 0.
        n : int
            Number of ticks, >= 0.

        Returns
        -------
        dict of numpy.ndarray
            ``ghi``, ``dni``, ``dhi``: mean irradiance over each tick [W/m^2] (the interval
            average of the hourly step series, so energy is conserved for any ``dt``);
            ``temp_air`` [°C] and ``wind_speed`` [m/s]: linear interpolation at each tick
            midpoint between values placed at hour midpoints.

        Raises
        ------
        ValueError
            If ``dt <= 0``, ``tick0 < 0`` or ``n < 0``.

        Notes
        -----
        Each tick is computed from its own bounds ``start + k*dt`` only, so sampling in one
        call or in many smaller calls gives identical numbers.
        """
        if not dt > 0:
            raise ValueError(f"dt: must be > 0 s, got {dt}")
        if tick0 < 0 or n < 0:
            raise ValueError(f"tick0 and n must be >= 0, got tick0={tick0}, n={n}")
        if n == 0:
            return {var: np.zeros(0) for var in _VARIABLES}
        k = np.arange(tick0, tick0 + n, dtype=float)
        off = self.utc_offset * 3600.0
        a = start + k * dt + off
        b = start + (k + 1.0) * dt + off
        mid = start + (k + 0.5) * dt + off
        out = {var: self._series[var].mean(a, b) for var in ("ghi", "dni", "dhi")}
        for var in ("temp_air", "wind_speed"):
            out[var] = self._series[var].interp_midpoints(mid)
        return out


def _typical_year(v: np.ndarray) -> Callable[[int], np.ndarray]:
    """Year -> hourly values: the typical year, with 29 Feb repeating 28 Feb."""
    feb28 = v[_FEB29_START - 24 : _FEB29_START]
    leap = np.concatenate((v[:_FEB29_START], feb28, v[_FEB29_START:]))

    def year_values(year: int) -> np.ndarray:
        return leap if calendar.isleap(year) else v

    return year_values


def apply_cloud_cover(
    ghi: np.ndarray, dni: np.ndarray, dhi: np.ndarray, cloud_cover: float | np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Attenuate irradiance by an extra cloud cover.

    Global horizontal irradiance follows Kasten & Czeplak (1980),
    ``ghi' = ghi * (1 - 0.75 * C**3.4)``; the beam is reduced by ``(1 - C)``
    (``dni' = dni * (1 - C)``, horizontal beam ``(ghi - dhi) * (1 - C)``) and the diffuse part
    closes the balance, ``dhi' = ghi' - (ghi - dhi) * (1 - C)``, so that
    ``ghi' = dhi' + beam_horizontal'`` holds exactly as it did in the input.

    Parameters
    ----------
    ghi, dni, dhi : array_like
        Global horizontal, direct normal and diffuse horizontal irradiance [W/m^2].
    cloud_cover : float or array_like
        Extra cloud cover fraction C [-], in ``[0, 1]``.

    Returns
    -------
    ghi, dni, dhi : numpy.ndarray
        Attenuated irradiance [W/m^2]; the inputs unchanged where ``C == 0``.

    Raises
    ------
    ValueError
        If any ``cloud_cover`` is outside ``[0, 1]`` or not finite.

    References
    ----------
    Kasten, F. and Czeplak, G. (1980). Solar and terrestrial radiation dependent on the
    amount and type of cloud. Solar Energy 24(2), 177–189.
    :doi:`10.1016/0038-092X(80)90391-6`
    """
    c = np.asarray(cloud_cover, dtype=float)
    if not np.all(np.isfinite(c)) or np.any((c < 0.0) | (c > 1.0)):
        raise ValueError(f"cloud_cover: must be in [0, 1], got {cloud_cover!r}")
    ghi = np.asarray(ghi, dtype=float)
    dni = np.asarray(dni, dtype=float)
    dhi = np.asarray(dhi, dtype=float)
    ghi_c = ghi * (1.0 - 0.75 * c**3.4)
    # Horizontal beam of the file; clip so inconsistent records (dhi > ghi) cannot create
    # negative beam.
    beam_c = np.maximum(ghi - dhi, 0.0) * (1.0 - c)
    # ghi_c - beam_c >= ghi * (C - 0.75 C^3.4) >= 0 for C in [0, 1]; max() guards rounding.
    dhi_c = np.maximum(ghi_c - beam_c, 0.0)
    clear = c == 0.0  # exactly the inputs
    return (
        np.where(clear, ghi, ghi_c),
        np.where(clear, dni, dni * (1.0 - c)),
        np.where(clear, dhi, dhi_c),
    )
