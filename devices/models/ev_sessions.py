"""Electric-vehicle charging sessions: daily schedules and a seeded stochastic commuter.

Pure functions, no I/O. A *session* (:class:`Session`) is one car plugged into one charge point
from ``arrival`` to ``departure`` [s since the Unix epoch] wanting ``energy`` [J] into its
battery. Sessions come either from recurring local-time schedules
(:func:`scheduled_sessions`) or from a reproducible stochastic commuter
(:func:`commuter_sessions`); both answer a query range ``[t_from, t_to)`` with every session
that overlaps it, so any split of a run into windows sees the same sessions.

How a charge point serves the sessions (tick conventions, the per-tick rules, the state
carried between windows) is in :mod:`homesim.devices.models.ev_charging`.

References
----------
The stochastic commuter (:func:`commuter_sessions`) is an assumption, see its notes.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from homesim.schemas.units import J_PER_KWH

from .schedule import (
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
    "REL_TOL",
    "Session",
    "check_disjoint",
    "scheduled_sessions",
    "commuter_sessions",
]

KWH = J_PER_KWH
"""One kilowatt-hour [J]."""
TARGET_SOC = 0.9
"""State of charge a car is assumed to reach when a session gives only ``energy_kwh`` (and in
:func:`commuter_sessions`): ``soc_arrival = TARGET_SOC - energy / capacity`` [-]."""
COMMUTER_KM_SIGMA = 0.5
"""Standard deviation of the log of the commuter's daily distance [-] (assumption)."""

REL_TOL = 1e-9
"""Relative tolerance of the EV checks [-]: a session's energy against the battery room above
``soc_arrival`` here, an electricity draw against its limits in
:mod:`~homesim.devices.models.ev_charging`."""
_SPEC_KEYS = frozenset(
    {"arrival", "departure", "days", "capacity_kwh", "energy_kwh", "soc_arrival", "target_soc"}
)


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


def check_disjoint(sessions: Sequence[Session]) -> None:
    """Raise ValueError if two of ``sessions`` (sorted by arrival) overlap in time.

    A charge point hosts one car at a time: a session must not arrive before the previous
    one has left.
    """
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


def _parse_spec(i: int, spec: Mapping[str, Any]) -> _Spec:
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
    specs: Sequence[Mapping[str, Any]], tz: str, t_from: float, t_to: float
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
    check_disjoint(out)
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
