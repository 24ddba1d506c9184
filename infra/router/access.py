"""Who may do what on a home's realm: principals, roles and their permissions (pure).

Every client of a home's router authenticates (WAMP-CRA on both transports, ticket on the
WebSocket too); there is no ``anonymous`` role unless a local run opts in (loopback only).
One realm per router, one router per home, so an identity can never reach another home.

Identities (``authid``) and their roles:

=====================  ====================  ================================================
authid                 role                  may
=====================  ====================  ================================================
``<device>``           ``device.<device>``   register ``homesim.device.<device>.*``; publish
                                             its own report and events, its packets
                                             (``homesim.packets.<device>`` only) and settles
                                             (identity disclosed, checked by every receiver);
                                             subscribe to the clock, reports and packets;
                                             call ``homesim.clock.join`` (recovery in place)
``clock``              ``clock``             register and publish ``homesim.clock.*``;
                                             subscribe to settles, packets and reports
``ledger``             ``ledger``            subscribe to everything; publish settles;
                                             register ``homesim.ledger.*``; call
                                             ``homesim.clock.join``
``manager``            ``manager``           call every procedure of the home (properties,
                                             clock control); subscribe to everything
``viewer``             ``viewer``            subscribe to everything; call ``get``,
                                             ``describe`` and the status procedures
``operator``           ``operator``          call every device's ``set`` (live updates) and
                                             ``homesim.clock.status``
``resident.<flat>``    ``resident.<flat>``   call ``get`` / ``describe`` / ``set`` of the
                                             flat's own devices (the device lets a resident
                                             set only ``x-resident`` properties, e.g. the
                                             thermostat) and the flat's meter
                                             (``homesim.ledger.meter.<flat>``); subscribe to
                                             its devices' reports and events and to the
                                             clock's control (not its status or progress:
                                             they carry every flow of the building)
``tap``                ``viewer``            (a process of ``homesim run --tap``)
=====================  ====================  ================================================

Nothing else is allowed: Crossbar denies every action no permission matches (including the
``wamp.*`` meta API). People-facing roles disclose the caller to the callee, so a device can
tell a resident from the manager; every role that publishes discloses the publisher, so the
ledger and the devices book a packet or a settle only from the identity it claims.

Secrets are derived per identity from one random home key (HMAC-SHA256), so the operator keeps
a single key per Home and ``homesim run`` one per run; each process is given only its own
secret.

Source: Crossbar.io static authentication (``wampcra``, ``ticket``) and static authorization
(URI permissions with ``exact`` / ``prefix`` match, ``disclose``), crossbar.io/docs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from homesim.infra.router.config import RealmAccess
from homesim.schemas.manifest import Home
from homesim.schemas.topics import CLOCK_AUTHID, RESIDENT_ROLE_PREFIX, T

__all__ = [
    "PEOPLE_ROLES",
    "Principal",
    "AccessPlan",
    "access_plan",
    "derive_secret",
    "new_home_key",
    "resident_authid",
]

#: Roles a person or tool may ask a credential for (``resident.<flat>`` besides).
PEOPLE_ROLES = ("manager", "viewer", "operator")
#: Procedures a viewer and a resident may call besides device ``get`` / ``describe``.
_STATUS = (T.CLOCK_STATUS, T.LEDGER_STATUS)
_READ_RPCS = ("get", "describe")


@dataclass(frozen=True)
class Principal:
    """One identity of a realm: ``authid`` authenticates as ``role``."""

    authid: str
    role: str


@dataclass(frozen=True)
class AccessPlan:
    """The principals and roles of one home's realm (Crossbar role dicts, in order)."""

    realm: str
    principals: tuple[Principal, ...]
    roles: tuple[dict[str, Any], ...]

    def principal(self, authid: str) -> Principal:
        """The principal ``authid``; KeyError if the home has none of that name."""
        for p in self.principals:
            if p.authid == authid:
                return p
        raise KeyError(authid)

    def authids(self) -> list[str]:
        return [p.authid for p in self.principals]

    def realm_access(self, home_key: str, *, anonymous_role: str | None = None,
                     authenticator: dict[str, Any] | None = None) -> RealmAccess:
        """The router's view: every principal with its secret derived from ``home_key``."""
        users = {p.authid: (p.role, derive_secret(home_key, self.realm, p.authid))
                 for p in self.principals}
        return RealmAccess(self.realm, list(self.roles), users, anonymous_role, authenticator)


def resident_authid(flat: str) -> str:
    """The authid (and role) of the resident of ``flat``: ``resident.<flat>`` (a ``.`` cannot
    occur in a device name, so no device can take it)."""
    return f"{RESIDENT_ROLE_PREFIX}{flat}"


def _perm(uri: str, match: str = "exact", *, call: bool = False, register: bool = False,
          publish: bool = False, subscribe: bool = False,
          disclose: bool = False) -> dict[str, Any]:
    return {"uri": uri, "match": match,
            "allow": {"call": call, "register": register, "publish": publish,
                      "subscribe": subscribe},
            "disclose": {"caller": disclose, "publisher": disclose},
            "cache": True}


