"""What the report and ``homesim compare`` read from a run: local-time bins, the AC bus per
tick or per period, stored per-tick series. Reads go through
:class:`homesim.devices.bus.store.LedgerStore` (no SQL here); the binning and the AC-bus
arithmetic are pure functions.

The **AC bus** of a home is the balancer's (the inverter's) AC side. Supply: PV (AC), battery
discharge, grid import; use: each consumer group (consumers grouped by their kind's label, so
six flats' household loads are one group), battery charge, grid export. PV (AC) per tick is
what the balancer put out minus what it took from the battery and the grid
(``out − in_non-PV``, equal to its ``pv_ac`` metric by the balancer's node balance), so supply
equals use in every tick and every period.

Times: ``start`` [s since the epoch] of tick 0, ``dt`` [s]; tick ``k`` covers
``[start + k·dt, start + (k+1)·dt)`` and belongs to the local period its start lies in.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, Literal

import numpy as np

from homesim.devices.bus.figures import Figures, Roles, figures_of
from homesim.devices.bus.store import LedgerStore, Meter
from homesim.schemas.registry import REGISTRY

__all__ = ["RunInfo", "Column", "Period", "PERIODS", "load_info", "tz_of", "period_edges",
           "bin_index", "binned", "ac_meters", "ac_columns", "ac_per_tick", "ac_per_bin",
           "FlowBins", "meter_of_flows", "window_metric_per_period",
           "storage_series", "hourly_stats", "local_naive", "BIN_S", "display"]

ELEC = "electricity"
BIN_S = 900.0
"""Width of the time bins the store aggregates packets into for period figures [s] (every
real time-zone offset is a multiple of 15 min, so local days start on a bin edge)."""
DISPLAY_KWH = 1e-3
"""Energies smaller than this are not data in figures and cards [kWh] (float noise)."""
DISPLAY_W = 1.0
"""Powers smaller than this are not data in figures [W]."""

Period = Literal["hour", "day", "week", "month"]
PERIODS: tuple[Period, ...] = ("day", "week", "month")


@dataclass(frozen=True)
class RunInfo:
    """A run's time base, devices and headline figures (read once per report)."""

    run_dir: Path
    run_id: str
    home: str
    start: float
    """Start of tick 0 [s since the epoch]."""
    dt: float
    """Tick length [s]."""
    ticks: int
    """Booked ticks (contiguous from 0) [-]."""
    planned: int
    tz: tzinfo
    tz_name: str
    kinds: dict[str, str]
    roles: Roles
    figures: Figures
    manifest: dict[str, Any]

    @property
    def end(self) -> float:
        """End of the last booked tick [s since the epoch]."""
        return self.start + self.ticks * self.dt

    def first_day(self) -> date:
        """Local date of the first tick."""
        return datetime.fromtimestamp(self.start, self.tz).date()

    def days(self) -> float:
        """Length of the booked run [d]."""
        return self.ticks * self.dt / 86400.0


def tz_of(name: str | None) -> tzinfo:
    """The time zone of a manifest's ``location.timezone`` (UTC when missing or unknown)."""
    from datetime import UTC

    from homesim.devices.models.schedule import resolve_tz

    if not name:
        return UTC
    try:
        return resolve_tz(name)
    except Exception:  # noqa: BLE001 - an unknown zone: UTC, named in every axis title
        return UTC


def load_info(store: LedgerStore, run_dir: Path) -> RunInfo:
    """Read the run row, nodes and headline figures of an open ledger.

    Raises
    ------
    homesim.devices.bus.store.LedgerError
        If the ledger has no run row.
    """
    from homesim.devices.bus.store import LedgerError

    run = store.run()
    if run is None:
        raise LedgerError("the ledger has no run row (not a finished run folder?)")
    manifest = json.loads(run.manifest or "{}")
    tz_name = ((manifest.get("spec") or {}).get("location") or {}).get("timezone") or "UTC"
    kinds = dict(store.kinds())
    span = store.settled_span()
    return RunInfo(run_dir=Path(run_dir), run_id=run.run_id, home=run.home, start=run.start,
                   dt=run.dt, ticks=int(span.end_tick or 0) if span.first_tick == 0 else 0,
                   planned=run.ticks, tz=tz_of(tz_name), tz_name=tz_name, kinds=kinds,
                   roles=Roles.of(kinds), figures=figures_of(store), manifest=manifest)


# ---------------------------------------------------------------------------- time bins


def _local_midnight(d: date, tz: tzinfo) -> float:
    return datetime(d.year, d.month, d.day, tzinfo=tz).timestamp()


