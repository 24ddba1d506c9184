"""Weather files: reading TMY3 / TMY2 / EPW / PVGIS / generic CSV files and sampling them onto
ticks.

A typical meteorological year (TMY3, TMY2, EPW, PVGIS TMY) holds 8760 hourly records. TMY3,
TMY2 and EPW are in local standard time and each irradiance value is the average over the
hour *ending* at the record's time stamp; PVGIS files are in UTC and a record stamped
``HH:MM`` is taken as the hour starting at ``HH:00``. Air temperature and wind speed are
placed at the middle of their record's hour and interpolated linearly.

A typical year stands for every year: simulated time is mapped onto it by time of year, so
any start year works (the year wraps around, and 29 February of a leap year repeats
28 February). A real, possibly multi-year file (PVGIS hourly, a generic CSV) is used as it
is where it covers the simulated time; elsewhere the same time of year of one of its
complete calendar years stands in
(:class:`~homesim.devices.models._timeseries.YearTable`).

References
----------
Wilcox, S. and Marion, W. (2008). Users Manual for TMY3 Data Sets. NREL/TP-581-43156.
:doi:`10.2172/928611`

Marion, W. and Urban, K. (1995). User's Manual for TMY2s. NREL. :doi:`10.2172/87130`

Huld, T., Müller, R. and Gambardella, A. (2012). A new solar radiation database for
estimating PV performance in Europe and Africa. Solar Energy 86(6), 1803–1815 (PVGIS).
:doi:`10.1016/j.solener.2012.03.006`

Kasten, F. and Czeplak, G. (1980). Solar and terrestrial radiation dependent on the amount
and type of cloud. Solar Energy 24(2), 177–189. :doi:`10.1016/0038-092X(80)90391-6`
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._timeseries import UncoveredError, YearTable

if TYPE_CHECKING:  # pandas is imported lazily, with pvlib (reading a file needs both)
    import pandas as pd

__all__ = [
    "CsvWeather",
    "FORMATS",
    "WeatherData",
    "WeatherFileError",
    "apply_cloud_cover",
    "default_weather_path",
    "detect_format",
    "read_weather",
]

_HOURS = 8760
_TYPICAL_YEAR = 2001  # the (common) calendar year a typical year is laid on
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
#: Weather file formats (``auto`` detects by extension and content).
FORMATS = ("auto", "tmy3", "tmy2", "epw", "pvgis_tmy", "pvgis_hourly", "csv")
#: Units of generic CSV columns → (kind, factor to the SI unit, offset): irradiance as a mean
#: power [W/m^2] or as energy per row [J/m^2]; temperature [°C]; wind speed [m/s].
IRRADIANCE_UNITS = {"W/m2": ("power", 1.0), "kW/m2": ("power", 1e3),
                    "Wh/m2": ("energy", 3600.0), "kWh/m2": ("energy", 3.6e6),
                    "J/m2": ("energy", 1.0), "kJ/m2": ("energy", 1e3), "MJ/m2": ("energy", 1e6)}
TEMPERATURE_UNITS = ("degC", "K", "degF")
WIND_UNITS = {"m/s": 1.0, "km/h": 1.0 / 3.6, "mph": 0.44704, "kn": 1852.0 / 3600.0}
#: Wind speed when a CSV has no wind column [m/s] (pvlib's default of pvsyst_cell and faiman).
DEFAULT_WIND = 1.0


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


@dataclass(frozen=True)
class CsvWeather:
    """Layout of a generic weather CSV (see :mod:`homesim.devices.models.csvseries`).

    Attributes
    ----------
    time_column : str, default 'time'
        Name of the time column.
    columns : mapping, optional
        ``ghi``, ``dni``, ``dhi``, ``temp_air``, ``wind_speed`` → the file's column names
        (default: these names); ``wind_speed`` may be None (1 m/s, :data:`DEFAULT_WIND`).
    irradiance_unit : str, default 'W/m2'
        One of :data:`IRRADIANCE_UNITS`: a mean over the row's interval or an energy per row.
    temperature_unit : {'degC', 'K', 'degF'}, default 'degC'
    wind_unit : {'m/s', 'km/h', 'mph', 'kn'}, default 'm/s'
    label : {'start', 'end'}, default 'end'
        Whether a row's time starts or ends its interval (Open-Meteo and TMY files: end).
    timezone : str, default 'UTC'
        Zone of naive times; its standard time lays the calendar years.
    time_format : str, optional
        Format of the times (default ISO 8601).
    """

    time_column: str = "time"
    columns: Mapping[str, str | None] = field(default_factory=dict)
    irradiance_unit: str = "W/m2"
    temperature_unit: str = "degC"
    wind_unit: str = "m/s"
    label: str = "end"
    timezone: str = "UTC"
    time_format: str | None = None

    def column(self, var: str) -> str | None:
        """The file's column of variable ``var`` (None: the file has none)."""
        return self.columns[var] if var in self.columns else var

    @classmethod
    def from_mapping(cls, d: Mapping[str, Any] | None) -> CsvWeather | None:
        """From the ``csv`` properties of a weather device (None stays None)."""
        if d is None:
            return None
        kwargs: dict[str, Any] = {k: (dict(v) if k == "columns" and v is not None else v)
                                  for k, v in d.items() if v is not None or k == "time_format"}
        return cls(**kwargs)


