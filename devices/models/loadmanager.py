"""Dynamic load management of EV chargers under a grid connection limit.

Pure functions, no I/O. Given the electricity left for all chargers together in each tick
(``headroom`` = connection limit + PV − every other load, computed by the caller), the load
manager shares it among the connected chargers tick by tick, causally: each charger's car is
advanced with :func:`~homesim.devices.models.ev_charging.charge_step` (the rule
:func:`~homesim.devices.models.ev_charging.advance` uses) before the next tick is allocated, so
the allocation of a charger can be replayed by its device with ``advance`` bit for bit.

Rules in every tick, for every charger ``c`` with a car that still wants energy:

* ``alloc_c ≤ cap_c = min(p_max*dt, remaining/efficiency)``;
* ``alloc_c = 0`` or ``alloc_c ≥ floor_c = min(p_min*dt, remaining/efficiency)`` (throttle down
  to ``p_min``, then pause; IEC 61851-1 signals no current below 6 A);
* ``Σ alloc ≤ max(headroom, 0)``.

Strategies when the headroom is short (as in dynamic load management of multi-charger sites):

* ``equal_share``: water-filling — every charger the same level, capped at its ``cap``; if the
  level would fall below a charger's ``floor``, the charger that arrived last is paused and the
  split is redone, until every charger still on gets at least its ``floor``;
* ``first_come``: earliest arrival first, each up to its ``cap``; a later charger gets the rest
  if that is at least its ``floor``;
* ``departure_priority``: the same with the earliest departure first.

Ties are broken by arrival time, then by the charger's position in ``chargers``.

``surplus_only`` (a home charging from PV): chargers use only ``pv_surplus``, except the energy
a car must take to still finish by departure at ``p_max``
(:func:`~homesim.devices.models.ev_charging.must_take`, the "latest start" rule), which is taken
from the headroom (i.e. the grid) even without surplus. The surplus first covers that must
energy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .ev_charging import (
    ActiveSession,
    ChargePoint,
    charge_step,
    must_take,
    tick_limits,
)

__all__ = ["STRATEGIES", "ChargerWindow", "manage"]

STRATEGIES = ("equal_share", "first_come", "departure_priority")
_ROUND = 1.0 - 1e-12  # an allocation a rounding error below a charger's floor still counts


@dataclass(frozen=True)
class ChargerWindow:
    """One charger as seen by one window: its charge point and its sessions.

    Attributes
    ----------
    name : str
        Device name (for messages).
    cp : ChargePoint
    sessions : list of ActiveSession
        From :func:`~homesim.devices.models.ev_charging.window_sessions`.
    """

    name: str
    cp: ChargePoint
    sessions: list[ActiveSession]


def _owners(sessions: Sequence[ActiveSession], n: int, name: str) -> list[int]:
    owner = [-1] * n
    for i, s in enumerate(sessions):
        for k in range(max(s.arrival_tick, 0), min(s.departure_tick, n)):
            if owner[k] >= 0:
                raise ValueError(f"{name}: sessions overlap (one car at a time)")
            owner[k] = i
    return owner


def _waterfill(lo: list[float], hi: list[float], budget: float) -> list[float]:
    """``clip(L, lo, hi)`` with the level ``L`` that spends ``budget`` (all ``hi`` if it can).

    Requires ``sum(lo) <= budget`` and ``lo <= hi``.
    """
    if sum(hi) <= budget:
        return list(hi)
    pts = sorted(set(lo) | set(hi))

    def spent(level: float) -> float:
        return sum(min(max(level, a), b) for a, b in zip(lo, hi, strict=True))

    vals = [spent(p) for p in pts]
    j = 0
    while j + 1 < len(pts) and vals[j + 1] <= budget:
        j += 1
    # Between pts[j] and pts[j+1] the spent energy rises with slope = number of free chargers.
    slope = sum(1 for a, b in zip(lo, hi, strict=True) if a <= pts[j] and b >= pts[j + 1])
    level = pts[j] + (budget - vals[j]) / slope
    return [min(max(level, a), b) for a, b in zip(lo, hi, strict=True)]


def _allocate(
    strategy: str,
    order: list[int],
    lo: list[float],
    floor: list[float],
    hi: list[float],
    budget: float,
) -> list[float]:
    """Share ``budget`` [J] among chargers (indices into the lists).

    ``lo`` is already committed (0, or >= ``floor``); the result ``x`` has ``lo <= x <= hi``,
    ``x == 0 or x >= floor``, ``sum(x) <= budget``. ``order``: priority (first = served
    first; for ``equal_share``, the last is paused first).
    """
    m = len(hi)
    if strategy == "equal_share":
        on = [c for c in order if hi[c] > 0.0]
        while True:
            x = [0.0] * m
            if on:
                part = _waterfill([lo[c] for c in on], [hi[c] for c in on], budget)
                for c, v in zip(on, part, strict=True):
                    x[c] = v
            if all(x[c] >= floor[c] * _ROUND for c in on) or budget <= 0.0:
                break
            removable = [c for c in on if lo[c] == 0.0]
            if not removable:  # cannot happen: committed chargers already have >= floor
                break
            on.remove(removable[-1])  # pause the one that arrived last
        if budget <= 0.0:
            x = list(lo)
    else:
        x = list(lo)
        avail = budget - sum(lo)
        for c in order:
            add = min(hi[c] - x[c], avail)
            if add <= 0.0:
                continue
            if x[c] == 0.0 and add < floor[c] * _ROUND:
                continue  # the rest is below p_min: paused
            x[c] += add
            avail -= add
    # Rounding guard: never exceed the budget (take the excess off the largest allocation).
    excess = sum(x) - budget
    if excess > 0.0:
        c = max(range(m), key=lambda i: x[i])
        x[c] = max(x[c] - excess, lo[c])
    return x


def manage(
    chargers: Sequence[ChargerWindow],
    headroom: np.ndarray,
    dt: float,
    strategy: str = "equal_share",
    pv_surplus: np.ndarray | None = None,
    surplus_only: bool = False,
) -> dict[str, np.ndarray]:
    """Allocate electricity to EV chargers tick by tick under a shared limit.

    Parameters
    ----------
    chargers : sequence of ChargerWindow
        The C chargers of the site.
    headroom : array_like, shape (n,)
        Electricity available to all chargers together per tick [J] (negative counts as 0).
    dt : float
        Tick length [s], > 0.
    strategy : str
        One of :data:`STRATEGIES`.
    pv_surplus : array_like, shape (n,), optional
        PV surplus per tick [J]; required with ``surplus_only`` (ignored otherwise).
    surplus_only : bool
        Charge from ``pv_surplus`` only, except the energy a car must take to finish by
        departure (taken from ``headroom``).

    Returns
    -------
    dict
        ``alloc`` (n, C) electricity per charger [J]; ``wanted`` (n, C) what each would have
        taken unthrottled, ``min(p_max*dt, remaining/efficiency)`` at its actual remaining
        [J]; ``throttled`` (n, C) ``wanted - alloc`` [J]; ``paused`` (n, C) 1 where a car
        wanted energy and got none.

    Raises
    ------
    ValueError
        On an unknown strategy, ``dt <= 0``, arrays of the wrong shape or not finite,
        ``surplus_only`` without ``pv_surplus``, or overlapping sessions of one charger.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; use one of {', '.join(STRATEGIES)}")
    if not dt > 0:
        raise ValueError(f"dt: must be > 0 s, got {dt}")
    head = np.asarray(headroom, dtype=float)
    if head.ndim != 1 or not np.isfinite(head).all():
        raise ValueError(f"headroom: expected a finite array of shape (n,), got {head.shape}")
    n = head.shape[0]
    surplus = None
    if surplus_only:
        if pv_surplus is None:
            raise ValueError("pv_surplus is required with surplus_only")
        surplus = np.asarray(pv_surplus, dtype=float)
        if surplus.shape != (n,) or not np.isfinite(surplus).all():
            raise ValueError(f"pv_surplus: expected a finite array of shape ({n},)")
    n_c = len(chargers)
    alloc, wanted, paused = np.zeros((n, n_c)), np.zeros((n, n_c)), np.zeros((n, n_c))
    owners = [_owners(ch.sessions, n, ch.name) for ch in chargers]
    rems = [[s.remaining for s in ch.sessions] for ch in chargers]
    for k in range(n):
        budget = max(float(head[k]), 0.0)
        active: list[int] = []
        sess: dict[int, ActiveSession] = {}  # the session of each active charger
        floor, cap, must = [0.0] * n_c, [0.0] * n_c, [0.0] * n_c
        for c, ch in enumerate(chargers):
            i = owners[c][k]
            if i < 0:
                continue
            s = ch.sessions[i]
            r = rems[c][i]
            floor[c], cap[c] = tick_limits(ch.cp, r, dt)
            if cap[c] <= 0.0:
                continue
            sess[c] = s
            active.append(c)
            if surplus_only:
                must[c] = must_take(ch.cp, r, dt, s.departure_tick - 1 - k)
        if not active:
            continue
        order = _order(strategy, active, sess)
        zero = [0.0] * n_c
        if surplus is not None:  # surplus_only
            x_must = _allocate(strategy, order, zero, floor, must, budget)
            spend = max(min(float(surplus[k]), budget), sum(x_must))
            x = _allocate(strategy, order, x_must, floor, cap, spend)
        else:
            x = _allocate(strategy, order, zero, floor, cap, budget)
        for c in active:
            ch = chargers[c]
            i = owners[c][k]
            rems[c][i] = charge_step(rems[c][i], x[c], ch.cp.efficiency)[1]
            alloc[k, c] = x[c]
            wanted[k, c] = cap[c]
            paused[k, c] = 1.0 if x[c] == 0.0 else 0.0
    return {"alloc": alloc, "wanted": wanted, "throttled": wanted - alloc, "paused": paused}


def _order(strategy: str, active: list[int], sess: Mapping[int, ActiveSession]) -> list[int]:
    """Chargers in priority order (first served first; last paused first)."""

    def arrival_key(c: int) -> tuple[int, float, int]:
        s = sess[c]
        return (s.arrival_tick, s.arrival if s.arrival is not None else 0.0, c)

    if strategy == "departure_priority":
        return sorted(active, key=lambda c: (sess[c].departure_tick,) + arrival_key(c))
    return sorted(active, key=arrival_key)
