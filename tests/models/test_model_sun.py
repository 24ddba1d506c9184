"""Solar position at tick midpoints."""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from homesim.devices.models.sun import solar_position, tick_midpoints


def test_spa_reference_point() -> None:
    """Reda & Andreas (2004) example: 2003-10-17 12:30:30 MST, Golden CO."""
    t = pd.Timestamp("2003-10-17 12:30:30", tz="Etc/GMT+7").timestamp()
    pos = solar_position(np.array([t]), 39.742476, -105.1786, 1830.14)
    # Published topocentric zenith 50.11162 deg (with refraction), azimuth 194.34024 deg.
    assert_allclose(pos["apparent_zenith"], 50.11162, atol=2e-3)
    assert_allclose(pos["azimuth"], 194.34024, atol=2e-3)
    assert pos["apparent_zenith"][0] < pos["zenith"][0]  # refraction lifts the sun
    assert 1330.0 < pos["dni_extra"][0] < 1420.0


def test_chunks_are_identical() -> None:
    """One call or many smaller calls give identical results."""
    start = pd.Timestamp("2025-06-01", tz="UTC").timestamp()
    t = tick_midpoints(start, 60.0, 0, 600)
    whole = solar_position(t, 36.1, -79.95, 273.0)
    parts = [solar_position(t[i : i + 37], 36.1, -79.95, 273.0) for i in range(0, 600, 37)]
    for key, value in whole.items():
        assert_array_equal(np.concatenate([p[key] for p in parts]), value, err_msg=key)


def test_tick_midpoints() -> None:
    """Midpoints are start + (k + 0.5) dt."""
    assert_array_equal(tick_midpoints(100.0, 10.0, 3, 2), [135.0, 145.0])


def test_bad_latitude() -> None:
    """Out-of-range coordinates raise."""
    with pytest.raises(ValueError, match="latitude"):
        solar_position(np.array([0.0]), 91.0, 0.0)
