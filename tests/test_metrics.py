"""Prometheus metrics (homesim.devices.bus.metrics): sink-side counting, power, the HTTP server."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import yaml
from prometheus_client import REGISTRY

from homesim.devices.bus.metrics import (
    ClockMetrics,
    DeviceMetrics,
    LedgerMetrics,
    last_tick_power,
    serve_metrics,
    sink_energy,
    write_target,
)
from homesim.devices.kinds.base import Flow

DT = 60.0


def value(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def window_flows(n: int = 5, seed: int = 0) -> list[Flow]:
    """The example home's flows for one window (pv publishes sun->pv, the inverter the rest)."""
    rng = np.random.default_rng(seed)

    def j() -> np.ndarray:
        return rng.uniform(0, 3e5, n)

    return [Flow("sun", "pv", "solar", j()), Flow("pv", "inverter", "electricity", j()),
            Flow("inverter", "house", "electricity", j()),
            Flow("inverter", "battery", "electricity", j()),
            Flow("battery", "inverter", "electricity", j()),
            Flow("grid", "inverter", "electricity", j()),
            Flow("inverter", "grid", "electricity", j())]


def seen_by(device: str, flows: list[Flow]) -> dict:
    """What a device's settle sees: the flows it is an end of (pv: its own sun->pv too)."""
    return {(f.source, f.sink, f.carrier): f.joules for f in flows
            if device in (f.source, f.sink)}


def test_sink_energy_counts_only_flows_into_the_device() -> None:
    flows = seen_by("inverter", window_flows())
    got = sink_energy("inverter", flows)
    assert set(got) == {("pv", "inverter", "electricity"), ("battery", "inverter", "electricity"),
                        ("grid", "inverter", "electricity")}
    for k, v in got.items():
        assert v == pytest.approx(float(flows[k].sum()), rel=1e-15)
    assert sink_energy("sun", seen_by("pv", window_flows())) == {}


def test_last_tick_power_in_and_out() -> None:
    flows = seen_by("battery", window_flows())
    p = last_tick_power("battery", flows, DT)
    assert p[("electricity", "in")] == flows[("inverter", "battery", "electricity")][-1] / DT
    assert p[("electricity", "out")] == flows[("battery", "inverter", "electricity")][-1] / DT
    inv = last_tick_power("inverter", seen_by("inverter", window_flows()), DT)
    f = seen_by("inverter", window_flows())
    assert inv[("electricity", "in")] == pytest.approx(
        sum(v[-1] for k, v in f.items() if k[1] == "inverter") / DT, rel=1e-12)


def test_every_flow_is_counted_once_over_all_devices() -> None:
    home = "unit-once"
    kinds = {"pv": "pv", "inverter": "inverter", "battery": "battery", "grid": "grid",
             "house": "load", "sun": "sun"}
    devs = {d: DeviceMetrics(home, d, k) for d, k in kinds.items()}
    totals: dict[tuple[str, str, str], float] = {}
    for w in range(3):
        flows = window_flows(seed=w)
        for f in flows:
            k = (f.source, f.sink, f.carrier)
            totals[k] = totals.get(k, 0.0) + float(f.joules.sum())
        for d, m in devs.items():
            m.window(DT, seen_by(d, flows), {}, {}, lag=0.01)
    for (src, snk, car), joules in totals.items():
        got = value("homesim_energy_joules_total", home=home, source=src, sink=snk,
                    carrier=car)
        assert got == pytest.approx(joules, rel=1e-12), (src, snk)
    # the grid counts inverter->grid, never grid->inverter a second time: one series per flow
    series = [s for metric in REGISTRY.collect() if metric.name == "homesim_energy_joules"
              for s in metric.samples
              if s.name.endswith("_total") and s.labels["home"] == home]
    assert len(series) == len(totals)
    for d in devs:
        assert value("homesim_windows_total", home=home, device=d) == 3


