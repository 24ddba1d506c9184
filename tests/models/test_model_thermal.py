"""Multi-zone 5R1C thermal model: constants, step response, steady state, coupling, thermostat."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from homesim.devices.models.thermal_network import simulate, solve_tick
from homesim.devices.models.zone import (
    RHO_C_AIR,
    Element,
    Zone,
    facade_irradiance,
    solar_gains,
    ventilation_conductance,
    zone_constants,
)

# A 60 m2 flat, 2.5 m high (150 m3), medium class, numbers that can be checked by hand:
#   windows   12 m2 x 1.3 W/(m2 K)                  -> H_tr_w = 15.6 W/K
#   facade    45 m2 x 0.4 W/(m2 K)                  -> 18 W/K
#   staircase 20 m2 x 1.0 W/(m2 K) x b = 0.5        -> 10 W/K    (H_op = 28 W/K)
#   floor     60 m2 x 0.3 W/(m2 K) on the ground    -> H_g = 18 W/K
#   A_m = 150 m2, A_t = 270 m2, C_m = 9.9e6 J/K, H_tr_ms = 1365, H_tr_is = 931.5 W/K,
#   H_tr_em = 1 / (1/28 - 1/1365) = 28.58638743... W/K
#   0.5 air changes per hour: H_ve = 1200 * 150 * 0.5 / 3600 = 25 W/K
FLAT = [
    Element(12.0, 1.3, kind="window"),
    Element(45.0, 0.4),
    Element(20.0, 1.0, b=0.5),
    Element(60.0, 0.3, boundary="ground"),
]
H_VE = 25.0


def flat(**kw) -> Zone:
    return zone_constants(60.0, 2.5, FLAT, **kw)


def run(zones, coupling, theta_m0, dt, theta_e, theta_g=10.0, h_ve=H_VE, phi_int=0.0,
        phi_sol=0.0, setpoint=20.0, **kw):
    """simulate() with scalars or (n,) series broadcast to (n, N)."""
    theta_e = np.asarray(theta_e, dtype=float)
    shape = theta_e.shape + (len(zones),)

    def full(x):
        x = np.asarray(x, dtype=float)
        return np.array(np.broadcast_to(x if x.ndim != 1 or x.shape == shape[1:]
                                        else x[:, None], shape))

    extra = {k: None if v is None else full(v) for k, v in kw.items()}
    return simulate(zones, np.asarray(coupling, dtype=float), np.full(len(zones), theta_m0)
                    if np.ndim(theta_m0) == 0 else theta_m0, dt, theta_e, theta_g, full(h_ve),
                    full(phi_int), full(phi_sol), full(setpoint), **extra)


def energy_residual(zones, out, theta_m0, dt, phi_int, phi_sol, phi_m_ext=0.0):
    """Per tick and zone: balance residual and throughput [J] of the energy identity."""
    c_m = np.array([z.c_m for z in zones])
    tm_prev = np.vstack([np.asarray(theta_m0, dtype=float)[None, :], out["theta_m"][:-1]])
    stored = c_m * (out["theta_m"] - tm_prev)
    q_c = out["q_couple"].sum(axis=2)
    inflow = dt * (out["phi_hc"] + phi_int + phi_sol + phi_m_ext - out["q_ambient"] - q_c)
    through = dt * (np.abs(out["phi_hc"]) + np.abs(phi_int) + np.abs(phi_sol)
                    + np.abs(phi_m_ext) + np.abs(out["q_ambient"])
                    + np.abs(out["q_couple"]).sum(axis=2)) + np.abs(stored)
    return inflow - stored, through


def test_zone_constants_by_hand():
    """zone_constants reproduces the hand-computed ISO 13790 constants of the 60 m2 flat."""
    z = flat(phi_hc_max=5000.0)
    assert (z.floor_area, z.volume, z.a_m, z.a_t) == (60.0, 150.0, 150.0, 270.0)
    assert z.c_m == 165_000.0 * 60
    assert_allclose([z.h_tr_is, z.h_tr_w, z.h_tr_ms, z.h_g], [931.5, 15.6, 1365.0, 18.0])
    assert_allclose(z.h_tr_em, 28.586387434554974, rtol=1e-14)
    # H_tr_em in series with H_tr_ms is H_op (ISO 13790 eq. 63).
    assert_allclose(1 / (1 / z.h_tr_em + 1 / z.h_tr_ms), 28.0, rtol=1e-14)
    assert z.phi_hc_max == 5000.0
    heavy = flat(thermal_class="very_heavy")
    assert (heavy.a_m, heavy.c_m) == (3.5 * 60, 370_000.0 * 60)
    assert zone_constants(60.0, 2.5, []).h_tr_em == 0.0


def test_ventilation_conductance():
    """H_ve = rho c V n / 3600, with a wind term, keeping the wind array's shape."""
    assert RHO_C_AIR == 1200.0
    h = ventilation_conductance(150.0, 0.3, 0.2, np.array([0.0, 5.0]), wind_coeff=0.04)
    assert_allclose(h, [25.0, 1200 * 150 * 0.7 / 3600])
    assert ventilation_conductance(150.0, 0.5, 0.0, np.zeros((2, 3))).shape == (2, 3)


