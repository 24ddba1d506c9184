"""Make the sample weather files of this folder from pvlib's bundled Greensboro NC TMY3.

    python examples/weather/make_samples.py

Nothing is downloaded: every file is pvlib's ``pvlib/data/723170TYA.CSV`` (NREL's TMY3, a
work of the US Government, redistributed with pvlib under its BSD-3-Clause licence) laid out
as another provider lays out its files:

* ``greensboro-pvgis-tmy.csv``: a PVGIS TMY CSV (UTC, hour starts, each month from its TMY3
  source year), readable by ``pvlib.iotools.read_pvgis_tmy``;
* ``greensboro-pvgis-hourly-2023.csv``: a PVGIS hourly CSV for 2023 (horizontal plane:
  ``Gb(i)`` = DNI·sin(H_sun), ``Gd(i)`` = DHI, ``H_sun`` from pvlib's solar position at the
  HH:10 stamps), readable by ``pvlib.iotools.read_pvgis_hourly``;
* ``greensboro-open-meteo-2024.csv``: an Open-Meteo-style CSV for 2024 (GMT, each row's
  irradiance the mean of the hour ending at its time, so the rows run from 01:00 to the next
  1 January 00:00; temperature in °C, wind in km/h, the location block above the header;
  29 February repeats 28 February).

The values are the typical year's, not measurements of 2023 or 2024.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pvlib

HERE = Path(__file__).resolve().parent
LAT, LON, ELEV = 36.1, -79.95, 273.0


def _tmy3() -> pd.DataFrame:
    path = Path(pvlib.__file__).parent / "data" / "723170TYA.CSV"
    data, _ = pvlib.iotools.read_tmy3(path, map_variables=True)
    return data.reset_index(drop=True)  # hour i ends at local standard hour i + 1 (UTC-5)


def _utc_hours(tmy: pd.DataFrame, starts: pd.DatetimeIndex) -> pd.DataFrame:
    """The typical-year record of each UTC hour starting at ``starts`` (by time of year in
    local standard time; 29 February repeats 28 February)."""
    local = starts.tz_convert("Etc/GMT+5")
    doy = local.dayofyear.to_numpy() - 1
    leap = local.is_leap_year
    after = leap & (local.month > 2)
    doy = np.where(after, doy - 1, doy)  # 1 March of a leap year is the file's 1 March
    doy = np.where(leap & (local.month == 2) & (local.day == 29), 58, doy)
    return tmy.iloc[doy * 24 + local.hour.to_numpy()].reset_index(drop=True)


def pvgis_tmy() -> None:
    tmy = _tmy3()
    rows = np.roll(np.arange(8760), 5)  # UTC hour h of the year = local hour h - 5
    rec = tmy.iloc[rows].reset_index(drop=True)
    years = tmy["Date (MM/DD/YYYY)"].str[-4:].astype(int).to_numpy()
    t = pd.date_range("2001-01-01", periods=8760, freq="h", tz="UTC")
    month_year = {m: int(years[np.flatnonzero(pd.date_range("2001-01-01", periods=8760,
                                                            freq="h").month == m)[0]])
                  for m in range(1, 13)}
    lines = [f"Latitude (decimal degrees): {LAT:.3f}", f"Longitude (decimal degrees): {LON:.3f}",
             f"Elevation (m): {ELEV:.1f}", "month,year"]
    lines += [f"{m},{y}" for m, y in month_year.items()]
    lines.append("time(UTC),T2m,RH,G(h),Gb(n),Gd(h),IR(h),WS10m,WD10m,SP")
    for i in range(8760):
        ts = t[i].replace(year=month_year[t[i].month])
        r = rec.iloc[i]
        lines.append(f"{ts:%Y%m%d:%H%M},{r.temp_air:.1f},{r.relative_humidity:.0f},{r.ghi:.0f},"
                     f"{r.dni:.0f},{r.dhi:.0f},0,{r.wind_speed:.1f},{r.wind_direction:.0f},"
                     f"{r.pressure * 100:.0f}")
    lines += ["", "T2m: 2-m air temperature (degree Celsius)",
              "RH: relative humidity (%)", "G(h): Global irradiance on the horizontal plane (W/m2)",
              "Gb(n): Beam/direct irradiance on a plane always normal to sun rays (W/m2)",
              "Gd(h): Diffuse irradiance on the horizontal plane (W/m2)",
              "IR(h): Surface infrared (thermal) irradiance on a horizontal plane (W/m2)",
              "WS10m: 10-m total wind speed (m/s)",
              "WD10m: 10-m wind direction (0 = N, 90 = E) (degree)",
              "SP: Surface (air) pressure (Pa)", "",
              "Made from pvlib's bundled Greensboro NC TMY3 (examples/weather/make_samples.py)."]
    (HERE / "greensboro-pvgis-tmy.csv").write_text("\r\n".join(lines) + "\r\n")


def pvgis_hourly() -> None:
    starts = pd.date_range("2023-01-01", "2023-12-31 23:00", freq="h", tz="UTC")
    rec = _utc_hours(_tmy3(), starts)
    stamps = starts + pd.Timedelta("10min")
    h_sun = 90.0 - pvlib.solarposition.get_solarposition(
        stamps, LAT, LON, altitude=ELEV)["apparent_zenith"].to_numpy()
    beam = rec["dni"].to_numpy() * np.sin(np.radians(np.maximum(h_sun, 0.0)))
    lines = [f"Latitude (decimal degrees):\t{LAT:.3f}", f"Longitude (decimal degrees):\t{LON:.3f}",
             f"Elevation (m):\t{ELEV:.0f}", "Radiation database:\tsample (TMY3 of pvlib)", "",
             "", "Slope: 0 deg. ", "Azimuth: 0 deg. ",
             "time,Gb(i),Gd(i),Gr(i),H_sun,T2m,WS10m,Int"]
    for i, ts in enumerate(stamps):
        r = rec.iloc[i]
        lines.append(f"{ts:%Y%m%d:%H%M},{beam[i]:.2f},{r.dhi:.1f},0.0,{max(h_sun[i], 0.0):.2f},"
                     f"{r.temp_air:.2f},{r.wind_speed:.2f},0.0")
    lines += ["", "Gb(i): Beam (direct) irradiance on the inclined plane (plane of the array) "
              "(W/m2)", "Gd(i): Diffuse irradiance on the inclined plane (plane of the array) "
              "(W/m2)", "Gr(i): Reflected irradiance on the inclined plane (plane of the array) "
              "(W/m2)", "H_sun: Sun height (degree)", "T2m: 2-m air temperature (degree Celsius)",
              "WS10m: 10-m total wind speed (m/s)",
              "Int: 1 means solar radiation values are reconstructed", "",
              "Made from pvlib's bundled Greensboro NC TMY3 (examples/weather/make_samples.py)."]
    (HERE / "greensboro-pvgis-hourly-2023.csv").write_text("\r\n".join(lines) + "\r\n")


def open_meteo() -> None:
    # rows 01:00 … next 1 January 00:00, so that the hours of 2024 are complete
    ends = pd.date_range("2024-01-01 01:00", "2025-01-01 00:00", freq="h", tz="UTC")
    rec = _utc_hours(_tmy3(), ends - pd.Timedelta("1h"))  # preceding-hour means
    lines = ["latitude,longitude,elevation,utc_offset_seconds,timezone,timezone_abbreviation",
             f"{LAT},{LON},{ELEV},0,GMT,GMT", "",
             "time,temperature_2m (°C),shortwave_radiation (W/m²),"
             "direct_normal_irradiance (W/m²),diffuse_radiation (W/m²),wind_speed_10m (km/h)"]
    for i, ts in enumerate(ends):
        r = rec.iloc[i]
        lines.append(f"{ts:%Y-%m-%dT%H:%M},{r.temp_air:.1f},{r.ghi:.1f},{r.dni:.1f},"
                     f"{r.dhi:.1f},{r.wind_speed * 3.6:.1f}")
    (HERE / "greensboro-open-meteo-2024.csv").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    pvgis_tmy()
    pvgis_hourly()
    open_meteo()
    for f in sorted(HERE.glob("*.csv")):
        print(f"{f.name}: {f.stat().st_size / 1024:.0f} KiB")
