"""The ledger as tables for analysis: ``homesim export`` and the notebook API read it here.

Every table comes with its time in UTC and in the home's local time zone; energies stay in
joules [J] as booked, the wide table adds kW and kWh. All reads go through
:class:`~homesim.devices.bus.store.LedgerStore` (the one module with SQL).

Time conventions
----------------
* ``sim_time`` is the start of a tick [s since the Unix epoch, UTC]: tick ``i`` covers
  ``[start + i·dt, start + (i+1)·dt)``; a window's rows carry the start of its first tick.
* ``time_utc`` / ``time_local`` are the same instant as timestamps: UTC and the home's zone
  (``spec.location.timezone``, with its UTC offset). In CSV they are ISO 8601 text with the
  offset (``2025-01-01T00:00:00-05:00``); in Parquet timezone-aware timestamp columns.
* Only non-zero packets are booked: a flow that is absent in a tick was zero in that tick.
  The wide table has one row per booked tick, zeros included.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from homesim.devices.bus.store import EXPORT_TABLES, LedgerStore, Meter
from homesim.schemas.registry import REGISTRY
from homesim.schemas.units import J_PER_KWH, W_PER_KW

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["TimeBase", "timebase", "run_days", "table", "wide", "flow_keys", "flow_label",
           "tick_energy", "series", "flows", "write", "EXPORT_TABLES", "FREQUENCIES"]

#: ``by``/``freq`` names of :func:`flows` and :func:`series` → pandas offsets (local time;
#: weeks start on Monday).
FREQUENCIES = {"hour": "h", "day": "D", "week": "W-MON", "month": "MS", "year": "YS"}


@dataclass(frozen=True)
class TimeBase:
    """The time axis of a run: tick ``i`` starts at ``start + i·dt``."""

    start: float
    """Start of tick 0 [s since the epoch, UTC]."""
    dt: float
    """Tick length [s]."""
    ticks: int
    """Planned ticks [-]."""
    tz: tzinfo
    """The home's time zone."""
    tz_name: str
    """Its name as the manifest gives it (``Etc/GMT+5``, ``Europe/Berlin``, ``UTC+02:00``)."""


def _zone(manifest_json: str | None) -> tuple[tzinfo, str]:
    from homesim.infra.analysis.rundata import tz_of

    try:
        name = json.loads(manifest_json or "{}")["spec"]["location"]["timezone"] or "UTC"
    except Exception:  # noqa: BLE001 - no location or no zone: UTC
        name = "UTC"
    return tz_of(name), name


def timebase(store: LedgerStore) -> TimeBase:
    """The run's time axis and the home's time zone (from the run row).

    Raises
    ------
    homesim.devices.bus.store.LedgerError
        If the ledger has no run row.
    """
    from homesim.devices.bus.store import LedgerError

    r = store.run()
    if r is None:
        raise LedgerError("the ledger has no run row (the run never started)")
    tz, name = _zone(r.manifest)
    return TimeBase(r.start, r.dt, r.ticks, tz, name)


def run_days(db: Path | str) -> tuple[date, date, str]:
    """First and last local day with booked ticks (planned ticks while none is booked) and
    the zone's name.

    Raises
    ------
    FileNotFoundError, homesim.devices.bus.store.LedgerError
        If there is no readable ledger at ``db``.
    """
    with LedgerStore.open(db) as store:
        tb = timebase(store)
        span = store.settled_span()
    first = span.first_tick if span.first_tick is not None else 0
    end = span.end_tick if span.end_tick is not None else tb.ticks
    t0 = tb.start + first * tb.dt
    t1 = tb.start + max(end, first + 1) * tb.dt - 1e-6
    return (datetime.fromtimestamp(t0, tb.tz).date(), datetime.fromtimestamp(t1, tb.tz).date(),
            tb.tz_name)


