"""The Crossbar node configuration of homesim's router (standard library only).

Shared by :mod:`homesim.infra.router` (the router of ``homesim run``) and
:mod:`homesim.infra.router.entry` (the router container's entry point, which runs with the
router venv's Python, where homesim and its dependencies are not installed): keep this
module free of anything but the standard library.

One router worker serves every realm. Two transports:

* WebSocket on ``/ws``, JSON + msgpack: wamp-cli (JSON only), browsers;
* RawSocket, msgpack: devices.

Messages up to 16 MiB on RawSocket (the protocol's maximum, 2**24) and 64 MiB on WebSocket.
Every realm has one role, ``anonymous`` (unauthenticated clients), allowed to call, register,
publish and subscribe on URIs under ``homesim.`` only.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "REALM_NAME",
    "RS_MAX_MESSAGE_SIZE",
    "URI_PREFIX",
    "WS_MAX_MESSAGE_SIZE",
    "WS_PATH",
    "render_config",
    "validate_realms",
]

URI_PREFIX = "homesim."
WS_PATH = "/ws"
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


def render_config(
    realms: list[str],
    ws_port: int,
    rs_port: int,
    host: str = "127.0.0.1",
    *,
    allow_empty: bool = False,
) -> dict[str, Any]:
    """Crossbar node configuration (version 2): one router worker serving `realms`.

    `host` is the interface both transports listen on (``0.0.0.0`` in a container).
    Raises ValueError for an invalid or a duplicate realm name, and for an empty list unless
    `allow_empty` (a router without realms listens, but every join fails with
    ``wamp.error.no_such_realm`` - the router container waits so for its first home).
    """
    if realms or not allow_empty:
        validate_realms(realms)
    anonymous = {
        "name": "anonymous",
        "permissions": [
            {
                "uri": URI_PREFIX,
                "match": "prefix",
                "allow": {"call": True, "register": True, "publish": True, "subscribe": True},
                "disclose": {"caller": False, "publisher": False},
                "cache": True,
            }
        ],
    }
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
                "realms": [{"name": realm, "roles": [anonymous]} for realm in realms],
                "transports": [
                    {
                        "type": "web",
                        "endpoint": {"type": "tcp", "interface": host, "port": ws_port},
                        "paths": {
                            WS_PATH.strip("/"): {
                                "type": "websocket",
                                "serializers": ["json", "msgpack"],
                                "options": ws_options,
                            },
                        },
                    },
                    {
                        "type": "rawsocket",
                        "endpoint": {"type": "tcp", "interface": host, "port": rs_port},
                        "serializers": ["msgpack"],
                        "options": {"max_message_size": RS_MAX_MESSAGE_SIZE},
                    },
                ],
            }
        ],
    }
