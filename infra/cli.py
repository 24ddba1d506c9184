"""The ``homesim`` command line."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from homesim.schemas.registry import REGISTRY
from homesim.schemas.units import J_PER_KWH

app = typer.Typer(
    add_completion=False, no_args_is_help=True, rich_markup_mode="rich",
    help="homesim: simulate home energy systems, every device its own process, joule "
         "packets over a Crossbar WAMP router.\n\n"
         "Quick start:  [bold]homesim run examples/home.yaml --until 365d --dt 60 "
         "--speed max[/bold]",
)
console = Console()
err = Console(stderr=True, soft_wrap=True)


@app.command()
def validate(
    manifests: Annotated[list[Path], typer.Argument(help="Home manifest(s) (YAML)")],
) -> None:
    """Check manifests; print every error with its field path. Exit 1 if any is invalid.

    Any file ends in a message, never a traceback: files over 10 MiB, binary or non-UTF-8
    files, YAML bombs and deep nesting are refused before they are expanded; every file a
    manifest names (weather, price series) is opened and read as its device will read it.
    Quantities may carry units (`capacity: 10 kWh`, `p_max: 7.4 kW`, `dt: 15 min`); they
    are converted to the property's unit (`x-unit` in schemas/asyncapi.yaml).
    """
    from homesim.infra.preflight import load_checked
    from homesim.schemas.manifest import ManifestError

    bad = 0
    for m in manifests:
        name = escape(str(m))
        try:
            home = load_checked(m)
        except ManifestError as exc:
            bad += 1
            _print_errors(f"[red]✗ {name}[/red]: {len(exc.errors)} error(s)", exc.errors)
            continue
        except Exception as exc:  # noqa: BLE001 - validate never ends in a traceback
            bad += 1
            err.print(f"[red]✗ {name}[/red]: cannot validate: "
                      f"{escape(type(exc).__name__)}: {escape(_short(str(exc)))}")
            continue
        kinds = ", ".join(f"{d.name} ({d.kind})" for d in home.spec.enabled())
        console.print(f"[green]✓ {name}[/green]: Home '{escape(home.metadata.name)}' "
                      f"with {escape(kinds)}")
    raise typer.Exit(1 if bad else 0)


def _short(text: str, limit: int = 500) -> str:
    """``text`` on one line, at most ``limit`` characters (user input can be huge)."""
    one = " ".join(text.split())
    return one if len(one) <= limit else one[:limit] + "…"


def _print_errors(title: str, errors: list[tuple[str, str]], limit: int = 50) -> None:
    """Print a markup title and every ``(path, reason)`` (user text escaped, first ``limit``)."""
    err.print(title)
    for path, reason in errors[:limit]:
        err.print(f"  [bold]{escape(_short(str(path), 200))}[/bold]: {escape(_short(str(reason)))}")
    if len(errors) > limit:
        err.print(f"  … and {len(errors) - limit} more")


def _fmt_time(t: float, tz: str | None = None) -> str:
    """Simulated time in the home's time zone (UTC when unknown)."""
    zone: Any = UTC
    if tz:
        from homesim.devices.models.schedule import resolve_tz

        zone = resolve_tz(tz)
    return datetime.fromtimestamp(t, zone).strftime("%Y-%m-%d %H:%M")


