"""The clock: drives simulated time in lockstep windows.

It waits until every device (and the ledger) answers, then opens window after window on
``homesim.clock.window`` and advances only when every device has settled the window. A
device that does not settle within ``timeout`` seconds, or settles with an error, stops the
run with a message naming it. Speed: ``realtime`` (one tick per window, paced to the wall
clock), ``<N>x`` (paced), ``max`` (windows of one simulated day, unpaced). ``pause``,
``resume``, ``set_speed`` and ``status`` are RPCs; every change is published on
``homesim.clock.control``.

Progress and the end of the run are also written to stdout as JSON lines for the local
supervisor (``homesim run``).
"""

from __future__ import annotations

import json
import logging
import math
import time
from typing import Any

from twisted.internet import defer, reactor, task

from homesim.devices.bus.metrics import ClockMetrics
from homesim.devices.bus.runtime import Bus, T, after_finish, parse_speed, rpc_args
from homesim.devices.kinds.base import InvalidArgument
from homesim.schemas.manifest import Home

log = logging.getLogger("homesim.clock")

MAX_WINDOW_TICKS = 2880
PACED_WINDOW_WALL = 0.5  # [s] a paced window lasts at most this long in wall time


def window_ticks(speed: str, dt: float, window: int | None = None) -> int:
    """Ticks per window for a speed: 1 at realtime, ≤ 0.5 s of wall time at ``Nx``, a day at max.

    ``window`` (if given) overrides the ``max`` choice; it is also the upper bound otherwise.
    """
    day = max(1, min(MAX_WINDOW_TICKS, int(round(86400.0 / dt))))
    cap = window or day
    if speed == "max":
        return cap
    if speed == "realtime":
        return 1
    factor = float(speed[:-1])
    return max(1, min(cap, int(math.floor(factor * PACED_WINDOW_WALL / dt))))


def speed_factor(speed: str) -> float | None:
    """Sim seconds per wall second; None for ``max``."""
    if speed == "max":
        return None
    if speed == "realtime":
        return 1.0
    return float(speed[:-1])


