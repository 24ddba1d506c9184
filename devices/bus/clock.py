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

**Recovery in place** (``recover_in_place``; Kubernetes, where every process is a pod that is
restarted when it dies and no supervisor restarts the home): every device and the ledger call
``homesim.clock.join`` once at start and begin where the reply says (a fresh run, or the
clock's latest snapshot: window, tick, manifest, the caller's saved state). A join while the
run is under way means a process was restarted; so does a window that times out (a router
restart loses messages). The clock then starts a new *epoch*: it publishes
``homesim.clock.recover``, every process of an older epoch exits (and is restarted by its
Deployment), every process joins the new epoch, the clock rewinds to the snapshot and opens
its window again. Devices are deterministic given their state, and the ledger forgets what it
booked from that window on, so the ledger equals an undisturbed run's. A restarted clock
recovers from the latest snapshot in its folder (a volume); ``finished.json`` there marks a
run that is over, so nothing is run twice.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from pathlib import Path
from typing import Any

from autobahn.wamp.exception import ApplicationError, TransportLost
from twisted.internet import defer, reactor, task, utils

from homesim.devices.bus.metrics import ClockMetrics
from homesim.devices.bus.protocol import (
    MAX_WINDOW_TICKS,
    PACED_WINDOW_WALL,
    ClockAction,
    ClockProtocol,
    PacketsReceived,
    Publish,
    ReportReceived,
    RunFinished,
    SettleReceived,
    T,
    WindowClosed,
    speed_factor,
    window_ticks,
)
from homesim.devices.bus.runtime import (
    Bus,
    after_finish,
    claimed,
    packet_sender,
    rpc_args,
    topic_device,
)
from homesim.devices.bus.snapshot import (
    SNAPSHOT_VERSION,
    SnapshotError,
    list_snapshots,
    read_snapshot,
    write_snapshot,
)
from homesim.devices.kinds.base import InvalidArgument, NotAuthorized, NotRunning
from homesim.schemas.manifest import Home

log = logging.getLogger("homesim.clock")

__all__ = ["Clock", "window_ticks", "speed_factor", "MAX_WINDOW_TICKS", "PACED_WINDOW_WALL",
           "FINISHED_MARKER"]

#: In a snapshot folder: the run is over (recovery in place does not run it again).
FINISHED_MARKER = "finished.json"
#: A window's wait ended because the home is being recovered (not a settle or a failure).
_RECOVER = object()


