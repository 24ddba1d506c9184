"""The lockstep protocol without I/O: a device's and the clock's window logic as plain classes.

In the style of h11/wsproto: an adapter (``runtime.DeviceRunner``, ``clock.Clock``) turns bus
messages into *events*, feeds them to a protocol object and executes the *actions* it returns
(publish a message, update metrics, stop after the run). Nothing here does I/O, reads the
wall clock or knows Twisted/autobahn, so every rule of ``docs/architecture.md`` ("Time:
lockstep windows") can be tested by calling these classes directly.

* :class:`DeviceProtocol` — one device through windows: wait for the reports of its inputs,
  report (phase 1); the balancer waits for every bus report and balances; a device with
  packet publishers waits for all of them and settles (phase 2). Property changes (``set``)
  take effect at the next window boundary.
* :class:`ClockProtocol` — which devices must settle a window, when the next window may be
  opened and how big it is, pause / resume / speed changes at window boundaries, failures
  (an ``error`` settle, a timeout naming the silent devices).

Incoming messages are validated; a malformed message is logged and ignored (no action, no
exception), and so are messages for windows already settled or forgotten, duplicates and
messages from devices this one does not listen to.
"""

from __future__ import annotations

import logging
import math
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeAlias

import numpy as np
from pydantic import BaseModel, ValidationError

from homesim.devices.kinds.base import (
    DeviceShell,
    Flow,
    FlowKey,
    InvalidArgument,
    SettleResult,
    Window,
)
from homesim.schemas.generated.messages import (
    ClockFinished,
    ClockStatus,
    ClockWindow,
    DeviceReport,
    JoulePackets,
    SetSpeedRequest,
    Settle,
)
from homesim.schemas.registry import REGISTRY as _REGISTRY
from homesim.schemas.reports import KindReport, ReportError
from homesim.schemas.topics import CLOCK_AUTHID, RESIDENT_ROLE_PREFIX, T
from homesim.schemas.wire import pack, unpack

log = logging.getLogger("homesim.protocol")

#: At most this many tick ranges are kept per sender for a window that has not opened yet.
EARLY_CANDIDATES = 4
#: The most ticks a window message may announce: beyond it one array of the window would
#: not fit the router's 16 MiB message limit (8 B per value), so it cannot be a real window.
MAX_WINDOW_N = 1_000_000

__all__ = [
    "CLOCK_AUTHID", "RESIDENT_ROLE_PREFIX", "T", "MAX_WINDOW_TICKS", "PACED_WINDOW_WALL",
    "WINDOWS_IN_FLIGHT",
    "window_ticks", "speed_factor", "parse_speed",
    "validate_packets", "encode_report", "decode_report",
    "WindowOpened", "ReportReceived", "PacketsReceived", "ControlReceived", "Finished",
    "SettleReceived", "Publish", "WindowSettled", "RunEnded", "WindowClosed", "RunFinished",
    "DeviceEvent", "DeviceAction", "ClockEvent", "ClockAction", "DeviceProtocol",
    "ClockProtocol",
]


# T, CLOCK_AUTHID and RESIDENT_ROLE_PREFIX live in homesim.schemas.topics (re-exported).


# ------------------------------------------------------------------------------ speed

MAX_WINDOW_TICKS = 2880
PACED_WINDOW_WALL = 0.5  # [s] a paced window lasts at most this long in wall time
#: Windows the clock keeps open at once at ``max`` speed: window ``w + 1`` is published while
#: ``w`` settles, so a device that has settled ``w`` starts ``w + 1`` at once instead of
#: waiting for the slowest device, the ledger and the clock (every device and the ledger
#: still process windows strictly in order, so results are the same). Paced speeds keep
#: one window open.
WINDOWS_IN_FLIGHT = 2


