"""``homesim compare RUN_A RUN_B [RUN_C …]``: the headline figures of several runs side by
side, and one HTML page with the runs overlaid.

:func:`compare_runs` reads each run folder's ledger (the figures of
:func:`homesim.devices.bus.figures.headline`, the same as each run's ``summary.json``) and
the series to overlay; :func:`write_comparison_html` draws them; :meth:`Comparison.to_dict`
is the JSON form (``homesim compare --json``). ``homesim sweep`` builds on these.

Series per run (local time of each run's home):

* **energy per day** [kWh]: load (every consumer), grid import, grid export, PV (AC) per
  local day (per hour when every run is at most :data:`HOURLY_DAYS` days long);
* **monthly cost** [currency]: grid net cost + gas per month (the devices' ``cost`` metrics);
* **state of charge** [-] of each battery: per tick, or hourly mean beyond
  :data:`~homesim.infra.analysis.report.MAX_POINTS` ticks;
* **import duration curve** [kW]: tick-mean grid import power sorted from the largest, at
  most :data:`CURVE_POINTS` points (``x`` the share of the run's time [%]).

Deltas are against the first run: ``value − first`` (percentage points for ratios).
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from homesim.devices.bus.figures import Kpi
from homesim.devices.bus.store import LEDGER_FILE, LedgerError, LedgerStore, run_ledger
from homesim.infra.analysis.rundata import (
    FlowBins,
    Period,
    RunInfo,
    ac_per_bin,
    hourly_stats,
    load_info,
    local_naive,
    storage_series,
    window_metric_per_period,
)
from homesim.schemas.units import J_PER_KWH, W_PER_KW

__all__ = ["CompareError", "RunSeries", "KpiRow", "Comparison", "compare_runs",
           "write_comparison_html", "kpi_table", "CURVE_POINTS"]

CURVE_POINTS = 1000
"""Points of each import duration curve at most."""
HOURLY_DAYS = 3.0
"""Runs up to this long are overlaid per hour instead of per day [d]."""
MAX_POINTS = 20_000
"""Per-tick SoC longer than this is overlaid per hour (mean)."""
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
COLOURS = ("#2980b9", "#e67e22", "#27ae60", "#8e44ad", "#c0392b", "#16a085")


class CompareError(ValueError):
    """The runs cannot be compared (fewer than two, a folder without a ledger, …)."""


@dataclass(frozen=True)
class RunSeries:
    """One run's headline figures and the series the comparison overlays."""

    name: str
    run_dir: str
    home: str
    tz: str
    start: float
    """Start of tick 0 [s since the epoch]."""
    dt: float
    """Tick length [s]."""
    ticks: int
    currency: str
    kpis: list[Kpi]
    period: str
    """``day`` or ``hour``: the bins of ``energy_kwh``."""
    labels: list[str]
    """Local day (``YYYY-MM-DD``) or hour (``YYYY-MM-DD HH:00``) of each bin."""
    energy_kwh: dict[str, list[float]]
    """``load``, ``grid_import``, ``grid_export``, ``pv_ac`` per bin [kWh]."""
    months: list[str]
    monthly_cost: list[float]
    """Grid net cost + gas per local month [currency]."""
    soc: dict[str, tuple[list[str], list[float]]]
    """Per battery: local times and SoC [-]."""
    import_curve: tuple[list[float], list[float]]
    """Share of the run's time [%] and tick-mean import power [kW], sorted descending."""


@dataclass(frozen=True)
class KpiRow:
    """One headline figure across the runs; ``deltas`` against the first run."""

    key: str
    label: str
    unit: str
    values: list[float | None]
    deltas: list[float | None]


