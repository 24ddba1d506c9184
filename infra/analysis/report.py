"""The HTML report of a run: one self-contained page (plotly), readable for a day, a week or a
year, for a home or a block; PNGs of its key figures.

``write_report(run_dir)`` reads ``ledger.sqlite`` through
:class:`homesim.devices.bus.store.LedgerStore` and writes ``report.html``:

* **KPI cards**: the headline figures of :func:`homesim.devices.bus.figures.headline` (the
  same numbers as ``summary.json``, the ledger's Prometheus gauges and the bills):
  self-sufficiency, self-consumption (Luthander et al. 2015), load (every consumer), PV AC,
  grid import/export, net cost, peak import, unserved; SCOP, gas and heat for heat; EV
  delivered and unmet.
* **Energy flows**: a Sankey from the AC side (PV AC, grid import, battery discharge → the
  home → consumer groups, export, battery charge; losses grouped); a button adds the sun,
  the arrays and the inverter (irradiation, PV and inverter losses).
* **Energy by period**: the AC bus per hour/day/week/month (a selector): supply above zero,
  use below; every period balances.
* **Power**: the AC bus per tick [kW] for the whole run (≤ 7 days) or one day (``--day``,
  default the sunniest), with every consumer and PV AC.
* **Battery state of charge** per tick (stored per tick by the ledger; per hour min–mean–max
  when the run has more than :data:`MAX_POINTS` ticks); only for batteries.
* **Cost** by period (grid, gas).
* **EV**: charging sessions (arrival, departure, energy, unmet), energy per day per charger,
  unmet and throttled energy.
* **Heat**: room temperature per flat (hourly heatmap), heat by source per period, the heat
  node's decisions over time (its ``heat_source`` and, for hot water, ``dhw_source``
  events), the buffer's state of charge,
  per-flat table.
* **Bills** (a block): each flat's electricity, heat and shared cost.

Every time axis is local time (the home's zone, named on the axis); values below
:data:`~homesim.infra.analysis.rundata.DISPLAY_KWH` / ``DISPLAY_W`` are not drawn as data.
``figures/{sankey,energy,power}.png`` are screenshots of those figures by headless Chromium.
"""

from __future__ import annotations

import html
import json
import math
import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from homesim.devices.bus.figures import REFERENCE, Kpi
from homesim.devices.bus.store import LedgerStore, Meter
from homesim.infra.analysis.rundata import (
    DISPLAY_KWH,
    DISPLAY_W,
    Column,
    FlowBins,
    Period,
    RunInfo,
    ac_per_bin,
    ac_per_tick,
    display,
    hourly_stats,
    load_info,
    local_naive,
    meter_of_flows,
    storage_series,
    window_metric_per_period,
)
from homesim.schemas.registry import REGISTRY
from homesim.schemas.units import J_PER_KWH, W_PER_KW

__all__ = ["write_report", "build_report", "find_chromium", "ReportError", "Report",
           "FIGURE_IDS", "MAX_POINTS"]

PNG_FIGURES = ("sankey", "energy", "power")
PNG_SIZE = (1400, 900)
MAX_POINTS = 20_000
"""Per-tick series longer than this are drawn per hour (min, mean, max)."""
MAX_STACK_DAYS = 7
"""Runs up to this long get the whole run in the power figure, longer ones one day [d]."""
FIGURE_IDS = ("sankey", "energy", "power", "soc", "cost", "ev", "temperature", "heat",
              "broker", "heat_store", "bills")
"""Every figure the report can draw (``id="fig-<name>"``); a run draws those it has data for."""