def window_ticks(speed: str, dt: float, window: int | None = None) -> int:
    """Ticks per window for a speed: 1 at realtime, ≤ 0.5 s of wall time at ``Nx``, a day at max.

    ``window`` (if given) overrides the ``max`` choice; it is also the upper bound otherwise.

    Raises
    ------
    ValueError
        If ``dt`` is not a finite positive number or ``speed`` is not a valid speed.
    """
    if not (math.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a finite number > 0, not {dt!r}")
    day = max(1, min(MAX_WINDOW_TICKS, int(round(86400.0 / dt))))
    cap = window or day
    factor = speed_factor(speed)
    if factor is None:
        return cap
    if speed == "realtime":
        return 1
    return max(1, min(cap, int(math.floor(factor * PACED_WINDOW_WALL / dt))))


def speed_factor(speed: str, lo: float = 0.01, hi: float = 1e6) -> float | None:
    """Sim seconds per wall second; None for ``max``.

    Raises
    ------
    ValueError
        If ``speed`` is not ``realtime``, ``max`` or ``Nx`` with a finite ``lo ≤ N ≤ hi``
        (0.01 … 1e6: ``0x`` would divide by zero, ``1e309x`` is infinite, ``0.000001x``
        would freeze the run).
    """
    if speed == "max":
        return None
    if speed == "realtime":
        return 1.0
    text = str(speed)
    if len(text) > 32 or not text.endswith("x"):
        raise ValueError(f"invalid speed {text[:40]!r}: use realtime, max or e.g. 60x")
    try:
        factor = float(text[:-1])
    except ValueError:
        raise ValueError(f"invalid speed {text!r}: use realtime, max or e.g. 60x") from None
    if not (math.isfinite(factor) and lo <= factor <= hi):
        raise ValueError(f"invalid speed {text!r}: the factor must be between {lo:g} and {hi:g}")
    return factor


def parse_speed(speed: str) -> str:
    """Validate a speed string (``realtime``, ``max``, ``60x`` with 0.01 ≤ N ≤ 1e6).

    Raises
    ------
    pydantic.ValidationError
        If the text does not match the contract's ``Speed`` pattern.
    ValueError
        If the factor is out of range (see :func:`speed_factor`).
    """
    text = SetSpeedRequest(speed=speed).speed
    speed_factor(text)
    return text


# ------------------------------------------------------------------------------ messages


def validate_packets(msg: Any) -> tuple[JoulePackets, list[np.ndarray]]:
    """Validate a ``JoulePackets`` message; return it and each flow's joules as an array.

    The envelope is validated by the generated model (strict types: a window given as a
    string is refused); the (long) joules arrays by numpy with the contract's rules (``n``
    numbers, finite, ≥ 0): the same check, ~100x faster than per-element pydantic validation.

    Raises
    ------
    pydantic.ValidationError, ValueError
    """
    if not isinstance(msg, dict):
        raise ValueError("a packet message must be an object")
    flows = msg.get("flows")
    if not isinstance(flows, list):
        raise ValueError("flows must be a list")
    light = {**msg, "flows": [{**f, "joules": []} if isinstance(f, dict) else f
                              for f in flows]}
    pk = JoulePackets.model_validate(light, strict=True)
    arrays = []
    for f in flows:
        name = f"flow {f.get('source')}->{f.get('sink')}"
        try:
            j = unpack(f.get("joules"))
        except ValueError as exc:
            raise ValueError(f"{name}: joules: {exc}") from None
        if j.shape != (pk.n,) or not np.all(np.isfinite(j)) or np.any(j < 0):
            raise ValueError(f"{name}: joules must be {pk.n} finite values ≥ 0")
        arrays.append(j)
    return pk, arrays


def encode_report(window: Window, device: str, kind: str,
                  out: KindReport) -> tuple[dict[str, Any], KindReport]:
    """The ``homesim.device.<id>.report`` payload of a shell's typed report ``out``, and the
    report as checked against the kind's schema (what the device itself balances).

    Raises
    ------
    ReportError
        If the report does not match its kind's schema (names the device and the field).
    """
    if not isinstance(out, _REGISTRY.report_type(kind)):
        raise ReportError(device, "(report)", f"a {kind} reports a "
                          f"{_REGISTRY.report_type(kind).__name__}, not {type(out).__name__}")
    wire = out.to_wire()
    checked = type(out).from_wire(wire, window.n, device)
    payload: dict[str, Any] = {"run": window.run, "window": window.window,
                               "tick0": window.tick0, "n": window.n, "device": device,
                               "kind": kind, **wire}
    return payload, checked


def decode_report(msg: Any) -> tuple[int, str, KindReport]:
    """``(window, device, report)`` of a report message: the envelope checked by the
    generated ``DeviceReport`` model, the body by the kind's typed report.

    Raises
    ------
    pydantic.ValidationError
        If the envelope is malformed.
    ReportError
        If the body does not match the kind's schema (names the device and the field).
    """
    rep = DeviceReport.model_validate(msg, strict=True)
    if rep.kind not in _REGISTRY:
        raise ValueError(f"report of {rep.device}: unknown kind {rep.kind!r}")
    typed = _REGISTRY.report_type(rep.kind)
    return rep.window, rep.device, typed.from_wire(msg, rep.n, rep.device)


def _why(exc: Exception) -> str:
    """A one-line reason of a validation failure."""
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}"
                         for e in exc.errors()[:3])
    return str(exc)


def _parse(model: type[BaseModel], msg: Any, what: str) -> Any:
    """``model`` validated strictly from ``msg``, or None (logged) if it is malformed."""
    try:
        return model.model_validate(msg, strict=True)
    except ValidationError as exc:
        log.warning("ignored invalid %s: %s", what, _why(exc))
        return None


# ------------------------------------------------------------------------------ events


@dataclass(frozen=True)
class WindowOpened:
    """``homesim.clock.window`` arrived; ``at``: when (any monotonic clock; for metrics)."""

    msg: Any
    at: float | None = None


@dataclass(frozen=True)
class ReportReceived:
    """A ``homesim.device.<id>.report`` arrived."""

    msg: Any


@dataclass(frozen=True)
class PacketsReceived:
    """A ``homesim.packets.<publisher>`` message arrived."""

    msg: Any


@dataclass(frozen=True)
class ControlReceived:
    """A ``homesim.clock.control`` status arrived."""

    msg: Any


@dataclass(frozen=True)
class Finished:
    """``homesim.clock.finished`` arrived: the run is over."""

    msg: Any


@dataclass(frozen=True)
class SettleReceived:
    """A ``homesim.settle`` arrived (clock)."""

    msg: Any


# ------------------------------------------------------------------------------ actions


@dataclass(frozen=True)
class Publish:
    """Publish ``payload`` on ``topic``."""

    topic: str
    payload: dict[str, Any]


