"""The ledger: books every joule packet and checks conservation at every node and tick.

For window ``w`` the ledger waits for every device's settle and for every packet message
the settles announce, then in one transaction stores the packets (one row per non-zero
packet), a balance row per node and window, and publishes its own settle (the clock counts
the ledger as a participant, so what the clock has passed is on disk).

Balance of a bounded node over every tick: ``in − out − Δstored − losses = residual``.
Unbounded nodes (the sun, the grid, ambient) are not balanced.

Storage: SQLite (``ledger.sqlite``) with standard SQL types that PostgreSQL accepts, written
through :class:`homesim.devices.bus.store.LedgerStore` (which owns the schema and all SQL;
``SCHEMA`` is re-exported here).
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from homesim.devices.bus.metrics import LedgerMetrics
from homesim.devices.bus.runtime import Bus, T, after_finish, validate_packets
from homesim.devices.bus.store import (
    SCHEMA,
    Event,
    Flow,
    LedgerStore,
    MetricTotal,
    NodeBalance,
)
from homesim.schemas.generated.messages import Settle
from homesim.schemas.manifest import EXTERNAL_NODES, Home
from homesim.schemas.registry import REGISTRY
from homesim.schemas.units import J_PER_KWH, S_PER_H

__all__ = ["SCHEMA", "Ledger", "build_summary", "heat_summary"]

log = logging.getLogger("homesim.ledger")

UNBOUNDED_KINDS = REGISTRY.where(bounded=False)
"""Kinds whose devices are not balanced (the sun, the grid)."""


class Ledger:
    """Books packets and balances of one run into ``db_path`` (see module docstring)."""

    def __init__(self, home: Home, run_id: str, db_path: Path, start: float, dt: float,
                 ticks: int, summary_path: Path | None = None) -> None:
        self.home = home
        self.run_id = run_id
        self.start = start
        self.dt = dt
        self.ticks = ticks
        self.devices = {d.name: d.kind for d in home.spec.enabled()}
        self.bounded = {n for n, k in self.devices.items() if k not in UNBOUNDED_KINDS}
        self.summary_path = summary_path
        self.store = LedgerStore.create(db_path)
        with self.store.transaction():
            self.store.write_run(run_id, home.metadata.name, start, dt, ticks,
                                 home.model_dump_json())
            self.store.write_nodes([(n, k, n in self.bounded) for n, k in self.devices.items()]
                                   + [(x, x, False) for x in EXTERNAL_NODES])
        self._packets: dict[int, list[dict[str, Any]]] = {}
        self._settles: dict[int, dict[str, dict[str, Any]]] = {}
        self.booked = 0
        self.ticks_booked = 0
        # run totals
        self.flow_totals: dict[tuple[str, str, str], float] = {}
        self.metric_totals: dict[tuple[str, str], float] = {}
        self.metric_max: dict[tuple[str, str], float] = {}
        self.metric_min: dict[tuple[str, str], float] = {}
        self.node_in: dict[str, float] = {}
        self.node_residual: dict[str, float] = {}
        self.worst_abs = (0.0, "", -1)  # (|residual| [J], node, tick)
        self.peak_import = 0.0
        self.unknown_nodes: set[str] = set()
        self.bus: Bus | None = None
        self.wall0 = time.monotonic()
        self._finalized = False
        self.metrics = LedgerMetrics(home.metadata.name)

    # ---------------------------------------------------------------- bus
    def on_join(self, bus: Bus) -> Any:
        from twisted.internet import defer

        self.bus = bus
        return defer.gatherResults([
            bus.subscribe(T.PACKETS, self._on_packets),
            bus.subscribe(T.SETTLE, self._on_settle),
            bus.subscribe(T.FINISHED, self._on_finished),
            bus.register("homesim.ledger.status", self.status),
        ], consumeErrors=True)

    def status(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return {"windows": self.booked, "ticks": self.ticks_booked}

    def _on_packets(self, msg: dict[str, Any]) -> None:
        pk, arrays = validate_packets(msg)
        flows = [{"source": f.source, "sink": f.sink, "carrier": f.carrier, "joules": j}
                 for f, j in zip(pk.flows, arrays, strict=True)]
        self._packets.setdefault(pk.window, []).append({"flows": flows})
        self._try_book(pk.window)

    def _on_settle(self, msg: dict[str, Any]) -> None:
        if msg.get("device") == "ledger":
            return
        Settle.model_validate(msg)
        self._settles.setdefault(int(msg["window"]), {})[str(msg["device"])] = msg
        self._try_book(int(msg["window"]))

    def _on_finished(self, msg: dict[str, Any]) -> None:
        self.finalize(clock=msg)
        after_finish(0.1)

    def finalize(self, clock: dict[str, Any] | None = None) -> None:
        """Write the summary (once; also on SIGTERM, then marked incomplete) and close."""
        if self._finalized:
            return
        self._finalized = True
        if self.summary_path is not None:
            summary = self.summary(clock=clock)
            self.summary_path.write_text(json.dumps(summary, indent=2))
        self.close()

    def close(self) -> None:
        """Close the ledger file."""
        self.store.close()

    # ---------------------------------------------------------------- booking
    def _try_book(self, win: int) -> None:
        settles = self._settles.get(win, {})
        if any(d not in settles for d in self.devices):
            return
        if any(s.get("error") for s in settles.values()):
            return  # the clock stops the run; nothing of this window is booked
        announced = sum(int(s.get("packets", 0)) for s in settles.values())
        packets = self._packets.get(win, [])
        if len(packets) < announced:
            return
        self.book(win, settles, packets)
        self._settles.pop(win, None)
        self._packets.pop(win, None)
        if self.bus is not None:
            any_s = next(iter(settles.values()))
            self.bus.publish(T.SETTLE, {"run": self.run_id, "window": win,
                                        "tick0": any_s["tick0"], "n": any_s["n"],
                                        "device": "ledger", "packets": 0})

    def book(self, win: int, settles: dict[str, dict[str, Any]],
             packets: list[dict[str, Any]]) -> None:
        """Store one window and check conservation at every bounded node and tick."""
        first = next(iter(settles.values()))
        tick0, n = int(first["tick0"]), int(first["n"])
        e_in = {node: np.zeros(n) for node in self.bounded}
        e_out = {node: np.zeros(n) for node in self.bounded}
        flows: list[Flow] = []
        for msg in packets:
            for f in msg["flows"]:
                src, snk, car = f["source"], f["sink"], f["carrier"]
                j = np.asarray(f["joules"], dtype=float)
                if j.shape != (n,):
                    raise ValueError(f"flow {src}->{snk} has {j.shape} values, expected {n}")
                for node in (src, snk):
                    if node not in self.devices and node not in EXTERNAL_NODES:
                        self.unknown_nodes.add(node)
                if snk in e_in:
                    e_in[snk] += j
                if src in e_out:
                    e_out[src] += j
                key = (src, snk, car)
                self.flow_totals[key] = self.flow_totals.get(key, 0.0) + math.fsum(j)
                if self.devices.get(src) == "grid":
                    self.peak_import = max(self.peak_import, float(j.max()) / self.dt)
                flows.append(Flow(src, snk, car, j))
        balances = []
        for node in sorted(self.bounded):
            s = settles[node]
            losses = np.asarray(s.get("losses") or np.zeros(n), dtype=float)
            if s.get("stored") is not None:
                stored = np.asarray(s["stored"], dtype=float)
                prev = np.concatenate(([float(s["stored0"])], stored[:-1]))
                delta = stored - prev
            else:
                delta = np.zeros(n)
            res = e_in[node] - e_out[node] - delta - losses
            k = int(np.argmax(np.abs(res))) if n else 0
            worst = float(abs(res[k])) if n else 0.0
            if worst > self.worst_abs[0]:
                self.worst_abs = (worst, node, tick0 + k)
            self.node_in[node] = self.node_in.get(node, 0.0) + math.fsum(e_in[node])
            self.node_residual[node] = self.node_residual.get(node, 0.0) + math.fsum(res)
            balances.append(NodeBalance(node, math.fsum(e_in[node]), math.fsum(e_out[node]),
                                        math.fsum(delta), math.fsum(losses), math.fsum(res),
                                        worst))
        metrics = []
        for dev, s in settles.items():
            for name, values in (s.get("metrics") or {}).items():
                v = np.asarray(values, dtype=float)
                if not v.size:
                    continue
                key = (dev, name)
                tot = math.fsum(v)
                self.metric_totals[key] = self.metric_totals.get(key, 0.0) + tot
                self.metric_max[key] = max(self.metric_max.get(key, -math.inf), float(v.max()))
                self.metric_min[key] = min(self.metric_min.get(key, math.inf), float(v.min()))
                metrics.append(MetricTotal(dev, name, tot, float(v.min()), float(v.max())))
        events = [Event(int(e["tick"]), dev, e["kind"], e.get("value"), e.get("reason"),
                        e.get("data"))
                  for dev, s in settles.items() for e in (s.get("events") or [])]
        rows = self.store.book_window(win, tick0, n, flows, balances, metrics, events)
        self.booked += 1
        self.ticks_booked += n
        rel = max((abs(self.node_residual[k]) / v for k, v in self.node_in.items() if v),
                  default=0.0)
        self.metrics.window(rows, self.worst_abs[0], rel)

    # ---------------------------------------------------------------- summary
    def summary(self, clock: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run summary (energies [kWh], ratios, cost, peak import [W], conservation)."""
        return build_summary(self, clock)


