"""Heat pumps: hplib's own outputs, cut-off, part load, and the heating curve."""

import hplib.hplib as hpl
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from homesim.devices.models.heatpump import (
    HeatPumpModel,
    Performance,
    heating_curve,
    model_names,
)

KEYMARK_AIR = "i-SHWAK V4 08"  # Advantix, air/water regulated (group 1)
KEYMARK_BRINE = "Bosch Compress 7000 LW 22"  # Bosch, brine/water regulated (group 2)


@pytest.fixture(scope="module")
def generic() -> HeatPumpModel:
    return HeatPumpModel("Generic", group_id=1, p_th_ref=10000.0)


def _grid() -> tuple[np.ndarray, np.ndarray]:
    ts, tf = np.meshgrid(np.arange(-15.0, 16.0), np.array([35.0, 45.0, 55.0]))
    return ts, tf


def _assert_same(perf: Performance, res: dict) -> None:
    assert_allclose(perf.p_th_max, res["P_th"], rtol=1e-12, atol=0)
    assert_allclose(perf.p_el_max, res["P_el"], rtol=1e-12, atol=0)
    assert_allclose(perf.cop, res["COP"], rtol=1e-12, atol=0)


def test_generic_matches_hplib(generic) -> None:
    """Generic group 1 at 10 kW equals hplib's HeatPump.simulate over a grid of temperatures."""
    ts, tf = _grid()
    params = hpl.get_parameters("Generic", group_id=1, t_in=-7.0, t_out=52.0, p_th=10000.0)
    res = hpl.HeatPump(params).simulate(ts.ravel(), tf.ravel() - 5.0, ts.ravel(), mode=1)
    perf = generic.performance(ts, tf)
    assert perf.p_th_max.shape == ts.shape
    _assert_same(
        Performance(perf.p_th_max.ravel(), perf.p_el_max.ravel(), perf.cop.ravel()), res
    )
    assert generic.p_th_ref == pytest.approx(float(params["P_th_h_ref [W]"].iloc[0]), rel=1e-12)


def test_generic_rated_at_reference_point(generic) -> None:
    """p_th_ref is the output at hplib's reference point A-7/W52."""
    perf = generic.performance(-7.0, 52.0)
    assert float(perf.p_th_max) == pytest.approx(10000.0, rel=1e-6)


@pytest.mark.parametrize("name", [KEYMARK_AIR, KEYMARK_BRINE])
def test_keymark_model_matches_hplib(name) -> None:
    """A named Keymark heat pump equals hplib's outputs (brine: hplib's t_amb = -7 °C)."""
    hp = HeatPumpModel(name)
    ts, tf = _grid()
    if name == KEYMARK_BRINE:
        ts = ts / 3.0  # brine between -5 and 5 °C
    params = hpl.get_parameters(name)
    t_amb = ts.ravel() if hp.air_source else np.full(ts.size, -7.0)
    res = hpl.HeatPump(params).simulate(ts.ravel(), tf.ravel() - 5.0, t_amb, mode=1)
    perf = hp.performance(ts.ravel(), tf.ravel())
    _assert_same(perf, res)
    assert hp.group_id == int(params["Group"].iloc[0])
    assert hp.p_th_ref == float(params["P_th_h_ref [W]"].iloc[0])


def test_brine_ambient_is_passed_through() -> None:
    """For brine/water the outdoor temperature goes to hplib as t_amb."""
    hp = HeatPumpModel(KEYMARK_BRINE)
    res = hpl.HeatPump(hpl.get_parameters(KEYMARK_BRINE)).simulate(
        np.array([0.0]), np.array([30.0]), np.array([5.0])
    )
    perf = hp.performance(0.0, 35.0, t_amb=5.0)
    assert_allclose(perf.cop, res["COP"][0], rtol=1e-12)


def test_scalar_inputs_give_0d_arrays(generic) -> None:
    """Scalars in, 0-d arrays out, same values as the array call."""
    perf = generic.performance(2.0, 45.0)
    arr = generic.performance(np.array([2.0]), np.array([45.0]))
    assert perf.cop.shape == ()
    assert float(perf.cop) == arr.cop[0]


def test_delta_t_only_moves_the_return(generic) -> None:
    """The fit is evaluated at the requested flow temperature whatever delta_t is."""
    other = HeatPumpModel("Generic", group_id=1, p_th_ref=10000.0, delta_t=8.0)
    ts, tf = _grid()
    a, b = generic.performance(ts, tf), other.performance(ts, tf)
    assert_allclose(b.cop, a.cop, rtol=1e-12)
    assert_allclose(b.p_th_max, a.p_th_max, rtol=1e-12)


def test_cutoff_gives_zeros(generic) -> None:
    """Below t_cutoff nothing runs; at t_cutoff it still does."""
    perf = generic.performance(np.array([-30.0, -20.01, -20.0]), 35.0)
    assert_array_equal(perf.p_th_max[:2], 0.0)
    assert_array_equal(perf.p_el_max[:2], 0.0)
    assert_array_equal(perf.cop[:2], 0.0)
    assert perf.p_th_max[2] > 0.0 and perf.cop[2] >= 1.0
    warm = HeatPumpModel("Generic", group_id=1, p_th_ref=10000.0, t_cutoff=5.0)
    assert_array_equal(warm.performance(np.array([4.9]), 35.0).cop, 0.0)


@pytest.mark.parametrize("name", ["Generic", KEYMARK_AIR])
def test_cop_physics(name) -> None:
    """COP falls as the flow temperature rises and rises with the source temperature."""
    hp = HeatPumpModel(name, p_th_ref=10000.0 if name == "Generic" else None)
    ts, tf = np.meshgrid(np.arange(-5.0, 16.0), np.arange(35.0, 56.0))
    cop = hp.performance(ts, tf).cop
    assert np.all(cop > 1.0)  # away from hplib's heating-rod fallback
    assert np.all(np.diff(cop, axis=0) < 0.0)  # along flow temperature
    assert np.all(np.diff(cop, axis=1) > 0.0)  # along source temperature


