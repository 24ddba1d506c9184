"""The HTML report of a run (plotly, one self-contained file) and PNGs of its key figures.

``write_report(run_dir)`` reads ``ledger.sqlite`` through
:class:`homesim.devices.bus.store.LedgerStore` (aggregated in SQLite, never the whole packet
table) and writes ``report.html`` with six figures:

1. a Sankey of the period's flows (sun, PV arrays, inverter, battery, grid, loads) with the
   losses of PV arrays, inverter and battery from ``node_balance``;
2. monthly energy per flow (months in the home's time zone);
3. the power stack of one day (the sunniest, or ``day``): per-tick power of every flow;
4. battery SoC over the period (per-window min–max band; the chosen day is shaded);
5. grid cost by month; 6. unserved energy by month.

The Sankey, monthly bars and the day's power stack are also saved as
``figures/{sankey,monthly,day}.png`` by screenshotting them with headless Chromium.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from homesim.devices.bus.store import LedgerStore
from homesim.schemas.registry import REGISTRY
from homesim.schemas.units import J_PER_KWH, S_PER_DAY, S_PER_H, W_PER_KW

__all__ = ["write_report", "find_chromium", "ReportError"]

REPORT_METRICS = ("soc", "cost", "unserved", "temp_room")
"""Device metrics the figures use (per window)."""
PNG_FIGURES = ("sankey", "monthly", "day")
PNG_SIZE = (1400, 900)


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


def _tz(manifest_json: str | None) -> ZoneInfo:
    try:
        name = json.loads(manifest_json or "{}")["spec"]["location"]["timezone"]
        return ZoneInfo(name or "UTC")
    except Exception:  # noqa: BLE001 - no location: UTC
        return ZoneInfo("UTC")


def _label(src: str, snk: str) -> str:
    return f"{src} → {snk}"


def _load(store: LedgerStore) -> dict[str, Any]:
    """Everything the figures need, aggregated in SQLite by the store."""
    run = store.run()
    start, dt, ticks, manifest, home = ((run.start, run.dt, run.ticks, run.manifest, run.home)
                                        if run else (0.0, 60.0, 0, None, ""))
    # hourly energy per flow: small (8,760 × flows for a year), regrouped in the local zone
    return {"start": float(start), "dt": float(dt), "ticks": int(ticks), "home": home,
            "tz": _tz(manifest), "kinds": store.kinds(), "hourly": store.hourly_flows(S_PER_H),
            "balance": store.node_balances(),
            "metrics": store.device_metrics(metrics=REPORT_METRICS)}


def _month(ts: float, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(ts, tz).strftime("%Y-%m")


def _sankey(d: dict[str, Any], summary: dict[str, Any]):
    import plotly.graph_objects as go

    kinds = d["kinds"]
    totals: dict[tuple[str, str], float] = {}
    if summary.get("flows"):
        for f in summary["flows"]:
            totals[(f["source"], f["sink"])] = totals.get((f["source"], f["sink"]), 0.0) \
                + f["kwh"]
    else:
        for _, src, snk, _, j in d["hourly"]:
            totals[(src, snk)] = totals.get((src, snk), 0.0) + j / J_PER_KWH
    # a grid that imports and exports gets a second node for the export (no loop)
    two_way = {n for (s, k) in totals for n in (s, k)
               if kinds.get(n) == "grid" and any(k2 == n for (_, k2) in totals)
               and any(s2 == n for (s2, _) in totals)}
    links = [(s, f"{k} (export)" if k in two_way else k, v)
             for (s, k), v in totals.items() if v > 1e-6]
    for node, b in d["balance"].items():
        kind, dstored, losses = kinds.get(node), b.delta_stored, b.losses
        desc = REGISTRY.get(kind) if kind in REGISTRY else None
        if desc is None:
            continue
        # conversion losses (a sink's losses are its end use, drawn as its inflow)
        if desc.settle.losses and desc.role != "sink" and losses / J_PER_KWH > 1e-6:
            links.append((node, f"{desc.label} losses", losses / J_PER_KWH))
        electric_storage = desc.role == "storage" and "electricity" in desc.carriers
        if electric_storage and abs(dstored) / J_PER_KWH > 1e-6:
            if dstored < 0:   # drawn from what was stored at the start
                links.append((f"{node} (stored)", node, -dstored / J_PER_KWH))
            else:
                links.append((node, f"{node} (stored)", dstored / J_PER_KWH))
    names = list(dict.fromkeys([n for s, k, _ in links for n in (s, k)]))
    idx = {n: i for i, n in enumerate(names)}

    def colour(n: str) -> str:
        if n.endswith("losses"):
            return "#c0392b"
        if n.endswith("(stored)"):
            return "#a3d9b1"
        kind = kinds.get(n.removesuffix(" (export)"), "")
        return REGISTRY.get(kind).colour if kind in REGISTRY else "#95a5a6"

    fig = go.Figure(go.Sankey(
        valueformat=",.1f", valuesuffix=" kWh",
        node={"label": names, "color": [colour(n) for n in names], "pad": 18,
              "thickness": 18},
        link={"source": [idx[s] for s, _, _ in links], "target": [idx[k] for _, k, _ in links],
              "value": [v for _, _, v in links],
              "color": ["rgba(192,57,43,0.35)" if k.endswith("losses")
                        else "rgba(120,120,120,0.3)" for _, k, _ in links]}))
    fig.update_layout(title="Energy flows of the period [kWh] (losses from node balances)")
    return fig


def _monthly(d: dict[str, Any]):
    import plotly.graph_objects as go

    tz = d["tz"]
    months: dict[str, dict[str, float]] = {}
    for h, src, snk, _, j in d["hourly"]:
        m = _month(h * S_PER_H + S_PER_H / 2, tz)
        flows = months.setdefault(_label(src, snk), {})
        flows[m] = flows.get(m, 0.0) + j / J_PER_KWH
    all_months = sorted({m for f in months.values() for m in f})
    fig = go.Figure()
    for name in sorted(months):
        fig.add_trace(go.Bar(x=all_months, y=[months[name].get(m, 0.0) for m in all_months],
                             name=name))
    fig.update_layout(title=f"Monthly energy per flow [kWh] ({tz.key})", barmode="group",
                      xaxis={"type": "category"}, yaxis={"title": "kWh"})
    return fig


def _pick_day(d: dict[str, Any], day: str | None) -> date | None:
    tz, kinds = d["tz"], d["kinds"]
    if day:
        return date.fromisoformat(day)
    pv_by_day: dict[date, float] = {}
    for h, src, _, _, j in d["hourly"]:
        if kinds.get(src) == "pv":
            dd = datetime.fromtimestamp(h * S_PER_H + S_PER_H / 2, tz).date()
            pv_by_day[dd] = pv_by_day.get(dd, 0.0) + j
    if pv_by_day:
        return max(pv_by_day, key=pv_by_day.get)
    if d["ticks"]:
        return datetime.fromtimestamp(d["start"], tz).date()
    return None


def _day_stack(store: LedgerStore, d: dict[str, Any], day: date | None):
    import plotly.graph_objects as go

    fig = go.Figure()
    if day is None:
        fig.update_layout(title="Power stack: no data")
        return fig
    tz, kinds, dt, start = d["tz"], d["kinds"], d["dt"], d["start"]
    t0 = datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()
    t1 = datetime.combine(day + timedelta(days=1), datetime.min.time(), tz).timestamp()
    k0, k1 = int((t0 - start) // dt), int((t1 - start) // dt)
    rows = store.tick_flows(k0, k1, carrier="electricity")
    series: dict[str, dict[int, float]] = {}

    def add(name: str, tick: int, kw: float) -> None:
        s = series.setdefault(name, {})
        s[tick] = s.get(tick, 0.0) + kw

    for tick, src, snk, j in rows:
        kw = j / dt / W_PER_KW
        ks, kk = kinds.get(src), kinds.get(snk)
        if ks == "pv":
            add("PV (DC)", tick, kw)
        elif ks == "battery":
            add("battery discharge", tick, kw)
        elif ks == "grid":
            add("grid import", tick, kw)
        if kk == "load":
            add("load", tick, -kw)
        elif kk == "battery":
            add("battery charge", tick, -kw)
        elif kk == "grid":
            add("grid export", tick, -kw)
    ticks = sorted({t for s in series.values() for t in s})
    xs = [datetime.fromtimestamp(start + t * dt, tz).replace(tzinfo=None) for t in ticks]
    style = {"PV (DC)": "#f39c12", "battery discharge": "#27ae60", "grid import": "#2980b9",
             "load": "#8e44ad", "battery charge": "#82e0aa", "grid export": "#85c1e9"}
    for name, col in style.items():
        if name not in series:
            continue
        s = series[name]
        fig.add_trace(go.Scatter(x=xs, y=[s.get(t, 0.0) for t in ticks], name=name,
                                 mode="lines", line={"width": 0.5, "color": col},
                                 stackgroup="supply" if s and max(s.values()) > 0 else "use"))
    fig.update_layout(title=f"Power on {day.isoformat()} [kW] (supply above zero, use below; "
                            f"{tz.key})",
                      yaxis={"title": "kW"}, hovermode="x unified")
    return fig


def _soc(d: dict[str, Any], day: date | None):
    import plotly.graph_objects as go

    tz, dt, start = d["tz"], d["dt"], d["start"]
    fig = go.Figure()
    by_dev: dict[str, list[tuple[int, int, float, float]]] = {}
    for m in d["metrics"]:
        if m.metric == "soc":
            by_dev.setdefault(m.device, []).append((m.tick0, m.n, m.minimum, m.maximum))
    for dev, rows in by_dev.items():
        xs, lo, hi = [], [], []
        for tick0, n, mn, mx in rows:   # a step band: each window's min–max over its span
            for t in (tick0, tick0 + n):
                xs.append(datetime.fromtimestamp(start + t * dt, tz).replace(tzinfo=None))
                lo.append(mn)
                hi.append(mx)
        fig.add_trace(go.Scatter(x=xs, y=hi, name=f"{dev} SoC max", mode="lines",
                                 line={"width": 0.8}))
        fig.add_trace(go.Scatter(x=xs, y=lo, name=f"{dev} SoC min", mode="lines",
                                 fill="tonexty", line={"width": 0.8}))
    if day is not None and by_dev:
        fig.add_vrect(x0=day.isoformat(), x1=(day + timedelta(days=1)).isoformat(),
                      fillcolor="orange", opacity=0.25, line_width=0,
                      annotation_text="chosen day")
    fig.update_layout(title="Battery state of charge per window (min–max; per-tick SoC is not "
                            "stored)", yaxis={"title": "SoC", "range": [0, 1]})
    return fig


def _by_month(d: dict[str, Any], metric: str, kinds_ok: set[str], scale: float,
              title: str, ytitle: str):
    import plotly.graph_objects as go

    tz, dt, start, kinds = d["tz"], d["dt"], d["start"], d["kinds"]
    months: dict[str, float] = {}
    for r in d["metrics"]:
        if r.metric == metric and kinds.get(r.device) in kinds_ok:
            key = _month(start + (r.tick0 + r.n / 2) * dt, tz)
            months[key] = months.get(key, 0.0) + r.total / scale
    xs = sorted(months)
    fig = go.Figure(go.Bar(x=xs, y=[months[m] for m in xs], name=metric))
    fig.update_layout(title=title, xaxis={"type": "category"}, yaxis={"title": ytitle})
    return fig


def _heat_monthly(d: dict[str, Any]):
    """Heat delivered by the heat node to each flat per month [kWh] (grouped bars)."""
    import plotly.graph_objects as go

    tz, kinds = d["tz"], d["kinds"]
    months: dict[str, dict[str, float]] = {}
    for h, src, snk, car, j in d["hourly"]:
        if car == "heat" and kinds.get(src) == "heat_node" and kinds.get(snk) == "flat":
            m = months.setdefault(snk, {})
            key = _month(h * S_PER_H, tz)
            m[key] = m.get(key, 0.0) + j / J_PER_KWH
    all_months = sorted({k for m in months.values() for k in m})
    fig = go.Figure()
    for flat in sorted(months):
        fig.add_trace(go.Bar(x=all_months, y=[months[flat].get(m, 0.0) for m in all_months],
                             name=flat))
    fig.update_layout(title=f"Heat delivered per flat by month [kWh] ({tz.key})",
                      barmode="group", xaxis={"type": "category"}, yaxis={"title": "kWh"})
    return fig


def _room_temps(d: dict[str, Any]):
    """Mean and lowest room temperature of each flat per window [°C]."""
    import plotly.graph_objects as go

    tz, dt, start, kinds = d["tz"], d["dt"], d["start"], d["kinds"]
    series: dict[str, list[tuple[str, float, float]]] = {}
    for r in d["metrics"]:
        if r.metric == "temp_room" and kinds.get(r.device) == "flat" and r.n:
            x = datetime.fromtimestamp(start + (r.tick0 + r.n / 2) * dt, tz).isoformat()
            series.setdefault(r.device, []).append((x, r.total / r.n, r.minimum))
    fig = go.Figure()
    for flat in sorted(series):
        xs, mean, low = zip(*series[flat], strict=True)
        fig.add_trace(go.Scatter(x=xs, y=mean, name=f"{flat} mean", mode="lines"))
        fig.add_trace(go.Scatter(x=xs, y=low, name=f"{flat} min", mode="lines",
                                 line={"dash": "dot"}, visible="legendonly"))
    fig.update_layout(title="Room temperature per flat and window (mean; min in the legend)",
                      yaxis={"title": "°C"})
    return fig


def _currency(summary: dict[str, Any]) -> str:
    return (summary.get("cost") or {}).get("currency", "USD")


def _screenshot(chromium: str, html: Path, png: Path, timeout: float = 60.0) -> None:
    with tempfile.TemporaryDirectory(prefix="homesim-chromium-") as profile:
        cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", "--hide-scrollbars",
               "--disable-dev-shm-usage", f"--user-data-dir={profile}",
               "--virtual-time-budget=10000", f"--screenshot={png}",
               f"--window-size={PNG_SIZE[0]},{PNG_SIZE[1]}", html.resolve().as_uri()]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if res.returncode != 0 or not png.exists():
        raise ReportError(f"chromium could not screenshot {html.name} ({res.returncode}): "
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
            f.update_layout(width=PNG_SIZE[0], height=PNG_SIZE[1], template="plotly_white")
            div = f.to_html(full_html=False, include_plotlyjs=False,
                            config={"staticPlot": True})
            page = tmpd / f"{name}.html"
            page.write_text("<!DOCTYPE html><html><head><meta charset='utf-8'>"
                            "<script src='plotly.min.js'></script><style>body{margin:0;"
                            "background:white}</style></head><body>" + div +
                            "</body></html>")
            jobs.append((page, out_dir / f"{name}.png"))
        with ThreadPoolExecutor(len(jobs)) as ex:
            list(ex.map(lambda j: _screenshot(chromium, *j), jobs))
    return [png for _, png in jobs]


def write_report(run_dir: Path, day: str | None = None, png: bool = True) -> Path:
    """Write ``run_dir/report.html`` (and ``run_dir/figures/*.png``) from the ledger.

    Parameters
    ----------
    run_dir
        A run folder with ``ledger.sqlite`` (``summary.json`` optional).
    day
        ``YYYY-MM-DD`` (the home's time zone) of the power-stack figure; default the day
        with the most PV energy.
    png
        Also write ``figures/{sankey,monthly,day}.png`` with headless Chromium.

    Raises
    ------
    FileNotFoundError
        If the run folder has no ledger.
    ReportError
        If PNGs were asked for and Chromium is missing or fails (report.html is written).
    """
    run_dir = Path(run_dir)
    db = run_dir / "ledger.sqlite"
    if not db.exists():
        raise FileNotFoundError(f"no ledger at {db}")
    summary = json.loads((run_dir / "summary.json").read_text()) \
        if (run_dir / "summary.json").exists() else {}
    with LedgerStore.open(db) as store:
        d = _load(store)
        chosen = _pick_day(d, day)
        figs = {
            "sankey": _sankey(d, summary),
            "monthly": _monthly(d),
            "day": _day_stack(store, d, chosen),
            "soc": _soc(d, chosen),
            "cost": _by_month(d, "cost", {"grid"}, 1.0,
                              f"Grid cost by month [{_currency(summary)}]",
                              _currency(summary)),
            "unserved": _by_month(d, "unserved", {"load"}, J_PER_KWH,
                                  "Unserved energy by month [kWh]", "kWh"),
        }
        if "flat" in d["kinds"].values():
            figs["heat"] = _heat_monthly(d)
            figs["temperature"] = _room_temps(d)
    for f in figs.values():
        f.update_layout(height=560, template="plotly_white")
    ss = summary.get("self_sufficiency")
    sc = summary.get("self_consumption")
    head = (f"homesim · {summary.get('home') or d['home']} · "
            f"{datetime.fromtimestamp(d['start'], d['tz']).date()} + "
            f"{d['ticks'] * d['dt'] / S_PER_DAY:g} d at dt = {d['dt']:g} s")
    stats = " · ".join(x for x in (
        f"self-sufficiency {100 * ss:.1f} %" if ss is not None else "",
        f"self-consumption {100 * sc:.1f} %" if sc is not None else "",
        f"net cost {summary['cost']['net']:,.2f} {summary['cost']['currency']}"
        if summary.get("cost") else "") if x)
    parts = []
    for i, f in enumerate(figs.values()):
        parts.append(f.to_html(full_html=False, include_plotlyjs=(i == 0)))
    html = ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>" + head +
            "</title><style>body{font-family:sans-serif;margin:1em 2em}</style></head><body>"
            f"<h1>{head}</h1><p>{stats}</p>" + "\n".join(parts) + "</body></html>")
    out = run_dir / "report.html"
    out.write_text(html, encoding="utf-8")
    if png:
        chromium = find_chromium()
        if chromium is None:
            raise ReportError("no Chromium found for the PNG figures (apt-get install chromium "
                              "or set HOMESIM_CHROMIUM); report.html was written")
        _write_pngs({k: figs[k] for k in (*PNG_FIGURES, "heat", "temperature") if k in figs},
                    run_dir / "figures", chromium)
    return out
