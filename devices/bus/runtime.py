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
from dataclasses import dataclass, field
from typing import Any

from homesim.devices.bus import DEFAULT_ROUTER, lean_autobahn

lean_autobahn()  # before autobahn (another entry point may import us first)

from autobahn.twisted.component import Component
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import PublishOptions, RegisterOptions, SubscribeOptions
from pydantic import ValidationError
from twisted.internet import defer, reactor

from homesim.devices.bus.metrics import DeviceMetrics
from homesim.devices.bus.protocol import (
    CLOCK_AUTHID,
    RESIDENT_ROLE_PREFIX,
    ControlReceived,
    DeviceAction,
    DeviceProtocol,
    Finished,
    PacketsReceived,
    Publish,
    ReportReceived,
    RunEnded,
    T,
    WindowOpened,
    WindowSettled,
    parse_speed,
    validate_packets,
)
from homesim.devices.kinds.base import (
    DeviceShell,
    HomesimError,
    InvalidArgument,
    NotAuthorized,
)
from homesim.schemas.manifest import resident_may_set, validation_errors

log = logging.getLogger("homesim.runtime")

__all__ = ["BusSettings", "Bus", "serve", "DeviceRunner", "T", "rpc_args",
           "validate_packets", "parse_speed", "claimed", "topic_device", "CLOCK_AUTHID",
           "CredentialsError", "read_secret"]


@dataclass(frozen=True)
class BusSettings:
    """Where a process finds the router and who it is there. Each field falls back to an
    environment variable.

    ``router``: ``rs://host:port`` (RawSocket, msgpack; devices) or ``ws://host:port/ws``
    (WebSocket) [HOMESIM_ROUTER_URL]; ``realm`` [HOMESIM_REALM]; ``authid``
    [HOMESIM_AUTHID, else the device name]; ``secret``: the WAMP-CRA secret, read from the
    file [HOMESIM_SECRET_FILE] (0600; never from the command line, never logged). Without a
    secret the process joins anonymously, which only a local run that opted in accepts.
    """

    router: str
    realm: str
    authid: str | None = None
    secret: str | None = field(default=None, repr=False)
    max_retries: int = 160  # ~80 s of attempts at most 0.5 s apart, as 40 at 2 s were
    initial_retry_delay: float = 0.25
    max_retry_delay: float = 0.5  # processes start with the router: join soon after it is up
    retry_delay_growth: float = 1.5

    @classmethod
    def from_env(cls, router: str | None = None, realm: str | None = None,
                 authid: str | None = None, secret_file: str | None = None) -> BusSettings:
        """Settings from arguments, else the environment (see the class docstring).

        Raises
        ------
        CredentialsError
            If the secret file is named but cannot be read, or is empty.
        """
        path = secret_file or os.environ.get("HOMESIM_SECRET_FILE")
        return cls(
            router=router or os.environ.get("HOMESIM_ROUTER_URL", DEFAULT_ROUTER),
            realm=realm or os.environ.get("HOMESIM_REALM", "homesim"),
            authid=os.environ.get("HOMESIM_AUTHID") or authid,
            secret=read_secret(path) if path else None,
        )

    def authentication(self) -> dict[str, Any]:
        """autobahn Component ``authentication``: WAMP-CRA with our secret, else anonymous."""
        if self.secret:
            return {"wampcra": {"authid": self.authid, "secret": self.secret}}
        return {"anonymous": {}}

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


class CredentialsError(RuntimeError):
    """A process's credentials cannot be read."""


def read_secret(path: str | os.PathLike[str]) -> str:
    """The secret in file ``path`` (surrounding whitespace stripped).

    Raises
    ------
    CredentialsError
        If the file cannot be read or holds no secret (the message names the file, never
        its content).
    """
    try:
        text = open(path, encoding="utf-8").read().strip()  # noqa: SIM115, PTH123
    except (OSError, UnicodeDecodeError) as exc:
        raise CredentialsError(f"cannot read the secret file {path}: "
                               f"{getattr(exc, 'strerror', None) or exc}") from None
    if not text:
        raise CredentialsError(f"the secret file {path} is empty")
    return text


#: Join errors that retrying cannot fix (wrong or missing credentials, no such realm).
FATAL_JOIN_ERRORS = frozenset({
    "wamp.error.not_authorized", "wamp.error.authentication_failed",
    "wamp.error.no_auth_method", "wamp.error.no_such_realm", "wamp.error.no_such_role",
    "wamp.error.authorization_failed",
})


def _fatal(exc: Exception) -> bool:
    return isinstance(exc, ApplicationError) and exc.error in FATAL_JOIN_ERRORS


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


Sender = str | Callable[[dict[str, Any], str], Any]


def claimed(field_name: str) -> Callable[[dict[str, Any], str], Any]:
    """A ``sender`` for :meth:`Bus.subscribe`: the identity the payload claims in
    ``field_name`` (``publisher`` of packets, ``device`` of settles)."""
    return lambda payload, topic: payload.get(field_name)


