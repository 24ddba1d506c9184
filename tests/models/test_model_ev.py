"""EV charging: scheduled and commuter sessions, windows, flexibility, charging per tick."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from homesim.devices.models.ev_charging import (
    ActiveSession,
    ChargePoint,
    advance,
    flexible_demand,
    window_sessions,
)
from homesim.devices.models.ev_sessions import (
    KWH,
    TARGET_SOC,
    Session,
    commuter_sessions,
    scheduled_sessions,
)

DAY = 86400.0
CP = ChargePoint(p_max=11000.0)


def epoch(text: str, tz: str) -> float:
    return pd.Timestamp(text, tz=tz).timestamp()


# --------------------------------------------------------------------------- sessions


def test_scheduled_across_midnight_and_days() -> None:
    """A 22:00–06:00 session on weekdays expands to nights starting Mon..Fri, in local time."""
    tz = "Etc/GMT+5"  # UTC-5
    spec = {"arrival": "22:00", "departure": "06:00", "days": ["mon", "tue", "wed", "thu", "fri"],
            "capacity_kwh": 60, "energy_kwh": 20}
    t_from = epoch("2025-03-03 00:00", tz)  # a Monday
    out = scheduled_sessions([spec], tz, t_from, t_from + 7 * DAY)
    arrivals = [pd.Timestamp(s.arrival, unit="s", tz="UTC").tz_convert(tz) for s in out]
    assert [a.strftime("%a %H:%M") for a in arrivals] == [
        "Mon 22:00", "Tue 22:00", "Wed 22:00", "Thu 22:00", "Fri 22:00"]
    for s in out:
        assert s.departure - s.arrival == 8 * 3600.0
        assert_allclose(s.energy, 20 * KWH)
        assert_allclose(s.soc_arrival, TARGET_SOC - 20 / 60)
    # A query in the middle of Tuesday night returns just that session.
    mid = epoch("2025-03-05 02:00", tz)
    (s,) = scheduled_sessions([spec], tz, mid, mid + 60.0)
    assert s.arrival == out[1].arrival


def test_scheduled_overlap_rule_and_equal_times() -> None:
    """Sessions overlap [t_from, t_to) strictly; departure == arrival means a whole day."""
    tz = "UTC"
    spec = {"arrival": "08:00", "departure": "17:00", "capacity_kwh": 50, "energy_kwh": 10}
    day = epoch("2025-06-02", tz)
    assert scheduled_sessions([spec], tz, day + 17 * 3600, day + 20 * 3600) == []
    assert scheduled_sessions([spec], tz, day, day + 8 * 3600) == []
    assert len(scheduled_sessions([spec], tz, day, day + 8 * 3600 + 1)) == 1
    full = dict(spec, departure="08:00")
    (s,) = scheduled_sessions([full], tz, day + 9 * 3600, day + 10 * 3600)
    assert s.departure - s.arrival == DAY


def test_scheduled_energy_from_soc_targets() -> None:
    """energy = (target_soc - soc_arrival) * capacity."""
    spec = {"arrival": "18:00", "departure": "07:00", "capacity_kwh": 60,
            "soc_arrival": 0.3, "target_soc": 0.8}
    day = epoch("2025-06-02", "UTC")
    (s,) = scheduled_sessions([spec], "UTC", day + 19 * 3600, day + 20 * 3600)
    assert_allclose(s.energy, 0.5 * 60 * KWH)
    assert s.soc_arrival == 0.3
    assert s.capacity == 60 * KWH


def test_scheduled_dst_night() -> None:
    """Wall-clock times hold across a DST change: the night is one hour shorter."""
    tz = "Europe/Warsaw"
    spec = {"arrival": "22:00", "departure": "07:00", "capacity_kwh": 60, "energy_kwh": 10}
    t = epoch("2025-03-29 12:00", tz)  # Saturday; clocks go forward on Sunday 02:00
    (s,) = scheduled_sessions([spec], tz, t, t + 12 * 3600)
    assert s.departure - s.arrival == 8 * 3600.0
    assert s.arrival == epoch("2025-03-29 22:00", tz)


@pytest.mark.parametrize("bad", [
    {"arrival": "18:00", "departure": "07:00", "capacity_kwh": 60},  # no energy
    {"arrival": "18:00", "departure": "07:00", "capacity_kwh": 60, "energy_kwh": 70},
    {"arrival": "18:00", "departure": "07:00", "capacity_kwh": 60, "soc_arrival": 0.8,
     "target_soc": 0.5},
    {"arrival": "18:00", "departure": "07:00", "capacity_kwh": 60, "energy_kwh": 5,
     "colour": "red"},
    {"arrival": "18:00", "departure": "07:00", "capacity_kwh": 60, "energy_kwh": 5,
     "days": ["funday"]},
])
def test_scheduled_rejects_bad_specs(bad: dict) -> None:
    """Malformed specs raise ValueError."""
    with pytest.raises(ValueError):
        scheduled_sessions([bad], "UTC", 0.0, DAY)


def test_scheduled_rejects_overlapping_specs() -> None:
    """Two cars at one charge point at the same time is an error."""
    a = {"arrival": "18:00", "departure": "07:00", "capacity_kwh": 60, "energy_kwh": 5}
    b = {"arrival": "20:00", "departure": "21:00", "capacity_kwh": 60, "energy_kwh": 5}
    with pytest.raises(ValueError, match="overlap"):
        scheduled_sessions([a, b], "UTC", 1e9, 1e9 + DAY)


def test_commuter_reproducible_and_window_split_invariant() -> None:
    """A week's query equals the union of daily (and odd-sized) queries; seeds and names matter."""
    tz = "Europe/Warsaw"
    d0 = epoch("2025-03-24", tz)  # Monday; the week has a DST change
    week = commuter_sessions(7, "ev1", tz, d0, d0 + 7 * DAY)
    assert week == commuter_sessions(7, "ev1", tz, d0, d0 + 7 * DAY)
    for step in (DAY, 3 * 3600.0 + 17.0):
        union: dict[float, Session] = {}
        t = d0
        while t < d0 + 7 * DAY:
            for s in commuter_sessions(7, "ev1", tz, t, min(t + step, d0 + 7 * DAY)):
                union[s.arrival] = s
            t += step
        assert sorted(union.values(), key=lambda s: s.arrival) == week
    assert commuter_sessions(8, "ev1", tz, d0, d0 + 7 * DAY) != week
    assert commuter_sessions(7, "ev2", tz, d0, d0 + 7 * DAY) != week


