"""Local-time schedules: time zones, daily windows and their overlap with ticks.

Simulated time is float seconds since the Unix epoch (UTC); tick ``k`` covers
``[start + k*dt, start + (k+1)*dt)``. Schedules (appliances, tariffs, load shedding, inverter
charge windows) are written in local wall-clock time ``"HH:MM"`` of a time zone given as an
IANA name (``'Europe/Berlin'``), an ``'Etc/GMT+5'``-style name, or a fixed offset
``'UTC-03:30'``.

Conventions used by every function here:

* The local time of a tick is its start shifted by the zone's UTC offset **at the tick start**;
  the whole tick is shifted by that one offset (so a tick that straddles a daylight-saving
  change keeps its length ``dt``).
* A daily window ``[start, end)`` with ``end <= start`` wraps midnight
  (``22:00–06:00``); ``end = "24:00"`` means midnight at the end of the day. ``start == end``
  is an empty window. ``days`` names the weekdays on which a window **starts**
  (``mon`` … ``sun``); ``None`` means every day.
"""

from __future__ import annotations

import datetime as _dt
import re
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

__all__ = [
    "DAY",
    "WEEK",
    "WEEKDAYS",
    "DailyWindow",
    "parse_hhmm",
    "parse_windows",
    "resolve_tz",
    "utc_offset",
    "standard_offset",
    "local_seconds",
    "window_overlap",
    "in_windows",
]

