"""Loads: BDEW profiles (demandlib, holidays), CSV profiles, appliances and seeded noise."""

import datetime as _dt

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from homesim.devices.models.load import (
    BDEW_PROFILES,
    BdewProfile,
    H0Profile,
    appliance_energy,
    h0_shape,
    holiday_dates,
    noise_factors,
    read_load_csv,
)

TZ = "Etc/GMT-1"  # Central European standard time, no daylight saving


def start_of(year: int, tz: str = TZ) -> float:
    return pd.Timestamp(f"{year}-01-01", tz=tz).timestamp()


@pytest.fixture(scope="module")
def profile():
    return H0Profile(4000.0)


def test_h0_shape() -> None:
    """The normalised H0 profile has one value per quarter hour and sums to 1."""
    shape = h0_shape(2025)
    assert shape.shape == (35040,)
    assert_allclose(shape.sum(), 1.0)
    # BDEW H0: the winter evening peak is well above the night minimum.
    day = shape[:96]
    assert day[72:84].mean() > 2.0 * day[12:20].mean()


def test_annual_energy(profile) -> None:
    """A calendar year of 1-minute ticks holds the annual energy."""
    e = profile.energy(start_of(2025), 60.0, 0, 525_600, TZ)
    assert_allclose(e.sum(), 4000.0 * 3.6e6, rtol=1e-12)
    assert np.all(e > 0.0)


def test_quarter_hours_match_demandlib(profile) -> None:
    """At dt = 900 s aligned, ticks are demandlib's scaled profile values."""
    from demandlib import bdew

    e = profile.energy(start_of(2025), 900.0, 0, 96 * 3, TZ)
    ref = bdew.ElecSlp(2025).get_scaled_profiles({"h0": 4000.0})["h0"].to_numpy()[: 96 * 3]
    assert_allclose(e, ref * 3.6e6, rtol=1e-12)


@pytest.mark.parametrize("dt", [60.0, 700.0, 3600.0])
def test_windows_identical(profile, dt) -> None:
    """Splitting ticks into windows gives identical energies."""
    start = start_of(2025) + 123.0
    whole = profile.energy(start, dt, 50, 300, TZ)
    parts = np.concatenate([profile.energy(start, dt, 50 + i, 1, TZ) for i in range(300)])
    assert_array_equal(parts, whole)


def test_daylight_saving_zone_conserves_energy() -> None:
    """In a DST zone the profile runs on standard time: energy is still conserved."""
    p = H0Profile(3000.0)
    tz = "Europe/Berlin"
    e = p.energy(start_of(2025, "Etc/GMT-1"), 1800.0, 0, 365 * 48, tz)
    assert_allclose(e.sum(), 3000.0 * 3.6e6, rtol=1e-12)


def test_appliance_exact_overlap() -> None:
    """Energy is power times the exact overlap with the window, also across midnight."""
    t0 = start_of(2025)
    times = t0 + np.arange(24) * 3600.0 + 1800.0  # ticks at HH:30
    e = appliance_energy(times, 3600.0, TZ, 2000.0, "18:00", "18:45")
    assert_allclose(e[17], 2000.0 * 1800.0) and assert_allclose(e[18], 2000.0 * 900.0)
    assert e.sum() == pytest.approx(2000.0 * 2700.0)
    e = appliance_energy(t0 + np.arange(48) * 3600.0, 3600.0, TZ, 100.0, "23:00", "01:00")
    assert_array_equal(np.flatnonzero(e), [0, 23, 24, 47])
    jan1 = appliance_energy(np.array([t0]), 86400.0, TZ, 100.0, "00:00", "24:00", ["wed"])
    assert jan1[0] == 100.0 * 86400.0  # 2025-01-01 is a Wednesday
    with pytest.raises(ValueError, match="power"):
        appliance_energy(np.array([t0]), 60.0, TZ, -1.0, "00:00", "01:00")


def test_noise_grouping_independent() -> None:
    """Noise depends only on (seed, key, tick), not on the window grouping."""
    whole = noise_factors(42, "house", 4000, 10_000, 0.1)
    parts = np.concatenate([noise_factors(42, "house", 4000 + i, 1000, 0.1)
                            for i in range(0, 10_000, 1000)])
    ones = np.concatenate([noise_factors(42, "house", 4000 + i, 1, 0.1) for i in range(50)])
    assert_array_equal(parts, whole)
    assert_array_equal(ones, whole[:50])
    assert not np.array_equal(noise_factors(42, "garage", 4000, 50, 0.1), whole[:50])
    assert not np.array_equal(noise_factors(43, "house", 4000, 50, 0.1), whole[:50])


def test_noise_statistics() -> None:
    """Lognormal with mean 1 and log-standard deviation sigma; sigma = 0 gives ones."""
    f = noise_factors(1, "house", 0, 200_000, 0.2)
    assert_allclose(f.mean(), 1.0, atol=0.003)
    assert_allclose(np.log(f).std(), 0.2, rtol=0.01)
    assert np.all(f > 0.0)
    assert_array_equal(noise_factors(1, "house", 0, 5, 0.0), np.ones(5))
    with pytest.raises(ValueError):
        noise_factors(1, "house", 0, 5, -0.1)


