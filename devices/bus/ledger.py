"""The ledger: books every joule packet and checks conservation at every node and tick.

For window ``w`` the ledger waits for every device's settle and for every packet message
the settles announce, then in one transaction stores the packets (one row per flow and
window holding its per-tick joules), a balance row per node and window, and publishes its own
settle (the clock counts the ledger as a participant, so what the clock has passed is on
disk; at ``max`` speed the clock opens the next window while the ledger books this one).

Balance of a bounded node over every tick: ``in − out − Δstored − losses = residual``.
Unbounded nodes (the sun, the grid, ambient) are not balanced. A residual above
``max(RESIDUAL_ABS, RESIDUAL_REL · throughput of the node in that tick)`` is a failure: the
window is not committed and the ledger settles it with an ``error`` naming node, tick and
residual, so the clock stops the run naming the ledger. So does an SQLite error.

Every message is checked before use (:meth:`Ledger._on_packets`, :meth:`Ledger._on_settle`):
strict types; this run; the window being booked or the next one (the clock opens ``w + 1``
only once the ledger settled ``w``) with its ``tick0`` / ``n``; arrays of ``n`` finite
values; known nodes; publishers and settles from devices of the home, one settle per device
and window; a packet or settle only from the identity it claims (the router discloses the
publisher; reason ``forged``); a flow only from a device that is one of its ends, balances one
of them or takes it as an input (reason ``foreign_flow``). Anything else is dropped, never
kept: counted per reason (``dropped``, the summary,
``homesim_ledger_dropped_messages_total``) and logged at most once per reason every
``DROP_LOG_INTERVAL`` seconds. Two different settles of one device for a window, or more
packet messages than a device announced, cannot be told apart from a forgery: the window
fails.

Storage: SQLite (``ledger.sqlite``) by default, or PostgreSQL (``db_path`` a
``postgresql://`` URL: this run's tables in the schema ``pg_schema(home, run id)``), written
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

from homesim.devices.bus.figures import Roles, Totals, headline, read_totals, window_totals
from homesim.devices.bus.metrics import LedgerMetrics
from homesim.devices.bus.runtime import (
    CLOCK_AUTHID,
    Bus,
    T,
    after_finish,
    claimed,
    packet_sender,
    validate_packets,
)
from homesim.devices.bus.store import (
    SCHEMA,
    Event,
    Flow,
    LedgerStore,
    MetricTotal,
    NodeBalance,
    Series,
    pg_schema,
)
from homesim.schemas.generated.messages import Settle
from homesim.schemas.manifest import EXTERNAL_NODES, Home
from homesim.schemas.registry import REGISTRY
from homesim.schemas.units import J_PER_KWH
from homesim.schemas.wire import unpack

__all__ = ["SCHEMA", "Ledger", "build_summary", "SERIES_METRICS"]

log = logging.getLogger("homesim.ledger")

UNBOUNDED_KINDS = REGISTRY.where(bounded=False)
"""Kinds whose devices are not balanced (the sun, the grid)."""

RESIDUAL_REL = 1e-6
"""Tolerated residual of a node in a tick, relative to its throughput (in + out) [-]."""
RESIDUAL_ABS = 1e-3
"""Tolerated residual of a node in a tick at least [J] (the example runs: ~1e-9 J)."""
DROP_LOG_INTERVAL = 10.0
"""At most one log line per drop reason in this many seconds [s]."""
SERIES_METRICS = ("soc", "temp_room", "connected", "unmet")
"""Device metrics also stored per tick (``series`` table; the report draws them tick by tick);
every other metric is stored per window (sum, minimum, maximum)."""


class Drop(Exception):
    """A message the ledger refuses: ``reason`` (a metric label) and a detail for the log."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class WindowFailure(Exception):
    """The window cannot be booked (conservation, conflicting messages)."""


def _finite(value: Any, n: int, what: str) -> np.ndarray:
    """``value`` (a ``TickArray``: packed bytes or a list) as ``n`` finite floats, else
    :class:`Drop`."""
    try:
        a = unpack(value)
    except ValueError as exc:
        raise Drop("malformed", f"{what}: {exc}") from None
    if a.shape != (n,):
        raise Drop("ticks", f"{what} has shape {a.shape}, expected ({n},)")
    if not np.all(np.isfinite(a)):
        raise Drop("nonfinite", f"{what} is not finite")
    return a


def _arr(value: Any) -> np.ndarray:
    """A settle's array: as accepted (decoded already) or a ``TickArray`` (bytes or list)."""
    return value if isinstance(value, np.ndarray) else unpack(value)