@dataclass(frozen=True, eq=False)
class WindowSettled:
    """The device settled ``window``: ``flows`` every flow it saw (its own included),
    ``result`` the shell's settle result, ``opened_at`` the ``at`` of its ``WindowOpened``
    (for the settle-lag metric)."""

    window: Window
    flows: dict[FlowKey, np.ndarray]
    result: SettleResult
    opened_at: float | None


@dataclass(frozen=True)
class RunEnded:
    """The clock finished the run (``ok``: completed); the process may stop."""

    ok: bool


@dataclass(frozen=True)
class WindowClosed:
    """Every device and the ledger settled ``window`` of ``n`` ticks; ``tick`` ticks are done."""

    window: int
    n: int
    tick: int


@dataclass(frozen=True)
class RunFinished:
    """The run ended: completed (``ok``) or failed with ``message`` naming ``missing``."""

    ok: bool
    message: str
    missing: tuple[str, ...] = ()


DeviceEvent: TypeAlias = (WindowOpened | ReportReceived | PacketsReceived | ControlReceived
                          | Finished)
DeviceAction: TypeAlias = Publish | WindowSettled | RunEnded
ClockEvent: TypeAlias = SettleReceived | ReportReceived | PacketsReceived
ClockAction: TypeAlias = Publish | WindowClosed | RunFinished


# ------------------------------------------------------------------------------ device


class _Packets(NamedTuple):
    """One publisher's packet message for a window, reduced to the flows of this device."""

    tick0: int
    n: int
    flows: dict[FlowKey, np.ndarray]


