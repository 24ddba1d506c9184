"""Inverter: efficiency curves and the tick-by-tick allocation."""

import dataclasses
import time

import numpy as np
import pandas as pd
import pvlib
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from homesim.devices.models.battery import BatteryEnvelope, storage_trajectory
from homesim.devices.models.inverter import (
    Allocation,
    InverterSettings,
    allocate,
    pv_ac,
    pv_dc_for_ac,
    reserve_energy,
)

CEC_NAME = "SMA_America__SB5000TL_US_22__208V_"
START = pd.Timestamp("2025-01-01", tz="Etc/GMT+5").timestamp()
FIELDS = [f.name for f in dataclasses.fields(Allocation)]


def env(energy=18e6, e_min=1.8e6, e_max=36e6, p=5000.0, eta=0.95, capacity=36e6):
    return BatteryEnvelope(energy, e_min, e_max, p, p, eta, eta, capacity)


def residual(a: Allocation) -> np.ndarray:
    return (a.pv_dc_used + a.battery_discharge + a.grid_import
            - a.to_load - a.battery_charge - a.grid_export - a.inverter_losses)


# --------------------------------------------------------------------- efficiency curves
def test_pv_ac_pvwatts_matches_pvlib() -> None:
    """pv_ac is pvlib's PVWatts inverter with pdc0 = p_ac_max / eta_inv_nom, clipped."""
    s = InverterSettings(5000.0)
    p_dc = np.linspace(0.0, 8000.0, 801)
    ac = pv_ac(s, p_dc, None)
    assert_allclose(ac, np.minimum(pvlib.inverter.pvwatts(p_dc, 5000.0 / 0.96), 5000.0))
    assert ac.max() == 5000.0 and np.all(ac >= 0.0) and np.all(ac <= p_dc)
    # Published PVWatts point: at the nominal DC input the efficiency is eta_inv_nom.
    assert_allclose(pv_ac(s, np.array([5000.0 / 0.96]), None), 5000.0)


@pytest.mark.parametrize("model", ["pvwatts", "cec"])
def test_inverse_efficiency_curve(model) -> None:
    """pv_dc_for_ac inverts pv_ac on the rising branch (and 0 -> 0)."""
    s = InverterSettings(5000.0, efficiency_model=model,
                         inverter=CEC_NAME if model == "cec" else None)
    ac = np.linspace(0.0, s.ac_limit, 2001)
    for v in (None, np.full(ac.shape, 350.0)):
        dc = pv_dc_for_ac(s, ac, v)
        assert dc[0] == 0.0 and np.all(dc >= ac)
        assert_allclose(pv_ac(s, dc, v), ac, rtol=1e-12, atol=1e-9)


def test_cec_inverter_uses_vdco_for_nan_voltage() -> None:
    """With a NaN voltage the Sandia model runs at the inverter's Vdco."""
    s = InverterSettings(6000.0, efficiency_model="cec", inverter=CEC_NAME)
    assert s.ac_limit == 4580.0  # min(p_ac_max, Paco)
    p = np.array([1000.0, 3000.0])
    vdco = s.cec_parameters["Vdco"]
    assert_array_equal(pv_ac(s, p, np.array([np.nan, np.nan])), pv_ac(s, p, np.full(2, vdco)))


def test_settings_validation() -> None:
    """Bad settings raise, naming the field; unknown CEC names list close matches."""
    with pytest.raises(ValueError, match="mode"):
        InverterSettings(5000.0, mode="eco")
    with pytest.raises(ValueError, match="p_ac_max"):
        InverterSettings(0.0)
    with pytest.raises(ValueError, match="reserve_soc"):
        InverterSettings(5000.0, reserve_soc=1.5)
    with pytest.raises(ValueError, match="charge_windows"):
        InverterSettings(5000.0, charge_windows=[("25:00", "01:00")])
    with pytest.raises(ValueError, match="close matches.*SB5000TL"):
        InverterSettings(5000.0, efficiency_model="cec", inverter="SMA America SB5000TL-US")
    s = InverterSettings(5000.0, charge_windows=[{"start": "01:00", "end": "05:00"}])
    assert isinstance(s.charge_windows, tuple)


