"""Summer comfort: the occupants' response function and EN 16798-1's adaptive bound."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from homesim.devices.models.comfort import (
    adaptive_upper_limit,
    occupant_response,
    operative_temperature,
    running_mean_outdoor,
)
from homesim.devices.models.zone import RHO_C_AIR


def _resp(theta_air, theta_e, ach=6.0, t_open=24.0, t_shade=23.0, f=0.2, band=1.0):
    return occupant_response(np.asarray(theta_air, float), theta_e, np.full(np.size(theta_air),
                             100.0), ach, t_open, t_shade, f, band)


def test_cool_room_no_reaction() -> None:
    h, f = _resp([20.0, 22.9], 10.0)
    assert_allclose(h, 0.0) and assert_allclose(f, 1.0)


def test_warm_room_windows_open_and_blinds_closed() -> None:
    """All windows open at t_open + band (outdoors cooler by >= band); blinds at t_shade +
    band."""
    h, f = _resp([25.0, 30.0], 18.0)
    assert_allclose(h, RHO_C_AIR * 100.0 * 6.0 / 3600.0, rtol=1e-15)
    assert_allclose(f, 0.2, rtol=1e-15)


def test_ramps() -> None:
    """Half way up the ramps, half the reaction."""
    h, f = _resp([24.5], 10.0)
    assert_allclose(h, 0.5 * RHO_C_AIR * 100.0 * 6.0 / 3600.0, rtol=1e-12)
    h, f = _resp([23.5], 10.0)
    assert_allclose(f, 1.0 - 0.8 * 0.5, rtol=1e-12)
    h, _ = _resp([28.0], 27.5)  # outdoors only 0.5 K cooler: windows half open
    assert_allclose(h, 0.5 * RHO_C_AIR * 100.0 * 6.0 / 3600.0, rtol=1e-12)


def test_windows_stay_shut_when_outdoors_is_warmer() -> None:
    h, f = _resp([28.0], 33.0)
    assert h[0] == 0.0 and f[0] == pytest.approx(0.2)


def test_adaptive_upper_limit_en16798() -> None:
    """EN 16798-1 eq. B.2: 0.33 θ_rm + 18.8 + 3 K (category II), θ_rm clipped to 10-30 °C."""
    assert_allclose(adaptive_upper_limit([10.0, 20.0, 25.0, 30.0]),
                    [25.1, 28.4, 30.05, 31.7], rtol=1e-12)
    assert_allclose(adaptive_upper_limit([5.0, 35.0], "I"), [24.1, 30.7], rtol=1e-12)
    assert float(adaptive_upper_limit(20.0, "III")) == pytest.approx(29.4)
    with pytest.raises(ValueError):
        adaptive_upper_limit(20.0, "IV")


def test_running_mean_is_en16798_weighted_sum() -> None:
    """θ_rm = (1 - α) Σ α^(i-1) θ_ed,i over the previous days (recursive form)."""
    rng = np.random.default_rng(1)
    ted = rng.uniform(15, 30, 40)
    rm = running_mean_outdoor(ted, theta_rm0=20.0)
    d = 30
    explicit = (1 - 0.8) * sum(0.8 ** (i - 1) * ted[d - i] for i in range(1, d + 1)) \
        + 0.8 ** d * 20.0
    assert rm[d] == pytest.approx(explicit, rel=1e-12)
    assert_allclose(running_mean_outdoor(np.full(5, 22.0)), 22.0)


def test_operative_temperature() -> None:
    assert float(operative_temperature(30.0, 20.0)) == pytest.approx(23.0)