# ---------------------------------------------------------------- BDEW profiles (issue 12)
def test_h0_dyn_matches_demandlib_exactly() -> None:
    """profile h0_dyn: every quarter hour of 2025 is demandlib's scaled h0_dyn value."""
    from demandlib import bdew

    e = BdewProfile(4000.0, "h0_dyn").energy(start_of(2025, "UTC"), 900.0, 0, 35040, "UTC")
    ref = bdew.ElecSlp(2025).get_scaled_profiles({"h0_dyn": 4000.0})["h0_dyn"].to_numpy()
    assert_allclose(e, ref * 3.6e6, rtol=1e-14, atol=0)
    rel = np.max(np.abs(e / (ref * 3.6e6) - 1.0))
    print(f"h0_dyn vs demandlib: max relative difference {rel:.1e} over 35040 quarter hours")
    assert rel <= 4 * np.finfo(float).eps
    # demandlib's dynamised H0 is not renormalised: the year holds 1.000016 x annual_kwh
    assert e.sum() / 3.6e6 == pytest.approx(4000.0 * ref.sum() / 4000.0, rel=1e-12)


@pytest.mark.parametrize("name", BDEW_PROFILES)
def test_every_bdew_profile_matches_demandlib(name) -> None:
    """Each profile by name: a leap year of hourly ticks sums demandlib's quarter hours."""
    from demandlib import bdew

    e = BdewProfile(1000.0, name).energy(start_of(2024, "UTC"), 3600.0, 0, 366 * 24, "UTC")
    ref = bdew.ElecSlp(2024).get_scaled_profiles({name: 1000.0})[name].to_numpy() * 3.6e6
    assert_allclose(e, ref.reshape(-1, 4).sum(axis=1), rtol=1e-9)  # prefix sums


def test_holidays_from_the_holidays_package() -> None:
    """holidays DE/BY: demandlib with holidays.country_holidays('DE', subdiv='BY'); Epiphany
    (Bavaria only) looks like a Sunday."""
    import holidays
    from demandlib import bdew

    days = holidays.country_holidays("DE", subdiv="BY", years=2025)
    assert _dt.date(2025, 1, 6) in days and holiday_dates("DE", "BY", 2025) == tuple(sorted(days))
    p = BdewProfile(4000.0, "g0", "DE", "BY")
    e = p.energy(start_of(2025, "UTC"), 900.0, 0, 35040, "UTC")
    ref = bdew.ElecSlp(2025, holidays=dict(days)).get_scaled_profiles({"g0": 4000.0})["g0"]
    assert_allclose(e, ref.to_numpy() * 3.6e6, rtol=1e-14)
    day = e.reshape(365, 96)
    plain = BdewProfile(4000.0, "g0").energy(start_of(2025, "UTC"), 900.0, 0, 35040, "UTC")
    plain = plain.reshape(365, 96)
    # 6 Jan 2025 is a Monday; with holidays it follows the Sunday shape (5 Jan)
    assert_allclose(day[5] / day[5].sum(), day[4] / day[4].sum(), rtol=1e-12)
    assert not np.allclose(plain[5] / plain[5].sum(), plain[4] / plain[4].sum())
    national = BdewProfile(4000.0, "g0", "DE").energy(start_of(2025, "UTC"), 900.0, 0, 96 * 7,
                                                      "UTC").reshape(7, 96)
    assert not np.allclose(national[5] / national[5].sum(), national[4] / national[4].sum())
    with pytest.raises(ValueError, match="country"):
        BdewProfile(1.0, "h0", "XX")
    with pytest.raises(ValueError, match="subdivision.*BY"):
        BdewProfile(1.0, "h0", "DE", "ZZ")
    with pytest.raises(ValueError, match="profile"):
        BdewProfile(1.0, "h1")


# ---------------------------------------------------------------- CSV profiles
def _csv(path, rows, header="time,power", pre=""):
    path.write_text(pre + header + "\n" + "\n".join(rows) + "\n")
    return str(path)


def test_csv_power_and_energy_columns(tmp_path) -> None:
    """Power [W] per row start, or energy [kWh] per row end: exact integrals over ticks."""
    t0 = pd.Timestamp("2025-03-01 00:00", tz="UTC")
    w = [100.0 * (i % 7 + 1) for i in range(96)]
    rows = [f"{(t0 + pd.Timedelta(minutes=15 * i)).isoformat()},{w[i]}" for i in range(96)]
    p = read_load_csv(_csv(tmp_path / "a.csv", rows), "UTC")
    e = p.energy(t0.timestamp(), 900.0, 0, 96)
    assert_allclose(e, np.array(w) * 900.0, rtol=1e-14)
    e60 = p.energy(t0.timestamp(), 60.0, 0, 96 * 15)
    assert_allclose(e60.sum(), sum(w) * 900.0, rtol=1e-12)
    assert_allclose(e60[:15], w[0] * 60.0) and assert_allclose(e60[15:30], w[1] * 60.0)
    # the same load as kWh per interval, labelled by the interval's end, naive local times
    kwh = [f"{(t0 + pd.Timedelta(minutes=15 * (i + 1)) ).tz_convert('Etc/GMT-1')}"[:19]
           + f";{w[i] * 900 / 3.6e6!r}" for i in range(96)]
    path = tmp_path / "b.csv"
    path.write_text("Zeit;Last\n" + "\n".join(kwh) + "\n")
    with pytest.raises(ValueError, match="time column"):
        read_load_csv(str(path), "Etc/GMT-1")
    path.write_text("Zeit,Last\n" + "\n".join(r.replace(";", ",") for r in kwh) + "\n")
    q = read_load_csv(str(path), "Etc/GMT-1", time_column="Zeit", column="Last", unit="kWh",
                      label="end")
    assert_allclose(q.energy(t0.timestamp(), 900.0, 0, 96), e, rtol=1e-12)


