"""Electric-vehicle charging: sessions, a charge point, flexibility and charging per tick.

Pure functions, no I/O. A *session* is one car plugged into one charge point from ``arrival``
to ``departure`` wanting ``energy`` [J] into its battery. A charge point (EVSE) hosts one car
at a time and draws electricity ``elec`` [J] per tick from the AC side:

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
The stochastic commuter (:func:`commuter_sessions`) is an assumption, see its notes.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from homesim.devices.models.schedule import (
    DAY,
    DailyWindow,
    local_seconds,
    parse_hhmm,
    resolve_tz,
    utc_offset,
)

__all__ = [
    "KWH",
    "TARGET_SOC",
    "COMMUTER_KM_SIGMA",
    "Session",
    "scheduled_sessions",
    "commuter_sessions",
    "ChargePoint",
    "ActiveSession",
    "window_sessions",
    "flexible_demand",
    "advance",
    "tick_limits",
    "must_take",
    "charge_step",
    "check_elec",
]

KWH = 3.6e6
"""One kilowatt-hour [J]."""
TARGET_SOC = 0.9
"""State of charge a car is assumed to reach when a session gives only ``energy_kwh`` (and in
:func:`commuter_sessions`): ``soc_arrival = TARGET_SOC - energy / capacity`` [-]."""
COMMUTER_KM_SIGMA = 0.5
"""Standard deviation of the log of the commuter's daily distance [-] (assumption)."""

REL_TOL = 1e-9
"""Relative tolerance when checking an electricity draw against its limits [-]."""
_DONE = 1e-6  # [J] a remaining energy below this counts as finished (rounding dust)
_SPEC_KEYS = frozenset(
    {"arrival", "departure", "days", "capacity_kwh", "energy_kwh", "soc_arrival", "target_soc"}
)


# --------------------------------------------------------------------------- sessions


@dataclass(frozen=True)
class Session:
    """One charging session of one car at one charge point.

    Attributes
    ----------
    arrival : float
        Car plugged in, seconds since the Unix epoch [s].
    departure : float
        Car leaves [s], > ``arrival``.
    energy : float
        Energy the car wants into its battery during the session [J], >= 0.
    capacity : float
        Car battery capacity (for ``soc``) [J], > 0.
    soc_arrival : float
        State of charge at arrival [-], in [0, 1], with ``soc_arrival + energy / capacity <= 1``.

    Raises
    ------
    ValueError
        If a field is out of range; the message names the field.
    """

    arrival: float
    departure: float
    energy: float
    capacity: float
    soc_arrival: float

    def __post_init__(self) -> None:
        for name in ("arrival", "departure", "energy", "capacity", "soc_arrival"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value)):
                raise ValueError(f"{name}: must be a finite number, got {value!r}")
        if not self.departure > self.arrival:
            raise ValueError(
                f"departure: must be after arrival ({self.arrival}), got {self.departure}"
            )
        if self.energy < 0.0:
            raise ValueError(f"energy: must be >= 0 J, got {self.energy}")
        if not self.capacity > 0.0:
            raise ValueError(f"capacity: must be > 0 J, got {self.capacity}")
        if not 0.0 <= self.soc_arrival <= 1.0:
            raise ValueError(f"soc_arrival: must be in [0, 1], got {self.soc_arrival}")
        if self.soc_arrival + self.energy / self.capacity > 1.0 + REL_TOL:
            raise ValueError(
                f"energy: {self.energy} J does not fit into the battery above soc_arrival "
                f"{self.soc_arrival} (capacity {self.capacity} J)"
            )


def _local_to_utc(local: np.ndarray, tz: str) -> np.ndarray:
    """Instants [s since epoch] of local wall-clock times (seconds since local 1970-01-01).

    Two fixed-point steps: exact away from daylight-saving changes; a wall-clock time in a
    gap or a repeated hour maps deterministically to one of its candidates.
    """
    local = np.asarray(local, dtype=float)
    t = local - utc_offset(local, tz)
    return local - utc_offset(t, tz)


