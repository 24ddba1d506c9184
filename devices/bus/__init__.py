"""The bus runtime: WAMP adapter, clock, ledger, metrics (the only code importing autobahn).

Lean imports (issue 16): a device process imports autobahn without the parts of it homesim
never uses. :func:`lean_autobahn` (every process that imports :mod:`.runtime`) skips the
unused serializers and defers ``cryptography``; :func:`lean_device_process` (only
``python -m homesim.devices``, before its first autobahn import) also leaves out optional
packages a device process has no use for. Each is measured in ``tests/test_lean_imports.py``.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

#: Serializers autobahn loads whenever they are installed, which no homesim process uses (it
#: speaks msgpack over rawsocket, JSON over WebSocket). Marked absent before autobahn is first
#: imported, autobahn skips them (~45 modules and ~2 MiB less per process); ``_bjdata`` (the
#: C part of bjdata) would also print a NumPy 1.x/2.x notice.
UNUSED_SERIALIZERS = ("cbor2", "bjdata", "_bjdata", "autobahn.flatbuffers")

#: Optional packages autobahn imports when installed that a device process never uses:
#: ``click`` (autobahn.util colours console text with it). Marked absent by
#: :func:`lean_device_process` (~12 modules, ~1 MiB).
UNUSED_IN_DEVICES = ("click",)

#: autobahn's native WebSocket helpers (CFFI: UTF-8 validation, XOR masking). Over rawsocket
#: there are no WebSocket frames: :func:`lean_device_process` marks them absent (autobahn then
#: reports ``HAS_NVX = False``) when the router URL is ``rs://`` (~1.7 MiB, cffi and
#: pycparser not loaded). A ``ws://`` client keeps them.
NVX_MODULES = ("_nvx_utf8validator", "_nvx_xormasker")

#: The router URL when neither ``--router`` nor ``HOMESIM_ROUTER_URL`` gives one.
DEFAULT_ROUTER = "rs://127.0.0.1:8081"

#: What ``autobahn.wamp.auth`` imports from ``cryptography`` at its top (module → names).
#: Only its ``pbkdf2`` uses them: WAMP-CRA with a *salted* secret, which homesim's routers
#: never configure (our secrets are random tokens; the challenge's HMAC-SHA256 is hashlib's).
_AUTH_CRYPTO: dict[str, dict[str, tuple[str, str | None]]] = {
    "cryptography.hazmat.backends": {
        "default_backend": ("cryptography.hazmat.backends", "default_backend")},
    "cryptography.hazmat.primitives": {
        "hashes": ("cryptography.hazmat.primitives.hashes", None)},
    "cryptography.hazmat.primitives.kdf.pbkdf2": {
        "PBKDF2HMAC": ("cryptography.hazmat.primitives.kdf.pbkdf2", "PBKDF2HMAC")},
}


def skip_unused_serializers() -> None:
    """Mark :data:`UNUSED_SERIALIZERS` absent (call before autobahn is imported)."""
    for name in UNUSED_SERIALIZERS:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]


class OnFirstUse:
    """Stands for ``module`` (``attr`` None) or ``module.attr``: imports it when first used
    (called, or an attribute read), then behaves as it."""

    def __init__(self, module: str, attr: str | None = None) -> None:
        self._where = (module, attr)

    def _target(self) -> Any:
        module, attr = self._where
        mod = importlib.import_module(module)
        return mod if attr is None else getattr(mod, attr)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._target()(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._target(), name)

    def __repr__(self) -> str:
        module, attr = self._where
        return f"<{module}{'.' + attr if attr else ''}, imported on first use>"


def defer_cryptography() -> bool:
    """Import ``autobahn.wamp.auth`` without importing ``cryptography`` (~11 modules and its
    OpenSSL bindings, ~6.5 MiB per process).

    autobahn imports ``cryptography`` at the top of ``autobahn.wamp.auth`` (every WAMP client
    imports it) but uses it only to derive a salted WAMP-CRA key. While ``autobahn.wamp.auth``
    is imported, the three ``cryptography`` modules it names are stand-ins whose members are
    :class:`OnFirstUse`; the stand-ins are removed right after, so ``autobahn.wamp.auth``
    keeps the proxies (a salted key still works: it imports the real ``cryptography`` then)
    and any other import of ``cryptography`` gets the real package.

    Returns whether ``autobahn.wamp.auth`` was imported this way; False (nothing done) if it,
    or ``cryptography``, was imported already. If autobahn's imports no longer match
    :data:`_AUTH_CRYPTO`, ``autobahn.wamp.auth`` is imported the ordinary way (False).
    """
    if "autobahn.wamp.auth" in sys.modules or "cryptography" in sys.modules:
        return False
    stand_ins = {}
    for name, members in _AUTH_CRYPTO.items():
        mod = types.ModuleType(name, "stand-in: see homesim.devices.bus.defer_cryptography")
        for member, (module, attr) in members.items():
            setattr(mod, member, OnFirstUse(module, attr))
        stand_ins[name] = mod
    sys.modules.update(stand_ins)
    try:
        importlib.import_module("autobahn.wamp.auth")
        deferred = True
    except ImportError:  # autobahn changed: import it the ordinary way
        sys.modules.pop("autobahn.wamp.auth", None)
        deferred = False
    finally:
        for name, mod in stand_ins.items():
            if sys.modules.get(name) is mod:
                del sys.modules[name]
    if not deferred:
        importlib.import_module("autobahn.wamp.auth")
    return deferred


def lean_autobahn() -> None:
    """Skip autobahn's unused serializers and defer ``cryptography`` (call before autobahn
    is first imported; :mod:`.runtime` does)."""
    skip_unused_serializers()
    defer_cryptography()


def lean_device_process(router: str | None) -> None:
    """What a device, clock or ledger process leaves out before importing autobahn: see
    :func:`lean_autobahn`, :data:`UNUSED_IN_DEVICES` and (``router`` a ``rs://`` URL, or
    None: :data:`DEFAULT_ROUTER`) :data:`NVX_MODULES`.

    Only for the process's entry point: it makes these packages unimportable in the process.
    """
    for name in UNUSED_IN_DEVICES:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]
    if (router or DEFAULT_ROUTER).startswith("rs"):
        for name in NVX_MODULES:
            sys.modules.setdefault(name, None)  # type: ignore[arg-type]
    lean_autobahn()