def detect_format(path: str) -> str:
    """The format of a weather file: by extension (``.tm2``, ``.epw``, ``.json``) and content
    (a PVGIS header, a TMY3 station line); any other CSV is ``csv``.

    Raises
    ------
    WeatherFileError
        If the file cannot be opened or its format is not recognised.
    """
    ext = os.path.splitext(path)[1].lower()
    if ext == ".tm2":
        return "tmy2"
    if ext == ".epw":
        return "epw"
    try:
        if ext == ".json":
            with open(path, encoding="utf-8") as fh:
                outputs = json.load(fh).get("outputs", {})
            if "tmy_hourly" in outputs:
                return "pvgis_tmy"
            if "hourly" in outputs:
                return "pvgis_hourly"
            raise WeatherFileError(f"{path}: a JSON weather file must be a PVGIS TMY or "
                                   "hourly file")
        with open(path, encoding="utf-8", errors="replace") as fh:
            head = [fh.readline() for _ in range(40)]
    except (OSError, ValueError, AttributeError) as exc:
        raise WeatherFileError(f"{path}: cannot read: {exc}") from None
    first = head[0]
    if first.upper().startswith("LOCATION,"):
        return "epw"
    if first.startswith("Latitude (decimal degrees)"):
        if any(h.startswith(("month,year", "time(UTC)")) for h in head):
            return "pvgis_tmy"
        return "pvgis_hourly"
    if first[:5].strip().isdigit() and ext != ".csv" and first.count(",") < 6:
        return "tmy2"
    fields = first.split(",")
    if len(fields) >= 7 and fields[0].strip().isdigit():
        return "tmy3"
    if ext in (".csv", ".txt", ""):
        return "csv"
    raise WeatherFileError(
        f"{path}: unknown weather file format (TMY3 .csv, TMY2 .tm2, EPW .epw, PVGIS .csv / "
        ".json, or a CSV with format: csv)")


def _check_ranges(p: str, var: str, v: np.ndarray, where: Any) -> None:
    lo, hi = _RANGES[var]
    bad = ~np.isfinite(v) | (v < lo) | (v > hi)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise WeatherFileError(f"{p}: {var} = {v[i]} at {where(i)} is missing or outside "
                               f"[{lo}, {hi}]")


