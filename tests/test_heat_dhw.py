"""Domestic hot water: the tapping cycle, the tank and its element, the shell's state."""

import json
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from homesim.devices.models.dhw import TAPPING_CYCLE_M, DhwTank, dhw_trajectory, tap_energy
from homesim.schemas.units import J_PER_KWH

DAY = 86400.0


def test_m_cycle_is_5845_wh() -> None:
    """EN 16147 / Reg. 812/2013 tapping cycle M: 23 draws, 5.845 kWh a day."""
    assert len(TAPPING_CYCLE_M) == 23
    assert sum(e for _, e in TAPPING_CYCLE_M) == pytest.approx(5.845, abs=1e-12)


@pytest.mark.parametrize("dt", [1.0, 60.0, 300.0, 900.0, 3600.0, 8 * 3600.0, DAY, 2 * DAY])
def test_taps_conserve_the_daily_energy_at_any_dt(dt) -> None:
    """Over whole days the draws add up to the cycle's energy, whatever the tick."""
    days = 4
    n = int(days * DAY / dt)
    t = np.arange(n) * dt + 3 * DAY  # any local midnight
    e = tap_energy(t, dt, TAPPING_CYCLE_M)
    assert e.sum() == pytest.approx(days * 5.845 * J_PER_KWH, rel=1e-12)


def test_a_draw_lands_in_the_tick_of_its_time() -> None:
    e = tap_energy(np.arange(96) * 900.0, 900.0, [("07:05", 1.4)], scale=2.0)
    assert e[28] == pytest.approx(2.8 * J_PER_KWH) and np.count_nonzero(e) == 1


@pytest.mark.parametrize("bad", [("7:5", 1.0), ("25:00", 1.0), ("07:60", 1.0), ("07:00", -1.0)])
def test_bad_draws_are_refused(bad) -> None:
    with pytest.raises(ValueError, match="taps"):
        tap_energy(np.zeros(2), 60.0, [bad])


TANK = DhwTank(volume=0.15, p_el=3000.0, t_set=55.0, hysteresis=5.0, ua=1.5)
E55 = TANK.energy(55.0)


def _day(dt: float = 60.0) -> tuple[np.ndarray, float]:
    n = int(DAY / dt)
    return tap_energy(np.arange(n) * dt, dt, TAPPING_CYCLE_M), dt


def test_tank_energy_balance_closes_every_tick() -> None:
    """E1 = E0 + element - drawn - standing loss, exactly (up to rounding)."""
    w, dt = _day()
    r = dhw_trajectory(TANK, E55, False, w, dt)
    e = np.concatenate([[TANK.energy(55.0)], r.stored])
    assert_allclose(np.diff(e), r.q_in - r.drawn - r.loss, rtol=0, atol=1e-6)
    assert r.drawn.sum() == pytest.approx(w.sum()) and r.unmet.sum() == 0.0


def test_thermostat_hysteresis_and_power() -> None:
    """The element switches on below t_set - hysteresis, holds at most p_el and stops at
    t_set; the tank never exceeds t_set."""
    w, dt = _day()
    r = dhw_trajectory(TANK, E55, False, w, dt)
    assert r.q_in.max() <= 3000.0 * dt * (1 + 1e-12)
    assert r.temp.max() <= 55.0 + 1e-9 and r.temp.min() >= TANK.t_use  # a shower: -8 K
    on = r.q_in > 0
    start = np.flatnonzero(on & ~np.concatenate([[False], on[:-1]]))
    prev = np.concatenate([[55.0], r.temp])[start]
    assert np.all(prev < 50.0)  # it only switched on below 50 °C


def test_given_heat_and_unmet() -> None:
    """Without the element the taps drain the tank to t_use, then draws are unmet; a window
    split gives the same result."""
    w, dt = _day()
    r = dhw_trajectory(TANK, E55, False, w, dt, q_given=np.zeros_like(w))
    assert r.unmet.sum() > 0 and r.drawn.sum() + r.unmet.sum() == pytest.approx(w.sum())
    assert r.q_in.sum() == 0.0
    a = dhw_trajectory(TANK, E55, False, w[:700], dt)
    b = dhw_trajectory(TANK, float(a.stored[-1]), a.heater_on, w[700:], dt)
    whole = dhw_trajectory(TANK, E55, False, w, dt)
    assert_allclose(np.concatenate([a.temp, b.temp]), whole.temp, rtol=0, atol=0)


@pytest.mark.parametrize("kw", [dict(volume=0.0), dict(t_set=5.0), dict(t_use=60.0),
                                dict(ua=-1.0), dict(p_el=float("nan"))])
def test_bad_tank(kw) -> None:
    with pytest.raises(ValueError):
        DhwTank(**kw)


def test_shell_state_round_trip_and_refusal() -> None:
    """The dhw_tank shell saves and restores its temperature and thermostat (JSON), and
    refuses a temperature that is no water temperature."""
    from homesim.devices.kinds.dhw_tank import DhwTankShell
    from homesim.schemas.manifest import load_any

    home = load_any(Path(__file__).resolve().parents[1] / "examples" / "dhw-home.yaml")
    shell = DhwTankShell(home, "geyser")
    shell.energy, shell.heater_on = shell.tank.energy(47.25), True
    saved = json.loads(json.dumps(shell.dump_state()))
    other = DhwTankShell(home, "geyser")
    other.load_state(saved)
    assert (other.energy, other.heater_on) == (shell.energy, True)
    assert other.temp == pytest.approx(47.25, rel=1e-12)
    with pytest.raises(ValueError, match="energy"):
        other.load_state({**saved, "energy": 1e12})