def period_edges(t0: float, t1: float, tz: tzinfo, period: Period) -> tuple[np.ndarray, list[str]]:
    """Edges [s since the epoch] of the local periods covering ``[t0, t1)`` and their labels.

    ``hour``: ``YYYY-MM-DD HH:00``; ``day``: ``YYYY-MM-DD``; ``week``: the Monday's date;
    ``month``: ``YYYY-MM``. Returns ``len(labels) + 1`` edges.
    """
    first = datetime.fromtimestamp(t0, tz)
    edges: list[float] = []
    labels: list[str] = []
    if period == "hour":
        h = first.replace(minute=0, second=0, microsecond=0)
        t = h.timestamp()
        while t < t1:
            edges.append(t)
            labels.append(datetime.fromtimestamp(t, tz).strftime("%Y-%m-%d %H:00"))
            t += 3600.0
        edges.append(t)
        return np.array(edges), labels
    d = first.date()
    if period == "week":
        d -= timedelta(days=d.weekday())
    elif period == "month":
        d = d.replace(day=1)
    while True:
        t = _local_midnight(d, tz)
        if t >= t1 and edges:
            edges.append(t)
            break
        edges.append(t)
        if period == "day":
            labels.append(d.isoformat())
            d += timedelta(days=1)
        elif period == "week":
            labels.append(d.isoformat())
            d += timedelta(days=7)
        else:
            labels.append(d.strftime("%Y-%m"))
            d = (d.replace(day=28) + timedelta(days=4)).replace(day=1)
    return np.array(edges), labels


