"""A whole home in one process, without a router: every device's ``DeviceProtocol`` (real
shells from the registry), the ``ClockProtocol`` and a ledger, exchanging the bus messages a
router would deliver.

Each ``Publish`` goes to whoever subscribes to it in a real run (``runtime.DeviceRunner``,
``clock.Clock``, ``ledger.Ledger``):

* ``homesim.clock.window`` / ``control`` / ``finished`` → every device;
* ``homesim.device.<d>.report`` → the clock and every device that reads ``d``
  (``protocol.sources``);
* ``homesim.packets.<publisher>`` → the clock, the ledger and every device that waits for
  that publisher's packets;
* ``homesim.settle`` → the clock and the ledger; the ledger settles a window once every
  device settled it and every packet message they announced arrived;
* ``homesim.device.<d>.events`` → recorded only.

Deliveries are first in, first out (``shuffle=SEED``: in a random order, as several
publishers' messages may interleave on a router). Payloads go through MessagePack like on the
router (``wire=True``: the same packer autobahn uses), so what a subscriber gets is a copy
with lists, never the publisher's objects.

    loop = HomeLoop(load_any("examples/home.yaml"), window=96)
    loop.run(4)                              # four windows
    saved = loop.dump()                      # every device's dump_state()
    other = HomeLoop(home, window=96, states=saved, at=loop.position)
    other.run(2); loop.run(2)                # the same messages, bit for bit

``ledger_db=PATH`` books into a real :class:`~homesim.devices.bus.ledger.Ledger` (SQLite)
instead of the minimal in-memory ledger.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack

from homesim.devices.__main__ import run_ticks, shell_class
from homesim.devices.bus.protocol import (
    ClockProtocol,
    ControlReceived,
    DeviceProtocol,
    Finished,
    PacketsReceived,
    Publish,
    ReportReceived,
    RunFinished,
    SettleReceived,
    T,
    WindowClosed,
    WindowOpened,
)
from homesim.devices.context import home_context
from homesim.devices.kinds.base import DeviceShell
from homesim.schemas.manifest import Home
from homesim.schemas.wire import unpack

__all__ = ["HomeLoop", "Message", "wire_copy", "wire_bytes", "LoopError"]

CLOCK = "clock"
LEDGER = "ledger"


class LoopError(AssertionError):
    """The in-process run failed (an error settle, a stall, a failed run)."""


def wire_copy(payload: Any) -> Any:
    """``payload`` as a subscriber receives it over the router (MessagePack, as autobahn
    packs it): a deep copy of plain values; tuples become lists; numpy values are refused."""
    return msgpack.unpackb(wire_bytes(payload), raw=False)


def wire_bytes(payload: Any) -> bytes:
    """The MessagePack bytes of a payload: equal bytes = the same message, bit for bit
    (floats are packed as their IEEE-754 doubles)."""
    return msgpack.packb(payload, use_bin_type=True)


@dataclass(frozen=True)
class Message:
    """One published message: who published it, the topic, the payload (as sent)."""

    sender: str
    topic: str
    payload: dict[str, Any]

    @property
    def window(self) -> int | None:
        return self.payload.get("window")

    def key(self) -> bytes:
        return wire_bytes([self.sender, self.topic, self.payload])


class _StubLedger:
    """The ledger's part in the lockstep: it settles window ``w`` after every device's
    settle and every packet message they announced (``packets``) arrived."""

    def __init__(self, devices: Iterable[str], run_id: str) -> None:
        self.devices = list(devices)
        self.run_id = run_id
        self.settles: dict[int, dict[str, dict[str, Any]]] = {}
        self.packets: dict[int, dict[str, int]] = {}
        self.current: int | None = None

    def packets_in(self, msg: dict[str, Any]) -> list[dict[str, Any]]:
        got = self.packets.setdefault(msg["window"], {})
        got[msg["publisher"]] = got.get(msg["publisher"], 0) + 1
        return self._try(msg["window"])

    def settle_in(self, msg: dict[str, Any]) -> list[dict[str, Any]]:
        if msg.get("device") == LEDGER:
            return []
        if msg.get("error"):
            raise LoopError(f"{msg['device']} failed window {msg['window']}: {msg['error']}")
        self.settles.setdefault(msg["window"], {})[msg["device"]] = msg
        return self._try(msg["window"])

    def _try(self, win: int) -> list[dict[str, Any]]:
        settles = self.settles.get(win, {})
        if any(d not in settles for d in self.devices):
            return []
        got = self.packets.get(win, {})
        if any(got.get(d, 0) < int(s.get("packets", 0)) for d, s in settles.items()):
            return []
        s = next(iter(settles.values()))
        self.settles.pop(win)
        self.packets.pop(win, None)
        return [{"run": self.run_id, "window": win, "tick0": s["tick0"], "n": s["n"],
                 "device": LEDGER, "packets": 0}]


class _FakeBus:
    """What a real :class:`Ledger` publishes through (its settles)."""

    def __init__(self) -> None:
        self.out: list[tuple[str, dict[str, Any]]] = []

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        self.out.append((topic, payload))


class HomeLoop:
    """A home's devices, clock and ledger in one process (see the module docstring).

    Parameters
    ----------
    home : Home
        The (resolved) manifest; its simulation settings (dt, duration, seed, speed).
    run_id : str
        The run id carried by every message.
    window : int, optional
        Ticks per window (the clock's ``--window``); default the speed's choice.
    speed : str, optional
        Overrides the manifest's speed (pacing is not simulated: only window sizes).
    states : dict, optional
        ``{device: dump_state()}`` to load into the fresh shells (after ``setup()``).
    at : (window, tick), optional
        Start at this window and tick (with ``states``: where they were saved).
    wire : bool
        Deliver MessagePack copies (as the router does); False: the objects themselves.
    shuffle : int, optional
        Seed of a random delivery order (default: first in, first out).
    ledger_db : Path, optional
        Book into a real ``Ledger`` writing this SQLite file.
    """

    def __init__(self, home: Home, *, run_id: str = "run", window: int | None = None,
                 speed: str | None = None, states: dict[str, dict[str, Any]] | None = None,
                 at: tuple[int, int] = (0, 0), wire: bool = True, shuffle: int | None = None,
                 ledger_db: Path | None = None) -> None:
        self.home = home
        self.run_id = run_id
        sim = home.spec.simulation
        ctx = home_context(home)
        self.names = [d.name for d in home.spec.enabled()]
        self.shells: dict[str, DeviceShell] = {
            d.name: shell_class(d.kind)(home, d.name, seed=sim.seed)
            for d in home.spec.enabled()}
        for name, state in (states or {}).items():
            self.shells[name].load_state(state)
        self.devices = {n: DeviceProtocol(s) for n, s in self.shells.items()}
        self.clock = ClockProtocol(self.names, run_id, ctx.start, sim.dt, run_ticks(home),
                                   speed or sim.speed, sim.timeout, window, wall0=0.0)
        window0, tick0 = at
        if (window0, tick0) != (0, 0):
            self.clock.window, self.clock.tick = window0, tick0
            for p in self.devices.values():
                p.start_at(window0, tick0)
        self.wire = wire
        self.rng = random.Random(shuffle) if shuffle is not None else None
        self.ledger: Any
        self._ledger_bus: _FakeBus | None = None
        if ledger_db is not None:
            from homesim.devices.bus.ledger import Ledger

            restore = {"window": window0, "tick": tick0} if (window0, tick0) != (0, 0) \
                else None
            self.ledger = Ledger(home, run_id, Path(ledger_db), ctx.start, sim.dt,
                                 run_ticks(home), restore=restore)
            self._ledger_bus = _FakeBus()
            self.ledger.bus = self._ledger_bus
        else:
            self.ledger = _StubLedger(self.names, run_id)
        #: every message published, in order
        self.messages: list[Message] = []
        #: (source, sink, carrier) -> joules per packet message, in order (see flow_totals)
        self.flows: dict[tuple[str, str, str], list[list[float]]] = {}
        self.closed: list[WindowClosed] = []
        self.result: RunFinished | None = None
        self._queue: list[tuple[str, Any, dict[str, Any]]] = []
        self._started = False

    # ------------------------------------------------------------------ state
    @property
    def position(self) -> tuple[int, int]:
        """``(window, tick)``: the next window to open and the ticks settled so far."""
        return self.clock.window, self.clock.tick

    @property
    def done(self) -> bool:
        return self.result is not None or self.clock.tick >= self.clock.ticks_total

    def dump(self) -> dict[str, dict[str, Any]]:
        """Every device's ``dump_state()`` (at a window boundary)."""
        if self.clock.open:
            raise LoopError("a window is open: states are saved between windows")
        return {n: s.dump_state() for n, s in self.shells.items()}

    def flow_totals(self) -> dict[tuple[str, str, str], float]:
        """Energy of each (source, sink, carrier) flow so far [J] (``math.fsum``)."""
        return {k: math.fsum(x for j in v for x in j) for k, v in sorted(self.flows.items())}

    # ------------------------------------------------------------------ running
    def run(self, windows: int | None = None) -> list[Message]:
        """Run ``windows`` more windows (default: to the end of the run); return the
        messages published meanwhile (the clock's ``window`` messages included).

        Raises
        ------
        LoopError
            If a device fails a window, a window does not close, or the run fails.
        """
        first = len(self.messages)
        if not self._started:
            self._started = True
            self._publish(CLOCK, self.clock.begin(0.0))
            self._drain()
        count = 0
        while windows is None or count < windows:
            act = self.clock.next_window()
            if isinstance(act, RunFinished):
                self.result = act
                if not act.ok:
                    raise LoopError(act.message)
                fin = self.clock.finished_message(act, now=0.0)
                self._publish(CLOCK, Publish(T.FINISHED, fin))
                self._drain()
                break
            if not isinstance(act, Publish):
                raise LoopError(f"the clock cannot open a window ({self.clock.state})")
            before = len(self.closed)
            self._publish(CLOCK, act)
            self._drain()
            if len(self.closed) != before + 1:
                raise LoopError(f"window {act.payload['window']} did not close: "
                                f"{self._missing()}")
            count += 1
        return self.messages[first:]

    def _missing(self) -> str:
        if self.clock.result is not None:
            return self.clock.result.message
        got = set(self.clock._settles.get(self.clock.window, {}))
        return "no settle of " + ", ".join(x for x in self.clock.expected if x not in got)

    def _publish(self, sender: str, action: Publish) -> None:
        msg = Message(sender, action.topic, action.payload)
        self.messages.append(msg)
        topic, p = action.topic, action.payload

        def to(targets: Iterable[str], what: Any) -> None:
            self._queue.extend((t, what, p) for t in targets)

        if topic in (T.WINDOW, T.CONTROL, T.FINISHED):
            to(self.devices, {T.WINDOW: WindowOpened, T.CONTROL: ControlReceived,
                              T.FINISHED: Finished}[topic])
            if topic == T.FINISHED:
                to([LEDGER], "finished")
        elif topic.startswith("homesim.device.") and topic.endswith(".report"):
            to([CLOCK], ReportReceived)
            to([n for n, d in self.devices.items() if p.get("device") in d.sources],
               ReportReceived)
        elif T.packet_publisher(topic) is not None:
            for f in p["flows"]:
                self.flows.setdefault((f["source"], f["sink"], f["carrier"]), []).append(
                    unpack(f["joules"]).tolist())
            to([CLOCK], PacketsReceived)
            to([LEDGER], "packets")
            to([n for n, d in self.devices.items()
                if T.packet_publisher(topic) in d.publishers], PacketsReceived)
        elif topic == T.SETTLE:
            if p.get("error"):
                raise LoopError(f"{p['device']} failed window {p['window']}: {p['error']}")
            to([CLOCK], SettleReceived)
            to([LEDGER], "settle")
        # events: nobody in the loop subscribes (the settle carries them too)

    def _deliver(self, target: str, what: Any, payload: dict[str, Any]) -> None:
        msg = wire_copy(payload) if self.wire else payload
        if target == CLOCK:
            for act in self.clock.handle(what(msg)):
                if isinstance(act, Publish):
                    self._publish(CLOCK, act)
                elif isinstance(act, WindowClosed):
                    self.closed.append(act)
                elif isinstance(act, RunFinished):
                    self.result = act
                    raise LoopError(act.message)
        elif target == LEDGER:
            self._to_ledger(what, msg)
        else:
            for act in self.devices[target].handle(what(msg)):
                if isinstance(act, Publish):
                    self._publish(target, act)

    def _to_ledger(self, what: str, msg: dict[str, Any]) -> None:
        if isinstance(self.ledger, _StubLedger):
            out = {"packets": self.ledger.packets_in, "settle": self.ledger.settle_in,
                   "finished": lambda m: []}[what](msg)
            for s in out:
                self._publish(LEDGER, Publish(T.SETTLE, s))
            return
        assert self._ledger_bus is not None
        if what == "packets":
            self.ledger._on_packets(msg)
        elif what == "settle":
            self.ledger._on_settle(msg)
        else:
            self.ledger.finalize(clock=msg)
        out, self._ledger_bus.out[:] = list(self._ledger_bus.out), []
        for topic, payload in out:
            self._publish(LEDGER, Publish(topic, payload))

    def _drain(self) -> None:
        while self._queue:
            i = self.rng.randrange(len(self._queue)) if self.rng is not None else 0
            target, what, payload = self._queue.pop(i)
            self._deliver(target, what, payload)

    def close(self) -> None:
        """Close the real ledger's file (if any)."""
        if not isinstance(self.ledger, _StubLedger):
            self.ledger.close()
