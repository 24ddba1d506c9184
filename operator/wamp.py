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