def test_reserve_energy() -> None:
    """Reserve = max(e_min, reserve_soc * capacity), capped at e_max."""
    assert reserve_energy(InverterSettings(1.0, reserve_soc=0.2), env()) == 0.2 * 36e6
    assert reserve_energy(InverterSettings(1.0, reserve_soc=0.0), env()) == 1.8e6
    assert reserve_energy(InverterSettings(1.0, reserve_soc=1.0), env(e_max=30e6)) == 30e6


# --------------------------------------------------------------------- allocation rules
def ticks(n: int, dt: float = 60.0) -> np.ndarray:
    return START + np.arange(n) * dt


def test_self_consumption_basics() -> None:
    """PV serves load, surplus charges then exports; deficit discharges to the reserve."""
    dt = 60.0
    s = InverterSettings(5000.0, reserve_soc=0.2)
    pv = np.array([3000.0, 0.0, 0.0]) * dt
    load = np.array([1000.0, 2000.0, 2000.0]) * dt
    a = allocate(s, dt, ticks(3), pv, None, load, 1e9, 1e9, env(energy=0.2 * 36e6 + 10e3))
    ac0 = pv_ac(s, np.array([3000.0]), None)[0] * dt
    assert a.pv_ac[0] == ac0 and a.to_load[0] == load[0]
    assert_allclose(a.battery_charge[0], ac0 - load[0])
    assert a.grid_export[0] == 0.0
    # Tick 1 discharges until the reserve, then imports; tick 2 imports only.
    assert a.battery_discharge[1] > 0 and a.grid_import[1] > 0
    assert a.battery_energy[1] == pytest.approx(0.2 * 36e6, abs=1e-6)
    assert a.battery_discharge[2] == 0.0 and a.grid_import[2] == load[2]
    assert not a.unserved.any()


def test_islanded_discharges_to_e_min_then_sheds() -> None:
    """Without grid the battery goes below the reserve to e_min; the rest is unserved."""
    dt = 3600.0
    battery = env(energy=1.8e6 + 3.6e6)
    a = allocate(InverterSettings(5000.0), dt, ticks(3, dt), np.zeros(3),
                 None, np.full(3, 3.6e6), 0.0, 0.0, battery)
    assert_allclose(a.battery_discharge.sum(), 3.6e6 * 0.95)
    assert a.battery_energy[-1] == pytest.approx(1.8e6)
    assert_allclose(a.unserved.sum(), 3 * 3.6e6 - 3.6e6 * 0.95)
    assert not a.grid_import.any()


def test_islanded_curtails_surplus_consistently() -> None:
    """With nowhere to go, PV is curtailed so that DC used yields exactly the AC used."""
    dt = 60.0
    s = InverterSettings(5000.0)
    pv = np.full(4, 4000.0 * dt)
    load = np.array([0.0, 500.0, 1500.0, 3000.0]) * dt
    a = allocate(s, dt, ticks(4), pv, None, load, 0.0, 0.0, env(energy=36e6))
    assert_array_equal(a.pv_ac, load)
    assert a.pv_dc_used[0] == 0.0
    assert_allclose(pvlib.inverter.pvwatts(a.pv_dc_used / dt, s.pdc0) * dt, a.pv_ac, rtol=1e-12)
    assert np.all(a.curtailed_dc > 0.0)
    assert_allclose(residual(a), 0.0, atol=1e-9)


def test_clipping_counts_as_curtailment() -> None:
    """DC above the inverter's input at rated AC is not drawn."""
    dt = 60.0
    s = InverterSettings(5000.0)
    a = allocate(s, dt, ticks(1), np.array([7000.0 * dt]), None, np.array([0.0]),
                 1e9, 1e9, None)
    assert a.pv_ac[0] == 5000.0 * dt and a.grid_export[0] == 5000.0 * dt
    assert_allclose(a.pv_dc_used[0], s.pdc0 * dt, rtol=1e-12)
    assert_allclose(a.curtailed_dc[0], (7000.0 - s.pdc0) * dt, rtol=1e-12)


def test_export_limit() -> None:
    """Export stops at export_max; the rest is curtailed."""
    dt = 60.0
    a = allocate(InverterSettings(5000.0), dt, ticks(1), np.array([4000.0 * dt]), None,
                 np.array([0.0]), 1e9, 1000.0 * dt, env(energy=36e6))
    assert a.grid_export[0] == 1000.0 * dt and a.pv_ac[0] == 1000.0 * dt