# --- 1. analytical step response ------------------------------------------------------------

def time_constant(z: Zone, h_ve: float) -> float:
    """tau = C_m / H_eq: the network reduced towards theta_e (theta_g = theta_e)."""
    h_air = 1 / (1 / z.h_tr_is + 1 / h_ve)  # surface -> air -> outdoors
    h_surf = 1 / (1 / z.h_tr_ms + 1 / (z.h_tr_w + h_air))  # mass -> surface -> outdoors
    return z.c_m / (z.h_tr_em + z.h_g + h_surf)


def test_step_response_matches_backward_euler_and_exponential():
    """Free-floating step response: exact BE recurrence to 1e-9 K; exp(-t/tau) within dt/tau."""
    z = flat()
    tau = time_constant(z, H_VE)
    assert_allclose(tau, 115_928.90, rtol=1e-7)  # ~32 h: 9.9e6 J/K / 85.397 W/K
    dt, theta_0, theta_e = 60.0, 20.0, 0.0
    n = int(math.ceil(5 * tau / dt))
    out = run([z], [[0.0]], theta_0, dt, np.full(n, theta_e), theta_g=theta_e,
              phi_hc_fixed=0.0)
    k = np.arange(1, n + 1)
    recurrence = theta_e + (theta_0 - theta_e) / (1 + dt / tau) ** k
    assert_allclose(out["theta_m"][:, 0], recurrence, rtol=0, atol=1e-9)
    # BE decays slower than exp: with x = dt/tau, (1+x)^-k - e^-kx <= e^-s (e^(s x/2) - 1),
    # s = k x, whose maximum over s is x/(2e) (at s = 1) up to a factor e^(5x/2) for s <= 5.
    x = dt / tau
    err = out["theta_m"][:, 0] - (theta_e + (theta_0 - theta_e) * np.exp(-k * dt / tau))
    bound = (theta_0 - theta_e) * x / (2 * math.e) * math.exp(2.5 * x)
    assert err.min() > 0
    assert err.max() <= bound
    assert err.max() > 0.99 * (theta_0 - theta_e) * x / (2 * math.e)  # the bound is tight


# --- 2. steady state vs the design heat load --------------------------------------------------