@app.command()
def run(
    manifest: Annotated[Path, typer.Argument(help="Home manifest (YAML)")],
    until: Annotated[str | None, typer.Option(
        help="Simulated duration with a unit, e.g. 365d, 12h, 30m (minutes), 2w, '15 min' "
             "(default: the manifest's)")] = None,
    dt: Annotated[str | None, typer.Option(
        help="Tick length \\[s]: seconds or a time, e.g. 60 or 15min (default: the "
             "manifest's)")] = None,
    speed: Annotated[str | None, typer.Option(
        help="realtime, a factor like 60x, or max")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the stochastic parts")] = None,
    out: Annotated[Path | None, typer.Option(help="Run folder (default runs/<home>-<time>)")]
    = None,
    window: Annotated[int | None, typer.Option(
        min=1, help="Ticks per window at speed max (default one simulated day)")] = None,
    timeout: Annotated[float | None, typer.Option(
        help="Seconds a device may take to settle one window")] = None,
    tap: Annotated[Path | None, typer.Option(
        help="Count every bus message into this JSON file (benchmarks)")] = None,
    anonymous: Annotated[str | None, typer.Option(
        help="UNSAFE, opt-in: let unauthenticated clients (e.g. wamp-cli, which cannot "
             "authenticate) join the loopback WebSocket with this role: viewer or manager. "
             "Default: no anonymous access; use `homesim credentials` and `homesim wamp`")]
    = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the summary as JSON")] = False,
    no_report: Annotated[bool, typer.Option("--no-report",
                                            help="Skip report.html (plots)")] = False,
    snapshot_every: Annotated[int, typer.Option(
        min=0, help="Snapshot every device's state every N windows into RUN_DIR/snapshots "
                    "(for homesim resume / fork and crash recovery; 0: none)")] = 10,
    ledger: Annotated[str | None, typer.Option(
        "--ledger", envvar="HOMESIM_LEDGER_DSN", show_default=False,
        help="Book into PostgreSQL: postgresql://user@host:port/db (the run's tables in its "
             "own schema). Give the password in HOMESIM_LEDGER_DSN (the whole URL), "
             "PGPASSWORD or ~/.pgpass rather than on the command line. Default: "
             "RUN_DIR/ledger.sqlite")] = None,
) -> None:
    """Run a home: a real Crossbar router, one OS process per device, the clock and the ledger.

    Shows a progress bar, prints a summary table and writes a run folder (ledger database,
    summary JSON, logs). Ctrl-C stops every process; the ledger keeps what was settled.
    """
    from homesim.infra.preflight import load_checked
    from homesim.infra.supervisor import RunOptions
    from homesim.schemas.manifest import ManifestError

    try:  # manifest, the files it names and the options, before anything starts
        home = load_checked(manifest, {"until": until, "dt": dt, "speed": speed, "seed": seed,
                                       "timeout": timeout})
    except ManifestError as exc:
        what = "invalid option(s)" if exc.source == "options" else \
            f"invalid manifest {escape(str(manifest))}"
        _print_errors(f"[red]{what}[/red]", exc.errors)
        raise typer.Exit(2) from None
    dt = None if dt is None else home.spec.simulation.dt  # type: ignore[assignment]
    if anonymous is not None and anonymous not in ("viewer", "manager"):
        err.print(f"[red]✗[/red] --anonymous takes viewer or manager, not {escape(anonymous)!r}")
        raise typer.Exit(2)
    from homesim.devices.bus.store import is_postgres

    if ledger is not None and not is_postgres(ledger):
        err.print("[red]✗[/red] --ledger takes a postgresql:// URL (the default ledger is "
                  "RUN_DIR/ledger.sqlite)")
        raise typer.Exit(2)
    opts = RunOptions(until=until, dt=dt, speed=speed, seed=seed, out=out, window=window,
                      timeout=timeout, tap=tap, anonymous=anonymous,
                      snapshot_every=snapshot_every, ledger=ledger)
    execute_run(home, opts, quiet=quiet, json_out=json_out, no_report=no_report)


def execute_run(home: Any, opts: Any, *, quiet: bool = False, json_out: bool = False,
                no_report: bool = False) -> None:
    """Run ``home`` with a progress bar, write the report, print the summary and exit
    (0 completed, 1 failed): the body of ``run``, ``resume`` and ``fork``."""
    from homesim.infra.supervisor import run_home

    progress = Progress(
        TextColumn("[bold]{task.fields[simtime]}[/bold]"), BarColumn(),
        TextColumn("{task.percentage:>5.1f}%"), TextColumn("{task.fields[speedtxt]}"),
        TextColumn("{task.fields[energy]}"), TimeElapsedColumn(),
        console=err, disable=quiet, transient=False)
    task_id = progress.add_task("run", total=1, simtime="starting", speedtxt="", energy="")
    state: dict[str, Any] = {}

    def on_progress(ev: dict[str, Any]) -> None:
        total = max(int(ev.get("ticks_total", 1)), 1)
        wall = float(ev.get("wall_elapsed") or 0.0)
        ticks = int(ev.get("tick", 0))
        sim_s = ticks * home.spec.simulation.dt
        rate = f"{sim_s / wall:,.0f}× real time" if wall > 0 else ""
        energy = ev.get("energy") or {}
        load_kwh = sum(v for k, v in energy.items()
                       if k.split("->")[1] in state.get("loads", ())) / J_PER_KWH
        pv_kwh = sum(v for k, v in energy.items()
                     if k.split("->")[0] in state.get("pvs", ())) / J_PER_KWH
        progress.update(task_id, total=total, completed=ticks,
                        simtime=_fmt_time(float(ev.get("sim_time", 0)), tz),
                        speedtxt=f"{ev.get('speed', '')} {rate}",
                        energy=f"PV {pv_kwh:,.1f} kWh · load {load_kwh:,.1f} kWh")

    tz = home.spec.location.timezone if home.spec.location else None
    from homesim.devices.bus.figures import Roles

    role = {d.name: REGISTRY.get(d.kind).role for d in home.spec.devices}
    state["loads"] = set(Roles.of({d.name: d.kind for d in home.spec.devices}).consumers)
    state["pvs"] = {n for n, r in role.items() if r == "source"}

    def on_phase(text: str) -> None:
        progress.update(task_id, simtime=text)

    with progress:
        try:
            res = run_home(home, opts, on_progress=on_progress, on_phase=on_phase)
        except Exception as exc:  # noqa: BLE001 - a clear one-line error for the user
            err.print(f"[red]homesim run failed:[/red] {escape(_short(str(exc)))}")
            raise typer.Exit(1) from None
    if res.summary and not no_report:
        from homesim.infra.analysis.report import ReportError, write_report

        try:
            write_report(res.run_dir)
        except ReportError as exc:
            err.print(f"[yellow]figures/*.png not written:[/yellow] {escape(str(exc))}")
        except Exception as exc:  # noqa: BLE001 - a report never fails a run
            err.print(f"[yellow]report not written:[/yellow] {escape(str(exc))}")
    if json_out and res.summary:
        print(json.dumps(res.summary, indent=2))
    elif res.summary:
        try:
            print_summary(res.summary)
        except (KeyError, TypeError, ValueError) as exc:
            err.print(f"[yellow]summary.json is incomplete[/yellow] (no {escape(str(exc))})")
    for rec in res.recoveries:
        err.print(f"[yellow]recovered[/yellow] from {rec['snapshot']} (window {rec['window']}) "
                  f"after {rec['process']} exited ({rec['exit']})")
    if res.ok:
        console.print(f"[green]✓[/green] {res.message} in {res.wall_seconds:.1f} s wall time; "
                      f"run folder: {res.run_dir}")
        raise typer.Exit(0)
    err.print(f"[red]✗ run failed:[/red] {res.message}")
    from homesim.devices.bus.store import LEDGER_FILE, PG_POINTER

    pg = res.run_dir / PG_POINTER  # a PostgreSQL ledger: where it is (no password)
    err.print("ledger of the settled windows: "
              f"{pg if pg.exists() else res.run_dir / LEDGER_FILE}")
    raise typer.Exit(1)


def print_summary(s: dict[str, Any]) -> None:
    """Print a run summary as tables."""
    e = s["energy_kwh"]
    t = Table(title=f"homesim · {s['home']} · {s['ticks']:,} ticks of {s['dt']:g} s"
                    + ("" if s.get("complete") else " (incomplete)"))
    t.add_column("quantity")
    t.add_column("value", justify="right")
    rows = [
        ("PV DC", f"{e['pv_dc']:,.1f} kWh"), ("PV AC", f"{e['pv_ac']:,.1f} kWh"),
        ("PV curtailed (DC)", f"{e['curtailed_dc']:,.1f} kWh"),
        ("load (every consumer)", f"{e['load_served']:,.1f} kWh"),
        ("unserved energy", f"{e['unserved']:,.2f} kWh"),
        ("self-consumed (PV on site)", f"{e.get('self_consumed', 0.0):,.1f} kWh"),
        ("grid import", f"{e['grid_import']:,.1f} kWh"),
        ("grid export", f"{e['grid_export']:,.1f} kWh"),
        ("battery charge / discharge",
         f"{e['battery_charge']:,.1f} / {e['battery_discharge']:,.1f} kWh"),
        ("self-consumption", _pct(s.get("self_consumption"))),
        ("self-sufficiency", _pct(s.get("self_sufficiency"))),
        ("net cost (grid + gas)", f"{s['cost']['net']:,.2f} {s['cost']['currency']}"),
        ("peak import", f"{s['peak_import_w']:,.0f} W"),
        ("conservation: worst residual",
         f"{s['conservation']['worst_abs_residual_j']:.3g} J at "
         f"{s['conservation']['worst_node'] or '-'}"),
        ("conservation: relative residual", f"{s['conservation']['relative_residual']:.2e}"),
    ]
    for r in rows:
        t.add_row(*r)
    console.print(t)
    f = Table(title="flows")
    for c in ("source", "sink", "carrier"):
        f.add_column(c)
    f.add_column("kWh", justify="right")
    for fl in s["flows"]:
        f.add_row(fl["source"], fl["sink"], fl["carrier"], f"{fl['kwh']:,.1f}")
    console.print(f)


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f} %"