DAY = 86400.0
"""Length of a day [s]."""
WEEK = 7 * DAY
"""Length of a week [s]."""
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Weekday names in ISO order (Monday = 0)."""

# 1970-01-01 was a Thursday: local seconds + 3 days = seconds since Monday 1969-12-29 00:00.
_EPOCH_TO_MONDAY = 3 * DAY

_FIXED_OFFSET = re.compile(r"^(?:UTC|GMT)(?:([+-])(\d{1,2})(?::?(\d{2}))?)?$")
_HHMM = re.compile(r"^(\d{1,2}):(\d{2})$")


@lru_cache(maxsize=64)
def resolve_tz(tz: str) -> _dt.tzinfo:
    """Resolve a time-zone string.

    Parameters
    ----------
    tz : str
        IANA name (``'America/New_York'``, ``'Etc/GMT+5'``, ``'UTC'``) or a fixed offset
        ``'UTC+02:00'``, ``'UTC-3:30'``, ``'UTC-5'``.

    Returns
    -------
    datetime.tzinfo

    Raises
    ------
    ValueError
        If ``tz`` is neither a known IANA zone nor a fixed offset.
    """
    if not isinstance(tz, str) or not tz:
        raise ValueError(f"tz: expected a time-zone name, got {tz!r}")
    m = _FIXED_OFFSET.match(tz)
    if m is not None:
        sign, hours, minutes = m.groups()
        if sign is None:
            return _dt.UTC
        offset = _dt.timedelta(hours=int(hours), minutes=int(minutes or 0))
        if offset >= _dt.timedelta(hours=24):
            raise ValueError(f"tz: offset out of range in {tz!r}")
        return _dt.timezone(-offset if sign == "-" else offset)
    try:
        return zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"tz: unknown time zone {tz!r} (use an IANA name such as 'Europe/Berlin', "
            "'Etc/GMT+5', or a fixed offset such as 'UTC-03:30')"
        ) from None


def parse_hhmm(text: str, *, allow_24: bool = True) -> float:
    """Parse a local clock time ``"HH:MM"``.

    Parameters
    ----------
    text : str
        ``"00:00"`` … ``"23:59"``, and ``"24:00"`` when ``allow_24``.
    allow_24 : bool, default True
        Accept ``"24:00"`` (end of day).

    Returns
    -------
    float
        Seconds after local midnight [s].

    Raises
    ------
    ValueError
        If ``text`` is not a valid clock time.
    """
    m = _HHMM.match(text) if isinstance(text, str) else None
    if m is None:
        raise ValueError(f"expected a local time 'HH:MM', got {text!r}")
    hours, minutes = int(m.group(1)), int(m.group(2))
    if minutes > 59 or hours > 24 or (hours == 24 and (minutes != 0 or not allow_24)):
        raise ValueError(f"expected a local time 'HH:MM', got {text!r}")
    return hours * 3600.0 + minutes * 60.0


@dataclass(frozen=True)
class DailyWindow:
    """A recurring local-time window ``[start, end)``, wrapping midnight when ``end <= start``.

    Attributes
    ----------
    start : float
        Start, seconds after local midnight [s], in ``[0, 86400)``.
    end : float
        End, seconds after local midnight [s], in ``[0, 86400]``.
    days : frozenset[int] or None
        Weekdays (Monday = 0) on which the window starts; ``None`` = every day.
    """

    start: float
    end: float
    days: frozenset[int] | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.start < DAY:
            raise ValueError(f"start: must be in [0, 86400) s, got {self.start}")
        if not 0.0 <= self.end <= DAY:
            raise ValueError(f"end: must be in [0, 86400] s, got {self.end}")
        if self.days is not None and not set(self.days) <= set(range(7)):
            raise ValueError(f"days: weekday numbers must be 0..6, got {sorted(self.days)}")

    @classmethod
    def parse(
        cls, start: str, end: str, days: Iterable[str] | None = None
    ) -> DailyWindow:
        """Build from ``"HH:MM"`` strings and weekday names (``'mon'`` … ``'sun'``).

        Raises
        ------
        ValueError
            On a malformed time or an unknown weekday name.
        """
        day_set = None
        if days is not None:
            names = [str(d).lower()[:3] for d in days]
            unknown = [d for d in names if d not in WEEKDAYS]
            if unknown:
                raise ValueError(f"days: unknown weekday(s) {unknown}; use {list(WEEKDAYS)}")
            day_set = frozenset(WEEKDAYS.index(d) for d in names)
        return cls(parse_hhmm(start, allow_24=False), parse_hhmm(end), day_set)

    def week_intervals(self) -> list[tuple[float, float]]:
        """The window as intervals of week time (seconds since Monday 00:00) [s].

        Intervals may extend past the end of the week (``> 604800``); callers fold them.
        """
        length = self.end - self.start
        if length < 0.0:  # wraps midnight
            length += DAY
        if length == 0.0:  # start == end: empty window
            return []
        days = range(7) if self.days is None else sorted(self.days)
        return [(d * DAY + self.start, d * DAY + self.start + length) for d in days]


WindowSpec = DailyWindow | Mapping[str, Any] | Sequence[str]
"""A window as a :class:`DailyWindow`, a mapping ``{start, end, days?}`` or a pair
``("HH:MM", "HH:MM")``."""


def parse_windows(windows: Iterable[WindowSpec] | None) -> tuple[DailyWindow, ...]:
    """Normalise window specifications to a tuple of :class:`DailyWindow`.

    Parameters
    ----------
    windows : iterable of DailyWindow, mapping or (start, end) pair, or None
        Mappings have keys ``start``, ``end`` and optional ``days``.

    Returns
    -------
    tuple of DailyWindow

    Raises
    ------
    ValueError
        On a malformed window.
    """
    if windows is None:
        return ()
    out = []
    for w in windows:
        if isinstance(w, DailyWindow):
            out.append(w)
        elif isinstance(w, Mapping):
            try:
                out.append(DailyWindow.parse(w["start"], w["end"], w.get("days")))
            except KeyError as exc:
                raise ValueError(f"window {dict(w)!r}: missing key {exc.args[0]!r}") from None
        elif isinstance(w, Sequence) and not isinstance(w, str) and len(w) in (2, 3):
            out.append(DailyWindow.parse(*w))
        else:
            raise ValueError(f"window: expected ('HH:MM', 'HH:MM') or a mapping, got {w!r}")
    return tuple(out)


def utc_offset(times: np.ndarray, tz: str) -> np.ndarray:
    """UTC offset of a time zone at given instants.

    Parameters
    ----------
    times : array_like
        Instants, seconds since the Unix epoch (UTC) [s].
    tz : str
        Time zone (see :func:`resolve_tz`).

    Returns
    -------
    numpy.ndarray
        Local time minus UTC [s] (e.g. ``-18000`` for ``'Etc/GMT+5'``).

    Raises
    ------
    ValueError
        On an unknown time zone.

    Notes
    -----
    Named zones come from :mod:`zoneinfo` (the IANA tz database) as a step function over the
    span of ``times`` (:func:`_offset_steps`): the offsets pandas' ``tz_convert`` gives, to the
    second, without loading pandas (tests/test_lean_imports.py compares them).
    """
    zone = resolve_tz(tz)
    t = np.atleast_1d(np.asarray(times, dtype=float))
    if isinstance(zone, _dt.timezone):  # fixed offset: no lookup needed
        return np.full(t.shape, zone.utcoffset(None).total_seconds())
    if t.size == 0:
        return np.zeros(t.shape)
    # Offsets change on whole seconds; flooring keeps the lookup exact for fractional times.
    secs = np.floor(t).astype("int64")
    bounds, values = _offset_steps(zone, secs)
    return values[np.searchsorted(bounds, secs, side="right")]


#: Largest spacing of the samples around an instant between which :func:`_offset_steps`
#: looks for transitions [s]. A change and back between two samples would be missed: in the
#: tz database (2025b, 2026f) the closest two transitions of any zone are ~7 days apart
#: (America/Cambridge_Bay).
_OFFSET_PROBE = 3600


def _offset_at(zone: _dt.tzinfo, secs: int) -> float:
    off = _dt.datetime.fromtimestamp(secs, zone).utcoffset()
    return 0.0 if off is None else off.total_seconds()


def _offset_steps(zone: _dt.tzinfo, secs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A zone's UTC offset at whole seconds ``secs`` [s] as a step function: ``bounds`` (the
    first second of each new offset, ascending) and ``values`` (one more than ``bounds``) [s].

    The zone (zoneinfo, tzdata) is probed at the start and end of every hour that holds an
    instant, and each change between two probes is located to the second by bisection.
    """
    lo, hi = int(secs.min()), int(secs.max())
    hours = np.unique(secs // _OFFSET_PROBE) * _OFFSET_PROBE
    probes = np.unique(np.clip(np.concatenate([hours, hours + _OFFSET_PROBE, [lo, hi]]),
                               lo, hi))
    offs = [_offset_at(zone, int(x)) for x in probes]
    bounds: list[int] = []
    values = [offs[0]]
    for a, b, off_a, off_b in zip(probes[:-1], probes[1:], offs[:-1], offs[1:], strict=True):
        a, b = int(a), int(b)
        while off_a != off_b:  # a change in (a, b]: the first second that differs from a
            x, y = a, b
            while y - x > 1:
                mid = (x + y) // 2
                if _offset_at(zone, mid) == off_a:
                    x = mid
                else:
                    y = mid
            a, off_a = y, _offset_at(zone, y)
            bounds.append(a)
            values.append(off_a)
    return np.asarray(bounds, dtype=np.int64), np.asarray(values, dtype=float)


def standard_offset(times: np.ndarray, tz: str) -> np.ndarray:
    """UTC offset of a zone's *standard* time (no daylight saving) at given instants.

    The standard offset of a calendar year is taken as the smaller of the offsets on
    1 January and 1 July of that year (so it also works in the southern hemisphere).

    Parameters
    ----------
    times : array_like
        Instants, seconds since the Unix epoch (UTC) [s].
    tz : str
        Time zone (see :func:`resolve_tz`).

    Returns
    -------
    numpy.ndarray
        Standard local time minus UTC [s].

    Raises
    ------
    ValueError
        On an unknown time zone.
    """
    t = np.atleast_1d(np.asarray(times, dtype=float))
    off = utc_offset(t, tz)
    years = (t + off).astype("int64").astype("datetime64[s]").astype("datetime64[Y]")
    uniq, inverse = np.unique(years, return_inverse=True)
    jan = uniq.astype("datetime64[s]").astype("int64").astype(float)
    jul = (uniq.astype("datetime64[M]") + 6).astype("datetime64[s]").astype("int64")
    std = np.minimum(utc_offset(jan, tz), utc_offset(jul.astype(float), tz))
    return std[inverse.reshape(-1)]


def local_seconds(times: np.ndarray, tz: str) -> np.ndarray:
    """Local wall-clock time as seconds since local 1970-01-01 00:00.

    Parameters
    ----------
    times : array_like
        Instants, seconds since the Unix epoch (UTC) [s].
    tz : str
        Time zone (see :func:`resolve_tz`).

    Returns
    -------
    numpy.ndarray
        ``times + utc_offset(times, tz)`` [s].
    """
    t = np.atleast_1d(np.asarray(times, dtype=float))
    return t + utc_offset(t, tz)


def _week_cumulative(windows: Sequence[DailyWindow]) -> tuple[np.ndarray, np.ndarray]:
    """Breakpoints of the cumulative window-time over one week.

    Returns ``(x, w)`` with ``x`` in ``[0, WEEK]`` and ``w(x)`` = seconds of ``[0, x)`` inside
    any window (overlapping windows counted once).
    """
    intervals: list[tuple[float, float]] = []
    for win in windows:
        for a, b in win.week_intervals():
            a, b = a % WEEK, (a % WEEK) + (b - a)
            if b > WEEK:  # wraps past Sunday 24:00 into Monday
                intervals.append((a, WEEK))
                intervals.append((0.0, b - WEEK))
            else:
                intervals.append((a, b))
    intervals.sort()
    merged: list[list[float]] = []
    for a, b in intervals:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    x = [0.0]
    w = [0.0]
    for a, b in merged:
        if a > x[-1]:
            x.append(a)
            w.append(w[-1])
        x.append(b)
        w.append(w[-1] + (b - a))
    if x[-1] < WEEK:
        x.append(WEEK)
        w.append(w[-1])
    return np.asarray(x), np.asarray(w)


def window_overlap(
    times: np.ndarray, dt: float, tz: str, windows: Iterable[WindowSpec]
) -> np.ndarray:
    """Seconds of each tick that fall inside any of the daily windows.

    Parameters
    ----------
    times : array_like
        Tick starts, seconds since the Unix epoch (UTC) [s].
    dt : float
        Tick length [s], > 0.
    tz : str
        Time zone of the windows (see :func:`resolve_tz`).
    windows : iterable of window specifications
        See :func:`parse_windows`.

    Returns
    -------
    numpy.ndarray
        Overlap of each tick ``[t, t + dt)`` with the union of the windows [s], in ``[0, dt]``.

    Raises
    ------
    ValueError
        If ``dt <= 0``, on an unknown time zone or a malformed window.
    """
    if not dt > 0:
        raise ValueError(f"dt: must be > 0 s, got {dt}")
    wins = parse_windows(windows)
    t = np.atleast_1d(np.asarray(times, dtype=float))
    if not wins:
        return np.zeros(t.shape)
    x, w = _week_cumulative(wins)
    total = w[-1]
    la = local_seconds(t, tz) + _EPOCH_TO_MONDAY
    lb = la + dt
    # Cumulative window time relative to the week of each tick start keeps numbers small.
    na = np.floor(la / WEEK)
    nb = np.floor(lb / WEEK)
    ra = np.clip(la - na * WEEK, 0.0, WEEK)
    rb = np.clip(lb - nb * WEEK, 0.0, WEEK)
    over = (nb - na) * total + np.interp(rb, x, w) - np.interp(ra, x, w)
    # Guard: rounding must not push the overlap outside [0, dt].
    return np.clip(over, 0.0, dt)


def in_windows(times: np.ndarray, tz: str, windows: Iterable[WindowSpec]) -> np.ndarray:
    """Whether each instant lies inside any of the daily windows ``[start, end)``.

    Parameters
    ----------
    times : array_like
        Instants (for schedules: tick starts), seconds since the Unix epoch (UTC) [s].
    tz : str
        Time zone of the windows (see :func:`resolve_tz`).
    windows : iterable of window specifications
        See :func:`parse_windows`.

    Returns
    -------
    numpy.ndarray of bool

    Raises
    ------
    ValueError
        On an unknown time zone or a malformed window.
    """
    wins = parse_windows(windows)
    t = np.atleast_1d(np.asarray(times, dtype=float))
    if not wins:
        return np.zeros(t.shape, dtype=bool)
    x, w = _week_cumulative(wins)
    r = np.mod(local_seconds(t, tz) + _EPOCH_TO_MONDAY, WEEK)
    # Inside iff the cumulative curve rises right after r: compare slopes of the segment.
    seg = np.clip(np.searchsorted(x, r, side="right") - 1, 0, len(x) - 2)
    return (w[seg + 1] - w[seg]) > 0.0