def test_steady_state_heat_load():
    """At steady state phi_HC follows the network's exact reduction, 4.76 % below the sum."""
    z = flat()
    theta_e, theta_g, setpoint = -10.0, 10.0, 20.0
    out = run([z], [[0.0]], 20.0, 3600.0, np.full(500, theta_e), theta_g=theta_g)
    phi = out["phi_hc"][-1, 0]
    # Exact reduction: mass side = H_em to theta_e parallel H_g to theta_g (Thevenin
    # theta_x), in series with H_tr_ms; in parallel with H_tr_w at the surface node; in
    # series with H_tr_is to the air; plus H_ve from the air.
    h_x = z.h_tr_em + z.h_g
    theta_x = (z.h_tr_em * theta_e + z.h_g * theta_g) / h_x
    h_msx = z.h_tr_ms * h_x / (z.h_tr_ms + h_x)
    h_sw = z.h_tr_w + h_msx
    theta_sw = (z.h_tr_w * theta_e + h_msx * theta_x) / h_sw
    h_1 = z.h_tr_is * h_sw / (z.h_tr_is + h_sw)
    exact = H_VE * (setpoint - theta_e) + h_1 * (setpoint - theta_sw)
    assert_allclose(exact, 2131.406339837769, rtol=1e-12)  # exact rational arithmetic
    assert_allclose(phi, 2131.406339837769, rtol=1e-10)
    assert_allclose(out["theta_air"][-1, 0], 20.0, atol=1e-9)
    assert_allclose(out["theta_s"][-1, 0], 18.517008760238575, atol=1e-9)
    assert_allclose(out["theta_m"][-1, 0], 17.83089813519971, atol=1e-9)
    # EN 12831 / ISO 13789 sum: (15.6 + 28 + 25) * 30 + 18 * 10 = 2238 W. The 5R1C network
    # gives less: H_tr_is puts a surface resistance in series with all transmission, and
    # the ground and opaque paths share the mass node (which sits at 17.8 degC, not 20).
    simple = (z.h_tr_w + 28.0 + H_VE) * (setpoint - theta_e) + z.h_g * (setpoint - theta_g)
    assert simple == 2238.0
    assert_allclose(1 - phi / simple, 0.047629, atol=1e-6)
    # Steady-state balance: the heating equals the loss to outdoors and ground.
    assert_allclose(out["q_ambient"][-1, 0], phi, rtol=1e-10)


# --- 3. time-step invariance and stability ------------------------------------------------------

def hourly_inputs(days=10):
    hours = np.arange(24 * days)
    theta_e = 2.0 + 6.0 * np.sin(2 * np.pi * (hours - 9) / 24)
    sun = np.clip(np.sin(2 * np.pi * (hours - 6) / 24), 0.0, None) * 600.0  # W/m2, facade
    phi_sol = solar_gains(sun, area=8.0, g_value=0.6)
    return theta_e, phi_sol


@pytest.mark.parametrize("dt", [60.0, 900.0, 3600.0])
def test_energy_identity_with_thermostat(dt):
    """dt*(inflow - losses) equals c_m * (theta_m - theta_m0) per tick, relative 1e-9."""
    theta_e_h, sol_h = hourly_inputs(2)
    rep = int(3600 / dt)
    theta_e, phi_sol = np.repeat(theta_e_h, rep), np.repeat(sol_h, rep)
    out = run([flat()], [[0.0]], 18.0, dt, theta_e, phi_int=250.0, phi_sol=phi_sol)
    res, through = energy_residual([flat()], out, [18.0], dt, 250.0, phi_sol[:, None])
    assert np.all(np.abs(res) <= 1e-9 * through)


def test_dt_invariance():
    """Ten days, hourly weather and sun, thermostat on: total heat at dt=60 vs 900 within 0.5 %."""
    theta_e_h, sol_h = hourly_inputs(10)
    total = {}
    for dt in (60.0, 900.0, 3600.0):
        rep = int(3600 / dt)
        out = run([flat()], [[0.0]], 19.0, dt, np.repeat(theta_e_h, rep),
                  phi_int=250.0, phi_sol=np.repeat(sol_h, rep))
        assert out["phi_hc"].min() == 0.0  # the sun switches the heating off at noon
        total[dt] = out["phi_hc"].sum() * dt
    assert abs(total[900.0] / total[60.0] - 1) < 0.005
    assert abs(total[3600.0] / total[60.0] - 1) < 0.02  # even hourly ticks stay close


@pytest.mark.parametrize("dt", [3600.0, 10 * 86400.0])
def test_large_dt_step_is_monotone(dt):
    """Backward Euler at large dt: a step in theta_e gives a monotone, bounded response."""
    n = 48
    theta_e = np.where(np.arange(n) < 4, 0.0, -10.0)
    free = run([flat()], [[0.0]], 0.0, dt, theta_e, theta_g=0.0, phi_hc_fixed=0.0)
    for key in ("theta_air", "theta_s", "theta_m"):
        x = free[key][:, 0]
        assert_allclose(x[:4], 0.0, atol=1e-12)
        assert np.all(np.diff(x) <= 1e-12)
        assert np.all((x >= -10.0 - 1e-12) & (x <= 1e-12))
    # Thermostat on, from the steady state at theta_e = 0: the heat rises monotonically.
    ss = run([flat()], [[0.0]], 20.0, 3600.0, np.zeros(500), theta_g=0.0)
    heated = run([flat()], [[0.0]], ss["theta_m"][-1], dt, theta_e, theta_g=0.0)
    phi = heated["phi_hc"][:, 0]
    assert np.all(np.diff(phi[4:]) >= -1e-9)
    final = run([flat()], [[0.0]], 20.0, 3600.0, np.full(500, -10.0), theta_g=0.0)
    assert np.all(phi <= final["phi_hc"][-1, 0] + 1e-9)
    assert_allclose(heated["theta_air"], 20.0, atol=1e-9)