@app.command()
def export(
    run_dir: Annotated[Path, typer.Argument(help="Run folder (holds ledger.sqlite)")],
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet")] = "parquet",
    table: Annotated[str, typer.Option(
        help="packet, node_balance, device_metric, series, settled_window, event, node or "
             "run")] = "packet",
    wide: Annotated[bool, typer.Option(
        "--wide", help="One row per tick, a column per flow in kW and in kWh (instead of "
                       "--table)")] = False,
    out: Annotated[Path | None, typer.Option(
        help="Output file (default RUN_DIR/<table>.<format>, RUN_DIR/wide.<format>)")] = None,
) -> None:
    r"""Export a ledger table, or every flow per tick (--wide), to CSV or Parquet.

    [bold]Tables[/bold]: packet (one row per non-zero energy packet: tick, source, sink,
    carrier, joules), node_balance (per window and node: energy in, out, stored, losses,
    residual), device_metric (per window, device and metric: total, minimum, maximum, mean,
    unit), series (per-tick values of a few metrics), settled_window, event (device
    decisions, e.g. the heat broker's), node, run.

    [bold]Time[/bold]: sim_time is the start of the tick \[s since the Unix epoch, UTC];
    time_utc and time_local are that instant in UTC and in the home's time zone (CSV: ISO
    8601 with the offset, e.g. 2025-01-01T00:00:00-05:00; Parquet: timestamps with their
    zone). Window tables carry the window's first tick (tick0, n, sim_time, time_utc,
    time_local) and its end (end_utc, end_local).

    [bold]Units[/bold]: energies \[J] per tick (packet) or per window (node_balance); a
    device_metric row names its unit, total is the sum over the window's ticks and mean =
    total / n (e.g. \[W], \[°C]).

    [bold]Zeros[/bold]: packets of 0 J are not stored, so a flow missing in a tick was 0.
    --wide has every tick (zeros included): tick, sim_time, time_utc, time_local, then
    "source->sink kW" (mean power over the tick, \[kW]) and "source->sink kWh" (energy in
    the tick, \[kWh]) per flow (":carrier" is added when a pair carries two carriers).
    """
    from homesim.devices.bus.store import (
        EXPORT_TABLES,
        LEDGER_FILE,
        LedgerError,
        LedgerStore,
        run_ledger,
    )
    from homesim.infra.analysis import export as ex

    if fmt not in ("csv", "parquet"):
        err.print(f"[red]--format must be csv or parquet, not {escape(repr(fmt))}[/red]")
        raise typer.Exit(2)
    if table not in EXPORT_TABLES:
        err.print(f"[red]--table must be {', '.join(EXPORT_TABLES[:-1])} or "
                  f"{EXPORT_TABLES[-1]}, not {escape(repr(table))}[/red]")
        raise typer.Exit(2)
    db = run_ledger(run_dir)  # SQLite or PostgreSQL
    if db is None:
        err.print(f"[red]no ledger at {escape(str(run_dir / LEDGER_FILE))}[/red] (give a run "
                  "folder of homesim run)")
        raise typer.Exit(2)
    try:
        with LedgerStore.open(db) as store:
            df = ex.wide(store) if wide else ex.table(store, table)
    except LedgerError as exc:
        err.print(f"[red]cannot read {escape(str(db))}:[/red] {escape(_short(str(exc)))}")
        raise typer.Exit(2) from None
    target = out or run_dir / f"{'wide' if wide else table}.{fmt}"
    try:
        ex.write(df, target, fmt)
    except OSError as exc:
        err.print(f"[red]cannot write {escape(str(target))}:[/red] "
                  f"{escape(exc.strerror or str(exc))}")
        raise typer.Exit(2) from None
    console.print(f"wrote {len(df):,} rows to {escape(str(target))}")


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="Run folder")],
    day: Annotated[str | None, typer.Option(
        help="Day of the power figure, YYYY-MM-DD in the home's time zone (default: the "
             "whole run up to 7 days, else the sunniest day)")] = None,
    png: Annotated[bool, typer.Option(
        help="Also write RUN_DIR/figures/*.png (needs Chromium)")] = True,
) -> None:
    """(Re)write RUN_DIR/report.html (one self-contained file) and RUN_DIR/figures/*.png.

    KPI cards (the summary's headline figures), a Sankey from the AC side, energy by
    hour/day/week/month, the power on the AC bus, battery SoC per tick, cost; EV sessions,
    heat (room temperatures, heat by source, the heat node's decisions) and bills when the
    run has them. Local time on every axis.
    """
    from datetime import date

    from homesim.infra.analysis.report import ReportError, write_report

    if day is not None:
        try:
            date.fromisoformat(day)
        except ValueError:
            err.print(f"[red]--day must be YYYY-MM-DD, not {escape(repr(day))}[/red]")
            raise typer.Exit(2) from None
        problem = _day_outside_run(run_dir, date.fromisoformat(day))
        if problem:
            err.print(f"[red]{escape(problem)}[/red]")
            raise typer.Exit(2)
    try:
        out = write_report(run_dir, day=day, png=png)
    except (FileNotFoundError, ReportError) as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    console.print(f"wrote {out}" + (f" and {run_dir / 'figures'}/*.png" if png else ""))


