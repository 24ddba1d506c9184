"""Grafana dashboards as code: ``python -m homesim.schemas.regen`` writes them as pretty JSON to
``infra/grafana/<uid>.json`` and copies them into ``helm/homesim/dashboards/`` for the chart.

Every PromQL expression uses only metrics that homesim processes export
(``homesim.devices.bus.metrics``); ``tests/test_grafana.py`` checks that.
"""

from __future__ import annotations

from typing import Any

DS = {"type": "prometheus", "uid": "${datasource}"}


def _target(expr: str, legend: str, ref: str = "A") -> dict[str, Any]:
    return {"datasource": DS, "expr": expr, "legendFormat": legend, "refId": ref}


def _panel(pid: int, title: str, kind: str, targets: list[dict[str, Any]], x: int, y: int,
           w: int = 12, h: int = 8, unit: str = "short", **extra: Any) -> dict[str, Any]:
    p = {"id": pid, "title": title, "type": kind, "datasource": DS,
         "gridPos": {"x": x, "y": y, "w": w, "h": h}, "targets": targets,
         "fieldConfig": {"defaults": {"unit": unit}, "overrides": []}, "options": {}}
    p.update(extra)
    return p


def _dashboard(uid: str, title: str, panels: list[dict[str, Any]],
               variables: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "uid": uid, "title": title, "tags": ["homesim"], "timezone": "browser",
        "schemaVersion": 39, "version": 1, "editable": True, "refresh": "5s",
        "time": {"from": "now-15m", "to": "now"},
        "templating": {"list": [
            {"name": "datasource", "type": "datasource", "query": "prometheus",
             "label": "Data source"},
            *variables,
        ]},
        "panels": panels,
    }


def _var(name: str, query: str, label: str, multi: bool = False) -> dict[str, Any]:
    return {"name": name, "type": "query", "datasource": DS, "label": label,
            "query": {"query": query, "refId": f"{name}-var"}, "definition": query,
            "refresh": 2, "multi": multi, "includeAll": multi, "sort": 1}


def home_overview() -> dict[str, Any]:
    h = 'home="$home"'
    panels = [
        _panel(1, "Power by device and direction (simulated, last tick of each window)",
               "timeseries", [_target(f"sum by (device, direction) (homesim_power_watts{{{h}}})",
                                      "{{device}} {{direction}}")], 0, 0, w=24, unit="watt"),
        _panel(2, "Energy by flow", "bargauge",
               [_target(f"sum by (source, sink) (homesim_energy_joules_total{{{h}}}) / 3.6e6",
                        "{{source}} → {{sink}}")], 0, 8, unit="kwatth",
               options={"displayMode": "gradient", "orientation": "horizontal"}),
        _panel(3, "Battery state of charge", "timeseries",
               [_target(f"homesim_soc_ratio{{{h}}}", "{{device}}")], 12, 8,
               unit="percentunit"),
        _panel(4, "Grid cost (net, accumulated)", "stat",
               [_target(f"sum by (currency) (homesim_cost{{{h}}})", "{{currency}}")], 0, 16,
               w=8, unit="none"),
        _panel(5, "Unserved energy", "stat",
               [_target(f"sum(homesim_unserved_joules_total{{{h}}}) / 3.6e6", "unserved")],
               8, 16, w=8, unit="kwatth"),
        _panel(6, "Curtailed PV (DC)", "stat",
               [_target(f"sum(homesim_curtailed_joules_total{{{h}}}) / 3.6e6", "curtailed")],
               16, 16, w=8, unit="kwatth"),
        _panel(7, "Simulated time", "stat",
               [_target(f"homesim_sim_time_seconds{{{h}}} * 1000", "sim time")], 0, 24,
               w=12, unit="dateTimeAsIso"),
        _panel(8, "Speed (simulated s per wall s; 0 = max)", "stat",
               [_target(f"homesim_speed_factor{{{h}}}", "speed")], 12, 24, w=12),
        # the headline figures (homesim.devices.bus.figures; the same as summary.json)
        _panel(9, "Self-sufficiency and self-consumption (Luthander et al. 2015)", "stat",
               [_target(f'homesim_run_ratio{{{h}, quantity=~"self_.*"}}', "{{quantity}}")],
               0, 32, w=8, unit="percentunit"),
        _panel(10, "Load (every consumer), PV AC, grid import and export", "stat",
               [_target(f'homesim_run_energy_joules{{{h}, quantity=~"load|pv_ac|grid_.*"}}'
                        " / 3.6e6", "{{quantity}}")], 8, 32, w=10, unit="kwatth"),
        _panel(11, "Peak import", "stat",
               [_target(f'homesim_run_power_watts{{{h}, quantity="peak_import"}}',
                        "peak import")], 18, 32, w=6, unit="watt"),
    ]
    return _dashboard("homesim-home", "homesim · home overview", panels,
                      [_var("home", "label_values(homesim_sim_time_seconds, home)", "Home")])