def bin_index(times: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Index of the period each time [s] lies in (``-1`` before the first edge, ``len - 1``
    after the last)."""
    return np.searchsorted(edges, times, side="right") - 1


def binned(values: np.ndarray, index: np.ndarray, n: int) -> np.ndarray:
    """Sum of ``values`` per bin ``index`` (out-of-range indices dropped), shape (n,)."""
    ok = (index >= 0) & (index < n)
    return np.bincount(index[ok], weights=values[ok], minlength=n)[:n]


def local_naive(times: np.ndarray | Sequence[float], tz: tzinfo) -> list[str]:
    """Local wall-clock times ``YYYY-MM-DD HH:MM:SS`` for plotly axes (no offset: plotly
    would convert an offset to the browser's zone)."""
    return [datetime.fromtimestamp(float(t), tz).strftime("%Y-%m-%d %H:%M:%S") for t in times]


def display(values: np.ndarray, threshold: float) -> np.ndarray:
    """``values`` with every ``|x| < threshold`` set to 0 (float noise is not data)."""
    v = np.asarray(values, dtype=float).copy()
    v[np.abs(v) < threshold] = 0.0
    return v


# ---------------------------------------------------------------------------- the AC bus


@dataclass(frozen=True)
class Column:
    """One series of the AC bus: ``sign`` +1 supply, −1 use; ``values`` [J] per tick or bin."""

    key: str
    label: str
    colour: str
    sign: int
    values: np.ndarray


def _groups(roles: Roles) -> dict[str, tuple[str, ...]]:
    """Consumers grouped by their kind's label (in registry order of first appearance)."""
    out: dict[str, list[str]] = {}
    for c in roles.consumers:
        out.setdefault(roles.label(c), []).append(c)
    return {k: tuple(v) for k, v in out.items()}


def ac_meters(roles: Roles) -> dict[str, Meter]:
    """The meters the AC bus is made of (see the module docstring)."""
    el = ELEC
    m = {"out": Meter(el, roles.balancers, None),
         "in_other": Meter(el, (*roles.batteries, *roles.grids), roles.balancers),
         "discharge": Meter(el, roles.batteries, None),
         "import": Meter(el, roles.grids, None),
         "charge": Meter(el, None, roles.batteries),
         "export": Meter(el, None, roles.grids)}
    for label, devices in _groups(roles).items():
        m[f"use:{label}"] = Meter(el, None, devices)
    return m


def _colour(kind: str | None, default: str) -> str:
    return REGISTRY.get(kind).colour if kind in REGISTRY else default


def ac_columns(values: Mapping[str, np.ndarray], roles: Roles) -> list[Column]:
    """The AC bus's columns from the values of :func:`ac_meters` (pure)."""
    groups = _groups(roles)
    pv = np.maximum(values["out"] - values["in_other"], 0.0)
    cols = [Column("pv_ac", "PV (AC)", "#f39c12", 1, pv),
            Column("discharge", "Battery discharge", "#27ae60", 1, values["discharge"]),
            Column("import", "Grid import", "#2980b9", 1, values["import"])]
    for label, devices in groups.items():
        n = len(devices)
        kind = roles.kinds.get(devices[0])
        cols.append(Column(f"use:{label}", f"{label} ×{n}" if n > 1 else label,
                           _colour(kind, "#8e44ad"), -1, values[f"use:{label}"]))
    cols += [Column("charge", "Battery charge", "#82e0aa", -1, values["charge"]),
             Column("export", "Grid export", "#85c1e9", -1, values["export"])]
    if not roles.batteries:
        cols = [c for c in cols if c.key not in ("discharge", "charge")]
    return cols


def ac_per_tick(store: LedgerStore, roles: Roles, tick0: int, tick1: int) -> list[Column]:
    """The AC bus per tick of ``[tick0, tick1)`` [J]."""
    meters = ac_meters(roles)
    a = store.per_tick(list(meters.values()), tick0, tick1)
    return ac_columns({k: a[:, i] for i, k in enumerate(meters)}, roles)


def meter_of_flows(m: Meter, flows: Mapping[tuple[str, str, str], np.ndarray], n: int
                   ) -> np.ndarray:
    """A meter evaluated on flows given as arrays per (source, sink, carrier) (pure)."""
    out = np.zeros(n)
    for (s, k, c), v in flows.items():
        if c == m.carrier and (m.sources is None or s in m.sources) \
                and (m.sinks is None or k in m.sinks):
            out += v
    return out


@dataclass(frozen=True)
class FlowBins:
    """Every flow's energy per :data:`BIN_S` bin of the run, read once (one SQL aggregate),
    regrouped into local periods on demand."""

    times: np.ndarray
    """Start of each row's bin [s since the epoch]."""
    keys: tuple[tuple[str, str, str], ...]
    key_index: np.ndarray
    """Index into ``keys`` of each row."""
    joules: np.ndarray
    """Energy of each row [J]."""

    @classmethod
    def read(cls, store: LedgerStore) -> FlowBins:
        """Aggregate the packets into bins (SQLite does the work)."""
        rows = store.hourly_flows(BIN_S)
        keys: dict[tuple[str, str, str], int] = {}
        idx = [keys.setdefault((r.source, r.sink, r.carrier), len(keys)) for r in rows]
        return cls(times=np.array([r.bin for r in rows], dtype=float) * BIN_S,
                   keys=tuple(keys), key_index=np.array(idx, dtype=np.int64),
                   joules=np.array([r.joules for r in rows], dtype=float))

    def per(self, info: RunInfo, period: Period
            ) -> tuple[list[str], dict[tuple[str, str, str], np.ndarray]]:
        """Labels of the local periods of the run and each flow's energy per period [J]."""
        edges, labels = period_edges(info.start, max(info.end, info.start + info.dt), info.tz,
                                     period)
        n = len(labels)
        idx = bin_index(self.times, edges)
        out = {}
        for k, key in enumerate(self.keys):
            sel = self.key_index == k
            out[key] = binned(self.joules[sel], idx[sel], n)
        return labels, out


def ac_per_bin(labels_flows: tuple[list[str], dict[tuple[str, str, str], np.ndarray]],
               roles: Roles) -> list[Column]:
    """The AC bus per period from :meth:`FlowBins.per` [J] (pure)."""
    labels, flows = labels_flows
    n = len(labels)
    return ac_columns({k: meter_of_flows(m, flows, n) for k, m in ac_meters(roles).items()},
                      roles)


# ---------------------------------------------------------------------------- series


def storage_series(store: LedgerStore, info: RunInfo, device: str, metric: str
                   ) -> np.ndarray | None:
    """A device metric per tick over the run, or None when the ledger did not store it per
    tick (ledgers older than the ``series`` table)."""
    if (device, metric) not in set(store.series_keys()):
        return None
    return store.series(device, metric, 0, info.ticks)


def hourly_stats(values: np.ndarray, info: RunInfo, period: Period = "hour"
                 ) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Local period labels and per-period minimum, mean and maximum of a per-tick series."""
    edges, labels = period_edges(info.start, max(info.end, info.start + info.dt), info.tz,
                                 period)
    t = info.start + np.arange(values.size) * info.dt
    idx = bin_index(t, edges)
    n = len(labels)
    ok = (idx >= 0) & (idx < n)
    idx, v = idx[ok], values[ok]
    count = np.bincount(idx, minlength=n)[:n]
    mean = np.divide(np.bincount(idx, weights=v, minlength=n)[:n], count,
                     out=np.full(n, np.nan), where=count > 0)
    lo = np.full(n, np.inf)
    hi = np.full(n, -np.inf)
    np.minimum.at(lo, idx, v)
    np.maximum.at(hi, idx, v)
    lo[count == 0] = np.nan
    hi[count == 0] = np.nan
    return labels, lo, mean, hi


def window_metric_per_period(store: LedgerStore, info: RunInfo, metric: str,
                             devices: tuple[str, ...], period: Period
                             ) -> tuple[list[str], np.ndarray]:
    """A metric booked per window, summed per local period (each window counted at its
    middle: exact for periods made of whole windows, e.g. days at speed ``max``)."""
    edges, labels = period_edges(info.start, max(info.end, info.start + info.dt), info.tz,
                                 period)
    rows = store.device_metrics(metrics=(metric,), devices=devices) if devices else []
    if not rows:
        return labels, np.zeros(len(labels))
    mid = np.array([info.start + (m.tick0 + m.n / 2) * info.dt for m in rows])
    return labels, binned(np.array([m.total for m in rows]), bin_index(mid, edges),
                          len(labels))