def _day_outside_run(run_dir: Path, day: Any) -> str | None:
    """Why ``day`` (a local date) is no day of the run in ``run_dir``, or None (also when the
    run cannot be read: the report says why)."""
    from homesim.devices.bus.store import LEDGER_FILE
    from homesim.infra.analysis.export import run_days

    try:
        first, last, tz = run_days(run_dir / LEDGER_FILE)
    except Exception:  # noqa: BLE001 - the report explains a missing or unreadable ledger
        return None
    if first <= day <= last:
        return None
    return (f"--day {day} is outside the run: it covers {first} to {last} ({tz}); "
            "pick a day in that range")


@app.command()
def bill(
    run_dir: Annotated[Path, typer.Argument(help="Run folder (holds ledger.sqlite)")],
    first: Annotated[str | None, typer.Option(
        "--from", help="First day, YYYY-MM-DD in the home's time zone (default: run start)")]
    = None,
    last: Annotated[str | None, typer.Option(
        "--to", help="Last day (inclusive), YYYY-MM-DD (default: run end)")] = None,
    out: Annotated[Path | None, typer.Option(
        help="CSV file (default RUN_DIR/bills.csv)")] = None,
) -> None:
    """Bill every flat for a period: print a table, write a CSV (a row per flat + total).

    [bold]Meters[/bold] (the ledger's packets): a flat's electricity is what its
    devices (`flat` set: loads, chargers…) received; its heat is what the heat
    node delivered to its `flat` zone. The building's metered cost is the grid's
    net cost per tick (import × import price − export × export price, tariffs of
    the manifest) plus the boilers' gas × gas price.

    [bold]Key[/bold] (the bills add up to the metered cost):

    1. Each tick's grid import cost is split over that tick's electricity consumers
    in proportion to their consumption (what PV and battery cover is not imported,
    so it is free to whoever used it in that tick).

    2. The heat pumps' share and the gas cost form the heat pool, split by the
    flats' heat meters (gas column = the flat's heat share × gas kWh).

    3. Common devices (no `flat`), imports in ticks without consumers and, as a
    credit, the revenue of exported (common PV) energy form the shared pool,
    split by the flats' floor areas (equally if a flat has no zone).

    A home without flats gets one bill. Exit 2 on a missing or incomplete run.
    """
    from datetime import date

    from homesim.infra.analysis.billing import BillingError, bill_run, write_csv

    days: list[date | None] = []
    for opt, text in (("--from", first), ("--to", last)):
        try:
            days.append(date.fromisoformat(text) if text is not None else None)
        except ValueError:
            err.print(f"[red]{opt} must be YYYY-MM-DD, not {text!r}[/red]")
            raise typer.Exit(2) from None
    try:
        b = bill_run(run_dir, days[0], days[1])
    except BillingError as exc:
        err.print(f"[red]cannot bill {run_dir}:[/red] {exc}")
        raise typer.Exit(2) from None
    cur = b.currency
    t = Table(title=f"Bills · {b.home} · {_fmt_time(b.t_start, b.tz)} to "
                    f"{_fmt_time(b.t_end, b.tz)} ({b.tz})",
              caption=f"Costs in {cur}; gas kWh: the flat's share of the boiler gas. "
                      f"Shared pool (common devices, idle ticks, minus export revenue) split "
                      f"{'equally' if b.shared_key == 'equal' else 'by ' + b.shared_key}; "
                      f"heat pool (heat pumps' electricity + gas) by heat "
                      f"meters. Metered: grid {b.grid_cost:,.2f} + gas {b.gas_cost:,.2f} = "
                      f"{b.metered_cost:,.2f} {cur}.")
    t.add_column("flat", no_wrap=True)
    for c in ("elec. kWh", "heat kWh", "gas kWh", "elec.", "heat", "shared", "total"):
        t.add_column(c, justify="right", no_wrap=True)
    for r in (*b.flats, b.total):
        if r is b.total:
            t.add_section()
        t.add_row(r.flat, f"{r.electricity_kwh:,.1f}", f"{r.heat_kwh:,.1f}",
                  f"{r.gas_kwh:,.1f}", f"{r.electricity_cost:,.2f}", f"{r.heat_cost:,.2f}",
                  f"{r.shared_cost:,.2f}", f"{r.total:,.2f}",
                  style="bold" if r is b.total else None)
    console.print(t)
    for note in b.notes:
        err.print(f"[yellow]note:[/yellow] {note}")
    target = write_csv(b, out or run_dir / "bills.csv")
    console.print(f"wrote {target}")


