"""Push live property changes to running devices, read the clock's status (through
``python -m homesim.devices call``, so the operator process itself never imports autobahn).

Each call joins the home's own router as the ``operator`` identity with WAMP-CRA: its secret
is written to a private temporary file (0600) for the ``call`` subprocess, and deleted when
the call returns. The secret is never on a command line, in the environment or in a log.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

__all__ = ["Change", "clock_status", "push", "reachable"]

Change = tuple[str, str, Any]
#: Variables a ``call`` subprocess must not inherit (they would override --authid and
#: --secret-file).
_CREDENTIAL_ENV = ("HOMESIM_AUTHID", "HOMESIM_SECRET_FILE")


@contextlib.contextmanager
def secret_file(secret: str) -> Iterator[str]:
    """A private temporary file (0600, removed on exit) holding ``secret``; its path.

    Raises OSError if the temporary directory is not writable."""
    fd, path = tempfile.mkstemp(prefix="homesim-operator-", suffix=".secret")
    try:
        with os.fdopen(fd, "w") as fh:  # mkstemp: O_EXCL, mode 0600
            fh.write(secret + "\n")
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def _call(router_url: str, realm: str, authid: str, path: str, procedure: str,
          args: list[Any], timeout: float) -> subprocess.CompletedProcess[str] | None:
    cmd = [sys.executable, "-m", "homesim.devices", "call", "--router", router_url,
           "--realm", realm, "--authid", authid, "--secret-file", path, procedure,
           *(json.dumps(a) for a in args)]
    env = {k: v for k, v in os.environ.items() if k not in _CREDENTIAL_ENV}
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd="/",
                              env=env)
    except subprocess.TimeoutExpired:
        return None


def push(changes: list[Change], router_url: str, realm: str, authid: str, secret: str,
         timeout: float = 10.0) -> tuple[list[Change], list[Change]]:
    """Call ``homesim.device.<d>.set(name, value)`` for each change as ``authid``; return
    (ok, failed). Never raises for an unreachable router or a refused call (they are
    ``failed``); OSError if no temporary file can be written."""
    ok, failed = [], []
    with secret_file(secret) as path:
        for device, name, value in changes:
            res = _call(router_url, realm, authid, path, f"homesim.device.{device}.set",
                        [name, value], timeout)
            (ok if res is not None and res.returncode == 0 else failed).append(
                (device, name, value))
    return ok, failed


def reachable(router_url: str, timeout: float = 0.5) -> bool:
    """Whether the router's TCP port accepts connections (cheap check before a call)."""
    import socket
    from urllib.parse import urlparse

    u = urlparse(router_url)
    try:
        with socket.create_connection((u.hostname or "127.0.0.1", u.port or 8081), timeout):
            return True
    except OSError:
        return False


def clock_status(router_url: str, realm: str, authid: str, secret: str,
                 timeout: float = 10.0) -> dict[str, Any] | None:
    """The home's ``homesim.clock.status`` (called as ``authid``), or None if the router or
    the clock is not there or the call is refused. Never raises but OSError (no temporary
    file)."""
    if not reachable(router_url):
        return None
    with secret_file(secret) as path:
        res = _call(router_url, realm, authid, path, "homesim.clock.status", [], timeout)
    if res is None or res.returncode != 0:
        return None
    try:
        out = json.loads(res.stdout)
    except json.JSONDecodeError:
        return None
    return out if isinstance(out, dict) else None
