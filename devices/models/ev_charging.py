"""Electric-vehicle charging physics: a charge point, flexibility and charging per tick.

Pure functions, no I/O. A charge point (EVSE, :class:`ChargePoint`) hosts one car at a time
(one :class:`~homesim.devices.models.ev_sessions.Session`) and draws electricity ``elec``
[J] per tick from the AC side:

    delivered = min(elec * efficiency, remaining)        (into the car battery)
    losses    = elec - delivered
    remaining' = remaining - delivered

A charger either pauses (``elec = 0``) or draws at least ``p_min * dt`` (IEC 61851-1: a
charging current below 6 A is not signalled, so the charger pauses); the only exception is the
last top-up of a car that needs less than that to finish. It never draws more than
``p_max * dt`` nor more than the car still wants (``remaining / efficiency``).

Tick conventions (tick ``k`` covers ``[t0 + k*dt, t0 + (k+1)*dt)``):

* a car is *connected* in the ticks that lie entirely inside ``[arrival, departure)``:
  ``arrival_tick = ceil((arrival - t0) / dt)``, ``departure_tick = floor((departure - t0) /
  dt)`` (the first tick the car is gone);
* the energy a car still wanted when it left (``unmet``) is booked in the tick that contains
  the departure, taking ticks as ``(start, end]``: ``unmet_tick = ceil((departure - t0) / dt)
  - 1``. For a departure on a tick boundary that is the car's last connected tick, so a window
  ``[t0, t0 + n*dt)`` that contains the departure time books it (an overlap query
  ``departure > t_from`` returns the session exactly to that window).

Both are shifts by whole ticks when the window start moves by whole ticks, so results do not
depend on how a run is split into windows; the charger device carries the remaining energy of
the car connected at a window's end in ``state`` (:func:`window_sessions`, :func:`advance`).

References
----------
IEC 61851-1:2017, Electric vehicle conductive charging system – Part 1: General requirements
(6 A minimum PWM-signalled charging current; 1.4 kW at 230 V single-phase).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

import numpy as np

from .ev_sessions import REL_TOL, Session, check_disjoint

__all__ = [
    "ChargePoint",
    "ActiveSession",
    "window_sessions",
    "flexible_demand",
    "advance",
    "ChargeResult",
    "tick_limits",
    "must_take",
    "charge_step",
    "check_elec",
]

_DONE = 1e-6  # [J] a remaining energy below this counts as finished (rounding dust)


# --------------------------------------------------------------------------- charge point


@dataclass(frozen=True)
class ChargePoint:
    """A charge point (EVSE) with its power range.

    Attributes
    ----------
    p_max : float
        Maximum charging power [W], e.g. 11000 (16 A three-phase), 7400 (32 A single-phase).
    p_min : float, default 1400
        Minimum charging power [W] (6 A × 230 V); below it the charger pauses.
    efficiency : float, default 0.92
        AC electricity → car battery [-], in (0, 1].

    Raises
    ------
    ValueError
        If a field is out of range.
    """

    p_max: float
    p_min: float = 1400.0
    efficiency: float = 0.92

    def __post_init__(self) -> None:
        if not (math.isfinite(self.p_max) and self.p_max > 0.0):
            raise ValueError(f"p_max: must be > 0 W, got {self.p_max}")
        if not (math.isfinite(self.p_min) and 0.0 <= self.p_min <= self.p_max):
            raise ValueError(f"p_min: must be in [0, p_max = {self.p_max}] W, got {self.p_min}")
        if not 0.0 < self.efficiency <= 1.0:
            raise ValueError(f"efficiency: must be in (0, 1], got {self.efficiency}")


@dataclass
class ActiveSession:
    """One session as seen by one window (ticks relative to the window's tick 0).

    Attributes
    ----------
    arrival_tick : int
        First connected tick (negative: arrived before the window).
    departure_tick : int
        First tick the car is gone (may be > n).
    remaining : float
        Energy still wanted into the car battery at ``max(arrival, window start)`` [J].
    capacity : float
        Car battery capacity [J].
    soc_start : float
        Car state of charge at ``max(arrival, window start)`` [-].
    arrival : float or None
        Arrival time [s since epoch]: the key of the session in the charger state; ``None``
        for a hand-built session that is not carried to another window.
    unmet_tick : int or None
        Tick in which ``unmet`` is booked; default ``departure_tick - 1`` (departure on a tick
        boundary).
    """

    arrival_tick: int
    departure_tick: int
    remaining: float
    capacity: float
    soc_start: float
    arrival: float | None = None
    unmet_tick: int | None = None

    def __post_init__(self) -> None:
        if self.unmet_tick is None:
            self.unmet_tick = self.departure_tick - 1
        if not (math.isfinite(self.remaining) and self.remaining >= 0.0):
            raise ValueError(f"remaining: must be >= 0 J, got {self.remaining}")
        if not self.capacity > 0.0:
            raise ValueError(f"capacity: must be > 0 J, got {self.capacity}")


def window_sessions(
    sessions: Sequence[Session], state: Mapping[Any, float] | None, t0: float, dt: float,
    n: int,
) -> list[ActiveSession]:
    """The sessions that matter to a window of ``n`` ticks of ``dt`` seconds from ``t0``.

    Parameters
    ----------
    sessions : sequence of Session
        Sessions of one charge point (e.g. from :func:`scheduled_sessions` over the window).
    state : mapping or None
        ``{arrival time [s]: remaining [J]}`` of the session in progress, as returned by
        :func:`advance` for the previous window (keys may be strings, e.g. after JSON).
        ``None`` or a missing key: the session starts with its full ``energy`` (a car already
        plugged in when the run starts has not charged yet).
    t0 : float
        Start of the window's tick 0 [s since epoch].
    dt : float
        Tick length [s], > 0.
    n : int
        Number of ticks, >= 0.

    Returns
    -------
    list of ActiveSession
        Sessions connected in some tick of the window or booking their ``unmet`` in it, sorted
        by arrival.

    Raises
    ------
    ValueError
        If ``dt <= 0``, ``n < 0``, or sessions overlap in time.
    """
    if not dt > 0:
        raise ValueError(f"dt: must be > 0 s, got {dt}")
    if n < 0:
        raise ValueError(f"n: must be >= 0, got {n}")
    ordered = sorted(sessions, key=lambda s: (s.arrival, s.departure))
    check_disjoint(ordered)
    carried = {float(k): float(v) for k, v in (state or {}).items()}
    eps = 1e-9  # ticks: times on a tick boundary stay on it despite rounding
    out = []
    for s in ordered:
        x = (s.arrival - t0) / dt
        y = (s.departure - t0) / dt
        a_tick = math.ceil(x - eps)
        d_tick = math.floor(y + eps)
        u_tick = math.ceil(y - eps) - 1
        connected = max(a_tick, 0) < min(d_tick, n)
        if not (connected or 0 <= u_tick < n):
            continue
        remaining = carried.get(s.arrival, s.energy) if a_tick < 0 else s.energy
        out.append(ActiveSession(
            arrival_tick=a_tick, departure_tick=d_tick, remaining=remaining,
            capacity=s.capacity,
            soc_start=s.soc_arrival + (s.energy - remaining) / s.capacity,
            arrival=s.arrival, unmet_tick=u_tick,
        ))
    return out


# --------------------------------------------------------------------------- per tick rules


def tick_limits(cp: ChargePoint, remaining: float, dt: float) -> tuple[float, float]:
    """Smallest non-zero and largest electricity a charger may draw in one tick [J].

    Returns ``(floor, cap)``: ``cap = min(p_max*dt, remaining/efficiency)``, ``floor =
    min(p_min*dt, remaining/efficiency)`` (a car that needs less than ``p_min*dt`` to finish
    may take just that). Both 0 when the car is done.
    """
    if remaining <= 0.0:
        return 0.0, 0.0
    need = remaining / cp.efficiency
    return min(cp.p_min * dt, need), min(cp.p_max * dt, need)


def must_take(cp: ChargePoint, remaining: float, dt: float, ticks_after: int) -> float:
    """Electricity [J] a car must take in this tick to finish at ``p_max`` in ``ticks_after``.

    "Latest start": ``need - p_max*dt*ticks_after``, clipped to ``[0, cap]`` and raised to the
    tick's ``floor`` when positive (the charger cannot draw less than ``p_min``).
    """
    floor, cap = tick_limits(cp, remaining, dt)
    if cap == 0.0:
        return 0.0
    need = remaining / cp.efficiency
    m = need - cp.p_max * dt * max(ticks_after, 0)
    if m <= REL_TOL * need:  # rounding: nothing forced yet
        return 0.0
    return min(max(m, floor), cap)


def charge_step(remaining: float, elec: float, efficiency: float) -> tuple[float, float]:
    """Apply ``elec`` [J] to a car: returns ``(delivered, remaining')`` [J].

    ``delivered = min(elec*efficiency, remaining)``; a remaining below 1 µJ is rounding dust
    and counts as finished. The load manager and :func:`advance` both use exactly this.
    """
    delivered = min(elec * efficiency, remaining)
    rest = remaining - delivered
    if rest < _DONE:
        rest = 0.0
    return delivered, rest


def check_elec(cp: ChargePoint, remaining: float, elec: float, dt: float, k: int) -> None:
    """Raise ValueError if ``elec`` [J] breaks the charger's rules in tick ``k``."""
    floor, cap = tick_limits(cp, remaining, dt)
    if elec > cap * (1.0 + REL_TOL) + _DONE:
        raise ValueError(
            f"tick {k}: electricity {elec} J exceeds what the car can take ({cap} J: p_max*dt or "
            "remaining/efficiency)"
        )
    if 0.0 < elec < floor * (1.0 - REL_TOL):
        raise ValueError(
            f"tick {k}: electricity {elec} J is below the minimum charging energy {floor} J "
            "(p_min*dt): pause (0) or draw at least p_min"
        )


def _owners(sessions: Sequence[ActiveSession], n: int) -> np.ndarray:
    """Index of the session connected in each tick (-1: none)."""
    owner = np.full(n, -1, dtype=int)
    for i, s in enumerate(sessions):
        lo, hi = max(s.arrival_tick, 0), min(s.departure_tick, n)
        if lo >= hi:
            continue
        if (owner[lo:hi] >= 0).any():
            raise ValueError("sessions overlap: a charge point hosts one car at a time")
        owner[lo:hi] = i
    return owner


def flexible_demand(
    cp: ChargePoint, sessions: Sequence[ActiveSession], dt: float, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per-tick flexibility envelope of a charger if nothing else limited it.

    Parameters
    ----------
    cp : ChargePoint
    sessions : sequence of ActiveSession
        From :func:`window_sessions`.
    dt : float
        Tick length [s], > 0.
    n : int
        Number of ticks.

    Returns
    -------
    e_min : numpy.ndarray, shape (n,)
        Electricity [J] the charger must take in each tick when it always takes only what it
        must ("latest start": :func:`must_take` along that trajectory), so the car still
        finishes by departure at ``p_max``. Positive only in the last ticks before departure
        (or throughout when even ``p_max`` cannot finish the car).
    e_max : numpy.ndarray, shape (n,)
        Electricity [J] per tick when charging as fast as possible from the window start
        (``min(p_max*dt, remaining/efficiency)``, the remaining decreasing accordingly).

    Both are 0 when no car is connected; each sums over a session to the same total when the
    car can finish.

    Raises
    ------
    ValueError
        If ``dt <= 0`` or sessions overlap.
    """
    if not dt > 0:
        raise ValueError(f"dt: must be > 0 s, got {dt}")
    _owners(sessions, n)
    e_min, e_max = np.zeros(n), np.zeros(n)
    eff = cp.efficiency
    for s in sessions:
        r_fast = r_late = s.remaining
        for k in range(max(s.arrival_tick, 0), min(s.departure_tick, n)):
            e = tick_limits(cp, r_fast, dt)[1]
            e_max[k] = e
            r_fast = charge_step(r_fast, e, eff)[1]
            m = must_take(cp, r_late, dt, s.departure_tick - 1 - k)
            e_min[k] = m
            r_late = charge_step(r_late, m, eff)[1]
    return e_min, e_max


class ChargeResult(TypedDict):
    """What :func:`advance` returns for a window of n ticks (a plain dict at run time)."""

    delivered: np.ndarray   # (n,) energy into the car battery [J]
    losses: np.ndarray      # (n,) elec - delivered [J]
    connected: np.ndarray   # (n,) 1.0 while a car is connected, else 0.0
    soc: np.ndarray         # (n,) car state of charge at the end of each tick [-], NaN: no car
    remaining: np.ndarray   # (n,) energy the car still wants at the end of each tick [J]
    unmet: np.ndarray       # (n,) energy still wanted when a car left [J]
    state: dict[float, float]  # {arrival [s]: remaining [J]} of the session in progress


def advance(
    cp: ChargePoint, sessions: Sequence[ActiveSession], elec: np.ndarray, dt: float
) -> ChargeResult:
    """Charge the cars of one window with the given electricity per tick.

    Parameters
    ----------
    cp : ChargePoint
    sessions : sequence of ActiveSession
        From :func:`window_sessions`.
    elec : array_like, shape (n,)
        Electricity drawn by the charger per tick [J].
    dt : float
        Tick length [s], > 0.

    Returns
    -------
    ChargeResult
        A dict: ``delivered`` (n,) energy into the car battery [J]; ``losses`` (n,) ``elec -
        delivered`` [J]; ``connected`` (n,) 0/1; ``soc`` (n,) car state of charge at the end of
        each tick [-] (NaN when no car); ``remaining`` (n,) energy the car still wants at the
        end of each tick [J] (NaN when no car); ``unmet`` (n,) energy still wanted when a car
        left, booked in its ``unmet_tick`` [J]; ``state`` ``{arrival: remaining}`` of the
        session still in progress at the window end (for :func:`window_sessions`).

    Raises
    ------
    ValueError
        If ``elec`` is negative or not finite, > 0 while no car is connected, above
        ``min(p_max*dt, remaining/efficiency)`` by more than
        :data:`~homesim.devices.models.ev_sessions.REL_TOL` relative, or in
        ``(0, p_min*dt)`` (except a final top-up below ``p_min*dt`` that finishes the car).
    """
    if not dt > 0:
        raise ValueError(f"dt: must be > 0 s, got {dt}")
    elec = np.asarray(elec, dtype=float)
    if elec.ndim != 1:
        raise ValueError(f"elec: expected shape (n,), got {elec.shape}")
    if not (np.isfinite(elec).all() and (elec >= 0.0).all()):
        raise ValueError("elec: must be finite and >= 0 J")
    n = elec.shape[0]
    owner = _owners(sessions, n)
    idle = (owner < 0) & (elec > 0.0)
    if idle.any():
        k = int(np.flatnonzero(idle)[0])
        raise ValueError(f"tick {k}: electricity {elec[k]} J while no car is connected")
    delivered, unmet = np.zeros(n), np.zeros(n)
    soc, remaining = np.full(n, np.nan), np.full(n, np.nan)
    rems = [s.remaining for s in sessions]
    e_list = elec.tolist()
    for k in np.flatnonzero(owner >= 0).tolist():
        i = int(owner[k])
        s = sessions[i]
        check_elec(cp, rems[i], e_list[k], dt, k)
        delivered[k], rems[i] = charge_step(rems[i], e_list[k], cp.efficiency)
        remaining[k] = rems[i]
        soc[k] = s.soc_start + (s.remaining - rems[i]) / s.capacity
    state: dict[float, float] = {}
    for i, s in enumerate(sessions):
        u_tick = s.departure_tick - 1 if s.unmet_tick is None else s.unmet_tick
        if 0 <= u_tick < n:
            unmet[u_tick] += rems[i]
        elif u_tick >= n and s.arrival_tick < n and s.arrival is not None:
            state[s.arrival] = rems[i]
    return {
        "delivered": delivered,
        "losses": elec - delivered,
        "connected": (owner >= 0).astype(float),
        "soc": soc,
        "remaining": remaining,
        "unmet": unmet,
        "state": state,
    }