# --- 4. coupled zones -----------------------------------------------------------------------------

PARTY_WALL = 30.0 * 1.5  # 30 m2 of uninsulated party wall at 1.5 W/(m2 K) [W/K]


def row(k=PARTY_WALL):
    return np.array([[0.0, k, 0.0], [k, 0.0, k], [0.0, k, 0.0]])


def test_identical_zones_get_equal_heat():
    """Identical zones, identical inputs: equal heat, with or without coupling (no net flow)."""
    zones = [flat()] * 3
    for k in (0.0, PARTY_WALL):
        out = run(zones, row(k), 19.0, 900.0, np.full(200, -5.0), phi_int=200.0)
        assert_allclose(out["phi_hc"][:, 0], out["phi_hc"][:, 2], rtol=1e-12)
        assert_allclose(out["phi_hc"][:, 1], out["phi_hc"][:, 0], rtol=1e-12)
        assert_allclose(out["q_couple"], 0.0, atol=1e-9)


def test_middle_flat_needs_less_heat():
    """End flats with a gable wall: the middle flat needs less and warms its neighbours."""
    gable = Element(25.0, 0.4)
    end = zone_constants(60.0, 2.5, FLAT + [gable])
    zones = [end, flat(), end]
    n, dt = 400, 3600.0
    coupled = run(zones, row(), 19.0, dt, np.full(n, -5.0), phi_int=200.0)
    alone = run(zones, row(0.0), 19.0, dt, np.full(n, -5.0), phi_int=200.0)
    phi, phi0 = coupled["phi_hc"][-1], alone["phi_hc"][-1]
    assert phi[1] < phi[0]
    assert_allclose(phi[0], phi[2], rtol=1e-12)
    q = coupled["q_couple"]
    assert_array_equal(q, -np.swapaxes(q, 1, 2))
    assert q[-1, 1, 0] > 0 and q[-1, 1, 2] > 0  # the middle flat's mass is warmer
    assert q[-1, 0, 2] == 0.0  # not neighbours
    # The party walls narrow the gap between the flats.
    assert 0 < phi[0] - phi[1] < phi0[0] - phi0[1]
    res, through = energy_residual(zones, coupled, np.full(3, 19.0), dt, 200.0, 0.0)
    assert np.all(np.abs(res) <= 1e-9 * through)


def test_unheated_neighbours_draw_heat_through_party_walls():
    """With both neighbours unheated (setpoint -inf) the middle flat needs more heat."""
    zones = [flat()] * 3
    setpoint = np.array([-np.inf, 20.0, -np.inf])
    coupled = run(zones, row(), 19.0, 3600.0, np.full(300, -5.0), setpoint=setpoint)
    alone = run(zones, row(0.0), 19.0, 3600.0, np.full(300, -5.0), setpoint=setpoint)
    assert_array_equal(coupled["phi_hc"][:, [0, 2]], 0.0)
    assert coupled["phi_hc"][-1, 1] > alone["phi_hc"][-1, 1] + 100.0


def varied_inputs(n, dt, zones=3, seed=1):
    rng = np.random.default_rng(seed)
    t = np.arange(n) * dt
    theta_e = 3.0 + 7.0 * np.sin(2 * np.pi * t / 86400.0)
    sun = np.clip(np.sin(2 * np.pi * (t / 86400.0 - 0.25)), 0.0, None)
    phi_sol = sun[:, None] * np.array([1500.0, 300.0, 2500.0])[:zones]
    phi_int = rng.uniform(100.0, 600.0, (n, zones))
    h_ve = rng.uniform(15.0, 40.0, (n, zones))
    setpoint = np.where((t % 86400.0 < 6 * 3600.0)[:, None], 17.0, 21.0) * np.ones(zones)
    return theta_e, phi_sol, phi_int, h_ve, setpoint


