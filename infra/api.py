"""The Python API for notebooks: ``homesim.run(...)`` and ``homesim.open_run(path)``.

>>> import homesim
>>> r = homesim.run("examples/home.yaml", until="2d", dt="15 min")   # doctest: +SKIP
>>> r.summary.loc["self_sufficiency", "value"]                       # doctest: +SKIP
>>> r.series("kWh", freq="day")                                      # doctest: +SKIP

:func:`run` runs a home exactly as ``homesim run`` does (the same checks before anything
starts, the same supervisor: a real Crossbar router, one process per device, the clock and
the ledger) and returns a :class:`Run`; :func:`open_run` opens the folder of an earlier run.
A :class:`Run` reads its ledger (``ledger.sqlite``) into pandas DataFrames:

* ``summary``: the run's figures, one row per figure (``value``, ``unit``);
* ``flows(by=None)``: energy per flow [kWh, J], in total or per local hour/day/week/month;
* ``series(unit="kW", freq=None)``: every flow over time, one column per flow, indexed by
  local time (timezone-aware);
* ``table(name)``: any ledger table with its times (as ``homesim export``).

Time: ``sim_time`` is the start of a tick [s since the Unix epoch, UTC]; DataFrames index by
the tick's start in the home's time zone. Only non-zero packets are booked; flows and series
fill the gaps with zeros. See :mod:`homesim.infra.analysis.export`.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Mapping
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from homesim.schemas.manifest import (
    Block,
    Home,
    ManifestError,
    as_home,
    parse_any,
    resolve_paths,
    with_simulation,
)

if TYPE_CHECKING:
    import pandas as pd

    from homesim.devices.bus.store import LedgerStore

__all__ = ["run", "open_run", "Run", "RunError"]

#: The keyword names errors of :func:`run`'s simulation overrides are reported under.
KEYWORDS = {"duration": "until", "dt": "dt", "speed": "speed", "seed": "seed",
            "timeout": "timeout"}


class RunError(RuntimeError):
    """A run did not complete (a process failed, a window did not balance, Ctrl-C …).

    ``run`` is the :class:`Run` of its folder: the ledger keeps every settled window.
    """

    def __init__(self, message: str, run: Run) -> None:
        super().__init__(message)
        self.run = run


def _unit(path: str, currency: str | None) -> str:
    """The unit of a summary figure, from its key (``energy_kwh.*``, ``*_kwh`` → kWh …)."""
    parts = path.split(".")
    last = parts[-1]
    if "energy_kwh" in parts or last.endswith("_kwh"):
        return "kWh"
    if last.endswith("_w"):
        return "W"
    if last.endswith("_j"):
        return "J"
    if last in ("dt", "sim_seconds", "wall_elapsed") or last.endswith("_s"):
        return "s"
    if last == "start":
        return "s since the epoch (UTC)"
    if last in ("self_consumption", "self_sufficiency", "scop", "efficiency") or \
            (last.startswith("relative") and not last.endswith("_node")) or \
            "per_node_relative" in parts or \
            "conservation_relative" in parts or parts[0] == "soc":
        return "1"
    if last.startswith("temp_"):
        return "°C"
    if "degree_hours" in last:
        return "K h"
    if last == "hours":
        return "h"
    if (parts[0] == "cost" and last != "currency") or last == "cost":
        return currency or "currency"
    if last in ("ticks", "ticks_planned", "worst_tick"):
        return "ticks"
    return ""


def _summary_frame(summary: Mapping[str, Any]) -> pd.DataFrame:
    import pandas as pd

    cost = summary.get("cost")
    currency = cost.get("currency") if isinstance(cost, Mapping) else None
    rows: list[tuple[str, Any, str]] = []

    def walk(node: Mapping[str, Any], prefix: str) -> None:
        for k, v in node.items():
            path = f"{prefix}.{k}" if prefix else str(k)
            if isinstance(v, Mapping):
                walk(v, path)
            elif not isinstance(v, list):  # the flows list: see Run.flows()
                rows.append((path, v, _unit(path, currency)))

    walk(summary, "")
    return pd.DataFrame(rows, columns=["quantity", "value", "unit"]).set_index("quantity")


class Run:
    """A run folder (``manifest.yaml``, ``ledger.sqlite``, ``summary.json``) read as pandas.

    Attributes
    ----------
    path : pathlib.Path
        The run folder.
    ok : bool or None
        Whether the run completed (every planned tick booked and balanced); None when
        unknown (a folder without ``summary.json``).
    message : str
        How the run ended (``completed``, or the first cause of a failure).
    wall_seconds : float or None
        Wall time of the run [s] (None for :func:`open_run`).
    """

    def __init__(self, path: str | Path, ok: bool | None = None, message: str = "",
                 wall_seconds: float | None = None) -> None:
        self.path = Path(path)
        self.ok = ok
        self.message = message
        self.wall_seconds = wall_seconds

    def __repr__(self) -> str:
        state = {True: "ok", False: "failed", None: "?"}[self.ok]
        return f"<homesim.Run {self.path} {state}: {self.message}>"

    # ------------------------------------------------------------ the folder
    @property
    def db(self) -> Path:
        """The ledger's path (``ledger.sqlite``; for a run booked in PostgreSQL, the same path
        whose ``ledger.pg.json`` beside it names the server)."""
        from homesim.devices.bus.store import LEDGER_FILE

        return self.path / LEDGER_FILE

    def _store(self) -> LedgerStore:
        from homesim.devices.bus.store import LedgerStore

        return LedgerStore.open(self.db)

    @cached_property
    def summary_dict(self) -> dict[str, Any]:
        """``summary.json`` as written by the ledger (empty if there is none)."""
        p = self.path / "summary.json"
        if not p.exists():
            return {}
        data = json.loads(p.read_text())
        return data if isinstance(data, dict) else {}

    @property
    def summary(self) -> pd.DataFrame:
        """The run's figures, one row per figure: index ``quantity`` (the dotted key of
        ``summary.json``, e.g. ``energy_kwh.grid_import``, ``self_sufficiency``,
        ``cost.net``), columns ``value`` and ``unit`` (from the key: ``kWh``, ``W``, ``J``,
        ``s``, ``1`` for fractions, the tariff's currency for costs, empty for names and
        flags). Shape (figures, 2). Flows are in :meth:`flows`; the raw JSON is
        :attr:`summary_dict`."""
        return _summary_frame(self.summary_dict)

    @cached_property
    def home(self) -> Home:
        """The resolved manifest every process of the run read (``manifest.yaml``)."""
        import yaml

        return Home.model_validate(yaml.safe_load((self.path / "manifest.yaml").read_text()))

    # ------------------------------------------------------------ the ledger
    def flows(self, by: str | None = None) -> pd.DataFrame:
        """Energy per flow.

        Parameters
        ----------
        by
            None: one row per flow over the booked run, columns ``source``, ``sink``,
            ``carrier``, ``kwh`` [kWh], ``joules`` [J]; shape (flows, 5). ``"hour"``,
            ``"day"``, ``"week"`` (from Monday), ``"month"`` or ``"year"``: one row per local
            period and flow, with a first column ``period`` (the period's local start,
            timezone-aware); shape (periods × flows, 6).
        """
        from homesim.infra.analysis import export

        with self._store() as st:
            return export.flows(st, by)

    def series(self, unit: str = "kW", freq: str | None = None) -> pd.DataFrame:
        """Every flow over time: one column per flow (``source->sink``, ``:carrier`` added
        when a pair carries two carriers), indexed by the local start of each tick
        (``time``, timezone-aware, the home's zone); shape (booked ticks, flows), zeros
        where nothing flowed.

        Parameters
        ----------
        unit
            ``"kW"``: mean power over the tick [kW]; ``"kWh"``: energy per tick [kWh];
            ``"J"``: [J].
        freq
            None (per tick), or ``"hour"``, ``"day"``, ``"week"``, ``"month"``, ``"year"``:
            local periods, energies summed and powers averaged; shape (periods, flows).
        """
        from homesim.infra.analysis import export

        with self._store() as st:
            return export.series(st, unit, freq)

    def table(self, name: str) -> pd.DataFrame:
        """A ledger table with its times, as ``homesim export --table NAME`` writes it
        (``packet``, ``node_balance``, ``device_metric``, ``series``, ``settled_window``,
        ``event``, ``node``, ``run``; columns in :func:`homesim.infra.analysis.export.table`)."""
        from homesim.infra.analysis import export

        with self._store() as st:
            return export.table(st, name)

    def wide(self) -> pd.DataFrame:
        """``homesim export --wide``: one row per tick, a column per flow in kW and kWh."""
        from homesim.infra.analysis import export

        with self._store() as st:
            return export.wide(st)

    def metrics(self) -> pd.DataFrame:
        """Device metrics per window (``table("device_metric")``): ``total``, ``minimum``,
        ``maximum``, ``mean`` in the metric's ``unit``, with the window's times."""
        return self.table("device_metric")

    def events(self) -> pd.DataFrame:
        """Device events (``table("event")``), e.g. the heat broker's decisions."""
        return self.table("event")

    def report(self, day: str | None = None, png: bool = False) -> Path:
        """(Re)write ``report.html`` (and ``figures/*.png`` with ``png``); returns its path."""
        from homesim.infra.analysis.report import write_report

        return write_report(self.path, day=day, png=png)


def open_run(path: str | Path) -> Run:
    """Open the folder of an earlier run (``homesim run --out PATH`` or :func:`run`).

    Raises
    ------
    FileNotFoundError
        If ``path`` holds no ledger (neither ``ledger.sqlite`` nor ``ledger.pg.json``).
    """
    from homesim.devices.bus.store import LEDGER_FILE, run_ledger

    p = Path(path)
    if run_ledger(p) is None:
        raise FileNotFoundError(f"no ledger at {p / LEDGER_FILE}: not a run folder")
    r = Run(p)
    s = r.summary_dict
    if s:
        r.ok = bool(s.get("complete")) and not (s.get("ledger") or {}).get("error")
        clock = s.get("clock") if isinstance(s.get("clock"), Mapping) else {}
        r.message = str(clock.get("message") or ("completed" if r.ok else "incomplete"))
    return r


def _seconds_text(value: Any) -> Any:
    return f"{value.total_seconds():g}s" if isinstance(value, timedelta) else value


def _home(manifest: str | Path | Mapping[str, Any] | Home | Block) -> Home:
    from homesim.infra.preflight import check_files, load_checked

    if isinstance(manifest, (str, Path)):
        return load_checked(manifest, labels=KEYWORDS)
    if isinstance(manifest, Block):
        home = as_home(manifest)
    elif isinstance(manifest, Home):
        home = manifest
    elif isinstance(manifest, Mapping):
        home = parse_any(dict(manifest))
    else:
        raise TypeError("manifest: give a path, a dict (the YAML document), a Home or a Block, "
                        f"not {type(manifest).__name__}")
    home = resolve_paths(home.model_copy(deep=True), Path.cwd(), check=True)
    check_files(home)
    return home


def run(manifest: str | Path | Mapping[str, Any] | Home | Block, *,
        until: str | timedelta | None = None, dt: float | str | timedelta | None = None,
        speed: str | None = None, seed: int | None = None, out: str | Path | None = None,
        window: int | None = None, timeout: float | str | None = None,
        report: bool = False, progress: bool | Callable[[dict[str, Any]], None] = False,
        check: bool = True) -> Run:
    """Run a home as ``homesim run`` does and return its :class:`Run`.

    Parameters
    ----------
    manifest
        A manifest file (Home or Block YAML), the document as a dict, or a ``Home`` /
        ``Block`` model. Relative file paths in a dict or model are relative to the current
        directory.
    until
        Simulated duration with a unit (``"7d"``, ``"12h"``, ``"15 min"``) or a timedelta; a
        bare number is refused (ambiguous). Default: the manifest's.
    dt
        Tick length [s], or a time (``"15 min"``, a timedelta). Default: the manifest's.
    speed
        ``"max"``, ``"realtime"`` or ``"Nx"``. Default: the manifest's.
    seed
        Seed of the stochastic parts. Default: the manifest's.
    out
        Run folder (default ``runs/<home>-<UTC time>`` under the current directory).
    window
        Ticks per window at speed max (default one simulated day).
    timeout
        Seconds a device may take to settle one window [s].
    report
        Also write ``report.html`` (no PNGs).
    progress
        True: print the progress to stderr; a callable: receives the clock's progress dicts
        (``tick``, ``ticks_total``, ``sim_time`` [s], ``wall_elapsed`` [s], ``energy`` [J]).
    check
        Raise :class:`RunError` if the run does not complete (else return the failed
        :class:`Run`, ``ok`` False).

    Returns
    -------
    Run
        ``summary``, ``flows()``, ``series()``, ``table()`` as pandas DataFrames.

    Raises
    ------
    homesim.schemas.manifest.ManifestError
        Before anything starts: the manifest, a file it names or an option is invalid (every
        error with its field path, or the keyword: ``until: '7' has no unit …``).
    RunError
        If ``check`` and the run did not complete.
    RuntimeError
        If called outside the main thread (the run stops its processes on Ctrl-C and
        SIGTERM, which only the main thread receives).
    """
    from homesim.infra.supervisor import RunOptions, run_home

    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("homesim.run must be called from the main thread (it stops its "
                           "processes on Ctrl-C / SIGTERM)")
    home = _home(manifest)
    if window is not None and (isinstance(window, bool) or not isinstance(window, int)
                               or window < 1):
        raise ManifestError([("window", f"must be a whole number of ticks ≥ 1, not {window!r}")],
                            "options")
    home = with_simulation(home, until=_seconds_text(until), dt=_seconds_text(dt), speed=speed,
                           seed=seed, timeout=_seconds_text(timeout), labels=KEYWORDS)
    on_progress: Callable[[dict[str, Any]], None] | None = None
    on_phase: Callable[[str], None] | None = None
    if callable(progress):
        on_progress = progress
    elif progress:
        def on_progress(ev: dict[str, Any]) -> None:
            total = max(int(ev.get("ticks_total", 1)), 1)
            done = int(ev.get("tick", 0))
            print(f"\rhomesim: {done:,}/{total:,} ticks ({100 * done / total:5.1f} %)",
                  end="", file=sys.stderr, flush=True)

        def on_phase(text: str) -> None:
            print(f"homesim: {text}", file=sys.stderr, flush=True)

    opts = RunOptions(out=Path(out) if out is not None else None, window=window)
    res = run_home(home, opts, on_progress=on_progress, on_phase=on_phase)
    if progress is True:
        print(file=sys.stderr)
    r = Run(res.run_dir, ok=res.ok, message=res.message, wall_seconds=res.wall_seconds)
    if res.ok and report:
        r.report()
    if check and not res.ok:
        raise RunError(f"the run failed: {res.message} (run folder {res.run_dir})", r)
    return r
