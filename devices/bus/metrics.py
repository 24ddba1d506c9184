"""Prometheus metrics of homesim processes (the only module importing prometheus_client).

Every device process, the clock and the ledger serve ``/metrics`` (:func:`start`). Values
are updated once per window (never per tick), from the window's arrays.

Energy is counted once per flow, by the flow's **sink** device, so a sum over processes is
the home's energy: ``homesim_energy_joules_total{home,source,sink,carrier}``.

Port: ``HOMESIM_METRICS_PORT`` (default 0: a free port chosen by the OS; 9100 in Kubernetes),
host ``HOMESIM_METRICS_HOST`` (default 127.0.0.1). With ``HOMESIM_METRICS_DIR`` set, each
process writes ``<dir>/<process>.json``, a Prometheus ``file_sd_configs`` target.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from prometheus_client import (
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    start_http_server,
    write_to_textfile,
)

from homesim.schemas.registry import REGISTRY as KINDS

log = logging.getLogger("homesim.metrics")

__all__ = ["serve_metrics", "start", "DeviceMetrics", "ClockMetrics", "LedgerMetrics",
           "sink_energy", "last_tick_power"]

# ------------------------------------------------------------------ devices
ENERGY = Counter("homesim_energy_joules_total",
                 "Energy of each flow [J], counted by the flow's sink device",
                 ["home", "source", "sink", "carrier"])
POWER = Gauge("homesim_power_watts",
              "Device power over the last tick of the last window [W]",
              ["home", "device", "carrier", "direction"])
SOC = Gauge("homesim_soc_ratio", "Battery / buffer state of charge (0..1)", ["home", "device"])
TEMPERATURE = Gauge("homesim_temperature_celsius",
                    "Temperatures at the end of the last window (flat: room, mass, setpoint)",
                    ["home", "device", "quantity"])
COP = Gauge("homesim_cop_ratio", "Heat pump seasonal COP so far (heat / electricity)",
            ["home", "device"])
UNSERVED = Counter("homesim_unserved_joules_total", "Load not served [J]", ["home", "device"])
CURTAILED = Counter("homesim_curtailed_joules_total", "PV DC curtailed [J]", ["home", "device"])
COST = Gauge("homesim_cost", "Accumulated net grid cost (import cost - export revenue)",
             ["home", "device", "currency"])
SETTLE_LAG = Gauge("homesim_window_settle_seconds",
                   "Wall time from receiving the window to publishing this device's settle [s]",
                   ["home", "device"])
WINDOWS = Counter("homesim_windows_total", "Windows settled by this process", ["home", "device"])

# ------------------------------------------------------------------ clock
SIM_TIME = Gauge("homesim_sim_time_seconds", "Simulated time reached (epoch seconds)", ["home"])
SPEED = Gauge("homesim_speed_factor",
              "Requested sim seconds per wall second (0 for max)", ["home"])
PAUSED = Gauge("homesim_clock_paused", "1 while the clock is paused", ["home"])
WINDOW_DURATION = Histogram("homesim_window_settle_duration_seconds",
                            "Wall time from a window's publication to all its settles [s]",
                            ["home"])
TICKS = Counter("homesim_ticks_total", "Ticks simulated", ["home"])

# ------------------------------------------------------------------ ledger
RESIDUAL = Gauge("homesim_conservation_residual_joules",
                 "Worst absolute per-tick conservation residual so far [J]", ["home"])
REL_RESIDUAL = Gauge("homesim_conservation_relative_residual",
                     "Worst per-node relative conservation residual so far", ["home"])
LEDGER_PACKETS = Counter("homesim_ledger_packets_total", "Packet rows stored by the ledger",
                         ["home"])
RUN_ENERGY = Gauge("homesim_run_energy_joules",
                   "Headline energies of the run so far [J] (load = what every consumer "
                   "received; homesim.devices.bus.figures)", ["home", "quantity"])
RUN_RATIO = Gauge("homesim_run_ratio",
                  "Self-sufficiency, self-consumption (Luthander et al. 2015) and SCOP so far",
                  ["home", "quantity"])
RUN_POWER = Gauge("homesim_run_power_watts", "Peak import and peak load so far [W] (tick means)",
                  ["home", "quantity"])
RUN_COST = Gauge("homesim_run_cost", "Net, grid and gas cost of the run so far [currency]",
                 ["home", "quantity"])
LEDGER_DROPPED = Counter("homesim_ledger_dropped_messages_total",
                         "Messages the ledger refused (malformed, stale, foreign, …) by reason",
                         ["home", "reason"])


def serve_metrics(port: int | None = None, host: str | None = None) -> int:
    """Start the ``/metrics`` HTTP server (a daemon thread); return the port it listens on.

    ``port`` defaults to ``HOMESIM_METRICS_PORT`` (0 = any free port), ``host`` to
    ``HOMESIM_METRICS_HOST`` (127.0.0.1).
    """
    if port is None:
        port = int(os.environ.get("HOMESIM_METRICS_PORT", "0") or 0)
    if host is None:
        host = os.environ.get("HOMESIM_METRICS_HOST", "127.0.0.1") or "127.0.0.1"
    server, _thread = start_http_server(port, addr=host)
    return int(server.server_port)


def write_target(directory: Path, process: str, port: int, labels: Mapping[str, str]) -> Path:
    """Write ``<directory>/<process>.json`` (a ``file_sd_configs`` target list)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{process}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps([{"targets": [f"127.0.0.1:{port}"],
                                "labels": {"job": "homesim", **labels}}]))
    tmp.replace(path)  # Prometheus never reads a half-written file
    return path