def block_overview() -> dict[str, Any]:
    sel = 'home="$block"'
    panels = [
        _panel(1, "Room temperature per flat", "timeseries",
               [_target(f'homesim_temperature_celsius{{{sel}, quantity="room"}}', "{{device}}"),
                _target(f'homesim_temperature_celsius{{{sel}, quantity="setpoint"}}',
                        "{{device}} setpoint")], 0, 0, w=24, unit="celsius"),
        _panel(2, "Heat delivered per flat", "bargauge",
               [_target(f'sum by (sink) (homesim_energy_joules_total{{{sel}, carrier="heat", '
                        f'source="$heat_node"}}) / 3.6e6', "{{sink}}")], 0, 8,
               w=12, unit="kwatth", options={"displayMode": "gradient",
                                             "orientation": "horizontal"}),
        _panel(3, "Energy by flow", "bargauge",
               [_target(f"sum by (source, sink) (homesim_energy_joules_total{{{sel}}})"
                        " / 3.6e6", "{{source}} → {{sink}}")], 12, 8, w=12,
               unit="kwatth", options={"displayMode": "gradient",
                                       "orientation": "horizontal"}),
        _panel(4, "Heat pump seasonal COP", "stat",
               [_target(f"homesim_cop_ratio{{{sel}}}", "{{device}}")], 0, 16, unit="none"),
        _panel(5, "Buffer and battery state of charge", "timeseries",
               [_target(f"homesim_soc_ratio{{{sel}}}", "{{device}}")], 8, 16, w=8,
               unit="percentunit"),
        _panel(6, "Unserved electricity per load", "bargauge",
               [_target(f"sum by (device) (homesim_unserved_joules_total{{{sel}}}) / 3.6e6",
                        "{{device}}")], 16, 16, w=8, unit="kwatth"),
    ]
    return _dashboard("homesim-block", "homesim · block", panels, [
        {"name": "block", "type": "textbox", "label": "Block", "query": "tower"},
        {"name": "heat_node", "type": "textbox", "label": "Heat node", "query": "heat-node"}])


def system_overview() -> dict[str, Any]:
    panels = [
        _panel(1, "Ticks per wall second", "timeseries",
               [_target("sum by (home) (rate(homesim_ticks_total[1m]))", "{{home}}")], 0, 0),
        _panel(2, "Window settle latency p50 / p99", "timeseries", [
            _target("histogram_quantile(0.5, sum by (le, home) "
                    "(rate(homesim_window_settle_duration_seconds_bucket[1m])))",
                    "p50 {{home}}"),
            _target("histogram_quantile(0.99, sum by (le, home) "
                    "(rate(homesim_window_settle_duration_seconds_bucket[1m])))",
                    "p99 {{home}}", "B")], 12, 0, unit="s"),
        _panel(3, "Device settle time (tick lag)", "timeseries",
               [_target("homesim_window_settle_seconds", "{{home}} {{device}}")], 0, 8,
               unit="s"),
        _panel(4, "Processes up", "stat",
               [_target('sum by (home) (up{job="homesim"})', "{{home}}")], 12, 8, w=6),
        _panel(5, "Paused", "stat", [_target("homesim_clock_paused", "{{home}}")], 18, 8, w=6),
        _panel(6, "Conservation: worst residual per tick", "timeseries",
               [_target("homesim_conservation_residual_joules", "{{home}}")], 0, 16,
               unit="joule"),
        _panel(7, "Conservation: relative residual", "timeseries",
               [_target("homesim_conservation_relative_residual", "{{home}}")], 12, 16,
               unit="sci"),
        _panel(8, "Ledger packets stored per second", "timeseries",
               [_target("sum by (home) (rate(homesim_ledger_packets_total[1m]))", "{{home}}")],
               0, 24, w=24),
    ]
    return _dashboard("homesim-system", "homesim · system", panels, [])


DASHBOARDS = {"homesim-home": home_overview, "homesim-block": block_overview,
              "homesim-system": system_overview}
