"""Recovery in place, the process side: join the clock's epoch, exit when it moves on.

In Kubernetes every device, the clock and the ledger are pods that the kubelet restarts when
they exit; nobody restarts the whole home. So a process started with recovery in place
(``HOMESIM_RECOVERY=in_place``, set by the operator) does not begin on its own: once on the
router it calls ``homesim.clock.join`` and begins where the clock says — a fresh run, or the
window, tick, manifest and saved state of the snapshot the clock recovers from (see
:mod:`homesim.devices.bus.clock`). It then follows that *epoch* only: when the clock publishes
``homesim.clock.recover`` with another epoch (someone else was restarted, or a window was
lost), or when its own session is lost and comes back (a router restart), the process exits
with :data:`EXIT_RECOVER` and its pod is restarted into the new epoch. One process lives in
one epoch, so no stale window, report or packet survives a recovery.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any

from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer, reactor, task

from homesim.devices.bus.runtime import Bus
from homesim.schemas.topics import CLOCK_AUTHID, T

__all__ = ["ENV", "EXIT_RECOVER", "enabled", "joining", "leave"]

log = logging.getLogger("homesim.recovery")

#: The environment variable that turns recovery in place on (value ``in_place``).
ENV = "HOMESIM_RECOVERY"
#: Exit status of a process that leaves an old epoch (EX_TEMPFAIL: restart me).
EXIT_RECOVER = 75
#: How long a process keeps asking a clock that is not there yet [s].
JOIN_PATIENCE = 600.0


def enabled() -> bool:
    """Whether this process recovers in place (``HOMESIM_RECOVERY=in_place``)."""
    return os.environ.get(ENV, "") == "in_place"


def leave(why: str) -> None:
    """End this process with :data:`EXIT_RECOVER` now (no finalisation)."""
    log.warning("leaving this epoch: %s (exit %d; restarted into the new one)", why,
                EXIT_RECOVER)
    logging.shutdown()
    os._exit(EXIT_RECOVER)  # no finalisation: what this process holds is rolled back


def joining(name: str, begin: Callable[[Bus, dict[str, Any]], Any]) -> Callable[[Bus], Any]:
    """An ``on_join`` for :func:`~homesim.devices.bus.runtime.serve` that joins the clock's
    epoch as ``name`` and then calls ``begin(bus, reply)`` with the ``homesim.clock.join``
    reply (``status`` fresh, restore or finished; ``window``, ``tick``, ``manifest``,
    ``state``). A second join (the session was lost) or a recovery of another epoch ends the
    process with :data:`EXIT_RECOVER`."""
    mine: dict[str, Any] = {"epoch": None, "joined": False}

    def on_recover(msg: Any) -> None:
        epoch = msg.get("epoch") if isinstance(msg, dict) else None
        if mine["epoch"] is not None and isinstance(epoch, str) and epoch != mine["epoch"]:
            leave(f"the clock recovers the home ({msg.get('reason', '?')})")

    @defer.inlineCallbacks
    def on_join(bus: Bus) -> Any:
        if mine["joined"]:
            leave("the session to the router was lost")
        mine["joined"] = True
        yield bus.subscribe(T.CLOCK_RECOVER, on_recover, sender=CLOCK_AUTHID)
        deadline = time.monotonic() + JOIN_PATIENCE
        while True:
            try:
                reply = yield bus.call(T.CLOCK_JOIN, name=name)
                break
            except ApplicationError as exc:
                if exc.error != "wamp.error.no_such_procedure":
                    raise RuntimeError(f"{name} cannot join the clock: {exc}") from None
            if time.monotonic() > deadline:
                raise RuntimeError(f"no clock to join within {JOIN_PATIENCE:.0f} s")
            yield task.deferLater(reactor, 0.2, lambda: None)
        mine["epoch"] = reply["epoch"]
        log.info("%s joined epoch %s: %s at window %s, tick %s", name, reply["epoch"],
                 reply["status"], reply["window"], reply["tick"])
        result = yield begin(bus, reply)
        return result

    return on_join
