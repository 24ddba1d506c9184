"""Piecewise-constant calendar series: exact interval integrals and midpoint interpolation.

A :class:`CalendarSeries` holds, for each local calendar year, one value per fixed slot
(an hour for weather files, 15 minutes for standard load profiles). Values are rates (for
example [W/m^2] or [W]); slot ``q`` covers local seconds ``[q*slot, (q+1)*slot)`` counted from
local 1970-01-01 00:00.

Every result depends only on the interval (or instant) it is asked about, never on the other
elements of the call, so splitting a run into windows gives bit-identical numbers.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["CalendarSeries", "UncoveredError", "YearTable"]

_DAY = 86400


class CalendarSeries:
    """A rate that is constant over fixed slots of local (standard) time.

    Parameters
    ----------
    slot : int
        Slot length [s]; must divide a day.
    year_values : callable
        ``year_values(year) -> numpy.ndarray`` with one value per slot of that calendar year
        (``365 * 86400 / slot`` or ``366 * 86400 / slot`` values). Results are cached.
    """

    def __init__(self, slot: int, year_values: Callable[[int], np.ndarray]) -> None:
        if slot <= 0 or _DAY % slot:
            raise ValueError(f"slot: must divide a day, got {slot}")
        self.slot = int(slot)
        self._per_day = _DAY // self.slot
        self._year_values = year_values
        self._values: dict[int, np.ndarray] = {}
        self._prefix: dict[int, np.ndarray] = {}

    # -- per-year tables ------------------------------------------------------------------
    def _tables(self, year: int) -> tuple[np.ndarray, np.ndarray]:
        if year not in self._values:
            v = np.asarray(self._year_values(year), dtype=float)
            days = 366 if (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)) else 365
            if v.shape != (days * self._per_day,):
                raise ValueError(
                    f"year {year}: expected {days * self._per_day} slot values, got {v.shape}"
                )
            self._values[year] = v
            self._prefix[year] = np.concatenate(([0.0], np.cumsum(v)))
        return self._values[year], self._prefix[year]

    def _split(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Slot numbers -> (calendar year, slot index within that year)."""
        day = np.floor_divide(q, self._per_day)
        year_start = day.astype("datetime64[D]").astype("datetime64[Y]")
        first_day = year_start.astype("datetime64[D]").astype("int64")
        year = year_start.astype("int64") + 1970
        return year, q - first_day * self._per_day

    def _gather(self, year: np.ndarray, idx: np.ndarray, prefix: bool) -> np.ndarray:
        out = np.empty(idx.shape, dtype=float)
        for y in np.unique(year):
            sel = year == y
            table = self._tables(int(y))[1 if prefix else 0]
            out[sel] = table[idx[sel]]
        return out

    def values_at(self, q: np.ndarray) -> np.ndarray:
        """Values of slots ``q`` (integer slot numbers since local 1970-01-01)."""
        year, idx = self._split(np.asarray(q, dtype="int64"))
        return self._gather(year, idx, prefix=False)

    def _locate(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Local seconds -> (slot number, seconds into the slot in [0, slot))."""
        q = np.floor(s / self.slot)
        rem = s - q * self.slot  # exact: both terms are close floats
        # Division may round across a slot edge; fix the (rare) off-by-one either way.
        low = rem < 0.0
        q[low] -= 1.0
        rem[low] += self.slot
        high = rem >= self.slot
        q[high] += 1.0
        rem[high] -= self.slot
        return q.astype("int64"), rem

    # -- queries -----------------------------------------------------------------------
    def integral(
        self, s_a: np.ndarray, s_b: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Integral of the rate over ``[s_a, s_b)``, whether it lies in one slot, first slot value.

        Parameters
        ----------
        s_a, s_b : numpy.ndarray
            Interval ends, local seconds since local 1970-01-01 00:00 [s]; ``s_b > s_a``.

        Returns
        -------
        integral : numpy.ndarray
            ``∫ rate ds`` [rate·s].
        single : numpy.ndarray of bool
            True where the interval lies inside one slot (its mean is that slot's value).
        first : numpy.ndarray
            Value of the slot containing ``s_a``.
        """
        s_a = np.atleast_1d(np.asarray(s_a, dtype=float))
        s_b = np.atleast_1d(np.asarray(s_b, dtype=float))
        qa, ra = self._locate(s_a.copy())
        qb, rb = self._locate(s_b.copy())
        # Last slot touched: the one containing s_b, or the one before when s_b is on an edge.
        on_edge = rb == 0.0
        ql = np.where(on_edge, qb - 1, qb)
        rl = np.where(on_edge, float(self.slot), rb)
        single = ql <= qa
        va = self.values_at(qa)
        vl = self.values_at(ql)
        whole = ~single
        total = np.where(single, va * (s_b - s_a), 0.0)
        if np.any(whole):
            qa_w, ql_w = qa[whole], ql[whole]
            # Sum of the slots strictly between the first and the last one.
            y1, i1 = self._split(qa_w + 1)
            y2, i2 = self._split(ql_w)
            middle = self._gather(y2, i2, prefix=True) - self._gather(y1, i1, prefix=True)
            crossing = np.flatnonzero(y2 > y1)
            for j in crossing:  # whole years in between (rare: ticks across New Year)
                middle[j] += sum(
                    self._tables(int(y))[1][-1] for y in range(int(y1[j]), int(y2[j]))
                )
            total[whole] = (
                va[whole] * (self.slot - ra[whole]) + middle * self.slot + vl[whole] * rl[whole]
            )
        return total, single, va

    def mean(self, s_a: np.ndarray, s_b: np.ndarray) -> np.ndarray:
        """Mean of the rate over ``[s_a, s_b)`` (exactly the slot value inside one slot)."""
        total, single, first = self.integral(s_a, s_b)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(single, first, total / (np.asarray(s_b) - np.asarray(s_a)))

    def interp_midpoints(self, s: np.ndarray) -> np.ndarray:
        """Linear interpolation at ``s`` with each slot's value placed at the slot midpoint."""
        s = np.atleast_1d(np.asarray(s, dtype=float))
        q0, rem = self._locate(s - 0.5 * self.slot)
        frac = rem / self.slot
        v0 = self.values_at(q0)
        v1 = self.values_at(q0 + 1)
        return np.where(frac == 0.0, v0, v0 + (v1 - v0) * frac)


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _slots_of_year(year: int, per_day: int) -> int:
    return (366 if _is_leap(year) else 365) * per_day


def _year_start_slot(year: int, per_day: int) -> int:
    """Slot number (since 1970-01-01) of 1 January 00:00 of ``year``."""
    day = np.datetime64(f"{year:04d}-01-01", "D").astype("int64")
    return int(day) * per_day


def _leap_adjusted(v: np.ndarray, source: int, target: int, per_day: int) -> np.ndarray:
    """A calendar year's slot values moved onto another year: 29 February is dropped for a
    common year, and repeats 28 February for a leap year."""
    feb29 = 59 * per_day  # first slot of 29 February (of 1 March in a common year)
    if _is_leap(source) == _is_leap(target):
        return v
    if _is_leap(source):
        return np.concatenate((v[:feb29], v[feb29 + per_day:]))
    return np.concatenate((v[:feb29], v[feb29 - per_day:feb29], v[feb29:]))


class UncoveredError(ValueError):
    """A time the records of a series do not cover (and no complete year can stand in)."""


class YearTable:
    """A regular series of records, laid on calendar years of a fixed-offset local time.

    Records are rates (e.g. [W], [W/m^2], [°C]) constant over their slot. A calendar year
    the records cover completely is used as it is. For any other year, the records are used
    where they exist, and the rest comes from the same time of year of a complete year of the
    records (the complete years in turn, ``year - first_complete`` modulo their number;
    29 February is dropped for a common year and repeats 28 February for a leap year). So a
    typical year (one complete year) stands for every year, and a multi-year file is used as
    it is within its span. Without any complete year, a time the records do not cover raises
    :class:`UncoveredError`.

    Parameters
    ----------
    slot : int
        Record length [s]; must divide a day.
    starts_local : array_like of int
        Start of each record's slot, seconds since local 1970-01-01 00:00 of the table's
        frame (``utc + offset``) [s]; multiples of ``slot``, unique.
    values : array_like
        One finite value per record [rate].
    offset : float
        The frame's local time minus UTC [s] (calendar years are years of this frame).

    Raises
    ------
    ValueError
        If ``slot`` does not divide a day, a start is not a multiple of ``slot``, starts
        repeat, or the shapes differ.
    """

    def __init__(self, slot: int, starts_local: np.ndarray, values: np.ndarray,
                 offset: float = 0.0) -> None:
        if slot <= 0 or _DAY % slot:
            raise ValueError(f"slot: must divide a day, got {slot} s")
        s = np.asarray(starts_local, dtype="int64")
        v = np.asarray(values, dtype=float)
        if s.shape != v.shape or s.ndim != 1:
            raise ValueError("starts and values must be 1-d arrays of one length")
        if np.any(s % slot):
            raise ValueError(f"record starts must be multiples of the slot ({slot} s)")
        self.slot = int(slot)
        self.offset = float(offset)
        self._per_day = _DAY // self.slot
        q = s // self.slot
        self._first = int(s.min()) if s.size else 0
        self._last = int(s.max()) + self.slot if s.size else 0
        if np.unique(q).size != q.size:
            raise ValueError("records repeat a time")
        day = np.floor_divide(q, self._per_day)
        year = day.astype("datetime64[D]").astype("datetime64[Y]").astype("int64") + 1970
        self._years: dict[int, np.ndarray] = {}
        for y in np.unique(year):
            sel = year == y
            arr = np.full(_slots_of_year(int(y), self._per_day), np.nan)
            arr[q[sel] - _year_start_slot(int(y), self._per_day)] = v[sel]
            self._years[int(y)] = arr
        self.complete = tuple(sorted(y for y, a in self._years.items()
                                     if not np.isnan(a).any()))
        self._cache: dict[int, np.ndarray] = {}
        self._values = CalendarSeries(self.slot, lambda y: np.nan_to_num(self.year_values(y)))
        self._covered = CalendarSeries(
            self.slot, lambda y: np.isfinite(self.year_values(y)).astype(float))

    @property
    def years(self) -> tuple[int, ...]:
        """Calendar years (of the frame) holding at least one record."""
        return tuple(sorted(self._years))

    def year_values(self, year: int) -> np.ndarray:
        """Slot values of a calendar year of the frame (NaN where nothing covers it)."""
        if year in self._cache:
            return self._cache[year]
        own = self._years.get(year)
        if own is not None and year in self.complete:
            out = own
        elif self.complete:
            src = self.complete[(year - self.complete[0]) % len(self.complete)]
            out = _leap_adjusted(self._years[src], src, year, self._per_day)
            if own is not None:
                out = np.where(np.isnan(own), out, own)
        else:
            out = own if own is not None else np.full(_slots_of_year(year, self._per_day),
                                                      np.nan)
        self._cache[year] = out
        return out

    def _local(self, t: np.ndarray) -> np.ndarray:
        return np.atleast_1d(np.asarray(t, dtype=float)) + self.offset

    def _uncovered(self, s_local: float) -> UncoveredError:
        def utc(x: float) -> np.datetime64:
            return np.datetime64(int(np.floor(x - self.offset)), "s")

        return UncoveredError(
            f"no record covers {utc(s_local)} UTC (the records cover {utc(self._first)} to "
            f"{utc(self._last)} UTC, no complete calendar year that could stand in)")

    def _first_gap(self, s_a: float, s_b: float) -> float:
        """First local second in ``[s_a, s_b)`` that no record covers."""
        q0 = int(np.floor(s_a / self.slot))
        q1 = int(np.ceil(s_b / self.slot))
        for lo in range(q0, q1, 1 << 20):
            q = np.arange(lo, min(lo + (1 << 20), q1), dtype="int64")
            bad = np.flatnonzero(self._covered.values_at(q) == 0.0)
            if bad.size:
                return max(float(q[bad[0]] * self.slot), s_a)
        return s_a

    def integral(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``∫ rate dt`` over ``[a, b)`` (UTC seconds) [rate·s].

        Raises
        ------
        UncoveredError
            If part of an interval is covered by no record.
        """
        s_a, s_b = self._local(a), self._local(b)
        total, _, _ = self._values.integral(s_a, s_b)
        if not self.complete:
            cov, _, _ = self._covered.integral(s_a, s_b)
            bad = cov < (s_b - s_a) * (1.0 - 1e-9)
            if np.any(bad):
                i = int(np.flatnonzero(bad)[0])
                raise self._uncovered(self._first_gap(float(s_a[i]), float(s_b[i])))
        return total

    def mean(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Mean rate over ``[a, b)`` (UTC seconds); exactly the record inside one slot.

        Raises
        ------
        UncoveredError
            If part of an interval is covered by no record.
        """
        s_a, s_b = self._local(a), self._local(b)
        if not self.complete:
            self.integral(a, b)  # coverage check
        return self._values.mean(s_a, s_b)

    def interp_midpoints(self, t: np.ndarray) -> np.ndarray:
        """Linear interpolation at instants ``t`` (UTC seconds), each record placed at the
        midpoint of its slot; at the edge of the records (no complete year), the nearest
        record holds.

        Raises
        ------
        UncoveredError
            If neither neighbouring record exists.
        """
        s = self._local(t)
        if self.complete:
            return self._values.interp_midpoints(s)
        q0, rem = self._values._locate(s - 0.5 * self.slot)
        frac = rem / self.slot
        c0 = self._covered.values_at(q0) > 0
        c1 = self._covered.values_at(q0 + 1) > 0
        bad = ~(c0 | c1)
        if np.any(bad):
            raise self._uncovered(float(s[np.flatnonzero(bad)[0]]))
        v0 = self._values.values_at(q0)
        v1 = self._values.values_at(q0 + 1)
        v0, v1 = np.where(c0, v0, v1), np.where(c1, v1, v0)
        return np.where(frac == 0.0, v0, v0 + (v1 - v0) * frac)