def build_summary(led: Ledger, clock: dict[str, Any] | None) -> dict[str, Any]:
    """Compute the run summary from a ledger's running totals."""
    kinds = led.devices

    def flows(src_kind: str | None = None, snk_kind: str | None = None) -> float:
        return math.fsum(v for (s, k, _), v in led.flow_totals.items()
                         if (src_kind is None or kinds.get(s) == src_kind)
                         and (snk_kind is None or kinds.get(k) == snk_kind))

    def metric(kind: str, name: str) -> float:
        return math.fsum(v for (d, m), v in led.metric_totals.items()
                         if kinds.get(d) == kind and m == name)

    pv_ac = metric("inverter", "pv_ac")
    export = flows(snk_kind="grid")
    grid_import = flows(src_kind="grid")
    served = flows(snk_kind="load")
    demand = metric("load", "demand")
    unserved = metric("load", "unserved")
    rel = {n: (abs(led.node_residual[n]) / led.node_in[n] if led.node_in.get(n) else 0.0)
           for n in led.node_residual}
    worst_rel_node = max(rel, key=rel.get) if rel else ""
    soc = {d: {"min": led.metric_min[(d, "soc")], "max": led.metric_max[(d, "soc")]}
           for (d, m) in led.metric_totals if m == "soc"}
    currency = "USD"
    g = led.home.spec.first("grid")
    if g is not None:
        currency = g.properties.currency
    out = {
        "run_id": led.run_id,
        "home": led.home.metadata.name,
        "dt": led.dt,
        "start": led.start,
        "ticks": led.ticks_booked,
        "ticks_planned": led.ticks,
        "windows": led.booked,
        "sim_seconds": led.ticks_booked * led.dt,
        "complete": led.ticks_booked == led.ticks,
        "flows": [{"source": s, "sink": k, "carrier": c, "kwh": v / J_PER_KWH}
                  for (s, k, c), v in sorted(led.flow_totals.items())],
        "energy_kwh": {
            "solar_incident": flows(src_kind="sun") / J_PER_KWH,
            "pv_dc": flows(src_kind="pv") / J_PER_KWH,
            "pv_ac": pv_ac / J_PER_KWH,
            "curtailed_dc": metric("pv", "curtailed") / J_PER_KWH,
            "load_demand": demand / J_PER_KWH,
            "load_served": served / J_PER_KWH,
            "unserved": unserved / J_PER_KWH,
            "grid_import": grid_import / J_PER_KWH,
            "grid_export": export / J_PER_KWH,
            "battery_charge": flows(snk_kind="battery") / J_PER_KWH,
            "battery_discharge": flows(src_kind="battery") / J_PER_KWH,
        },
        "self_consumption": (max(pv_ac - export, 0.0) / pv_ac) if pv_ac > 0 else None,
        "self_sufficiency": (min(max(served - grid_import, 0.0) / served, 1.0)
                             if served > 0 else None),
        "cost": {"net": metric("grid", "cost"), "currency": currency},
        "peak_import_w": led.peak_import,
        "soc": soc,
        "conservation": {
            "worst_abs_residual_j": led.worst_abs[0],
            "worst_node": led.worst_abs[1],
            "worst_tick": led.worst_abs[2],
            "relative_residual": rel.get(worst_rel_node, 0.0),
            "relative_residual_node": worst_rel_node,
            "per_node_relative": rel,
            "unknown_nodes": sorted(led.unknown_nodes),
        },
    }
    heat = heat_summary(led, rel)
    if heat:
        out["heat"] = heat
    chargers = [d for d, k in kinds.items() if k == "ev_charger"]
    if chargers:
        out["ev"] = {
            "chargers": {c: {"electricity_kwh": math.fsum(
                v for (s_, k_, _), v in led.flow_totals.items() if k_ == c) / J_PER_KWH,
                "delivered_kwh": led.metric_totals.get((c, "delivered"), 0.0) / J_PER_KWH,
                "unmet_kwh": led.metric_totals.get((c, "unmet"), 0.0) / J_PER_KWH,
                "flat": next((d.flat for d in led.home.spec.devices if d.name == c), None)}
                for c in chargers},
            "throttled_kwh": metric("load_manager", "throttled") / J_PER_KWH,
            "delivered_kwh": metric("ev_charger", "delivered") / J_PER_KWH,
            "unmet_kwh": metric("ev_charger", "unmet") / J_PER_KWH,
            "peak_import_w": led.peak_import,
        }
    if clock is not None:
        out["clock"] = {"ok": clock.get("ok"), "message": clock.get("message"),
                        "missing": clock.get("missing", []),
                        "wall_elapsed": (clock.get("status") or {}).get("wall_elapsed")}
    return out