def test_csv_scaled_and_mapped_onto_other_years(tmp_path) -> None:
    """A complete year of 2023 stands for 2025 by time of year; scale gives annual_kwh."""
    idx = pd.date_range("2023-01-01", periods=8760, freq="h")
    w = 300.0 + 200.0 * np.sin(np.arange(8760) / 24.0 * 2 * np.pi)
    rows = [f"{t:%Y-%m-%d %H:%M},{v}" for t, v in zip(idx, w, strict=True)]
    f = _csv(tmp_path / "y.csv", rows, header="ts,load_kw")
    raw = read_load_csv(f, "Etc/GMT-1", time_column="ts", column="load_kw", unit="kW")
    assert raw.annual_kwh == pytest.approx(w.sum(), rel=1e-12)
    start25 = pd.Timestamp("2025-01-01", tz="Etc/GMT-1").timestamp()
    start23 = pd.Timestamp("2023-01-01", tz="Etc/GMT-1").timestamp()
    assert_array_equal(raw.energy(start25, 3600.0, 0, 8760), raw.energy(start23, 3600.0, 0, 8760))
    assert_allclose(raw.energy(start23, 3600.0, 0, 8760), w * 1e3 * 3600.0, rtol=1e-12)
    leap = raw.energy(pd.Timestamp("2024-01-01", tz="Etc/GMT-1").timestamp(), 3600.0, 0, 8784)
    assert_array_equal(leap[59 * 24:60 * 24], leap[58 * 24:59 * 24])  # 29 Feb repeats 28 Feb
    scaled = read_load_csv(f, "Etc/GMT-1", time_column="ts", column="load_kw", unit="kW",
                           annual_kwh=3500.0)
    assert_allclose(scaled.energy(start25, 900.0, 0, 35040).sum(), 3500 * 3.6e6, rtol=1e-12)


def test_csv_daylight_saving_local_times(tmp_path) -> None:
    """Naive local times of a zone with daylight saving (the spring hour missing, the autumn
    hour twice) are one regular UTC series."""
    utc = pd.date_range("2025-03-29 22:00", "2025-10-27 02:00", freq="h", tz="UTC")
    local = utc.tz_convert("Europe/Berlin").strftime("%Y-%m-%dT%H:%M")
    rows = [f"{t},{i}" for i, t in enumerate(local)]
    p = read_load_csv(_csv(tmp_path / "dst.csv", rows), "Europe/Berlin")
    e = p.energy(utc[0].timestamp(), 3600.0, 0, len(utc))
    assert_allclose(e, np.arange(len(utc)) * 3600.0)
    with pytest.raises(ValueError, match="does not cover|no record covers"):
        p.energy(utc[0].timestamp() - 3600.0, 3600.0, 0, 2)


@pytest.mark.parametrize(("rows", "match"), [
    (["2025-01-01T00:00,1", "2025-01-01T00:15,1", "2025-01-01T00:45,1", "2025-01-01T01:00,1"],
     "gap between data rows 2 and 3"),
    (["2025-01-01T00:00,1", "2025-01-01T00:15,1", "2025-01-01T00:15,1"], "data row 3 repeats"),
    (["2025-01-01T00:00,1", "2025-01-01T00:07,1", "2025-01-01T00:14,1"], "does not divide"),
    (["2025-01-01T00:00,1", "2025-01-01T00:15,x"], "data row 2: 'x' is not a number"),
    (["2025-01-01T00:00,1", "2025-01-01T00:15,-1"], "cannot be negative"),
    (["yesterday,1", "today,2"], "cannot read the times"),
])
def test_csv_errors_name_the_row(tmp_path, rows, match) -> None:
    with pytest.raises(ValueError, match=match):
        read_load_csv(_csv(tmp_path / "bad.csv", rows), "UTC")


def test_csv_missing_column_lists_the_columns(tmp_path) -> None:
    f = _csv(tmp_path / "c.csv", ["2025-01-01T00:00,1,2"] * 1, header="time,a,b")
    with pytest.raises(ValueError, match="missing column.*'power'.*columns: 'time', 'a', 'b'"):
        read_load_csv(f, "UTC")
    with pytest.raises(ValueError, match="unit"):
        read_load_csv(f, "UTC", column="a", unit="hp")