def _check_disjoint(sessions: Sequence[Session]) -> None:
    for a, b in zip(sessions, sessions[1:], strict=False):
        if b.arrival < a.departure:
            raise ValueError(
                f"sessions overlap ({a.arrival}–{a.departure} and {b.arrival}–{b.departure}): "
                "a charge point hosts one car at a time"
            )


@dataclass(frozen=True)
class _Spec:
    arrival: float    # [s after local midnight]
    duration: float   # [s of wall-clock time]
    days: frozenset[int] | None
    energy: float     # [J]
    capacity: float   # [J]
    soc_arrival: float


def _parse_spec(i: int, spec: Mapping) -> _Spec:
    unknown = set(spec) - _SPEC_KEYS
    if unknown:
        raise ValueError(f"session {i}: unknown key(s) {sorted(unknown)}")
    try:
        win = DailyWindow.parse(spec["arrival"], spec["departure"], spec.get("days"))
        capacity = float(spec["capacity_kwh"]) * KWH
    except KeyError as exc:
        raise ValueError(f"session {i}: missing key {exc.args[0]!r}") from None
    if not capacity > 0.0:
        raise ValueError(f"session {i}: capacity_kwh must be > 0")
    duration = win.end - win.start
    if duration <= 0.0:  # departure earlier or equal: next day
        duration += DAY
    if "energy_kwh" in spec:
        if "target_soc" in spec:
            raise ValueError(f"session {i}: give energy_kwh or target_soc, not both")
        energy = float(spec["energy_kwh"]) * KWH
        soc = float(spec.get("soc_arrival", max(TARGET_SOC - energy / capacity, 0.0)))
    elif "soc_arrival" in spec and "target_soc" in spec:
        soc = float(spec["soc_arrival"])
        target = float(spec["target_soc"])
        if not 0.0 <= soc <= target <= 1.0:
            raise ValueError(f"session {i}: need 0 <= soc_arrival <= target_soc <= 1")
        energy = (target - soc) * capacity
    else:
        raise ValueError(f"session {i}: give energy_kwh, or soc_arrival and target_soc")
    # Validate once here (and name the spec) rather than per generated session.
    try:
        Session(0.0, 1.0, energy, capacity, soc)
    except ValueError as exc:
        raise ValueError(f"session {i}: {exc}") from None
    return _Spec(win.start, duration, win.days, energy, capacity, soc)


def _day_range(tz: str, t_from: float, t_to: float) -> range:
    """Local day numbers (days since local 1970-01-01) whose sessions may overlap the range.

    Starts two days early: a session lasts at most one day and a UTC offset is < 1 day.
    """
    lf, lt = local_seconds(np.array([t_from, t_to], dtype=float), tz)
    return range(math.floor(lf / DAY) - 2, math.floor(lt / DAY) + 1)


def _check_range(t_from: float, t_to: float) -> None:
    if not (math.isfinite(t_from) and math.isfinite(t_to) and t_to >= t_from):
        raise ValueError(f"need finite t_from <= t_to, got {t_from}, {t_to}")