def _read_typical(path: str, fmt: str) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, Any]]:
    """TMY3 / TMY2 / EPW with pvlib.iotools: (data in pvlib names, hour-ending hour of year,
    meta)."""
    import pandas as pd
    from pvlib import iotools

    if fmt == "tmy3":
        data, meta = iotools.read_tmy3(path, map_variables=True)
        date = pd.to_datetime(data["Date (MM/DD/YYYY)"], format="%m/%d/%Y")
        month, day = date.dt.month.to_numpy(), date.dt.day.to_numpy()
        hour = data["Time (HH:MM)"].str.split(":").str[0].astype(int).to_numpy()
        name = str(meta.get("Name", "")).strip().strip('"')
    elif fmt == "tmy2":
        raw, meta = iotools.read_tmy2(path)
        # TMY2 keeps the file's units: tenths of °C and tenths of m/s.
        data = pd.DataFrame({
            "ghi": raw["GHI"].to_numpy(float), "dni": raw["DNI"].to_numpy(float),
            "dhi": raw["DHI"].to_numpy(float),
            "temp_air": raw["DryBulb"].to_numpy(float) / 10.0,
            "wind_speed": raw["Wspd"].to_numpy(float) / 10.0})
        month, day = raw["month"].to_numpy(int), raw["day"].to_numpy(int)
        hour = raw["hour"].to_numpy(int)
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
    for var in _VARIABLES:
        if var not in data:
            raise WeatherFileError(f"{path}: column {var!r} missing")
    cols = {var: data[var].to_numpy(dtype=float)[keep] for var in _VARIABLES}
    return cols, hour_end, {"name": name, **meta}


def _pvgis_slope(meta: Mapping[str, Any]) -> float | None:
    inputs = meta.get("inputs", {})
    for key in ("Slope", "slope"):
        if key in inputs and isinstance(inputs[key], str):
            try:
                return float(inputs[key].split()[0])
            except (ValueError, IndexError):
                return None
    try:
        return float(inputs["mounting_system"]["fixed"]["slope"]["value"])
    except (KeyError, TypeError, ValueError):
        return None