def test_commuter_pattern() -> None:
    """Weekday evening plug-in, next-morning plug-out; weekend sessions at weekend_prob."""
    tz = "Etc/GMT-1"
    d0 = epoch("2025-01-06", tz)  # Monday
    year = commuter_sessions(1, "car", tz, d0, d0 + 52 * 7 * DAY)
    local = [pd.Timestamp(s.arrival, unit="s", tz="UTC").tz_convert(tz) for s in year]
    weekday = [a.weekday() < 5 for a in local]
    assert sum(weekday) == 52 * 5
    n_weekend = len(year) - sum(weekday)
    assert 0.3 * 104 < n_weekend < 0.5 * 104  # weekend_prob = 0.4
    hours = np.array([a.hour + a.minute / 60 for a in local])
    assert 17.5 < hours.mean() < 18.5 and hours.min() >= 15.75 and hours.max() <= 20.25
    dep = [pd.Timestamp(s.departure, unit="s", tz="UTC").tz_convert(tz) for s in year]
    assert all((d.date() - a.date()).days == 1 for a, d in zip(local, dep, strict=True))
    km = np.array([s.energy / KWH / 0.18 for s in year])
    assert 36.0 < km.mean() < 44.0
    assert all(s.energy <= 0.9 * s.capacity and s.soc_arrival >= 0.0 for s in year)
    assert all(a.departure <= b.arrival for a, b in zip(year, year[1:], strict=False))
    none = commuter_sessions(1, "car", tz, d0, d0 + 28 * DAY, weekend_prob=0.0)
    assert len(none) == 20