def test_kind_specific_metrics() -> None:
    home = "unit-kinds"
    bat = DeviceMetrics(home, "battery", "battery")
    bat.window(DT, {}, {"soc": np.array([0.5, 0.6])}, {"soc": 0.6, "energy": 1.0}, lag=0.2)
    assert value("homesim_soc_ratio", home=home, device="battery") == 0.6
    assert value("homesim_window_settle_seconds", home=home, device="battery") == 0.2
    load = DeviceMetrics(home, "house", "load")
    for _ in range(2):
        load.window(DT, {}, {"unserved": np.array([1.0, 2.0]), "demand": np.ones(2)}, {}, 0.0)
    assert value("homesim_unserved_joules_total", home=home, device="house") == 6.0
    pv = DeviceMetrics(home, "pv", "pv")
    pv.window(DT, {}, {"curtailed": np.array([0.5, 0.25])}, {}, 0.0)
    assert value("homesim_curtailed_joules_total", home=home, device="pv") == 0.75
    grid = DeviceMetrics(home, "grid", "grid")
    grid.window(DT, {}, {"cost": np.array([-1.0])}, {"cost": -1.5, "currency": "EUR"}, 0.0)
    assert value("homesim_cost", home=home, device="grid", currency="EUR") == -1.5


def test_vanished_flow_power_drops_to_zero() -> None:
    home = "unit-vanish"
    m = DeviceMetrics(home, "battery", "battery")
    m.window(DT, {("inverter", "battery", "electricity"): np.array([0.0, 600.0])}, {}, {}, 0)
    assert value("homesim_power_watts", home=home, device="battery", carrier="electricity",
                 direction="in") == 10.0
    m.window(DT, {}, {}, {}, 0)
    assert value("homesim_power_watts", home=home, device="battery", carrier="electricity",
                 direction="in") == 0.0


def test_clock_and_ledger_metrics() -> None:
    c = ClockMetrics("unit-clock")
    c.set_speed(None)
    assert value("homesim_speed_factor", home="unit-clock") == 0.0
    c.set_speed(3600.0)
    c.window(30, 1.7e9, 0.05)
    c.window(30, 1.7e9 + 1800, 0.07)
    assert value("homesim_ticks_total", home="unit-clock") == 60
    assert value("homesim_sim_time_seconds", home="unit-clock") == 1.7e9 + 1800
    assert value("homesim_window_settle_duration_seconds_count", home="unit-clock") == 2
    assert value("homesim_speed_factor", home="unit-clock") == 3600.0
    led = LedgerMetrics("unit-ledger")
    led.window(10, 1e-9, 1e-16)
    led.window(5, 2e-9, 3e-16)
    assert value("homesim_ledger_packets_total", home="unit-ledger") == 15
    assert value("homesim_conservation_residual_joules", home="unit-ledger") == 2e-9
    assert value("homesim_conservation_relative_residual", home="unit-ledger") == 3e-16


def test_serve_metrics_on_a_free_port_and_target_file(tmp_path: Path) -> None:
    DeviceMetrics("unit-http", "grid", "grid").window(
        DT, {("inverter", "grid", "electricity"): np.array([60.0])}, {}, {}, 0.0)
    port = serve_metrics(0, "127.0.0.1")
    assert port > 0
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    assert ('homesim_energy_joules_total{carrier="electricity",home="unit-http",'
            'sink="grid",source="inverter"} 60.0') in text
    path = write_target(tmp_path / "targets", "grid", port,
                        {"home": "unit-http", "device": "grid", "kind": "grid"})
    assert json.loads(path.read_text()) == [
        {"targets": [f"127.0.0.1:{port}"],
         "labels": {"job": "homesim", "home": "unit-http", "device": "grid", "kind": "grid"}}]


def test_supervisor_writes_prometheus_config(tmp_path: Path) -> None:
    from homesim.infra.supervisor import write_prometheus_config

    (tmp_path / "prometheus" / "targets").mkdir(parents=True)
    (tmp_path / "prometheus" / "targets" / "old.json").write_text("[]")
    targets = write_prometheus_config(tmp_path)
    assert targets == tmp_path / "prometheus" / "targets"
    assert not list(targets.glob("*.json"))
    cfg = yaml.safe_load((tmp_path / "prometheus" / "prometheus.yml").read_text())
    job = cfg["scrape_configs"][0]
    assert job["scrape_interval"] == "1s"
    assert job["file_sd_configs"][0]["files"] == [str(targets / "*.json")]
