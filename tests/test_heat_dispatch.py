"""Heat node dispatch with the new heat-pump behaviour: the buffer's charging temperature,
EN 14825 part load and its cycling loss, and the occupants' response."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from homesim.devices.models.buffer import Buffer
from homesim.devices.models.comfort import OccupantResponse, simulate_occupied
from homesim.devices.models.heatnode import (
    DispatchInputs,
    DispatchPlant,
    HeatPumpOffer,
    dispatch,
)
from homesim.devices.models.heatpump_partload import part_load_electric
from homesim.devices.models.zone import Element, zone_constants

DT = 900.0
ZONE = zone_constants(70.0, 2.6, [Element(6.0, 1.3, kind="window"), Element(50.0, 0.35)])
BUFFER = Buffer(volume=0.5, t_min=35.0, t_max=60.0, ua=2.0)


def one_flat(n: int, theta_e: float | np.ndarray = -2.0, phi_sol: float | np.ndarray = 0.0,
             **kw) -> DispatchInputs:
    te = np.broadcast_to(np.asarray(theta_e, float), (n,)).copy()
    sol = np.broadcast_to(np.asarray(phi_sol, float), (n,)).reshape(n, 1).copy()
    return DispatchInputs(zones=[ZONE], coupling=np.zeros((1, 1)), theta_m0=np.array([20.0]),
                          dt=DT, theta_e=te, theta_g=10.0, h_ve=np.full((n, 1), 40.0),
                          phi_int=np.full((n, 1), 200.0), phi_sol=sol,
                          setpoint=np.full((n, 1), 20.0), **kw)


def offer(n: int, p: float, cop: float, p_buf: float, cop_buf: float, m: float = 0.3,
          cd: float = 0.9) -> HeatPumpOffer:
    def a(x: float) -> np.ndarray:
        return np.full(n, x)
    return HeatPumpOffer(a(p), a(cop), p_th_max_buffer=a(p_buf), cop_buffer=a(cop_buf),
                         modulation_min=m, cd=cd)


def test_charging_the_buffer_takes_the_cop_at_its_temperature() -> None:
    """A tick that charges the buffer runs the heat pump at the buffer's COP; a tick that
    only heats the flats at the heating curve's."""
    n = 8
    hp = offer(n, 9000.0, 3.5, 8000.0, 2.4)
    d = dispatch(one_flat(n), DispatchPlant(heat_pumps=[hp], buffer=BUFFER))
    q, el, charging = d.hp_heat[:, 0], d.hp_el[:, 0], d.hp_buffer[:, 0] > 0
    assert charging.any()
    assert_allclose(el[charging], part_load_electric(q[charging], 8000.0 * DT, 2.4, 0.3),
                    rtol=1e-12)
    assert np.all(d.buffer_charge[charging] > 0) and np.all(d.buffer_charge[~charging] == 0)
    # without a buffer the same flats are heated at the curve's COP
    d0 = dispatch(one_flat(n), DispatchPlant(heat_pumps=[hp]))
    assert_allclose(d0.hp_el[:, 0], part_load_electric(d0.hp_heat[:, 0], 9000.0 * DT, 3.5,
                                                       0.3), rtol=1e-12)
    assert np.all(d0.hp_buffer == 0)


def test_no_charging_when_the_buffer_temperature_cannot_serve_the_flats() -> None:
    """If the heat pump gives less at the buffer's temperature than the flats take, it stays
    at the heating curve's temperature (no charging)."""
    n = 4
    hp = offer(n, 9000.0, 3.5, 100.0, 2.0)
    d = dispatch(one_flat(n, theta_e=-8.0), DispatchPlant(heat_pumps=[hp], buffer=BUFFER))
    assert np.all(d.hp_buffer == 0) and np.all(d.buffer_charge == 0)
    assert np.all(d.hp_heat[:, 0] > 100.0 * DT)


def test_no_charging_on_the_heating_rod() -> None:
    """Where the heat pump would run its heating rod at the buffer's temperature (COP 1) it
    does not charge the buffer."""
    n = 4
    hp = offer(n, 9000.0, 2.0, 9000.0, 1.0)
    d = dispatch(one_flat(n), DispatchPlant(heat_pumps=[hp], buffer=BUFFER))
    assert np.all(d.hp_buffer == 0) and np.all(d.buffer_charge == 0)
    assert np.all(d.hp_heat[:, 0] > 0)


def test_part_load_electricity_and_cycling_loss() -> None:
    """At low load the electricity follows EN 14825; the node's own balance closes, and where
    the part-load COP falls below 1 the electricity exceeds the heat."""
    n = 6
    hp = offer(n, 40000.0, 1.05, 40000.0, 1.05, m=0.5, cd=0.9)
    d = dispatch(one_flat(n, theta_e=15.0), DispatchPlant(heat_pumps=[hp]))
    q, el = d.hp_heat[:, 0], d.hp_el[:, 0]
    assert np.all(q > 0) and np.all(q < 0.5 * 40000.0 * DT)
    assert_allclose(el, part_load_electric(q, 40000.0 * DT, 1.05, 0.5, 0.9), rtol=1e-12)
    assert np.all(el > q)  # the cycling loss goes to ambient (heat_node shell)


