"""Household load: BDEW H0, appliances and seeded noise."""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from homesim.devices.models.load import H0Profile, appliance_energy, h0_shape, noise_factors

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
