"""Probe a router's authorization: join as identities and try actions (a test helper script).

    python access_probe.py PLAN.json  → prints one JSON object on stdout

PLAN: ``{"callees": [IDENT, ...], "probes": [{"ident": IDENT, "actions": [ACTION, ...]}]}``
with ``IDENT = {"url", "realm", "authid", "secret", "method"}`` (method ``wampcra``,
``ticket`` or ``anonymous``) and ``ACTION = [verb, uri]`` (verb ``call``, ``subscribe``,
``publish``, ``register``). Callees join first and register ``get``, ``set`` and
``describe`` of their own device (``homesim.device.<authid>.*``; or the IDENT's
``procedures``), so that a call reaches
authorization (Crossbar answers ``no_such_procedure`` before it checks permissions).

Result: ``{"callees": {authid: "ok" | error}, "probes": [{"join": "ok" | error,
"authrole": ..., "actions": ["ok" | error, ...]}]}`` where error is the WAMP error URI.
"""

from __future__ import annotations

import json
import sys
from typing import Any

sys.modules.setdefault("_bjdata", None)  # type: ignore[arg-type]  # noqa: E402 below

from autobahn.twisted.component import Component  # noqa: E402
from autobahn.wamp.exception import ApplicationError  # noqa: E402
from autobahn.wamp.types import PublishOptions  # noqa: E402
from twisted.internet import defer, reactor, task  # noqa: E402


def transport(url: str) -> dict[str, Any]:
    if url.startswith("rs"):
        return {"type": "rawsocket", "url": url, "serializer": "msgpack", "max_retries": 0}
    return {"type": "websocket", "url": url, "serializers": ["json"], "max_retries": 0}


def auth(ident: dict[str, Any]) -> dict[str, Any]:
    m = ident.get("method", "wampcra")
    if m == "anonymous":
        return {"anonymous": {}}
    if m == "ticket":
        return {"ticket": {"authid": ident["authid"], "ticket": ident["secret"]}}
    return {"wampcra": {"authid": ident["authid"], "secret": ident["secret"]}}


def err_uri(fail: Any) -> str:
    v = getattr(fail, "value", fail)
    if isinstance(v, ApplicationError):
        return v.error
    return f"{type(v).__name__}: {v}"


def join(ident: dict[str, Any]) -> defer.Deferred:
    """Deferred firing (session, authrole) or failing with the join error."""
    d: defer.Deferred = defer.Deferred()
    comp = Component(transports=[transport(ident["url"])], realm=ident["realm"],
                     authentication=auth(ident), is_fatal=lambda e: True)

    @comp.on_join
    def _joined(session: Any, details: Any) -> None:
        if not d.called:
            d.callback((session, details.authrole))

    def _done(res: Any) -> None:
        if not d.called:
            d.errback(ApplicationError("probe.error.left", "left before joining"))

    def _failed(fail: Any) -> None:
        if not d.called:
            d.errback(fail)

    @comp.on_connectfailure
    def _cf(c: Any, fail: Any) -> None:
        if not d.called:
            d.errback(fail if isinstance(fail, Exception) else ApplicationError(str(fail)))

    comp.start(reactor).addCallbacks(_done, _failed)
    return d


@defer.inlineCallbacks
def act(session: Any, verb: str, uri: str) -> Any:
    try:
        if verb == "call":
            yield session.call(uri)
        elif verb == "subscribe":
            sub = yield session.subscribe(lambda *a, **k: None, uri)
            yield sub.unsubscribe()
        elif verb == "publish":
            yield session.publish(uri, {"probe": True}, options=PublishOptions(acknowledge=True))
        elif verb == "register":
            reg = yield session.register(lambda *a, **k: {"probe": True}, uri)
            yield reg.unregister()
        else:
            return f"unknown verb {verb}"
    except ApplicationError as exc:
        if exc.error == "wamp.error.runtime_error" or exc.error.startswith("homesim."):
            return "ok"  # reached the callee: authorized
        return exc.error
    return "ok"


@defer.inlineCallbacks
def main(plan: dict[str, Any]) -> Any:
    out: dict[str, Any] = {"callees": {}, "probes": []}
    sessions = []
    for ident in plan.get("callees", []):
        try:
            session, _ = yield join(ident)
        except Exception as exc:  # noqa: BLE001
            out["callees"][ident["authid"]] = err_uri(exc)
            continue
        sessions.append(session)
        status = "ok"
        procs = ident.get("procedures") or [f"homesim.device.{ident['authid']}.{p}"
                                            for p in ("get", "set", "describe")]
        for proc in procs:
            try:
                yield session.register(lambda *a, **k: {"ok": True}, proc)
            except ApplicationError as exc:
                status = exc.error
        out["callees"][ident["authid"]] = status
    for probe in plan["probes"]:
        rec: dict[str, Any] = {"join": "ok", "authrole": None, "actions": []}
        try:
            session, role = yield join(probe["ident"])
        except Exception as exc:  # noqa: BLE001
            rec["join"] = err_uri(exc)
            out["probes"].append(rec)
            continue
        rec["authrole"] = role
        for verb, uri in probe.get("actions", []):
            res = yield act(session, verb, uri)
            rec["actions"].append(res)
        yield session.leave()
        out["probes"].append(rec)
    for s in sessions:
        yield s.leave()
    yield task.deferLater(reactor, 0.1, lambda: None)
    return out


def _run() -> None:
    plan = json.load(open(sys.argv[1]))  # noqa: SIM115

    def _ok(res: Any) -> None:
        print(json.dumps(res))
        reactor.stop()

    def _bad(fail: Any) -> None:
        print(json.dumps({"error": fail.getTraceback()}))
        reactor.stop()

    reactor.callWhenRunning(lambda: main(plan).addCallbacks(_ok, _bad))
    reactor.run()


if __name__ == "__main__":
    _run()
