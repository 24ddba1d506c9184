"""``homesim resume``, ``homesim fork`` and ``homesim sweep`` (registered on the main app by
:mod:`homesim.infra.cli`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.markup import escape

err = Console(stderr=True, soft_wrap=True)
console = Console()


def _fail(text: str, code: int = 2) -> typer.Exit:
    err.print(f"[red]✗[/red] {escape(text)}")
    return typer.Exit(code)


def resume(
    run_dir: Annotated[Path, typer.Argument(help="The run folder of a stopped run")],
    speed: Annotated[str | None, typer.Option(help="realtime, 60x or max")] = None,
    snapshot_every: Annotated[int, typer.Option(min=1, help="Snapshot every N windows")] = 10,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar")] = False,
    no_report: Annotated[bool, typer.Option("--no-report", help="Skip report.html")] = False,
) -> None:
    """Continue a run that was stopped (Ctrl-C, kill -9, a crash) from its latest snapshot.

    Same run folder, run id and credentials; what the ledger booked after the snapshot is
    booked again, so the ledger ends as an undisturbed run's would.
    """
    from homesim.devices.bus.snapshot import SnapshotError, latest_snapshot, read_snapshot
    from homesim.infra.cli import execute_run
    from homesim.infra.supervisor import RunOptions
    from homesim.schemas.manifest import ManifestError, parse_home

    snap_path = latest_snapshot(run_dir / "snapshots")
    if snap_path is None:
        raise _fail(f"{run_dir} has no snapshot to resume from (runs keep them with "
                    "--snapshot-every N)")
    try:
        snap = read_snapshot(snap_path)
        home = parse_home(snap["manifest"], str(snap_path))
    except (SnapshotError, ManifestError) as exc:
        raise _fail(str(exc)) from None
    err.print(f"resuming {snap['run']} from {snap_path.name} (window {snap['window']}, "
              f"tick {snap['tick']})")
    opts = RunOptions(speed=speed, out=run_dir, restore=snap_path, run_id=str(snap["run"]),
                      snapshot_every=snapshot_every)
    execute_run(home, opts, quiet=quiet, no_report=no_report)


def _at_time(text: str, start: float) -> float:
    """``--at``: an ISO time (``2025-03-01T12:00``, local time without offset = UTC) or a
    duration after the run's start (``10d``) → seconds since the epoch."""
    from homesim.schemas.manifest import parse_duration

    try:
        return start + parse_duration(text)
    except (ValueError, TypeError):
        pass
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--at {text!r}: give a time (2025-03-01T12:00) or a duration after "
                         "the start (10d)") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.timestamp()