class DeviceProtocol:
    """One device shell through the lockstep windows (see the module docstring).

    ``handle(event)`` returns the actions to execute, in order. Windows are processed in
    order: a window's phases run only once every earlier window is settled. The last three
    windows are remembered; messages for older ones are late and ignored.
    """

    def __init__(self, shell: DeviceShell) -> None:
        self.shell = shell
        self.name = shell.name
        #: (balancer) the devices whose reports it balances
        self.bus_devices: list[str] = shell.balanced_devices() if shell.balancer else []
        self._kinds = {d.name: d.kind for d in shell.home.spec.devices}
        #: messages that arrived before their window: (what, window, sender) -> ticks -> value
        self._early: dict[tuple[str, int, str], dict[tuple[int, int], Any]] = {}
        #: devices whose packet messages this device waits for before it settles
        self.publishers: frozenset[str] = frozenset(shell.packet_publishers())
        sources = set(shell.inputs()) | set(self.bus_devices)
        #: devices whose reports this device reads (the adapter subscribes to them)
        self.sources: frozenset[str] = frozenset(sources)
        self.windows: dict[int, Window] = {}
        self.reports: dict[int, dict[str, Any]] = {}  # window -> device -> decoded report
        self.reported: set[int] = set()
        self.settled: set[int] = set()
        self.own_packets: dict[int, int] = {}  # window -> packet messages published in report
        self.pending_props: BaseModel | None = None
        #: properties set before a window opened, applied when that window begins (its
        #: earlier windows settled): window -> the properties
        self._props_at: dict[int, BaseModel] = {}
        self.clock_view: dict[str, Any] = {"state": "starting", "speed": "", "window": -1,
                                           "sim_time": None}
        self.finished = False
        self.last_window = -1  # highest window opened
        self.floor = 0  # windows below are forgotten
        self.start_tick: int | None = None  # the first window's tick0 after a restore
        #: window -> publisher -> the flows of its packet message that concern this device
        self.packets: dict[int, dict[str, _Packets]] = {}
        self._opened_at: dict[int, float | None] = {}
        self._own_flows: dict[int, list[Flow]] = {}  # window -> flows we published ourselves

    # -------------------------------------------------------------- events
    def handle(self, event: DeviceEvent) -> list[DeviceAction]:
        """Feed one event; return the actions to execute in order (never raises for a
        malformed message: it is logged and ignored)."""
        out: list[DeviceAction] = []
        if isinstance(event, WindowOpened):
            self._on_window(event, out)
        elif isinstance(event, ReportReceived):
            self._on_report(event.msg, out)
        elif isinstance(event, PacketsReceived):
            self._on_packets(event.msg, out)
        elif isinstance(event, ControlReceived):
            st = _parse(ClockStatus, event.msg, "clock control")
            if st is not None:
                self.clock_view.update(state=st.state, speed=st.speed, sim_time=st.sim_time)
        elif isinstance(event, Finished):
            fin = _parse(ClockFinished, event.msg, "finished message")
            if fin is not None and not self.finished:
                self.finished = True
                self.clock_view["state"] = "finished" if fin.ok else "failed"
                out.append(RunEnded(fin.ok))
        else:
            raise TypeError(f"not a device event: {event!r}")
        return out

    def _on_window(self, event: WindowOpened, out: list[DeviceAction]) -> None:
        cw = _parse(ClockWindow, event.msg, "clock window")
        if cw is None:
            return
        if cw.window <= self.last_window:
            if cw.window >= self.floor:  # a window this device knows
                log.debug("ignored window %d: window %d was opened already", cw.window,
                          self.last_window)
                return
            # lockstep: the clock cannot send a window older than the ones remembered
            # unless it started over (a restarted clock process)
            log.warning("window %d opened after window %d: the clock started over",
                        cw.window, self.last_window)
            self._early.clear()
            if self._props_at:  # staged for a window of the old count: from the next one
                self.pending_props = self.pending_props or self._props_at[max(self._props_at)]
                self._props_at.clear()
            for d in (self.windows, self.reports, self.packets, self._opened_at,
                      self._own_flows, self.own_packets, self.reported, self.settled):
                d.clear()
            self.last_window, self.floor = -1, 0
        elif self.last_window >= 0:
            # lockstep: the clock opens window w+1 right after w, at the tick where w ended,
            # in the same run; anything else (a forged window 10^9, a gap) is not a window
            prev = self.windows.get(self.last_window)
            if cw.window != self.last_window + 1 or (prev is not None and (
                    cw.tick0 != prev.tick0 + prev.n or cw.run != prev.run
                    or cw.dt != prev.dt or cw.start != prev.start)) or (
                    prev is None and self.start_tick is not None
                    and cw.tick0 != self.start_tick):
                log.warning("ignored window %d at tick %d: the next window is %d at tick %s",
                            cw.window, cw.tick0, self.last_window + 1,
                            prev.tick0 + prev.n if prev is not None else "?")
                return
            if cw.n < 1 or cw.n > MAX_WINDOW_N:
                log.warning("ignored window %d of %d ticks", cw.window, cw.n)
                return
        w = Window(run=cw.run, window=cw.window, tick0=cw.tick0, n=cw.n, dt=cw.dt,
                   start=cw.start, speed=cw.speed)
        self.last_window = w.window
        self.windows[w.window] = w
        self._opened_at[w.window] = event.at
        self.clock_view.update(state="running", speed=w.speed, window=w.window,
                               sim_time=w.start + w.tick0 * w.dt)
        self._forget(w.window - 2)
        for key in [k for k in self._early if k[1] == w.window]:  # arrived before it
            what, _, sender = key
            value = self._early.pop(key).get((w.tick0, w.n))
            if value is None:
                log.warning("ignored early %s of %s for window %d: no tick range %d+%d",
                            what, sender, w.window, w.tick0, w.n)
                continue
            target = self.reports if what == "report" else self.packets
            target.setdefault(w.window, {}).setdefault(sender, value)
        if self.pending_props is not None:  # a set before this window applies from it on
            self._props_at[w.window], self.pending_props = self.pending_props, None
        self._pump(out)

    def _forget(self, floor: int) -> None:
        self.floor = max(self.floor, floor)
        for d in (self.windows, self.reports, self.packets, self._opened_at, self._own_flows,
                  self.own_packets):
            for k in [k for k in d if k < self.floor]:
                del d[k]
        self.reported = {k for k in self.reported if k >= self.floor}
        self.settled = {k for k in self.settled if k >= self.floor}
        self._early = {k: v for k, v in self._early.items() if k[1] >= self.floor}

    def _accept(self, win: int, what: str) -> bool:
        """Whether a message for window ``win`` may still matter."""
        if win in self.settled or win < self.floor:
            log.debug("ignored late %s for window %d", what, win)
            return False
        if self.last_window >= 0 and win > self.last_window + 1:
            # the clock opens window w+1 only after this device settled w
            log.warning("ignored %s for window %d: window %d is the last opened", what, win,
                        self.last_window)
            return False
        return True

    def _on_report(self, msg: Any, out: list[DeviceAction]) -> None:
        sender = msg.get("device") if isinstance(msg, dict) else None
        if not isinstance(sender, str) or sender not in self.sources:
            log.debug("ignored report of %r (not an input)", sender)
            return
        if msg.get("kind") != self._kinds.get(sender):
            log.warning("ignored report of %s claiming kind %r", sender, msg.get("kind"))
            return
        try:
            win, device, entry = decode_report(msg)
        except ReportError as exc:
            # a well-addressed report of one of our inputs that breaks its kind's schema
            # fails the window (naming the device and the field) rather than stalling it
            wid = msg.get("window") if isinstance(msg, dict) else None
            w = self.windows.get(wid) if isinstance(wid, int) else None
            if exc.device in self.sources and w is not None and self._accept(w.window, "report"):
                self._fail(w, out, exc)
            else:
                log.warning("ignored invalid report: %s", exc)
            return
        except Exception as exc:  # noqa: BLE001 - a malformed message is ignored
            log.warning("ignored invalid report: %s", _why(exc))
            return
        if device not in self.sources:
            log.debug("ignored report of %s (not an input)", device)
            return
        if not self._accept(win, f"report of {device}"):
            return
        ticks = (msg["tick0"], msg["n"])
        w = self.windows.get(win)
        if w is None:  # before its window: kept per tick range until the window says which
            self._keep_early("report", win, device, ticks, entry)
            return
        if ticks != (w.tick0, w.n):
            log.warning("ignored report of %s for window %d: ticks %d+%d, not %d+%d",
                        device, win, *ticks, w.tick0, w.n)
            return
        got = self.reports.setdefault(win, {})
        if device in got:
            log.debug("ignored duplicate report of %s for window %d", device, win)
            return
        got[device] = entry
        self._pump(out)

    def _on_packets(self, msg: Any, out: list[DeviceAction]) -> None:
        publisher = msg.get("publisher") if isinstance(msg, dict) else None
        if not isinstance(publisher, str):
            log.warning("ignored invalid packet message (no publisher)")
            return
        if publisher not in self.publishers:
            return  # packets this device does not wait for
        try:
            pk, joules = validate_packets(msg)
        except Exception as exc:  # noqa: BLE001 - a malformed message is ignored
            log.warning("ignored invalid packets of %s: %s", publisher, _why(exc))
            return
        if not self._accept(pk.window, f"packets of {publisher}"):
            return
        mine: dict[FlowKey, np.ndarray] = {}
        for f, j in zip(pk.flows, joules, strict=True):
            if f.source == self.name or f.sink == self.name:
                mine[(f.source, f.sink, f.carrier)] = j
        w = self.windows.get(pk.window)
        if w is None:  # before its window: kept per tick range until the window says which
            self._keep_early("packets", pk.window, publisher, (pk.tick0, pk.n),
                             _Packets(pk.tick0, pk.n, mine))
            return
        if (pk.tick0, pk.n) != (w.tick0, w.n):
            log.warning("ignored packets of %s for window %d: ticks %d+%d, not %d+%d",
                        publisher, pk.window, pk.tick0, pk.n, w.tick0, w.n)
            return
        slot = self.packets.setdefault(pk.window, {})
        if publisher in slot:
            log.debug("ignored duplicate packets of %s for window %d", publisher, pk.window)
            return
        slot[publisher] = _Packets(pk.tick0, pk.n, mine)
        self._pump(out)

    def _keep_early(self, what: str, win: int, sender: str, ticks: tuple[int, int],
                    value: Any) -> None:
        """Keep a message that arrived before its window opened, one per tick range (at most
        :data:`EARLY_CANDIDATES` per sender): a forged tick range cannot displace the real
        message, and the window picks the one whose ticks match."""
        cands = self._early.setdefault((what, win, sender), {})
        if ticks in cands:
            log.debug("ignored duplicate early %s of %s for window %d", what, sender, win)
        elif len(cands) >= EARLY_CANDIDATES:
            log.warning("ignored early %s of %s for window %d: %d tick ranges already", what,
                        sender, win, len(cands))
        else:
            cands[ticks] = value

    # -------------------------------------------------------------- RPCs
    def describe(self) -> dict[str, Any]:
        """The ``describe`` reply."""
        return self.shell.describe()

    def get(self, name: str) -> dict[str, Any]:
        """The ``get`` reply; a value set during this window is what it shows.

        Raises
        ------
        UnknownProperty
        """
        staged = self._staged()
        if staged is None:
            return {"name": name, "value": self.shell.get_property(str(name))}
        current, self.shell.props = self.shell.props, staged
        try:
            return {"name": name, "value": self.shell.get_property(str(name))}
        finally:
            self.shell.props = current

    def set(self, name: str, value: Any) -> dict[str, Any]:
        """Validate a property change; it takes effect at the next window boundary. Several
        sets inside one window stack.

        Raises
        ------
        UnknownProperty, ReadOnly, InvalidArgument
        """
        base = self._staged()
        if base is not None:
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

    def _staged(self) -> BaseModel | None:
        """The newest properties set but not yet in effect (None: none)."""
        if self.pending_props is not None:
            return self.pending_props
        return self._props_at[max(self._props_at)] if self._props_at else None

    def snapshot(self) -> dict[str, Any]:
        """The ``snapshot`` reply: properties (pending ones included), state (for people),
        ``saved`` (the complete state, :meth:`DeviceShell.dump_state`, for a restore), the
        last window settled and the clock view."""
        props = (self._staged() or self.shell.props).model_dump(mode="json")
        settled = max(self.settled) if self.settled else self.floor - 1
        return {"device": self.name, "kind": self.shell.kind, "properties": props,
                "state": self.shell.state(), "saved": self.shell.dump_state(),
                "settled_window": settled, "clock": dict(self.clock_view)}

    def start_at(self, window: int, tick: int) -> None:
        """Continue a run from a snapshot: the next window is ``window``, at ``tick`` (the
        shell's state is loaded by the caller). Raises ValueError for negative values."""
        if window < 0 or tick < 0:
            raise ValueError(f"cannot start at window {window}, tick {tick}")
        self.last_window = window - 1
        self.floor = window
        self.start_tick = tick

    # -------------------------------------------------------------- phases
    def _pump(self, out: list[DeviceAction]) -> None:
        """Advance the open windows in order; a later window waits for the earlier ones."""
        for win in sorted(self.windows):
            if win in self.settled:
                continue
            self._advance(win, out)
            if win not in self.settled:
                return

    def _advance(self, win: int, out: list[DeviceAction]) -> None:
        w = self.windows[win]
        props = self._props_at.pop(win, None)
        if props is not None:  # the window begins: earlier windows are settled
            self.shell.props = props
            self._guarded(w, out, lambda _out: self.shell.setup())
            if win in self.settled:
                return
        got = self.reports.get(win, {})
        if win not in self.reported:
            if any(src not in got for src in self.shell.inputs()):
                return
            self._guarded(w, out, self._report, w, got)
            if win in self.settled:  # failed, or settled right after its report
                return
        if self.shell.balancer:
            got = self.reports.get(win, {})
            if all(d in got for d in self.bus_devices if d != self.name):
                self._guarded(w, out, self._balance, w, got)
        elif self.publishers:
            self._try_settle(w, out)

    def _report(self, out: list[DeviceAction], w: Window, got: dict[str, Any]) -> None:
        inputs = {k: got[k] for k in self.shell.inputs()}
        result = self.shell.report(w, inputs)
        self.reported.add(w.window)
        payload, checked = encode_report(w, self.name, self.shell.kind, result)
        own = self.shell.own_flows(w)
        if own:
            self._publish_packets(out, w, own)
            self._own_flows[w.window] = own
        if self.shell.balancer:  # it balances its own report too (not subscribed to itself)
            self.reports.setdefault(w.window, {})[self.name] = checked
        out.append(Publish(T.report(self.name), payload))
        self.own_packets[w.window] = 1 if own else 0
        if not self.shell.balancer and not self.publishers:
            self._settle(out, w, {}, self.own_packets.pop(w.window))

    def _balance(self, out: list[DeviceAction], w: Window, got: dict[str, Any]) -> None:
        reports = {k: v for k, v in got.items() if k in self.bus_devices or k == self.name}
        flows = self.shell.balance(w, reports)
        self._publish_packets(out, w, flows)
        self._settle(out, w, {(f.source, f.sink, f.carrier): f.joules for f in flows},
                     1 + self.own_packets.pop(w.window, 0))

    def _try_settle(self, w: Window, out: list[DeviceAction]) -> None:
        """Settle once we reported and every publisher's packets for ``w`` have arrived."""
        got = self.packets.get(w.window, {})
        if w.window in self.settled or w.window not in self.reported or \
                any(p not in got for p in self.publishers):
            return
        mine: dict[FlowKey, np.ndarray] = {}
        for p in sorted(self.publishers):
            mine.update(got[p].flows)
        self.packets.pop(w.window, None)
        self._guarded(w, out, self._settle, w, mine, self.own_packets.pop(w.window, 0))

    def _publish_packets(self, out: list[DeviceAction], w: Window, flows: list[Flow]) -> None:
        for f in flows:
            if f.joules.shape != (w.n,) or not np.all(np.isfinite(f.joules)) \
                    or np.any(f.joules < 0):
                raise ValueError(f"invalid packet flow {f.source}->{f.sink}: joules must be "
                                 f"{w.n} finite values ≥ 0")
        out.append(Publish(T.packets(self.name), {
            "run": w.run, "window": w.window, "tick0": w.tick0, "n": w.n,
            "publisher": self.name, "flows": [f.wire() for f in flows]}))

    def _settle(self, out: list[DeviceAction], w: Window, flows: dict[FlowKey, np.ndarray],
                packets: int) -> None:
        res = self.shell.settle(w, flows)
        msg: dict[str, Any] = {"run": w.run, "window": w.window, "tick0": w.tick0, "n": w.n,
                               "device": self.name, "packets": int(packets)}
        if res.stored is not None:
            msg["stored0"] = float(res.stored0)
            msg["stored"] = pack(res.stored)
        if res.losses is not None:
            msg["losses"] = pack(res.losses)
        if res.metrics:
            msg["metrics"] = {k: pack(v) for k, v in res.metrics.items()}
        if res.events:
            msg["events"] = res.events
            out.append(Publish(T.events(self.name), {"run": w.run, "window": w.window,
                                                     "device": self.name,
                                                     "events": res.events}))
        self.settled.add(w.window)
        out.append(Publish(T.SETTLE, msg))
        seen = dict(flows)
        for f in self._own_flows.pop(w.window, []):
            seen.setdefault((f.source, f.sink, f.carrier), f.joules)
        out.append(WindowSettled(w, seen, res, self._opened_at.pop(w.window, None)))

    def _guarded(self, w: Window, out: list[DeviceAction], fn: Callable[..., None],
                 *args: Any) -> None:
        """Run a phase; on failure add a settle carrying the error (the clock stops the run).
        Actions the phase produced before it failed are kept."""
        try:
            fn(out, *args)
        except Exception as exc:  # noqa: BLE001 - reported on the bus, device stays up
            log.error("window %d failed:\n%s", w.window, traceback.format_exc())
            self._fail(w, out, exc)

    def _fail(self, w: Window, out: list[DeviceAction], exc: Exception) -> None:
        """Settle ``w`` with an error (the clock stops the run and names this device)."""
        self.settled.add(w.window)
        out.append(Publish(T.SETTLE, {"run": w.run, "window": w.window, "tick0": w.tick0,
                                      "n": w.n, "device": self.name, "packets": 0,
                                      "error": f"{type(exc).__name__}: {exc}"}))


