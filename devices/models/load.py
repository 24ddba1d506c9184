"""Electricity demand: BDEW standard load profiles (demandlib), CSV profiles, scheduled
appliances and seeded noise.

References
----------
Fünfgeld, C. and Tiedemann, R. (2000). Anwendung der Repräsentativen VDEW-Lastprofile
step-by-step. VDEW / BTU Cottbus (the BDEW/VDEW standard load profiles: H0 households,
G0–G6 commerce, L0–L2 agriculture; the dynamisation function of H0), as implemented by
demandlib (``demandlib.bdew.ElecSlp``), https://github.com/oemof/demandlib.

Public holidays: the ``holidays`` package (``holidays.country_holidays``),
https://github.com/vacanza/holidays.

Salmon, J. K., Moraes, M. A., Dror, R. O. and Shaw, D. E. (2011). Parallel random numbers:
as easy as 1, 2, 3. Proc. SC'11. :doi:`10.1145/2063384.2063405` (Philox, counter-based).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from homesim.schemas.units import J_PER_KWH

from ._timeseries import CalendarSeries, YearTable
from .schedule import DailyWindow, standard_offset, window_overlap

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "BDEW_PROFILES",
    "BdewProfile",
    "CSV_UNITS",
    "CsvProfile",
    "H0Profile",
    "appliance_energy",
    "bdew_shape",
    "h0_shape",
    "holiday_dates",
    "noise_factors",
    "read_load_csv",
]

_SLOT = 900  # BDEW profiles have 15-minute intervals [s]
_NOISE_BLOCK = 4096  # ticks per independently seeded noise block

#: demandlib's BDEW profiles (``ElecSlp(year).get_profiles(name)``): households (h0; h0_dyn
#: with BDEW's dynamisation function), commerce (g0 general, g1 weekdays 8–18 h, g2 evening,
#: g3 continuous, g4 shops, g5 bakeries, g6 weekends), agriculture (l0 general, l1 dairy,
#: l2 other).
BDEW_PROFILES = ("h0", "h0_dyn", "g0", "g1", "g2", "g3", "g4", "g5", "g6", "l0", "l1", "l2")

#: Units of a CSV load column: power (mean over the row's interval) or energy per interval,
#: and the factor to W or J.
CSV_UNITS: dict[str, tuple[str, float]] = {
    "W": ("power", 1.0), "kW": ("power", 1e3), "MW": ("power", 1e6),
    "J": ("energy", 1.0), "Wh": ("energy", 3600.0), "kWh": ("energy", J_PER_KWH),
    "MWh": ("energy", 1e3 * J_PER_KWH),
}


def holiday_dates(country: str, subdivision: str | None, year: int) -> tuple[_dt.date, ...]:
    """Public holidays of a year, from the ``holidays`` package.

    Parameters
    ----------
    country : str
        ISO 3166-1 alpha-2 code (``'DE'``), as ``holidays.country_holidays`` takes it.
    subdivision : str or None
        Subdivision code (``'BY'`` for Bavaria), or None for the national holidays.
    year : int
        Calendar year.

    Returns
    -------
    tuple of datetime.date
        The holidays, sorted.

    Raises
    ------
    ValueError
        On a country or subdivision the ``holidays`` package does not know (the message
        lists the subdivisions of the country).
    """
    import holidays

    supported = holidays.list_supported_countries()
    if country not in supported:
        raise ValueError(f"holidays.country: {country!r} is not a country of the holidays "
                         "package (ISO 3166-1 alpha-2, e.g. DE, AT, FR, US)")
    if subdivision is not None and subdivision not in supported[country]:
        raise ValueError(f"holidays.subdivision: {subdivision!r} is not a subdivision of "
                         f"{country} (one of {', '.join(supported[country])})")
    days = holidays.country_holidays(country, subdiv=subdivision, years=int(year))
    return tuple(sorted(days))


@lru_cache(maxsize=8)
def _slp_frame(year: int, country: str | None, subdivision: str | None) -> pd.DataFrame:
    from demandlib import bdew

    days = None if country is None else list(holiday_dates(country, subdivision, year))
    # demandlib switches warnings to errors while it builds; confine that to this call.
    with warnings.catch_warnings():
        return bdew.ElecSlp(int(year), holidays=days).get_profiles()


@lru_cache(maxsize=64)
def bdew_shape(profile: str, year: int, country: str | None = None,
               subdivision: str | None = None) -> np.ndarray:
    """A BDEW standard load profile of a calendar year, as demandlib gives it.

    Parameters
    ----------
    profile : str
        One of :data:`BDEW_PROFILES`.
    year : int
        Calendar year (weekdays and the season calendar depend on it).
    country, subdivision : str or None
        Public holidays (:func:`holiday_dates`), which demandlib treats as Sundays; None = no
        holidays.

    Returns
    -------
    numpy.ndarray
        Share of the annual energy in each 15-minute interval of the year [-] (35040 values,
        35136 in a leap year), read-only. demandlib normalises every profile to a sum of 1
        except ``h0_dyn`` (H0 times the dynamisation function: sums to 1.000016 in 2025),
        which is returned as it is, so that scaled values equal
        ``ElecSlp.get_scaled_profiles``.

    Raises
    ------
    ValueError
        On an unknown profile, country or subdivision.

    Notes
    -----
    Built with ``demandlib.bdew.ElecSlp(year, holidays=...)`` (demandlib 0.2.2). demandlib
    switches warnings to errors while building; this is confined to
    :func:`warnings.catch_warnings`. Cached per process.
    """
    if profile not in BDEW_PROFILES:
        raise ValueError(f"profile: must be one of {', '.join(BDEW_PROFILES)}, got {profile!r}")
    shape = _slp_frame(int(year), country, subdivision)[profile].to_numpy(dtype=float).copy()
    shape.setflags(write=False)
    return shape


def h0_shape(year: int, dynamic: bool = False) -> np.ndarray:
    """BDEW H0 (``dynamic``: h0_dyn) of a calendar year without holidays (:func:`bdew_shape`)."""
    return bdew_shape("h0_dyn" if dynamic else "h0", year)


def _tick_bounds(start: float, dt: float, tick0: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    if not dt > 0:
        raise ValueError(f"dt: must be > 0 s, got {dt}")
    if tick0 < 0 or n < 0:
        raise ValueError(f"tick0 and n must be >= 0, got tick0={tick0}, n={n}")
    k = np.arange(tick0, tick0 + n, dtype=float)
    return start + k * dt, start + (k + 1.0) * dt


@dataclass(frozen=True)
class BdewProfile:
    """Base load following a BDEW standard load profile (demandlib).

    Attributes
    ----------
    annual_kwh : float
        Energy per calendar year [kWh], >= 0 (``h0_dyn``: demandlib's scale, see
        :func:`bdew_shape`).
    profile : str, default 'h0'
        One of :data:`BDEW_PROFILES`.
    country, subdivision : str or None
        Public holidays (treated as Sundays); None = none.

    Raises
    ------
    ValueError
        If ``annual_kwh`` is negative or not finite, or on an unknown profile, country or
        subdivision.
    """

    annual_kwh: float
    profile: str = "h0"
    country: str | None = None
    subdivision: str | None = None
    _series: CalendarSeries = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not (np.isfinite(self.annual_kwh) and self.annual_kwh >= 0.0):
            raise ValueError(f"annual_kwh: must be >= 0 kWh, got {self.annual_kwh}")
        if self.profile not in BDEW_PROFILES:
            raise ValueError(
                f"profile: must be one of {', '.join(BDEW_PROFILES)}, got {self.profile!r}")
        if self.country is not None:
            holiday_dates(self.country, self.subdivision, 2025)  # raises on unknown names
        # Each 15-minute share as mean power: kWh -> J, spread over 900 s [W].
        scale = self.annual_kwh * J_PER_KWH / _SLOT
        profile, country, subdivision = self.profile, self.country, self.subdivision

        def year_values(year: int) -> np.ndarray:
            return bdew_shape(profile, year, country, subdivision) * scale

        object.__setattr__(self, "_series", CalendarSeries(_SLOT, year_values))

    def energy(self, start: float, dt: float, tick0: int, n: int, tz: str) -> np.ndarray:
        """Base-load energy of ticks ``tick0 … tick0 + n - 1``.

        Parameters
        ----------
        start : float
            Start of tick 0, seconds since the Unix epoch (UTC) [s].
        dt : float
            Tick length [s], > 0.
        tick0 : int
            Index of the first tick, >= 0.
        n : int
            Number of ticks, >= 0.
        tz : str
            Time zone of the household. The profile is laid on local *standard* time (no
            daylight-saving shift), so its cumulative energy is continuous and monotone.

        Returns
        -------
        numpy.ndarray
            Energy per tick [J]: the integral of the 15-minute step profile over the tick, so
            any ``dt`` conserves energy and any split into windows gives identical values.

        Raises
        ------
        ValueError
            If ``dt <= 0``, ``tick0 < 0``, ``n < 0`` or on an unknown time zone.
        """
        a, b = _tick_bounds(start, dt, tick0, n)
        if n == 0:
            return np.zeros(0)
        s_a = a + standard_offset(a, tz)
        s_b = b + standard_offset(b, tz)
        total, _, _ = self._series.integral(s_a, s_b)
        return np.maximum(total, 0.0)


#: The household profile (``BdewProfile(annual_kwh)`` is BDEW H0).
H0Profile = BdewProfile


@dataclass(frozen=True, eq=False)
class CsvProfile:
    """A load profile read from a CSV file (:func:`read_load_csv`).

    Attributes
    ----------
    table : YearTable
        Mean power of each row's interval [W] on calendar years of the file's standard time:
        used as it is where the file covers the simulated time, else the same time of year of
        a complete year of the file (see :class:`~homesim.devices.models._timeseries.YearTable`).
    annual_kwh : float
        Energy of the file per 365 days [kWh] (its energy scaled by 365 d over its span).
    step : int
        Interval of the rows [s].
    """

    table: YearTable
    annual_kwh: float
    step: int

    def energy(self, start: float, dt: float, tick0: int, n: int) -> np.ndarray:
        """Energy of ticks ``tick0 … tick0 + n - 1`` [J]: the exact integral of the step
        profile over each tick (window-independent, conserving energy for any ``dt``).

        Raises
        ------
        ValueError
            If ``dt <= 0``, ``tick0 < 0`` or ``n < 0``, or the file covers a tick neither
            itself nor by a complete year.
        """
        a, b = _tick_bounds(start, dt, tick0, n)
        if n == 0:
            return np.zeros(0)
        return np.maximum(self.table.integral(a, b), 0.0)


def read_load_csv(
    path: str,
    tz: str,
    time_column: str = "time",
    column: str = "power",
    unit: str = "W",
    label: str = "start",
    time_format: str | None = None,
    annual_kwh: float | None = None,
) -> CsvProfile:
    """Read a load profile from a CSV file.

    Parameters
    ----------
    path : str
        The CSV file (see :mod:`homesim.devices.models.csvseries` for times and layout).
    tz : str
        Time zone of naive times; its standard time defines the calendar years.
    time_column, column : str
        Names of the time column and of the load column.
    unit : str, default 'W'
        One of :data:`CSV_UNITS`: a power (W, kW, MW: mean over the row's interval) or an
        energy per interval (J, Wh, kWh, MWh).
    label : {'start', 'end'}
        Whether a row's time starts or ends its interval.
    time_format : str, optional
        Format of the times (default ISO 8601).
    annual_kwh : float, optional
        Scale the profile to this energy per 365 days [kWh]; None = the file's values.

    Returns
    -------
    CsvProfile

    Raises
    ------
    ValueError
        On an unknown unit, a negative value, a file that cannot be used
        (:class:`~homesim.devices.models.csvseries.CsvTableError`), or a scale asked of a
        file holding no energy.
    """
    from .csvseries import read_regular_csv

    if unit not in CSV_UNITS:
        raise ValueError(f"unit: must be one of {', '.join(CSV_UNITS)}, got {unit!r}")
    rec = read_regular_csv(path, time_column, [column], tz, label, time_format)
    v = rec.values[column]
    if np.any(v < 0):
        i = int(np.flatnonzero(v < 0)[0])
        raise ValueError(f"{path}: column {column!r}, data row {i + 1}: a load cannot be "
                         f"negative ({v[i]})")
    what, factor = CSV_UNITS[unit]
    to_watt = factor if what == "power" else factor / rec.step
    per_year = float(v.sum()) * to_watt * rec.step * (365 * 86400) / rec.span / J_PER_KWH
    if annual_kwh is not None:
        if not (np.isfinite(annual_kwh) and annual_kwh >= 0):
            raise ValueError(f"annual_kwh: must be >= 0 kWh, got {annual_kwh}")
        if per_year <= 0.0:
            raise ValueError(f"{path}: the profile holds no energy; it cannot be scaled to "
                             f"{annual_kwh} kWh")
        to_watt *= annual_kwh / per_year
        per_year = float(annual_kwh)
    return CsvProfile(rec.table(column, to_watt), per_year, rec.step)


def appliance_energy(
    times: np.ndarray,
    dt: float,
    tz: str,
    power: float,
    start: str,
    end: str,
    days: Iterable[str] | None = None,
) -> np.ndarray:
    """Energy of an appliance that runs at constant power inside a daily window.

    Parameters
    ----------
    times : array_like
        Tick starts, seconds since the Unix epoch (UTC) [s].
    dt : float
        Tick length [s], > 0.
    tz : str
        Time zone of the schedule.
    power : float
        Power while on [W], >= 0.
    start, end : str
        Local times ``"HH:MM"``; ``end <= start`` wraps midnight, ``"24:00"`` is the end of
        the day.
    days : iterable of str, optional
        Weekdays (``'mon'`` … ``'sun'``) on which the window starts; all when ``None``.

    Returns
    -------
    numpy.ndarray
        ``power`` times the exact overlap of each tick with the window [J].

    Raises
    ------
    ValueError
        If ``dt <= 0``, ``power < 0``, or on a malformed time, weekday or time zone.
    """
    if not (np.isfinite(power) and power >= 0.0):
        raise ValueError(f"power: must be >= 0 W, got {power}")
    window = DailyWindow.parse(start, end, days)
    return window_overlap(times, dt, tz, (window,)) * float(power)


def _key_number(device_key: str) -> int:
    """A stable 64-bit number for a device key (not Python's salted ``hash``)."""
    return int.from_bytes(hashlib.sha256(device_key.encode("utf-8")).digest()[:8], "little")


def noise_factors(seed: int, device_key: str, tick0: int, n: int, sigma: float) -> np.ndarray:
    """Multiplicative lognormal noise with mean 1, reproducible per tick.

    Parameters
    ----------
    seed : int
        Run seed, >= 0.
    device_key : str
        Identifies the noise stream (e.g. the device name).
    tick0 : int
        Index of the first tick, >= 0.
    n : int
        Number of ticks, >= 0.
    sigma : float
        Standard deviation of the underlying normal [-], >= 0.

    Returns
    -------
    numpy.ndarray
        ``exp(sigma * z - sigma**2 / 2)`` with standard normal ``z`` [-]; ones when
        ``sigma == 0``.

    Raises
    ------
    ValueError
        If ``seed``, ``tick0``, ``n`` or ``sigma`` is negative.

    Notes
    -----
    Ticks are grouped in fixed blocks of 4096; block ``b`` draws from its own Philox
    generator seeded by ``SeedSequence(seed, spawn_key=(key, b))``. A tick's factor therefore
    depends only on ``(seed, device_key, tick index)``, not on how ticks are grouped into
    windows.
    """
    if seed < 0 or tick0 < 0 or n < 0:
        raise ValueError(f"seed, tick0 and n must be >= 0, got {seed}, {tick0}, {n}")
    if not (np.isfinite(sigma) and sigma >= 0.0):
        raise ValueError(f"sigma: must be >= 0, got {sigma}")
    if sigma == 0.0 or n == 0:
        return np.ones(n)
    key = _key_number(device_key)
    first, last = tick0 // _NOISE_BLOCK, (tick0 + n - 1) // _NOISE_BLOCK
    z = np.concatenate(
        [
            np.random.Generator(
                np.random.Philox(np.random.SeedSequence(int(seed), spawn_key=(key, b)))
            ).standard_normal(_NOISE_BLOCK)
            for b in range(first, last + 1)
        ]
    )
    offset = tick0 - first * _NOISE_BLOCK
    z = z[offset : offset + n]
    return np.exp(sigma * z - 0.5 * sigma * sigma)