#: Kinds on the heat bus (their descriptor's carriers include heat).
HEAT_KINDS = REGISTRY.where(heat=True)


def heat_summary(led: Ledger, rel: dict[str, float]) -> dict[str, Any]:
    """Per-flat heat, electricity and comfort; heat-pump seasonal COP; boiler gas; the heat
    carrier's conservation. Empty when the home has no heat devices."""
    kinds = led.devices
    if not any(k in HEAT_KINDS for k in kinds.values()):
        return {}
    ft = led.flow_totals

    def flow(src: str | None, snk: str | None, carrier: str | None = None) -> float:
        return math.fsum(v for (s, k, c), v in ft.items()
                         if (src is None or s == src) and (snk is None or k == snk)
                         and (carrier is None or c == carrier))

    def met(dev: str, name: str) -> float:
        return led.metric_totals.get((dev, name), 0.0)

    hours = led.ticks_booked * led.dt / S_PER_H
    member = {d.name: d.flat for d in led.home.spec.enabled()}
    node = next((d for d, k in kinds.items() if k == "heat_node"), None)
    flats = {}
    for f in (d for d, k in kinds.items() if k == "flat"):
        group = member.get(f) or f
        elec = math.fsum(flow(None, d, "electricity") for d, g in member.items()
                         if g == group and kinds.get(d) != "flat")
        flats[f] = {
            "heat_kwh": flow(node, f, "heat") / J_PER_KWH,
            "electricity_kwh": elec / J_PER_KWH,
            "degree_hours_below_setpoint": met(f, "degree_hours"),
            "temp_room_mean": met(f, "temp_room") / led.ticks_booked if led.ticks_booked else None,
            "temp_room_min": led.metric_min.get((f, "temp_room")),
            "solar_gains_kwh": flow(None, f, "solar") / J_PER_KWH,
            "internal_gains_kwh": flow("occupancy", f, "heat") / J_PER_KWH,
            "envelope_loss_kwh": (flow(f, "ambient") - flow("ambient", f)) / J_PER_KWH,
            "to_neighbours_kwh": math.fsum(flow(f, g, "heat") - flow(g, f, "heat")
                                           for g, k in kinds.items() if k == "flat") / J_PER_KWH,
        }
    hps = {}
    for h in (d for d, k in kinds.items() if k == "heat_pump"):
        q, el = flow(h, node, "heat"), flow(None, h, "electricity")
        hps[h] = {"heat_kwh": q / J_PER_KWH, "electricity_kwh": el / J_PER_KWH,
                  "scop": q / el if el > 0 else None}
    boilers = {}
    for b in (d for d, k in kinds.items() if k == "boiler"):
        q, gas = flow(b, node, "heat"), flow("gas-grid", b, "gas")
        boilers[b] = {"heat_kwh": q / J_PER_KWH, "gas_kwh": gas / J_PER_KWH, "cost": met(b, "cost"),
                      "efficiency": q / gas if gas > 0 else None}
    heat_nodes = [n for n, k in kinds.items() if k in HEAT_KINDS]
    worst = max(heat_nodes, key=lambda n: rel.get(n, 0.0)) if heat_nodes else ""
    return {
        "hours": hours,
        "demand_kwh": met(node, "demand") / J_PER_KWH if node else 0.0,
        "delivered_kwh": met(node, "heat") / J_PER_KWH if node else 0.0,
        "unmet_kwh": met(node, "unmet") / J_PER_KWH if node else 0.0,
        "distribution_loss_kwh": flow(node, "ambient") / J_PER_KWH if node else 0.0,
        "flats": flats,
        "heat_pumps": hps,
        "boilers": boilers,
        "conservation_relative": rel.get(worst, 0.0),
        "conservation_node": worst,
    }