def test_inverter_output_limit_shared_with_battery() -> None:
    """pv_ac + battery_discharge never exceeds the AC rating."""
    dt = 60.0
    a = allocate(InverterSettings(3000.0), dt, ticks(1), np.array([2000.0 * dt]), None,
                 np.array([6000.0 * dt]), 1e9, 1e9, env())
    assert a.pv_ac[0] + a.battery_discharge[0] <= 3000.0 * dt
    assert a.grid_import[0] > 0 and not a.unserved.any()


def test_time_of_use_grid_charging() -> None:
    """Inside a charge window the battery charges from the grid and does not discharge;
    it discharges only inside the discharge window (held for the peak)."""
    dt = 900.0
    n = 96
    s = InverterSettings(5000.0, mode="time_of_use", charge_windows=[("01:00", "05:00")],
                         discharge_windows=[("17:00", "21:00")], grid_charge_power=1500.0,
                         tz="Etc/GMT+5", reserve_soc=0.2)
    load = np.full(n, 300.0 * dt)
    a = allocate(s, dt, ticks(n, dt), np.zeros(n), None, load, 1e9, 1e9, env(energy=10e6))
    hour = np.arange(n) * dt / 3600.0
    cw = (hour >= 1) & (hour < 5)
    assert_allclose(a.battery_charge[cw], 1500.0 * dt)
    assert not a.battery_discharge[cw].any()
    assert_allclose(a.grid_import[cw], 1800.0 * dt)
    assert not a.battery_charge[~cw].any()
    dw = (hour >= 17) & (hour < 21)
    assert_allclose(a.battery_discharge[dw], 300.0 * dt)
    assert not a.grid_import[dw].any()
    assert not a.battery_discharge[~dw].any()
    assert_allclose(a.grid_import[~cw & ~dw], 300.0 * dt)


def test_time_of_use_without_discharge_windows() -> None:
    """Without discharge windows the battery covers the load outside the charge windows."""
    dt = 900.0
    n = 96
    s = InverterSettings(5000.0, mode="time_of_use", charge_windows=[("01:00", "05:00")],
                         grid_charge_power=1500.0, tz="Etc/GMT+5", reserve_soc=0.2)
    load = np.full(n, 300.0 * dt)
    a = allocate(s, dt, ticks(n, dt), np.zeros(n), None, load, 1e9, 1e9, env(energy=10e6))
    hour = np.arange(n) * dt / 3600.0
    cw = (hour >= 1) & (hour < 5)
    assert not a.battery_discharge[cw].any()
    assert_allclose(a.battery_discharge[~cw], 300.0 * dt)
    assert not a.grid_import[~cw].any()


def test_backup_holds_energy_while_grid_is_up() -> None:
    """Backup mode discharges only when islanded."""
    dt = 60.0
    n = 4
    imp = np.array([1e9, 1e9, 0.0, 0.0])
    exp = np.array([1e9, 1e9, 0.0, 0.0])
    a = allocate(InverterSettings(5000.0, mode="backup"), dt, ticks(n), np.zeros(n), None,
                 np.full(n, 1000.0 * dt), imp, exp, env())
    assert_array_equal(a.battery_discharge > 0, [False, False, True, True])
    assert_array_equal(a.grid_import > 0, [True, True, False, False])


def test_no_battery() -> None:
    """Without a battery, flows are vectorised and balance."""
    dt = 60.0
    rng = np.random.default_rng(1)
    pv = rng.uniform(0, 6000 * dt, 500)
    load = rng.uniform(0, 6000 * dt, 500)
    a = allocate(InverterSettings(5000.0), dt, ticks(500), pv, None, load, 1e9, 2000 * dt, None)
    assert_allclose(residual(a), 0.0, atol=1e-9)
    assert not a.battery_charge.any() and not a.unserved.any()
    assert np.all(a.grid_export <= 2000 * dt)


