"""The Crossbar node configuration of homesim's router (standard library only).

Used by :mod:`homesim.infra.router` (the router of ``homesim run``) and by the operator,
which renders each Home's router configuration into the Home's Secret (the router
container's entry point, :mod:`homesim.infra.router.entry`, only reads that file).

One router worker serves the realm. Two transports:

* WebSocket on ``/ws``, JSON + msgpack: wamp-cli (JSON only), browsers;
* RawSocket, msgpack: devices.

Messages up to 16 MiB on RawSocket (the protocol's maximum, 2**24) and 64 MiB on WebSocket.
One realm (one home) per router. Every client authenticates (WAMP-CRA; ticket too on the
WebSocket); roles and permissions come from :mod:`homesim.infra.router.access`. An anonymous
role exists only when a local run opts in, on the WebSocket, on a loopback interface.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "LOOPBACK",
    "REALM_NAME",
    "RealmAccess",
    "RS_MAX_MESSAGE_SIZE",
    "URI_PREFIX",
    "WS_MAX_MESSAGE_SIZE",
    "WS_PATH",
    "render_config",
    "validate_realms",
]

URI_PREFIX = "homesim."
WS_PATH = "/ws"
LOOPBACK = ("127.0.0.1", "::1", "localhost")
RS_MAX_MESSAGE_SIZE = 2**24  # RawSocket's maximum (16 MiB); a simulated day per message fits
WS_MAX_MESSAGE_SIZE = 64 * 2**20  # JSON is ~2-3x larger than msgpack for float arrays

REALM_NAME = re.compile(r"^[A-Za-z][A-Za-z\d_\-@.]{2,254}$")  # autobahn's, as Crossbar checks


def validate_realms(realms: list[str]) -> None:
    """Raise ValueError unless `realms` is a non-empty list of distinct valid realm names."""
    if not realms:
        raise ValueError("at least one realm is needed")
    for realm in realms:
        if not isinstance(realm, str) or not REALM_NAME.match(realm):
            raise ValueError(
                f"invalid WAMP realm name {realm!r} (must match {REALM_NAME.pattern})"
            )
    if len(set(realms)) != len(realms):
        raise ValueError(f"duplicate realm in {realms!r}")


@dataclass(frozen=True)
class RealmAccess:
    """Who may join one realm and what they may do there (see :func:`render_config`)."""

    realm: str
    roles: list[dict[str, Any]]
    users: dict[str, tuple[str, str]]
    anonymous_role: str | None = None
    authenticator: dict[str, Any] | None = None


def render_config(
    access: RealmAccess,
    ws_port: int,
    rs_port: int,
    host: str = "127.0.0.1",
) -> dict[str, Any]:
    """Crossbar node configuration (version 2): one router worker serving one home's realm.

    `access.realm` is the realm; `access.roles` are Crossbar role dicts (``{"name",
    "permissions"}``, see :mod:`homesim.infra.router.access`); `access.users` maps each
    authid to ``(role, secret)``. Both
    transports take WAMP-CRA; the WebSocket also takes ticket (the secret as the ticket) for
    tools without WAMP-CRA. The router serves this one realm only, so a
    principal can reach no other (a join to any other realm fails with
    ``wamp.error.no_such_realm``). `host` is the interface both transports
    listen on (``0.0.0.0`` in a container).

    `access.anonymous_role` (opt-in, ``homesim run --anonymous ROLE``) lets unauthenticated clients
    join the **WebSocket** transport with that role; it is refused unless `host` is a loopback
    address. `access.authenticator` (``{"procedure": URI}``, the Helm value ``auth.authenticator``)
    plugs in an external authenticator for people's tickets on the WebSocket: Crossbar calls
    ``URI(realm, authid, details)`` on `realm` and the component that registered it (it joins
    as a user whose role may register that URI) returns ``{"role": ...}`` or raises. Process
    identities keep WAMP-CRA with the static users.

    Raises ValueError for an invalid realm name, a user whose role is not in `roles`, an
    unknown `anonymous_role`, or `anonymous_role` on a non-loopback `host`.
    """
    realm, roles, users = access.realm, access.roles, access.users
    anonymous_role, authenticator = access.anonymous_role, access.authenticator
    validate_realms([realm])
    names = {r["name"] for r in roles}
    for authid, (role, secret) in users.items():
        if role not in names:
            raise ValueError(f"user {authid!r} has role {role!r}, which is not defined")
        if not secret:
            raise ValueError(f"user {authid!r} has an empty secret")
    if anonymous_role is not None:
        if anonymous_role not in names:
            raise ValueError(f"anonymous role {anonymous_role!r} is not defined "
                             f"(roles: {', '.join(sorted(names))})")
        if host not in LOOPBACK:
            raise ValueError(f"anonymous access is only allowed on a loopback interface, "
                             f"not {host!r}")
    cra = {"type": "static",
           "users": {a: {"secret": s, "role": r}
                     for a, (r, s) in users.items()}}
    ticket = {"type": "static",
              "principals": {a: {"ticket": s, "role": r}
                             for a, (r, s) in users.items()}}
    ws_auth: dict[str, Any] = {"wampcra": cra, "ticket": ticket}
    if authenticator:
        ws_auth["ticket"] = {"type": "dynamic", "authenticator": authenticator["procedure"],
                             "authenticator-realm": realm}
    if anonymous_role is not None:
        ws_auth["anonymous"] = {"type": "static", "role": anonymous_role}
    ws_options = {
        "max_message_size": WS_MAX_MESSAGE_SIZE,
        "max_frame_size": WS_MAX_MESSAGE_SIZE,
        # no effect in autobahn 26.10 (read too early); here twisted.web sets TCP_NODELAY anyway
        "tcp_nodelay": True,
        "auto_ping_interval": 10000,
        "auto_ping_timeout": 30000,
    }
    return {
        "version": 2,
        "controller": {},
        "workers": [
            {
                "type": "router",
                "realms": [{"name": realm, "roles": roles}],
                "transports": [
                    {
                        "type": "web",
                        "endpoint": {"type": "tcp", "interface": host, "port": ws_port},
                        "paths": {
                            WS_PATH.strip("/"): {
                                "type": "websocket",
                                "serializers": ["json", "msgpack"],
                                "options": ws_options,
                                "auth": ws_auth,
                            },
                        },
                    },
                    {
                        "type": "rawsocket",
                        "endpoint": {"type": "tcp", "interface": host, "port": rs_port},
                        "serializers": ["msgpack"],
                        "options": {"max_message_size": RS_MAX_MESSAGE_SIZE},
                        "auth": {"wampcra": cra},
                    },
                ],
            }
        ],
    }
