"""Weather files (TMY3, TMY2, EPW, PVGIS, CSV): reading and sampling onto ticks."""

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pvlib
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from homesim.devices.models.weather import (
    CsvWeather,
    WeatherFileError,
    apply_cloud_cover,
    default_weather_path,
    detect_format,
    read_weather,
)

IRRADIANCE = ("ghi", "dni", "dhi")


@pytest.fixture(scope="module")
def weather():
    return read_weather()


def year_start(year: int) -> float:
    """1 January 00:00 local standard time (UTC-5) of the Greensboro file."""
    return pd.Timestamp(f"{year}-01-01 00:00", tz="Etc/GMT+5").timestamp()


def test_default_file_metadata(weather) -> None:
    """The bundled Greensboro TMY3 reads with its location and a UTC-5 zone."""
    assert weather.tz == "Etc/GMT+5"
    assert weather.utc_offset == -5.0
    assert (weather.latitude, weather.longitude, weather.altitude) == (36.1, -79.95, 273.0)
    assert "GREENSBORO" in weather.name
    assert weather.ghi.shape == (8760,)
    # First record: the hour ending 01:00 on 1 January (night).
    assert weather.ghi[0] == 0.0
    assert_allclose(weather.ghi.sum(), 1566203.0)  # annual sum of the file [Wh/m^2]


def test_hourly_ticks_return_file_values(weather) -> None:
    """At dt = 3600 s aligned to the hour, every variable equals the file's record."""
    s = weather.sample(year_start(1990), 3600.0, 0, 8760)
    for var in IRRADIANCE + ("temp_air", "wind_speed"):
        assert_array_equal(s[var], getattr(weather, var), err_msg=var)


@pytest.mark.parametrize("dt", [60.0, 450.0, 1234.5, 5400.0])
def test_split_into_windows_is_identical(weather, dt) -> None:
    """Sampling in one call or tick by tick gives identical numbers."""
    start = year_start(2025) + 1234.0
    n = 200
    tick0 = 3000
    whole = weather.sample(start, dt, tick0, n)
    parts = [weather.sample(start, dt, tick0 + i, 1) for i in range(n)]
    odd = [weather.sample(start, dt, tick0 + i, 7) for i in range(0, n, 7)]
    for var in whole:
        assert_array_equal(np.concatenate([p[var] for p in parts]), whole[var], err_msg=var)
        assert_array_equal(np.concatenate([p[var] for p in odd])[:n], whole[var], err_msg=var)


def test_irradiance_conserves_energy_for_any_dt(weather) -> None:
    """Tick means times dt add up to the file's annual irradiation (dt not dividing 1 h)."""
    dt = 365 * 86400 / 30000  # 1051.2 s
    s = weather.sample(year_start(2025), dt, 0, 30000)
    for var in IRRADIANCE:
        assert_allclose(s[var].sum() * dt, getattr(weather, var).sum() * 3600.0, rtol=1e-12)


def test_tick_across_hours_is_interval_average(weather) -> None:
    """A tick over 1.5 hours averages the step series with the right weights."""
    start = year_start(2025) + 12 * 3600 + 1800  # 12:30 local
    s = weather.sample(start, 5400.0, 0, 1)
    # [12:30, 14:00) covers half of hour 13 (ending 13:00) and all of hour 14.
    expected = (weather.ghi[12] * 0.5 + weather.ghi[13]) / 1.5
    assert_allclose(s["ghi"][0], expected, rtol=1e-13)


def test_temperature_interpolated_at_midpoints(weather) -> None:
    """temp_air is linear between hour midpoints."""
    start = year_start(2025) + 3600.0  # tick midpoint at 01:15 with dt = 30 min
    s = weather.sample(start, 1800.0, 0, 1)
    # Hour-midpoints 00:30 (record 0) and 01:30 (record 1); 01:15 is 3/4 of the way.
    expected = weather.temp_air[0] + 0.75 * (weather.temp_air[1] - weather.temp_air[0])
    assert_allclose(s["temp_air"][0], expected, rtol=1e-13)


def test_any_year_and_leap_day(weather) -> None:
    """Years wrap; 29 February repeats 28 February, 1 March is the file's 1 March."""
    plain = weather.sample(year_start(2023), 3600.0, 0, 8760)
    again = weather.sample(year_start(2031), 3600.0, 0, 8760)
    for var in plain:
        assert_array_equal(plain[var], again[var])
    leap = weather.sample(year_start(2024), 3600.0, 0, 8784)
    feb28 = slice(58 * 24, 59 * 24)
    feb29 = slice(59 * 24, 60 * 24)
    assert_array_equal(leap["ghi"][feb29], weather.ghi[feb28])
    assert_array_equal(leap["ghi"][60 * 24 :], weather.ghi[59 * 24 :])


