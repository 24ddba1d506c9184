"""Run one homesim process: a device, the clock or the ledger.

    python -m homesim.devices <kind> --manifest home.yaml --device <name>
    python -m homesim.devices clock  --manifest home.yaml --run-id R
    python -m homesim.devices ledger --manifest home.yaml --run-id R --db ledger.sqlite
    python -m homesim.devices call --router rs://… --realm R PROCEDURE [JSON ARG …]

The router URL and realm come from --router/--realm or HOMESIM_ROUTER_URL/HOMESIM_REALM
(default: the home's name). The device id from --device or HOMESIM_DEVICE.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from homesim.devices.bus import lean_device_process
from homesim.schemas.registry import REGISTRY


def shell_class(kind: str) -> type:
    """The shell class of a device kind (from its descriptor, imported lazily)."""
    return REGISTRY.shell_class(kind)


def run_ticks(home) -> int:  # noqa: ANN001
    from homesim.schemas.manifest import parse_duration

    sim = home.spec.simulation
    return int(round(parse_duration(sim.duration) / sim.dt))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m homesim.devices", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("kind", choices=[*REGISTRY.names(), "clock", "ledger", "tap", "call"])
    p.add_argument("args", nargs="*", help="(call) procedure URI and JSON arguments")
    p.add_argument("--manifest", default=os.environ.get("HOMESIM_MANIFEST"),
                   help="Home manifest (YAML or JSON) [HOMESIM_MANIFEST]")
    p.add_argument("--device", default=os.environ.get("HOMESIM_DEVICE"),
                   help="device id [HOMESIM_DEVICE]")
    p.add_argument("--router", default=None, help="rs://host:port or ws://host:port/ws")
    p.add_argument("--realm", default=None)
    p.add_argument("--authid", default=None,
                   help="identity on the router [HOMESIM_AUTHID, else the device id]")
    p.add_argument("--secret-file", default=None,
                   help="file holding the identity's secret [HOMESIM_SECRET_FILE]")
    p.add_argument("--run-id", default=os.environ.get("HOMESIM_RUN_ID", "run"))
    p.add_argument("--db", default=os.environ.get("HOMESIM_LEDGER_DSN", "ledger.sqlite"),
                   help="(ledger) database: a SQLite file, or a postgresql:// URL (give it "
                        "in HOMESIM_LEDGER_DSN when it holds a password)")
    p.add_argument("--summary", type=Path, default=None, help="(ledger) summary JSON path")
    p.add_argument("--out", type=Path, default=None, help="(tap) JSON output path")
    p.add_argument("--restore", type=Path, default=None,
                   help="continue from this home snapshot (homesim.devices.bus.snapshot)")
    p.add_argument("--snapshot-every", type=int, default=0,
                   help="(clock) snapshot every this many windows (0: never)")
    p.add_argument("--snapshot-dir", type=Path, default=None,
                   help="(clock) where snapshots are written")
    p.add_argument("--allow-forks", action="store_true",
                   help="(clock) serve homesim.clock.fork: run forks with this Python's "
                        "homesim (homesim run)")
    p.add_argument("--window", type=int, default=None,
                   help="(clock) ticks per window at speed max (default: one day)")
    a = p.parse_intermixed_args(argv)
    # before anything imports autobahn: no unused serializers, cryptography, click, NVX
    lean_device_process(a.router or os.environ.get("HOMESIM_ROUTER_URL"))
    if a.kind == "call":
        return _call(a)
    if not a.manifest:
        p.error("--manifest (or HOMESIM_MANIFEST) is required")

    from homesim.devices.bus import inplace
    from homesim.devices.bus.runtime import (
        BusSettings,
        CredentialsError,
        serve,
        setup_logging,
    )
    from homesim.schemas.manifest import ManifestError, load_any

    name = a.device or a.kind
    setup_logging(name)
    try:
        home = load_any(a.manifest)
    except ManifestError as exc:
        print(exc, file=sys.stderr)
        return 2
    snap = None
    if a.restore is not None:
        from homesim.devices.bus.snapshot import SnapshotError, read_snapshot

        try:
            snap = read_snapshot(a.restore)
        except SnapshotError as exc:
            print(exc, file=sys.stderr)
            return 2
    try:
        settings = BusSettings.from_env(a.router, a.realm or os.environ.get("HOMESIM_REALM")
                                        or home.metadata.name, a.authid or name,
                                        a.secret_file)
    except CredentialsError as exc:
        print(exc, file=sys.stderr)
        return 2
    sim = home.spec.simulation
    if a.kind != "tap":  # every device, the clock and the ledger serve /metrics
        from homesim.devices.bus.metrics import start as start_metrics

        start_metrics(home.metadata.name, name, a.kind)

    if a.kind == "clock":
        from homesim.devices.bus.clock import Clock
        from homesim.devices.context import home_context

        ctx = home_context(home)
        clock = Clock(home, a.run_id, ctx.start, sim.dt, run_ticks(home), sim.speed,
                      sim.timeout, a.window, snapshot_every=a.snapshot_every,
                      snapshot_dir=a.snapshot_dir, restore=snap,
                      recover_in_place=inplace.enabled())
        if a.allow_forks:
            clock.fork_command = [sys.executable, "-m", "homesim.infra.cli"]
        code = serve(settings, "clock", clock.on_join)
        return code or (0 if clock.state == "finished" else 1)
    if a.kind == "ledger":
        from homesim.devices.bus.ledger import Ledger
        from homesim.devices.context import home_context

        ctx = home_context(home)
        led = Ledger(home, a.run_id, a.db, ctx.start, sim.dt, run_ticks(home), a.summary,
                     restore=snap)
        if not inplace.enabled():
            return serve(settings, "ledger", led.on_join, on_stop=led.finalize)

        def begin_ledger(bus: Any, reply: dict[str, Any]) -> Any:
            # forget what was booked from the epoch's window on (all of it for a fresh run);
            # a finished run's ledger only reads its totals back and keeps its summary
            led.restore_position(int(reply["window"]), int(reply["tick"]))
            if reply["status"] == "finished":
                led.keep_summary()
            return led.on_join(bus)

        return serve(settings, "ledger", inplace.joining("ledger", begin_ledger),
                     on_stop=led.finalize)

    if a.kind == "tap":
        from homesim.devices.bus.tap import Tap

        tap = Tap(a.out)
        return serve(settings, "tap", tap.on_join, on_stop=tap.write)

    from homesim.devices.bus.runtime import DeviceRunner

    if not a.device:
        p.error("--device (or HOMESIM_DEVICE) is required for a device")
    try:
        dev = home.spec.device(a.device)
    except KeyError:
        print(f"no device {a.device!r} in {a.manifest}", file=sys.stderr)
        return 2
    if dev.kind != a.kind:
        print(f"device {a.device!r} is a {dev.kind}, not a {a.kind}", file=sys.stderr)
        return 2
    shell = shell_class(a.kind)(home, a.device, seed=sim.seed)
    runner = DeviceRunner(shell)
    if snap is not None:
        saved = snap["devices"].get(a.device)
        if saved is None:
            print(f"the snapshot {a.restore} has no state of {a.device!r}", file=sys.stderr)
            return 2
        try:
            shell.load_state(saved["state"])
        except ValueError as exc:
            print(f"cannot restore {a.device!r} from {a.restore}: {exc}", file=sys.stderr)
            return 2
        runner.protocol.start_at(int(snap["window"]), int(snap["tick"]))
    shell.warm()  # what window 0 would import, now, while the router may still be starting
    if not inplace.enabled():
        return serve(settings, a.device, runner.on_join)
    device, seed, kind = a.device, sim.seed, a.kind

    def begin_device(bus: Any, reply: dict[str, Any]) -> Any:
        if reply["status"] == "finished":
            return None  # the run is over: idle
        run = runner
        if reply["status"] == "restore":  # the home as it was at the snapshot, and my state
            from homesim.schemas.manifest import parse_home

            at = parse_home(reply["manifest"], "the snapshot's manifest")
            sh = shell_class(kind)(at, device, seed=seed)
            sh.load_state(reply["state"])
            run = DeviceRunner(sh)
            run.protocol.start_at(int(reply["window"]), int(reply["tick"]))
        return run.on_join(bus)

    return serve(settings, a.device, inplace.joining(a.device, begin_device))


def _call(a: argparse.Namespace) -> int:
    """One RPC; print the result as JSON (exit 0) or the WAMP error (exit 1)."""
    import json

    from homesim.devices.bus.runtime import BusSettings, CredentialsError, setup_logging

    setup_logging("call")
    if not a.args:
        print("call needs a procedure URI", file=sys.stderr)
        return 2
    proc, *raw = a.args
    try:
        args = [json.loads(x) for x in raw]
    except json.JSONDecodeError as exc:
        print(f"arguments must be JSON: {exc}", file=sys.stderr)
        return 2
    from homesim.devices.kinds.base import argument_size_problem

    problem = argument_size_problem(args)
    if problem:  # refused here: beyond the router's message limit a call is never answered
        print(f"homesim.error.invalid_argument: {json.dumps({'reason': problem})}",
              file=sys.stderr)
        return 1
    try:
        base = BusSettings.from_env(a.router, a.realm, a.authid, a.secret_file)
    except CredentialsError as exc:
        print(exc, file=sys.stderr)
        return 2
    settings = BusSettings(router=base.router, realm=base.realm, authid=base.authid,
                           secret=base.secret, max_retries=3)
    from homesim.devices.bus.client import call

    return call(settings, proc, args)


if __name__ == "__main__":
    raise SystemExit(main())
