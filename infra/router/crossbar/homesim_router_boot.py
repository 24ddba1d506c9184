"""Start-up hook of homesim's Crossbar router venv (installed there, never imported by homesim).

`homesim.infra.router.ensure_router_env` copies this file and `homesim_router_boot.pth` into
the router venv's site-packages. The `.pth` line (`import homesim_router_boot`) runs in every
Python process of that venv - the Crossbar controller *and* the router worker processes it
spawns (`python -m crossbar.worker.main`), which is why this is not a wrapper script.

It does two things and must stay tiny (it also runs for `pip`):

1. **TCP_NODELAY on every accepted TCP socket.** Crossbar 26.10 leaves Nagle's algorithm on
   for router-side sockets: autobahn's Twisted WebSocket `connectionMade` reads
   `self.tcpNoDelay` before the factory options are copied onto the protocol (the
   AttributeError is swallowed) and the Twisted RawSocket transport never sets it. Paced
   request/response traffic then stalls ~40 ms on Nagle + the peer's delayed ACK. We wrap
   `twisted.internet.tcp.Server.__init__` (the transport Twisted builds for each `accept()`,
   also the base of TLS and UNIX server transports) so the socket gets TCP_NODELAY before the
   protocol sees it. Twisted is *not* imported here: a one-shot `sys.meta_path` hook patches
   `twisted.internet.tcp` right after it is first imported. Disable with
   `HOMESIM_ROUTER_NODELAY=0` (for benchmarks).

2. **Quiet bjdata.** `autobahn.wamp.serializer` imports `bjdata` (UBJSON), whose C extension
   `_bjdata` is built against NumPy 1.x; under NumPy 2.x importing it prints a long "compiled
   using NumPy 1.x" notice + traceback straight to stderr (not a `warnings` warning, so a
   warnings filter cannot hide it). We mark `_bjdata` as absent, so bjdata falls back to its
   pure-Python codec: UBJSON still works, nothing is printed. homesim uses msgpack and JSON.
"""

import os
import sys

NODELAY_ENV = "HOMESIM_ROUTER_NODELAY"
PATCHED_ATTR = "_homesim_nodelay"


def nodelay_enabled() -> bool:
    return os.environ.get(NODELAY_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def patch_twisted_tcp(tcp) -> None:
    """Make `tcp.Server` (every accepted TCP connection) set TCP_NODELAY. Idempotent."""
    import socket

    original = tcp.Server.__init__
    if getattr(original, PATCHED_ATTR, False):
        return

    def init_with_nodelay(self, sock, *args, **kwargs):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:  # e.g. the peer already reset the connection
                pass
        original(self, sock, *args, **kwargs)

    init_with_nodelay.__wrapped__ = original
    init_with_nodelay.__doc__ = original.__doc__
    setattr(init_with_nodelay, PATCHED_ATTR, True)
    tcp.Server.__init__ = init_with_nodelay


class _PatchOnImport:
    """One-shot meta path hook: patch `twisted.internet.tcp` right after it is executed."""

    target = "twisted.internet.tcp"

    @classmethod
    def find_spec(cls, fullname, path=None, target=None):
        if fullname != cls.target:
            return None
        if cls in sys.meta_path:
            sys.meta_path.remove(cls)
        for finder in sys.meta_path:
            find_spec = getattr(finder, "find_spec", None)
            spec = find_spec(fullname, path, target) if find_spec else None
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        exec_module = getattr(loader, "exec_module", None)
        if exec_module is None:
            return spec

        def exec_and_patch(module):
            exec_module(module)
            try:
                patch_twisted_tcp(module)
            except Exception as exc:  # never break the router over an optimisation
                sys.stderr.write(f"homesim_router_boot: TCP_NODELAY patch failed: {exc!r}\n")

        loader.exec_module = exec_and_patch
        return spec


def install() -> None:
    sys.modules.setdefault("_bjdata", None)
    if not nodelay_enabled():
        return
    tcp = sys.modules.get(_PatchOnImport.target)
    if tcp is not None:
        patch_twisted_tcp(tcp)
    elif _PatchOnImport not in sys.meta_path:
        sys.meta_path.insert(0, _PatchOnImport)


install()