def test_commuter_rejects_bad_parameters() -> None:
    """Negative seed, overlapping spreads or nonsense parameters raise ValueError."""
    with pytest.raises(ValueError):
        commuter_sessions(-1, "ev", "UTC", 1e9, 1e9 + DAY)
    with pytest.raises(ValueError, match="spread"):
        commuter_sessions(1, "ev", "UTC", 1e9, 1e9 + DAY, arrival_sd_min=300)
    with pytest.raises(ValueError):
        commuter_sessions(1, "ev", "UTC", 1e9, 1e9 + DAY, km_mean=0.0)
    with pytest.raises(ValueError):
        commuter_sessions(1, "ev", "UTC", 1e9 + DAY, 1e9)


def test_charge_point_validation() -> None:
    """Power range and efficiency are checked."""
    for kwargs in ({"p_max": 0.0}, {"p_max": 1000.0}, {"p_max": 11000.0, "efficiency": 1.2}):
        with pytest.raises(ValueError):
            ChargePoint(**kwargs)


# --------------------------------------------------------------------------- windows


def test_window_sessions_ticks_and_state() -> None:
    """Ticks are relative to the window; the state carries the remaining energy."""
    t0 = 1_000_000_200.0
    s = Session(t0 - 600.0, t0 + 3000.0, 10 * KWH, 60 * KWH, 0.5)
    (a,) = window_sessions([s], None, t0, 300.0, 4)
    assert (a.arrival_tick, a.departure_tick, a.unmet_tick) == (-2, 10, 9)
    assert a.remaining == 10 * KWH and a.soc_start == 0.5
    (b,) = window_sessions([s], {str(s.arrival): 4 * KWH}, t0, 300.0, 4)  # JSON-style key
    assert b.remaining == 4 * KWH
    assert_allclose(b.soc_start, 0.5 + 6 / 60)
    # Mid-tick arrival and departure: only whole ticks are connected.
    m = Session(t0 + 100.0, t0 + 1000.0, KWH, 60 * KWH, 0.5)
    (c,) = window_sessions([m], None, t0, 300.0, 4)
    assert (c.arrival_tick, c.departure_tick, c.unmet_tick) == (1, 3, 3)
    assert window_sessions([s], None, t0 + 3600.0, 300.0, 4) == []


# --------------------------------------------------------------------------- flexibility


def test_flexible_demand_latest_start() -> None:
    """e_min > 0 only in the last ticks when the remaining is large; e_max = fastest charging."""
    dt, n = 900.0, 16
    eff = CP.efficiency
    rem = 11000.0 * dt * 3.5 * eff  # 3.5 ticks at p_max
    s = ActiveSession(arrival_tick=2, departure_tick=12, remaining=rem, capacity=60 * KWH,
                      soc_start=0.2)
    e_min, e_max = flexible_demand(CP, [s], dt, n)
    full = 11000.0 * dt
    assert_allclose(e_max[2:6], [full, full, full, 0.5 * full])
    assert (e_max[6:] == 0).all() and (e_max[:2] == 0).all()
    assert_allclose(e_min[8:12], [0.5 * full, full, full, full])
    assert (e_min[:8] == 0).all() and (e_min[12:] == 0).all()
    assert_allclose(e_min.sum(), e_max.sum())
    assert_allclose(e_max.sum(), rem / eff)
    # A small remaining is never forced before the last tick, and then at least p_min.
    small = ActiveSession(0, 12, 0.2 * CP.p_min * dt * eff, 60 * KWH, 0.5)
    e_min, e_max = flexible_demand(CP, [small], dt, n)
    assert np.count_nonzero(e_min) == 1 and e_min[11] > 0
    assert_allclose(e_max[0], 0.2 * CP.p_min * dt)  # last top-up below p_min is allowed
    # A must below p_min is raised to p_min (the charger cannot draw less); advance accepts it.
    odd = ActiveSession(0, 12, 1.05 * full * eff, 60 * KWH, 0.5)
    e_min, e_max = flexible_demand(CP, [odd], dt, n)
    assert_allclose(e_min[10:12], [CP.p_min * dt, 1.05 * full - CP.p_min * dt])
    assert (e_min[:10] == 0).all()
    assert advance(CP, [odd], e_min, dt)["unmet"].sum() == 0.0
    assert advance(CP, [odd], e_max, dt)["unmet"].sum() == 0.0
    # Infeasible: everything is a must.
    big = ActiveSession(0, 4, 10 * full, 60 * KWH, 0.0)
    e_min, e_max = flexible_demand(CP, [big], dt, n)
    assert_allclose(e_min[:4], full)
    assert_array_equal(e_min, e_max)


