"""Local-time schedules: time zones, daily windows, overlaps."""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from homesim.devices.models.schedule import (
    DailyWindow,
    in_windows,
    parse_hhmm,
    parse_windows,
    resolve_tz,
    standard_offset,
    utc_offset,
    window_overlap,
)


def epoch(text: str, tz: str) -> float:
    return pd.Timestamp(text, tz=tz).timestamp()


def test_parse_hhmm() -> None:
    """Clock times parse to seconds after midnight; 24:00 only as an end."""
    assert parse_hhmm("00:00") == 0.0
    assert parse_hhmm("18:45") == 18 * 3600 + 45 * 60
    assert parse_hhmm("24:00") == 86400.0
    for bad in ("24:01", "7", "12:60", "ab:cd", "25:00"):
        with pytest.raises(ValueError):
            parse_hhmm(bad)
    with pytest.raises(ValueError):
        DailyWindow.parse("24:00", "01:00")


def test_resolve_tz() -> None:
    """IANA names, Etc/GMT zones and fixed offsets resolve; junk is rejected."""
    t = np.array([epoch("2025-01-15 12:00", "UTC"), epoch("2025-07-15 12:00", "UTC")])
    assert_array_equal(utc_offset(t, "Etc/GMT+5"), [-18000.0, -18000.0])
    assert_array_equal(utc_offset(t, "Europe/Berlin"), [3600.0, 7200.0])
    assert_array_equal(utc_offset(t, "UTC-03:30"), [-12600.0, -12600.0])
    assert_array_equal(standard_offset(t, "Europe/Berlin"), [3600.0, 3600.0])
    assert_array_equal(standard_offset(t, "Australia/Sydney"), [36000.0, 36000.0])
    with pytest.raises(ValueError, match="unknown time zone"):
        resolve_tz("Mars/Olympus")


def test_window_wraps_midnight() -> None:
    """A 22:00-06:00 window covers the night; overlaps are exact fractions of a tick."""
    tz = "Etc/GMT+5"
    start = epoch("2025-03-03 00:00", tz)
    times = start + np.arange(24) * 3600.0
    over = window_overlap(times, 3600.0, tz, [("22:00", "06:00")])
    expected = np.zeros(24)
    expected[:6] = 3600.0
    expected[22:] = 3600.0
    assert_array_equal(over, expected)
    # Quarter-hour offset: ticks straddle the window edges.
    over = window_overlap(times + 900.0, 3600.0, tz, [("22:00", "06:00")])
    assert (over[5], over[6], over[21], over[22]) == (2700.0, 0.0, 900.0, 3600.0)


def test_window_days_refer_to_start_day() -> None:
    """`days` names the weekday the window starts on; a Sunday night window ends Monday."""
    tz = "UTC"
    monday = epoch("2025-03-03 00:00", tz)  # a Monday
    times = monday + np.arange(7 * 24) * 3600.0
    inside = in_windows(times, tz, [{"start": "22:00", "end": "02:00", "days": ["sun"]}])
    hours = np.flatnonzero(inside)
    assert_array_equal(hours, [0, 1, 6 * 24 + 22, 6 * 24 + 23])


def test_window_overlap_matches_in_windows() -> None:
    """For 1-s ticks, the overlap is dt exactly where the tick start is inside."""
    tz = "Europe/Berlin"
    start = epoch("2025-03-30 00:00", tz)  # DST starts this day
    times = start + np.arange(0, 86400 * 2, 37.0)
    wins = parse_windows([("01:30", "03:30"), {"start": "17:00", "end": "17:20"}])
    over = window_overlap(times, 1.0, tz, wins)
    inside = in_windows(times, tz, wins)
    assert_array_equal(over == 1.0, inside)


def test_full_day_and_empty_window() -> None:
    """00:00-24:00 covers everything; start == end is empty."""
    times = np.arange(0.0, 86400.0 * 3, 600.0)
    assert_allclose(window_overlap(times, 600.0, "UTC", [("00:00", "24:00")]), 600.0)
    assert not window_overlap(times, 600.0, "UTC", [("05:00", "05:00")]).any()
