"""Push live property changes to running devices (through ``python -m homesim.devices call``,
so the operator process itself never imports autobahn)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

Change = tuple[str, str, Any]


def push(changes: list[Change], router_url: str, realm: str,
         timeout: float = 10.0) -> tuple[list[Change], list[Change]]:
    """Call ``homesim.device.<d>.set(name, value)`` for each change; return (ok, failed)."""
    ok, failed = [], []
    for device, name, value in changes:
        cmd = [sys.executable, "-m", "homesim.devices", "call", "--router", router_url,
               "--realm", realm, f"homesim.device.{device}.set",
               json.dumps(name), json.dumps(value)]
        try:
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                 cwd="/")
        except subprocess.TimeoutExpired:
            failed.append((device, name, value))
            continue
        (ok if res.returncode == 0 else failed).append((device, name, value))
    return ok, failed


def _reachable(router_url: str, timeout: float = 0.5) -> bool:
    """Whether the router's TCP port accepts connections (cheap check before a call)."""
    import socket
    from urllib.parse import urlparse

    u = urlparse(router_url)
    try:
        with socket.create_connection((u.hostname or "127.0.0.1", u.port or 8081), timeout):
            return True
    except OSError:
        return False


def clock_status(router_url: str, realm: str, timeout: float = 10.0) -> dict[str, Any] | None:
    """The home's ``homesim.clock.status``, or None if the router or clock is not there."""
    if not _reachable(router_url):
        return None
    cmd = [sys.executable, "-m", "homesim.devices", "call", "--router", router_url,
           "--realm", realm, "homesim.clock.status"]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd="/")
    except subprocess.TimeoutExpired:
        return None
    if res.returncode != 0:
        return None
    try:
        return json.loads(res.stdout)
    except json.JSONDecodeError:
        return None