@app.command()
def compare(
    runs: Annotated[list[Path], typer.Argument(help="Two or more run folders")],
    html_out: Annotated[Path | None, typer.Option(
        "--html", help="HTML page with the runs overlaid (default: compare.html)")] = None,
    json_out: Annotated[Path | None, typer.Option(
        "--json", help="Also write the comparison as JSON to this file")] = None,
) -> None:
    """Compare runs: a table of headline figures (Δ against the first run) and one HTML page
    with the runs overlaid (daily energy, monthly cost, battery SoC, import duration curve).
    """
    from homesim.infra.analysis.compare import (
        CompareError,
        compare_runs,
        kpi_table,
        write_comparison_html,
    )

    try:
        c = compare_runs(runs)
    except CompareError as exc:
        err.print(f"[red]cannot compare:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    console.print(kpi_table(c))
    target = write_comparison_html(c, html_out or Path("compare.html"))
    console.print(f"wrote {target}")
    if json_out is not None:
        json_out.write_text(c.to_json())
        console.print(f"wrote {json_out}")


@app.command("router-env")
def router_env() -> None:
    """Create (or find) the cached Crossbar environment and print its python."""
    from homesim.infra.router import ensure_router_env

    print(ensure_router_env(progress=lambda s: err.print(s)))


def _register_wamp_commands() -> None:
    from homesim.infra.cli_wamp import credentials, wamp_app
    from homesim.infra.cli_whatif import fork, resume, sweep

    app.command()(credentials)
    app.add_typer(wamp_app, name="wamp")
    app.command()(resume)
    app.command()(fork)
    app.command()(sweep)


def _register_serve_command() -> None:
    from homesim.infra.serve import serve

    app.command()(serve)


_register_wamp_commands()
_register_serve_command()


def main() -> None:
    """Entry point of the ``homesim`` console script.

    No command ends in a Python traceback: an unexpected error prints one line (its type and
    message) and exits 1; ``HOMESIM_DEBUG=1`` shows the traceback.
    """
    import os

    if os.environ.get("HOMESIM_DEBUG"):
        app(prog_name="homesim")
        return
    try:
        app(prog_name="homesim", standalone_mode=True)
    except Exception as exc:  # noqa: BLE001 - the last resort: one line, never a traceback
        err.print(f"[red]homesim: internal error:[/red] {escape(type(exc).__name__)}: "
                  f"{escape(_short(str(exc)))} (HOMESIM_DEBUG=1 shows the traceback)")
        sys.exit(1)


if __name__ == "__main__":
    sys.exit(main())
