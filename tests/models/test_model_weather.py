"""Typical-year weather: reading files and sampling onto ticks."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from homesim.devices.models.weather import (
    WeatherFileError,
    apply_cloud_cover,
    default_weather_path,
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