def _times(df: pd.DataFrame, seconds: Any, tb: TimeBase, at: int, prefix: str = "time"
           ) -> None:
    """Insert ``{prefix}_utc`` and ``{prefix}_local`` (timestamps of ``seconds`` [s since the
    epoch]) at column position ``at``."""
    import pandas as pd

    utc = pd.to_datetime(np.asarray(seconds, dtype=float), unit="s", utc=True)
    df.insert(at, f"{prefix}_utc", utc)
    df.insert(at + 1, f"{prefix}_local", utc.tz_convert(tb.tz))


def _windows(store: LedgerStore) -> pd.DataFrame:
    import pandas as pd

    w = store.settled_windows()
    return pd.DataFrame({"window_index": [x.window for x in w], "tick0": [x.tick0 for x in w],
                         "n": [x.n for x in w]}, dtype="int64")


def table(store: LedgerStore, name: str) -> pd.DataFrame:
    """One ledger table (``packet``, ``node_balance``, ``device_metric``, ``series``,
    ``settled_window``, ``event``, ``node`` or ``run``) with its times.

    Columns added to the stored ones: ``time_utc``, ``time_local`` (the tick's, or the
    window's first tick's, start) after ``sim_time``; for the per-window tables
    (``node_balance``, ``device_metric``, ``settled_window``) ``tick0``, ``n`` [ticks],
    ``sim_time`` [s] and ``end_utc``, ``end_local`` (end of the window's last tick); for
    ``device_metric`` also ``kind``, ``unit`` (the metric's unit from the kind's descriptor)
    and ``mean`` (= ``total / n``: the tick mean, e.g. [W] or [°C]; ``total`` is the sum over
    the window's ticks, an energy [J] for metrics in J); ``settled_window`` adds
    ``booked_at_utc`` (wall clock); ``run`` adds ``start_utc``, ``start_local`` and
    ``timezone``; ``series`` (per-tick values of a few metrics; a missing row means 0) adds
    ``sim_time``, the times, ``kind`` and ``unit``. Energies are [J].

    Raises
    ------
    ValueError
        If ``name`` is not one of :data:`EXPORT_TABLES`.
    homesim.devices.bus.store.LedgerError
        If the ledger cannot be read.
    """
    import pandas as pd

    columns, rows = store.export_table(name)
    # as pandas.read_sql_query builds its frame
    df = pd.DataFrame.from_records(rows, columns=columns, coerce_float=True)
    if name == "node":
        return df
    tb = timebase(store)
    if name in ("packet", "event"):
        _times(df, df["sim_time"], tb, list(df.columns).index("sim_time") + 1)
        return df
    if name == "series":  # per-tick metric values: the tick's times, the metric's unit
        df.insert(1, "sim_time", tb.start + df["tick"].astype(float) * tb.dt)
        _times(df, df["sim_time"], tb, 2)
        kinds = store.kinds()
        df.insert(list(df.columns).index("device") + 1, "kind", df["device"].map(kinds))
        df.insert(list(df.columns).index("metric") + 1, "unit",
                  [_metric_unit(k, m) for k, m in zip(df["kind"], df["metric"], strict=True)])
        return df
    if name == "run":
        _times(df, df["start_time"], tb, list(df.columns).index("start_time") + 1, "start")
        df.insert(list(df.columns).index("start_local") + 1, "timezone", tb.tz_name)
        return df
    wins = _windows(store)
    if name != "settled_window":
        df = df.merge(wins, on="window_index", how="left", sort=False)
        cols = list(columns)
        df = df[[cols[0], "tick0", "n", *cols[1:]]]
    df.insert(list(df.columns).index("n") + 1, "sim_time", tb.start + df["tick0"] * tb.dt)
    at = list(df.columns).index("sim_time") + 1
    _times(df, df["sim_time"], tb, at)
    _times(df, tb.start + (df["tick0"] + df["n"]) * tb.dt, tb, at + 2, "end")
    if name == "settled_window":
        df["booked_at_utc"] = pd.to_datetime(df["booked_at"], unit="s", utc=True)
    elif name == "device_metric":
        kinds = store.kinds()
        df.insert(list(df.columns).index("device") + 1, "kind", df["device"].map(kinds))
        df.insert(list(df.columns).index("metric") + 1, "unit",
                  [_metric_unit(k, m) for k, m in zip(df["kind"], df["metric"], strict=True)])
        df["mean"] = df["total"] / df["n"].where(df["n"] > 0)
    return df