class Clock:
    """Lockstep clock of one run (see module docstring).

    A thin adapter: the window logic is :class:`~homesim.devices.bus.protocol.ClockProtocol`;
    this class waits for the devices to join, sleeps for pacing, arms the timeout, publishes
    and writes progress to stdout.
    """

    def __init__(self, home: Home, run_id: str, start: float, dt: float, ticks: int,
                 speed: str, timeout: float, window: int | None = None,
                 startup_timeout: float = 120.0, emit: Any = None,
                 snapshot_every: int = 0, snapshot_dir: Path | None = None,
                 restore: dict[str, Any] | None = None, recover_in_place: bool = False,
                 max_recoveries: int = 10) -> None:
        self.home = home
        self.startup_timeout = startup_timeout
        self.protocol = ClockProtocol([d.name for d in home.spec.enabled()], run_id, start,
                                      dt, ticks, speed, timeout, window,
                                      wall0=time.monotonic())
        #: a snapshot every this many windows into snapshot_dir (0: none)
        self.snapshot_every = snapshot_every if snapshot_dir is not None else 0
        self.snapshot_dir = snapshot_dir
        self.snapshots = 0
        self._snapshot_asked = False
        self._snapshot_waiters: list[defer.Deferred] = []
        self._paused_at_boundary = False
        #: live forks (homesim.clock.fork): the homesim command line to run them with, or
        #: None (not allowed: e.g. in Kubernetes, where a fork is a Home of its own)
        self.fork_command: list[str] | None = None
        self.forks = 0
        self._forks_running: set[defer.Deferred] = set()  # a fork is a child of the clock
        if restore is not None:  # continue where the snapshot was taken
            self.protocol.window = int(restore["window"])
            self.protocol.tick = int(restore["tick"])
            self.protocol.energy = {str(k): float(v)
                                    for k, v in dict(restore.get("energy", {})).items()}
        #: the run loop waits here for the next window to close (or the run to end)
        self._waiting: defer.Deferred | None = None
        #: outcomes (WindowClosed, RunFinished) that came while the loop was not waiting
        self._outcomes: list[Any] = []
        #: open windows: window -> (its timeout, when it was published [monotonic s])
        self._open: dict[int, tuple[Any, float]] = {}
        self._resume: defer.Deferred | None = None
        self._last_emit = 0.0
        self._emit = emit or (lambda obj: print(json.dumps(obj), flush=True))
        self.bus: Bus | None = None
        self._started = False
        self.metrics = ClockMetrics(home.metadata.name)
        self.metrics.set_speed(speed_factor(self.protocol.speed))
        self.metrics.sim_time.set(start)
        # ---- recovery in place (module docstring)
        self.recover_in_place = recover_in_place
        self.max_recoveries = max_recoveries
        self.recoveries = 0
        self.epoch = ""
        self._genesis = restore  # where the run began (None: its first window)
        self._point: dict[str, Any] | None = restore  # what the current epoch starts from
        self._joined: set[str] = set()
        self._gathering = False
        self._recover_reason = "start"
        self._finished_doc: dict[str, Any] | None = None
        if recover_in_place:
            marker = snapshot_dir / FINISHED_MARKER if snapshot_dir is not None else None
            if marker is not None and marker.exists():
                self._finished_doc = json.loads(marker.read_text())
            self._new_epoch("clock started")

    @property
    def state(self) -> str:
        return self.protocol.state

    # ---------------------------------------------------------------- status
    def status(self) -> dict[str, Any]:
        return self.protocol.status(time.monotonic())

    def _control(self, action: Publish) -> dict[str, Any]:
        if self.bus is not None:
            self.bus.publish(action.topic, action.payload)
        return action.payload

    # ---------------------------------------------------------------- RPCs
    def rpc_pause(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        st = self._control(self.protocol.pause(time.monotonic()))
        self.metrics.paused.set(1 if self.protocol.state == "paused" else 0)
        return st

    def rpc_resume(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        st = self._control(self.protocol.resume(time.monotonic()))
        if self.protocol.state != "paused":
            self.metrics.paused.set(0)
            d, self._resume = self._resume, None
            if d is not None:
                reactor.callLater(0, d.callback, None)
        return st

    def rpc_set_speed(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        (speed,) = rpc_args(args, kwargs, "speed")
        action = self.protocol.set_speed(str(speed), time.monotonic())
        self.metrics.set_speed(speed_factor(self.protocol.speed))
        return self._control(action)

    def rpc_status(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return self.status()

    def rpc_snapshot(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Ask for a home snapshot at the next window boundary (manager)."""
        if self.snapshot_dir is None:
            raise NotRunning("this run keeps no snapshots (no snapshot folder)")
        self.snapshot_soon().addErrback(lambda f: None)
        return {"scheduled": True, "after_window": self.protocol.window,
                "folder": str(self.snapshot_dir)}

    @defer.inlineCallbacks
    def rpc_fork(self, *args: Any, **kwargs: Any) -> Any:
        """``homesim.clock.fork(set=[DEVICE.PROPERTY=VALUE, ...], until=None)`` (manager):
        snapshot the running home at the next window boundary and run its future with the
        changes, at speed max, as a run of its own (``RUN_DIR/forks/<fork_id>``). Replies
        once the snapshot is taken with ``{"fork_id", "out", "snapshot"}``; the fork's end
        is published on ``homesim.clock.forked`` with its summary.

        Raises
        ------
        NotRunning
            If this run cannot fork (no snapshot folder, or not run by ``homesim run``).
        InvalidArgument
            If ``set`` is not a list of ``DEVICE.PROPERTY=VALUE`` strings or ``until`` is not
            a string.
        """
        sets = kwargs.get("set", args[0] if args else [])
        until = kwargs.get("until", args[1] if len(args) > 1 else None)
        if not isinstance(sets, list) or not all(
                isinstance(x, str) and "=" in x and len(x) <= 1000 for x in sets) \
                or len(sets) > 100:
            raise InvalidArgument("set must be a list of DEVICE.PROPERTY=VALUE strings",
                                  field="set")
        if until is not None and not (isinstance(until, str) and len(until) <= 64):
            raise InvalidArgument("until must be a duration such as 30d", field="until")
        if self.snapshot_dir is None or self.fork_command is None:
            raise NotRunning("live forks need a run of homesim run with snapshots")
        snap = yield self.snapshot_soon()
        self.forks += 1
        fork_id = f"fork-{self.protocol.window:07d}-{self.forks}"
        out = Path(self.snapshot_dir).parent / "forks" / fork_id
        cmd = [*self.fork_command, "fork", str(Path(self.snapshot_dir).parent), "--snapshot",
               str(snap), "--out", str(out), "--json", "-q", "--no-report", "--speed", "max",
               # the clock holds no database credentials (least privilege): a live fork of
               # a run booked in PostgreSQL books into FORK_DIR/ledger.sqlite
               "--ledger", "sqlite"]
        for x in sets:
            cmd += ["--set", x]
        if until:
            cmd += ["--until", until]
        d = utils.getProcessOutputAndValue(cmd[0], cmd[1:], env=dict(os.environ))
        self._forks_running.add(d)

        def done(res: Any) -> None:
            stdout, stderr, code = res
            try:
                summary = json.loads((out / "summary.json").read_text())
            except (OSError, ValueError):
                summary = None
            msg = {"fork_id": fork_id, "out": str(out), "ok": code == 0,
                   "summary": summary if isinstance(summary, dict) else None,
                   "error": None if code == 0 else stderr.decode(errors="replace")[-2000:]}
            if self.bus is not None:
                self.bus.publish(T.CLOCK_FORKED, msg)
            self._emit({"event": "forked", **{k: v for k, v in msg.items()
                                              if k != "summary"}})

        d.addCallbacks(done, lambda f: log.warning("fork %s failed: %s", fork_id, f))
        d.addBoth(lambda _: self._forks_running.discard(d))
        return {"fork_id": fork_id, "out": str(out), "snapshot": str(snap)}

    # ---------------------------------------------------------------- recovery in place
    def _latest_point(self) -> dict[str, Any] | None:
        """The latest snapshot of this run in the snapshot folder, else where it began."""
        if self.snapshot_dir is not None:
            for _, path in reversed(list_snapshots(self.snapshot_dir)):
                try:
                    doc = read_snapshot(path)
                except SnapshotError as exc:
                    log.warning("skipping snapshot %s: %s", path, exc)
                    continue
                if doc.get("run") == self.protocol.run_id:
                    return doc
        return self._genesis

    def _new_epoch(self, reason: str) -> None:
        """Begin a recovery epoch from the latest point; everybody must join it again."""
        self.epoch = uuid.uuid4().hex[:16]
        self._point = self._latest_point()
        self._joined = set()
        self._gathering = True
        self._recover_reason = reason

    def _recover_msg(self) -> dict[str, Any]:
        pt = self._point
        return {"epoch": self.epoch, "window": int(pt["window"]) if pt else 0,
                "tick": int(pt["tick"]) if pt else 0, "reason": self._recover_reason}

    def begin_recovery(self, reason: str) -> None:
        """A process restarted or a window timed out: roll the home back (a new epoch)."""
        if self._gathering or self.protocol.state in ("finished", "failed"):
            return
        self.recoveries += 1
        log.warning("recovering the home (%d): %s", self.recoveries, reason)
        self._new_epoch(reason)
        if self.bus is not None:
            self.bus.publish(T.CLOCK_RECOVER, self._recover_msg())
        self._emit({"event": "recovering", **self._recover_msg()})
        self._outcomes.clear()
        for timer, _ in self._open.values():
            if timer.active():
                timer.cancel()
        self._open.clear()
        waiting, self._waiting = self._waiting, None
        if waiting is not None:  # the open windows will not close: stop waiting for them
            waiting.callback(_RECOVER)
        resume, self._resume = self._resume, None
        if resume is not None:
            reactor.callLater(0, resume.callback, None)

    def rpc_join(self, *args: Any, caller_role: str | None = None,
                 **kwargs: Any) -> dict[str, Any]:
        """``homesim.clock.join(name)`` (each device and the ledger, as themselves): where
        to begin. Replies ``{"epoch", "status": "fresh" | "restore" | "finished", "window",
        "tick", "manifest", "state"}``.

        Raises
        ------
        NotAuthorized
            If the caller's role is not that device's (or the ledger's).
        InvalidArgument
            If ``name`` is not a process of this run.
        NotRunning
            If this clock does not recover in place.
        """
        (name,) = rpc_args(args, kwargs, "name")
        if not isinstance(name, str) or name not in self.protocol.expected:
            raise InvalidArgument(f"{name!r} is not a process of this run", field="name")
        own = "ledger" if name == "ledger" else f"device.{name}"
        if caller_role is not None and caller_role != own:
            raise NotAuthorized(f"role {caller_role!r} may not join as {name!r}")
        if not self.recover_in_place:
            raise NotRunning("this clock does not recover in place")
        p = self.protocol
        if self._finished_doc is not None:  # where the run ended (the ledger reads back)
            end = self._finished_doc.get("status", {})
            return {"epoch": self.epoch, "status": "finished",
                    "window": int(end.get("window", p.window)),
                    "tick": int(end.get("tick", p.tick)), "manifest": None, "state": None}
        if not self._gathering:  # the run is under way: this process was restarted
            self.begin_recovery(f"{name} (re)started")
        self._joined.add(name)
        pt = self._point
        if pt is None:
            return {"epoch": self.epoch, "status": "fresh", "window": 0, "tick": 0,
                    "manifest": None, "state": None}
        saved = pt["devices"].get(name, {}).get("state") if name != "ledger" else None
        return {"epoch": self.epoch, "status": "restore", "window": int(pt["window"]),
                "tick": int(pt["tick"]), "manifest": pt["manifest"], "state": saved}

    @defer.inlineCallbacks
    def _gather(self) -> Any:
        """Wait until every process has joined this epoch (publishing the epoch every 2 s
        for processes of an older one), then rewind to its point."""
        p = self.protocol
        deadline = time.monotonic() + self.startup_timeout
        published = 0.0
        while True:
            missing = [n for n in p.expected if n not in self._joined]
            if not missing:
                break
            now = time.monotonic()
            if now > deadline:
                raise RuntimeError(f"{', '.join(missing)} did not join the recovery "
                                   f"within {self.startup_timeout:.0f} s")
            if now - published > 2.0:
                self.bus.publish(T.CLOCK_RECOVER, self._recover_msg())
                published = now
            yield task.deferLater(reactor, 0.05, lambda: None)
        if self.recoveries > self.max_recoveries:
            raise RuntimeError(f"gave up after {self.max_recoveries} recoveries "
                               f"(last: {self._recover_reason})")
        pt = self._point
        p.rewind(int(pt["window"]) if pt else 0, int(pt["tick"]) if pt else 0,
                 dict(pt.get("energy", {})) if pt else {}, time.monotonic())
        self._gathering = False
        self._emit({"event": "recovered", **self._recover_msg()})

    # ---------------------------------------------------------------- bus
    def on_join(self, bus: Bus) -> Any:
        if self._started and self.recover_in_place:
            # the session was lost (a router restart): what was in flight is gone; the
            # restarted clock recovers the home from its latest snapshot
            from homesim.devices.bus.inplace import leave

            leave("the session to the router was lost")
        self.bus = bus
        feed = self._feed
        ds = [bus.subscribe(T.SETTLE, lambda m: feed(SettleReceived(m)),
                            sender=claimed("device")),
              bus.subscribe(T.PACKETS_PREFIX, lambda m: feed(PacketsReceived(m)),
                            match="prefix", sender=packet_sender),
              bus.subscribe(T.ALL_REPORTS, lambda m: feed(ReportReceived(m)), match="wildcard",
                            sender=topic_device),
              bus.register(T.CLOCK_PAUSE, self.rpc_pause),
              bus.register(T.CLOCK_RESUME, self.rpc_resume),
              bus.register(T.CLOCK_SET_SPEED, self.rpc_set_speed),
              bus.register(T.CLOCK_STATUS, self.rpc_status),
              bus.register(T.CLOCK_SNAPSHOT, self.rpc_snapshot),
              bus.register(T.CLOCK_FORK, self.rpc_fork),
              bus.register(T.CLOCK_JOIN, self.rpc_join, with_caller=True)]
        d = defer.gatherResults(ds, consumeErrors=True)
        if not self._started:
            self._started = True
            d.addCallback(lambda _: self.run())
        return d

    def _feed(self, event: Any) -> None:
        self._execute(self.protocol.handle(event))

    def _execute(self, actions: list[ClockAction]) -> None:
        for action in actions:
            if isinstance(action, Publish):
                if self.bus is not None:
                    self.bus.publish(action.topic, action.payload)
            elif self._waiting is not None:  # WindowClosed / RunFinished: for the run loop
                d, self._waiting = self._waiting, None
                d.callback(action)
            else:
                self._outcomes.append(action)

    def _on_timeout(self, win: int) -> None:
        if self.recover_in_place and self.recoveries < self.max_recoveries \
                and win in self._open and not self._gathering:
            self.begin_recovery(f"window {win} timed out")
            return
        self._execute(self.protocol.timed_out(win))

    # ---------------------------------------------------------------- run
    @defer.inlineCallbacks
    def _wait_ready(self) -> Any:
        deadline = time.monotonic() + self.startup_timeout
        pending = list(self.protocol.expected)
        while pending:
            still = []
            for name in pending:
                uri = T.LEDGER_STATUS if name == "ledger" else T.rpc(name, "describe")
                try:
                    reply = yield self.bus.call(uri)
                except ApplicationError as exc:
                    if exc.error == "wamp.error.not_authorized":  # a wrong router config
                        raise RuntimeError(f"the clock may not call {uri}: {exc}") from None
                    still.append(name)  # not registered yet
                    continue
                except Exception:  # noqa: BLE001 - not registered yet
                    still.append(name)
                    continue
                if name != "ledger":
                    inputs = reply.get("inputs", []) if isinstance(reply, dict) else []
                    self.protocol.joined(name, inputs or [])
            pending = still
            if pending:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"device(s) {', '.join(pending)} did not join within "
                        f"{self.startup_timeout:.0f} s")
                yield task.deferLater(reactor, 0.1, lambda: None)

    @staticmethod
    def _sleep(delay: float) -> defer.Deferred:
        if delay > 0:
            return task.deferLater(reactor, delay, lambda: None)
        return defer.succeed(None)

    @defer.inlineCallbacks
    def run(self) -> Any:
        p = self.protocol
        try:
            if self._finished_doc is not None:
                log.info("this run is over (%s): nothing to do", FINISHED_MARKER)
                return
            if self.recover_in_place:
                yield self._gather()
            yield self._wait_ready()
            self._control(p.begin(time.monotonic()))
            while True:
                if self._gathering:  # recovery in place: everybody joins, then go on
                    yield self._gather()
                    yield self._wait_ready()
                    continue
                if p.open:  # windows in flight: wait for the oldest to close
                    outcome = yield self._next_outcome()
                    if outcome is _RECOVER:
                        continue
                    if isinstance(outcome, RunFinished):
                        self._finish(outcome)
                        return
                    self._closed(outcome)
                    if self.snapshot_every and p.window % self.snapshot_every == 0:
                        self._snapshot_asked = True
                    if p.open:  # the next window is under way (max speed): keep it fed
                        self._progress()
                        self._open_more()
                        continue
                    # between windows: the boundary's work first (snapshot, progress), then
                    # pace its end: whatever the boundary costs is not added to the next
                    # window's opening
                    yield self._boundary()
                    self._progress()
                    yield self._sleep(p.pacing_delay(time.monotonic()))
                    continue
                if p.state == "paused":
                    self._resume = defer.Deferred()
                    self._paused_at_boundary = True
                    yield self._resume
                    self._paused_at_boundary = False
                    continue
                if p.tick < p.ticks_total:  # pace the start of the window
                    yield self._sleep(p.pacing_delay(time.monotonic()))
                    if p.state == "paused" or self._gathering:
                        continue
                action = p.next_window()
                if isinstance(action, RunFinished):
                    self._finish(action)
                    return
                if action is None:
                    raise RuntimeError(f"clock is {p.state}, cannot open a window")
                self._publish_window(action)
                self._open_more()
        except Exception as exc:  # noqa: BLE001
            if self.recover_in_place and isinstance(exc, TransportLost):
                from homesim.devices.bus.inplace import leave

                leave("the session to the router was lost")
            log.exception("clock failed")
            self._finish(p.abort(str(exc)))

    def _publish_window(self, action: Publish) -> None:
        """Publish a window message and arm its timeout."""
        win = int(action.payload["window"])
        timer = reactor.callLater(self.protocol.timeout, self._on_timeout, win)
        self._open[win] = (timer, time.monotonic())
        self.bus.publish(action.topic, action.payload)

    def _open_more(self) -> None:
        """Open further windows while the protocol allows (:data:`WINDOWS_IN_FLIGHT` at
        ``max``), unless the boundary before the next one has work that needs every window
        closed (a snapshot) or the home is being recovered."""
        p = self.protocol
        while p.open and not self._gathering and not self._snapshot_asked and not (
                self.snapshot_every and p.next_index() % self.snapshot_every == 0):
            action = p.next_window()
            if not isinstance(action, Publish):
                return
            self._publish_window(action)

    def _next_outcome(self) -> defer.Deferred:
        """A Deferred firing with the next WindowClosed / RunFinished (or _RECOVER)."""
        if self._outcomes:
            return defer.succeed(self._outcomes.pop(0))
        self._waiting = defer.Deferred()
        return self._waiting

    def _closed(self, outcome: WindowClosed) -> None:
        timer, published = self._open.pop(outcome.window, (None, None))
        if timer is not None and timer.active():
            timer.cancel()
        if published is not None:
            p = self.protocol
            self.metrics.window(outcome.n, p.start + p.tick * p.dt,
                                time.monotonic() - published)

    @defer.inlineCallbacks
    def _boundary(self) -> Any:
        """Between two windows: take the snapshot asked for (periodic or on demand) and
        give its path to whoever waits for it (a live fork); never fails the run."""
        p = self.protocol
        if not self._snapshot_asked or self.snapshot_dir is None or p.tick >= p.ticks_total:
            return None
        self._snapshot_asked = False
        waiting, self._snapshot_waiters = self._snapshot_waiters, []
        try:
            path = yield self.take_snapshot()
        except Exception as exc:  # noqa: BLE001 - a snapshot never fails a run
            log.warning("snapshot at window %d failed: %s", p.window, exc)
            self._emit({"event": "snapshot_failed", "window": p.window, "reason": str(exc)})
            for d in waiting:
                d.errback(exc)
            return None
        for d in waiting:
            d.callback(path)
        return path

    def snapshot_soon(self) -> defer.Deferred:
        """A Deferred firing with the path of a snapshot taken at the next window boundary
        (at once if the clock is paused between windows)."""
        d: defer.Deferred = defer.Deferred()
        self._snapshot_waiters.append(d)
        self._snapshot_asked = True
        if self._paused_at_boundary:
            reactor.callLater(0, self._boundary)
        return d

    @defer.inlineCallbacks
    def take_snapshot(self) -> Any:
        """Snapshot every device and the ledger now (between two windows) into
        ``snapshot_dir`` (see :mod:`homesim.devices.bus.snapshot`); the path."""
        p = self.protocol
        names = list(p.devices)
        assert self.bus is not None and self.snapshot_dir is not None
        t0 = time.monotonic()
        replies = yield defer.gatherResults(
            [self.bus.call(T.rpc(n, "snapshot")) for n in names]
            + [self.bus.call(T.LEDGER_SNAPSHOT)], consumeErrors=True)
        devices = {}
        manifest = self.home.model_dump(mode="json")
        by_name = {d["name"]: d for d in manifest["spec"]["devices"]}
        for n, rep in zip(names, replies, strict=False):
            if not isinstance(rep, dict) or "saved" not in rep:
                raise RuntimeError(f"snapshot of {n}: no saved state in its reply")
            devices[n] = {"kind": rep["kind"], "properties": rep["properties"],
                          "state": rep["saved"]}
            by_name[n]["properties"] = rep["properties"]
        doc = {"version": SNAPSHOT_VERSION, "run": p.run_id,
               "home": self.home.metadata.name, "window": p.window, "tick": p.tick,
               "sim_time": p.start + p.tick * p.dt, "speed": p.speed,
               "energy": dict(p.energy), "manifest": manifest, "devices": devices,
               "ledger": replies[-1]}
        path = write_snapshot(self.snapshot_dir, doc)
        self.snapshots += 1
        self._emit({"event": "snapshot", "path": str(path), "window": p.window,
                    "tick": p.tick, "seconds": time.monotonic() - t0,
                    "bytes": path.stat().st_size})
        return path

    def _progress(self) -> None:
        p = self.protocol
        now = time.monotonic()
        if now - self._last_emit < 0.2 and p.tick < p.ticks_total:
            return
        self._last_emit = now
        st = p.status(now)
        self.bus.publish(T.PROGRESS, st)
        self._emit({"event": "progress", **st})

    def _finish(self, result: RunFinished) -> None:
        msg = self.protocol.finished_message(result, time.monotonic())
        if self.recover_in_place and result.ok and self.snapshot_dir is not None:
            self._finished_doc = msg  # a restarted clock must not run it again
            write_snapshot_marker(self.snapshot_dir / FINISHED_MARKER, msg)
        if self.bus is not None:
            self.bus.publish(T.FINISHED, msg)
        self._emit({"event": "finished", **msg})
        if self._forks_running:  # a live fork outlives the run it forked from
            log.info("run over; waiting for %d fork(s) to finish", len(self._forks_running))
            defer.DeferredList(list(self._forks_running)).addBoth(
                lambda _: after_finish(0.5))
            return
        after_finish(0.5)


def write_snapshot_marker(path: Path, doc: dict[str, Any]) -> None:
    """Write ``doc`` to ``path`` (0600) atomically."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(doc, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