def packet_sender(payload: dict[str, Any], topic: str) -> str | None:
    """A ``sender`` for :meth:`Bus.subscribe` of packets: the publisher the topic
    ``homesim.packets.<publisher>`` names, if the payload claims the same one (else None,
    which no router-disclosed identity equals: the message counts as forged)."""
    pub = T.packet_publisher(topic)
    return pub if pub is not None and payload.get("publisher") == pub else None


def topic_device(payload: dict[str, Any], topic: str) -> str | None:
    """A ``sender`` for :meth:`Bus.subscribe`: the device a ``homesim.device.<device>.*``
    topic belongs to."""
    parts = topic.split(".")
    return parts[2] if len(parts) >= 4 and parts[:2] == ["homesim", "device"] else None


class Bus:
    """A joined WAMP session, seen through the contract's vocabulary.

    With ``verify`` (every authenticated process), an event subscribed with a ``sender``
    is delivered only if the router disclosed its publisher and that identity is the one the
    message claims (``on_forged(topic, claimed, actual)`` is called for the others, which are
    dropped: a forged packet or settle is booked nowhere).
    """

    def __init__(self, session: Any, verify: bool = False) -> None:
        self.session = session
        self.verify = verify
        self.forged = 0
        self.on_forged: Callable[[str, Any, Any], None] = self._log_forged
        self._opts = PublishOptions(exclude_me=False)
        self._forged_logged = -1e9

    def _log_forged(self, topic: str, claimed_id: Any, actual: Any) -> None:
        now = time.monotonic()
        if now - self._forged_logged >= 10.0:  # rate-limited: a flood must not flood the log
            self._forged_logged = now
            log.warning("dropped a forged message on %s: it claims %r, the router says it "
                        "comes from %r (%d so far)", topic, claimed_id, actual, self.forged)

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        """Publish one message (the payload is the event's single positional argument)."""
        self.session.publish(topic, payload, options=self._opts)

    def subscribe(self, topic: str, handler: Callable[..., Any],
                  match: str = "exact", with_topic: bool = False,
                  sender: Sender | None = None) -> Any:
        """Subscribe ``handler(payload)``; a handler's exception is logged, never fatal.

        ``match`` is ``exact``, ``prefix`` or ``wildcard`` (WAMP pattern-based subscription);
        with ``with_topic`` the handler is called as ``handler(payload, topic)``. ``sender``
        is who may publish the event: an authid, or a function of (payload, topic) giving the
        identity the message claims (see :func:`claimed`, :func:`topic_device`).
        """

        def _on_event(*args: Any, **kwargs: Any) -> None:
            details = kwargs.pop("details", None)
            payload = args[0] if args else kwargs
            actual_topic = getattr(details, "topic", None) or topic
            if not isinstance(payload, dict):
                log.warning("ignored non-object event on %s: %r", topic, payload)
                return
            if self.verify and sender is not None:
                want = sender if isinstance(sender, str) else sender(payload, actual_topic)
                got = getattr(details, "publisher_authid", None)
                if got is None or want != got:
                    self.forged += 1
                    self.on_forged(actual_topic, want, got)
                    return
            try:
                if with_topic:
                    handler(payload, actual_topic)
                else:
                    handler(payload)
            except ValidationError as exc:
                log.warning("ignored invalid event on %s: %s", topic, validation_errors(exc))
            except Exception:  # noqa: BLE001 - a bad event must not kill the device
                log.error("handler for %s failed:\n%s", topic, traceback.format_exc())

        opts = SubscribeOptions(match=None if match == "exact" else match,
                                details_arg="details")
        return self.session.subscribe(_on_event, topic, options=opts)

    def register(self, uri: str, handler: Callable[..., Any], with_caller: bool = False) -> Any:
        """Register a procedure; domain errors become ``homesim.error.*`` WAMP errors.

        With ``with_caller`` the handler also gets ``caller_role=`` (the caller's role as the
        router disclosed it; None when not disclosed)."""

        def _proc(*args: Any, **kwargs: Any) -> Any:
            details = kwargs.pop("details", None)
            if with_caller:
                kwargs["caller_role"] = getattr(details, "caller_authrole", None)
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

        return self.session.register(_proc, uri,
                                     options=RegisterOptions(details_arg="details"))

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
    retry policy is exhausted gives exit code 2, being refused by the router (credentials,
    realm) exit code 3 at once, each with a clear message.
    """
    comp = Component(transports=[settings.transport()], realm=settings.realm,
                     authentication=settings.authentication(), is_fatal=_fatal)
    state: dict[str, Any] = {"code": 0, "session": None}

    @comp.on_join
    def _joined(session: Any, details: Any) -> Any:
        state["session"] = session
        try:  # small messages back to back (reports, settles): no Nagle delay
            session._transport.transport.setTcpNoDelay(True)
        except AttributeError:
            pass
        log.info("%s joined realm %s at %s as %s (role %s)", name, settings.realm,
                 settings.router, details.authid, details.authrole)
        return on_join(Bus(session, verify=settings.secret is not None))

    @comp.on_connectfailure
    def _connectfailure(comp_: Any, fail: Any) -> None:
        exc = getattr(fail, "value", fail)
        if isinstance(exc, Exception) and _fatal(exc):
            state["refused"] = exc
            return
        state["failures"] = state.get("failures", 0) + 1
        if state["failures"] in (1, 10) or state["failures"] % 60 == 0:  # not every 0.5 s
            log.info("%s: router %s not reachable yet (%s; attempt %d)", name,
                     settings.router, exc, state["failures"])

    def _done(result: Any) -> None:
        _stop_reactor()

    def _failed(fail: Any) -> None:
        refused = state.get("refused")
        if refused is not None:
            state["code"] = 3
            log.error("%s: the router %s refused %s on realm %s: %s (%s); check the "
                      "credentials (HOMESIM_AUTHID, HOMESIM_SECRET_FILE)", name,
                      settings.router, settings.authid or "an anonymous client",
                      settings.realm, refused.error, refused.error_message())
        else:
            state["code"] = 2
            log.error("%s: giving up on router %s after %d attempts: %s", name,
                      settings.router, settings.max_retries, fail.getErrorMessage())
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


class DeviceRunner:
    """Drives one device shell through the lockstep windows of the clock.

    A thin adapter: the window logic is :class:`~homesim.devices.bus.protocol.DeviceProtocol`;
    this class subscribes and registers, feeds every message to it and executes the actions
    it returns (publish, metrics, stop after the run).
    """

    def __init__(self, shell: DeviceShell) -> None:
        self.shell = shell
        self.name = shell.name
        self.protocol = DeviceProtocol(shell)
        self.bus: Bus | None = None
        # metrics (updated once per settled window)
        self.metrics = DeviceMetrics(shell.home.metadata.name, self.name, shell.kind)

    @property
    def finished(self) -> bool:
        return self.protocol.finished

    # -------------------------------------------------------------- wiring
    def on_join(self, bus: Bus) -> defer.Deferred:
        self.bus = bus
        feed = self._feed
        clock = CLOCK_AUTHID
        ds = [bus.subscribe(T.WINDOW, lambda m: feed(WindowOpened(m, time.monotonic())),
                            sender=clock),
              bus.subscribe(T.CONTROL, lambda m: feed(ControlReceived(m)), sender=clock),
              bus.subscribe(T.FINISHED, lambda m: feed(Finished(m)), sender=clock)]
        for src in sorted(self.protocol.sources):
            ds.append(bus.subscribe(T.report(src), lambda m: feed(ReportReceived(m)),
                                    sender=src))
        for pub in sorted(self.protocol.publishers):  # only the publishers it waits for
            ds.append(bus.subscribe(T.packets(pub), lambda m: feed(PacketsReceived(m)),
                                    sender=packet_sender))
        for proc, fn in (("describe", self._describe), ("get", self._get),
                         ("snapshot", self._snapshot)):
            ds.append(bus.register(T.rpc(self.name, proc), fn))
        ds.append(bus.register(T.rpc(self.name, "set"), self._set, with_caller=True))
        return defer.gatherResults(ds, consumeErrors=True)

    def _feed(self, event: Any) -> None:
        for action in self.protocol.handle(event):
            self._execute(action)

    def _execute(self, action: DeviceAction) -> None:
        if isinstance(action, Publish):
            assert self.bus is not None
            self.bus.publish(action.topic, action.payload)
        elif isinstance(action, WindowSettled):
            self._observe(action)
        elif isinstance(action, RunEnded):
            after_finish(0.2)

    def _observe(self, s: WindowSettled) -> None:
        """Update this process's metrics for a settled window (never fails the window)."""
        lag = time.monotonic() - s.opened_at if s.opened_at is not None else 0.0
        try:
            self.metrics.window(s.window.dt, s.flows, s.result.metrics or {},
                                self.shell.state(), lag)
        except Exception:  # noqa: BLE001 - metrics are an observer, not part of the run
            log.warning("metrics update failed:\n%s", traceback.format_exc())

    # -------------------------------------------------------------- RPCs
    def _describe(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return self.protocol.describe()

    def _get(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        (name,) = rpc_args(args, kwargs, "name")
        return self.protocol.get(name)

    def _set(self, *args: Any, caller_role: str | None = None, **kwargs: Any) -> dict[str, Any]:
        name, value = rpc_args(args, kwargs, "name", "value")
        if caller_role is not None and caller_role.startswith(RESIDENT_ROLE_PREFIX) \
                and not resident_may_set(self.shell.kind, str(name)):
            raise NotAuthorized(f"a resident may not set {name!r} of {self.name} (only "
                                "properties marked x-resident, e.g. the thermostat)",
                                field=str(name))
        return self.protocol.set(name, value)

    def _snapshot(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return self.protocol.snapshot()