def _metric_unit(kind: Any, metric: str) -> str:
    if not isinstance(kind, str) or kind not in REGISTRY:
        return ""
    spec = REGISTRY.get(kind).settle.metrics.get(metric)
    return spec.unit if spec is not None else ""


# ---------------------------------------------------------------------------- flows


def flow_keys(store: LedgerStore) -> list[tuple[str, str, str]]:
    """Every ``(source, sink, carrier)`` with a booked packet, sorted."""
    return sorted(store.flow_totals())


def flow_label(key: tuple[str, str, str], keys: list[tuple[str, str, str]]) -> str:
    """``source->sink``, or ``source->sink:carrier`` when the pair carries more than one
    carrier (column names of the wide table and of :func:`series`)."""
    src, snk, car = key
    same = sum(1 for s, k, _ in keys if (s, k) == (src, snk))
    return f"{src}->{snk}" + (f":{car}" if same > 1 else "")


def _booked_ticks(store: LedgerStore) -> np.ndarray:
    w = store.settled_windows()
    if not w:
        return np.zeros(0, dtype=np.int64)
    return np.unique(np.concatenate([np.arange(x.tick0, x.tick0 + x.n) for x in w]))


def tick_energy(store: LedgerStore) -> tuple[np.ndarray, list[tuple[str, str, str]],
                                              np.ndarray]:
    """``(ticks, keys, joules)``: the booked ticks (shape (T,)), the flows (F) and the energy
    of every flow in every booked tick [J], shape (T, F), zeros where nothing flowed."""
    keys = flow_keys(store)
    ticks = _booked_ticks(store)
    if not len(ticks) or not keys:
        return ticks, keys, np.zeros((len(ticks), len(keys)))
    lo, hi = int(ticks[0]), int(ticks[-1]) + 1
    meters = [Meter(c, (s,), (k,)) for s, k, c in keys]
    joules = store.per_tick(meters, lo, hi)[ticks - lo]
    return ticks, keys, joules


def wide(store: LedgerStore, kw: bool = True, kwh: bool = True) -> pd.DataFrame:
    """One row per booked tick, one column per flow: ``tick``, ``sim_time`` [s],
    ``time_utc``, ``time_local``, then ``<flow> kW`` (mean power over the tick, J / dt / 1000)
    for every flow and ``<flow> kWh`` (energy in the tick); flows are named by
    :func:`flow_label`. Shape: (booked ticks, 4 + flows × (kw + kwh))."""
    import pandas as pd

    tb = timebase(store)
    ticks, keys, joules = tick_energy(store)
    df = pd.DataFrame({"tick": ticks.astype("int64"), "sim_time": tb.start + ticks * tb.dt})
    _times(df, df["sim_time"], tb, 2)
    labels = [flow_label(k, keys) for k in keys]
    parts = [df]
    if kw:
        parts.append(pd.DataFrame(joules / tb.dt / W_PER_KW, columns=[f"{x} kW" for x in labels]))
    if kwh:
        parts.append(pd.DataFrame(joules / J_PER_KWH, columns=[f"{x} kWh" for x in labels]))
    return pd.concat(parts, axis=1)


