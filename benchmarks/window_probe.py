"""A probe on a run's bus: when does each ``homesim.clock.window`` arrive (for scale.py).

    python benchmarks/window_probe.py RUN_DIR OUT.json

Waits for the run's router and viewer credential (``RUN_DIR/router.json``,
``RUN_DIR/secrets/viewer``), joins as the viewer over RawSocket/msgpack (as devices do) and
records, for every window message, ``time.monotonic()`` at arrival [s] (CLOCK_MONOTONIC: one
clock for every process of the machine) with the window's ``tick0``, ``n`` and ``dt``. Writes
``{"arrivals": [[monotonic, tick0, n, dt], ...]}`` when the clock publishes
``homesim.clock.finished``, or on SIGTERM.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any


def wait_for(run_dir: Path, timeout: float = 300.0) -> None:
    """Wait until the run's router and viewer credential exist [s] (SystemExit on timeout)."""
    t0 = time.monotonic()
    while not ((run_dir / "router.json").exists() and (run_dir / "secrets" / "viewer").exists()):
        if time.monotonic() - t0 > timeout:
            raise SystemExit(f"{run_dir}: no router after {timeout:g} s")
        time.sleep(0.05)


def main() -> int:
    run_dir, out = Path(sys.argv[1]), Path(sys.argv[2])
    wait_for(run_dir)
    from homesim.devices.bus.runtime import Bus, BusSettings, serve, stop_soon
    from homesim.infra.credentials import credential_for
    from homesim.schemas.topics import T

    cred = credential_for(run_dir, "viewer")
    settings = BusSettings(router=cred.rs_url, realm=cred.realm, authid=cred.authid,
                           secret=cred.secret, max_retries=40)
    arrivals: list[list[float]] = []
    written = {"done": False}

    def write() -> None:
        if not written["done"]:
            written["done"] = True
            out.write_text(json.dumps({"arrivals": arrivals}))

    def on_window(msg: dict[str, Any]) -> None:
        arrivals.append([time.monotonic(), float(msg["tick0"]), float(msg["n"]),
                         float(msg["dt"])])

    def on_finished(msg: dict[str, Any]) -> None:
        write()
        stop_soon(0, 0)

    def on_join(bus: Bus) -> Any:
        bus.subscribe(T.WINDOW, on_window)
        return bus.subscribe(T.FINISHED, on_finished)

    code = serve(settings, "window-probe", on_join, on_stop=write)
    write()
    return code


if __name__ == "__main__":
    sys.exit(main())
