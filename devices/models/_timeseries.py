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

__all__ = ["CalendarSeries"]

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