def series(store: LedgerStore, unit: str = "kW", freq: str | None = None) -> pd.DataFrame:
    """Every flow over time, one column per flow (named by :func:`flow_label`), indexed by
    the local start time of each tick (``time``, timezone-aware, the home's zone).

    Parameters
    ----------
    unit
        ``"kW"``: mean power over the tick (or period) [kW]; ``"kWh"``: energy per tick (or
        period) [kWh]; ``"J"``: energy [J].
    freq
        None: one row per booked tick; ``"hour"``, ``"day"``, ``"week"`` (from Monday),
        ``"month"``, ``"year"``: local periods (a tick counts in the period of its start;
        energies summed, kW averaged over the booked ticks).

    Raises
    ------
    ValueError
        If ``unit`` or ``freq`` is not one of these.
    """
    import pandas as pd

    if unit not in ("kW", "kWh", "J"):
        raise ValueError(f"unit must be kW, kWh or J, not {unit!r}")
    if freq is not None and freq not in FREQUENCIES:
        raise ValueError(f"freq must be None or one of {', '.join(FREQUENCIES)}, not {freq!r}")
    tb = timebase(store)
    ticks, keys, joules = tick_energy(store)
    index = pd.DatetimeIndex(pd.to_datetime(tb.start + ticks * tb.dt, unit="s", utc=True)
                             .tz_convert(tb.tz), name="time")
    scale = {"kW": 1 / tb.dt / W_PER_KW, "kWh": 1 / J_PER_KWH, "J": 1.0}[unit]
    df = pd.DataFrame(joules * scale, index=index, columns=[flow_label(k, keys) for k in keys])
    df.columns.name = f"flow [{unit}]"
    if freq is None:
        return df
    rs = df.resample(FREQUENCIES[freq], label="left", closed="left")
    out = rs.mean() if unit == "kW" else rs.sum()
    out.columns.name = df.columns.name
    return out


def flows(store: LedgerStore, by: str | None = None) -> pd.DataFrame:
    """Energy per flow: without ``by`` one row per flow (``source``, ``sink``, ``carrier``,
    ``kwh`` [kWh], ``joules`` [J]) over the booked run; with ``by`` (``"hour"``, ``"day"``,
    ``"week"``, ``"month"``, ``"year"``, local time) one row per period and flow, with the
    period's local start in a first column ``period``. Flows that never flowed are absent.

    Raises
    ------
    ValueError
        If ``by`` is not one of these.
    """
    import pandas as pd

    if by is None:
        tot = store.flow_totals()
        return pd.DataFrame([(s, k, c, j / J_PER_KWH, j) for (s, k, c), j in tot.items()],
                            columns=["source", "sink", "carrier", "kwh", "joules"])
    if by not in FREQUENCIES:
        raise ValueError(f"by must be None or one of {', '.join(FREQUENCIES)}, not {by!r}")
    keys = flow_keys(store)
    per = series(store, "J", by)
    per.columns = pd.MultiIndex.from_tuples(keys, names=["source", "sink", "carrier"])
    long = per.stack(["source", "sink", "carrier"], future_stack=True).rename("joules")
    out = long.reset_index().rename(columns={"time": "period"})
    out.insert(4, "kwh", out["joules"] / J_PER_KWH)
    return out


# ---------------------------------------------------------------------------- files


def _iso(col: pd.Series) -> pd.Series:
    """Timezone-aware timestamps as ISO 8601 text with the UTC offset (``…-05:00``)."""
    text = col.dt.strftime("%Y-%m-%dT%H:%M:%S%z")
    return text.str.replace(r"([+-]\d\d)(\d\d)$", r"\1:\2", regex=True)


def write(df: pd.DataFrame, target: Path, fmt: str) -> Path:
    """Write ``df`` as ``csv`` (timestamps as ISO 8601 text with offset) or ``parquet``
    (timestamps typed, with their zone). Returns ``target``."""
    import pandas as pd

    if fmt == "csv":
        out = df.copy()
        for c in out.columns:
            if isinstance(out[c].dtype, pd.DatetimeTZDtype):
                out[c] = _iso(out[c])
        out.to_csv(target, index=False)
    else:
        df.to_parquet(target, index=False)
    return target
