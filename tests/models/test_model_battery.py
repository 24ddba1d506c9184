"""Battery storage: envelope, step, limits, trajectories."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from homesim.devices.models.battery import (
    BatteryEnvelope,
    storage_limits,
    storage_step,
    storage_trajectory,
)

etas = st.floats(0.5, 1.0)


@st.composite
def envelopes(draw):
    capacity = draw(st.floats(1e5, 1e9))
    lo = draw(st.floats(0.0, 0.5)) * capacity
    hi = lo + draw(st.floats(0.0, 1.0)) * (capacity - lo)
    energy = lo + draw(st.floats(0.0, 1.0)) * (hi - lo)
    return BatteryEnvelope(
        energy=energy, e_min=lo, e_max=hi,
        p_charge_max=draw(st.floats(0.0, 2e4)), p_discharge_max=draw(st.floats(0.0, 2e4)),
        eta_charge=draw(etas), eta_discharge=draw(etas),
    )


def test_step_published_example() -> None:
    """1 kWh in at 95 % stores 0.95 kWh and loses 0.05 kWh; out at 95 % costs 1/0.95."""
    e, loss = storage_step(0.0, 3.6e6, 0.0, 0.95, 0.95)
    assert e == pytest.approx(3.42e6) and loss == pytest.approx(0.18e6)
    e, loss = storage_step(3.42e6, 0.0, 1.8e6, 0.95, 0.95)
    assert e == pytest.approx(3.42e6 - 1.8e6 / 0.95)
    assert loss == pytest.approx(1.8e6 * (1 / 0.95 - 1))


@settings(max_examples=100, deadline=None)
@given(env=envelopes(), dt=st.floats(1.0, 3600.0), data=st.data())
def test_within_limits_stays_within_bounds(env, dt, data) -> None:
    """Charging or discharging within storage_limits keeps e_min <= energy <= e_max."""
    e = env.energy
    for _ in range(20):
        cmax, dmax = storage_limits(e, env, dt)
        assert cmax >= 0.0 and dmax >= 0.0
        assert cmax <= env.p_charge_max * dt and dmax <= env.p_discharge_max * dt
        if data.draw(st.booleans()):
            c, d = cmax * data.draw(st.sampled_from([0.0, 0.3, 1.0])), 0.0
        else:
            c, d = 0.0, dmax * data.draw(st.sampled_from([0.0, 0.7, 1.0]))
        e_new, loss = storage_step(e, c, d, env.eta_charge, env.eta_discharge)
        assert env.e_min <= e_new <= env.e_max
        assert abs(c - d - (e_new - e) - loss) <= 1e-9 + 1e-15 * env.e_max
        assert loss >= 0.0
        e = e_new


def test_limits_hit_bounds_exactly() -> None:
    """Full charge reaches e_max and full discharge reaches e_min (up to an ulp)."""
    env = BatteryEnvelope(5e6, 1e6, 36e6, 1e9, 1e9, 0.95, 0.9)
    cmax, dmax = storage_limits(env.energy, env, 60.0)
    e_full, _ = storage_step(env.energy, cmax, 0.0, 0.95, 0.9)
    e_empty, _ = storage_step(env.energy, 0.0, dmax, 0.95, 0.9)
    assert e_full <= 36e6 and math.isclose(e_full, 36e6, rel_tol=1e-15)
    assert e_empty >= 1e6 and math.isclose(e_empty, 1e6, rel_tol=1e-15)


@settings(max_examples=50, deadline=None)
@given(
    e0=st.floats(0.0, 1e8),
    flows=st.lists(st.tuples(st.floats(0.0, 1e6), st.floats(0.0, 1e6)), max_size=50),
    eta_c=etas, eta_d=etas,
)
def test_trajectory_is_bit_identical_to_steps(e0, flows, eta_c, eta_d) -> None:
    """storage_trajectory equals repeated storage_step bit for bit."""
    c = np.array([f[0] for f in flows])
    d = np.array([f[1] for f in flows])
    energies, losses = storage_trajectory(e0, c, d, eta_c, eta_d)
    e = e0
    for i in range(len(flows)):
        e, loss = storage_step(e, c[i], d[i], eta_c, eta_d)
        assert energies[i] == e and losses[i] == loss


def test_envelope_validation() -> None:
    """Invalid envelopes raise naming the field."""
    ok = {"energy": 1.0, "e_min": 0.0, "e_max": 2.0, "p_charge_max": 1.0,
          "p_discharge_max": 1.0, "eta_charge": 0.9, "eta_discharge": 0.9}
    for field, value in [("energy", 3.0), ("e_min", -1.0), ("e_max", -0.5),
                         ("p_charge_max", -1.0), ("eta_charge", 0.0),
                         ("eta_discharge", 1.1), ("energy", float("nan"))]:
        with pytest.raises(ValueError, match=field):
            BatteryEnvelope(**{**ok, field: value})
    env = BatteryEnvelope(**ok, capacity=4.0)
    assert env.nominal == 4.0 and env.soc == 0.25
    assert BatteryEnvelope(**ok).soc == 0.5


def test_trajectory_lengths() -> None:
    """Mismatched inputs raise; empty input gives empty output."""
    with pytest.raises(ValueError):
        storage_trajectory(0.0, np.zeros(2), np.zeros(3), 0.9, 0.9)
    e, loss = storage_trajectory(1.0, np.zeros(0), np.zeros(0), 0.9, 0.9)
    assert_array_equal(e, []) and len(loss) == 0
