"""Household load: BDEW H0 standard load profile, scheduled appliances and seeded noise.

References
----------
Fünfgeld, C. and Tiedemann, R. (2000). Anwendung der Repräsentativen VDEW-Lastprofile
step-by-step. VDEW / BTU Cottbus (the BDEW/VDEW standard load profiles; H0 = households),
as implemented by demandlib (``demandlib.bdew.ElecSlp``), https://github.com/oemof/demandlib.

Salmon, J. K., Moraes, M. A., Dror, R. O. and Shaw, D. E. (2011). Parallel random numbers:
as easy as 1, 2, 3. Proc. SC'11. :doi:`10.1145/2063384.2063405` (Philox, counter-based).
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from homesim.schemas.units import J_PER_KWH

from ._timeseries import CalendarSeries
from .schedule import DailyWindow, standard_offset, window_overlap

__all__ = ["H0Profile", "appliance_energy", "h0_shape", "noise_factors"]

_SLOT = 900  # BDEW profiles have 15-minute intervals [s]
_NOISE_BLOCK = 4096  # ticks per independently seeded noise block


@lru_cache(maxsize=16)
def h0_shape(year: int, dynamic: bool = False) -> np.ndarray:
    """BDEW H0 profile of a calendar year, normalised to a sum of 1.

    Parameters
    ----------
    year : int
        Calendar year (weekdays and the season calendar depend on it).
    dynamic : bool, default False
        Apply BDEW's dynamisation function (``'h0_dyn'``), which smooths the seasons.

    Returns
    -------
    numpy.ndarray
        Share of the annual energy in each 15-minute interval of the year [-]
        (35040 values, 35136 in a leap year), read-only.

    Notes
    -----
    Built with ``demandlib.bdew.ElecSlp(year)`` (demandlib 0.2.2, no holidays). demandlib
    switches warnings to errors while building; this is confined to
    :func:`warnings.catch_warnings`. Cached per process.
    """
    from demandlib import bdew

    with warnings.catch_warnings():
        profiles = bdew.ElecSlp(int(year)).get_profiles("h0_dyn" if dynamic else "h0")
    shape = profiles.iloc[:, 0].to_numpy(dtype=float)
    shape = shape / shape.sum()
    shape.setflags(write=False)
    return shape


@dataclass(frozen=True)
class H0Profile:
    """Household base load following the BDEW H0 standard load profile.

    Attributes
    ----------
    annual_kwh : float
        Energy per calendar year [kWh], >= 0.
    dynamic : bool, default False
        Use the dynamised profile (see :func:`h0_shape`).

    Raises
    ------
    ValueError
        If ``annual_kwh`` is negative or not finite.
    """

    annual_kwh: float
    dynamic: bool = False
    _series: CalendarSeries = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not (np.isfinite(self.annual_kwh) and self.annual_kwh >= 0.0):
            raise ValueError(f"annual_kwh: must be >= 0 kWh, got {self.annual_kwh}")
        # Each 15-minute share as mean power: kWh -> J, spread over 900 s [W].
        scale = self.annual_kwh * J_PER_KWH / _SLOT
        dynamic = self.dynamic

        def year_values(year: int) -> np.ndarray:
            return h0_shape(year, dynamic) * scale

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
        if not dt > 0:
            raise ValueError(f"dt: must be > 0 s, got {dt}")
        if tick0 < 0 or n < 0:
            raise ValueError(f"tick0 and n must be >= 0, got tick0={tick0}, n={n}")
        if n == 0:
            return np.zeros(0)
        k = np.arange(tick0, tick0 + n, dtype=float)
        a = start + k * dt
        b = start + (k + 1.0) * dt
        s_a = a + standard_offset(a, tz)
        s_b = b + standard_offset(b, tz)
        total, _, _ = self._series.integral(s_a, s_b)
        return np.maximum(total, 0.0)


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