def test_new_year_tick(weather) -> None:
    """A tick across New Year averages the last and first hours of the typical year."""
    start = year_start(2026) - 3600.0  # 31 Dec 23:00 local
    s = weather.sample(start, 7200.0, 0, 1)
    # Midpoint 00:00 lies halfway between the last record (23:30) and the first (00:30).
    assert_allclose(s["temp_air"][0], (weather.temp_air[-1] + weather.temp_air[0]) / 2)
    assert_allclose(s["dhi"][0], (weather.dhi[-1] + weather.dhi[0]) / 2, rtol=1e-13)


def test_tmy2_file() -> None:
    """pvlib's bundled TMY2 (Miami) reads in SI units."""
    w = read_weather(Path(default_weather_path()).with_name("12839.tm2"))
    assert w.tz == "Etc/GMT+5"
    assert 20.0 < w.temp_air.mean() < 28.0  # °C, not tenths
    assert 0.0 < w.wind_speed.mean() < 10.0  # m/s, not tenths
    assert w.ghi.max() > 900.0


def _write_epw(path: Path, weather) -> None:
    header = [
        "LOCATION,GREENSBORO,NC,USA,TMY3,723170,36.1,-79.95,-5.0,273.0",
        "DESIGN CONDITIONS,0",
        "TYPICAL/EXTREME PERIODS,0",
        "GROUND TEMPERATURES,0",
        "HOLIDAYS/DAYLIGHT SAVINGS,No,0,0,0",
        "COMMENTS 1,synthetic",
        "COMMENTS 2,synthetic",
        "DATA PERIODS,1,1,Data,Sunday, 1/ 1,12/31",
    ]
    days = pd.date_range("2001-01-01", periods=365, freq="D")
    rows = []
    for i in range(8760):
        d = days[i // 24]
        f = [1999, d.month, d.day, i % 24 + 1, 60, "?"]
        f += [weather.temp_air[i], 0, 50, 101325, 0, 0, 300]
        f += [weather.ghi[i], weather.dni[i], weather.dhi[i], 0, 0, 0, 0, 180]
        f += [weather.wind_speed[i], 5, 5, 9999, 77777, 9, 999999999, 10, 0.1, 0, 88, 0.2, 0, 1]
        rows.append(",".join(str(x) for x in f))
    path.write_text("\n".join(header + rows) + "\n")


def test_epw_file(tmp_path, weather) -> None:
    """An EPW file with the same data gives the same weather."""
    p = tmp_path / "site.epw"
    _write_epw(p, weather)
    w = read_weather(p)
    assert w.tz == "Etc/GMT+5" and w.latitude == 36.1
    for var in IRRADIANCE + ("temp_air", "wind_speed"):
        assert_array_equal(getattr(w, var), getattr(weather, var), err_msg=var)


def test_missing_and_bad_files(tmp_path, weather) -> None:
    """Missing, unreadable or damaged files raise WeatherFileError."""
    with pytest.raises(WeatherFileError, match="not found"):
        read_weather(tmp_path / "nope.csv")
    junk = tmp_path / "junk.csv"
    junk.write_text("hello\nworld\n")
    with pytest.raises(WeatherFileError):
        read_weather(junk)
    p = tmp_path / "damaged.epw"
    _write_epw(p, weather)
    text = p.read_text().splitlines()
    fields = text[100].split(",")
    fields[13] = "9999"  # missing GHI
    text[100] = ",".join(fields)
    p.write_text("\n".join(text) + "\n")
    with pytest.raises(WeatherFileError, match="ghi"):
        read_weather(p)
    assert issubclass(WeatherFileError, ValueError)


def test_cloud_cover_zero_is_identity(weather) -> None:
    """C = 0 returns the inputs exactly."""
    g, b, d = apply_cloud_cover(weather.ghi, weather.dni, weather.dhi, 0.0)
    assert_array_equal(g, weather.ghi)
    assert_array_equal(b, weather.dni)
    assert_array_equal(d, weather.dhi)


def test_cloud_cover_kasten_czeplak() -> None:
    """ghi' = ghi (1 - 0.75 C^3.4); beam scales by 1 - C; the balance closes."""
    ghi, dni, dhi = np.array([800.0]), np.array([700.0]), np.array([200.0])
    g, b, d = apply_cloud_cover(ghi, dni, dhi, 1.0)
    assert_allclose(g, 200.0)  # 25 % under overcast sky
    assert_array_equal(b, 0.0)
    assert_allclose(d, g)
    c = np.array([0.0, 0.25, 0.5, 0.8])
    g, b, d = apply_cloud_cover(np.full(4, 800.0), np.full(4, 700.0), np.full(4, 200.0), c)
    assert_allclose(g, 800.0 * (1 - 0.75 * c**3.4))
    assert_allclose(g[2], 800.0 * 0.92896, rtol=1e-5)
    assert_allclose(b, 700.0 * (1 - c))
    assert_allclose(g, d + 600.0 * (1 - c), rtol=1e-14)
    assert np.all(d >= 200.0)  # diffuse grows as clouds scatter the beam


def test_cloud_cover_out_of_range() -> None:
    """Cloud cover outside [0, 1] raises."""
    for bad in (-0.1, 1.5, np.nan):
        with pytest.raises(ValueError, match="cloud_cover"):
            apply_cloud_cover(1.0, 1.0, 1.0, bad)


# ---------------------------------------------------------------- PVGIS, CSV, multi-year (issue 12)
SAMPLES = Path(__file__).resolve().parents[2] / "examples" / "weather"
OPEN_METEO = CsvWeather(
    columns={"ghi": "shortwave_radiation (W/m²)", "dni": "direct_normal_irradiance (W/m²)",
             "dhi": "diffuse_radiation (W/m²)", "temp_air": "temperature_2m (°C)",
             "wind_speed": "wind_speed_10m (km/h)"}, wind_unit="km/h")


def utc_start(year: int) -> float:
    return pd.Timestamp(f"{year}-01-01", tz="UTC").timestamp()


def test_pvgis_tmy_is_read_with_pvlib(weather) -> None:
    """The PVGIS TMY sample reads as pvlib.iotools.read_pvgis_tmy gives it (UTC, hour starts)
    and, being the TMY3 laid out in UTC, samples exactly like the TMY3 in any common year."""
    p = SAMPLES / "greensboro-pvgis-tmy.csv"
    assert detect_format(str(p)) == "pvgis_tmy"
    w = read_weather(p)
    ref, meta = pvlib.iotools.read_pvgis_tmy(str(p), map_variables=True)
    ref.index = pd.DatetimeIndex([t.replace(year=2001) for t in ref.index])
    ref = ref.sort_index()
    for var in IRRADIANCE + ("temp_air", "wind_speed"):
        assert_array_equal(getattr(w, var), ref[var].to_numpy(float), err_msg=var)
    assert (w.latitude, w.longitude, w.altitude, w.tz) == (36.1, -79.95, 273.0, "UTC")
    assert w.typical
    for dt in (3600.0, 600.0):
        a = w.sample(year_start(2025), dt, 0, int(86400 * 30 / dt))
        b = weather.sample(year_start(2025), dt, 0, int(86400 * 30 / dt))
        for var in a:
            assert_allclose(a[var], b[var], rtol=1e-12, atol=1e-12, err_msg=var)


def test_pvgis_hourly_real_year(weather) -> None:
    """PVGIS hourly (horizontal plane): ghi = Gb(i) + Gd(i) + Gr(i), dhi = Gd(i) + Gr(i),
    dni = Gb(i) / sin(H_sun); 2023 as it is, other years by time of year."""
    p = SAMPLES / "greensboro-pvgis-hourly-2023.csv"
    assert detect_format(str(p)) == "pvgis_hourly"
    w = read_weather(p)
    ref, _ = pvlib.iotools.read_pvgis_hourly(str(p), map_variables=True)
    beam = ref["poa_direct"].to_numpy()
    assert_allclose(w.ghi, beam + ref["poa_sky_diffuse"] + ref["poa_ground_diffuse"])
    up = ref["solar_elevation"].to_numpy() > 2.0
    assert_allclose(w.dni[up], beam[up] / np.sin(np.radians(ref["solar_elevation"][up])))
    assert not w.typical and w.complete_years == (2023,)
    s = w.sample(utc_start(2023), 3600.0, 0, 8760)
    assert_array_equal(s["ghi"], w.ghi)
    assert_array_equal(w.sample(utc_start(2025), 3600.0, 0, 8760)["ghi"], w.ghi)
    # the sample is the TMY3: the day's energy agrees where the sun is well up
    tmy = weather.sample(utc_start(2023), 3600.0, 0, 8760)
    assert_allclose(s["dhi"][up], tmy["dhi"][up])


def test_pvgis_hourly_on_a_slope_is_refused(tmp_path) -> None:
    text = (SAMPLES / "greensboro-pvgis-hourly-2023.csv").read_text()
    p = tmp_path / "tilted.csv"
    p.write_text(text.replace("Slope: 0 deg.", "Slope: 35 deg."))
    with pytest.raises(WeatherFileError, match="35° slope"):
        read_weather(p)


def test_open_meteo_csv(weather) -> None:
    """An Open-Meteo CSV (location block above the header, GMT, preceding-hour means, wind in
    km/h) reads with a column mapping; it is the TMY3 of 2024 laid out so."""
    p = SAMPLES / "greensboro-open-meteo-2024.csv"
    assert detect_format(str(p)) == "csv"
    with pytest.raises(WeatherFileError, match="missing column"):
        read_weather(p)  # the default column names are not Open-Meteo's
    w = read_weather(p, "csv", OPEN_METEO)
    assert w.complete_years == (2024,) and w.latitude is None and w.step == 3600
    a = w.sample(utc_start(2024) + 90 * 86400, 900.0, 0, 96 * 30)
    b = weather.sample(utc_start(2024) + 90 * 86400, 900.0, 0, 96 * 30)
    for var in a:
        assert_allclose(a[var], b[var], rtol=1e-9, atol=0.051, err_msg=var)  # 0.1 in the file


def _csv_years(path: Path, years: dict[int, float], tz: str = "UTC", step: str = "h",
               **units) -> None:
    idx = pd.DatetimeIndex([])
    vals: list[float] = []
    for y, v in years.items():
        i = pd.date_range(f"{y}-01-01", f"{y + 1}-01-01", freq=step, inclusive="left")
        idx = idx.append(i)
        vals += [v] * len(i)
    v = np.array(vals)
    pd.DataFrame({"t": idx.strftime("%Y-%m-%d %H:%M"), "G": v, "B": v / 2, "D": v / 4,
                  "T": v / 10, "W": v / 10}).to_csv(path, index=False)


def test_multi_year_csv_units_and_years(tmp_path) -> None:
    """Two real years (2023, 2024): each is itself; 2025 takes 2023, 2026 2024 (its 29 Feb
    dropped); energy units per row and other temperature / wind units convert."""
    p = tmp_path / "two.csv"
    _csv_years(p, {2023: 100.0, 2024: 200.0})
    opts = CsvWeather(time_column="t", label="start", columns={
        "ghi": "G", "dni": "B", "dhi": "D", "temp_air": "T", "wind_speed": "W"})
    w = read_weather(p, "csv", opts)
    assert w.complete_years == (2023, 2024)
    for year, v in ((2023, 100.0), (2024, 200.0), (2025, 100.0), (2026, 200.0), (2021, 100.0)):
        s = w.sample(utc_start(year), 3600.0, 0, 24 * 365)
        assert_array_equal(s["ghi"], v) and assert_array_equal(s["temp_air"], v / 10)
    q = tmp_path / "units.csv"
    _csv_years(q, {2023: 0.5}, step="30min")
    k = read_weather(q, "csv", dataclasses.replace(
        opts, irradiance_unit="kWh/m2", temperature_unit="degF", wind_unit="km/h"))
    s = k.sample(utc_start(2023), 1800.0, 0, 3)
    assert_allclose(s["ghi"], 0.5 * 3.6e6 / 1800.0)  # 0.5 kWh/m2 per half hour = 1 kW/m2
    assert_allclose(s["dni"], 500.0) and assert_allclose(s["dhi"], 250.0)
    assert_allclose(s["temp_air"], (0.05 - 32.0) / 1.8)
    assert_allclose(s["wind_speed"], 0.05 / 3.6)


def test_csv_gaps_zones_and_coverage(tmp_path) -> None:
    """Gaps are refused with their rows; naive local times with daylight saving resolve; a
    file without a complete year covers only its span."""
    opts = CsvWeather(label="start", timezone="Europe/Berlin", columns={"wind_speed": None})
    utc = pd.date_range("2025-03-29 23:00", periods=72, freq="h", tz="UTC")
    df = pd.DataFrame({"time": utc.tz_convert("Europe/Berlin").strftime("%Y-%m-%d %H:%M"),
                       "ghi": 100.0, "dni": 50.0, "dhi": 50.0, "temp_air": 5.0})
    p = tmp_path / "dst.csv"
    df.to_csv(p, index=False)
    w = read_weather(p, "csv", opts)
    s = w.sample(utc[0].timestamp(), 3600.0, 0, 72)
    assert_array_equal(s["ghi"], 100.0) and assert_array_equal(s["wind_speed"], 1.0)
    with pytest.raises(WeatherFileError, match="no record covers 2025-04-01T23:00"):
        w.covers(utc[0].timestamp(), utc[-1].timestamp() + 7200.0)
    with pytest.raises(WeatherFileError, match="no record covers"):
        w.sample(utc[-1].timestamp(), 3600.0, 0, 2)
    df.drop(index=[10, 11]).to_csv(p, index=False)
    with pytest.raises(WeatherFileError, match="gap between data rows 10 and 11"):
        read_weather(p, "csv", opts)
    df.assign(ghi=np.where(df.index == 5, 9999.0, 100.0)).to_csv(p, index=False)
    with pytest.raises(WeatherFileError, match="ghi = 9999.0 at data row 6"):
        read_weather(p, "csv", opts)
    with pytest.raises(WeatherFileError, match="dni cannot be left out"):
        read_weather(p, "csv", CsvWeather(columns={"dni": None}))