def fork(
    run_dir: Annotated[Path, typer.Argument(help="The run folder to fork from")],
    at: Annotated[str | None, typer.Option(
        help="Fork at the latest snapshot at or before this time: 2025-03-01T12:00 (UTC) or "
             "a duration after the start, e.g. 10d (default: the latest snapshot)")] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="DEVICE.PROPERTY=VALUE (repeatable), e.g. battery.capacity=18kWh")]
    = None,
    until: Annotated[str | None, typer.Option(
        help="Simulated duration from the original start, e.g. 30d (default: the run's)")]
    = None,
    speed: Annotated[str | None, typer.Option(help="realtime, 60x or max")] = "max",
    out: Annotated[Path | None, typer.Option(help="Run folder of the fork")] = None,
    snapshot: Annotated[Path | None, typer.Option(
        help="Fork from this snapshot file (instead of --at)")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the summary as JSON")] = False,
    no_report: Annotated[bool, typer.Option("--no-report", help="Skip report.html")] = False,
    ledger: Annotated[str | None, typer.Option(
        "--ledger", show_default=False,
        help="Where the fork books: postgresql://user@host:port/db (its own schema) or "
             "sqlite (FORK_DIR/ledger.sqlite). Default: where the original booked (its "
             "PostgreSQL server, the password from HOMESIM_LEDGER_DSN, PGPASSWORD or "
             "~/.pgpass)")] = None,
) -> None:
    """Run a home's future from a snapshot of a run, with settings changed.

    The fork starts from every device's state at the snapshot (stored energy, room
    temperatures, EV sessions, meters, …) with the --set changes applied, and books its own
    ledger from there on. A fork without --set books exactly what the original booked after
    the snapshot. Compare the two with `homesim compare RUN_DIR FORK_DIR`.
    """
    from homesim.devices.bus.snapshot import (
        SnapshotError,
        latest_snapshot,
        list_snapshots,
        read_snapshot,
        snapshot_at_or_before,
    )
    from homesim.devices.bus.store import is_postgres, run_ledger_dsn
    from homesim.infra.cli import execute_run
    from homesim.infra.supervisor import RunOptions
    from homesim.infra.whatif import SetError, fork_home, parse_set
    from homesim.schemas.manifest import ManifestError

    if ledger is not None and ledger != "sqlite" and not is_postgres(ledger):
        raise _fail("--ledger takes a postgresql:// URL or sqlite")
    dsn = run_ledger_dsn(run_dir) if ledger is None else None if ledger == "sqlite" else ledger
    folder = run_dir / "snapshots"
    if not list_snapshots(folder):
        raise _fail(f"{run_dir} has no snapshots (run it with --snapshot-every N)")
    try:
        if snapshot is not None:
            snap_path = snapshot
        elif at is None:
            snap_path = latest_snapshot(folder)
        else:
            first = read_snapshot(list_snapshots(folder)[0][1])
            start = float(first["sim_time"]) - float(first["tick"]) * float(
                first["manifest"]["spec"]["simulation"]["dt"])
            snap_path = snapshot_at_or_before(folder, _at_time(at, start))
            if snap_path is None:
                raise _fail(f"no snapshot at or before {at} (the first is at "
                            f"{datetime.fromtimestamp(first['sim_time'], UTC):%Y-%m-%d %H:%M} "
                            "UTC)")
        assert snap_path is not None
        snap = read_snapshot(snap_path)
        home = fork_home(snap, [parse_set(x) for x in set_ or []], until)
    except (SnapshotError, SetError, ValueError) as exc:
        if isinstance(exc, ManifestError):
            raise _fail("; ".join(f"{p}: {r}" for p, r in exc.errors)) from None
        raise _fail(str(exc)) from None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = out or Path("runs") / f"{home.metadata.name}-fork-{stamp}"
    err.print(f"forking {snap['run']} at {snap_path.name} (window {snap['window']}, "
              f"{datetime.fromtimestamp(snap['sim_time'], UTC):%Y-%m-%d %H:%M} UTC)"
              + (f" with {', '.join(set_)}" if set_ else ""))
    (Path(out)).mkdir(parents=True, exist_ok=True)
    (Path(out) / "fork.json").write_text(json.dumps(
        {"origin": str(run_dir.resolve()), "snapshot": str(snap_path.resolve()),
         "window": snap["window"], "tick": snap["tick"], "sim_time": snap["sim_time"],
         "set": list(set_ or [])}, indent=2))
    opts = RunOptions(speed=speed, out=out, restore=snap_path, snapshot_every=10, ledger=dsn)
    execute_run(home, opts, quiet=quiet, json_out=json_out, no_report=no_report)