def _same_settle(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Two decoded settles are equal (arrays compared by value)."""
    def same(x: Any, y: Any) -> bool:
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            return isinstance(x, np.ndarray) and isinstance(y, np.ndarray) \
                and np.array_equal(x, y)
        if isinstance(x, dict) and isinstance(y, dict):
            return x.keys() == y.keys() and all(same(x[k], y[k]) for k in x)
        return bool(x == y)
    return same(a, b)


class Ledger:
    """Books packets and balances of one run into ``db_path`` (see module docstring)."""

    def __init__(self, home: Home, run_id: str, db_path: Path | str, start: float, dt: float,
                 ticks: int, summary_path: Path | None = None,
                 restore: dict[str, Any] | None = None) -> None:
        self.home = home
        self.run_id = run_id
        self.start = start
        self.dt = dt
        self.ticks = ticks
        self.devices = {d.name: d.kind for d in home.spec.enabled()}
        self.bounded = {n for n, k in self.devices.items() if k not in UNBOUNDED_KINDS}
        self.summary_path = summary_path
        self.store = LedgerStore.create(db_path, schema=pg_schema(home.metadata.name, run_id))
        with self.store.transaction():
            self.store.write_run(run_id, home.metadata.name, start, dt, ticks,
                                 home.model_dump_json())
            self.store.write_nodes([(n, k, n in self.bounded) for n, k in self.devices.items()]
                                   + [(x, x, False) for x in EXTERNAL_NODES])
        self.nodes = set(self.devices) | set(EXTERNAL_NODES)
        #: the nodes whose flows each device may publish: itself, what it balances (the
        #: registry's ``balanced_by``) and the devices it takes as inputs (e.g. the heat node
        #: solves the flats' thermal network); any other flow in its packets is refused
        self.publishes_for: dict[str, set[str]] = {
            n: {n} | {m for m, km in self.devices.items()
                      if km in REGISTRY.balanced_by(k) or km in REGISTRY.get(k).inputs}
            for n, k in self.devices.items()}
        #: the devices of each flat of a block (residents read their flat's meter)
        self.flats = {f: set(names) for f, names in home.spec.by_flat().items()}
        #: per window (the one being booked and the next), per publisher: its flows
        self._packets: dict[int, dict[str, list[list[dict[str, Any]]]]] = {}
        self._settles: dict[int, dict[str, dict[str, Any]]] = {}
        self._n: dict[int, int] = {}  # ticks of a window, fixed by its first valid message
        self.current = 0  # the window being booked (windows are contiguous from 0)
        self.failed: str | None = None  # why the ledger failed the run
        self.dropped: dict[str, int] = {}
        self._drop_logged: dict[str, float] = {}
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
        #: the headline figures' running totals (homesim.devices.bus.figures)
        self.roles = Roles.of(self.devices)
        self.totals = Totals(dt=dt)
        self.unknown_nodes: set[str] = set()
        self.bus: Bus | None = None
        self.wall0 = time.monotonic()
        self._finalized = False
        self.metrics = LedgerMetrics(home.metadata.name)
        if restore is not None:
            self._restore(int(restore["window"]), int(restore["tick"]))

    def restore_position(self, window: int, tick: int) -> None:
        """Continue at ``window`` / ``tick`` (recovery in place; see :meth:`_restore`)."""
        self._restore(window, tick)

    def keep_summary(self) -> None:
        """The run is over and its summary written: never write it again (a ledger
        restarted after the end only answers its RPCs)."""
        self._finalized = True

    def _restore(self, window: int, tick: int) -> None:
        """Continue from a snapshot at ``window`` / ``tick``: what this ledger file booked
        from there on is forgotten (it is booked again) and the running totals are read
        back from what stays (a fork's fresh file has none: its totals start at zero)."""
        with self.store.transaction():
            self.store.truncate_from(window, tick)
        self.current = window
        self.ticks_booked = tick
        self.booked = len(self.store.settled_windows())
        self.flow_totals = dict(self.store.flow_totals())
        for node, b in self.store.node_balances().items():
            self.node_in[node] = b.energy_in
            self.node_residual[node] = b.residual
            if b.max_abs_residual > self.worst_abs[0]:
                self.worst_abs = (b.max_abs_residual, node, -1)
        for key, (total, mn, mx) in self.store.metric_totals().items():
            self.metric_totals[key] = total
            self.metric_min[key] = mn
            self.metric_max[key] = mx
        if self.booked:
            self.totals = read_totals(self.store, self.roles)

    def snapshot(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """The ``homesim.ledger.snapshot`` reply: where the ledger stands (between windows)."""
        return {"window": self.current, "tick": self.ticks_booked, "windows": self.booked,
                "dropped": dict(self.dropped)}

    # ---------------------------------------------------------------- bus
    def on_join(self, bus: Bus) -> Any:
        from twisted.internet import defer

        self.bus = bus
        bus.on_forged = self._on_forged
        return defer.gatherResults([
            bus.subscribe(T.PACKETS_PREFIX, self._on_packets, match="prefix",
                          sender=packet_sender),
            bus.subscribe(T.SETTLE, self._on_settle, sender=claimed("device")),
            bus.subscribe(T.FINISHED, self._on_finished, sender=CLOCK_AUTHID),
            bus.register(T.LEDGER_STATUS, self.status),
            bus.register(T.LEDGER_SNAPSHOT, self.snapshot),
            *(bus.register(T.meter(flat), self._meter_of(flat))
              for flat in self.flats),
        ], consumeErrors=True)

    def _meter_of(self, flat: str) -> Any:
        return lambda *args, **kwargs: self.meter(flat)

    def meter(self, flat: str) -> dict[str, Any]:
        """The booked energy [J] of every flow into or out of the devices of ``flat``, as
        ``{"flat", "ticks", "flows": [{"source", "sink", "carrier", "joules"}]}`` (a
        resident's meter reading: nothing of other flats)."""
        mine = self.flats.get(flat, set())
        flows = [{"source": s, "sink": k, "carrier": c, "joules": j}
                 for (s, k, c), j in sorted(self.flow_totals.items())
                 if s in mine or k in mine]
        return {"flat": flat, "ticks": self.ticks_booked, "flows": flows}

    def status(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return {"windows": self.booked, "ticks": self.ticks_booked,
                "dropped": dict(self.dropped), "error": self.failed}

    # ---------------------------------------------------------------- intake
    def _on_forged(self, topic: str, claimed_id: Any, actual: Any) -> None:
        """A message whose publisher (disclosed by the router) is not who it claims to be:
        booked nowhere, counted as ``forged``."""
        self._drop(Drop("forged", f"it claims {claimed_id!r}, the router says it comes from "
                                  f"{actual!r}"), topic)

    def _drop(self, exc: Drop, what: str) -> None:
        """Count and (rate-limited) log a refused message."""
        self.dropped[exc.reason] = self.dropped.get(exc.reason, 0) + 1
        self.metrics.dropped(exc.reason)
        now = time.monotonic()
        if now - self._drop_logged.get(exc.reason, -math.inf) >= DROP_LOG_INTERVAL:
            self._drop_logged[exc.reason] = now
            log.warning("dropped %s (%s, %d so far): %s", what, exc.reason,
                        self.dropped[exc.reason], exc)

    def _check_window(self, win: int, tick0: int, n: int, run: str) -> None:
        """The message belongs to this run, the window being booked or the next, with that
        window's ticks; else :class:`Drop`."""
        if run != self.run_id:
            raise Drop("run", f"run {run!r} is not {self.run_id!r}")
        if win < self.current:
            raise Drop("late", f"window {win} is already booked")
        if win == self.current:
            t0 = self.ticks_booked
        elif win == self.current + 1 and self.current in self._n:
            t0 = self.ticks_booked + self._n[self.current]
        else:
            raise Drop("window", f"window {win}: the ledger books window {self.current}")
        if tick0 != t0 or n < 1 or t0 + n > self.ticks or self._n.get(win, n) != n:
            raise Drop("ticks", f"window {win} ticks {tick0}+{n}, expected tick0 {t0}"
                                + (f" and n {self._n[win]}" if win in self._n else ""))

    def _on_packets(self, msg: Any) -> None:
        try:
            win = self._accept_packets(msg)
        except Drop as exc:
            self._drop(exc, "packets")
            return
        self._try_book(win)

    def _accept_packets(self, msg: Any) -> int:
        if self.failed is not None:
            raise Drop("failed", "the ledger failed the run")
        try:
            pk, arrays = validate_packets(msg)
        except Exception as exc:  # noqa: BLE001 - pydantic or ValueError: refused
            text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise Drop("malformed", text) from None
        if pk.publisher not in self.devices:
            raise Drop("unknown_device", f"publisher {pk.publisher!r} is not a device")
        self._check_window(pk.window, pk.tick0, pk.n, pk.run)
        flows = []
        for f, j in zip(pk.flows, arrays, strict=True):
            for node in (f.source, f.sink):
                if node not in self.nodes:
                    raise Drop("unknown_node", f"{pk.publisher}: flow {f.source}->{f.sink}: "
                                               f"unknown node {node!r}")
            mine = self.publishes_for[pk.publisher]
            if f.source not in mine and f.sink not in mine:
                raise Drop("foreign_flow", f"{pk.publisher} may not publish the flow "
                                           f"{f.source}->{f.sink}: it is neither end, nor "
                                           "balances or takes either as an input")
            flows.append({"source": f.source, "sink": f.sink, "carrier": f.carrier,
                          "joules": j})
        held = self._packets.setdefault(pk.window, {}).setdefault(pk.publisher, [])
        if any(_same_flows(h, flows) for h in held):
            raise Drop("duplicate", f"packets of {pk.publisher} for window {pk.window}")
        held.append(flows)
        self._n.setdefault(pk.window, pk.n)
        return pk.window

    def _on_settle(self, msg: Any) -> None:
        if isinstance(msg, dict) and msg.get("device") == "ledger":
            return  # our own (and the clock's business)
        try:
            win = self._accept_settle(msg)
        except Drop as exc:
            self._drop(exc, "settle")
            return
        except WindowFailure as exc:
            self._fail(self.current, exc)
            return
        self._try_book(win)

    def _accept_settle(self, msg: Any) -> int:
        if self.failed is not None:
            raise Drop("failed", "the ledger failed the run")
        try:
            st = Settle.model_validate(msg, strict=True)
        except Exception as exc:  # noqa: BLE001 - pydantic: refused
            text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise Drop("malformed", text) from None
        if st.device not in self.devices:
            raise Drop("unknown_device", f"settle of {st.device!r}, not a device")
        self._check_window(st.window, st.tick0, st.n, st.run)
        n = st.n
        msg = dict(msg)  # the arrays decoded once, here
        if st.error is None:
            if st.stored is not None or st.stored0 is not None:
                if st.stored is None or st.stored0 is None:
                    raise Drop("malformed", f"{st.device}: stored0 and stored go together")
                msg["stored"] = _finite(st.stored, n, f"{st.device}: stored")
                if not math.isfinite(st.stored0):
                    raise Drop("nonfinite", f"{st.device}: stored0 is not finite")
            if st.losses is not None:
                msg["losses"] = _finite(st.losses, n, f"{st.device}: losses")
            if st.metrics:
                msg["metrics"] = {name: _finite(values, n, f"{st.device}: metric {name}")
                                  for name, values in st.metrics.items()}
        got = self._settles.setdefault(st.window, {})
        if st.device in got:
            if _same_settle(got[st.device], msg):
                raise Drop("duplicate", f"settle of {st.device} for window {st.window}")
            raise WindowFailure(f"two different settles of {st.device} for window "
                                f"{st.window}: one is forged")
        got[st.device] = msg
        self._n.setdefault(st.window, n)
        return st.window

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
            # what /metrics served last (the headline gauges), kept with the run
            self.metrics.write_textfile(self.summary_path.with_name("ledger.prom"))
        self.close()

    def close(self) -> None:
        """Close the ledger file."""
        self.store.close()

    # ---------------------------------------------------------------- booking
    def _try_book(self, win: int) -> None:
        if win != self.current or self.failed is not None:
            return
        settles = self._settles.get(win, {})
        if any(d not in settles for d in self.devices):
            return
        if any(s.get("error") for s in settles.values()):
            return  # the clock stops the run; nothing of this window is booked
        held = self._packets.get(win, {})
        for d, s in settles.items():
            if len(held.get(d, [])) < int(s.get("packets", 0)):
                return
        try:
            extra = [f"{d} ({len(m)} received, {int(settles[d].get('packets', 0))} announced)"
                     for d, m in sorted(held.items())
                     if len(m) > int(settles[d].get("packets", 0))]
            if extra:
                raise WindowFailure(f"more packet messages than announced for window {win}: "
                                    + ", ".join(extra))
            packets = [{"flows": f} for d in sorted(held) for f in held[d]]
            self.book(win, settles, packets, check=True)
        except Exception as exc:  # noqa: BLE001 - conservation, SQLite: the run fails
            self._fail(win, exc)
            return
        n = self._n.get(win, 0)
        self._settles.pop(win, None)
        self._packets.pop(win, None)
        self._n.pop(win, None)
        self.current = win + 1
        if self.bus is not None:
            any_s = next(iter(settles.values()))
            self.bus.publish(T.SETTLE, {"run": self.run_id, "window": win,
                                        "tick0": any_s["tick0"], "n": n,
                                        "device": "ledger", "packets": 0})
        self._try_book(self.current)  # nothing legitimate can be waiting; harmless

    def _fail(self, win: int, exc: Exception) -> None:
        """Fail the run: settle ``win`` with an error naming the cause; book nothing more."""
        self.failed = f"{type(exc).__name__}: {exc}"
        log.error("window %d failed: %s", win, self.failed)
        tick0 = self.ticks_booked if win == self.current else 0
        n = self._n.get(win, 0)
        self._settles.clear()
        self._packets.clear()
        self._n.clear()
        if self.bus is not None:
            self.bus.publish(T.SETTLE, {"run": self.run_id, "window": win, "tick0": tick0,
                                        "n": n, "device": "ledger", "packets": 0,
                                        "error": self.failed})

    def book(self, win: int, settles: dict[str, dict[str, Any]],
             packets: list[dict[str, Any]], check: bool = False) -> None:
        """Store one window and compute conservation at every bounded node and tick.

        With ``check`` (the bus path, :meth:`_try_book`, always checks) nothing is written
        and no running total changes unless every bounded node balances within the
        tolerance (see module docstring); without it the residuals are only recorded.

        Raises
        ------
        WindowFailure
            A node does not balance, or an array has the wrong shape.
        LedgerError
            SQLite could not write the window (rolled back).
        """
        first = next(iter(settles.values()))
        tick0, n = int(first["tick0"]), int(first["n"])
        e_in = {node: np.zeros(n) for node in self.bounded}
        e_out = {node: np.zeros(n) for node in self.bounded}
        flows: list[Flow] = []
        unknown: set[str] = set()
        for msg in packets:
            for f in msg["flows"]:
                src, snk, car = f["source"], f["sink"], f["carrier"]
                j = _arr(f["joules"])
                if j.shape != (n,):
                    raise WindowFailure(f"flow {src}->{snk} has {j.shape} values, expected {n}")
                for node in (src, snk):
                    if node not in self.devices and node not in EXTERNAL_NODES:
                        unknown.add(node)
                if snk in e_in:
                    e_in[snk] += j
                if src in e_out:
                    e_out[src] += j
                flows.append(Flow(src, snk, car, j))
        balances = []
        worst_win = (0.0, "", -1)
        for node in sorted(self.bounded):
            s = settles[node]
            losses = _arr(s["losses"]) if s.get("losses") is not None else np.zeros(n)
            if s.get("stored") is not None:
                stored = _arr(s["stored"])
                prev = np.concatenate(([float(s["stored0"])], stored[:-1]))
                delta = stored - prev
            else:
                delta = np.zeros(n)
            if losses.shape != (n,) or delta.shape != (n,):
                raise WindowFailure(f"settle of {node} does not have {n} values")
            res = e_in[node] - e_out[node] - delta - losses
            tol = np.maximum(RESIDUAL_ABS, RESIDUAL_REL * (e_in[node] + e_out[node]))
            bad = np.flatnonzero(~(np.abs(res) <= tol)) if check else ()
            if len(bad):
                k = int(bad[np.argmax(np.abs(res[bad]))])
                raise WindowFailure(
                    f"node {node} does not balance at tick {tick0 + k} (window {win}): "
                    f"residual {res[k]:.6g} J, tolerance {tol[k]:.3g} J "
                    f"(in {e_in[node][k]:.6g}, out {e_out[node][k]:.6g}, "
                    f"Δstored {delta[k]:.6g}, losses {losses[k]:.6g} J)")
            k = int(np.argmax(np.abs(res))) if n else 0
            worst = float(abs(res[k])) if n else 0.0
            if worst > worst_win[0]:
                worst_win = (worst, node, tick0 + k)
            balances.append(NodeBalance(node, _fsum(e_in[node]), _fsum(e_out[node]),
                                        _fsum(delta), _fsum(losses), _fsum(res), worst))
        metrics = []
        for dev, s in settles.items():
            for name, values in (s.get("metrics") or {}).items():
                v = _arr(values)
                if not v.size:
                    continue
                metrics.append(MetricTotal(dev, name, _fsum(v), float(v.min()),
                                           float(v.max())))
        events = [Event(int(e["tick"]), dev, e["kind"], e.get("value"), e.get("reason"),
                        e.get("data"))
                  for dev, s in settles.items() for e in (s.get("events") or [])]
        series = [Series(dev, name, _arr(values))
                  for dev, s in settles.items() for name, values in (s.get("metrics") or {}).items()
                  if name in SERIES_METRICS]
        rows = self.store.book_window(win, tick0, n, flows, balances, metrics, events,
                                      series=series)
        # committed: the running totals follow
        for fl in flows:
            key = (fl.source, fl.sink, fl.carrier)
            self.flow_totals[key] = self.flow_totals.get(key, 0.0) + _fsum(fl.joules)
        for b in balances:
            self.node_in[b.node] = self.node_in.get(b.node, 0.0) + b.energy_in
            self.node_residual[b.node] = self.node_residual.get(b.node, 0.0) + b.residual
        for m in metrics:
            key = (m.device, m.metric)
            self.metric_totals[key] = self.metric_totals.get(key, 0.0) + m.total
            self.metric_max[key] = max(self.metric_max.get(key, -math.inf), m.maximum)
            self.metric_min[key] = min(self.metric_min.get(key, math.inf), m.minimum)
        if worst_win[0] > self.worst_abs[0]:
            self.worst_abs = worst_win
        self.unknown_nodes |= unknown
        self.booked += 1
        self.ticks_booked += n
        rel = max((abs(self.node_residual[k]) / v for k, v in self.node_in.items() if v),
                  default=0.0)
        self.metrics.window(rows, self.worst_abs[0], rel)
        self.totals.add(window_totals(
            self.roles, self.dt, n, flows,
            [(dev, name, _arr(v)) for dev, s in settles.items()
             for name, v in (s.get("metrics") or {}).items()]))
        self.metrics.headline(headline(self.totals, self.roles, self.home).gauges())

    # ---------------------------------------------------------------- summary
    def summary(self, clock: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run summary (energies [kWh], ratios, cost, peak import [W], conservation)."""
        return build_summary(self, clock)


def build_summary(led: Ledger, clock: dict[str, Any] | None) -> dict[str, Any]:
    """The run summary: the headline figures (:func:`homesim.devices.bus.figures.headline` of
    the ledger's running totals, the sums of what it committed), conservation, the clock."""
    rel = {n: (abs(led.node_residual[n]) / led.node_in[n] if led.node_in.get(n) else 0.0)
           for n in led.node_residual}
    worst_rel_node = max(rel, key=rel.get) if rel else ""
    figures = headline(led.totals, led.roles, led.home).summary()
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
        **figures,
        "conservation": {
            "worst_abs_residual_j": led.worst_abs[0],
            "worst_node": led.worst_abs[1],
            "worst_tick": led.worst_abs[2],
            "relative_residual": rel.get(worst_rel_node, 0.0),
            "relative_residual_node": worst_rel_node,
            "per_node_relative": rel,
            "unknown_nodes": sorted(led.unknown_nodes),
        },
        "ledger": {"error": led.failed, "dropped_messages": dict(sorted(led.dropped.items()))},
    }
    if "heat" in out:
        heat_nodes = [n for n, k in led.devices.items() if k in HEAT_KINDS]
        worst = max(heat_nodes, key=lambda n: rel.get(n, 0.0)) if heat_nodes else ""
        out["heat"]["conservation_relative"] = rel.get(worst, 0.0)
        out["heat"]["conservation_node"] = worst
    if clock is not None:
        out["clock"] = {"ok": clock.get("ok"), "message": clock.get("message"),
                        "missing": clock.get("missing", []),
                        "wall_elapsed": (clock.get("status") or {}).get("wall_elapsed")}
    return out


def _fsum(a: np.ndarray) -> float:
    """The exactly rounded sum of ``a`` (``math.fsum``; over a list: ~2× faster than over
    the array's numpy scalars, same result; an all-zero array, e.g. a device without losses,
    is 0.0 without the list)."""
    a = np.asarray(a, dtype=float)
    return math.fsum(a.tolist()) if a.any() else 0.0


def _same_flows(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> bool:
    """Two packet messages' flows are identical (a replay of the same message)."""
    return len(a) == len(b) and all(
        (x["source"], x["sink"], x["carrier"]) == (y["source"], y["sink"], y["carrier"])
        and np.array_equal(x["joules"], y["joules"]) for x, y in zip(a, b, strict=True))


#: Kinds on the heat bus (their descriptor's carriers include heat).
HEAT_KINDS = REGISTRY.where(heat=True)