def test_thermostat_complementarity():
    """0 <= phi <= max; inside the bounds theta_air = setpoint; off: above; at max: below."""
    zones = [flat(phi_hc_max=900.0), flat(), flat(phi_hc_max=2500.0)]
    n, dt = 3 * 96, 900.0
    theta_e, phi_sol, phi_int, h_ve, setpoint = varied_inputs(n, dt)
    out = run(zones, row(), 18.0, dt, theta_e, h_ve=h_ve, phi_int=phi_int, phi_sol=phi_sol,
              setpoint=setpoint)
    phi, ta = out["phi_hc"], out["theta_air"]
    p_max = np.array([z.phi_hc_max for z in zones])
    off, at_max = phi == 0.0, phi == p_max
    inside = ~off & ~at_max
    assert np.all((phi >= 0) & (phi <= p_max))
    assert off.any() and at_max.any() and inside.any()  # all three branches exercised
    assert_allclose(ta[inside], setpoint[inside], atol=1e-9)
    assert np.all(ta[off] >= setpoint[off] - 1e-9)
    assert np.all(ta[at_max] <= setpoint[at_max] + 1e-9)
    res, through = energy_residual(zones, out, np.full(3, 18.0), dt, phi_int, phi_sol)
    assert np.all(np.abs(res) <= 1e-9 * through)


# --- 5. a zone alone reproduces its coupled trajectory ----------------------------------------

def test_single_zone_consistency():
    """Zone i alone, with the coupled phi_hc and phi_m_ext = -sum_j q_couple, matches to 1e-9 K."""
    zones = [flat(phi_hc_max=1500.0), flat(), zone_constants(60.0, 2.5, FLAT[:2])]
    n, dt = 2 * 96, 900.0
    theta_e, phi_sol, phi_int, h_ve, setpoint = varied_inputs(n, dt)
    tm0 = np.array([17.0, 19.0, 21.0])
    out = run(zones, row(), tm0, dt, theta_e, h_ve=h_ve, phi_int=phi_int, phi_sol=phi_sol,
              setpoint=setpoint)
    for i, z in enumerate(zones):
        ext = -out["q_couple"][:, i, :].sum(axis=1)
        alone = run([z], [[0.0]], tm0[i:i + 1], dt, theta_e, h_ve=h_ve[:, i],
                    phi_int=phi_int[:, i], phi_sol=phi_sol[:, i], setpoint=setpoint[:, i],
                    phi_hc_fixed=out["phi_hc"][:, i], phi_m_ext=ext)
        for key in ("theta_air", "theta_s", "theta_m"):
            assert_allclose(alone[key][:, 0], out[key][:, i], rtol=0, atol=1e-9)
        res, through = energy_residual([z], alone, tm0[i:i + 1], dt, phi_int[:, i:i + 1],
                                       phi_sol[:, i:i + 1], ext[:, None])
        assert np.all(np.abs(res) <= 1e-9 * through)
    # solve_tick, tick by tick, is simulate().
    tm = tm0
    for k in range(10):
        r = solve_tick(zones, row(), tm, dt, theta_e[k], 10.0, h_ve[k], phi_int[k],
                       phi_sol[k], setpoint[k])
        tm = r.theta_m
        assert_allclose(r.theta_air, out["theta_air"][k], atol=1e-8)
        assert_allclose(r.phi_hc, out["phi_hc"][k], rtol=1e-8, atol=1e-6)
        assert_array_equal(r.q_couple, -r.q_couple.T)