# --------------------------------------------------------------------------- advance


def test_advance_balance_soc_unmet() -> None:
    """elec = delivered + losses; soc rises; the remaining is booked as unmet at departure."""
    dt = 600.0
    s = ActiveSession(1, 5, 20 * KWH, 50 * KWH, 0.4, arrival=123.0, unmet_tick=4)
    elec = np.array([0.0, 6.6e6, 0.0, 2e6, 1e6, 0.0])
    out = advance(CP, [s], elec, dt)
    assert_allclose(out["delivered"] + out["losses"], elec, rtol=0, atol=1e-9)
    assert_allclose(out["delivered"], elec * 0.92)
    assert_array_equal(out["connected"], [0, 1, 1, 1, 1, 0])
    assert np.isnan(out["soc"][[0, 5]]).all()
    assert_allclose(out["soc"][4], 0.4 + 9.6e6 * 0.92 / (50 * KWH))
    unmet = 20 * KWH - 9.6e6 * 0.92
    assert_allclose(out["unmet"], [0, 0, 0, 0, unmet, 0])
    assert out["state"] == {}
    # The same session cut after tick 2 carries its remaining in the state.
    first = advance(CP, [s], elec[:3], dt)
    assert_allclose(first["state"][123.0], 20 * KWH - 6.6e6 * 0.92)
    assert first["unmet"].sum() == 0.0


def test_advance_state_roundtrip_json() -> None:
    """The state survives JSON and continues the session in the next window."""
    t0, dt = 1_700_000_000.0, 300.0
    s = Session(t0, t0 + 7200.0, 5 * KWH, 60 * KWH, 0.3)
    w1 = window_sessions([s], None, t0, dt, 12)
    out1 = advance(CP, w1, np.full(12, 1e6), dt)
    state = json.loads(json.dumps(out1["state"]))
    w2 = window_sessions([s], state, t0 + 12 * dt, dt, 12)
    assert_allclose(w2[0].remaining, 5 * KWH - 12e6 * 0.92)
    out2 = advance(CP, w2, np.zeros(12), dt)
    assert_allclose(out2["unmet"][11], 5 * KWH - 12e6 * 0.92)


def test_advance_finishes_exactly() -> None:
    """Drawing remaining/efficiency finishes the car (no dust, unmet 0)."""
    s = ActiveSession(0, 3, 1234567.0, 50 * KWH, 0.5)
    need = 1234567.0 / 0.92
    out = advance(CP, [s], np.array([need, 0.0, 0.0]), 300.0)
    assert out["remaining"][0] == 0.0 and out["unmet"].sum() == 0.0
    assert_allclose(out["delivered"][0], 1234567.0)


@pytest.mark.parametrize(("elec", "match"), [
    ([11000.0 * 300 * 1.001, 0, 0, 0], "exceeds"),          # above p_max * dt
    ([0, 0, 0, 1e5], "no car"),                             # nobody connected
    ([1000.0 * 300, 0, 0, 0], "minimum"),                   # in (0, p_min * dt)
    ([-1.0, 0, 0, 0], ">= 0"),
])
def test_advance_errors(elec: list[float], match: str) -> None:
    """Draws the charger cannot make raise ValueError."""
    s = ActiveSession(0, 3, 20 * KWH, 60 * KWH, 0.2)
    with pytest.raises(ValueError, match=match):
        advance(CP, [s], np.array(elec), 300.0)


def test_advance_rejects_more_than_the_car_wants() -> None:
    """A nearly full car cannot take p_max."""
    s = ActiveSession(0, 3, 1e5, 60 * KWH, 0.9)
    with pytest.raises(ValueError, match="exceeds"):
        advance(CP, [s], np.array([1e6, 0, 0]), 300.0)
