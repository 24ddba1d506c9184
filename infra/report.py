"""An HTML report of a run (plotly): daily energy per flow, battery SoC, unserved energy."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

__all__ = ["write_report"]


def write_report(run_dir: Path) -> Path:
    """Write ``run_dir/report.html`` from ``ledger.sqlite`` and ``summary.json``.

    Raises
    ------
    FileNotFoundError
        If the run folder has no ledger.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    db = run_dir / "ledger.sqlite"
    if not db.exists():
        raise FileNotFoundError(f"no ledger at {db}")
    summary = json.loads((run_dir / "summary.json").read_text()) \
        if (run_dir / "summary.json").exists() else {}
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = con.execute(
        "SELECT CAST(sim_time / 86400 AS INTEGER) AS day, source || ' → ' || sink, "
        "SUM(joules) / 3.6e6 FROM packet WHERE carrier = 'electricity' "
        "GROUP BY day, source, sink ORDER BY day").fetchall()
    soc = con.execute(
        "SELECT w.tick0, m.minimum, m.maximum FROM device_metric m JOIN settled_window w "
        "ON w.window_index = m.window_index WHERE m.metric = 'soc' ORDER BY w.tick0").fetchall()
    unserved = con.execute(
        "SELECT w.tick0, SUM(m.total) / 3.6e6 FROM device_metric m JOIN settled_window w "
        "ON w.window_index = m.window_index WHERE m.metric = 'unserved' GROUP BY w.tick0 "
        "ORDER BY w.tick0").fetchall()
    run = con.execute("SELECT start_time, dt FROM run").fetchone()
    con.close()
    start, dt = (run if run else (0.0, 60.0))
    fig = make_subplots(rows=3, cols=1, shared_xaxes=False, vertical_spacing=0.08,
                        subplot_titles=("Daily electricity flows [kWh]",
                                        "Battery state of charge per window (min–max)",
                                        "Unserved energy per window [kWh]"))
    flows: dict[str, tuple[list, list]] = {}
    for day, name, kwh in rows:
        xs, ys = flows.setdefault(name, ([], []))
        xs.append(day * 86400 * 1000)
        ys.append(kwh)
    for name, (xs, ys) in sorted(flows.items()):
        fig.add_trace(go.Bar(x=xs, y=ys, name=name), row=1, col=1)
    if soc:
        xs = [(start + t * dt) * 1000 for t, _, _ in soc]
        fig.add_trace(go.Scatter(x=xs, y=[hi for _, _, hi in soc], name="SoC max",
                                 line={"width": 0.5}), row=2, col=1)
        fig.add_trace(go.Scatter(x=xs, y=[lo for _, lo, _ in soc], name="SoC min",
                                 fill="tonexty", line={"width": 0.5}), row=2, col=1)
    if unserved:
        fig.add_trace(go.Bar(x=[(start + t * dt) * 1000 for t, _ in unserved],
                             y=[v for _, v in unserved], name="unserved"), row=3, col=1)
    for r in (1, 2, 3):
        fig.update_xaxes(type="date", row=r, col=1)
    fig.update_layout(barmode="group", height=1000,
                      title=f"homesim · {summary.get('home', '')} · "
                            f"self-sufficiency {100 * (summary.get('self_sufficiency') or 0):.1f} %"
                            f" · self-consumption "
                            f"{100 * (summary.get('self_consumption') or 0):.1f} %")
    out = run_dir / "report.html"
    fig.write_html(out, include_plotlyjs=True, full_html=True)
    return out