class Clock:
    """Lockstep clock of one run (see module docstring)."""

    def __init__(self, home: Home, run_id: str, start: float, dt: float, ticks: int,
                 speed: str, timeout: float, window: int | None = None,
                 startup_timeout: float = 120.0, emit: Any = None) -> None:
        self.home = home
        self.run_id = run_id
        self.start = start
        self.dt = dt
        self.ticks_total = ticks
        self.speed = parse_speed(speed)
        self.timeout = timeout
        self.window_override = window
        self.startup_timeout = startup_timeout
        self.devices = [d.name for d in home.spec.enabled()]
        self.expected = [*self.devices, "ledger"]
        self.state = "starting"
        self.window = 0
        self.tick = 0
        self.energy: dict[str, float] = {}
        self._settles: dict[int, dict[str, dict[str, Any]]] = {}
        self._reports: dict[int, set[str]] = {}
        self._inputs: dict[str, list[str]] = {}  # from each device's describe reply
        self._waiting: tuple[int, defer.Deferred] | None = None
        self._resume: defer.Deferred | None = None
        self._wall0 = time.monotonic()
        self._anchor = (time.monotonic(), 0)
        self._last_emit = 0.0
        self._emit = emit or (lambda obj: print(json.dumps(obj), flush=True))
        self.bus: Bus | None = None
        self._started = False
        self.metrics = ClockMetrics(home.metadata.name)
        self.metrics.set_speed(speed_factor(self.speed))
        self.metrics.sim_time.set(self.start)

    # ---------------------------------------------------------------- status
    def status(self) -> dict[str, Any]:
        return {"state": self.state, "speed": self.speed, "window": self.window,
                "tick": self.tick, "ticks_total": self.ticks_total,
                "sim_time": self.start + self.tick * self.dt,
                "wall_elapsed": time.monotonic() - self._wall0,
                "energy": dict(self.energy)}

    def _control(self) -> dict[str, Any]:
        st = self.status()
        if self.bus is not None:
            self.bus.publish(T.CONTROL, st)
        return st

    # ---------------------------------------------------------------- RPCs
    def rpc_pause(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        if self.state == "running":
            self.state = "paused"
            self._resume = defer.Deferred()
            self.metrics.paused.set(1)
        return self._control()

    def rpc_resume(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        if self.state == "paused":
            self.state = "running"
            self.metrics.paused.set(0)
            self._anchor = (time.monotonic(), self.tick)
            d, self._resume = self._resume, None
            if d is not None:
                reactor.callLater(0, d.callback, None)
        return self._control()

    def rpc_set_speed(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        (speed,) = rpc_args(args, kwargs, "speed")
        try:
            self.speed = parse_speed(str(speed))
        except Exception:  # noqa: BLE001
            raise InvalidArgument(f"invalid speed {speed!r}: use realtime, max or e.g. 60x",
                                  field="speed") from None
        self._anchor = (time.monotonic(), self.tick)
        self.metrics.set_speed(speed_factor(self.speed))
        return self._control()

    def rpc_status(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return self.status()

    # ---------------------------------------------------------------- bus
    def on_join(self, bus: Bus) -> Any:
        self.bus = bus
        ds = [bus.subscribe(T.SETTLE, self._on_settle), bus.subscribe(T.PACKETS, self._on_packets),
              bus.subscribe(T.ALL_REPORTS, self._on_report, match="wildcard"),
              bus.register(T.CLOCK_PAUSE, self.rpc_pause),
              bus.register(T.CLOCK_RESUME, self.rpc_resume),
              bus.register(T.CLOCK_SET_SPEED, self.rpc_set_speed),
              bus.register(T.CLOCK_STATUS, self.rpc_status)]
        d = defer.gatherResults(ds, consumeErrors=True)
        if not self._started:
            self._started = True
            d.addCallback(lambda _: self.run())
        return d

    def _on_packets(self, msg: dict[str, Any]) -> None:
        for f in msg.get("flows", []):
            key = f"{f['source']}->{f['sink']}"
            self.energy[key] = self.energy.get(key, 0.0) + math.fsum(f["joules"])

    def _on_report(self, msg: dict[str, Any]) -> None:
        self._reports.setdefault(int(msg["window"]), set()).add(str(msg["device"]))

    def _on_settle(self, msg: dict[str, Any]) -> None:
        win = int(msg["window"])
        self._settles.setdefault(win, {})[str(msg["device"])] = msg
        if self._waiting and self._waiting[0] == win:
            got = self._settles[win]
            if msg.get("error") or all(d in got for d in self.expected):
                d = self._waiting[1]
                self._waiting = None
                d.callback(got)

    # ---------------------------------------------------------------- run
    @defer.inlineCallbacks
    def _wait_ready(self) -> Any:
        deadline = time.monotonic() + self.startup_timeout
        pending = list(self.expected)
        while pending:
            still = []
            for name in pending:
                uri = "homesim.ledger.status" if name == "ledger" else T.rpc(name, "describe")
                try:
                    reply = yield self.bus.call(uri)
                except Exception:  # noqa: BLE001 - not registered yet
                    still.append(name)
                    continue
                if name != "ledger":
                    self._inputs[name] = list(reply.get("inputs", []))
            pending = still
            if pending:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"device(s) {', '.join(pending)} did not join within "
                        f"{self.startup_timeout:.0f} s")
                yield task.deferLater(reactor, 0.1, lambda: None)

    @defer.inlineCallbacks
    def run(self) -> Any:
        try:
            yield self._wait_ready()
            self.state = "running"
            self._wall0 = time.monotonic()
            self._anchor = (self._wall0, 0)
            self._control()
            while self.tick < self.ticks_total:
                if self.state == "paused":
                    yield self._resume
                    continue
                n = min(window_ticks(self.speed, self.dt, self.window_override),
                        self.ticks_total - self.tick)
                factor = speed_factor(self.speed)
                if factor is not None:
                    wall_anchor, tick_anchor = self._anchor
                    due = wall_anchor + (self.tick - tick_anchor) * self.dt / factor
                    delay = due - time.monotonic()
                    if delay > 0:
                        yield task.deferLater(reactor, delay, lambda: None)
                    if self.state == "paused":
                        continue
                yield self._one_window(n)
                if factor is not None:  # pace the end of the window too
                    wall_anchor, tick_anchor = self._anchor
                    due = wall_anchor + (self.tick - tick_anchor) * self.dt / factor
                    delay = due - time.monotonic()
                    if delay > 0:
                        yield task.deferLater(reactor, delay, lambda: None)
                self._progress()
            self.state = "finished"
            self._finish(True, "completed")
        except WindowFailed as exc:
            self.state = "failed"
            self._finish(False, str(exc), exc.missing)
        except Exception as exc:  # noqa: BLE001
            self.state = "failed"
            log.exception("clock failed")
            self._finish(False, str(exc))

    @defer.inlineCallbacks
    def _one_window(self, n: int) -> Any:
        win = self.window
        d: defer.Deferred = defer.Deferred()
        self._waiting = (win, d)
        timer = reactor.callLater(self.timeout, self._timed_out, win, d)
        published = time.monotonic()
        self.bus.publish(T.WINDOW, {"run": self.run_id, "window": win, "tick0": self.tick,
                                    "n": n, "dt": self.dt, "start": self.start,
                                    "speed": self.speed})
        got = self._settles.get(win, {})
        if all(x in got for x in self.expected) and self._waiting:
            self._waiting = None
            d.callback(got)
        got = yield d
        if timer.active():
            timer.cancel()
        errors = {k: v["error"] for k, v in got.items() if v.get("error")}
        if errors:
            text = "; ".join(f"{k}: {e}" for k, e in errors.items())
            raise WindowFailed(f"window {win} failed at {self._when(self.tick)}: {text}",
                               list(errors))
        self._settles.pop(win, None)
        self._reports.pop(win, None)
        self.tick += n
        self.window += 1
        self.metrics.window(n, self.start + self.tick * self.dt, time.monotonic() - published)

    def _timed_out(self, win: int, d: defer.Deferred) -> None:
        if self._waiting and self._waiting[0] == win:
            self._waiting = None
            got = self._settles.get(win, {})
            missing = [x for x in self.expected if x not in got]
            reported = self._reports.get(win, set())
            silent = [x for x in self.devices if x not in reported]
            # the root cause: silent devices whose own inputs did report
            root = [x for x in silent if not any(i in silent for i in self._inputs.get(x, []))]
            if root:
                others = [x for x in missing if x not in root]
                text = (f"device(s) {', '.join(root)} did not report window {win} "
                        f"({self._when(self.tick)}) within {self.timeout:g} s"
                        + (f"; waiting on it: {', '.join(others)}" if others else ""))
                d.errback(WindowFailed(text, root))
            else:  # name devices before the ledger, which waits on them
                culprits = [x for x in missing if x != "ledger"] or missing
                d.errback(WindowFailed(
                    f"device(s) {', '.join(culprits)} did not settle window {win} "
                    f"({self._when(self.tick)}) within {self.timeout:g} s", culprits))

    def _when(self, tick: int) -> str:
        from datetime import UTC, datetime

        t = datetime.fromtimestamp(self.start + tick * self.dt, UTC)
        return f"sim time {t:%Y-%m-%d %H:%M:%S} UTC"

    def _progress(self) -> None:
        now = time.monotonic()
        if now - self._last_emit < 0.2 and self.tick < self.ticks_total:
            return
        self._last_emit = now
        st = self.status()
        self.bus.publish(T.PROGRESS, st)
        self._emit({"event": "progress", **st})

    def _finish(self, ok: bool, message: str, missing: list[str] | None = None) -> None:
        st = self.status()
        msg = {"ok": ok, "message": message, "missing": missing or [], "status": st}
        if self.bus is not None:
            self.bus.publish(T.FINISHED, msg)
        self._emit({"event": "finished", **msg})
        after_finish(0.5)


class WindowFailed(Exception):
    """A window could not be settled; ``missing`` names the devices at fault."""

    def __init__(self, message: str, missing: list[str]) -> None:
        super().__init__(message)
        self.missing = missing