@settings(max_examples=60, deadline=None)
@given(
    tm0=st.lists(st.floats(5.0, 30.0), min_size=2, max_size=2),
    theta_e=st.floats(-20.0, 35.0),
    sol=st.lists(st.floats(0.0, 5000.0), min_size=2, max_size=2),
    setpoint=st.lists(st.floats(15.0, 24.0), min_size=2, max_size=2),
    k=st.floats(0.0, 500.0),
    dt=st.sampled_from([1.0, 60.0, 3600.0, 86400.0]),
)
def test_one_tick_invariants(tm0, theta_e, sol, setpoint, k, dt):
    """Any single tick: energy balance closes, thermostat bounds hold, q_couple antisymmetric."""
    zones = [flat(phi_hc_max=2000.0), flat()]
    coupling = np.array([[0.0, k], [k, 0.0]])
    r = solve_tick(zones, coupling, np.array(tm0), dt, theta_e, 8.0, np.array([20.0, 30.0]),
                   np.array([300.0, 0.0]), np.array(sol), np.array(setpoint))
    out = {f: getattr(r, f)[None] for f in ("theta_m", "phi_hc", "q_ambient", "q_couple")}
    res, through = energy_residual(zones, out, np.array(tm0), dt, np.array([300.0, 0.0]),
                                   np.array(sol))
    assert np.all(np.abs(res) <= 1e-9 * through)
    assert np.all((r.phi_hc >= 0) & (r.phi_hc <= [2000.0, np.inf]))
    inside = (r.phi_hc > 0) & (r.phi_hc < [2000.0, np.inf])
    assert_allclose(r.theta_air[inside], np.array(setpoint)[inside], atol=1e-9)
    assert np.all(r.theta_air[r.phi_hc == 0] >= np.array(setpoint)[r.phi_hc == 0] - 1e-9)
    assert_array_equal(r.q_couple, -r.q_couple.T)


# --- 6. input errors ----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: Element(-1.0, 0.3), "Element.area"),
        (lambda: Element(1.0, -0.3), "Element.u_value"),
        (lambda: Element(1.0, 0.3, kind="door"), "Element.kind"),
        (lambda: Element(1.0, 0.3, b=1.5), "Element.b"),
        (lambda: Element(1.0, 1.3, kind="window", boundary="ground"), "window"),
        (lambda: zone_constants(60.0, 2.5, FLAT, thermal_class="rubber"), "thermal_class"),
        (lambda: zone_constants(0.0, 2.5, FLAT), "floor_area"),
        (lambda: zone_constants(60.0, 2.5, [Element(500.0, 5.0)]), "H_tr_ms"),
        (lambda: zone_constants(60.0, 2.5, FLAT, phi_hc_max=-1.0), "phi_hc_max"),
        (lambda: ventilation_conductance(-1.0, 0.5, 0.1, np.zeros(2)), "volume"),
        (lambda: ventilation_conductance(1.0, 0.5, 0.1, np.array([-1.0])), "wind_speed"),
        (lambda: solar_gains(100.0, 2.0, 1.2), "g_value"),
        (lambda: facade_irradiance(90, 180, 60, 180, 100, 100, 50, model="foo"), "model"),
        (lambda: facade_irradiance(90, 180, 60, 180, 100, 100, 50, model="perez"),
         "dni_extra"),
    ],
)
def test_bad_parameters(make, match):
    """Out-of-range parameters raise ValueError naming the field."""
    with pytest.raises(ValueError, match=match):
        make()


def tick_args(**over):
    args = dict(zones=[flat()] * 2, coupling=np.array([[0.0, 10.0], [10.0, 0.0]]),
                theta_m0=np.full(2, 20.0), dt=900.0, theta_e=0.0, theta_g=10.0,
                h_ve=np.full(2, 25.0), phi_int=np.zeros(2), phi_sol=np.zeros(2),
                setpoint=np.full(2, 20.0))
    args.update(over)
    return args


