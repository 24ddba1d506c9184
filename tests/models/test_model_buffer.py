"""Hot-water buffer tank: conservation, cooling curve, headroom, errors."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from homesim.devices.models.buffer import (
    C_P_WATER,
    RHO_WATER,
    Buffer,
    buffer_headroom,
    buffer_step,
    buffer_trajectory,
)


@pytest.fixture
def tank() -> Buffer:
    return Buffer(volume=0.3, t_min=20.0, t_max=80.0, ua=2.0)


def test_capacity_and_temperature(tank) -> None:
    """capacity = rho c_p V (t_max - t_min); temperature maps 0 and capacity to the bounds."""
    assert tank.capacity == pytest.approx(RHO_WATER * C_P_WATER * 0.3 * 60.0, rel=1e-15)
    assert tank.temperature(0.0) == 20.0
    assert tank.temperature(tank.capacity) == pytest.approx(80.0, rel=1e-15)
    assert isinstance(tank.temperature(1e6), float)
    temps = tank.temperature(np.array([0.0, tank.capacity / 2]))
    assert temps == pytest.approx([20.0, 50.0])


@st.composite
def tanks(draw):
    t_min = draw(st.floats(10.0, 50.0))
    return Buffer(
        volume=draw(st.floats(0.05, 5.0)),
        t_min=t_min,
        t_max=t_min + draw(st.floats(5.0, 60.0)),
        ua=draw(st.floats(0.0, 10.0)),
        t_surround=draw(st.floats(0.0, 25.0)),  # may be warmer than t_min or even t_max
    )


@settings(max_examples=200, deadline=None)
@given(tank=tanks(), dt=st.floats(1.0, 3600.0), data=st.data())
def test_conservation_per_tick(tank, dt, data) -> None:
    """energy1 == energy0 + charge - discharge - loss (1e-9 relative), within headroom."""
    e = data.draw(st.floats(0.0, 1.0)) * tank.capacity
    for _ in range(20):
        cmax, dmax = buffer_headroom(tank, e, dt)
        assert cmax >= 0.0 and dmax >= 0.0
        c = data.draw(st.floats(0.0, 1.0)) * cmax if data.draw(st.booleans()) else 0.0
        d = data.draw(st.floats(0.0, 1.0)) * dmax if c == 0.0 else 0.0
        e1, loss = buffer_step(tank, e, c, d, dt)
        assert abs(e + c - d - loss - e1) <= 1e-9 * tank.capacity
        # the loss is the implicit one: at the end-of-tick temperature
        expected = tank.ua * dt * (tank.temperature(e1) - tank.t_surround)
        assert loss == pytest.approx(expected, rel=1e-9, abs=1e-9 * tank.capacity)
        tol = 1e-6 * tank.capacity
        if d > 0.0:
            assert e1 >= -tol
        if c > 0.0:
            assert e1 <= tank.capacity + tol
        # the room temperature is never overshot
        t0, t1 = tank.temperature(e), tank.temperature(e1)
        if c == d == 0.0:
            lo, hi = sorted((t0, tank.t_surround))
            assert lo - 1e-9 <= t1 <= hi + 1e-9
        e = e1


@pytest.mark.parametrize("dt", [900.0, 450.0])
def test_idle_cooling_curve(tank, dt) -> None:
    """An idle tank cools like T_s + (T0 - T_s) exp(-t / tau) within the backward-Euler error."""
    horizon = 3 * 86400.0
    n = int(horizon / dt)
    energy, losses = buffer_trajectory(tank, tank.capacity, np.zeros(n), np.zeros(n), dt)
    temp = tank.temperature(energy)
    tau = tank.heat_capacity / tank.ua
    h = dt / tau
    k = np.arange(1, n + 1)
    theta0 = tank.t_max - tank.t_surround
    analytic = theta0 * np.exp(-k * h)
    numeric = temp - tank.t_surround
    # exactly the implicit recursion ...
    np.testing.assert_allclose(numeric, theta0 * (1 + h) ** -k, rtol=1e-9)
    # ... which cools a little slower than the exponential, by at most k h^2 / 2
    rel = numeric / analytic - 1.0
    assert np.all(rel >= -1e-12)
    assert np.all(rel <= k * h * h / 2 * 1.001 + 1e-12)
    assert rel[-1] > 0.25 * n * h * h / 2  # and the error is really first order
    assert np.all(losses > 0.0)
    assert losses.sum() == pytest.approx(tank.capacity - energy[-1], rel=1e-9)


def test_loss_is_negative_in_a_warmer_room() -> None:
    """A tank colder than its room gains heat: the loss is negative."""
    cold = Buffer(volume=0.2, t_min=5.0, t_max=60.0, ua=3.0, t_surround=20.0)
    e1, loss = buffer_step(cold, 0.0, 0.0, 0.0, 3600.0)
    assert loss < 0.0 and e1 == pytest.approx(-loss)


def test_headroom_is_respected(tank) -> None:
    """Charging charge_max fills exactly to capacity; discharging discharge_max empties to 0."""
    dt = 900.0
    e0 = 0.4 * tank.capacity
    cmax, dmax = buffer_headroom(tank, e0, dt)
    e_full, _ = buffer_step(tank, e0, cmax, 0.0, dt)
    assert e_full == pytest.approx(tank.capacity, rel=1e-12)
    e_empty, _ = buffer_step(tank, e0, 0.0, dmax, dt)
    assert e_empty == pytest.approx(0.0, abs=1e-9 * tank.capacity)
    with pytest.raises(ValueError, match="t_max"):
        buffer_step(tank, e0, cmax * 1.001, 0.0, dt)
    with pytest.raises(ValueError, match="t_min"):
        buffer_step(tank, e0, 0.0, dmax * 1.001, dt)


def test_idle_tank_may_cool_below_t_min(tank) -> None:
    """At energy 0 nothing can be discharged; idling cools below t_min without error."""
    cmax, dmax = buffer_headroom(tank, 0.0, 900.0)
    assert dmax == 0.0 and cmax > tank.capacity
    e1, loss = buffer_step(tank, 0.0, 0.0, 0.0, 900.0)
    assert e1 < 0.0 and loss == -e1 and tank.t_surround < tank.temperature(e1) < tank.t_min
    with pytest.raises(ValueError, match="t_min"):
        buffer_step(tank, e1, 0.0, 1.0, 900.0)
    assert buffer_headroom(tank, e1, 900.0)[1] == 0.0


def test_warm_room_may_heat_a_full_tank() -> None:
    """A full tank in a warmer room gains heat past t_max; charging it more raises."""
    warm = Buffer(volume=0.2, t_min=10.0, t_max=15.0, ua=3.0, t_surround=20.0)
    e1, loss = buffer_step(warm, warm.capacity, 0.0, 0.0, 3600.0)
    assert loss < 0.0 and e1 > warm.capacity
    assert buffer_headroom(warm, warm.capacity, 3600.0)[0] == 0.0
    with pytest.raises(ValueError, match="t_max"):
        buffer_step(warm, warm.capacity, 1.0, 0.0, 3600.0)


def test_trajectory_matches_steps(tank) -> None:
    """buffer_trajectory is buffer_step applied tick by tick."""
    rng = np.random.default_rng(1)
    charge = rng.uniform(0, 2e6, 50)
    discharge = rng.uniform(0, 2e6, 50)
    energy, losses = buffer_trajectory(tank, tank.capacity / 2, charge, discharge, 600.0)
    e = tank.capacity / 2
    for i in range(50):
        e, loss = buffer_step(tank, e, charge[i], discharge[i], 600.0)
        assert energy[i] == e and losses[i] == loss


@pytest.mark.parametrize(
    "kwargs",
    [
        {"volume": 0.0},
        {"t_max": 20.0},
        {"ua": -1.0},
        {"t_surround": math.nan},
    ],
)
def test_bad_buffer(kwargs) -> None:
    """Out-of-range fields raise ValueError naming the field."""
    base = {"volume": 0.3, "t_min": 20.0, "t_max": 80.0, "ua": 2.0}
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        Buffer(**(base | kwargs))


def test_step_errors(tank) -> None:
    """Negative flows, bad dt, non-finite energies and length mismatches raise ValueError."""
    with pytest.raises(ValueError, match="charge"):
        buffer_step(tank, 1e6, -1.0, 0.0, 60.0)
    with pytest.raises(ValueError, match="discharge"):
        buffer_step(tank, 1e6, 0.0, -1.0, 60.0)
    with pytest.raises(ValueError, match="dt"):
        buffer_step(tank, 1e6, 0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="energy0"):
        buffer_step(tank, math.nan, 0.0, 0.0, 60.0)
    with pytest.raises(ValueError, match="dt"):
        buffer_headroom(tank, 1e6, -1.0)
    with pytest.raises(ValueError, match="differ in length"):
        buffer_trajectory(tank, 1e6, np.zeros(3), np.zeros(2), 60.0)
    with pytest.raises(ValueError, match="tick 1"):
        buffer_trajectory(tank, 1e6, np.zeros(2), np.array([0.0, 1e9]), 60.0)