def _role(name: str, permissions: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return {"name": name, "permissions": list(permissions)}


def _device_role(name: str) -> dict[str, Any]:
    own = f"homesim.device.{name}."
    return _role(f"device.{name}", [
        _perm(own, "prefix", register=True, publish=True, subscribe=True, disclose=True),
        _perm("homesim.device.", "prefix", subscribe=True),  # the reports of its inputs
        _perm("homesim.clock.", "prefix", subscribe=True),
        # its own packets only (Crossbar applies the most specific rule: subscribe here too)
        _perm(T.packets(name), publish=True, subscribe=True, disclose=True),
        _perm(T.PACKETS_PREFIX, "prefix", subscribe=True),  # its publishers' packets
        _perm(T.SETTLE, publish=True, disclose=True),
        _perm(T.CLOCK_JOIN, call=True, disclose=True),  # recovery in place: where to begin
    ])


def access_plan(home: Home, *, tap: bool = False,
                authenticator: str | None = None) -> AccessPlan:
    """The principals and roles of ``home``'s realm (see the module docstring).

    Every enabled and disabled device gets a principal (a disabled device switched on later
    can join without a new configuration). Residents exist for the flats of a Block (devices
    that carry ``flat``). ``tap`` adds the ``tap`` principal (role ``viewer``).
    ``authenticator`` (a procedure URI: an external dynamic authenticator, Helm's
    ``auth.authenticator.procedure``) adds the principal ``authenticator``, whose role may
    register that one procedure and nothing else.
    """
    names = [d.name for d in home.spec.devices]
    rpc = T.rpc
    principals = [Principal(n, f"device.{n}") for n in names]
    principals += [Principal(CLOCK_AUTHID, "clock"), Principal("ledger", "ledger")]
    principals += [Principal(r, r) for r in PEOPLE_ROLES]
    if tap:
        principals.append(Principal("tap", "viewer"))
    roles = [_device_role(n) for n in names]
    roles.append(_role("clock", [
        _perm("homesim.clock.", "prefix", register=True, publish=True, subscribe=True,
              disclose=True),
        _perm(T.SETTLE, subscribe=True),
        _perm(T.PACKETS_PREFIX, "prefix", subscribe=True),
        _perm("homesim.device.", "prefix", subscribe=True),
        _perm("homesim.ledger.", "prefix", call=True),
        *(_perm(rpc(n, p), call=True)  # who has joined; home snapshots
          for n in names for p in ("describe", "snapshot")),
    ]))
    roles.append(_role("ledger", [
        _perm("homesim.", "prefix", subscribe=True),
        _perm(T.SETTLE, publish=True, subscribe=True, disclose=True),
        _perm("homesim.ledger.", "prefix", register=True, subscribe=True, disclose=True),
        _perm(T.CLOCK_JOIN, call=True, disclose=True),
    ]))
    roles.append(_role("manager", [
        _perm("homesim.", "prefix", call=True, subscribe=True, disclose=True),
    ]))
    roles.append(_role("viewer", [
        _perm("homesim.", "prefix", subscribe=True),
        *(_perm(uri, call=True, disclose=True) for uri in _STATUS),
        *(_perm(rpc(n, p), call=True, disclose=True) for n in names for p in _READ_RPCS),
    ]))
    roles.append(_role("operator", [
        _perm(T.CLOCK_STATUS, call=True, disclose=True),
        *(_perm(rpc(n, "set"), call=True, disclose=True) for n in names),
    ]))
    for flat, members in home.spec.by_flat(enabled_only=False).items():
        rid = resident_authid(flat)
        principals.append(Principal(rid, rid))
        roles.append(_role(rid, [
            # not the clock's status, progress or finished: they carry every flow's energy
            _perm(T.CONTROL, subscribe=True),
            _perm(T.meter(flat), call=True, disclose=True),
            *(_perm(rpc(n, p), call=True, disclose=True)
              for n in members for p in (*_READ_RPCS, "set")),
            *(_perm(uri, subscribe=True) for n in members
              for uri in (T.report(n), T.events(n))),
        ]))
    if authenticator:
        principals.append(Principal("authenticator", "authenticator"))
        roles.append(_role("authenticator", [_perm(authenticator, register=True)]))
    return AccessPlan(home.metadata.name, tuple(principals), tuple(roles))


def new_home_key() -> str:
    """A fresh random home key (256 bits, URL-safe base64)."""
    return secrets.token_urlsafe(32)


def derive_secret(home_key: str, realm: str, authid: str) -> str:
    """The secret of ``authid`` on ``realm``: HMAC-SHA256(home_key, realm NUL authid), URL-safe
    base64 without padding (43 characters). Raises ValueError for an empty key."""
    if not home_key:
        raise ValueError("the home key is empty")
    mac = hmac.new(home_key.encode(), f"{realm}\0{authid}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")