def start(home: str, process: str, kind: str) -> int:
    """Serve this process's metrics and (with ``HOMESIM_METRICS_DIR``) announce the target."""
    port = serve_metrics()
    log.info("metrics on port %d", port)
    d = os.environ.get("HOMESIM_METRICS_DIR")
    if d:
        write_target(Path(d), process, port, {"home": home, "device": process, "kind": kind})
    return port


# ------------------------------------------------------------------ pure helpers
FlowMap = Mapping[tuple[str, str, str], np.ndarray]


def sink_energy(device: str, flows: FlowMap) -> dict[tuple[str, str, str], float]:
    """Joules of each flow whose sink is ``device`` (what this device counts)."""
    return {k: float(np.sum(j)) for k, j in flows.items() if k[1] == device}


def last_tick_power(device: str, flows: FlowMap, dt: float) -> dict[tuple[str, str], float]:
    """Power [W] over the window's last tick per (carrier, direction) into/out of ``device``."""
    out: dict[tuple[str, str], float] = {}
    for (src, snk, car), j in flows.items():
        if len(j) == 0:
            continue
        for node, direction in ((snk, "in"), (src, "out")):
            if node == device:
                key = (car, direction)
                out[key] = out.get(key, 0.0) + float(j[-1]) / dt
    return out


# ------------------------------------------------------------------ per process
class DeviceMetrics:
    """The metrics of one device process, updated once per settled window."""

    def __init__(self, home: str, device: str, kind: str) -> None:
        self.home, self.device, self.kind = home, device, kind
        self._observe = set(KINDS.get(kind).observe) if kind in KINDS else set()
        self._energy: dict[tuple[str, str, str], Any] = {}
        self._power: dict[tuple[str, str], Any] = {}
        self._lag = SETTLE_LAG.labels(home, device)
        self._windows = WINDOWS.labels(home, device)

    def window(self, dt: float, flows: FlowMap, metrics: Mapping[str, np.ndarray],
               state: Mapping[str, Any], lag: float) -> None:
        """Book one settled window: ``flows`` every flow the device saw (its own included)."""
        for key, joules in sink_energy(self.device, flows).items():
            c = self._energy.get(key)
            if c is None:
                c = self._energy[key] = ENERGY.labels(self.home, *key)
            c.inc(joules)
        power = last_tick_power(self.device, flows, dt)
        for key in self._power.keys() - power.keys():
            power[key] = 0.0  # a flow that vanished: its power is 0, not the stale value
        for key, watts in power.items():
            g = self._power.get(key)
            if g is None:
                g = self._power[key] = POWER.labels(self.home, self.device, *key)
            g.set(watts)
        # what each kind exports as gauges is its descriptor's ``observe`` list
        obs = self._observe
        if "soc" in obs and "soc" in state:
            SOC.labels(self.home, self.device).set(float(state["soc"]))
        if "unserved" in obs and "unserved" in metrics:
            UNSERVED.labels(self.home, self.device).inc(float(np.sum(metrics["unserved"])))
        if "curtailed" in obs and "curtailed" in metrics:
            CURTAILED.labels(self.home, self.device).inc(float(np.sum(metrics["curtailed"])))
        if "cost" in obs and "cost" in state:
            COST.labels(self.home, self.device, str(state.get("currency", ""))).set(
                float(state["cost"]))
        if "temperature" in obs:
            for q in ("temp_room", "temp_mass", "setpoint"):
                if state.get(q) is not None:
                    TEMPERATURE.labels(self.home, self.device, q.removeprefix("temp_")).set(
                        float(state[q]))
        if "cop" in obs and state.get("scop") is not None:
            COP.labels(self.home, self.device).set(float(state["scop"]))
        self._lag.set(lag)
        self._windows.inc()


class ClockMetrics:
    """The clock's metrics."""

    def __init__(self, home: str) -> None:
        self.sim_time = SIM_TIME.labels(home)
        self.speed = SPEED.labels(home)
        self.paused = PAUSED.labels(home)
        self.duration = WINDOW_DURATION.labels(home)
        self.ticks = TICKS.labels(home)

    def set_speed(self, factor: float | None) -> None:
        self.speed.set(0.0 if factor is None else factor)

    def window(self, n: int, sim_time: float, seconds: float) -> None:
        self.ticks.inc(n)
        self.sim_time.set(sim_time)
        self.duration.observe(seconds)


class LedgerMetrics:
    """The ledger's metrics."""

    def __init__(self, home: str) -> None:
        self.residual = RESIDUAL.labels(home)
        self.relative = REL_RESIDUAL.labels(home)
        self.packets = LEDGER_PACKETS.labels(home)
        self.home = home

    def dropped(self, reason: str) -> None:
        """Count one message the ledger refused for ``reason``."""
        LEDGER_DROPPED.labels(self.home, reason).inc()

    def window(self, rows: int, worst_abs: float, relative: float) -> None:
        self.packets.inc(rows)
        self.residual.set(worst_abs)
        self.relative.set(relative)

    def headline(self, gauges: Mapping[str, Mapping[str, float]]) -> None:
        """Set the run's headline gauges from :meth:`homesim.devices.bus.figures.Figures.gauges`
        (``energy`` [J], ``ratio`` [-], ``power`` [W], ``cost`` [currency])."""
        for group, gauge in (("energy", RUN_ENERGY), ("ratio", RUN_RATIO),
                             ("power", RUN_POWER), ("cost", RUN_COST)):
            for quantity, value in gauges.get(group, {}).items():
                gauge.labels(self.home, quantity).set(float(value))

    @staticmethod
    def write_textfile(path: Path) -> Path:
        """Write what ``/metrics`` serves now (Prometheus text format) to ``path``."""
        write_to_textfile(str(path), REGISTRY)
        return path
