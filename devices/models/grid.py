"""Grid connection: availability (outages, load shedding), tariffs and cost.

Recurring windows and tariff bands are in local wall-clock time (see
:mod:`homesim.devices.models.schedule`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from homesim.schemas.units import J_PER_KWH

from .schedule import DailyWindow, WindowSpec, in_windows, parse_windows, window_overlap

__all__ = ["J_PER_KWH", "availability", "cost", "tariff"]


def availability(
    times: np.ndarray,
    dt: float,
    tz: str,
    outages: Sequence[tuple[float, float]] = (),
    daily: Iterable[WindowSpec] = (),
) -> np.ndarray:
    """Whether the grid is available during each tick.

    Parameters
    ----------
    times : array_like
        Tick starts, seconds since the Unix epoch (UTC) [s].
    dt : float
        Tick length [s], > 0.
    tz : str
        Time zone of the daily windows.
    outages : sequence of (start, end)
        One-off outages ``[start, end)``, seconds since the Unix epoch [s].
    daily : iterable of window specifications
        Recurring load-shedding windows: mappings ``{start: "HH:MM", end: "HH:MM",
        days: ["mon", …]}`` or ``("HH:MM", "HH:MM")`` pairs; may wrap midnight.

    Returns
    -------
    numpy.ndarray of bool
        False where any part of the tick (of positive length) overlaps an outage or a window.

    Raises
    ------
    ValueError
        If ``dt <= 0``, an outage ends before it starts, or on a malformed window or time zone.
    """
    if not dt > 0:
        raise ValueError(f"dt: must be > 0 s, got {dt}")
    t = np.atleast_1d(np.asarray(times, dtype=float))
    up = np.ones(t.shape, dtype=bool)
    end = t + dt
    for i, (o_start, o_end) in enumerate(outages):
        if not o_end >= o_start:
            raise ValueError(f"outages[{i}]: end {o_end} is before start {o_start}")
        up &= ~((t < o_end) & (end > o_start))
    windows = parse_windows(daily)
    if windows:
        up &= window_overlap(t, dt, tz, windows) <= 0.0
    return up


def _band(entry: Mapping[str, Any]) -> tuple[DailyWindow, float]:
    try:
        window = DailyWindow.parse(entry["start"], entry["end"], entry.get("days"))
        price = float(entry["price"])
    except KeyError as exc:
        raise ValueError(f"tou band {dict(entry)!r}: missing key {exc.args[0]!r}") from None
    if not np.isfinite(price):
        raise ValueError(f"tou band {dict(entry)!r}: price must be finite")
    return window, price


def read_price_series(path: str, tz: str) -> tuple[np.ndarray, np.ndarray]:
    """Read a price time series from a CSV file with columns ``time`` and ``price``.

    A naive ``time`` is local time in ``tz``; rows are sorted by time.

    Returns
    -------
    times : numpy.ndarray
        Start of each price [s since epoch, UTC].
    prices : numpy.ndarray
        [currency/kWh].

    Raises
    ------
    ValueError
        If the file cannot be read, lacks the columns, or has unparsable or non-finite values.
    """
    import pandas as pd

    from .schedule import resolve_tz

    try:
        df = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise ValueError(f"price file {path}: {exc}") from None
    missing = {"time", "price"} - set(df.columns)
    if missing:
        raise ValueError(f"price file {path}: missing column(s) {', '.join(sorted(missing))}")
    try:
        t = pd.to_datetime(df["time"], format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise ValueError(f"price file {path}: bad time: {exc}") from None
    if t.dt.tz is None:
        t = t.dt.tz_localize(resolve_tz(tz))
    secs = (t.dt.tz_convert("UTC") - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy()
    prices = pd.to_numeric(df["price"], errors="coerce").to_numpy(dtype=float)
    if not np.all(np.isfinite(prices)) or not np.all(np.isfinite(secs)):
        raise ValueError(f"price file {path}: every row needs a time and a numeric price")
    order = np.argsort(secs, kind="stable")
    return secs[order], prices[order]


def tariff(
    times: np.ndarray,
    dt: float,
    tz: str,
    flat: float | None,
    tou: Iterable[Mapping[str, object]] = (),
    series: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Energy price at each tick.

    Parameters
    ----------
    times : array_like
        Tick starts, seconds since the Unix epoch (UTC) [s].
    dt : float
        Tick length [s], > 0 (prices are set by the local time of the tick start).
    tz : str
        Time zone of the bands.
    flat : float or None
        Price outside any band [currency/kWh]; ``None`` means 0.
    tou : iterable of mappings
        Time-of-use bands ``{start: "HH:MM", end: "HH:MM", price: float, days: [...]?}``
        [currency/kWh]; may wrap midnight. Where bands overlap, the first listed wins.
    series : (times, prices), optional
        A price time series (see :func:`read_price_series`): from each of its times the
        price holds until the next; it wins over ``flat`` and ``tou`` from its first time on.

    Returns
    -------
    numpy.ndarray
        Price [currency/kWh].

    Raises
    ------
    ValueError
        If ``dt <= 0``, or on a malformed band or time zone.
    """
    if not dt > 0:
        raise ValueError(f"dt: must be > 0 s, got {dt}")
    t = np.atleast_1d(np.asarray(times, dtype=float))
    price = np.full(t.shape, 0.0 if flat is None else float(flat))
    assigned = np.zeros(t.shape, dtype=bool)
    for entry in tou:
        window, value = _band(entry)
        inside = in_windows(t, tz, (window,)) & ~assigned
        price[inside] = value
        assigned |= inside
    if series is not None:
        st, sp = series
        idx = np.searchsorted(np.asarray(st, dtype=float), t, side="right") - 1
        covered = idx >= 0
        price[covered] = np.asarray(sp, dtype=float)[idx[covered]]
    return price


def cost(
    import_j: np.ndarray,
    export_j: np.ndarray,
    price_import: np.ndarray,
    price_export: np.ndarray,
) -> np.ndarray:
    """Net cost of grid exchange per tick.

    Parameters
    ----------
    import_j, export_j : array_like
        Energy imported from / exported to the grid [J].
    price_import, price_export : array_like
        Prices [currency/kWh].

    Returns
    -------
    numpy.ndarray
        ``import_j / 3.6e6 * price_import - export_j / 3.6e6 * price_export`` [currency]
        (positive = paid to the grid).
    """
    imp = np.asarray(import_j, dtype=float)
    exp = np.asarray(export_j, dtype=float)
    return imp / J_PER_KWH * np.asarray(price_import, dtype=float) - exp / J_PER_KWH * (
        np.asarray(price_export, dtype=float)
    )