def scheduled_sessions(
    specs: Sequence[Mapping], tz: str, t_from: float, t_to: float
) -> list[Session]:
    """Daily recurring sessions that overlap ``[t_from, t_to)``.

    Parameters
    ----------
    specs : sequence of mappings
        One per recurring session: ``arrival`` and ``departure`` (local ``"HH:MM"``; a
        departure earlier than or equal to the arrival is on the next day), optional ``days``
        (weekday names of the *arrival*, default every day), ``capacity_kwh`` [kWh], and either
        ``energy_kwh`` [kWh] (into the battery; optional ``soc_arrival``, default
        ``TARGET_SOC - energy / capacity``) or ``soc_arrival`` and ``target_soc`` [-].
    tz : str
        Time zone of the clock times (see :func:`~.schedule.resolve_tz`).
    t_from, t_to : float
        Query range, seconds since the Unix epoch [s].

    Returns
    -------
    list of Session
        Every session with ``arrival < t_to`` and ``departure > t_from``, sorted by arrival.
        Wall-clock arrival and departure are converted to UTC separately (a night across a
        daylight-saving change is one hour longer or shorter).

    Raises
    ------
    ValueError
        On a malformed spec, an unknown time zone, or sessions that overlap in time.
    """
    resolve_tz(tz)
    _check_range(t_from, t_to)
    parsed = [_parse_spec(i, s) for i, s in enumerate(specs)]
    out: list[Session] = []
    if t_to == t_from:
        return out
    days = np.asarray(_day_range(tz, t_from, t_to), dtype=float)
    for p in parsed:
        sel = days if p.days is None else days[np.isin((days + 3) % 7, sorted(p.days))]
        arr_local = sel * DAY + p.arrival
        arr = _local_to_utc(arr_local, tz)
        dep = _local_to_utc(arr_local + p.duration, tz)
        for a, d in zip(arr.tolist(), dep.tolist(), strict=True):
            if d > a and a < t_to and d > t_from:
                out.append(Session(a, d, p.energy, p.capacity, p.soc_arrival))
    out.sort(key=lambda s: (s.arrival, s.departure))
    _check_disjoint(out)
    return out