@pytest.mark.parametrize(
    ("over", "match"),
    [
        ({"coupling": np.array([[0.0, 10.0], [5.0, 0.0]])}, "symmetric"),
        ({"coupling": np.array([[1.0, 10.0], [10.0, 0.0]])}, "diagonal"),
        ({"coupling": np.array([[0.0, -1.0], [-1.0, 0.0]])}, ">= 0"),
        ({"coupling": np.zeros((3, 3))}, r"coupling: expected shape \(2, 2\)"),
        ({"theta_m0": np.zeros(3)}, "theta_m0: expected shape"),
        ({"h_ve": np.zeros((2, 1))}, "h_ve: expected shape"),
        ({"h_ve": np.array([25.0, -1.0])}, "h_ve: must be >= 0"),
        ({"phi_sol": np.array([0.0, np.nan])}, "phi_sol: must be finite"),
        ({"setpoint": np.array([20.0, np.nan])}, "setpoint"),
        ({"phi_hc_fixed": np.zeros(3)}, "phi_hc_fixed: expected shape"),
        ({"dt": 0.0}, "dt"),
        ({"zones": []}, "zones"),
        ({"theta_e": math.nan}, "theta_e"),
    ],
)
def test_bad_tick_inputs(over, match):
    """Inconsistent coupling, shapes or non-finite inputs raise ValueError naming them."""
    with pytest.raises(ValueError, match=match):
        solve_tick(**tick_args(**over))


def test_bad_simulate_shapes():
    """simulate() wants (n,) theta_e and (n, N) series, without broadcasting."""
    zones, n = [flat()] * 2, 5
    good = dict(zones=zones, coupling=np.zeros((2, 2)), theta_m0=np.full(2, 20.0), dt=60.0,
                theta_e=np.zeros(n), theta_g=10.0, h_ve=np.full((n, 2), 25.0),
                phi_int=np.zeros((n, 2)), phi_sol=np.zeros((n, 2)),
                setpoint=np.full((n, 2), 20.0))
    assert simulate(**good)["q_couple"].shape == (n, 2, 2)
    with pytest.raises(ValueError, match="phi_int: expected shape"):
        simulate(**{**good, "phi_int": np.zeros((n + 1, 2))})
    with pytest.raises(ValueError, match="theta_e: expected shape"):
        simulate(**{**good, "theta_e": np.zeros((n, 1))})


# --- 7. facade irradiance and solar gains ------------------------------------------------------

# Winter solstice, solar noon at 52.5 N: zenith = 52.5 + 23.44, azimuth 180 (south).
ZENITH, DNI, DHI = 75.94, 500.0, 80.0
GHI = DNI * math.cos(math.radians(ZENITH)) + DHI


def test_facade_south_beats_north_at_winter_noon():
    """South facade gets the beam; the north facade only sky diffuse and ground reflection."""
    south = facade_irradiance(90.0, 180.0, ZENITH, 180.0, GHI, DNI, DHI)
    north = facade_irradiance(90.0, 0.0, ZENITH, 180.0, GHI, DNI, DHI)
    diffuse = DHI / 2 + 0.2 * GHI / 2  # isotropic sky and ground on a vertical plane
    assert_allclose(north, diffuse, rtol=1e-12)
    assert_allclose(south, DNI * math.sin(math.radians(ZENITH)) + diffuse, rtol=1e-12)
    assert south > 5 * north
    for model in ("haydavies", "perez"):
        s = facade_irradiance(90.0, 180.0, ZENITH, 180.0, GHI, DNI, DHI, dni_extra=1414.0,
                              model=model)
        n = facade_irradiance(90.0, 0.0, ZENITH, 180.0, GHI, DNI, DHI, dni_extra=1414.0,
                              model=model)
        assert s > n > 0


def test_facade_no_beam_below_horizon():
    """zenith > 90: no beam even on a facade facing the sun; NaN inputs give 0."""
    poa = facade_irradiance(90.0, 180.0, np.array([95.0, 60.0]), 180.0,
                            np.array([20.0, np.nan]), 300.0, np.array([20.0, np.nan]))
    assert_allclose(poa, [20.0 / 2 + 0.2 * 20.0 / 2, 0.0], rtol=1e-12)
    assert poa.shape == (2,)


def test_solar_gains_iso_formula():
    """phi_sol = F_sh (F_w g) (1 - F_F) A poa: 4 m2, g 0.6 at 500 W/m2 -> 756 W."""
    assert_allclose(solar_gains(500.0, area=4.0, g_value=0.6), 0.9 * 0.6 * 0.7 * 4 * 500)
    assert_allclose(solar_gains(np.array([500.0, 0.0]), 4.0, 0.6), [756.0, 0.0])
    assert_allclose(solar_gains(500.0, 4.0, 0.6, frame_fraction=0.2, shading=0.5, f_w=1.0),
                    0.5 * 0.6 * 0.8 * 4 * 500)