def test_bad_inputs() -> None:
    """Wrong lengths or negative energies raise."""
    s = InverterSettings(5000.0)
    with pytest.raises(ValueError, match="load"):
        allocate(s, 60.0, ticks(3), np.zeros(3), None, np.zeros(2), 0.0, 0.0, None)
    with pytest.raises(ValueError, match="pv_dc"):
        allocate(s, 60.0, ticks(1), np.array([-1.0]), None, np.zeros(1), 0.0, 0.0, None)
    with pytest.raises(ValueError, match="dt"):
        allocate(s, 0.0, ticks(1), np.zeros(1), None, np.zeros(1), 0.0, 0.0, None)


# --------------------------------------------------------------------- invariants
WINDOW_CHOICES = [(), (("01:00", "05:00"),), (("22:00", "06:00"),), (("11:00", "14:30"),)]


@st.composite
def scenarios(draw):
    n = draw(st.integers(1, 40))
    dt = draw(st.sampled_from([1.0, 60.0, 900.0, 3600.0]))
    p_ac_max = draw(st.floats(500.0, 10000.0))
    model = draw(st.sampled_from(["pvwatts", "pvwatts", "cec"]))
    s = InverterSettings(
        p_ac_max,
        efficiency_model=model,
        inverter=CEC_NAME if model == "cec" else None,
        mode=draw(st.sampled_from(["self_consumption", "time_of_use", "backup"])),
        reserve_soc=draw(st.floats(0.0, 1.0)),
        charge_windows=draw(st.sampled_from(WINDOW_CHOICES)),
        discharge_windows=draw(st.sampled_from(WINDOW_CHOICES)),
        grid_charge_power=draw(st.sampled_from([0.0, 1000.0, 20000.0])),
        tz="Etc/GMT+5",
    )
    energies = st.floats(0.0, 1.0).map(lambda x: x * 1.5 * p_ac_max * dt)
    pick = st.lists(st.one_of(st.just(0.0), energies), min_size=n, max_size=n)
    pv = np.array(draw(pick)) / 0.96
    load = np.array(draw(pick))
    imp = np.array(draw(pick))
    exp = np.array(draw(pick))
    island = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    imp[island] = 0.0
    exp[island] = 0.0
    v = np.array(draw(st.lists(st.sampled_from([np.nan, 300.0, 420.0]), min_size=n,
                               max_size=n)))
    battery = None
    if draw(st.integers(0, 4)):
        cap = draw(st.floats(1e3, 1e8))
        lo = draw(st.floats(0.0, 0.5)) * cap
        hi = lo + draw(st.floats(0.0, 1.0)) * (cap - lo)
        battery = BatteryEnvelope(
            lo + draw(st.floats(0.0, 1.0)) * (hi - lo), lo, hi,
            draw(st.floats(0.0, 2e4)), draw(st.floats(0.0, 2e4)),
            draw(st.floats(0.5, 1.0)), draw(st.floats(0.5, 1.0)), cap,
        )
    start = START + draw(st.integers(0, 365 * 86400))
    times = start + np.arange(n) * dt
    return s, dt, times, pv, v, load, imp, exp, battery


@settings(max_examples=150, deadline=None)
@given(case=scenarios())
def test_allocation_invariants(case) -> None:
    """Energy balances, limits hold and the battery stays within its bounds."""
    s, dt, times, pv, v, load, imp, exp, battery = case
    a = allocate(s, dt, times, pv, v, load, imp, exp, battery)
    scale = max(pv.max(), load.max(), imp.max(), exp.max(), 1.0)
    tol = max(1e-9, 1e-14 * scale)
    assert np.all(np.abs(residual(a)) <= tol)
    assert np.all(np.abs(a.to_load + a.unserved - load) <= tol)
    for name in FIELDS:
        if name != "battery_energy":
            assert np.all(getattr(a, name) >= 0.0), name
    assert np.all(a.grid_export <= exp * (1 + 1e-15))
    assert np.all(a.grid_import <= imp * (1 + 1e-15) + tol)
    cap = s.ac_limit * dt
    assert np.all(a.pv_ac + a.battery_discharge <= cap * (1 + 1e-15))
    assert np.all(a.pv_dc_used <= pv) and np.all(a.pv_dc_used >= a.pv_ac)
    assert_array_equal(a.curtailed_dc, pv - a.pv_dc_used)
    island = (imp == 0.0) & (exp == 0.0)
    assert not a.grid_import[island].any() and not a.grid_export[island].any()
    if battery is None:
        assert not a.battery_charge.any() and not a.battery_discharge.any()
        return
    assert np.all((a.battery_energy >= battery.e_min) & (a.battery_energy <= battery.e_max))
    assert not np.any((a.battery_charge > 0) & (a.battery_discharge > 0))
    assert np.all(a.battery_charge <= min(battery.p_charge_max * dt, cap))
    assert np.all(a.battery_discharge <= battery.p_discharge_max * dt)
    energy, _ = storage_trajectory(battery.energy, a.battery_charge, a.battery_discharge,
                                   battery.eta_charge, battery.eta_discharge)
    assert_array_equal(energy, a.battery_energy)  # the battery device reaches the same state
    if s.mode == "backup":
        assert not a.battery_discharge[~island].any()
    if s.mode == "self_consumption" or s.grid_charge_power == 0.0:
        grid_to_battery = a.grid_import - (a.to_load - np.minimum(a.pv_ac, load)
                                           - a.battery_discharge)
        assert np.all(grid_to_battery <= tol)


