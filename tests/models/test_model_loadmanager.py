"""Load management of EV chargers: the seed scenario, strategies, p_min, PV surplus, windows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from homesim.devices.models.ev_charging import (
    ActiveSession,
    ChargePoint,
    advance,
    window_sessions,
)
from homesim.devices.models.ev_sessions import (
    KWH,
    Session,
    commuter_sessions,
    scheduled_sessions,
)
from homesim.devices.models.loadmanager import STRATEGIES, ChargerWindow, manage
from homesim.devices.models.schedule import in_windows

TZ = "Europe/Warsaw"
DT = 300.0
N = 288  # 24 h from local noon
T0 = pd.Timestamp("2025-06-02 12:00", tz=TZ).timestamp()
TIMES = T0 + DT * np.arange(N)
CP = ChargePoint(p_max=11000.0)
LIMIT = 40000.0  # [W] grid connection
OTHER = np.where(in_windows(TIMES, TZ, [("17:00", "20:00")]), 20000.0, 5000.0)  # [W]
HEADROOM = (LIMIT - OTHER) * DT  # [J]


def tick(hhmm: str) -> int:
    """Index of the tick starting at local ``hhmm`` (today after noon, else tomorrow)."""
    h, m = map(int, hhmm.split(":"))
    day = "2025-06-02" if h >= 12 else "2025-06-03"
    t = pd.Timestamp(f"{day} {hhmm}", tz=TZ).timestamp()
    return int(round((t - T0) / DT))


def car(departure: str = "07:00", arrival: str = "17:30") -> list[Session]:
    spec = {"arrival": arrival, "departure": departure, "capacity_kwh": 60, "energy_kwh": 40}
    return scheduled_sessions([spec], TZ, T0, T0 + N * DT)


def run(
    sessions: list[list[Session]], headroom: np.ndarray, strategy: str, n_windows: int = 1,
    pv_surplus: np.ndarray | None = None, surplus_only: bool = False,
) -> dict[str, np.ndarray]:
    """Run manage + advance over the day split into ``n_windows`` windows, chained by state."""
    m = N // n_windows
    states: list[dict | None] = [None] * len(sessions)
    parts: dict[str, list] = {"alloc": [], "paused": [], "throttled": [], "delivered": [],
                              "unmet": [], "soc": []}
    for w in range(n_windows):
        t0 = T0 + w * m * DT
        sl = slice(w * m, (w + 1) * m)
        chargers = [ChargerWindow(f"ev{c}", CP, window_sessions(s, states[c], t0, DT, m))
                    for c, s in enumerate(sessions)]
        res = manage(chargers, headroom[sl], DT, strategy,
                     None if pv_surplus is None else pv_surplus[sl], surplus_only)
        outs = [advance(CP, ch.sessions, res["alloc"][:, c], DT) for c, ch in enumerate(chargers)]
        states = [o["state"] for o in outs]
        for key in ("alloc", "paused", "throttled"):
            parts[key].append(res[key])
        for key in ("delivered", "unmet", "soc"):
            parts[key].append(np.stack([o[key] for o in outs], axis=1))
    return {k: np.concatenate(v) for k, v in parts.items()}


# --------------------------------------------------------------------------- seed scenario


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_seed_scenario(strategy: str) -> None:
    """40 kW connection, two 11 kW cars at 17:30: throttled until 20:00, full later, 40 kWh each."""
    out = run([car(), car()], HEADROOM, strategy)
    total = out["alloc"].sum(axis=1)
    assert (total <= HEADROOM + 1e-6).all()
    evening = slice(tick("17:30"), tick("20:00"))
    assert_allclose(total[evening], 20000.0 * DT)  # sum < 22 kW: throttled by the connection
    assert (out["throttled"][evening].sum(axis=1) > 0).all()
    later = slice(tick("20:00"), tick("21:00"))
    assert_allclose(out["alloc"][later], 11000.0 * DT)
    assert (out["alloc"][: tick("17:30")] == 0).all()
    assert_allclose(out["delivered"].sum(axis=0), 40 * KWH)
    assert_array_equal(out["unmet"], 0.0)
    assert_allclose(np.nanmax(out["soc"], axis=0), 0.9)


def test_strategies_share_differently() -> None:
    """equal_share splits 10/10 kW; first_come 11/9 kW; departure_priority serves the earlier."""
    evening = slice(tick("17:30"), tick("20:00"))
    eq = run([car(), car()], HEADROOM, "equal_share")["alloc"][evening] / DT
    assert_allclose(eq, 10000.0)
    fc = run([car(), car()], HEADROOM, "first_come")["alloc"][evening] / DT
    assert_allclose(fc, [[11000.0, 9000.0]] * fc.shape[0])
    fc = run([car(arrival="17:40"), car()], HEADROOM, "first_come")["alloc"] / DT
    assert_allclose(fc[tick("17:30"):tick("17:40"), 1], 11000.0)  # alone at first
    assert_allclose(fc[tick("17:40"):tick("20:00")], [[9000.0, 11000.0]] * 28)  # earlier first
    dp = run([car("07:00"), car("06:00")], HEADROOM, "departure_priority")
    assert_allclose(dp["alloc"][evening] / DT, [[9000.0, 11000.0]] * 30)
    fc2 = run([car("07:00"), car("06:00")], HEADROOM, "first_come")
    assert_allclose(fc2["alloc"][evening] / DT, [[11000.0, 9000.0]] * 30)
    assert_array_equal(dp["unmet"], 0.0)


def test_second_car_paused_when_rest_below_p_min() -> None:
    """first_come: the rest after the first car is below p_min, so the second car pauses."""
    head = np.full(N, 12000.0 * DT)
    out = run([car(), car()], head, "first_come")
    evening = slice(tick("17:30"), tick("20:00"))
    assert_allclose(out["alloc"][evening, 0], 11000.0 * DT)
    assert_array_equal(out["alloc"][evening, 1], 0.0)
    assert_array_equal(out["paused"][evening, 1], 1.0)


# --------------------------------------------------------------------------- p_min rule


def sessions_now(k: int, remaining: float = 30 * KWH, departure_tick: int = 1000) -> list:
    return [ActiveSession(arrival_tick=k, departure_tick=departure_tick, remaining=remaining,
                          capacity=60 * KWH, soc_start=0.2, arrival=float(k))]


def test_headroom_below_p_min_pauses() -> None:
    """A lone charger with less than p_min of headroom is paused; above p_min it is throttled."""
    head = np.array([1000.0, 1399.0, 1400.0, 5000.0, 20000.0, -3000.0]) * DT
    ch = [ChargerWindow("a", CP, sessions_now(0))]
    for strategy in STRATEGIES:
        out = manage(ch, head, DT, strategy)
        assert_allclose(out["alloc"][:, 0] / DT, [0, 0, 1400, 5000, 11000, 0])
        assert_array_equal(out["paused"][:, 0], [1, 1, 0, 0, 0, 1])
        assert_allclose(out["throttled"][:, 0] / DT, [11000, 11000, 9600, 6000, 0, 11000])


def test_equal_share_pauses_last_arrived() -> None:
    """Equal share below p_min pauses the last arrival until the others get p_min."""
    ch = [ChargerWindow(f"c{i}", CP, sessions_now(-i)) for i in range(3)]  # c2 arrived first
    out = manage(ch, np.array([3000.0, 4000.0, 4500.0, 40000.0]) * DT, DT, "equal_share")
    assert_allclose(out["alloc"] / DT, [[0, 1500, 1500], [0, 2000, 2000],
                                        [1500, 1500, 1500], [11000, 11000, 11000]])


def test_never_below_p_min_random() -> None:
    """Random headroom: never an allocation in (0, p_min*dt), never above limits or headroom."""
    rng = np.random.default_rng(3)
    n = 400
    head = rng.uniform(-2000.0, 30000.0, n) * DT
    cps = [CP, ChargePoint(7400.0), ChargePoint(22000.0, p_min=4200.0, efficiency=0.9)]
    chargers = [ChargerWindow(f"c{i}", cp, [
        ActiveSession(int(rng.integers(0, 50)), int(rng.integers(100, 300)), 25 * KWH, 60 * KWH,
                      0.3, arrival=float(i)),
        ActiveSession(310, 390, 8 * KWH, 40 * KWH, 0.5, arrival=1e6 + i)])
        for i, cp in enumerate(cps)]
    for strategy in STRATEGIES:
        out = manage(chargers, head, DT, strategy)
        a = out["alloc"]
        assert (a.sum(axis=1) <= np.maximum(head, 0.0) + 1e-6).all()
        for c, ch in enumerate(chargers):
            on = a[:, c] > 0
            # Only a finishing top-up may go below p_min: it then equals the car's whole need.
            low = on & (a[:, c] < ch.cp.p_min * DT * (1 - 1e-9))
            assert_allclose(a[low, c], out["wanted"][low, c])
            assert (a[:, c] <= ch.cp.p_max * DT * (1 + 1e-12)).all()
            advance(ch.cp, ch.sessions, a[:, c], DT)  # the device accepts the allocation


# --------------------------------------------------------------------------- PV surplus


def pv(n: int, peak: float) -> np.ndarray:
    """A noon bell of PV surplus over a day starting at local noon [J]."""
    hours = 12.0 + np.arange(n) * DT / 3600.0
    return np.clip(peak * np.cos((hours % 24 - 13.0) / 6.0 * np.pi / 2), 0.0, None) * DT


def test_surplus_only_ample_time() -> None:
    """With plenty of time the car charges only from PV surplus, and not below p_min."""
    n = 2 * N
    surplus = pv(n, 6000.0)
    head = np.full(n, 40000.0 * DT)
    ch = [ChargerWindow("home", CP, sessions_now(0, remaining=15 * KWH, departure_tick=n + 500))]
    out = manage(ch, head, DT, pv_surplus=surplus, surplus_only=True)
    a = out["alloc"][:, 0]
    assert (a[surplus == 0] == 0).all()
    assert (a <= surplus + 1e-9).all()
    assert ((a == 0) | (a >= CP.p_min * DT)).all()
    assert a.sum() > 0.5 * 15 * KWH / CP.efficiency
    assert a[(surplus > 0) & (surplus < CP.p_min * DT)].sum() == 0


def test_surplus_only_must_take_from_grid() -> None:
    """Near departure without PV the car takes what it must from the grid, just in time."""
    n = 72  # six hours of night
    dep = 60
    rem = 30 * KWH
    ch = [ChargerWindow("home", CP, sessions_now(0, remaining=rem, departure_tick=dep))]
    out = manage(ch, np.full(n, 40000.0 * DT), DT, pv_surplus=np.zeros(n), surplus_only=True)
    a = out["alloc"][:, 0]
    need_ticks = rem / CP.efficiency / (CP.p_max * DT)
    first = int(np.flatnonzero(a)[0])
    assert first == dep - int(np.ceil(need_ticks))  # latest start
    assert_allclose(a[first + 1:dep], CP.p_max * DT)
    assert_allclose(a.sum() * CP.efficiency, rem)
    res = advance(CP, ch[0].sessions, a, DT)
    assert res["unmet"].sum() == 0.0
    # Not surplus-only: the same car charges at once.
    eager = manage(ch, np.full(n, 40000.0 * DT), DT)["alloc"][:, 0]
    assert eager[0] == CP.p_max * DT


def test_surplus_only_requires_surplus() -> None:
    """surplus_only without pv_surplus, unknown strategies and bad shapes raise ValueError."""
    ch = [ChargerWindow("a", CP, sessions_now(0))]
    with pytest.raises(ValueError, match="pv_surplus"):
        manage(ch, np.ones(3), DT, surplus_only=True)
    with pytest.raises(ValueError, match="strategy"):
        manage(ch, np.ones(3), DT, "random")
    with pytest.raises(ValueError):
        manage(ch, np.ones((3, 2)), DT)


# --------------------------------------------------------------------------- windows


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("surplus_only", [False, True])
def test_window_split_invariance(strategy: str, surplus_only: bool) -> None:
    """One 24 h window equals 24 one-hour windows (and 288 single ticks) chained by state."""
    three = [car("06:00"), car("07:00", "17:40"),
             commuter_sessions(5, "ev3", TZ, T0, T0 + N * DT)]
    head = HEADROOM * 0.8
    surplus = pv(N, 8000.0) if surplus_only else None
    one = run(three, head, strategy, 1, surplus, surplus_only)
    assert one["delivered"].sum() > 0
    for n_windows in (24, N):
        many = run(three, head, strategy, n_windows, surplus, surplus_only)
        for key, value in one.items():
            assert_allclose(many[key], value, rtol=1e-12, atol=1e-9, err_msg=key)


@settings(max_examples=40, deadline=None)
@given(
    kw=st.lists(st.floats(-5.0, 30.0), min_size=N // 4, max_size=N // 4),
    cut=st.integers(1, N - 1),
    strategy=st.sampled_from(STRATEGIES),
)
def test_split_anywhere_property(kw: list[float], cut: int, strategy: str) -> None:
    """Any headroom, split at any tick: same allocation, balance holds, soc stays in [0, 1]."""
    head = np.repeat(np.asarray(kw) * 1000.0 * DT, 4)
    three = [car("06:00"), car("07:00", "17:40"), car("07:00", "13:00")]
    one = run(three, head, strategy)
    m = {"alloc": [], "delivered": [], "unmet": []}
    states: list = [None] * 3
    for lo, hi in ((0, cut), (cut, N)):
        t0 = T0 + lo * DT
        chargers = [ChargerWindow(f"ev{c}", CP, window_sessions(s, states[c], t0, DT, hi - lo))
                    for c, s in enumerate(three)]
        res = manage(chargers, head[lo:hi], DT, strategy)
        outs = [advance(CP, ch.sessions, res["alloc"][:, c], DT) for c, ch in enumerate(chargers)]
        states = [o["state"] for o in outs]
        m["alloc"].append(res["alloc"])
        m["delivered"].append(np.stack([o["delivered"] for o in outs], axis=1))
        m["unmet"].append(np.stack([o["unmet"] for o in outs], axis=1))
    for key, parts in m.items():
        assert_allclose(np.concatenate(parts), one[key], rtol=1e-12, atol=1e-9, err_msg=key)
    assert (one["alloc"].sum(axis=1) <= np.maximum(head, 0.0) + 1e-6).all()
    # every car: delivered + unmet = 40 kWh
    assert_allclose(one["delivered"].sum(axis=0) + one["unmet"].sum(axis=0), 40 * KWH)
    soc = one["soc"][~np.isnan(one["soc"])]
    assert ((soc >= 0.0) & (soc <= 1.0 + 1e-12)).all()
