"""``homesim run``: one Crossbar router, one OS process per device, the clock and the ledger.

The supervisor writes the resolved manifest into the run folder, spawns every process in a
session of its own (so Ctrl-C reaches only the supervisor, which then stops everyone with
SIGTERM, SIGKILL after a grace period), reads the clock's JSON lines for the progress bar,
and stops the run with a message naming any process that exits early.

Run folder: ``manifest.yaml`` (resolved), ``ledger.sqlite``, ``summary.json``, ``logs/``.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import math
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from homesim.devices.bus.snapshot import latest_snapshot, read_snapshot
from homesim.devices.bus.store import (
    DSN_ENV,
    PG_POINTER,
    pg_schema,
    run_ledger_dsn,
    without_password,
)
from homesim.infra.credentials import read_home_key, write_run_secrets
from homesim.infra.router.access import access_plan, new_home_key
from homesim.schemas.manifest import Home, Location, parse_duration

__all__ = ["RunOptions", "RunResult", "prepare_home", "run_home", "summary_problem",
           "SUMMARY_REL_TOL", "footprint", "check_footprint", "TooLarge"]

#: Largest relative conservation residual (|residual| / energy in, summed over the run, worst
#: node) a finished run may report and still count as a success. The ledger already fails
#: any tick beyond max(1e-3 J, 1e-6 × throughput); this is the run-level check of the
#: summary it wrote (which also catches NaN and missing figures).
SUMMARY_REL_TOL = 1e-4


@dataclass
class RunOptions:
    """Options of ``homesim run`` (None = the manifest's value)."""

    until: str | None = None
    dt: float | None = None
    speed: str | None = None
    seed: int | None = None
    timeout: float | None = None
    window: int | None = None
    out: Path | None = None
    tap: Path | None = None  # count every bus message into this JSON file
    router_url: str | None = None  # use a running router instead of starting one
    ws_url: str | None = None
    # the key every secret derives from (default: a fresh one; give the one of a router that
    # is already running with --router)
    home_key: str | None = field(default=None, repr=False)
    # opt-in: unauthenticated clients may join the loopback WebSocket with this role
    anonymous: str | None = None
    # a home snapshot every this many windows into RUN_DIR/snapshots (0: none)
    snapshot_every: int = 10
    # continue from this snapshot (homesim resume: in its own run folder, same run id and
    # ledger file; homesim fork: a new run folder and ledger)
    restore: Path | None = None
    run_id: str | None = None  # keep this run id (resume)
    # a process (or the router) that dies is recovered from the latest snapshot: every
    # process restarts from it, the ledger books again from there (at most this many times)
    max_recoveries: int = 3
    # book into PostgreSQL (a postgresql:// URL, password included or found by libpq) rather
    # than RUN_DIR/ledger.sqlite; only the ledger process sees it, in its environment
    ledger: str | None = field(default=None, repr=False)


@dataclass
class RunResult:
    ok: bool
    message: str
    run_dir: Path
    summary: dict[str, Any] | None = None
    failed: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0
    router_ws: str | None = None
    snapshots: list[dict[str, Any]] = field(default_factory=list)
    recoveries: list[dict[str, Any]] = field(default_factory=list)


def prepare_home(home: Home, opts: RunOptions) -> Home:
    """Apply command-line overrides and resolve the location (from the weather file if absent).

    Raises
    ------
    ValueError
        If an override is invalid (e.g. ``--until`` not a duration).
    """
    from homesim.devices.context import home_context

    data = home.model_dump(mode="json", exclude_none=False)
    sim = data["spec"]["simulation"]
    if opts.until is not None:
        parse_duration(opts.until)
        sim["duration"] = opts.until
    if opts.dt is not None:
        sim["dt"] = opts.dt
    if opts.speed is not None:
        sim["speed"] = opts.speed
    if opts.seed is not None:
        sim["seed"] = opts.seed
    if opts.timeout is not None:
        sim["timeout"] = opts.timeout
    new = Home.model_validate(data)
    ctx = home_context(new)
    new.spec.location = Location(latitude=ctx.latitude, longitude=ctx.longitude,
                                 altitude=ctx.altitude, timezone=ctx.tz)
    return Home.model_validate(new.model_dump(mode="json"))


class _Proc:
    def __init__(self, name: str, kind: str, popen: subprocess.Popen, log: Path) -> None:
        self.name, self.kind, self.popen, self.log = name, kind, popen, log


def _has_children(pid: int) -> bool:
    """Whether process ``pid`` has child processes (the clock's live forks)."""
    import psutil

    try:
        return bool(psutil.Process(pid).children())
    except psutil.Error:
        return False


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


def _log_tail(path: Path, lines: int = 8) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(text[-lines:])


#: Peak resident memory per process, measured here (2 cores; every device process imports
#: pandas and pvlib): device processes 74–221 MiB, the router ~230 MiB; the estimate uses a
#: device average and the router's peak plus a little per connected session.
RSS_PER_PROCESS = 160 * 2**20
RSS_ROUTER = 250 * 2**20
RSS_ROUTER_PER_SESSION = 2 * 2**20
#: Fraction of the available memory a run may plan to use.
MEMORY_SHARE = 0.8


class TooLarge(RuntimeError):
    """A home needs more processes or memory than this machine has (refused before start)."""


def footprint(home: Home) -> tuple[int, int]:
    """``(processes, bytes)`` a local run of ``home`` needs: one process per enabled device,
    the clock, the ledger and the router [B] (estimate from the measured peaks above)."""
    procs = len(home.spec.enabled()) + 2
    return procs + 1, procs * RSS_PER_PROCESS + RSS_ROUTER + procs * RSS_ROUTER_PER_SESSION


def check_footprint(home: Home, available: int | None = None) -> None:
    """Refuse, before anything starts, a home that cannot fit this machine.

    ``available`` [B] defaults to ``HOMESIM_MEMORY_LIMIT`` (bytes; e.g. a container's limit)
    or else the memory the kernel reports available.

    Raises
    ------
    TooLarge
        If the estimate exceeds ``MEMORY_SHARE`` of what is available; the message gives
        both and what to do.
    """
    import psutil

    if available is None:
        env = os.environ.get("HOMESIM_MEMORY_LIMIT")
        available = int(float(env)) if env else int(psutil.virtual_memory().available)
    procs, need = footprint(home)
    if need > MEMORY_SHARE * available:
        gib = 2**30
        raise TooLarge(
            f"this home needs about {procs} processes and {need / gib:.1f} GiB "
            f"(~{RSS_PER_PROCESS / 2**20:.0f} MiB per device process, measured), but only "
            f"{available / gib:.1f} GiB are available ({MEMORY_SHARE:.0%} may be planned): "
            "disable devices (enabled: false), split the home, or run it on Kubernetes "
            "where each device is its own pod")


def kill_leftovers(run_dir: Path) -> int:
    """Kill what is left of an earlier supervisor of ``run_dir`` (e.g. one killed with
    SIGKILL: its processes live in their own sessions): every process of this user whose
    command line names a file in the run folder or whose working directory is in it (the
    device processes run there; Crossbar renames its processes but runs in ``.crossbar``).
    Returns how many were killed."""
    import psutil

    root = str(Path(run_dir).resolve())
    mark = root + os.sep
    me = os.getpid()
    victims = []
    for p in psutil.process_iter(["pid", "cmdline", "uids", "cwd"]):
        try:
            if p.info["pid"] == me or p.info["uids"] is None or \
                    p.info["uids"].real != os.getuid():
                continue
            cwd = str(p.info["cwd"] or "")
            if any(mark in str(a) for a in p.info["cmdline"] or ()) or cwd == root \
                    or cwd.startswith(mark):
                victims.append(p)
        except (psutil.Error, TypeError):
            continue
    for p in victims:
        with contextlib.suppress(psutil.Error):
            p.kill()
    psutil.wait_procs(victims, timeout=5)
    return len(victims)


def run_home(home: Home, opts: RunOptions,
             on_progress: Callable[[dict[str, Any]], None] | None = None,
             on_phase: Callable[[str], None] | None = None) -> RunResult:
    """Run a home to the end (or to the first failure) and return the result.

    ``on_progress`` receives the clock's progress dicts; ``on_phase`` short status texts.
    """
    from homesim.infra import router as rt

    say = on_phase or (lambda s: None)
    t0 = time.monotonic()
    home = prepare_home(home, opts)
    check_footprint(home)
    name = home.metadata.name
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    run_id = opts.run_id or f"{name}-{stamp}"
    run_dir = (Path(opts.out) if opts.out else Path("runs") / run_id).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    logs = run_dir / "logs"
    logs.mkdir(exist_ok=True)
    resuming = opts.restore is not None and opts.run_id is not None
    if resuming:
        left = kill_leftovers(run_dir)
        if left:
            say(f"stopped {left} process(es) left over from the interrupted run")
    stale_files = ["summary.json"]
    if not resuming:  # a resumed run continues its ledger file (booked windows stay)
        stale_files += ["ledger.sqlite", "ledger.sqlite-wal", "ledger.sqlite-shm", PG_POINTER]
    for stale in stale_files:
        (run_dir / stale).unlink(missing_ok=True)
    ledger_dsn = opts.ledger
    pointer = run_dir / PG_POINTER
    if ledger_dsn is None and resuming:  # it goes on in PostgreSQL if it booked there
        ledger_dsn = run_ledger_dsn(run_dir)
    if ledger_dsn:  # where readers (report, export) find it: the URL without its password
        pointer.touch(mode=0o600)
        pointer.write_text(json.dumps({"dsn": without_password(ledger_dsn)[0],
                                       "schema": pg_schema(name, run_id)}, indent=2))
    restore_args = ["--restore", str(Path(opts.restore).resolve())] if opts.restore else []
    manifest = run_dir / "manifest.yaml"
    manifest.write_text(yaml.safe_dump(home.model_dump(mode="json"), sort_keys=False))

    router: Any = None
    if opts.router_url:
        rs_url, ws_url = opts.router_url, opts.ws_url
    else:
        say("preparing the router environment")
        python = rt.ensure_router_env(progress=say)
        ws_port, rs_port = rt.free_ports("127.0.0.1", 2)
        rs_url = f"rs://127.0.0.1:{rs_port}"
        ws_url = f"ws://127.0.0.1:{ws_port}{rt.WS_PATH}"

    (run_dir / "router.json").write_text(json.dumps(
        {"ws_url": ws_url, "rs_url": rs_url, "realm": name}, indent=2))
    say(f"router {ws_url} realm {name}")
    plan = access_plan(home, tap=bool(opts.tap))
    home_key = opts.home_key or (read_home_key(run_dir) if resuming else None) or new_home_key()
    secrets = write_run_secrets(run_dir, plan, home_key)
    access = plan.realm_access(home_key, anonymous_role=opts.anonymous)
    targets = write_prometheus_config(run_dir)
    env = dict(os.environ, HOMESIM_ROUTER_URL=rs_url, HOMESIM_REALM=name,
               HOMESIM_RUN_ID=run_id, PYTHONUNBUFFERED="1",
               HOMESIM_METRICS_DIR=str(targets))
    env.pop("HOMESIM_METRICS_PORT", None)  # many processes on one host: each picks a free port
    for var in ("HOMESIM_AUTHID", "HOMESIM_SECRET_FILE", DSN_ENV):  # each process its own
        env.pop(var, None)
    procs: list[_Proc] = []

    def spawn(kind: str, dev: str, extra: list[str], stdout: Any = None) -> _Proc:
        log = logs / f"{dev}.log"
        fh = open(log, "ab")  # noqa: SIM115 - closed when the process is reaped (appended: a
        # recovered process continues its log)
        cmd = [sys.executable, "-m", "homesim.devices", kind, "--manifest", str(manifest),
               "--device", dev, "--run-id", run_id, *restore_args, *extra]
        own = dict(env, HOMESIM_AUTHID=dev, HOMESIM_SECRET_FILE=str(secrets / dev))
        if kind == "ledger" and ledger_dsn:  # the DSN (and password): never in an argv
            own[DSN_ENV] = ledger_dsn
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                             stdout=stdout if stdout is not None else fh, stderr=fh,
                             env=own, start_new_session=True, text=stdout is not None,
                             cwd=run_dir)  # not the repo root: its operator/ folder
        fh.close()
        pr = _Proc(dev, kind, p, log)
        procs.append(pr)
        return pr

    result = RunResult(ok=False, message="", run_dir=run_dir, router_ws=ws_url)
    finished: dict[str, Any] | None = None
    interrupted = {"flag": False}
    old_handler = signal.getsignal(signal.SIGINT)

    def _sigint(signum: int, frame: Any) -> None:
        interrupted["flag"] = True

    try:
        signal.signal(signal.SIGINT, _sigint)
        signal.signal(signal.SIGTERM, _sigint)
        def start_all() -> _Proc:
            say("starting processes")
            db = [] if ledger_dsn else ["--db", str(run_dir / "ledger.sqlite")]
            spawn("ledger", "ledger", [*db, "--summary", str(run_dir / "summary.json")])
            for d in home.spec.enabled():
                spawn(d.kind, d.name, [])
            if opts.tap:
                spawn("tap", "tap", ["--out", str(Path(opts.tap).resolve())])
            clock_extra = ["--window", str(opts.window)] if opts.window else []
            if opts.snapshot_every:
                clock_extra += ["--snapshot-every", str(opts.snapshot_every),
                                "--snapshot-dir", str(run_dir / "snapshots"),
                                "--allow-forks"]
            return spawn("clock", "clock", clock_extra, stdout=subprocess.PIPE)

        def start_router() -> Any:
            say("starting the Crossbar router")
            if opts.anonymous:
                say(f"WARNING: anonymous clients may join ws://127.0.0.1:{ws_port}"
                    f"{rt.WS_PATH} with role {opts.anonymous!r} (--anonymous)")
            return rt.start_router(run_dir, access, ws_port=ws_port, rs_port=rs_port,
                                   python=python)

        recoveries = 0
        while True:
            # the router first: its start-up (two processes, one after the other) is the
            # longest; the devices import meanwhile and join as soon as it listens
            starting = None
            if not opts.router_url and router is None:
                starting = concurrent.futures.ThreadPoolExecutor(1)
                pending = starting.submit(start_router)
            try:
                clock = start_all()
            finally:
                if starting is not None:
                    router = pending.result()  # raises RouterError as start_router does
                    starting.shutdown()
            say("running")
            lines: queue.Queue[str | None] = queue.Queue()

            def _reader(clock: _Proc = clock, lines: queue.Queue[str | None] = lines) -> None:
                for line in clock.popen.stdout:  # type: ignore[union-attr]
                    lines.put(line)
                lines.put(None)

            threading.Thread(target=_reader, daemon=True).start()
            finished = None
            died: tuple[str, str, int | None, Path | None, int | None] | None = None
            while finished is None:
                if interrupted["flag"]:
                    result.message = "interrupted (Ctrl-C): all processes stopped"
                    break
                try:
                    line = lines.get(timeout=0.1)
                except queue.Empty:
                    line = ""
                if line:
                    try:
                        ev = json.loads(line)
                    except json.JSONDecodeError:
                        ev = {}
                    if ev.get("event") == "progress" and on_progress:
                        on_progress(ev)
                    elif ev.get("event") == "snapshot":
                        result.snapshots.append(ev)
                    elif ev.get("event") == "finished":
                        finished = ev
                        break
                dead = [p for p in procs if p.popen.poll() is not None and p.name != "clock"]
                if dead or (line is None):
                    if line is None and not dead:
                        dead = [clock]
                    p = dead[0]
                    died = (p.kind, p.name, p.popen.poll(), p.log, p.popen.pid)
                    break
                if router is not None and router.poll() is not None:
                    died = ("router", "router", router.poll(), router.log_path, router.pid)
                    break
            if died is None:
                break
            kind, name_, code, log, pid = died
            snap = latest_snapshot(run_dir / "snapshots") if opts.snapshot_every else None
            if snap is not None and recoveries < opts.max_recoveries:
                recoveries += 1
                t_rec = time.monotonic()
                say(f"{kind} '{name_}' {_describe_exit(code if code is not None else 0)}: "
                    f"recovering from {snap.name} ({recoveries}/{opts.max_recoveries})")
                _stop_all(procs)
                procs.clear()
                if router is not None and router.poll() is not None:
                    router.stop()
                    router = None
                restored = read_snapshot(snap)
                manifest.write_text(yaml.safe_dump(restored["manifest"], sort_keys=False))
                restore_args[:] = ["--restore", str(snap)]
                result.recoveries.append({"process": name_, "exit": code,
                                          "snapshot": snap.name,
                                          "window": restored["window"],
                                          "stop_seconds": time.monotonic() - t_rec})
                continue
            result.failed = [name_]
            result.message = (
                f"{kind} '{name_}' (pid {pid}) "
                f"{_describe_exit(code if code is not None else 0)} during the run; "
                f"the run is stopped. Log {log}:\n{_log_tail(log) if log else ''}")
            break
        if finished is not None:
            result.ok = bool(finished.get("ok"))
            result.message = str(finished.get("message", ""))
            result.failed = list(finished.get("missing") or [])
            if on_progress and finished.get("status"):
                on_progress({"event": "progress", **finished["status"]})
            # the ledger writes summary.json and exits; devices exit on 'finished'
            deadline = time.monotonic() + 30
            for p in procs:
                if p.name in ("ledger", "tap"):
                    while p.popen.poll() is None and time.monotonic() < deadline:
                        time.sleep(0.05)
            # the clock exits once its live forks (its children) are done: stopping it
            # earlier would kill them (Ctrl-C still stops everything)
            for p in procs:
                if p.name == "clock":
                    while p.popen.poll() is None and not interrupted["flag"] \
                            and _has_children(p.popen.pid):
                        time.sleep(0.05)
    finally:
        _stop_all(procs)
        if router is not None:
            router.stop()
        signal.signal(signal.SIGINT, old_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    summary_path = run_dir / "summary.json"
    if summary_path.exists():
        try:
            loaded = json.loads(summary_path.read_text())
            result.summary = loaded if isinstance(loaded, dict) else None
        except (OSError, ValueError) as exc:
            if result.ok:
                result.ok = False
                result.message = f"the ledger's summary.json cannot be read: {exc}"
    if result.ok:
        status = finished.get("status") if finished else None
        first = 0
        if opts.restore is not None and not resuming:  # a fork: its own ledger file
            first = int(read_snapshot(Path(opts.restore))["window"])
        problem = summary_problem(result.summary, status if isinstance(status, dict) else None,
                                  first)
        if problem:
            result.ok = False
            result.message = problem
    result.wall_seconds = time.monotonic() - t0
    return result


def summary_problem(summary: dict[str, Any] | None,
                    status: dict[str, Any] | None = None, first_window: int = 0) -> str | None:
    """The first reason a run whose clock reported success is not a success, or None.

    A run succeeds only when the ledger booked every planned tick (``complete``, ``ticks ==
    ticks_planned``), every window the clock opened (``windows`` equals the clock's final
    status ``window``, the number of windows opened), reported no ledger error, and its
    conservation figures are finite and within :data:`SUMMARY_REL_TOL`. A fork's ledger
    starts at its snapshot's window ``first_window``.
    """
    if not summary:
        return "the ledger wrote no summary (summary.json missing): the run is not booked"
    ledger = summary.get("ledger") or {}
    if isinstance(ledger, dict) and ledger.get("error"):
        return f"the ledger failed: {ledger['error']}"
    ticks, planned = summary.get("ticks"), summary.get("ticks_planned")
    if not summary.get("complete") or ticks is None or ticks != planned:
        return (f"the ledger booked {ticks} of {planned} planned ticks "
                "(summary.json complete is false)")
    windows = summary.get("windows")
    if not isinstance(windows, int) or windows < 1:
        return f"the ledger booked no window (windows = {windows!r})"
    opened = status.get("window") if status else None
    if isinstance(opened, int) and windows != opened - first_window:
        return (f"the ledger booked {windows} windows of the {opened - first_window} the "
                "clock ran")
    cons = summary.get("conservation") or {}
    try:
        worst = float(cons.get("worst_abs_residual_j", math.nan))
        rel = float(cons.get("relative_residual", math.nan))
    except (TypeError, ValueError):
        return "the summary's conservation figures are missing or not numbers"
    if not (math.isfinite(worst) and math.isfinite(rel)):
        return (f"conservation residual not finite (worst {worst} J, relative {rel}) "
                f"at {cons.get('worst_node') or cons.get('relative_residual_node') or '?'}")
    if rel > SUMMARY_REL_TOL:
        return (f"conservation violated: relative residual {rel:.3g} > {SUMMARY_REL_TOL:g} at "
                f"{cons.get('relative_residual_node') or '?'}")
    return None


def write_prometheus_config(run_dir: Path) -> Path:
    """Write ``prometheus/prometheus.yml`` (file_sd over ``prometheus/targets/*.json``).

    Every process writes its target file there once its ``/metrics`` server listens.
    Returns the targets folder (emptied of a previous run's files).
    """
    prom = run_dir / "prometheus"
    targets = prom / "targets"
    targets.mkdir(parents=True, exist_ok=True)
    for stale in targets.glob("*.json"):
        stale.unlink(missing_ok=True)
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [{
            "job_name": "homesim",
            "scrape_interval": "1s",
            "scrape_timeout": "1s",
            "honor_labels": True,  # the metrics' own home/device labels win
            "file_sd_configs": [{"files": [str(targets / "*.json")],
                                 "refresh_interval": "1s"}],
        }],
    }
    (prom / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    return targets


def _stop_all(procs: list[_Proc], grace: float = 5.0) -> None:
    """SIGTERM every live process (ledger last), SIGKILL what is left after ``grace``.

    SIGCONT follows the SIGTERM (as systemd does): a stopped process (SIGSTOP, a debugger
    detached badly) cannot act on SIGTERM until continued, and would cost the full grace."""
    order = [p for p in procs if p.name != "ledger"] + [p for p in procs if p.name == "ledger"]
    for p in order:
        if p.popen.poll() is None:
            try:
                os.killpg(p.popen.pid, signal.SIGTERM)
                os.killpg(p.popen.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + grace
    for p in order:
        while p.popen.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        if p.popen.poll() is None:
            try:
                os.killpg(p.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.popen.wait(timeout=5)