@settings(max_examples=80, deadline=None)
@given(case=scenarios(), cuts=st.lists(st.integers(1, 39), max_size=5))
def test_windows_give_identical_results(case, cuts) -> None:
    """Allocating in one call or in consecutive windows (carrying the battery) is identical."""
    s, dt, times, pv, v, load, imp, exp, battery = case
    whole = allocate(s, dt, times, pv, v, load, imp, exp, battery)
    n = len(times)
    bounds = sorted({0, n, *[c for c in cuts if c < n]})
    parts = []
    b = battery
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        part = allocate(s, dt, times[lo:hi], pv[lo:hi], v[lo:hi], load[lo:hi], imp[lo:hi],
                        exp[lo:hi], b)
        parts.append(part)
        if b is not None:
            b = dataclasses.replace(b, energy=float(part.battery_energy[-1]))
    for name in FIELDS:
        assert_array_equal(np.concatenate([getattr(p, name) for p in parts]),
                           getattr(whole, name), err_msg=name)


@settings(max_examples=50, deadline=None)
@given(case=scenarios())
def test_no_unserved_with_ample_grid(case) -> None:
    """With the grid up and a large import limit no load is shed."""
    s, dt, times, pv, v, load, _, exp, battery = case
    a = allocate(s, dt, times, pv, v, load, 1e12, exp, battery)
    assert not a.unserved.any()


def test_causality() -> None:
    """Changing a later tick's inputs does not change earlier ticks."""
    rng = np.random.default_rng(7)
    n, dt = 200, 60.0
    pv = rng.uniform(0, 5000 * dt, n)
    load = rng.uniform(0, 5000 * dt, n)
    s = InverterSettings(5000.0)
    a = allocate(s, dt, ticks(n), pv, None, load, 1e9, 1e9, env())
    load2 = load.copy()
    load2[150:] *= 3
    b = allocate(s, dt, ticks(n), pv, None, load2, 1e9, 1e9, env())
    for name in FIELDS:
        assert_array_equal(getattr(a, name)[:150], getattr(b, name)[:150])


def test_benchmark_one_year_of_minutes() -> None:
    """525,600 ticks allocate in well under the 2 s budget (loose bound for slow CI)."""
    n, dt = 525_600, 60.0
    rng = np.random.default_rng(3)
    hours = (np.arange(n) * dt / 3600.0) % 24
    pv = np.clip(np.sin((hours - 6) / 12 * np.pi), 0, None) * 5000 * dt
    load = rng.uniform(100, 3000, n) * dt
    s = InverterSettings(5000.0, mode="time_of_use", charge_windows=[("01:00", "05:00")],
                         grid_charge_power=2000.0, tz="Etc/GMT+5")
    t0 = time.perf_counter()
    a = allocate(s, dt, ticks(n), pv, None, load, 13800 * dt, 5000 * dt, env())
    elapsed = time.perf_counter() - t0
    assert a.battery_energy.shape == (n,)
    assert elapsed < 6.0, f"allocate took {elapsed:.2f} s"
