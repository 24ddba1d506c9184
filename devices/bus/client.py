"""A WAMP client for people and tools: one call, a subscription, or one publish.

Behind ``homesim wamp call|sub|pub`` and ``python -m homesim.devices call`` (which the
operator runs). It authenticates like every homesim process (:class:`BusSettings`: WAMP-CRA
with a secret read from a file) and prints JSON on stdout, errors on stderr.

Exit codes: 0 done; 1 the router or a callee answered with an error (e.g.
``wamp.error.not_authorized``, ``homesim.error.invalid_argument``); 2 the router could not
be reached; 3 the router refused the credentials.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from twisted.internet import defer, reactor

from homesim.devices.bus.runtime import Bus, BusSettings, serve, stop_soon
from homesim.schemas.wire import plain

__all__ = ["call", "subscribe", "publish", "error_text"]


def error_text(err: BaseException) -> str:
    """``<error uri>: <JSON details>`` of a WAMP error (or the exception's type and text)."""
    uri = getattr(err, "error", None) or type(err).__name__
    details = getattr(err, "kwargs", None) or {}
    if not details:
        args = getattr(err, "args", ())
        details = {"reason": str(args[0])} if args else {"reason": str(err)}
    return f"{uri}: {json.dumps(details, default=str)}"


def _run(settings: BusSettings, name: str, body: Any) -> int:
    outcome: dict[str, int] = {}

    def on_join(bus: Bus) -> None:
        d = defer.maybeDeferred(body, bus, outcome)

        def bad(fail: Any) -> None:
            print(error_text(fail.value), file=sys.stderr)
            outcome["code"] = 1
            stop_soon(0, 0)

        d.addErrback(bad)

    code = serve(settings, name, on_join)
    return code or outcome.get("code", 1)


def call(settings: BusSettings, procedure: str, args: list[Any],
         kwargs: dict[str, Any] | None = None) -> int:
    """Call ``procedure(*args, **kwargs)`` once and print its result as JSON."""

    def body(bus: Bus, outcome: dict[str, int]) -> defer.Deferred:
        d = defer.maybeDeferred(bus.call, procedure, *args, **(kwargs or {}))

        def ok(res: Any) -> None:
            print(json.dumps(plain(res), default=str), flush=True)
            outcome["code"] = 0
            stop_soon(0, 0)

        return d.addCallback(ok)

    return _run(settings, "call", body)


def subscribe(settings: BusSettings, topic: str, match: str = "exact", count: int = 0,
              timeout: float = 0.0) -> int:
    """Print every event on ``topic`` as one JSON line ``{"topic", "publisher",
    "payload"}``; stop after ``count`` events (0 = never) or ``timeout`` [s] (0 = never).
    Exit 0 when it stopped so (even with fewer events), 1 if the router refused the
    subscription."""

    def body(bus: Bus, outcome: dict[str, int]) -> defer.Deferred:
        seen = {"n": 0}

        def on_event(payload: dict[str, Any], actual_topic: str) -> None:
            seen["n"] += 1
            print(json.dumps({"topic": actual_topic, "payload": plain(payload)}, default=str),
                  flush=True)
            if count and seen["n"] >= count:
                outcome["code"] = 0
                stop_soon(0, 0)

        def subscribed(_: Any) -> None:
            print(json.dumps({"subscribed": topic, "match": match}), file=sys.stderr,
                  flush=True)
            if timeout > 0:
                def _timeout() -> None:
                    outcome["code"] = 0
                    stop_soon(0, 0)

                reactor.callLater(timeout, _timeout)

        d = defer.maybeDeferred(bus.subscribe, topic, on_event, match=match, with_topic=True)
        return d.addCallback(subscribed)

    return _run(settings, "sub", body)


def publish(settings: BusSettings, topic: str, payload: dict[str, Any]) -> int:
    """Publish ``payload`` on ``topic`` once, acknowledged (a refused publish exits 1)."""
    from autobahn.wamp.types import PublishOptions

    def body(bus: Bus, outcome: dict[str, int]) -> defer.Deferred:
        d = defer.maybeDeferred(bus.session.publish, topic, payload,
                                options=PublishOptions(acknowledge=True))

        def ok(_: Any) -> None:
            print(json.dumps({"published": topic}), flush=True)
            outcome["code"] = 0
            stop_soon(0, 0)

        return d.addCallback(ok)

    return _run(settings, "pub", body)