def _pvgis(path: str, fmt: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A PVGIS file with pvlib.iotools, as (data in pvlib names at hour starts [UTC], meta)."""
    from pvlib import iotools

    if fmt == "pvgis_tmy":
        data, meta = iotools.read_pvgis_tmy(path, map_variables=True)
    else:
        data, meta = iotools.read_pvgis_hourly(path, map_variables=True)
        if not {"ghi", "dni", "dhi"} <= set(data.columns):
            need = {"poa_direct", "poa_sky_diffuse", "solar_elevation"}
            if not need <= set(data.columns):
                raise WeatherFileError(
                    f"{path}: a PVGIS hourly file needs the irradiance components (Gb(i), "
                    "Gd(i)) and the sun height H_sun (components=1)")
            slope = _pvgis_slope(meta)
            if slope is not None and slope != 0.0:
                raise WeatherFileError(f"{path}: PVGIS hourly data on a {slope:g}° slope; the "
                                       "weather needs a horizontal plane (angle 0)")
            beam = data["poa_direct"].to_numpy(float)
            diffuse = data["poa_sky_diffuse"].to_numpy(float)
            ground = (data["poa_ground_diffuse"].to_numpy(float)
                      if "poa_ground_diffuse" in data else 0.0)
            sin_h = np.sin(np.radians(data["solar_elevation"].to_numpy(float)))
            up = sin_h > np.sin(np.radians(2.0))  # beam below 2° elevation counts as diffuse
            data = data.assign(
                ghi=beam + diffuse + ground,
                dni=np.where(up, beam / np.where(up, sin_h, 1.0), 0.0),
                dhi=diffuse + ground + np.where(up, 0.0, beam))
    idx = data.index
    if idx.tz is None:
        idx = idx.tz_localize("UTC")
    data.index = idx.tz_convert("UTC").floor("h")  # HH:MM stamps -> the hour starting HH:00
    for var in ("ghi", "dni", "dhi", "temp_air"):
        if var not in data:
            raise WeatherFileError(f"{path}: column {var!r} missing")
    if "wind_speed" not in data:
        data["wind_speed"] = DEFAULT_WIND
    return data, meta


def _epoch_seconds(idx: pd.DatetimeIndex) -> np.ndarray:
    import pandas as pd

    return ((idx - pd.Timestamp(0, tz="UTC")) // pd.Timedelta("1s")).to_numpy(dtype="int64")


def _read_csv(path: str, opts: CsvWeather) -> tuple[dict[str, np.ndarray], Any]:
    """A generic CSV: (SI columns, records)."""
    from .csvseries import read_regular_csv

    if opts.irradiance_unit not in IRRADIANCE_UNITS:
        raise WeatherFileError(f"irradiance_unit: one of {', '.join(IRRADIANCE_UNITS)}, not "
                               f"{opts.irradiance_unit!r}")
    names = {var: opts.column(var) for var in _VARIABLES}
    missing = [var for var in ("ghi", "dni", "dhi", "temp_air") if names[var] is None]
    if missing:
        raise WeatherFileError(f"columns: {', '.join(missing)} cannot be left out")
    wanted = [c for c in names.values() if c is not None]
    try:
        rec = read_regular_csv(path, opts.time_column, wanted, opts.timezone, opts.label,
                               opts.time_format)
    except ValueError as exc:
        raise WeatherFileError(str(exc)) from None
    kind, factor = IRRADIANCE_UNITS[opts.irradiance_unit]
    to_si = factor if kind == "power" else factor / rec.step
    cols: dict[str, np.ndarray] = {}
    for var in ("ghi", "dni", "dhi"):
        cols[var] = rec.values[str(names[var])] * to_si
    t = rec.values[str(names["temp_air"])]
    cols["temp_air"] = {"degC": t, "K": t - 273.15, "degF": (t - 32.0) / 1.8}[
        opts.temperature_unit]
    w = names["wind_speed"]
    cols["wind_speed"] = (rec.values[w] * WIND_UNITS[opts.wind_unit] if w is not None
                          else np.full(len(rec.starts), DEFAULT_WIND))
    return cols, rec


def read_weather(path: str | os.PathLike[str] | None = None, format: str = "auto",  # noqa: A002
                 csv: CsvWeather | None = None) -> WeatherData:
    """Read a weather file.

    Parameters
    ----------
    path : str or path-like, optional
        The file. Default: pvlib's bundled TMY3 for Greensboro NC
        (``pvlib/data/723170TYA.CSV``).
    format : str, default 'auto'
        One of :data:`FORMATS`; ``auto`` uses :func:`detect_format`.
    csv : CsvWeather, optional
        Layout of a generic CSV (default :class:`CsvWeather`).

    Returns
    -------
    WeatherData

    Raises
    ------
    WeatherFileError
        If the file does not exist or cannot be parsed; if a typical year does not hold
        exactly one record for each of the 8760 hours; if a real series has gaps, repeats or
        an irregular step; or on values outside physical ranges (missing-value codes such as
        9999). The message names the row or hour.

    Notes
    -----
    Files are read with :func:`pvlib.iotools.read_tmy3` (``map_variables=True``),
    :func:`pvlib.iotools.read_tmy2`, :func:`pvlib.iotools.read_epw`,
    :func:`pvlib.iotools.read_pvgis_tmy` and :func:`pvlib.iotools.read_pvgis_hourly`
    (a horizontal plane: ``ghi = Gb(i) + Gd(i) + Gr(i)``, ``dhi = Gd(i) + Gr(i)``,
    ``dni = Gb(i) / sin(H_sun)``, the beam below 2° of sun height counted as diffuse), or
    :func:`homesim.devices.models.csvseries.read_regular_csv`. Typical-year records dated
    29 February are dropped.
    """
    p = default_weather_path() if path is None else os.fspath(path)
    if not os.path.isfile(p):
        raise WeatherFileError(f"{p}: weather file not found")
    if format not in FORMATS:
        raise WeatherFileError(f"format: one of {', '.join(FORMATS)}, not {format!r}")
    fmt = detect_format(p) if format == "auto" else format
    try:
        if fmt in ("tmy3", "tmy2", "epw"):
            return _typical(p, fmt)
        if fmt in ("pvgis_tmy", "pvgis_hourly"):
            return _from_pvgis(p, fmt)
        return _from_csv(p, csv or CsvWeather())
    except WeatherFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - pvlib and pandas raise many kinds on bad files
        what = fmt.upper() if fmt in ("tmy3", "tmy2", "epw") else fmt
        raise WeatherFileError(f"{p}: cannot read as {what}: "
                               f"{' '.join(str(exc).split())[:300]}") from None


def _typical(p: str, fmt: str) -> WeatherData:
    cols, hour_end, meta = _read_typical(p, fmt)
    if len(hour_end) != _HOURS or not np.array_equal(np.sort(hour_end), np.arange(1, 8761)):
        raise WeatherFileError(
            f"{p}: expected one record for each of the 8760 hours of a year, "
            f"got {len(hour_end)} records"
        )
    order = np.argsort(hour_end)
    arrays = {var: v[order] for var, v in cols.items()}
    for var, v in arrays.items():
        _check_ranges(p, var, v, lambda i: f"hour {i + 1} of the year")
    tz_hours = float(meta["TZ"])
    y0 = int(np.datetime64(f"{_TYPICAL_YEAR}-01-01", "s").astype("int64"))
    starts = y0 + np.arange(_HOURS, dtype="int64") * 3600
    return WeatherData(
        latitude=float(meta["latitude"]), longitude=float(meta["longitude"]),
        altitude=float(meta["altitude"]), tz=_tz_name(tz_hours), utc_offset=tz_hours,
        name=meta["name"] or Path(p).stem, records=arrays,
        tables={var: YearTable(3600, starts, v, offset=tz_hours * 3600.0)
                for var, v in arrays.items()},
        format=fmt, step=3600, typical=True)


def _from_pvgis(p: str, fmt: str) -> WeatherData:
    import pandas as pd

    data, meta = _pvgis(p, fmt)
    inputs = meta.get("inputs", {})
    loc = inputs.get("location", inputs)
    secs = _epoch_seconds(pd.DatetimeIndex(data.index))
    if fmt == "pvgis_tmy":  # months of several years: lay them on one common year
        idx = pd.DatetimeIndex(data.index)
        keep = ~((idx.month == 2) & (idx.day == 29))
        data = data.loc[keep]
        idx = idx[keep]
        coerced = pd.DatetimeIndex([t.replace(year=_TYPICAL_YEAR) for t in idx])
        secs = _epoch_seconds(coerced)
        order = np.argsort(secs, kind="stable")
        secs = secs[order]
        data = data.iloc[order]
        if len(secs) != _HOURS or np.unique(secs).size != _HOURS:
            raise WeatherFileError(f"{p}: expected one record for each of the 8760 hours of "
                                   f"a year, got {len(secs)} records")
    else:
        from .csvseries import _regular

        try:
            _regular(secs, p)
        except ValueError as exc:
            raise WeatherFileError(str(exc)) from None
    arrays = {var: data[var].to_numpy(dtype=float) for var in _VARIABLES}
    for var, v in arrays.items():
        _check_ranges(p, var, v, lambda i: f"{np.datetime64(int(secs[i]), 's')} UTC")
    return WeatherData(
        latitude=float(loc["latitude"]), longitude=float(loc["longitude"]),
        altitude=float(loc.get("elevation", 0.0)), tz="UTC", utc_offset=0.0,
        name=f"PVGIS {float(loc['latitude']):.3f}, {float(loc['longitude']):.3f}",
        records=arrays,
        tables={var: YearTable(3600, secs, v, offset=0.0) for var, v in arrays.items()},
        format=fmt, step=3600, typical=fmt == "pvgis_tmy")


def _from_csv(p: str, opts: CsvWeather) -> WeatherData:
    cols, rec = _read_csv(p, opts)
    for var, v in cols.items():
        _check_ranges(p, var, v, lambda i: f"data row {i + 1}")
    tables = {var: YearTable(rec.step, rec.starts + rec.offset, v, offset=float(rec.offset))
              for var, v in cols.items()}
    hours = rec.offset / 3600.0
    return WeatherData(latitude=None, longitude=None, altitude=None, tz=_tz_name(hours),
                       utc_offset=hours, name=Path(p).stem, records=cols, tables=tables,
                       format="csv", step=rec.step, typical=False)


@dataclass(frozen=True, eq=False)
class WeatherData:
    """Weather records ready to be sampled onto ticks.

    Attributes
    ----------
    latitude, longitude : float or None
        Site, north and east positive [deg]; None when the file has no location (CSV).
    altitude : float or None
        Site altitude above sea level [m].
    tz : str
        Fixed-offset time zone of the file, e.g. ``'Etc/GMT+5'`` for UTC−5.
    utc_offset : float
        The file's (standard) time minus UTC [h].
    name : str
        Station name (or the file's name).
    records : dict of numpy.ndarray
        ``ghi``, ``dni``, ``dhi`` [W/m^2] (interval means), ``temp_air`` [°C],
        ``wind_speed`` [m/s], in record order (a typical year: hour ``i + 1`` of the year).
    tables : dict of YearTable
        The same records laid on calendar years (what :meth:`sample` reads).
    format : str
        The file's format (:data:`FORMATS`).
    step : int
        Record interval [s].
    typical : bool
        A typical year (it stands for every year).
    """

    latitude: float | None
    longitude: float | None
    altitude: float | None
    tz: str
    utc_offset: float
    name: str
    records: dict[str, np.ndarray] = field(repr=False)
    tables: dict[str, YearTable] = field(repr=False)
    format: str = "tmy3"
    step: int = 3600
    typical: bool = True

    def __post_init__(self) -> None:
        for v in self.records.values():
            v.setflags(write=False)

    @property
    def ghi(self) -> np.ndarray:
        """Global horizontal irradiance of each record [W/m^2]."""
        return self.records["ghi"]

    @property
    def dni(self) -> np.ndarray:
        """Direct normal irradiance of each record [W/m^2]."""
        return self.records["dni"]

    @property
    def dhi(self) -> np.ndarray:
        """Diffuse horizontal irradiance of each record [W/m^2]."""
        return self.records["dhi"]

    @property
    def temp_air(self) -> np.ndarray:
        """Air temperature of each record [°C]."""
        return self.records["temp_air"]

    @property
    def wind_speed(self) -> np.ndarray:
        """Wind speed at 10 m of each record [m/s]."""
        return self.records["wind_speed"]

    @property
    def complete_years(self) -> tuple[int, ...]:
        """Calendar years the records cover completely (a typical year: its stand-in year)."""
        return self.tables["ghi"].complete

    def covers(self, start: float, end: float) -> None:
        """Check that ``[start, end)`` (UTC seconds) can be sampled.

        Raises
        ------
        WeatherFileError
            Naming the first time no record covers (only possible without a complete year).
        """
        try:
            self.tables["ghi"].integral(np.array([start]), np.array([end]))
        except UncoveredError as exc:
            raise WeatherFileError(f"the weather file does not cover the simulation: {exc}"
                                   ) from None

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
            average of the step series, so energy is conserved for any ``dt``);
            ``temp_air`` [°C] and ``wind_speed`` [m/s]: linear interpolation at each tick
            midpoint between values placed at record midpoints.

        Raises
        ------
        ValueError
            If ``dt <= 0``, ``tick0 < 0`` or ``n < 0``, or (:class:`WeatherFileError`) a tick
            is covered neither by the records nor by a complete year of them.

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
        a = start + k * dt
        b = start + (k + 1.0) * dt
        mid = start + (k + 0.5) * dt
        try:
            out = {var: self.tables[var].mean(a, b) for var in ("ghi", "dni", "dhi")}
            for var in ("temp_air", "wind_speed"):
                out[var] = self.tables[var].interp_midpoints(mid)
        except UncoveredError as exc:
            raise WeatherFileError(f"weather file {self.name}: {exc}") from None
        return out


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