def _default_jobs() -> int:
    """Variants at once: one per core, at most one per 3 GiB available (a home's processes
    take ~1.5-2 GiB, measured: homesim.infra.supervisor.RSS_PER_PROCESS)."""
    import psutil

    cores = os.cpu_count() or 1
    mem = psutil.virtual_memory().available
    return max(1, min(cores, int(mem // (3 * 2**30))))


def sweep(
    manifest: Annotated[Path, typer.Argument(help="Home or Block manifest (YAML)")],
    set_: Annotated[list[str], typer.Option(
        "--set", help="DEVICE.PROPERTY=V1,V2,… (repeatable; the variants are every "
                      "combination), e.g. battery.capacity=18000000,36000000 or 5kWh,10kWh")],
    until: Annotated[str | None, typer.Option(help="Simulated duration, e.g. 30d")] = None,
    dt: Annotated[str | None, typer.Option(help="Tick length \\[s], e.g. 300 or 5min")] = None,
    jobs: Annotated[int | None, typer.Option(
        min=1, help="Variants run at once (default: what cores and memory allow)")] = None,
    out: Annotated[Path | None, typer.Option(help="Output folder")] = None,
) -> None:
    """Run variants of a home side by side and compare them.

    Each variant is a full `homesim run` (its own router and processes) in
    OUT/variants/NN/. OUT/comparison.json holds {"variants": [{"set": {...}, "summary":
    {...}}]} and OUT/comparison.html the KPI table and the runs overlaid.
    """
    from homesim.infra.preflight import load_checked
    from homesim.infra.whatif import SetError, apply_sets, parse_sweep_set, variants
    from homesim.schemas.manifest import ManifestError, parse_home

    try:
        home = load_checked(manifest, {"until": until, "dt": dt})
        sets = [parse_sweep_set(x) for x in set_]
        combos = variants(sets)
        base = home.model_dump(mode="json")
        homes = [parse_home(apply_sets(base, c), f"variant {i}") for i, c in enumerate(combos)]
    except SetError as exc:
        raise _fail(str(exc)) from None
    except ManifestError as exc:
        raise _fail("; ".join(f"{p}: {r}" for p, r in exc.errors)) from None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = (out or Path("runs") / f"{home.metadata.name}-sweep-{stamp}").resolve()
    jobs = jobs or _default_jobs()
    err.print(f"{len(homes)} variant(s), {jobs} at a time, into {out}")
    dirs = []
    for i, h in enumerate(homes):
        d = out / "variants" / f"{i:02d}"
        d.mkdir(parents=True, exist_ok=True)
        (d / "variant.yaml").write_text(yaml.safe_dump(h.model_dump(mode="json"),
                                                       sort_keys=False))
        dirs.append(d)

    def one(i: int) -> tuple[int, int, float]:
        t0 = time.monotonic()
        d = dirs[i]
        cmd = [sys.executable, "-m", "homesim.infra.cli", "run", str(d / "variant.yaml"),
               "--out", str(d / "run"), "-q", "--no-report", "--speed", "max"]
        with open(d / "run.log", "wb") as log:
            code = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT).returncode
        return i, code, time.monotonic() - t0

    t0 = time.monotonic()
    results: dict[int, tuple[int, float]] = {}
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for i, code, secs in pool.map(one, range(len(homes))):
            results[i] = (code, secs)
            label = ", ".join(f"{d}.{p}={v}" for d, p, v in combos[i]) or "base"
            mark = "[green]✓[/green]" if code == 0 else "[red]✗[/red]"
            err.print(f"{mark} variant {i:02d} ({escape(label)}) in {secs:.1f} s")
    wall = time.monotonic() - t0
    variants_out: list[dict[str, Any]] = []
    for i, c in enumerate(combos):
        summary_path = dirs[i] / "run" / "summary.json"
        summary = json.loads(summary_path.read_text()) if summary_path.exists() else None
        variants_out.append({"set": {f"{d}.{p}": v for d, p, v in c},
                             "run_dir": str(dirs[i] / "run"), "ok": results[i][0] == 0,
                             "wall_seconds": round(results[i][1], 2), "summary": summary})
    doc = {"manifest": str(manifest.resolve()), "jobs": jobs, "wall_seconds": round(wall, 2),
           "variants": variants_out}
    (out / "comparison.json").write_text(json.dumps(doc, indent=2))
    ok_dirs = [dirs[i] / "run" for i in range(len(homes)) if results[i][0] == 0]
    if len(ok_dirs) >= 1:
        try:
            from homesim.infra.analysis.compare import compare_runs, write_comparison_html

            write_comparison_html(compare_runs(ok_dirs), out / "comparison.html")
        except Exception as exc:  # noqa: BLE001 - the JSON stands without the page
            err.print(f"[yellow]comparison.html not written:[/yellow] {escape(str(exc))}")
    console.print(f"comparison: {out / 'comparison.json'} ({wall:.1f} s wall)")
    failed = [i for i, (code, _) in results.items() if code != 0]
    if failed:
        raise _fail(f"variant(s) {', '.join(f'{i:02d}' for i in failed)} failed: see "
                    f"{out / 'variants'}/NN/run.log", 1)
