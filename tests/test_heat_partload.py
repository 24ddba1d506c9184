"""Heat pumps at part load (EN 14825 degradation) and on hplib's heating rod."""

import hplib.hplib as hpl
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from homesim.devices.models.heatpump import HeatPumpModel
from homesim.devices.models.heatpump_partload import (
    CD_DEFAULT,
    part_load_electric,
    thermal_for_electric,
)


def test_en14825_cycling_cop() -> None:
    """Below modulation_min the COP is EN 14825's COP * CR / (Cd CR + 1 - Cd), CR = L / m."""
    cop, q_max, m = 3.5, 1000.0, 0.3
    for load in (0.01, 0.05, 0.1, 0.2, 0.29):
        cr = load / m
        cop_pl = cop * cr / (CD_DEFAULT * cr + 1.0 - CD_DEFAULT)
        e = part_load_electric(load * q_max, q_max, cop, m)
        assert float(e) == pytest.approx(load * q_max / cop_pl, rel=1e-13)


def test_modulating_range_and_no_degradation() -> None:
    """Between modulation_min and full load, and with cd = 1, electricity = heat / COP."""
    q = np.array([300.0, 500.0, 1000.0])
    assert_allclose(part_load_electric(q, 1000.0, 4.0, 0.3), q / 4.0, rtol=1e-15)
    low = np.array([1.0, 50.0, 299.0])
    assert_allclose(part_load_electric(low, 1000.0, 4.0, 0.3, cd=1.0), low / 4.0, rtol=1e-15)


def test_continuous_at_modulation_min_and_increasing() -> None:
    """The electricity is continuous at L = modulation_min and rises with the heat."""
    q = np.linspace(0.0, 1000.0, 2001)[1:]
    e = part_load_electric(q, 1000.0, 3.0, 0.4, 0.9)
    assert np.all(np.diff(e) > 0)
    below = part_load_electric(400.0 * (1 - 1e-12), 1000.0, 3.0, 0.4, 0.9)
    assert float(below) == pytest.approx(400.0 / 3.0, rel=1e-10)


def test_rod_and_off() -> None:
    """On the heating rod (cop <= 1) electricity = heat, no cycling loss; off (cop 0) or
    no heat gives 0."""
    assert_allclose(part_load_electric([10.0, 900.0], 1000.0, 1.0, 0.3), [10.0, 900.0])
    assert_allclose(part_load_electric([0.0, 0.0], [1000.0, 0.0], [3.0, 0.0], 0.3), 0.0)


def test_cycling_loss_can_exceed_the_heat() -> None:
    """With a low COP and a tiny capacity ratio the part-load COP falls below 1."""
    e = float(part_load_electric(1.0, 1000.0, 1.1, 0.3, 0.9))
    assert e > 1.0


@given(e=st.floats(0.0, 2000.0), cop=st.floats(1.01, 8.0), m=st.floats(0.05, 1.0),
       cd=st.floats(0.05, 1.0), q_max=st.floats(1.0, 5000.0))
def test_thermal_for_electric_inverts(e, cop, m, cd, q_max) -> None:
    """thermal_for_electric gives the largest heat whose electricity fits the budget."""
    q = thermal_for_electric(e, q_max, cop, m, cd)
    assert 0.0 <= q <= q_max
    if q > 0:
        used = float(part_load_electric(q, q_max, cop, m, cd))
        assert used <= e * (1 + 1e-9) + 1e-9
        if q < q_max * (1 - 1e-9):  # not capped by q_max: the budget is spent
            assert used == pytest.approx(e, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("cd", [0.0, -0.1, 1.1, float("nan")])
def test_bad_cd_is_refused(cd) -> None:
    with pytest.raises(ValueError, match="cd"):
        part_load_electric(1.0, 2.0, 3.0, 0.5, cd)
    with pytest.raises(ValueError, match="cd"):
        HeatPumpModel("Generic", p_th_ref=1e4, cd=cd)


def test_heating_rod_is_hplibs() -> None:
    """Where hplib's fitted COP is <= 1 (generic air/water at -10 °C / 55 °C) the model gives
    hplib's own heating-rod output (p_th = p_el = p_th_ref, COP 1) and marks it."""
    params = hpl.get_parameters("Generic", group_id=1, t_in=-7.0, t_out=52.0, p_th=10000.0)
    ts = np.array([-10.0, -5.0, 0.0])
    res = hpl.HeatPump(params).simulate(ts, np.full(3, 50.0), ts, mode=1)
    hp = HeatPumpModel("Generic", group_id=1, p_th_ref=10000.0)
    perf = hp.performance(ts, 55.0)
    assert_allclose(perf.p_th_max, res["P_th"], rtol=1e-12)
    assert_allclose(perf.p_el_max, res["P_el"], rtol=1e-12)
    assert_allclose(perf.cop, res["COP"], rtol=1e-12)
    assert perf.rod.tolist() == [True, False, False]
    assert perf.p_th_max[0] == perf.p_el_max[0] == pytest.approx(hp.p_th_ref, rel=1e-12)
    # the rod converts 1:1 at any part load
    assert_allclose(hp.electric_power(np.array([100.0, 0, 0]), perf)[0], 100.0)


def test_heating_rod_off() -> None:
    """heating_rod=False: the heat pump is off where hplib would run its rod."""
    hp = HeatPumpModel("Generic", group_id=1, p_th_ref=10000.0, heating_rod=False)
    perf = hp.performance(np.array([-10.0, 0.0]), 55.0)
    assert perf.p_th_max[0] == perf.cop[0] == perf.p_el_max[0] == 0.0
    assert perf.p_th_max[1] > 0 and not perf.rod.any()


def test_on_off_groups_cycle_below_full_load() -> None:
    """hplib's on/off groups (4-6) have no continuous part load: modulation_min is 1."""
    hp = HeatPumpModel("Generic", group_id=4, p_th_ref=10000.0, modulation_min=0.3)
    assert hp.modulation_min == 1.0
    perf = hp.performance(np.array([7.0]), 35.0)
    half = 0.5 * perf.p_th_max
    cop_pl = perf.cop * 0.5 / (0.9 * 0.5 + 0.1)
    assert_allclose(hp.electric_power(half, perf), half / cop_pl, rtol=1e-12)