# ------------------------------------------------------------------------------ clock


class ClockProtocol:
    """The clock's window logic: which devices settle a window, when the next one opens and
    how big it is, pause / resume / speed at window boundaries, failures.

    ``now`` arguments are wall-clock seconds of any monotonic clock (pacing and
    ``wall_elapsed``); the adapter sleeps, the protocol only computes. :meth:`next_window`
    opens a window; at ``max`` speed up to :data:`WINDOWS_IN_FLIGHT` windows are open at
    once (paced: one). Settles (:meth:`handle`) close the oldest open window
    (:class:`WindowClosed`, in order) or fail the run (:class:`RunFinished`), and so does
    :meth:`timed_out`. ``window`` and ``tick`` are the first window not yet closed and the
    ticks settled: between windows (nothing open) the position of the next window.
    """

    def __init__(self, devices: Iterable[str], run_id: str, start: float, dt: float,
                 ticks_total: int, speed: str, timeout: float, window: int | None = None,
                 wall0: float | None = None) -> None:
        self.devices: list[str] = list(devices)
        #: who settles every window: the devices and the ledger
        self.expected: list[str] = [*self.devices, "ledger"]
        self.run_id = run_id
        self.start = start
        self.dt = dt
        self.ticks_total = ticks_total
        self.speed = parse_speed(speed)
        self.timeout = timeout
        self.window_override = window
        self.state = "starting"
        self.window = 0  # index of the oldest open window (nothing open: the next one)
        self.tick = 0  # ticks settled so far (the oldest open window's tick0)
        self.energy: dict[str, float] = {}
        #: each device's inputs (from its describe reply): the root cause of a timeout
        self.inputs: dict[str, list[str]] = {}
        #: open windows, oldest first: window -> n (contiguous from ``window``)
        self.open: dict[int, int] = {}
        self.result: RunFinished | None = None
        self.wall0 = wall0
        self.anchor: tuple[float, int] = (wall0 or 0.0, 0)  # (wall time, tick) of pacing
        #: per open window: device -> error of its settle
        self._settles: dict[int, dict[str, str | None]] = {}
        #: per open window: devices that reported it
        self._reported: dict[int, set[str]] = {}

    # ---------------------------------------------------------------- status, control
    def status(self, now: float) -> dict[str, Any]:
        """The ``homesim.clock.status`` reply (also published on control and progress)."""
        return {"state": self.state, "speed": self.speed, "window": self.window,
                "tick": self.tick, "ticks_total": self.ticks_total,
                "sim_time": self.start + self.tick * self.dt,
                "wall_elapsed": now - self.wall0 if self.wall0 is not None else 0.0,
                "energy": dict(self.energy)}

    def joined(self, device: str, inputs: Iterable[str]) -> None:
        """``device`` answered ``describe``; remember its inputs."""
        self.inputs[device] = [str(i) for i in inputs]

    def begin(self, now: float) -> Publish:
        """Everybody is there: the run starts (``running``)."""
        if self.state == "starting":
            self.state = "running"
            self.wall0 = now
            self.anchor = (now, self.tick)  # a restored run paces from its own tick
        return Publish(T.CONTROL, self.status(now))

    def pause(self, now: float) -> Publish:
        """Pause: an open window still settles; no new window opens until :meth:`resume`."""
        if self.state == "running":
            self.state = "paused"
        return Publish(T.CONTROL, self.status(now))

    def resume(self, now: float) -> Publish:
        """Resume: pacing restarts from now (from the open window's end if one is open)."""
        if self.state == "paused":
            self.state = "running"
            self._reanchor(now)
        return Publish(T.CONTROL, self.status(now))

    def set_speed(self, speed: str, now: float) -> Publish:
        """Change the speed; the next window is sized and paced with it.

        Raises
        ------
        InvalidArgument
        """
        try:
            self.speed = parse_speed(str(speed))
        except Exception:  # noqa: BLE001
            raise InvalidArgument(f"invalid speed {speed!r}: use realtime, max or e.g. 60x",
                                  field="speed") from None
        self._reanchor(now)
        return Publish(T.CONTROL, self.status(now))

    def _reanchor(self, now: float) -> None:
        """Pace from ``now`` on. An open window keeps the speed it was opened with: the new
        pacing starts at its end (so a window of a day at ``max`` is not paced afterwards
        as if it had run at the new speed)."""
        self.anchor = (now, self.next_tick())

    # ---------------------------------------------------------------- windows
    def in_flight(self) -> int:
        """How many windows may be open at once at the current speed."""
        return WINDOWS_IN_FLIGHT if speed_factor(self.speed) is None else 1

    def next_index(self) -> int:
        """Index of the next window to open."""
        return self.window + len(self.open)

    def next_tick(self) -> int:
        """First tick of the next window to open."""
        return self.tick + sum(self.open.values())

    def _tick0(self, window: int) -> int:
        """First tick of open window ``window``."""
        return self.tick + sum(n for w, n in self.open.items() if w < window)

    def pacing_delay(self, now: float) -> float:
        """Seconds to wait until simulated time ``tick`` is due in wall time (0 at ``max``)."""
        factor = speed_factor(self.speed)
        if factor is None:
            return 0.0
        wall_anchor, tick_anchor = self.anchor
        return max(0.0, wall_anchor + (self.tick - tick_anchor) * self.dt / factor - now)

    def next_window(self) -> Publish | RunFinished | None:
        """Open the next window (the ``homesim.clock.window`` message), or end a completed run.

        None while not running (starting, paused, over), while :meth:`in_flight` windows are
        open, or when the open windows reach the end of the run.
        """
        if self.state != "running":
            return None
        if not self.open and self.tick >= self.ticks_total:
            return self._end(RunFinished(True, "completed"), "finished")
        tick0 = self.next_tick()
        if len(self.open) >= self.in_flight() or tick0 >= self.ticks_total:
            return None
        win = self.next_index()
        n = min(window_ticks(self.speed, self.dt, self.window_override),
                self.ticks_total - tick0)
        self.open[win] = n
        self._settles[win] = {}
        self._reported[win] = set()
        return Publish(T.WINDOW, {"run": self.run_id, "window": win,
                                  "tick0": tick0, "n": n, "dt": self.dt,
                                  "start": self.start, "speed": self.speed})

    def handle(self, event: ClockEvent) -> list[ClockAction]:
        """Feed a settle, report or packet message; malformed ones are logged and ignored."""
        if isinstance(event, SettleReceived):
            return self._on_settle(event.msg)
        if isinstance(event, ReportReceived):
            msg = event.msg
            if isinstance(msg, dict) and _is_int(msg.get("window")) and \
                    isinstance(msg.get("device"), str):
                if msg["window"] in self._reported:
                    self._reported[msg["window"]].add(msg["device"])
            else:
                log.warning("ignored invalid report (window, device)")
            return []
        if isinstance(event, PacketsReceived):
            try:
                pk, joules = validate_packets(event.msg)
            except Exception as exc:  # noqa: BLE001
                log.warning("ignored invalid packets: %s", _why(exc))
                return []
            for f, j in zip(pk.flows, joules, strict=True):
                key = f"{f.source}->{f.sink}"
                self.energy[key] = self.energy.get(key, 0.0) + math.fsum(j.tolist())
            return []
        raise TypeError(f"not a clock event: {event!r}")

    def _on_settle(self, msg: Any) -> list[ClockAction]:
        head = msg
        if isinstance(msg, dict):  # the envelope: the clock does not read the arrays
            head = {k: v for k, v in msg.items()
                    if k not in ("stored0", "stored", "losses", "metrics", "events")}
        st = _parse(Settle, head, "settle")
        if st is None:
            return []
        if st.window not in self.open:
            log.debug("ignored settle of %s for window %d (not open)", st.device, st.window)
            return []
        settles = self._settles[st.window]
        if st.device not in self.expected or st.device in settles:
            return []
        settles[st.device] = st.error
        if st.error:
            errors = {k: e for k, e in settles.items() if e}
            text = "; ".join(f"{k}: {e}" for k, e in errors.items())
            return [self._end(RunFinished(
                False, f"window {st.window} failed at {self.when(self._tick0(st.window))}: "
                       f"{text}", tuple(errors)), "failed")]
        closed: list[ClockAction] = []
        # every participant settles windows in order: the oldest closes first
        while self.open and all(x in self._settles[self.window] for x in self.expected):
            win = self.window
            n = self.open.pop(win)
            del self._settles[win], self._reported[win]
            self.tick += n
            self.window += 1
            closed.append(WindowClosed(win, n, self.tick))
        return closed

    def timed_out(self, window: int) -> list[ClockAction]:
        """``timeout`` seconds passed since ``window`` opened: if it is still open the run
        fails naming the root cause—silent devices whose own inputs did report—not the
        devices waiting on them."""
        if window not in self.open:
            return []
        missing = [x for x in self.expected if x not in self._settles[window]]
        silent = [x for x in self.devices if x not in self._reported[window]]
        root = [x for x in silent if not any(i in silent for i in self.inputs.get(x, []))]
        if root:
            others = [x for x in missing if x not in root]
            text = (f"device(s) {', '.join(root)} did not report window {window} "
                    f"({self.when(self._tick0(window))}) within {self.timeout:g} s"
                    + (f"; waiting on it: {', '.join(others)}" if others else ""))
            return [self._end(RunFinished(False, text, tuple(root)), "failed")]
        culprits = [x for x in missing if x != "ledger"] or missing  # the ledger waits on them
        return [self._end(RunFinished(
            False, f"device(s) {', '.join(culprits)} did not settle window {window} "
                   f"({self.when(self._tick0(window))}) within {self.timeout:g} s",
            tuple(culprits)),
            "failed")]

    def rewind(self, window: int, tick: int, energy: dict[str, float], now: float) -> None:
        """Roll back to a snapshot's position (recovery in place): the next window is
        ``window`` at ``tick``, the energy totals are the snapshot's, an open window is
        forgotten and pacing restarts from ``now``. A paused run stays paused.

        Raises ValueError for a negative position or a run that is over."""
        if window < 0 or tick < 0 or tick > self.ticks_total:
            raise ValueError(f"cannot rewind to window {window}, tick {tick}")
        if self.state in ("finished", "failed"):
            raise ValueError(f"cannot rewind a run that is {self.state}")
        self.window, self.tick = window, tick
        self.energy = {str(k): float(v) for k, v in energy.items()}
        self.open = {}
        self._settles = {}
        self._reported = {}
        self.anchor = (now, tick)

    def abort(self, message: str) -> RunFinished:
        """The run failed for a reason outside the windows (e.g. devices did not join)."""
        return self._end(RunFinished(False, message), "failed")

    def finished_message(self, result: RunFinished, now: float) -> dict[str, Any]:
        """The ``homesim.clock.finished`` payload of a result."""
        return {"ok": result.ok, "message": result.message, "missing": list(result.missing),
                "status": self.status(now)}

    def when(self, tick: int) -> str:
        """``sim time YYYY-mm-dd HH:MM:SS UTC`` of a tick."""
        t = datetime.fromtimestamp(self.start + tick * self.dt, UTC)
        return f"sim time {t:%Y-%m-%d %H:%M:%S} UTC"

    def _end(self, result: RunFinished, state: str) -> RunFinished:
        self.state = state
        self.open = {}
        self.result = result
        return result


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)
