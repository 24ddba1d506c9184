"""Coupled flats of a block: the multi-zone 5R1C thermal network solver (ISO 13790).

The zones are those of :mod:`homesim.devices.models.zone` (ISO 13790:2008 §12.2 and Annex C:
air node ``theta_air``, surface node ``theta_s``, mass node ``theta_m``, all in [°C]). Zones
are coupled mass node to mass node through a symmetric conductance matrix ``K`` [W/K] (party
walls, floors and ceilings between flats); ground elements connect the mass node to the
ground temperature ``theta_g``.

Time discretisation: backward (implicit) Euler on the mass node,

    c_m (theta_m - theta_m0) / dt = H_tr_ms (theta_s - theta_m) + H_tr_em (theta_e - theta_m)
                                    + H_g (theta_g - theta_m) + sum_j K_ij (theta_m_j - theta_m)
                                    + Phi_m + Phi_m_ext,

with the air and surface nodes quasi-steady (algebraic) at the end of the tick. This is
unconditionally stable and never oscillates, at any ``dt``. ISO 13790 Annex C itself
uses a Crank-Nicolson-like scheme (air and surface driven by the mean of the mass
temperatures at the start and end of the hour, eq. C.9), so results at ``dt = 3600 s`` differ
slightly from the standard's; they agree as ``dt -> 0``.

Heat gains are split over the nodes by eqs. C.1-C.3:

    Phi_ia = 0.5 Phi_int
    Phi_m  = (A_m / A_t) (0.5 Phi_int + Phi_sol)
    Phi_st = (1 - A_m / A_t - H_tr_w / (9.1 A_t)) (0.5 Phi_int + Phi_sol)

These three do not add up to ``Phi_int + Phi_sol``: the remainder
``H_tr_w / (9.1 A_t) (0.5 Phi_int + Phi_sol)`` is the part of the gains the standard lets
escape through the windows. This module books it as a direct loss to the outdoors (part of
``q_ambient``), so that the energy balance of every zone closes exactly:

    dt (phi_hc + phi_int + phi_sol + phi_m_ext - q_ambient - sum_j q_couple[i, j])
        == c_m (theta_m - theta_m0).

An ideal heating-only thermostat delivers ``0 <= phi_hc <= phi_hc_max`` to the air node so
that the air is at the setpoint at the end of the tick whenever the bounds allow; the
coupled problem is solved with an active-set iteration (a few passes).

Entry points: :func:`solve_tick` (one tick), :func:`simulate` (n ticks, vectorised where it
can be) and :class:`ZoneNetwork` (validated once, then one tick at a time).

References
----------
ISO 13790:2008. Energy performance of buildings - Calculation of energy use for space heating
and cooling. §12.2 and Annex C (simple hourly method).

EN 12831-1:2017. Energy performance of buildings - Method for calculation of the design heat
load (the steady-state sum the 5R1C network is compared with in the tests).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .zone import H_MS, Zone

__all__ = [
    "SETPOINT_TOLERANCE",
    "TickResult",
    "ZoneNetwork",
    "simulate",
    "solve_tick",
]

SETPOINT_TOLERANCE = 1e-9
"""Band [K] within which an unheated air node counts as at its setpoint (active set)."""


@dataclass
class TickResult:
    """State and heat flows of all zones at the end of one tick.

    Attributes
    ----------
    theta_air : numpy.ndarray
        Air temperature (N,) [°C].
    theta_s : numpy.ndarray
        Surface-node temperature (N,) [°C].
    theta_m : numpy.ndarray
        Mass temperature at the end of the tick (N,) [°C].
    phi_hc : numpy.ndarray
        Heating power delivered to the air node (N,) [W].
    q_ambient : numpy.ndarray
        Net heat flow from the zone to the outdoors and the ground (N,) [W], positive =
        loss; includes the share of the gains ISO 13790 eqs. C.2/C.3 assign to no node.
    q_couple : numpy.ndarray
        Net heat flow from zone i to zone j (N, N) [W], antisymmetric.
    """

    theta_air: np.ndarray
    theta_s: np.ndarray
    theta_m: np.ndarray
    phi_hc: np.ndarray
    q_ambient: np.ndarray
    q_couple: np.ndarray


class _Network:
    """Per-zone constants of the coupled network as arrays (precomputed once)."""

    def __init__(self, zones: Sequence[Zone], coupling: np.ndarray, dt: float) -> None:
        if isinstance(zones, Zone) or len(zones) == 0:
            raise ValueError("zones: must be a non-empty sequence of Zone")
        for zone in zones:
            if not isinstance(zone, Zone):
                raise ValueError(f"zones: expected Zone, got {type(zone).__name__}")
        if not (dt > 0 and math.isfinite(dt)):
            raise ValueError(f"dt: must be a finite number > 0 s, got {dt}")
        n_zones = len(zones)
        k = np.asarray(coupling, dtype=float)
        if k.shape != (n_zones, n_zones):
            raise ValueError(
                f"coupling: expected shape ({n_zones}, {n_zones}) for {n_zones} zones, "
                f"got {k.shape}"
            )
        if not np.all(np.isfinite(k)):
            raise ValueError("coupling: must be finite")
        if np.any(np.diag(k) != 0):
            raise ValueError("coupling: the diagonal must be zero")
        if np.any(k < 0):
            raise ValueError("coupling: conductances must be >= 0 W/K")
        if not np.allclose(k, k.T, rtol=1e-12, atol=1e-12):
            raise ValueError("coupling: must be symmetric (K[i, j] == K[j, i])")
        k = 0.5 * (k + k.T)  # exactly symmetric, so q_couple is exactly antisymmetric

        def field(name: str) -> np.ndarray:
            return np.array([getattr(z, name) for z in zones], dtype=float)

        self.n = n_zones
        self.dt = float(dt)
        self.k = k
        self.coupled = bool(np.any(k > 0))
        self.laplacian = np.diag(k.sum(axis=1)) - k
        self.c_dt = field("c_m") / dt
        self.h_is = field("h_tr_is")
        self.h_w = field("h_tr_w")
        self.h_ms = field("h_tr_ms")
        self.h_em = field("h_tr_em")
        self.h_g = field("h_g")
        self.phi_max = field("phi_hc_max")
        a_t = field("a_t")
        self.f_m = field("a_m") / a_t  # share of the non-air gains to the mass node
        self.f_w = self.h_w / (H_MS * a_t)  # share lost directly (see module docstring)
        self.f_st = 1.0 - self.f_m - self.f_w  # share to the surface node
        self.s = self.h_is + self.h_w + self.h_ms  # diagonal of the surface equation


class _Drives(NamedTuple):
    """The validated per-tick inputs of :func:`_run`, each (n, N) [W/K, W, W, °C, W, W]."""

    h_ve: np.ndarray
    phi_int: np.ndarray
    phi_sol: np.ndarray
    setpoint: np.ndarray
    phi_hc_fixed: np.ndarray | None
    phi_m_ext: np.ndarray | None

    def as_rows(self) -> _Drives:
        """The same inputs of one tick, (N,) -> (1, N)."""
        def opt(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[None, :]

        return _Drives(self.h_ve[None, :], self.phi_int[None, :], self.phi_sol[None, :],
                       self.setpoint[None, :], opt(self.phi_hc_fixed), opt(self.phi_m_ext))


def _series(
    name: str, value: object, shape: tuple[int, ...], allow_neg_inf: bool = False
) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if arr.shape != shape:
        raise ValueError(f"{name}: expected shape {shape}, got {arr.shape}")
    ok = np.isfinite(arr) | (arr == -np.inf) if allow_neg_inf else np.isfinite(arr)
    if not np.all(ok):
        allowed = "finite or -inf" if allow_neg_inf else "finite"
        raise ValueError(f"{name}: must be {allowed}")
    return arr


def _run(
    net: _Network,
    theta_m0: np.ndarray,
    theta_e: np.ndarray,
    theta_g: float,
    h_ve: np.ndarray,
    phi_int: np.ndarray,
    phi_sol: np.ndarray,
    setpoint: np.ndarray,
    phi_hc_fixed: np.ndarray | None,
    phi_m_ext: np.ndarray | None,
) -> dict[str, np.ndarray]:
    """Advance the validated network over ``n`` ticks; inputs are (n, N), theta_e (n, 1)."""
    n_ticks, n_zones = h_ve.shape
    h = h_ve
    te = theta_e
    h_is, h_w, h_ms, s = net.h_is, net.h_w, net.h_ms, net.s
    # Gains on the nodes (ISO 13790 eqs. C.1-C.3) and the share booked as a direct loss.
    shared = 0.5 * phi_int + phi_sol
    phi_ia = 0.5 * phi_int
    phi_st = net.f_st * shared
    phi_m = net.f_m * shared
    if phi_m_ext is not None:
        phi_m = phi_m + phi_m_ext
    phi_lost = net.f_w * shared

    # Air and surface equations, solved for (theta_air, theta_s) given theta_m and phi_hc:
    #   [h + h_is, -h_is; -h_is, s] [ta; ts] = [h te + phi_ia + P; h_w te + phi_st + h_ms tm]
    det = (h + h_is) * s - h_is * h_is  # = h s + h_is (h_w + h_ms) > 0
    r1 = h * te + phi_ia
    r2 = h_w * te + phi_st
    # Mass-node equation with P fixed: d_fix tm - sum_j K_ij tm_j = c_dt tm0 + r_fix + g P.
    base = net.h_em * te + net.h_g * theta_g + phi_m
    g = h_ms * h_is / det
    h3 = h_ms * (h * h_is + h * h_w + h_is * h_w) / det  # theta_s side seen from the mass
    d_fix = net.c_dt + net.h_em + net.h_g + h3
    r_fix = base + h_ms * (h_is * r1 + (h + h_is) * r2) / det
    # theta_air = a0 + a1 P + a2 tm when P is fixed.
    a0 = (s * r1 + h_is * r2) / det
    a1 = s / det
    a2 = g

    theta_m = np.empty((n_ticks, n_zones))
    phi_hc = np.empty((n_ticks, n_zones))
    c_dt = net.c_dt
    lap = net.laplacian
    diag_idx = np.diag_indices(n_zones)
    tm = np.array(theta_m0, dtype=float)

    if phi_hc_fixed is not None:
        rhs_all = r_fix + g * phi_hc_fixed
        for k in range(n_ticks):
            rhs = c_dt * tm + rhs_all[k]
            if net.coupled:
                m = lap.copy()
                m[diag_idx] += d_fix[k]
                tm = np.linalg.solve(m, rhs)
            else:
                tm = rhs / d_fix[k]
            theta_m[k] = tm
        phi_hc[:] = phi_hc_fixed
    else:
        # Thermostat: in the "set" mode theta_air = T is known and P is the unknown.
        #   theta_s = (h_is T + h_w te + phi_st + h_ms tm) / s
        #   d_set tm - sum_j K_ij tm_j = c_dt tm0 + r_set;  P = b0 + b1 tm
        heatable = np.isfinite(setpoint) & (net.phi_max > 0)
        t_set = np.where(heatable, setpoint, 0.0)  # -inf (no heating) never enters "set"
        t_chk = np.where(heatable, setpoint, -np.inf)
        d_set = c_dt + net.h_em + net.h_g + h_ms * (h_is + h_w) / s
        r_set = base + h_ms * (h_is * t_set + r2) / s
        b0 = h * (t_set - te) + h_is * t_set - phi_ia - h_is * (h_is * t_set + r2) / s
        b1 = -h_is * h_ms / s
        p_max = net.phi_max
        tol = SETPOINT_TOLERANCE
        max_passes = 10 + 2 * n_zones
        is_set = np.zeros(n_zones, dtype=bool)
        at_max = np.zeros(n_zones, dtype=bool)
        for k in range(n_ticks):
            tk = t_chk[k]
            # A zone that cannot heat in this tick stays off (warm start from the last tick).
            is_set &= heatable[k]
            at_max &= heatable[k]
            for _ in range(max_passes):
                p_fix = np.where(at_max, p_max, 0.0)
                rhs = c_dt * tm + np.where(is_set, r_set[k], r_fix[k] + g[k] * p_fix)
                diag = np.where(is_set, d_set, d_fix[k])
                if net.coupled:
                    m = lap.copy()
                    m[diag_idx] += diag
                    tm_new = np.linalg.solve(m, rhs)
                else:
                    tm_new = rhs / diag
                ta = a0[k] + a1[k] * p_fix + a2[k] * tm_new
                p_set = b0[k] + b1 * tm_new
                free = ~is_set
                to_set = free & (((~at_max) & (ta < tk - tol)) | (at_max & (ta > tk + tol)))
                to_off = is_set & (p_set < 0.0)
                to_max = is_set & (p_set > p_max)
                if not (to_set.any() or to_off.any() or to_max.any()):
                    break
                is_set = (is_set & ~to_off & ~to_max) | to_set
                at_max = (at_max & ~to_set) | to_max
            else:
                raise RuntimeError(
                    f"thermostat: active set did not converge in {max_passes} passes at "
                    f"tick {k}; check the inputs for NaN or extreme values"
                )
            tm = tm_new
            theta_m[k] = tm
            phi_hc[k] = np.where(is_set, p_set, p_fix)

    # Recover the algebraic nodes and the flows, vectorised over all ticks.
    theta_air = a0 + a1 * phi_hc + a2 * theta_m
    theta_s = (h_is * (r1 + phi_hc) + (h + h_is) * (r2 + h_ms * theta_m)) / det
    q_ambient = (
        h * (theta_air - te)
        + h_w * (theta_s - te)
        + net.h_em * (theta_m - te)
        + net.h_g * (theta_m - theta_g)
        + phi_lost
    )
    q_couple = net.k * (theta_m[:, :, None] - theta_m[:, None, :])
    return {
        "theta_air": theta_air,
        "theta_s": theta_s,
        "theta_m": theta_m,
        "phi_hc": phi_hc,
        "q_ambient": q_ambient,
        "q_couple": q_couple,
    }


def _check_scalar(name: str, value: float) -> float:
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name}: must be finite, got {value}")
    return v


def _validate(
    zones: Sequence[Zone],
    coupling: np.ndarray,
    theta_m0: np.ndarray,
    dt: float,
    theta_e: np.ndarray | float,
    theta_g: float,
    h_ve: np.ndarray,
    phi_int: np.ndarray,
    phi_sol: np.ndarray,
    setpoint: np.ndarray,
    phi_hc_fixed: np.ndarray | None,
    phi_m_ext: np.ndarray | None,
    shape: tuple[int, ...],
) -> tuple[_Network, np.ndarray, np.ndarray, float, _Drives]:
    """Check every input of :func:`solve_tick` (``shape == ()``) or :func:`simulate`."""
    net = _Network(zones, coupling, dt)
    full = shape + (net.n,)
    tm0 = _series("theta_m0", theta_m0, (net.n,))
    te = _series("theta_e", theta_e, shape)
    tg = _check_scalar("theta_g", theta_g)
    hv = _series("h_ve", h_ve, full)
    if np.any(hv < 0):
        raise ValueError("h_ve: must be >= 0 W/K")
    arrays = _Drives(
        hv,
        _series("phi_int", phi_int, full),
        _series("phi_sol", phi_sol, full),
        _series("setpoint", setpoint, full, allow_neg_inf=True),
        None if phi_hc_fixed is None else _series("phi_hc_fixed", phi_hc_fixed, full),
        None if phi_m_ext is None else _series("phi_m_ext", phi_m_ext, full),
    )
    return net, tm0, te, tg, arrays


class ZoneNetwork:
    """Coupled zones validated once, for many single-tick solves.

    ``ZoneNetwork(zones, coupling, dt).step(...)`` gives what :func:`solve_tick` gives with the
    same arguments, without re-validating the zones and the coupling every tick (the heat
    node solves one tick at a time because its plant decides between ticks).

    Raises
    ------
    ValueError
        As :func:`solve_tick` for the zones, the coupling and ``dt``.
    """

    def __init__(self, zones: Sequence[Zone], coupling: np.ndarray, dt: float) -> None:
        self._net = _Network(zones, coupling, dt)
        self.n = self._net.n

    def step(self, theta_m0: np.ndarray, theta_e: float, theta_g: float, h_ve: np.ndarray,
             phi_int: np.ndarray, phi_sol: np.ndarray, setpoint: np.ndarray,
             phi_hc_fixed: np.ndarray | None = None,
             phi_m_ext: np.ndarray | None = None) -> TickResult:
        """One tick; arguments as :func:`solve_tick` (shapes (N,), not re-checked)."""
        def row(a: np.ndarray) -> np.ndarray:
            return np.asarray(a, dtype=float).reshape(1, self.n)

        def opt_row(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else row(a)

        out = _run(self._net, np.asarray(theta_m0, dtype=float),
                   np.full((1, 1), float(theta_e)), float(theta_g), row(h_ve), row(phi_int),
                   row(phi_sol), row(setpoint), opt_row(phi_hc_fixed), opt_row(phi_m_ext))
        return TickResult(theta_air=out["theta_air"][0], theta_s=out["theta_s"][0],
                          theta_m=out["theta_m"][0], phi_hc=out["phi_hc"][0],
                          q_ambient=out["q_ambient"][0], q_couple=out["q_couple"][0])


def solve_tick(
    zones: Sequence[Zone],
    coupling: np.ndarray,
    theta_m0: np.ndarray,
    dt: float,
    theta_e: float,
    theta_g: float,
    h_ve: np.ndarray,
    phi_int: np.ndarray,
    phi_sol: np.ndarray,
    setpoint: np.ndarray,
    phi_hc_fixed: np.ndarray | None = None,
    phi_m_ext: np.ndarray | None = None,
) -> TickResult:
    """Advance N coupled zones by one tick (backward Euler, ideal thermostat).

    Parameters
    ----------
    zones : sequence of Zone
        The N zones.
    coupling : array_like
        Conductance matrix K (N, N) [W/K] between the mass nodes: symmetric, zero diagonal,
        >= 0.
    theta_m0 : array_like
        Mass temperatures at the start of the tick (N,) [°C].
    dt : float
        Tick length [s], > 0.
    theta_e : float
        Outdoor air temperature [°C].
    theta_g : float
        Ground temperature (boundary of the ground elements) [°C].
    h_ve : array_like
        Ventilation conductance (N,) [W/K], >= 0 (see :func:`ventilation_conductance`).
    phi_int : array_like
        Internal heat gains (N,) [W].
    phi_sol : array_like
        Solar heat gains (N,) [W] (see :func:`solar_gains`).
    setpoint : array_like
        Heating setpoint of the air (N,) [°C]; ``-inf`` switches the heating off.
    phi_hc_fixed : array_like, optional
        Imposed heating power (N,) [W]; replaces the thermostat when given.
    phi_m_ext : array_like, optional
        Extra heat flow into the mass nodes (N,) [W], e.g. from neighbours simulated
        elsewhere (``-sum_j q_couple[i, j]``).

    Returns
    -------
    TickResult

    Raises
    ------
    ValueError
        On invalid zones, coupling, shapes or non-finite inputs; the message names the
        argument.
    RuntimeError
        If the thermostat's active-set iteration does not converge.

    Notes
    -----
    With the thermostat each zone's ``phi_hc`` lies in ``[0, phi_hc_max]``; when it is
    strictly inside, ``theta_air`` equals the setpoint at the end of the tick; when it is 0,
    ``theta_air >= setpoint``; at the maximum, ``theta_air <= setpoint`` (both within
    :data:`SETPOINT_TOLERANCE`).
    """
    net, tm0, te, tg, arrays = _validate(
        zones, coupling, theta_m0, dt, theta_e, theta_g, h_ve, phi_int, phi_sol, setpoint,
        phi_hc_fixed, phi_m_ext, shape=(),
    )
    out = _run(net, tm0, np.reshape(te, (1, 1)), tg, *arrays.as_rows())
    return TickResult(
        theta_air=out["theta_air"][0],
        theta_s=out["theta_s"][0],
        theta_m=out["theta_m"][0],
        phi_hc=out["phi_hc"][0],
        q_ambient=out["q_ambient"][0],
        q_couple=out["q_couple"][0],
    )


def simulate(
    zones: Sequence[Zone],
    coupling: np.ndarray,
    theta_m0: np.ndarray,
    dt: float,
    theta_e: np.ndarray,
    theta_g: float,
    h_ve: np.ndarray,
    phi_int: np.ndarray,
    phi_sol: np.ndarray,
    setpoint: np.ndarray,
    phi_hc_fixed: np.ndarray | None = None,
    phi_m_ext: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Advance N coupled zones over n ticks; :func:`solve_tick` tick after tick.

    Parameters are those of :func:`solve_tick` with a leading time axis: ``theta_e`` (n,),
    and ``h_ve``, ``phi_int``, ``phi_sol``, ``setpoint``, ``phi_hc_fixed``, ``phi_m_ext``
    (n, N). ``theta_m0`` (N,) is the mass temperature at the start of tick 0.

    Returns
    -------
    dict of numpy.ndarray
        ``theta_air``, ``theta_s``, ``theta_m``, ``phi_hc``, ``q_ambient`` (n, N) and
        ``q_couple`` (n, N, N), the fields of :class:`TickResult` per tick.

    Raises
    ------
    ValueError
        As :func:`solve_tick`; shapes must match exactly (no broadcasting).
    RuntimeError
        If the thermostat's active-set iteration does not converge.

    Notes
    -----
    Everything that does not depend on the mass temperatures is computed once for all
    ticks; the loop only solves the N x N mass system (a division when the zones are not
    coupled) and updates the thermostat's active set, starting from the previous tick's.
    """
    te_arr = np.asarray(theta_e, dtype=float)
    if te_arr.ndim != 1:
        raise ValueError(f"theta_e: expected shape (n,), got {te_arr.shape}")
    net, tm0, te, tg, arrays = _validate(
        zones, coupling, theta_m0, dt, te_arr, theta_g, h_ve, phi_int, phi_sol, setpoint,
        phi_hc_fixed, phi_m_ext, shape=te_arr.shape,
    )
    return _run(net, tm0, te[:, None], tg, *arrays)
