"""The device runtime: the only module of homesim that imports autobahn.

It connects a process to the router (explicit reconnect policy), joins the clock, publishes
reports, packets and settles, registers ``describe`` / ``get`` / ``set`` / ``snapshot``,
turns every domain error into a ``homesim.error.*`` WAMP error, and stops cleanly on
SIGTERM/SIGINT. Device kinds are plain shells (``homesim.devices.kinds.base.DeviceShell``); the
clock and the ledger use :class:`Bus` and :func:`serve` too.

Topics and procedures are those of ``schemas/asyncapi.yaml``.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

# bjdata (pulled in by autobahn's serializers) prints a NumPy 1.x/2.x notice from its C
# extension; its pure-Python fallback is fine and silent.
sys.modules.setdefault("_bjdata", None)  # type: ignore[arg-type]

from autobahn.twisted.component import Component
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import PublishOptions, SubscribeOptions
from pydantic import ValidationError
from twisted.internet import defer, reactor

from homesim.devices.bus.metrics import DeviceMetrics
from homesim.devices.kinds.base import (
    BUS_KINDS,
    DeviceShell,
    Flow,
    FlowKey,
    HomesimError,
    InvalidArgument,
    Window,
)
from homesim.schemas.generated.messages import (
    ClockStatus,
    ClockWindow,
    DeviceReport,
    JoulePackets,
    SetSpeedRequest,
)
from homesim.schemas.manifest import validation_errors

log = logging.getLogger("homesim.runtime")

__all__ = ["BusSettings", "Bus", "serve", "DeviceRunner", "T", "rpc_args"]


class T:
    """Topic and procedure URIs (the contract's channel addresses)."""

    WINDOW = "homesim.clock.window"
    CONTROL = "homesim.clock.control"
    PROGRESS = "homesim.clock.progress"
    FINISHED = "homesim.clock.finished"
    PACKETS = "homesim.packets"
    SETTLE = "homesim.settle"
    ALL_REPORTS = "homesim.device..report"  # wildcard subscription
    CLOCK_PAUSE = "homesim.clock.pause"
    CLOCK_RESUME = "homesim.clock.resume"
    CLOCK_SET_SPEED = "homesim.clock.set_speed"
    CLOCK_STATUS = "homesim.clock.status"

    @staticmethod
    def report(device: str) -> str:
        return f"homesim.device.{device}.report"

    @staticmethod
    def events(device: str) -> str:
        return f"homesim.device.{device}.events"

    @staticmethod
    def rpc(device: str, name: str) -> str:
        return f"homesim.device.{device}.{name}"


@dataclass(frozen=True)
class BusSettings:
    """Where a process finds the router. Each field falls back to an environment variable.

    ``router``: ``rs://host:port`` (RawSocket, msgpack; devices) or ``ws://host:port/ws``
    (WebSocket) [HOMESIM_ROUTER_URL]; ``realm`` [HOMESIM_REALM].
    """

    router: str
    realm: str
    max_retries: int = 40
    initial_retry_delay: float = 0.25
    max_retry_delay: float = 2.0
    retry_delay_growth: float = 1.5

    @classmethod
    def from_env(cls, router: str | None = None, realm: str | None = None) -> BusSettings:
        return cls(
            router=router or os.environ.get("HOMESIM_ROUTER_URL", "rs://127.0.0.1:8081"),
            realm=realm or os.environ.get("HOMESIM_REALM", "homesim"),
        )

    def transport(self) -> dict[str, Any]:
        """autobahn Component transport config with our reconnect policy."""
        retry = {
            "max_retries": self.max_retries,
            "initial_retry_delay": self.initial_retry_delay,
            "max_retry_delay": self.max_retry_delay,
            "retry_delay_growth": self.retry_delay_growth,
            "retry_delay_jitter": 0.1,
        }
        if self.router.startswith("rs"):
            return {"type": "rawsocket", "url": self.router, "serializer": "msgpack", **retry}
        return {"type": "websocket", "url": self.router, "serializers": ["msgpack", "json"],
                **retry}


def rpc_args(args: tuple[Any, ...], kwargs: dict[str, Any], *names: str) -> list[Any]:
    """Read RPC arguments given by position (wamp-cli style) or by keyword (the contract).

    Raises
    ------
    InvalidArgument
        If an argument is missing.
    """
    out = []
    for i, name in enumerate(names):
        if name in kwargs:
            out.append(kwargs[name])
        elif len(args) > i:
            out.append(args[i])
        elif len(args) == 1 and isinstance(args[0], dict) and name in args[0]:
            out.append(args[0][name])
        else:
            raise InvalidArgument(f"missing argument {name!r}", field=name)
    return out


class Bus:
    """A joined WAMP session, seen through the contract's vocabulary."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self._opts = PublishOptions(exclude_me=False)

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        """Publish one message (the payload is the event's single positional argument)."""
        self.session.publish(topic, payload, options=self._opts)

    def subscribe(self, topic: str, handler: Callable[..., Any],
                  match: str = "exact", with_topic: bool = False) -> Any:
        """Subscribe ``handler(payload)``; a handler's exception is logged, never fatal.

        ``match`` is ``exact``, ``prefix`` or ``wildcard`` (WAMP pattern-based subscription);
        with ``with_topic`` the handler is called as ``handler(payload, topic)``.
        """

        def _on_event(*args: Any, **kwargs: Any) -> None:
            details = kwargs.pop("details", None)
            payload = args[0] if args else kwargs
            if not isinstance(payload, dict):
                log.warning("ignored non-object event on %s: %r", topic, payload)
                return
            try:
                if with_topic:
                    handler(payload, getattr(details, "topic", None) or topic)
                else:
                    handler(payload)
            except ValidationError as exc:
                log.warning("ignored invalid event on %s: %s", topic, validation_errors(exc))
            except Exception:  # noqa: BLE001 - a bad event must not kill the device
                log.error("handler for %s failed:\n%s", topic, traceback.format_exc())

        opts = None
        if match != "exact" or with_topic:
            opts = SubscribeOptions(match=None if match == "exact" else match,
                                    details_arg="details" if with_topic else None)
        return self.session.subscribe(_on_event, topic, options=opts)

    def register(self, uri: str, handler: Callable[..., Any]) -> Any:
        """Register a procedure; domain errors become ``homesim.error.*`` WAMP errors."""

        def _proc(*args: Any, **kwargs: Any) -> Any:
            try:
                return handler(*args, **kwargs)
            except HomesimError as exc:
                raise ApplicationError(exc.uri, **exc.details()) from None
            except ValidationError as exc:
                errs = [{"field": p, "reason": r} for p, r in validation_errors(exc)]
                raise ApplicationError(InvalidArgument.uri, reason=errs[0]["reason"],
                                       field=errs[0]["field"], errors=errs) from None
            except Exception as exc:  # noqa: BLE001
                log.error("procedure %s failed:\n%s", uri, traceback.format_exc())
                raise ApplicationError("homesim.error.internal", reason=str(exc)) from None

        return self.session.register(_proc, uri)

    def call(self, uri: str, *args: Any, **kwargs: Any) -> defer.Deferred:
        return self.session.call(uri, *args, **kwargs)


def setup_logging(name: str) -> None:
    """Log to stderr as ``<time> <name> <level> <message>``."""
    level = os.environ.get("HOMESIM_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(
        level=level, stream=sys.stderr,
        format=f"%(asctime)s {name} %(levelname)s %(message)s",
    )


def serve(settings: BusSettings, name: str, on_join: Callable[[Bus], Any],
          on_stop: Callable[[], Any] | None = None) -> int:
    """Run one WAMP component until it stops; return the process exit code.

    ``on_join(bus)`` is called on every (re)join. SIGTERM/SIGINT leave the session, call
    ``on_stop`` and stop the reactor (exit code 0). Failing to reach the router after the
    retry policy is exhausted gives exit code 2 with a clear message.
    """
    comp = Component(transports=[settings.transport()], realm=settings.realm)
    state: dict[str, Any] = {"code": 0, "session": None}

    @comp.on_join
    def _joined(session: Any, details: Any) -> Any:
        state["session"] = session
        try:  # small messages back to back (reports, settles): no Nagle delay
            session._transport.transport.setTcpNoDelay(True)
        except AttributeError:
            pass
        log.info("%s joined realm %s at %s", name, settings.realm, settings.router)
        return on_join(Bus(session))

    @comp.on_connectfailure
    def _connectfailure(comp_: Any, fail: Any) -> None:
        log.info("%s: router %s not reachable yet (%s)", name, settings.router,
                 getattr(fail, "value", fail))

    def _done(result: Any) -> None:
        _stop_reactor()

    def _failed(fail: Any) -> None:
        state["code"] = 2
        log.error("%s: giving up on router %s after %d attempts: %s", name, settings.router,
                  settings.max_retries, fail.getErrorMessage())
        _done(None)

    def _before_shutdown() -> Any:
        if on_stop is not None:
            try:
                on_stop()
            except Exception:  # noqa: BLE001
                log.error("on_stop failed:\n%s", traceback.format_exc())
        sess = state["session"]
        if sess is not None and sess.is_attached():
            try:
                return sess.leave()
            except Exception:  # noqa: BLE001
                return None
        return None

    reactor.addSystemEventTrigger("before", "shutdown", _before_shutdown)

    def _start() -> None:
        d = comp.start(reactor)
        d.addCallbacks(_done, _failed)

    reactor.callWhenRunning(_start)
    reactor.run()
    return state["code"]


def _stop_reactor() -> None:
    from twisted.internet.error import ReactorNotRunning

    try:
        reactor.stop()
    except ReactorNotRunning:  # already stopping (e.g. SIGTERM and the run's end together)
        pass


def stop_soon(code: int = 0, delay: float = 0.05) -> None:
    """Stop the reactor shortly (lets pending publishes flush)."""
    reactor.callLater(delay, _stop_reactor)


def after_finish(delay: float = 0.1) -> None:
    """What a process does when the run has finished.

    ``HOMESIM_AFTER_FINISH=exit`` (default, ``homesim run``): stop. ``idle`` (Kubernetes
    Deployments, which restart containers that exit): stay connected and answer RPCs, so a
    finished run is not started again.
    """
    if os.environ.get("HOMESIM_AFTER_FINISH", "exit") == "idle":
        log.info("run finished; idling (HOMESIM_AFTER_FINISH=idle)")
        return
    stop_soon(0, delay)


# ---------------------------------------------------------------------------- devices


def validate_packets(msg: dict[str, Any]) -> tuple[JoulePackets, list[np.ndarray]]:
    """Validate a ``JoulePackets`` message; return it and each flow's joules as an array.

    The envelope is validated by the generated model; the (long) joules arrays by numpy with
    the contract's rules (``n`` values, finite, ≥ 0): the same check, ~100x faster than
    per-element pydantic validation.

    Raises
    ------
    pydantic.ValidationError, ValueError
    """
    flows = msg.get("flows")
    if not isinstance(flows, list):
        raise ValueError("flows must be a list")
    light = {**msg, "flows": [{**f, "joules": []} if isinstance(f, dict) else f
                              for f in flows]}
    pk = JoulePackets.model_validate(light)
    arrays = []
    for f in flows:
        j = np.asarray(f["joules"], dtype=float)
        if j.shape != (pk.n,) or not np.all(np.isfinite(j)) or np.any(j < 0):
            raise ValueError(f"flow {f.get('source')}->{f.get('sink')}: joules must be "
                             f"{pk.n} finite values ≥ 0")
        arrays.append(j)
    return pk, arrays


def _arrays(d: dict[str, Any] | None) -> dict[str, np.ndarray]:
    return {k: np.asarray(v, dtype=float) for k, v in (d or {}).items()}


class DeviceRunner:
    """Drives one device shell through the lockstep windows of the clock.

    Window ``w``: on ``homesim.clock.window`` the device waits for the reports of its
    ``inputs()``, reports (phase 1), and—if it is on the bus—waits for the balancer's
    packets, applies them and publishes its settle (phase 2). The balancer waits for every
    bus device's report, allocates, publishes the packets and settles itself. Property
    changes made with ``set`` are applied at the next window boundary.
    """

    def __init__(self, shell: DeviceShell) -> None:
        self.shell = shell
        self.name = shell.name
        spec = shell.home.spec
        self.bus_devices = [d.name for d in spec.enabled() if d.kind in BUS_KINDS]
        self.publishers = set(shell.packet_publishers())
        self._pk: dict[int, dict[str, dict[FlowKey, np.ndarray]]] = {}  # window -> publisher
        self.windows: dict[int, Window] = {}
        self.reports: dict[int, dict[str, dict[str, Any]]] = {}
        self.reported: set[int] = set()
        self.settled: set[int] = set()
        self.own_packets: dict[int, int] = {}
        self.pending_props: Any = None
        self.clock_view: dict[str, Any] = {"state": "starting", "speed": "", "window": -1,
                                           "sim_time": None}
        self.bus: Bus | None = None
        self.finished = False
        # metrics (updated once per settled window)
        self.metrics = DeviceMetrics(shell.home.metadata.name, self.name, shell.kind)
        self._received: dict[int, float] = {}  # window -> wall time it arrived
        self._own_flows: dict[int, list[Flow]] = {}  # window -> flows we published ourselves

    # -------------------------------------------------------------- wiring
    def on_join(self, bus: Bus) -> defer.Deferred:
        self.bus = bus
        ds = [bus.subscribe(T.WINDOW, self._on_window),
              bus.subscribe(T.CONTROL, self._on_control),
              bus.subscribe(T.FINISHED, self._on_finished)]
        sources = set(self.shell.inputs())
        if self.shell.balancer:
            sources.update(d for d in self.bus_devices if d != self.name)
        for src in sorted(sources):
            ds.append(bus.subscribe(T.report(src), self._on_report))
        if self.publishers:
            ds.append(bus.subscribe(T.PACKETS, self._on_packets))
        for proc, fn in (("describe", self._describe), ("get", self._get), ("set", self._set),
                         ("snapshot", self._snapshot)):
            ds.append(bus.register(T.rpc(self.name, proc), fn))
        return defer.gatherResults(ds, consumeErrors=True)

    # -------------------------------------------------------------- RPCs
    def _describe(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return self.shell.describe()

    def _get(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        (name,) = rpc_args(args, kwargs, "name")
        if self.pending_props is None:
            return {"name": name, "value": self.shell.get_property(str(name))}
        current, self.shell.props = self.shell.props, self.pending_props
        try:  # a value set during this window is what get shows
            return {"name": name, "value": self.shell.get_property(str(name))}
        finally:
            self.shell.props = current

    def _set(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        name, value = rpc_args(args, kwargs, "name", "value")
        base = self.pending_props
        if base is not None:  # stack several sets inside one window
            current, self.shell.props = self.shell.props, base
            try:
                new = self.shell.validated_set(str(name), value)
            finally:
                self.shell.props = current
        else:
            new = self.shell.validated_set(str(name), value)
        self.pending_props = new
        log.info("set %s = %r (from the next window)", name, value)
        return {"name": name, "value": value, "effective": "next window"}

    def _snapshot(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        props = (self.pending_props or self.shell.props).model_dump(mode="json")
        return {"device": self.name, "kind": self.shell.kind, "properties": props,
                "state": self.shell.state(), "clock": dict(self.clock_view)}

    # -------------------------------------------------------------- clock
    def _on_control(self, msg: dict[str, Any]) -> None:
        st = ClockStatus.model_validate(msg)
        self.clock_view.update(state=st.state, speed=st.speed, sim_time=st.sim_time)

    def _on_finished(self, msg: dict[str, Any]) -> None:
        self.finished = True
        self.clock_view["state"] = "finished" if msg.get("ok") else "failed"
        after_finish(0.2)

    def _on_window(self, msg: dict[str, Any]) -> None:
        cw = ClockWindow.model_validate(msg)
        w = Window(run=cw.run, window=cw.window, tick0=cw.tick0, n=cw.n, dt=cw.dt,
                   start=cw.start, speed=cw.speed)
        if self.pending_props is not None:
            self.shell.props = self.pending_props
            self.pending_props = None
            self.shell.setup()
        self.windows[w.window] = w
        self._received[w.window] = time.monotonic()
        self.clock_view.update(state="running", speed=w.speed, window=w.window,
                               sim_time=w.start + w.tick0 * w.dt)
        # forget old windows
        for old in [k for k in self.windows if k < w.window - 2]:
            self.windows.pop(old, None)
            self.reports.pop(old, None)
            self._received.pop(old, None)
            self._own_flows.pop(old, None)
            self._pk.pop(old, None)
        self.reported = {k for k in self.reported if k >= w.window - 2}
        self.settled = {k for k in self.settled if k >= w.window - 2}
        self._advance(w.window)

    def _on_report(self, msg: dict[str, Any]) -> None:
        rep = DeviceReport.model_validate(msg)
        entry = {"kind": rep.kind, "signals": _arrays(rep.signals),
                 "envelope": rep.envelope.model_dump() if rep.envelope else None,
                 "params": dict(rep.params or {})}
        self.reports.setdefault(rep.window, {})[rep.device] = entry
        self._advance(rep.window)

    # -------------------------------------------------------------- phases
    def _advance(self, win: int) -> None:
        w = self.windows.get(win)
        if w is None or win in self.settled:
            return
        got = self.reports.get(win, {})
        if win not in self.reported:
            if any(src not in got for src in self.shell.inputs()):
                return
            self._guarded(w, self._report, w, got)
            if win in self.settled:  # failed
                return
        if self.shell.balancer:
            if all(d in got for d in self.bus_devices if d != self.name):
                self._guarded(w, self._balance, w, got)

    def _report(self, w: Window, got: dict[str, dict[str, Any]]) -> None:
        inputs = {k: got[k] for k in self.shell.inputs()}
        out = self.shell.report(w, inputs)
        self.reported.add(w.window)
        signals = {k: np.asarray(v, dtype=float) for k, v in out.get("signals", {}).items()}
        payload = {"run": w.run, "window": w.window, "tick0": w.tick0, "n": w.n,
                   "device": self.name, "kind": self.shell.kind,
                   "signals": {k: v.tolist() for k, v in signals.items()}}
        if out.get("envelope") is not None:
            payload["envelope"] = out["envelope"]
        if out.get("params"):
            payload["params"] = {k: float(v) for k, v in out["params"].items()}
        own = self.shell.own_flows(w)
        if own:
            self._publish_packets(w, own)
            self._own_flows[w.window] = own
        # keep our own report for the balancer (it does not subscribe to itself)
        self.reports.setdefault(w.window, {})[self.name] = {
            "kind": self.shell.kind, "signals": signals,
            "envelope": payload.get("envelope"), "params": payload.get("params", {})}
        self.bus.publish(T.report(self.name), payload)
        self.own_packets[w.window] = 1 if own else 0
        if self.shell.balancer:
            return  # settles after its balance
        if not self.publishers:
            self._settle(w, {}, packets=self.own_packets.pop(w.window))
        else:
            self._try_settle(w)

    def _balance(self, w: Window, got: dict[str, dict[str, Any]]) -> None:
        reports = {k: v for k, v in got.items() if k in self.bus_devices or k == self.name}
        flows = self.shell.balance(w, reports)
        self._publish_packets(w, flows)
        self._settle(w, {(f.source, f.sink, f.carrier): f.joules for f in flows},
                     packets=1 + self.own_packets.pop(w.window, 0))

    def _on_packets(self, msg: dict[str, Any]) -> None:
        publisher = msg.get("publisher")
        if publisher not in self.publishers:
            return
        pk, joules = validate_packets(msg)
        if pk.window in self.settled:
            return
        mine: dict[FlowKey, np.ndarray] = {}
        for f, j in zip(pk.flows, joules, strict=True):
            if f.source == self.name or f.sink == self.name:
                mine[(f.source, f.sink, f.carrier)] = j
        self._pk.setdefault(pk.window, {})[publisher] = mine
        w = self.windows.get(pk.window)
        if w is not None:
            self._try_settle(w)

    def _try_settle(self, w: Window) -> None:
        """Settle once we reported and every publisher's packets for ``w`` have arrived."""
        got = self._pk.get(w.window, {})
        if w.window in self.settled or w.window not in self.reported or \
                any(p not in got for p in self.publishers):
            return
        mine: dict[FlowKey, np.ndarray] = {}
        for p in sorted(self.publishers):
            mine.update(self._pk[w.window][p])
        self._pk.pop(w.window, None)
        self._guarded(w, self._settle, w, mine, self.own_packets.pop(w.window, 0))

    def _publish_packets(self, w: Window, flows: list[Flow]) -> None:
        for f in flows:
            if f.joules.shape != (w.n,) or not np.all(np.isfinite(f.joules)) \
                    or np.any(f.joules < 0):
                raise ValueError(f"invalid packet flow {f.source}->{f.sink}: joules must be "
                                 f"{w.n} finite values ≥ 0")
        self.bus.publish(T.PACKETS, {"run": w.run, "window": w.window, "tick0": w.tick0,
                                     "n": w.n, "publisher": self.name,
                                     "flows": [f.wire() for f in flows]})

    def _settle(self, w: Window, flows: dict[FlowKey, np.ndarray], packets: int) -> None:
        res = self.shell.settle(w, flows)
        msg: dict[str, Any] = {"run": w.run, "window": w.window, "tick0": w.tick0, "n": w.n,
                               "device": self.name, "packets": int(packets)}
        if res.stored is not None:
            msg["stored0"] = float(res.stored0)
            msg["stored"] = np.asarray(res.stored, dtype=float).tolist()
        if res.losses is not None:
            msg["losses"] = np.asarray(res.losses, dtype=float).tolist()
        if res.metrics:
            msg["metrics"] = {k: np.asarray(v, dtype=float).tolist()
                              for k, v in res.metrics.items()}
        if res.events:
            msg["events"] = res.events
            self.bus.publish(T.events(self.name), {"run": w.run, "window": w.window,
                                                   "device": self.name, "events": res.events})
        self.settled.add(w.window)
        self.bus.publish(T.SETTLE, msg)
        self._observe(w, flows, res)

    def _observe(self, w: Window, flows: dict[FlowKey, np.ndarray], res: Any) -> None:
        """Update this process's metrics for a settled window (never fails the window)."""
        seen = dict(flows)
        for f in self._own_flows.pop(w.window, []):
            seen.setdefault((f.source, f.sink, f.carrier), f.joules)
        t0 = self._received.pop(w.window, None)
        try:
            self.metrics.window(w.dt, seen, res.metrics or {}, self.shell.state(),
                                time.monotonic() - t0 if t0 is not None else 0.0)
        except Exception:  # noqa: BLE001 - metrics are an observer, not part of the run
            log.warning("metrics update failed:\n%s", traceback.format_exc())

    def _guarded(self, w: Window, fn: Callable[..., None], *args: Any) -> None:
        """Run a phase; on failure publish a settle carrying the error (the clock stops)."""
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001 - reported on the bus, device stays up
            log.error("window %d failed:\n%s", w.window, traceback.format_exc())
            self.settled.add(w.window)
            self.bus.publish(T.SETTLE, {"run": w.run, "window": w.window, "tick0": w.tick0,
                                        "n": w.n, "device": self.name, "packets": 0,
                                        "error": f"{type(exc).__name__}: {exc}"})


def parse_speed(speed: str) -> str:
    """Validate a speed string (``realtime``, ``max``, ``60x``)."""
    return SetSpeedRequest(speed=speed).speed