def test_unknown_model_lists_close_matches() -> None:
    """An unknown name fails with up to 5 close matches from the database."""
    with pytest.raises(ValueError, match="unknown heat pump") as exc:
        HeatPumpModel("i-SHWAK V4 8")
    msg = str(exc.value)
    assert KEYMARK_AIR in msg
    assert msg.count("'i-SHWAK") <= 6  # the unknown name itself + at most 5 matches
    assert KEYMARK_AIR in model_names() and "Generic" not in model_names()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"model": "Generic"},  # p_th_ref missing
        {"model": "Generic", "p_th_ref": -1.0},
        {"model": "Generic", "p_th_ref": 1e4, "group_id": 3},  # no generic group 3 in hplib
        {"model": "Generic", "p_th_ref": 1e4, "group_id": 7},
        {"model": KEYMARK_AIR, "p_th_ref": 1e4},  # rated output comes from the database
        {"model": "Generic", "p_th_ref": 1e4, "modulation_min": 0.0},
        {"model": "Generic", "p_th_ref": 1e4, "delta_t": 0.0},
        {"model": "Generic", "p_th_ref": 1e4, "t_cutoff": float("nan")},
    ],
)
def test_constructor_errors(kwargs) -> None:
    """Bad constructor arguments raise ValueError."""
    with pytest.raises(ValueError):
        HeatPumpModel(**kwargs)


def test_electric_power_part_load(generic) -> None:
    """p_el = p_th / cop, full load gives p_el_max, zero gives zero, also when cut off."""
    perf = generic.performance(np.array([-30.0, 0.0, 7.0]), np.array([35.0, 45.0, 35.0]))
    assert_allclose(generic.electric_power(perf.p_th_max, perf), perf.p_el_max, rtol=1e-12)
    half = 0.5 * perf.p_th_max
    assert_allclose(generic.electric_power(half, perf), 0.5 * perf.p_el_max, rtol=1e-12)
    low = 0.1 * perf.p_th_max  # below modulation_min: cycling, EN 14825 with Cd = 0.9
    cr = 0.1 / 0.3
    cop_pl = perf.cop[1:] * cr / (0.9 * cr + 1 - 0.9)
    assert_allclose(generic.electric_power(low, perf)[1:], low[1:] / cop_pl, rtol=1e-12)
    assert_array_equal(generic.electric_power(np.zeros(3), perf), 0.0)


@pytest.mark.parametrize("factor, offset", [(1.0, 1.0), (1.001, 0.0), (0.0, -1.0)])
def test_electric_power_errors(generic, factor, offset) -> None:
    """Above p_th_max (beyond rounding) or negative thermal output raises ValueError."""
    perf = generic.performance(np.array([0.0, 7.0]), 35.0)
    with pytest.raises(ValueError, match="p_th"):
        generic.electric_power(perf.p_th_max * factor + offset, perf)


def test_electric_power_rejects_heat_when_cut_off(generic) -> None:
    """No heat can be asked for below the cut-off."""
    perf = generic.performance(np.array([-25.0]), 35.0)
    with pytest.raises(ValueError):
        generic.electric_power(np.array([100.0]), perf)
    with pytest.raises(ValueError):
        generic.electric_power(np.array([np.nan]), perf)


def test_parameters_are_cached() -> None:
    """A second Generic heat pump of the same size skips hplib's database read and fit."""
    from homesim.devices.models import heatpump

    HeatPumpModel("Generic", group_id=2, p_th_ref=8000.0)
    hits = heatpump._hplib_parameters.cache_info().hits
    HeatPumpModel("Generic", group_id=2, p_th_ref=8000.0)
    assert heatpump._hplib_parameters.cache_info().hits == hits + 1


class TestHeatingCurve:
    def test_design_point(self) -> None:
        """At the design outdoor temperature (and colder) the flow is t_flow_design."""
        assert_array_equal(heating_curve(np.array([-10.0, -15.0, -30.0])), 55.0)

    def test_room_temperature(self) -> None:
        """At temp_room the curve reaches temp_room, clipped to t_flow_min."""
        assert heating_curve(20.0) == 25.0
        assert heating_curve(20.0, t_flow_min=20.0) == 20.0
        assert heating_curve(30.0, t_flow_min=0.0) == 20.0

    def test_value(self) -> None:
        """Half-way in outdoor temperature: 20 + 35 * 0.5 ** (1 / 1.3)."""
        assert heating_curve(5.0) == pytest.approx(20.0 + 35.0 * 0.5 ** (1 / 1.3), rel=1e-12)
        # floor heating: exponent 1.1, 35 °C design
        assert heating_curve(5.0, t_flow_design=35.0, exponent=1.1) == pytest.approx(
            20.0 + 15.0 * 0.5 ** (1 / 1.1), rel=1e-12
        )

    def test_monotone(self) -> None:
        """The flow temperature never rises with the outdoor temperature."""
        t = np.linspace(-30.0, 35.0, 651)
        flow = heating_curve(t)
        assert np.all(np.diff(flow) <= 0.0)
        assert np.all((flow >= 25.0) & (flow <= 55.0))
        assert flow.shape == t.shape

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"exponent": 0.0},
            {"temp_air_design": 20.0},
            {"t_flow_design": 20.0},
            {"t_flow_min": 60.0},
        ],
    )
    def test_errors(self, kwargs) -> None:
        """Inconsistent parameters raise ValueError."""
        with pytest.raises(ValueError):
            heating_curve(0.0, **kwargs)