def test_electricity_limit_holds_with_part_load() -> None:
    """The heat pumps never draw more than el_max, in either mode."""
    n = 6
    hp = offer(n, 9000.0, 3.0, 8000.0, 2.2)
    el_max = np.array([0.0, 50.0, 300.0, 900.0, 3000.0, 1e9]) * DT
    d = dispatch(one_flat(n, theta_e=-5.0),
                 DispatchPlant(heat_pumps=[hp], buffer=BUFFER, el_max=el_max))
    assert np.all(d.hp_el[:, 0] <= el_max * (1 + 1e-12))
    assert d.hp_el[0, 0] == 0.0


# ------------------------------------------------------------------ occupants

OCC = OccupantResponse(ach_boost=6.0, t_open=23.0, t_shade=23.0, shading_factor=0.2)


def summer(n: int) -> tuple[np.ndarray, np.ndarray]:
    k = np.arange(n)
    te = 24.0 + 8.0 * np.sin(2 * np.pi * (k - 36) / 96)  # 16 .. 32 °C, hottest at 15:00
    sol = 1500.0 * np.clip(np.sin(2 * np.pi * (k - 24) / 96), 0.0, None)
    return te, sol


def test_occupants_cool_a_summer_flat() -> None:
    """Windows open when the room is warm and the outdoor air cooler; blinds close: the flat
    stays cooler than without them."""
    n = 96 * 4
    te, sol = summer(n)
    hot = dispatch(one_flat(n, te, sol))
    cool = dispatch(one_flat(n, te, sol, response=[OCC]))
    assert cool.theta_air.max() < hot.theta_air.max() - 2.0
    assert cool.vent_boost.max() > 0 and cool.shading.min() == pytest.approx(0.2)
    prev = np.concatenate([[20.0], cool.theta_m[:-1, 0]])  # what the occupants react to
    warm_out = te > prev + 1e-9
    assert warm_out.any() and np.all(cool.vent_boost[warm_out, 0] == 0.0)


def test_occupants_zone_balance_closes() -> None:
    """With blinds, the solar kept out is booked to the outdoors: the zone's energy balance
    closes exactly (heat + gains - loss = c_m dθ_m)."""
    n = 96 * 2
    te, sol = summer(n)
    d = dispatch(one_flat(n, te, sol, response=[OCC]))
    tm = np.concatenate([[20.0], d.theta_m[:, 0]])
    gain = d.heat[:, 0] + (200.0 + sol) * DT - d.q_ambient[:, 0]
    assert_allclose(gain, ZONE.c_m * np.diff(tm), rtol=1e-9, atol=1e-3)


def test_flat_solve_matches_the_heat_node() -> None:
    """The flat's own solve (simulate_occupied, with the heat it was given) reproduces the
    heat node's room temperatures: one function, two callers."""
    n = 96 * 3
    te, sol = summer(n)
    te = te - 12.0  # cool enough to heat in the mornings
    inp = one_flat(n, te, sol, response=[OCC])
    d = dispatch(inp, DispatchPlant(heat_pumps=[offer(n, 9000.0, 3.5, 9000.0, 3.5)]))
    assert d.heat.sum() > 0 and d.vent_boost.max() > 0
    r = simulate_occupied(ZONE, 20.0, DT, te, 10.0, inp.h_ve[:, 0], inp.phi_int[:, 0],
                          inp.phi_sol[:, 0], inp.setpoint[:, 0], d.heat[:, 0] / DT,
                          np.zeros(n), OCC)
    assert_allclose(r["theta_air"], d.theta_air[:, 0], rtol=0, atol=1e-9)
    assert_allclose(r["theta_m"], d.theta_m[:, 0], rtol=0, atol=1e-9)
    assert_allclose(r["shading"], d.shading[:, 0], atol=1e-9)


def test_a_window_split_gives_the_same_result() -> None:
    """Windows of 1 tick and of the whole span agree (the occupants react to the state)."""
    n = 48
    te, sol = summer(n)
    whole = dispatch(one_flat(n, te, sol, response=[OCC]))
    tm = np.array([20.0])
    for k in range(n):
        one = DispatchInputs(zones=[ZONE], coupling=np.zeros((1, 1)), theta_m0=tm, dt=DT,
                             theta_e=te[k:k + 1], theta_g=10.0, h_ve=np.full((1, 1), 40.0),
                             phi_int=np.full((1, 1), 200.0), phi_sol=sol[k:k + 1, None],
                             setpoint=np.full((1, 1), 20.0), response=[OCC])
        d = dispatch(one)
        tm = d.theta_m[0]
        assert d.theta_air[0, 0] == whole.theta_air[k, 0]


def test_bad_response_inputs() -> None:
    with pytest.raises(ValueError, match="response"):
        one_flat(2, response=[OCC, OCC])
    with pytest.raises(ValueError, match="shading_factor"):
        OccupantResponse(shading_factor=1.5)