class ReportError(RuntimeError):
    """The report (or its PNGs) could not be written."""


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome binary (``$HOMESIM_CHROMIUM`` first), or None."""
    env = os.environ.get("HOMESIM_CHROMIUM")
    if env:
        return env
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


@dataclass
class Report:
    """A built report: its sections (HTML with figure placeholders) and the figures."""

    title: str
    info: RunInfo
    figures: dict[str, Any] = field(default_factory=dict)
    sections: list[tuple[str, str]] = field(default_factory=list)
    """(heading, HTML) in page order; ``{{fig:<name>}}`` marks where a figure goes."""


# ---------------------------------------------------------------------------- formatting


def _fmt_kpi(k: Kpi) -> str:
    v = k.value
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    if k.unit == "%":
        return f"{100 * v:.1f} %"
    if k.unit == "kWh":
        v = 0.0 if abs(v) < DISPLAY_KWH else v
        return f"{v:,.1f} kWh" if abs(v) >= 10 else f"{v:,.2f} kWh"
    if k.unit == "W":
        return f"{v / W_PER_KW:,.1f} kW"
    if k.unit == "-":
        return f"{v:.2f}"
    return f"{v:,.2f} {html.escape(k.unit)}"


KPI_HELP = {
    "self_sufficiency": "Share of the load not covered by the grid: M / load, M = Σ per tick of "
                        "load − net import (Luthander et al. 2015).",
    "self_consumption": "Share of PV (AC) used on site: (M − D) / PV AC, D the batteries' "
                        "net discharge (Luthander et al. 2015).",
    "load": "Electricity every consumer received: household loads, flats, heat pumps, EV "
            "chargers (registry kinds with consumer: true).",
    "pv_ac": "PV energy after the inverter.",
    "net_cost": "Grid import cost − export revenue, plus gas.",
    "peak_import": "Largest tick-mean grid import power.",
    "unserved": "Demand the inverter had to shed.",
    "scop": "Heat pumps' heat out / electricity in over the period.",
    "gas": "Gas burnt by the boilers (gross calorific value).",
}


def _cards(kpis: list[Kpi]) -> str:
    out = []
    for k in kpis:
        tip = html.escape(KPI_HELP.get(k.key, ""), quote=True)
        out.append(f"<div class='kpi' title='{tip}'><div class='v'>{_fmt_kpi(k)}</div>"
                   f"<div class='l'>{html.escape(k.label)}</div></div>")
    return "<div class='kpis'>" + "".join(out) + "</div>"


def _table(header: list[str], rows: list[list[str]], cls: str = "") -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<div class='tablewrap {cls}'><table><tr>{th}</tr>{body}</table></div>"


def _kwh(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{0.0 if abs(x) < DISPLAY_KWH else x:,.1f}"


def _axis_time(info: RunInfo) -> dict[str, Any]:
    return {"title": {"text": f"local time ({info.tz_name})"}}


# ---------------------------------------------------------------------------- figures


def _go() -> Any:
    import plotly.graph_objects as go

    return go


def _period_choices(info: RunInfo) -> tuple[list[Period], Period]:
    days = info.days()
    choices: list[Period] = (["hour"] if days <= 14 else []) + ["day", "week", "month"]
    default: Period = "hour" if days <= 2 else ("day" if days <= 62 else "month")
    return choices, default


def _selector(fig: Any, groups: dict[str, list[int]], default: str, y: float = 1.02) -> None:
    """Buttons that show one group of traces (a period) at a time."""
    n = len(fig.data)
    buttons = []
    for name, idx in groups.items():
        vis = [i in idx for i in range(n)]
        buttons.append({"label": name, "method": "update", "args": [{"visible": vis}]})
    active = list(groups).index(default)
    fig.update_layout(updatemenus=[{"type": "buttons", "direction": "right", "x": 0,
                                    "xanchor": "left", "y": y, "yanchor": "bottom",
                                    "active": active, "buttons": buttons,
                                    "showactive": True}])


def _sankey(store: LedgerStore, info: RunInfo) -> Any | None:
    go = _go()
    f, r = info.figures, info.roles
    bal = store.node_balances()
    totals = store.flow_totals()
    metric_totals = store.metric_totals()
    links_ac: list[tuple[str, str, float]] = []

    def add(links: list[tuple[str, str, float]], a: str, b: str, v: float) -> None:
        if v >= DISPLAY_KWH:
            links.append((a, b, v))

    home = "Home (AC)"
    add(links_ac, "PV (AC)", home, f.pv_ac_kwh)
    add(links_ac, "Grid import", home, f.grid_import_kwh)
    add(links_ac, "Battery discharge", home, f.battery_discharge_kwh)
    groups: dict[str, list[str]] = {}
    for c in r.consumers:
        groups.setdefault(r.label(c), []).append(c)
    for label, devs in groups.items():
        name = f"{label} ×{len(devs)}" if len(devs) > 1 else label
        add(links_ac, home, name, sum(f.consumers_kwh.get(d, 0.0) for d in devs))
        chargers = [d for d in devs if d in r.chargers]
        if chargers and f.ev is not None:
            add(links_ac, name, "Cars", sum(f.ev.chargers[c]["delivered_kwh"] for c in chargers))
            loss = sum(m[0] for (d, k), m in metric_totals.items()
                       if d in chargers and k == "charger_loss")
            add(links_ac, name, "Losses", loss / J_PER_KWH)
    add(links_ac, home, "Grid export", f.grid_export_kwh)
    add(links_ac, home, "Battery charge", f.battery_charge_kwh)
    for b in r.batteries:
        if b in bal:
            add(links_ac, "Battery charge", "Losses", bal[b].losses / J_PER_KWH)
    if not links_ac:
        return None
    links_sun = list(links_ac)
    for pv in r.sources:
        inc = sum(v for (s, k, c), v in totals.items() if k == pv and c == "solar")
        add(links_sun, "Sun", pv, inc / J_PER_KWH)
        if pv in bal:
            add(links_sun, pv, "Losses", bal[pv].losses / J_PER_KWH)
        for inv in r.balancers:
            dc = totals.get((pv, inv, "electricity"), 0.0)
            add(links_sun, pv, "Inverter", dc / J_PER_KWH)
    for inv in r.balancers:
        if inv in bal:
            add(links_sun, "Inverter", "Losses", bal[inv].losses / J_PER_KWH)
    if r.sources:
        add(links_sun, "Inverter", "PV (AC)", f.pv_ac_kwh)

    def colour(n: str) -> str:
        fixed = {"PV (AC)": "#f39c12", "Grid import": "#2980b9", "Grid export": "#85c1e9",
                 "Battery discharge": "#27ae60", "Battery charge": "#82e0aa",
                 home: "#7f8c8d", "Losses": "#c0392b", "Sun": "#f5c518", "Cars": "#5dade2",
                 "Inverter": "#7f8c8d"}
        if n in fixed:
            return fixed[n]
        kind = r.kinds.get(n)
        if kind is None:
            kind = next((r.kinds[c] for c in r.consumers if n.startswith(r.label(c))), None)
        return REGISTRY.get(kind).colour if kind in REGISTRY else "#95a5a6"

    def trace(links: list[tuple[str, str, float]], visible: bool) -> Any:
        names = list(dict.fromkeys(n for a, b, _ in links for n in (a, b)))
        idx = {n: i for i, n in enumerate(names)}
        return go.Sankey(
            visible=visible, valueformat=",.1f", valuesuffix=" kWh", arrangement="snap",
            node={"label": names, "color": [colour(n) for n in names], "pad": 22,
                  "thickness": 18},
            link={"source": [idx[a] for a, _, _ in links],
                  "target": [idx[b] for _, b, _ in links],
                  "value": [v for _, _, v in links],
                  "color": ["rgba(192,57,43,0.35)" if b == "Losses"
                            else "rgba(120,120,120,0.25)" for _, b, _ in links]})

    fig = go.Figure([trace(links_ac, True), trace(links_sun, False)])
    fig.update_layout(
        title={"text": "Energy flows of the run [kWh] — from the AC side"},
        updatemenus=[{"type": "buttons", "direction": "right", "x": 0, "xanchor": "left",
                      "y": 1.02, "yanchor": "bottom", "active": 0, "buttons": [
                          {"label": "AC side", "method": "update",
                           "args": [{"visible": [True, False]},
                                    {"title.text": "Energy flows of the run [kWh] — from the "
                                                   "AC side"}]},
                          {"label": "from the sun", "method": "update",
                           "args": [{"visible": [False, True]},
                                    {"title.text": "Energy flows of the run [kWh] — from the "
                                                   "sun (irradiation on the arrays, PV and "
                                                   "inverter losses)"}]}]}])
    return fig


def _bars(fig: Any, labels: list[str], cols: list[Column], visible: bool, scale: float,
          threshold: float, legendgroup_prefix: str = "") -> list[int]:
    go = _go()
    idx = []
    for c in cols:
        v = display(c.sign * c.values / scale, threshold)
        if not np.any(v):
            continue
        idx.append(len(fig.data))
        fig.add_trace(go.Bar(x=labels, y=v, name=c.label, marker_color=c.colour,
                             visible=visible, legendgroup=legendgroup_prefix + c.key,
                             hovertemplate="%{x}: %{y:,.2f}<extra>" + html.escape(c.label)
                                           + "</extra>"))
    return idx


def _energy(bins: FlowBins, info: RunInfo) -> Any | None:
    go = _go()
    choices, default = _period_choices(info)
    fig = go.Figure()
    groups: dict[str, list[int]] = {}
    for p in choices:
        labels, flows = bins.per(info, p)
        cols = ac_per_bin((labels, flows), info.roles)
        groups[p] = _bars(fig, labels, cols, p == default, J_PER_KWH, DISPLAY_KWH)
    if not fig.data:
        return None
    _selector(fig, groups, default)
    fig.update_layout(title={"text": "Energy on the AC bus by period [kWh] — supply above "
                                     "zero, use below"},
                      barmode="relative", xaxis={"type": "category", **_axis_time(info)},
                      yaxis={"title": {"text": "kWh"}}, legend={"traceorder": "normal"})
    return fig


def _stack_span(bins: FlowBins, info: RunInfo, day: str | None) -> tuple[int, int, str]:
    """Ticks of the power figure and its caption."""
    if day is None and info.days() <= MAX_STACK_DAYS:
        return 0, info.ticks, "the whole run"
    if day is not None:
        d = date.fromisoformat(day)
    else:   # the sunniest local day
        labels, flows = bins.per(info, "day")
        pv = np.zeros(len(labels))
        for (s, _, c), v in flows.items():
            if s in info.roles.sources and c == "electricity":
                pv += v
        d = date.fromisoformat(labels[int(np.argmax(pv))]) if labels else info.first_day()
    t0 = datetime(d.year, d.month, d.day, tzinfo=info.tz).timestamp()
    nd = d + timedelta(days=1)
    t1 = datetime(nd.year, nd.month, nd.day, tzinfo=info.tz).timestamp()
    k0 = max(math.ceil((t0 - info.start) / info.dt - 1e-9), 0)
    k1 = min(math.ceil((t1 - info.start) / info.dt - 1e-9), info.ticks)
    if k1 <= k0:
        first = info.first_day()
        last = datetime.fromtimestamp(info.end - info.dt, info.tz).date()
        raise ReportError(f"--day {d.isoformat()} is outside the run ({first} to {last}, "
                          f"{info.tz_name})")
    return k0, k1, d.isoformat()


def _power(store: LedgerStore, bins: FlowBins, info: RunInfo, day: str | None) -> Any | None:
    go = _go()
    k0, k1, what = _stack_span(bins, info, day)
    cols = ac_per_tick(store, info.roles, k0, k1)
    t = info.start + np.arange(k0, k1) * info.dt
    x = local_naive(t, info.tz)
    fig = go.Figure()
    for c in cols:
        v = display(c.sign * c.values / info.dt / W_PER_KW, DISPLAY_W / W_PER_KW)
        if not np.any(v):
            continue
        fig.add_trace(go.Scatter(x=x, y=v, name=c.label, mode="lines", line_shape="hv",
                                 line={"width": 0.6, "color": c.colour},
                                 fillcolor=c.colour, stackgroup="supply" if c.sign > 0
                                 else "use",
                                 hovertemplate="%{y:,.2f} kW<extra>" + html.escape(c.label)
                                               + "</extra>"))
    if not fig.data:
        return None
    fig.update_layout(title={"text": f"Power on the AC bus, {what} [kW, tick means] — supply "
                                     "above zero, use below"},
                      xaxis=_axis_time(info), yaxis={"title": {"text": "kW"}},
                      hovermode="x unified")
    return fig


def _series_fig(store: LedgerStore, info: RunInfo, devices: list[str], metric: str,
                title: str, ytitle: str, yrange: list[float] | None = None) -> Any | None:
    go = _go()
    fig = go.Figure()
    for dev in devices:
        label = f"{info.roles.label(dev)} {dev}"
        v = storage_series(store, info, dev, metric)
        if v is None:   # an older ledger: per-window minimum and maximum
            rows = [m for m in store.device_metrics(metrics=(metric,), devices=(dev,))]
            if not rows:
                continue
            xs, lo, hi = [], [], []
            for m in rows:
                for k in (m.tick0, m.tick0 + m.n):
                    xs.append(info.start + k * info.dt)
                    lo.append(m.minimum)
                    hi.append(m.maximum)
            x = local_naive(xs, info.tz)
            fig.add_trace(go.Scatter(x=x, y=hi, name=f"{label} max per window", mode="lines"))
            fig.add_trace(go.Scatter(x=x, y=lo, name=f"{label} min per window", mode="lines",
                                     fill="tonexty"))
        elif v.size <= MAX_POINTS:
            x = local_naive(info.start + np.arange(v.size) * info.dt, info.tz)
            fig.add_trace(go.Scatter(x=x, y=v, name=label, mode="lines", line_shape="hv",
                                     line={"width": 1.2}))
        else:
            labels, lo, mean, hi = hourly_stats(v, info)
            fig.add_trace(go.Scatter(x=labels, y=hi, name=f"{label} hourly max", mode="lines",
                                     line={"width": 0.3}, showlegend=False))
            fig.add_trace(go.Scatter(x=labels, y=lo, name=f"{label} hourly min–max",
                                     mode="lines", line={"width": 0.3}, fill="tonexty"))
            fig.add_trace(go.Scatter(x=labels, y=mean, name=f"{label} hourly mean",
                                     mode="lines", line={"width": 1}))
    if not fig.data:
        return None
    fig.update_layout(title={"text": title}, xaxis=_axis_time(info),
                      yaxis={"title": {"text": ytitle}, **({"range": yrange} if yrange else {})})
    return fig


def _cost(store: LedgerStore, info: RunInfo) -> Any | None:
    go = _go()
    f = info.figures
    choices, default = _period_choices(info)
    choices = [p for p in choices if p != "hour"]
    default = default if default != "hour" else "day"
    fig = go.Figure()
    groups: dict[str, list[int]] = {}
    for p in choices:
        groups[p] = []
        for name, devs, col in (("grid (net)", info.roles.grids, "#2980b9"),
                                ("gas", info.roles.boilers, "#d35400")):
            labels, v = window_metric_per_period(store, info, "cost", devs, p)
            v = display(v, 0.005)
            if not np.any(v):
                continue
            groups[p].append(len(fig.data))
            fig.add_trace(go.Bar(x=labels, y=v, name=name, marker_color=col,
                                 visible=p == default, legendgroup=name))
    if not fig.data:
        return None
    _selector(fig, groups, default)
    fig.update_layout(title={"text": f"Cost by period [{html.escape(f.currency)}] (per "
                                     "window, attributed to its middle)"},
                      barmode="relative", xaxis={"type": "category", **_axis_time(info)},
                      yaxis={"title": {"text": f.currency}})
    return fig


# ---------------------------------------------------------------------------- EV


@dataclass(frozen=True)
class Session:
    """One charging session of a charger (ticks ``[k0, k1)``), energies [kWh]."""

    charger: str
    k0: int
    k1: int
    charged_kwh: float
    unmet_kwh: float


def sessions_of(connected: np.ndarray, charged: np.ndarray, unmet: np.ndarray,
                charger: str) -> list[Session]:
    """Sessions from a charger's per-tick ``connected`` (0/1), electricity in and unmet [J]
    (pure): a session is a run of connected ticks; unmet energy belongs to the last session
    that started at or before its tick."""
    c = np.asarray(connected) > 0.5
    edges = np.flatnonzero(np.diff(np.concatenate(([False], c, [False])).astype(int)))
    starts, ends = edges[0::2], edges[1::2]
    out = []
    for i, (a, b) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
        nxt = starts[i + 1] if i + 1 < len(starts) else len(c)
        out.append(Session(charger, a, b, float(charged[a:b].sum()) / J_PER_KWH,
                           float(unmet[a:nxt].sum()) / J_PER_KWH))
    return out


def _ev(store: LedgerStore, bins: FlowBins, info: RunInfo) -> tuple[Any | None, str]:
    go = _go()
    r, f = info.roles, info.figures
    if not r.chargers or f.ev is None:
        return None, ""
    choices, default = _period_choices(info)
    fig = go.Figure()
    groups: dict[str, list[int]] = {}
    palette = ["#3498db", "#9b59b6", "#1abc9c", "#e67e22", "#34495e", "#e84393"]
    for p in choices:
        labels, flows = bins.per(info, p)
        groups[p] = []
        for i, ch in enumerate(r.chargers):
            v = display(meter_of_flows(Meter("electricity", None, (ch,)), flows, len(labels))
                        / J_PER_KWH, DISPLAY_KWH)
            if np.any(v):
                groups[p].append(len(fig.data))
                fig.add_trace(go.Bar(x=labels, y=v, name=f"{ch} charged",
                                     marker_color=palette[i % len(palette)],
                                     visible=p == default, legendgroup=ch))
        for name, metric, devs, col in (("unmet at departure", "unmet", r.chargers, "#c0392b"),
                                        ("throttled", "throttled", r.managers, "#7f8c8d")):
            if p == "hour":
                continue
            lab, v = window_metric_per_period(store, info, metric, devs, p)
            v = display(v / J_PER_KWH, DISPLAY_KWH)
            if np.any(v):
                groups[p].append(len(fig.data))
                fig.add_trace(go.Scatter(x=lab, y=v, name=name, mode="lines+markers",
                                         line={"color": col, "dash": "dot"},
                                         visible=p == default, legendgroup=name))
    rows: list[list[str]] = []
    k_all = info.ticks
    el = store.per_tick([Meter("electricity", None, (c,)) for c in r.chargers], 0, k_all)
    for i, ch in enumerate(r.chargers):
        conn = storage_series(store, info, ch, "connected")
        if conn is None:
            continue
        unmet = storage_series(store, info, ch, "unmet")
        for s in sessions_of(conn, el[:, i], unmet if unmet is not None else np.zeros(k_all),
                             ch):
            t0, t1 = info.start + s.k0 * info.dt, info.start + s.k1 * info.dt
            rows.append([html.escape(ch),
                         datetime.fromtimestamp(t0, info.tz).strftime("%a %Y-%m-%d %H:%M"),
                         datetime.fromtimestamp(t1, info.tz).strftime("%a %Y-%m-%d %H:%M"),
                         f"{(t1 - t0) / 3600:.1f}", _kwh(s.charged_kwh), _kwh(s.unmet_kwh)])
    ev = f.ev
    table = (f"<p>{len(rows)} sessions · charged {_kwh(ev.electricity_kwh)} kWh (AC) · "
             f"delivered to the cars {_kwh(ev.delivered_kwh)} kWh · unmet at departure "
             f"{_kwh(ev.unmet_kwh)} kWh · throttled by the load manager "
             f"{_kwh(ev.throttled_kwh)} kWh</p>")
    if rows:
        table += _table(["charger", f"arrival ({info.tz_name})", "departure", "hours",
                         "charged kWh", "unmet kWh"], rows, "scroll")
    if not fig.data:
        return None, table
    _selector(fig, groups, default)
    fig.update_layout(title={"text": "EV charging by period [kWh]"}, barmode="stack",
                      xaxis={"type": "category", **_axis_time(info)},
                      yaxis={"title": {"text": "kWh"}})
    return fig, table


# ---------------------------------------------------------------------------- heat


def _temperature(store: LedgerStore, info: RunInfo) -> Any | None:
    go = _go()
    zones = list(info.roles.zones)
    z, names, labels = [], [], None
    for fl in zones:
        v = storage_series(store, info, fl, "temp_room")
        if v is None:
            continue
        labels, _, mean, _ = hourly_stats(v, info, "hour" if info.days() <= 400 else "day")
        z.append(mean)
        names.append(fl)
    if not z:
        return None
    fig = go.Figure(go.Heatmap(x=labels, y=names, z=np.array(z), colorscale="RdBu_r",
                               zmid=20.0, colorbar={"title": {"text": "°C"}},
                               hovertemplate="%{y} %{x}: %{z:.1f} °C<extra></extra>"))
    fig.update_layout(title={"text": "Room temperature per flat [°C, hourly mean]"},
                      xaxis=_axis_time(info), yaxis={"autorange": "reversed"},
                      height=max(300, 90 + 40 * len(names)))
    return fig


def heat_columns(flows: dict[tuple[str, str, str], np.ndarray], n: int, roles: Any
                 ) -> list[Column]:
    """The heat node's balance per bin [J] (pure): supply (heat pumps, boilers, buffer
    discharge) above zero; use (each flat, buffer charge, distribution loss) below."""
    r = roles
    cols = []
    for src in (*r.heat_pumps, *r.boilers, *r.heat_stores):
        kind = r.kinds.get(src)
        cols.append(Column(f"src:{src}", f"{src} ({r.label(src).lower()})",
                           REGISTRY.get(kind).colour if kind in REGISTRY else "#95a5a6", 1,
                           meter_of_flows(Meter("heat", (src,), r.heat_nodes), flows, n)))
    palette = ["#e67e22", "#f0b27a", "#d35400", "#fad7a0", "#ca6f1e", "#edbb99", "#a04000",
               "#f5cba7"]
    for i, z in enumerate(r.zones):
        cols.append(Column(f"zone:{z}", z, palette[i % len(palette)], -1,
                           meter_of_flows(Meter("heat", r.heat_nodes, (z,)), flows, n)))
    for st in r.heat_stores:
        cols.append(Column(f"charge:{st}", f"{st} charge", "#a3e4d7", -1,
                           meter_of_flows(Meter("heat", r.heat_nodes, (st,)), flows, n)))
    cols.append(Column("loss", "distribution loss", "#c0392b", -1,
                       meter_of_flows(Meter("heat", r.heat_nodes, ("ambient",)), flows, n)))
    return cols


def _heat(bins: FlowBins, info: RunInfo) -> Any | None:
    go = _go()
    if not info.roles.heat_nodes:
        return None
    choices, default = _period_choices(info)
    fig = go.Figure()
    groups: dict[str, list[int]] = {}
    for p in choices:
        labels, flows = bins.per(info, p)
        groups[p] = _bars(fig, labels, heat_columns(flows, len(labels), info.roles),
                          p == default, J_PER_KWH, DISPLAY_KWH)
    if not fig.data:
        return None
    _selector(fig, groups, default)
    fig.update_layout(title={"text": "Heat by period [kWh] — sources above zero, the flats, "
                                     "the buffer and losses below"},
                      barmode="relative", xaxis={"type": "category", **_axis_time(info)},
                      yaxis={"title": {"text": "kWh"}})
    return fig


def _broker(store: LedgerStore, info: RunInfo) -> Any | None:
    go = _go()
    fig = go.Figure()
    for node, kind in ((n, k) for n in info.roles.heat_nodes
                       for k in ("heat_source", "dhw_source")):
        evs = store.events(device=node, kind=kind)
        if not evs:
            continue
        name = node if kind == "heat_source" else f"{node} (hot water)"
        t = [info.start + e.tick * info.dt for e in evs] + [info.end]
        y = [str(e.value or "none") for e in evs]
        y.append(y[-1])
        text = []
        for e in evs:
            extra = ", ".join(f"{k} {v:.3f}" for k, v in (e.data or {}).items()
                              if isinstance(v, int | float))
            text.append(html.escape(f"{e.reason or ''} {extra}".strip()))
        text.append("end of run")
        fig.add_trace(go.Scatter(x=local_naive(t, info.tz), y=y, mode="lines+markers",
                                 line_shape="hv", name=name, text=text,
                                 hovertemplate="%{x}: %{y}<br>%{text}<extra>"
                                               + html.escape(name) + "</extra>"))
    if not fig.data:
        return None
    fig.update_layout(title={"text": "The heat node's decisions over time (heat source "
                                     "chosen for the rooms and for hot water; hover: "
                                     "reason and costs)"},
                      xaxis=_axis_time(info), yaxis={"type": "category"},
                      height=320)
    return fig


def _flats_table(info: RunInfo, bill: Any | None) -> str:
    h = info.figures.heat
    if h is None or not h.flats:
        return ""
    by_flat = {b.flat: b for b in bill.flats} if bill is not None else {}
    rows = []
    for name, fl in h.flats.items():
        b = by_flat.get(name)
        rows.append([html.escape(name), _kwh(fl["heat_kwh"]), _kwh(fl["electricity_kwh"]),
                     "—" if fl["temp_room_mean"] is None else f"{fl['temp_room_mean']:.1f}",
                     "—" if fl["temp_room_min"] is None else f"{fl['temp_room_min']:.1f}",
                     f"{fl['degree_hours_below_setpoint']:.1f}",
                     "—" if b is None else f"{b.total:,.2f}"])
    hdr = ["flat", "heat kWh", "electricity kWh", "mean °C", "min °C", "K·h below setpoint"]
    hdr.append(f"bill [{bill.currency}]" if bill is not None else "bill")
    srcs = " · ".join(f"{html.escape(k)} {_kwh(v)} kWh" for k, v in h.sources_kwh.items())
    hps = " · ".join(f"{html.escape(k)} SCOP {v['scop']:.2f}" for k, v in h.heat_pumps.items()
                     if v["scop"] is not None)
    return (f"<p>Heat delivered {_kwh(h.delivered_kwh)} kWh of {_kwh(h.demand_kwh)} kWh "
            f"demanded (unmet {_kwh(h.unmet_kwh)} kWh, distribution loss "
            f"{_kwh(h.distribution_loss_kwh)} kWh). Sources: {srcs or '—'}. {hps} · gas "
            f"{_kwh(h.gas_kwh)} kWh</p>" + _table(hdr, rows))


# ---------------------------------------------------------------------------- bills


def _bills(info: RunInfo) -> tuple[Any | None, str, Any | None]:
    from homesim.infra.analysis.billing import BillingError, bill_run

    if not info.roles.zones and not any(
            d.get("flat") for d in (info.manifest.get("spec") or {}).get("devices", [])):
        return None, "", None
    try:
        bill = bill_run(info.run_dir)
    except BillingError as exc:
        return None, f"<p>No bills: {html.escape(str(exc))}</p>", None
    if len(bill.flats) < 2:
        return None, "", bill
    go = _go()
    names = [b.flat for b in bill.flats]
    fig = go.Figure()
    for attr, label, col in (("electricity_cost", "electricity", "#8e44ad"),
                             ("heat_cost", "heat (heat pump + gas)", "#e67e22"),
                             ("shared_cost", "shared", "#95a5a6")):
        fig.add_trace(go.Bar(x=names, y=[getattr(b, attr) for b in bill.flats], name=label,
                             marker_color=col))
    fig.update_layout(title={"text": f"Bills per flat [{bill.currency}] (they add up to the "
                                     f"metered {bill.metered_cost:,.2f})"},
                      barmode="relative", yaxis={"title": {"text": bill.currency}})
    rows = [[html.escape(b.flat), _kwh(b.electricity_kwh), _kwh(b.heat_kwh), _kwh(b.gas_kwh),
             f"{b.electricity_cost:,.2f}", f"{b.heat_cost:,.2f}", f"{b.shared_cost:,.2f}",
             f"<b>{b.total:,.2f}</b>"] for b in (*bill.flats, bill.total)]
    table = _table(["flat", "electricity kWh", "heat kWh", "gas kWh", "electricity", "heat",
                    "shared", "total"], rows)
    notes = "".join(f"<p class='note'>{html.escape(n)}</p>" for n in bill.notes)
    return fig, f"<p>Key: see <code>homesim bill --help</code>. Shared pool split by " \
                f"{html.escape(bill.shared_key)}.</p>" + table + notes, bill


# ---------------------------------------------------------------------------- the page


def build_report(run_dir: Path, day: str | None = None) -> Report:
    """Read the run and build every figure and section (no file written).

    Raises
    ------
    FileNotFoundError
        If the run folder has no ledger.
    ReportError
        If ``day`` lies outside the run.
    """
    run_dir = Path(run_dir)
    db = run_dir / "ledger.sqlite"  # or the PostgreSQL ledger its ledger.pg.json names
    with LedgerStore.open(db) as store:  # FileNotFoundError if neither is there
        info = load_info(store, run_dir)
        f = info.figures
        first = info.first_day()
        head = (f"homesim · {info.home} · {first} + {info.days():g} d at dt = {info.dt:g} s "
                f"({info.tz_name})")
        rep = Report(title=head, info=info)
        rep.sections.append(("", _cards(f.kpis())))
        bins = FlowBins.read(store)
        figs: dict[str, Any] = {
            "sankey": _sankey(store, info), "energy": _energy(bins, info),
            "power": _power(store, bins, info, day),
            "soc": _series_fig(store, info, list(info.roles.batteries), "soc",
                               "Battery state of charge [-]", "SoC", [0, 1]),
            "cost": _cost(store, info)}
        ev_fig, ev_html = _ev(store, bins, info)
        figs["ev"] = ev_fig
        figs["temperature"] = _temperature(store, info)
        figs["heat"] = _heat(bins, info)
        figs["broker"] = _broker(store, info)
        figs["heat_store"] = _series_fig(
            store, info, list(info.roles.heat_stores), "soc",
            "Buffer tank (heat) state of charge [-]", "SoC", [0, 1])
        bills_fig, bills_html, bill = _bills(info)
        figs["bills"] = bills_fig
    rep.figures = {k: v for k, v in figs.items() if v is not None}

    def sec(title: str, names: tuple[str, ...], text: str = "") -> None:
        body = text + "".join(f"{{{{fig:{n}}}}}" for n in names if n in rep.figures)
        if body:
            rep.sections.append((title, body))

    sec("Energy flows", ("sankey",))
    sec("Energy by period", ("energy",))
    sec("Power", ("power",))
    sec("Battery", ("soc",))
    sec("Cost", ("cost",))
    if info.roles.chargers:
        sec("Electric vehicles", ("ev",), ev_html)
    if info.roles.heat_nodes or info.roles.zones:
        sec("Heat", ("temperature", "heat", "broker", "heat_store"), _flats_table(info, bill))
    if bills_html or "bills" in rep.figures:
        sec("Bills", ("bills",), bills_html)
    return rep


CSS = """
body{font-family:system-ui,sans-serif;margin:1em 2em;color:#222;background:#fafafa}
h1{font-size:1.4em;margin:.2em 0 .6em} h2{font-size:1.15em;margin:1.4em 0 .4em}
.kpis{display:flex;flex-wrap:wrap;gap:.6em}
.kpi{background:#fff;border:1px solid #ddd;border-radius:8px;padding:.6em .9em;min-width:9em}
.kpi .v{font-size:1.35em;font-weight:600} .kpi .l{color:#666;font-size:.85em}
.fig{background:#fff;border:1px solid #e3e3e3;border-radius:8px;margin:.5em 0;padding:.2em}
.tablewrap table{border-collapse:collapse;font-size:.85em;background:#fff}
.tablewrap td,.tablewrap th{border:1px solid #ddd;padding:.2em .5em;text-align:right}
.tablewrap td:first-child,.tablewrap th:first-child{text-align:left}
.scroll{max-height:22em;overflow-y:auto} .note{color:#a05a00} footer{color:#777;font-size:.8em}
"""


def render_html(rep: Report) -> str:
    """The self-contained page of a built report (plotly.js inlined once)."""
    from plotly.offline import get_plotlyjs

    body = []
    for title, content in rep.sections:
        if title:
            anchor = title.lower().replace(" ", "-")
            body.append(f"<h2 id='{html.escape(anchor, quote=True)}'>{html.escape(title)}</h2>")
        for name, fig in rep.figures.items():
            if f"{{{{fig:{name}}}}}" in content:
                fig.update_layout(template="plotly_white", margin={"t": 100},
                                  title={"x": 0.01, "xanchor": "left", "y": 0.98,
                                         "yanchor": "top", "yref": "container"})
                if fig.layout.height is None:
                    fig.update_layout(height=480)
                div = fig.to_html(full_html=False, include_plotlyjs=False,
                                  div_id=f"fig-{name}",
                                  config={"displaylogo": False, "responsive": True})
                content = content.replace(f"{{{{fig:{name}}}}}", f"<div class='fig'>{div}</div>")
        body.append(content)
    footer = (f"<footer>Run {html.escape(rep.info.run_id)} · figures: homesim.devices.bus."
              f"figures (the same numbers as summary.json, Prometheus and the bills); "
              f"self-consumption and self-sufficiency after {html.escape(REFERENCE)}. Times "
              f"are local ({html.escape(rep.info.tz_name)}).</footer>")
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>"
            + html.escape(rep.title) + "</title><style>" + CSS + "</style><script>"
            + get_plotlyjs() + "</script></head><body><h1>" + html.escape(rep.title)
            + "</h1>" + "\n".join(body) + footer
            + "<script type='application/json' id='homesim-figures'>"
            + json.dumps({"figures": sorted(rep.figures),
                          "kpis": {k.key: k.value for k in rep.info.figures.kpis()}},
                         allow_nan=False).replace("</", "<\\/")
            + "</script></body></html>")


# ---------------------------------------------------------------------------- PNGs


def _screenshot(chromium: str, page: Path, png: Path, size: tuple[int, int] = PNG_SIZE,
                timeout: float = 90.0) -> None:
    """Screenshot a page with headless Chromium (a fresh profile, no network services)."""
    with tempfile.TemporaryDirectory(prefix="homesim-chromium-") as profile:
        cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", "--hide-scrollbars",
               "--disable-dev-shm-usage", f"--user-data-dir={profile}",
               "--virtual-time-budget=15000", f"--screenshot={png}",
               f"--window-size={size[0]},{size[1]}", page.resolve().as_uri()]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if res.returncode != 0 or not png.exists():
        raise ReportError(f"chromium could not screenshot {page.name} ({res.returncode}): "
                          f"{res.stderr[-500:]}")


def _write_pngs(figs: dict[str, Any], out_dir: Path, chromium: str) -> list[Path]:
    """One PNG per figure: a bare page per figure, screenshot by headless Chromium."""
    from plotly.offline import get_plotlyjs

    out_dir.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="homesim-png-") as tmp:
        tmpd = Path(tmp)
        (tmpd / "plotly.min.js").write_text(get_plotlyjs())
        jobs = []
        for name, fig in figs.items():
            f = type(fig)(fig)   # a copy, sized to the screenshot
            f.update_layout(width=PNG_SIZE[0], height=PNG_SIZE[1], template="plotly_white",
                            updatemenus=[])
            div = f.to_html(full_html=False, include_plotlyjs=False,
                            config={"staticPlot": True})
            page = tmpd / f"{name}.html"
            page.write_text("<!DOCTYPE html><html><head><meta charset='utf-8'>"
                            "<script src='plotly.min.js'></script><style>body{margin:0;"
                            "background:white}</style></head><body>" + div +
                            "</body></html>")
            jobs.append((page, out_dir / f"{name}.png"))
        if jobs:
            with ThreadPoolExecutor(len(jobs)) as ex:
                list(ex.map(lambda j: _screenshot(chromium, *j), jobs))
    return [png for _, png in jobs]


def write_report(run_dir: Path, day: str | None = None, png: bool = True) -> Path:
    """Write ``run_dir/report.html`` (and ``run_dir/figures/*.png``) from the ledger.

    Parameters
    ----------
    run_dir
        A run folder with ``ledger.sqlite``.
    day
        ``YYYY-MM-DD`` (the home's time zone) of the power figure; default the whole run up
        to :data:`MAX_STACK_DAYS` days, else the day with the most PV energy.
    png
        Also write ``figures/{sankey,energy,power}.png`` with headless Chromium.

    Raises
    ------
    FileNotFoundError
        If the run folder has no ledger.
    ReportError
        If ``day`` is outside the run, or PNGs were asked for and Chromium is missing or
        fails (report.html is written).
    """
    run_dir = Path(run_dir)
    rep = build_report(run_dir, day)
    out = run_dir / "report.html"
    out.write_text(render_html(rep), encoding="utf-8")
    if png:
        chromium = find_chromium()
        if chromium is None:
            raise ReportError("no Chromium found for the PNG figures (apt-get install chromium "
                              "or set HOMESIM_CHROMIUM); report.html was written")
        _write_pngs({k: rep.figures[k] for k in PNG_FIGURES if k in rep.figures},
                    run_dir / "figures", chromium)
    return out