@dataclass(frozen=True)
class Comparison:
    """Runs compared: their series and the table of headline figures."""

    runs: list[RunSeries]
    rows: list[KpiRow] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: ``runs`` (name, folder, home, figures, series) and ``kpis``."""
        runs = []
        for r in self.runs:
            runs.append({
                "name": r.name, "run_dir": r.run_dir, "home": r.home, "timezone": r.tz,
                "start": r.start, "dt": r.dt, "ticks": r.ticks, "currency": r.currency,
                "kpis": {k.key: {"label": k.label, "value": k.value, "unit": k.unit}
                         for k in r.kpis},
                "energy_kwh": {"period": r.period, "labels": r.labels, **r.energy_kwh},
                "monthly_cost": {"months": r.months, "cost": r.monthly_cost},
                "soc": {d: {"time": x, "soc": y} for d, (x, y) in r.soc.items()},
                "import_duration_kw": {"percent_of_time": r.import_curve[0],
                                       "kw": r.import_curve[1]},
            })
        return {"runs": runs,
                "kpis": [{"key": k.key, "label": k.label, "unit": k.unit, "values": k.values,
                          "deltas_vs_first": k.deltas} for k in self.rows],
                "units": {"energy": "kWh", "power": "W (kpis), kW (curves)",
                          "ratios": "0..1", "time": "local time of each run's home"}}

    def to_json(self) -> str:
        """:meth:`to_dict` as JSON text (NaN never appears: missing values are null)."""
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)


# ---------------------------------------------------------------------------- reading


def _names(run_dirs: Sequence[Path]) -> list[str]:
    names = [Path(d).resolve().name for d in run_dirs]
    if len(set(names)) == len(names):
        return names
    return [f"{i + 1}:{n}" for i, n in enumerate(names)]


def duration_curve(power_w: np.ndarray, points: int = CURVE_POINTS
                   ) -> tuple[list[float], list[float]]:
    """A load duration curve of tick-mean powers [W] → (share of time [%], kW), at most
    ``points`` points (pure)."""
    p = np.sort(np.asarray(power_w, dtype=float))[::-1]
    if p.size == 0:
        return [], []
    idx = np.unique(np.linspace(0, p.size - 1, min(points, p.size)).round().astype(int))
    return ((idx + 1) / p.size * 100.0).tolist(), (p[idx] / W_PER_KW).tolist()


def _series(store: LedgerStore, info: RunInfo, name: str, period: Period) -> RunSeries:
    f = info.figures
    bins = FlowBins.read(store)
    labels, flows = bins.per(info, period)
    cols = {c.key: c for c in ac_per_bin((labels, flows), info.roles)}
    load = sum((c.values for k, c in cols.items() if k.startswith("use:")),
               start=np.zeros(len(labels)))
    daily = {"load": load, "grid_import": cols["import"].values,
             "grid_export": cols["export"].values, "pv_ac": cols["pv_ac"].values}
    months, grid = window_metric_per_period(store, info, "cost", info.roles.grids, "month")
    _, gas = window_metric_per_period(store, info, "cost", info.roles.boilers, "month")
    soc: dict[str, tuple[list[str], list[float]]] = {}
    for b in info.roles.batteries:
        v = storage_series(store, info, b, "soc")
        if v is None:
            continue
        if v.size <= MAX_POINTS:
            soc[b] = (local_naive(info.start + np.arange(v.size) * info.dt, info.tz),
                      v.tolist())
        else:
            labels, _, mean, _ = hourly_stats(v, info)
            soc[b] = (labels, [None if math.isnan(x) else x for x in mean.tolist()])
    imp = store.per_tick([info.roles.meters()[0]], 0, info.ticks)[:, 0] / info.dt
    return RunSeries(
        name=name, run_dir=str(info.run_dir), home=info.home, tz=info.tz_name,
        start=info.start, dt=info.dt, ticks=info.ticks, currency=f.currency, kpis=f.kpis(),
        period=period, labels=labels,
        energy_kwh={k: (v / J_PER_KWH).tolist() for k, v in daily.items()},
        months=months, monthly_cost=(grid + gas).tolist(), soc=soc,
        import_curve=duration_curve(imp))


def _rows(runs: list[RunSeries]) -> list[KpiRow]:
    order: dict[str, tuple[str, str]] = {}
    for r in runs:
        for k in r.kpis:
            order.setdefault(k.key, (k.label, k.unit))
    rows = []
    for key, (label, unit) in order.items():
        vals: list[float | None] = []
        for r in runs:
            v = next((k.value for k in r.kpis if k.key == key), None)
            vals.append(None if v is None or not math.isfinite(v) else float(v))
        base = vals[0]
        deltas = [None if v is None or base is None else v - base for v in vals]
        if key == "net_cost" and len({r.currency for r in runs}) > 1:
            deltas = [None] * len(vals)   # no difference between two currencies
        rows.append(KpiRow(key, label, unit, vals, deltas))
    return rows


def compare_runs(run_dirs: Sequence[Path | str]) -> Comparison:
    """Read two or more run folders and line up their figures and series.

    Raises
    ------
    CompareError
        If fewer than two folders are given, or one has no readable ledger.
    """
    dirs = [Path(d) for d in run_dirs]
    if len(dirs) < 2:
        raise CompareError("compare needs at least two run folders")
    infos: list[RunInfo] = []
    stores: list[LedgerStore] = []
    try:
        for d in dirs:
            db = run_ledger(d)
            if db is None:
                raise CompareError(f"no ledger at {d / LEDGER_FILE} (not a run folder?)")
            try:
                stores.append(LedgerStore.open(db))
                infos.append(load_info(stores[-1], d))
            except LedgerError as exc:
                raise CompareError(f"cannot read {db}: {exc}") from None
        period: Period = "hour" if all(i.days() <= HOURLY_DAYS for i in infos) else "day"
        runs = [_series(st, info, name, period)
                for st, info, name in zip(stores, infos, _names(dirs), strict=True)]
    finally:
        for st in stores:
            st.close()
    return Comparison(runs=runs, rows=_rows(runs))


# ---------------------------------------------------------------------------- output


def fmt(value: float | None, unit: str, delta: bool = False) -> str:
    """A figure for the table: ratios in % (points for deltas), W as kW, energies kWh."""
    if value is None:
        return "—"
    sign = "+" if delta and value > 0 else ""
    if unit == "%":
        return f"{sign}{100 * value:.1f} {'pp' if delta else '%'}"
    if unit == "W":
        return f"{sign}{value / W_PER_KW:,.2f} kW"
    if unit == "kWh":
        return f"{sign}{value:,.1f} kWh"
    if unit == "-":
        return f"{sign}{value:.2f}"
    return f"{sign}{value:,.2f} {unit}"


def kpi_table(c: Comparison) -> Any:
    """A rich table: one row per figure, a column per run and a Δ column per later run."""
    from rich.table import Table

    t = Table(title="homesim compare (Δ against " + c.runs[0].name + ")")
    t.add_column("figure")
    for i, r in enumerate(c.runs):
        t.add_column(r.name, justify="right")
        if i:
            t.add_column("Δ", justify="right", style="cyan")
    for row in c.rows:
        unit = row.unit
        cells = [row.label]
        for i, (v, d) in enumerate(zip(row.values, row.deltas, strict=True)):
            cells.append(fmt(v, unit if unit in ("%", "W", "kWh", "-") else c.runs[i].currency))
            if i:
                cells.append(fmt(d, unit if unit in ("%", "W", "kWh", "-")
                                 else c.runs[i].currency, delta=True))
        t.add_row(*cells)
    return t


def _html_table(c: Comparison) -> str:
    head = "<tr><th>figure</th>" + "".join(
        f"<th>{html.escape(r.name)}</th>" + ("<th>Δ</th>" if i else "")
        for i, r in enumerate(c.runs)) + "</tr>"
    body = []
    for row in c.rows:
        cells = [f"<td>{html.escape(row.label)}</td>"]
        for i, (v, d) in enumerate(zip(row.values, row.deltas, strict=True)):
            u = row.unit if row.unit in ("%", "W", "kWh", "-") else c.runs[i].currency
            cells.append(f"<td>{html.escape(fmt(v, u))}</td>")
            if i:
                cells.append(f"<td class='d'>{html.escape(fmt(d, u, delta=True))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return "<table>" + head + "".join(body) + "</table>"


def comparison_figures(c: Comparison) -> dict[str, Any]:
    """The overlay figures (plotly): ``daily``, ``cost``, ``soc`` (if any run has a battery),
    ``import_duration``."""
    import plotly.graph_objects as go

    figs: dict[str, Any] = {}
    daily = go.Figure()
    for i, r in enumerate(c.runs):
        for key, label, col in (("load", "load", "#8e44ad"), ("grid_import", "import",
                                                              "#2980b9"),
                                ("grid_export", "export", "#85c1e9"),
                                ("pv_ac", "PV (AC)", "#f39c12")):
            daily.add_trace(go.Scatter(x=r.labels, y=r.energy_kwh[key], mode="lines+markers",
                                       name=f"{r.name} {label}", legendgroup=r.name,
                                       line={"color": col, "dash": DASHES[i % len(DASHES)]}))
    per = c.runs[0].period
    daily.update_layout(title={"text": f"Energy per {per} [kWh] (local time; line style = "
                                       "run)"},
                        yaxis={"title": {"text": "kWh"}},
                        xaxis={"title": {"text": f"local {'date' if per == 'day' else 'time'}"}})
    figs["daily"] = daily
    cost = go.Figure()
    for i, r in enumerate(c.runs):
        cost.add_trace(go.Bar(x=r.months, y=r.monthly_cost, name=f"{r.name} [{r.currency}]",
                              marker_color=COLOURS[i % len(COLOURS)]))
    cost.update_layout(title={"text": "Monthly cost (grid net + gas)"}, barmode="group",
                       xaxis={"type": "category", "title": {"text": "local month"}})
    figs["cost"] = cost
    if any(r.soc for r in c.runs):
        soc = go.Figure()
        for i, r in enumerate(c.runs):
            for dev, (x, y) in r.soc.items():
                soc.add_trace(go.Scatter(x=x, y=y, mode="lines", name=f"{r.name} {dev}",
                                         line={"color": COLOURS[i % len(COLOURS)],
                                               "width": 1.2}))
        soc.update_layout(title={"text": "Battery state of charge [-]"},
                          yaxis={"range": [0, 1], "title": {"text": "SoC"}},
                          xaxis={"title": {"text": "local time"}})
        figs["soc"] = soc
    curve = go.Figure()
    for i, r in enumerate(c.runs):
        curve.add_trace(go.Scatter(x=r.import_curve[0], y=r.import_curve[1], mode="lines",
                                   name=r.name, line={"color": COLOURS[i % len(COLOURS)]}))
    curve.update_layout(title={"text": "Grid import duration curve (tick-mean power, sorted)"},
                        xaxis={"title": {"text": "share of the run's time [%]"}},
                        yaxis={"title": {"text": "kW"}})
    figs["import_duration"] = curve
    return figs


def write_comparison_html(comparison: Comparison, path: Path | str) -> Path:
    """Write one self-contained HTML page: the table and the overlaid figures."""
    from plotly.offline import get_plotlyjs

    path = Path(path)
    parts = []
    for name, fig in comparison_figures(comparison).items():
        fig.update_layout(template="plotly_white", height=460)
        parts.append("<div class='fig'>" + fig.to_html(
            full_html=False, include_plotlyjs=False, div_id=f"fig-{name}",
            config={"displaylogo": False}) + "</div>")
    runs = "".join(f"<li><b>{html.escape(r.name)}</b>: {html.escape(r.home)}, "
                   f"{html.escape(r.run_dir)} ({r.ticks:,} ticks of {r.dt:g} s, "
                   f"{html.escape(r.tz)})</li>" for r in comparison.runs)
    css = ("body{font-family:system-ui,sans-serif;margin:1em 2em;background:#fafafa}"
           "table{border-collapse:collapse;background:#fff}td,th{border:1px solid #ddd;"
           "padding:.2em .6em;text-align:right}td:first-child{text-align:left}.d{color:#1f618d}"
           ".fig{background:#fff;border:1px solid #e3e3e3;border-radius:8px;margin:.6em 0}")
    page = ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>homesim compare</title>"
            f"<style>{css}</style><script>{get_plotlyjs()}</script></head><body>"
            f"<h1>homesim compare</h1><ul>{runs}</ul>{_html_table(comparison)}"
            + "".join(parts)
            + "<script type='application/json' id='homesim-comparison'>"
            + comparison.to_json().replace("</", "<\\/") + "</script></body></html>")
    path.write_text(page, encoding="utf-8")
    return path