def commuter_sessions(
    seed: int,
    device: str,
    tz: str,
    t_from: float,
    t_to: float,
    *,
    capacity_kwh: float = 60.0,
    kwh_per_km: float = 0.18,
    km_mean: float = 40.0,
    arrival_mean: str = "18:00",
    arrival_sd_min: float = 45,
    departure_mean: str = "07:30",
    departure_sd_min: float = 20,
    weekend_prob: float = 0.4,
) -> list[Session]:
    """Reproducible stochastic home charging of a commuter's car, overlapping ``[t_from, t_to)``.

    Parameters
    ----------
    seed : int
        Run seed, >= 0.
    device : str
        Device name: identifies the random stream.
    tz : str
        Time zone of the clock times.
    t_from, t_to : float
        Query range, seconds since the Unix epoch [s].
    capacity_kwh : float
        Car battery capacity [kWh].
    kwh_per_km : float
        Consumption [kWh/km] (into the battery).
    km_mean : float
        Mean daily distance [km].
    arrival_mean, departure_mean : str
        Mean local plug-in and plug-out time ``"HH:MM"``; the departure is on the next day
        when ``departure_mean <= arrival_mean``.
    arrival_sd_min, departure_sd_min : float
        Standard deviations of the plug-in and plug-out times [min].
    weekend_prob : float
        Probability of a session on a Saturday or Sunday arrival [-].

    Returns
    -------
    list of Session
        Sorted by arrival.

    Raises
    ------
    ValueError
        On a negative seed, a parameter out of range, or times so spread that one day's session
        could overlap the next (the ±3σ ranges of arrival and departure must not overlap).

    Notes
    -----
    One potential session per local day ``D`` (the arrival day), drawn from
    ``numpy.random.default_rng([seed, zlib.crc32(device), D])``, always in the same order
    (weekend coin, arrival, departure, distance), so any query returns the same sessions for
    the same days, whatever ``[t_from, t_to)`` is.

    * Monday–Friday arrivals always happen; Saturday/Sunday with ``weekend_prob``.
    * Arrival and departure: normal around their means, truncated at ±3σ.
    * Daily distance: lognormal with mean ``km_mean`` and log-sd :data:`COMMUTER_KM_SIGMA`.
    * Energy into the battery ``km * kwh_per_km``, capped at ``0.9 * capacity``; the car is
      assumed to leave full at :data:`TARGET_SOC`, so ``soc_arrival = TARGET_SOC - energy /
      capacity``.

    These distributions and defaults are **assumptions** (a plausible evening-plug-in commuter
    in the spirit of home-charging studies, which report plug-in peaks around 17:00–19:00 on
    weekdays); they are not fitted to a published data set.
    """
    resolve_tz(tz)
    _check_range(t_from, t_to)
    if not (isinstance(seed, int | np.integer) and seed >= 0):
        raise ValueError(f"seed: must be an integer >= 0, got {seed!r}")
    for name, value in (("capacity_kwh", capacity_kwh), ("kwh_per_km", kwh_per_km),
                        ("km_mean", km_mean)):
        if not (math.isfinite(value) and value > 0.0):
            raise ValueError(f"{name}: must be > 0, got {value}")
    for name, value in (("arrival_sd_min", arrival_sd_min),
                        ("departure_sd_min", departure_sd_min)):
        if not (math.isfinite(value) and value >= 0.0):
            raise ValueError(f"{name}: must be >= 0 min, got {value}")
    if not 0.0 <= weekend_prob <= 1.0:
        raise ValueError(f"weekend_prob: must be in [0, 1], got {weekend_prob}")
    a_mean = parse_hhmm(arrival_mean, allow_24=False)
    d_mean = parse_hhmm(departure_mean, allow_24=False)
    if d_mean <= a_mean:
        d_mean += DAY  # next morning
    a_sd, d_sd = arrival_sd_min * 60.0, departure_sd_min * 60.0
    if not (d_mean - 3 * d_sd > a_mean + 3 * a_sd and d_mean + 3 * d_sd < a_mean - 3 * a_sd + DAY):
        raise ValueError(
            "arrival/departure spread too wide: the ±3σ ranges of plug-in and plug-out overlap"
        )
    capacity = capacity_kwh * KWH
    mu = math.log(km_mean) - 0.5 * COMMUTER_KM_SIGMA**2  # lognormal with mean km_mean
    key = zlib.crc32(device.encode("utf-8"))
    out: list[Session] = []
    if t_to == t_from:
        return out
    for day in _day_range(tz, t_from, t_to):
        if day < 0:
            raise ValueError("commuter_sessions: times before 1970 are not supported")
        rng = np.random.default_rng([int(seed), key, day])
        u = rng.random()
        z_a, z_d = np.clip(rng.standard_normal(2), -3.0, 3.0)
        km = rng.lognormal(mu, COMMUTER_KM_SIGMA)
        if (day + 3) % 7 >= 5 and u >= weekend_prob:  # Saturday, Sunday: maybe stays home
            continue
        energy = min(km * kwh_per_km * KWH, 0.9 * capacity)
        a, d = _local_to_utc(
            np.array([day * DAY + a_mean + z_a * a_sd, day * DAY + d_mean + z_d * d_sd]), tz
        ).tolist()
        if d > a and a < t_to and d > t_from:
            out.append(Session(a, d, energy, capacity, TARGET_SOC - energy / capacity))
    return out


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
    sessions: Sequence[Session], state: Mapping | None, t0: float, dt: float, n: int
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
    _check_disjoint(ordered)
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


def advance(
    cp: ChargePoint, sessions: Sequence[ActiveSession], elec: np.ndarray, dt: float
) -> dict[str, np.ndarray]:
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
    dict
        ``delivered`` (n,) energy into the car battery [J]; ``losses`` (n,) ``elec -
        delivered`` [J]; ``connected`` (n,) 0/1; ``soc`` (n,) car state of charge at the end of
        each tick [-] (NaN when no car); ``remaining`` (n,) energy the car still wants at the
        end of each tick [J] (NaN when no car); ``unmet`` (n,) energy still wanted when a car
        left, booked in its ``unmet_tick`` [J]; ``state`` ``{arrival: remaining}`` of the
        session still in progress at the window end (for :func:`window_sessions`).

    Raises
    ------
    ValueError
        If ``elec`` is negative or not finite, > 0 while no car is connected, above
        ``min(p_max*dt, remaining/efficiency)`` by more than :data:`REL_TOL` relative, or in
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
    state = {}
    for i, s in enumerate(sessions):
        if 0 <= s.unmet_tick < n:
            unmet[s.unmet_tick] += rems[i]
        elif s.unmet_tick >= n and s.arrival_tick < n and s.arrival is not None:
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
