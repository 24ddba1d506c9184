"""Gas condensing boiler: Reg. (EU) 813/2013 test points, efficiency curve, gas use."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from homesim.devices.models.boiler import Boiler


@pytest.fixture
def boiler() -> Boiler:
    return Boiler(p_th_max=20000.0)


@pytest.mark.parametrize("eta_full, eta_part, share", [(0.88, 0.96, 0.75), (0.9, 0.94, 0.3),
                                                       (0.87, 0.97, 0.0), (0.87, 0.97, 1.0)])
def test_passes_through_test_points(eta_full, eta_part, share) -> None:
    """eta(100 %, 60 °C) == eta_4 and eta(30 %, 30 °C) == eta_1 exactly."""
    b = Boiler(p_th_max=1e4, eta_full=eta_full, eta_part=eta_part, condensing_share=share)
    assert b.efficiency(1.0, 60.0) == eta_full
    assert b.efficiency(0.3, 30.0) == eta_part


def test_higher_return_lower_efficiency(boiler) -> None:
    """Efficiency falls as the return warms up to the dew point, flat above it."""
    t_ret = np.linspace(30.0, 55.0, 26)
    for load in (0.3, 0.6, 1.0):
        eta = boiler.efficiency(load, t_ret)
        assert np.all(np.diff(eta) < 0.0)
    assert boiler.efficiency(0.5, 55.0) == boiler.efficiency(0.5, 70.0)


def test_part_load_gain_and_cycling(boiler) -> None:
    """Lower load (down to 30 %) raises efficiency; below modulation_min it is frozen."""
    eta = boiler.efficiency(np.linspace(0.3, 1.0, 8), 45.0)
    assert np.all(np.diff(eta) < 0.0)
    assert boiler.efficiency(0.05, 45.0) == boiler.efficiency(0.2, 45.0)
    assert boiler.efficiency(0.0, 45.0) == boiler.efficiency(0.2, 45.0)


@settings(max_examples=200, deadline=None)
@given(load=st.floats(0.0, 1.0), t_ret=st.floats(-10.0, 95.0))
def test_bounded_between_test_points(load, t_ret) -> None:
    """The curve never leaves [eta_full, eta_part] (no extrapolation)."""
    eta = Boiler(p_th_max=1e4).efficiency(load, t_ret)
    assert 0.88 <= eta <= 0.96


def test_gas_times_efficiency_is_heat(boiler) -> None:
    """gas * eta == heat, and gas > heat."""
    dt = 900.0
    q = np.array([0.0, 0.1, 0.3, 0.7, 1.0]) * boiler.p_th_max * dt
    t_ret = np.array([30.0, 40.0, 50.0, 60.0, 70.0])
    gas = boiler.gas_energy(q, dt, t_ret)
    eta = boiler.efficiency(q / (boiler.p_th_max * dt), t_ret)
    assert_allclose(gas * eta, q, rtol=1e-15, atol=0)
    assert np.all(gas[1:] > q[1:]) and gas[0] == 0.0


def test_gas_published_point(boiler) -> None:
    """Full load at 80/60 °C for one hour: 20 kWh of heat needs 20 / 0.88 kWh of gas."""
    assert boiler.gas_energy(7.2e7, 3600.0, 60.0) == pytest.approx(7.2e7 / 0.88, rel=1e-15)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"p_th_max": 0.0},
        {"p_th_max": float("inf")},
        {"p_th_max": 1e4, "modulation_min": 0.0},
        {"p_th_max": 1e4, "modulation_min": 1.5},
        {"p_th_max": 1e4, "eta_full": 0.0},
        {"p_th_max": 1e4, "eta_part": 1.05},  # GCV basis: cannot exceed 1
        {"p_th_max": 1e4, "condensing_share": -0.1},
    ],
)
def test_bad_parameters(kwargs) -> None:
    """Out-of-range fields raise ValueError naming the field."""
    with pytest.raises(ValueError, match=next(k for k in kwargs if k != "p_th_max")
                       if len(kwargs) > 1 else "p_th_max"):
        Boiler(**kwargs)


def test_gas_energy_errors(boiler) -> None:
    """Negative heat, heat above p_th_max * dt, bad dt and bad loads raise ValueError."""
    with pytest.raises(ValueError, match="q_th"):
        boiler.gas_energy(-1.0, 60.0, 40.0)
    with pytest.raises(ValueError, match="q_th"):
        boiler.gas_energy(boiler.p_th_max * 60.0 * 1.001, 60.0, 40.0)
    with pytest.raises(ValueError, match="q_th"):
        boiler.gas_energy(np.nan, 60.0, 40.0)
    with pytest.raises(ValueError, match="dt"):
        boiler.gas_energy(1.0, 0.0, 40.0)
    with pytest.raises(ValueError, match="load_fraction"):
        boiler.efficiency(1.2, 40.0)
    with pytest.raises(ValueError, match="load_fraction"):
        boiler.efficiency(-0.1, 40.0)
    # rounding at full load is accepted
    assert boiler.gas_energy(boiler.p_th_max * 60.0 * (1 + 1e-12), 60.0, 60.0) > 0.0
