"""Grid: availability, tariffs and cost."""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from homesim.devices.models.grid import availability, cost, tariff

TZ = "Etc/GMT+5"


def local(text: str) -> float:
    return pd.Timestamp(text, tz=TZ).timestamp()


def test_outage_overlap_any_part() -> None:
    """A tick is down if any part of it overlaps an outage; touching the edge is not."""
    start = local("2025-07-15 11:00")
    times = start + np.arange(4) * 900.0
    outage = (local("2025-07-15 11:20"), local("2025-07-15 11:30"))
    assert_array_equal(availability(times, 900.0, TZ, [outage]), [True, False, True, True])
    edge = (local("2025-07-15 11:15"), local("2025-07-15 11:30"))
    assert_array_equal(availability(times, 900.0, TZ, [edge]), [True, False, True, True])


def test_load_shedding_days_and_wrap() -> None:
    """Recurring windows apply on the listed weekdays and may wrap midnight."""
    monday = local("2025-03-03 00:00")
    times = monday + np.arange(7 * 24) * 3600.0
    up = availability(times, 3600.0, TZ, [], [{"start": "18:00", "end": "20:00",
                                               "days": ["mon", "thu"]}])
    down = np.flatnonzero(~up)
    assert_array_equal(down, [18, 19, 3 * 24 + 18, 3 * 24 + 19])
    up = availability(times[:48], 3600.0, TZ, [], [("23:30", "00:30")])
    assert_array_equal(np.flatnonzero(~up), [0, 23, 24, 47])


def test_outage_validation() -> None:
    """An outage that ends before it starts raises."""
    with pytest.raises(ValueError, match="outages"):
        availability(np.zeros(1), 60.0, TZ, [(10.0, 5.0)])


def test_tariff_bands() -> None:
    """TOU bands by local time of the tick start, flat elsewhere; first band wins."""
    start = local("2025-01-06 16:00")
    times = start + np.arange(8) * 1800.0  # 16:00 … 19:30
    price = tariff(times, 1800.0, TZ, 0.12, [{"start": "17:00", "end": "21:00", "price": 0.30},
                                             {"start": "18:00", "end": "19:00", "price": 9.9}])
    assert_array_equal(price, [0.12, 0.12, 0.30, 0.30, 0.30, 0.30, 0.30, 0.30])
    assert_array_equal(tariff(times, 1800.0, TZ, None, []), 0.0)


def test_cost() -> None:
    """Cost = import kWh x import price - export kWh x export price."""
    c = cost(np.array([3.6e6, 0.0]), np.array([0.0, 7.2e6]), np.array([0.3, 0.3]),
             np.array([0.05, 0.05]))
    assert_allclose(c, [0.3, -0.1])


def test_price_series_file_steps_and_wins_over_tou(tmp_path):
    """A CSV price series (naive = local time) holds each price until the next row and
    replaces flat/tou prices from its first row on."""
    from homesim.devices.models.grid import read_price_series, tariff

    f = tmp_path / "prices.csv"
    f.write_text("time,price\n2025-01-01T02:00:00,0.50\n2025-01-01T01:00,0.20\n")
    st, sp = read_price_series(str(f), "Etc/GMT+5")
    assert list(sp) == [0.20, 0.50]  # sorted by time
    t0 = 1735707600.0  # 2025-01-01 00:00 local (UTC-5)
    times = t0 + np.arange(4) * 3600.0
    p = tariff(times, 3600.0, "Etc/GMT+5", 0.1, [{"start": "00:00", "end": "01:00",
                                                  "price": 0.9}], (st, sp))
    assert list(p) == [0.9, 0.20, 0.50, 0.50]


def test_price_series_file_errors(tmp_path):
    from homesim.devices.models.grid import read_price_series

    bad = tmp_path / "bad.csv"
    bad.write_text("when,price\n2025-01-01,1\n")
    with pytest.raises(ValueError, match="missing column"):
        read_price_series(str(bad), "UTC")
    bad.write_text("time,price\n2025-01-01,cheap\n")
    with pytest.raises(ValueError, match="numeric price"):
        read_price_series(str(bad), "UTC")
    with pytest.raises(ValueError, match="price file"):
        read_price_series(str(tmp_path / "nope.csv"), "UTC")
