"""The ledger store: the one module that owns the ledger's SQL (schema, writes, every read).

A run's ledger is one SQLite file (``ledger.sqlite`` in the run folder) with standard SQL
types that PostgreSQL accepts, or the same tables in PostgreSQL (:class:`PgLedgerStore`,
``homesim run --ledger postgresql://…``: one schema per run, packets written with ``COPY``).
The ledger process writes it through :meth:`LedgerStore.create` (the run row, the nodes, then
one transaction per settled window); the analysis code (report, bills, ``homesim export``)
reads it through :meth:`LedgerStore.open`. Nobody else writes SQL against these tables.

Tables
------
``run``            one row: run id, home name, creation time, ``start_time`` [s since the
                   epoch], ``dt`` [s], planned ``ticks``, the resolved manifest (JSON);
``node``           every device and external node: ``name``, ``kind``, ``bounded``;
``packet``         one row per non-zero packet: ``tick``, ``sim_time`` [s], ``source``,
                   ``sink``, ``carrier``, ``joules`` [J];
``settled_window`` one row per booked window: ``window_index``, ``tick0``, ``n``,
                   ``booked_at`` [s since the epoch, wall clock];
``node_balance``   per window and bounded node: ``energy_in``, ``energy_out``,
                   ``delta_stored``, ``losses``, ``residual`` [J] (sums over the window's ticks)
                   and ``max_abs_residual`` [J] (the worst tick);
``device_metric``  per window, device and metric: ``total``, ``minimum``, ``maximum`` over the
                   window's ticks (unit of the metric: [J] for energies, [-] for SoC, [°C] …);
``event``          device events: ``tick``, ``sim_time`` [s], ``device``, ``kind``, ``value``,
                   ``reason``, ``data`` (JSON);
``series``         per-tick values of the few device metrics the figures draw tick by tick
                   (the ledger's ``SERIES_METRICS``: state of charge [-], room temperature
                   [°C], charger connected [-], energy unmet [J]): ``tick``, ``device``,
                   ``metric``, ``value``; like packets, a missing row means 0.

This module imports only the standard library, numpy and ``homesim.schemas`` (and psycopg
when a PostgreSQL ledger is opened): no autobahn, no twisted, no other ``homesim.devices.bus``
module.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import numpy as np

from homesim.schemas.units import S_PER_H

if TYPE_CHECKING:
    from homesim.schemas.manifest import Home

__all__ = [
    "SCHEMA", "EXPORT_TABLES", "LedgerError", "LedgerStore", "PgLedgerStore",
    "DSN_ENV", "PG_POINTER", "is_postgres", "redact", "without_password", "pg_schema",
    "Run", "Node", "Flow", "NodeBalance", "MetricTotal", "Event", "SettledWindow",
    "SettledSpan", "HourlyFlow", "TickFlow", "DeviceMetric", "Meter", "Series",
]

SCHEMA = """
CREATE TABLE IF NOT EXISTS run (
    run_id TEXT PRIMARY KEY, home TEXT NOT NULL, created_at TEXT NOT NULL,
    start_time DOUBLE PRECISION NOT NULL, dt DOUBLE PRECISION NOT NULL,
    ticks BIGINT NOT NULL, manifest TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS node (
    name TEXT PRIMARY KEY, kind TEXT NOT NULL, bounded BOOLEAN NOT NULL
);
CREATE TABLE IF NOT EXISTS packet (
    tick BIGINT NOT NULL, sim_time DOUBLE PRECISION NOT NULL,
    source TEXT NOT NULL, sink TEXT NOT NULL, carrier TEXT NOT NULL,
    joules DOUBLE PRECISION NOT NULL CHECK (joules >= 0)
);
CREATE TABLE IF NOT EXISTS settled_window (
    window_index BIGINT PRIMARY KEY, tick0 BIGINT NOT NULL, n INTEGER NOT NULL,
    booked_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS node_balance (
    window_index BIGINT NOT NULL, node TEXT NOT NULL,
    energy_in DOUBLE PRECISION NOT NULL, energy_out DOUBLE PRECISION NOT NULL,
    delta_stored DOUBLE PRECISION NOT NULL, losses DOUBLE PRECISION NOT NULL,
    residual DOUBLE PRECISION NOT NULL, max_abs_residual DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (window_index, node)
);
CREATE TABLE IF NOT EXISTS device_metric (
    window_index BIGINT NOT NULL, device TEXT NOT NULL, metric TEXT NOT NULL,
    total DOUBLE PRECISION NOT NULL, minimum DOUBLE PRECISION NOT NULL,
    maximum DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (window_index, device, metric)
);
CREATE TABLE IF NOT EXISTS event (
    tick BIGINT NOT NULL, sim_time DOUBLE PRECISION NOT NULL, device TEXT NOT NULL,
    kind TEXT NOT NULL, value TEXT, reason TEXT, data TEXT
);
CREATE TABLE IF NOT EXISTS series (
    tick BIGINT NOT NULL, device TEXT NOT NULL, metric TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS packet_tick ON packet (tick);
"""
"""The ledger's DDL (idempotent: ``CREATE … IF NOT EXISTS``), for SQLite and PostgreSQL."""

PACKET_INDEX = "CREATE INDEX IF NOT EXISTS packet_tick ON packet (tick);"
"""The packets' tick index: a SQLite ledger builds it when the writer closes (keeping it up
to date while booking costs more than building it once)."""

EXPORT_TABLES = ("packet", "node_balance", "device_metric", "series", "settled_window", "event",
                 "node", "run")
"""Tables :meth:`LedgerStore.export_table` (``homesim export``) may dump (every table)."""


class LedgerError(RuntimeError):
    """The ledger cannot be read or written (not a ledger, missing tables, locked, …)."""


# ---------------------------------------------------------------------------- rows


class Run(NamedTuple):
    """The ``run`` row."""

    run_id: str
    home: str
    created_at: str
    start: float
    """Start of tick 0 [s since the epoch]."""
    dt: float
    """Tick length [s]."""
    ticks: int
    """Planned ticks of the run [-]."""
    manifest: str
    """The resolved Home manifest (JSON text)."""


class Node(NamedTuple):
    """A ``node`` row: a device or an external node; only bounded nodes are balanced."""

    name: str
    kind: str
    bounded: bool


class Flow(NamedTuple):
    """One flow of a window to book: ``joules`` [J] per tick of the window, shape (n,)."""

    source: str
    sink: str
    carrier: str
    joules: np.ndarray


class NodeBalance(NamedTuple):
    """A node's balance over a window (or summed over windows) [J]."""

    node: str
    energy_in: float
    energy_out: float
    delta_stored: float
    losses: float
    residual: float
    max_abs_residual: float
    """The worst tick's ``|residual|`` [J]."""


class MetricTotal(NamedTuple):
    """One device metric over a window: sum, minimum and maximum of its per-tick values."""

    device: str
    metric: str
    total: float
    minimum: float
    maximum: float


class Event(NamedTuple):
    """A device event; ``sim_time`` [s] is the tick's start (filled in by the store)."""

    tick: int
    device: str
    kind: str
    value: Any = None
    reason: str | None = None
    data: dict[str, Any] | None = None
    sim_time: float | None = None


class SettledWindow(NamedTuple):
    """A ``settled_window`` row; ``booked_at`` [s since the epoch, wall clock]."""

    window: int
    tick0: int
    n: int
    booked_at: float


class SettledSpan(NamedTuple):
    """What the ledger has booked: windows, first tick, end tick (exclusive), tick count.

    ``first_tick`` and ``end_tick`` are None while no window is booked; the booked ticks are
    contiguous from 0 when ``first_tick == 0 and end_tick == ticks``.
    """

    windows: int
    first_tick: int | None
    end_tick: int | None
    ticks: int


class HourlyFlow(NamedTuple):
    """Energy of one flow in one time bin ``[bin·bin_s, (bin+1)·bin_s)`` of sim time [J]."""

    bin: int
    source: str
    sink: str
    carrier: str
    joules: float


class TickFlow(NamedTuple):
    """Energy of one (source, sink) flow in one tick [J] (carriers summed unless filtered)."""

    tick: int
    source: str
    sink: str
    joules: float


class DeviceMetric(NamedTuple):
    """A ``device_metric`` row with its window's ticks ``[tick0, tick0 + n)``."""

    window: int
    tick0: int
    n: int
    device: str
    metric: str
    total: float
    minimum: float
    maximum: float


class Series(NamedTuple):
    """Per-tick values of one device metric over a window, shape (n,) (unit of the metric)."""

    device: str
    metric: str
    values: np.ndarray


class Meter(NamedTuple):
    """A virtual meter: ``carrier`` from any of ``sources`` into any of ``sinks``.

    None means any node; an empty tuple means none (the meter reads zero).
    """

    carrier: str
    sources: tuple[str, ...] | None = None
    sinks: tuple[str, ...] | None = None


def _sqlite_why(exc: sqlite3.Error) -> str:
    """``SQLITE_FULL (OperationalError): database or disk is full``: the error's name first."""
    name = getattr(exc, "sqlite_errorname", None)
    kind = type(exc).__name__
    return f"{name} ({kind}): {exc}" if name else f"{kind}: {exc}"


def _marks(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values))


def _literal(text: str) -> str:
    """``text`` as an SQL string literal (quotes doubled)."""
    return "'" + text.replace("'", "''") + "'"


PG_SCHEMES = ("postgresql://", "postgres://")
"""URL schemes of a PostgreSQL ledger (``homesim run --ledger postgresql://user@host/db``)."""

PG_POINTER = "ledger.pg.json"
"""The file in a run folder naming its PostgreSQL ledger: ``{"dsn", "schema"}``, the DSN
without its password (readers find the password the way libpq does, or in
``HOMESIM_LEDGER_DSN``)."""

DSN_ENV = "HOMESIM_LEDGER_DSN"
"""Environment variable holding a PostgreSQL ledger's DSN, password included: how the
password reaches the ledger process (never its argv, never a log)."""


def is_postgres(target: Path | str) -> bool:
    """``target`` names a PostgreSQL database (a ``postgresql://`` URL), not a SQLite file."""
    return isinstance(target, str) and target.startswith(PG_SCHEMES)


def redact(dsn: str) -> str:
    """``dsn`` with its password replaced by ``***`` (for messages and files)."""
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    user = quote(unquote(parts.username or ""), safe="")
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def without_password(dsn: str) -> tuple[str, str | None]:
    """``(dsn without its password, the password or None)``."""
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn, None
    user = quote(unquote(parts.username or ""), safe="")
    host = parts.netloc.rsplit("@", 1)[1]
    return (urlunsplit(parts._replace(netloc=f"{user}@{host}" if user else host)),
            unquote(parts.password))


def pg_schema(home: str, run_id: str) -> str:
    """The PostgreSQL schema holding the ledger of run ``run_id`` of ``home``: one schema per
    run, so that runs, homes and forks share a database without mixing (≤ 63 characters,
    ``[a-z0-9_]``; a long name ends with a hash of the full one)."""
    raw = f"homesim_{home}_{run_id}".lower()
    name = "".join(c if c.isascii() and (c.isalnum() or c == "_") else "_" for c in raw)
    if len(name) > 63:
        name = name[:54] + "_" + hashlib.sha256(raw.encode()).hexdigest()[:8]
    return name


# ---------------------------------------------------------------------------- the store


class LedgerStore:
    """One ledger: :meth:`create` to write it (the ledger process), :meth:`open` to read.

    The default backend is a SQLite file; a ``postgresql://`` target gives a
    :class:`PgLedgerStore` (same tables, same queries, same results). The backend seam is
    small: connection and transactions, the placeholder style (:meth:`_sql`), the bulk writes
    of packets and series (:meth:`_write_packets`, :meth:`_write_series`), a few SQL
    spellings (:meth:`_total`, :meth:`_bin`, :attr:`_seq`) and :meth:`_has_table`.

    Energies are [J], times [s since the epoch], tick lengths [s]; ticks are indices.
    """

    _errors: tuple[type[BaseException], ...] = (sqlite3.Error,)
    _seq = "rowid"
    """The column giving insertion order."""

    def __init__(self, con: Any, path: Path | str, readonly: bool) -> None:
        self.db = con
        self.path = path
        self.readonly = readonly
        self._timebase: tuple[float, float] | None = None
        self._depth = 0  # nesting of transaction() blocks

    # ------------------------------------------------------------ open / close
    @classmethod
    def create(cls, path: Path | str, schema: str | None = None) -> LedgerStore:
        """Open ``path`` for writing, creating the ledger's tables.

        ``path`` is a SQLite file (WAL journal) or a ``postgresql://`` URL; ``schema`` is the
        PostgreSQL schema of this run's tables (see :func:`pg_schema`; ignored for SQLite).

        Raises
        ------
        LedgerError
            If the ledger cannot be created (the message never holds a password).
        """
        if is_postgres(path):
            return PgLedgerStore.connect(str(path), schema, readonly=False, create=True)
        path = Path(path)
        con = sqlite3.connect(str(path), isolation_level=None)
        try:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            con.executescript(SCHEMA.replace(PACKET_INDEX, ""))  # the index: at close
        except sqlite3.Error as exc:
            con.close()
            raise LedgerError(f"cannot create the ledger {path}: {exc}") from exc
        return cls(con, path, readonly=False)

    @classmethod
    def open(cls, path: Path | str, readonly: bool = True, timeout: float = 5.0,
             schema: str | None = None) -> LedgerStore:
        """Open an existing ledger (read-only unless ``readonly=False``).

        ``path`` is a SQLite file, a ``postgresql://`` URL (with ``schema``), or the
        ``ledger.sqlite`` of a run folder whose ledger is in PostgreSQL (the folder's
        :data:`PG_POINTER` names it). ``timeout`` [s] is how long a statement waits for a
        writer's lock (SQLite).

        Raises
        ------
        FileNotFoundError
            If there is no file at ``path``.
        LedgerError
            If the ledger cannot be opened.
        """
        if is_postgres(path):
            return PgLedgerStore.connect(str(path), schema, readonly=readonly)
        path = Path(path)
        pointer = path.with_name(PG_POINTER)
        if not path.exists() and pointer.exists():
            where = json.loads(pointer.read_text())
            return PgLedgerStore.connect(where["dsn"], where["schema"], readonly=readonly)
        if not path.exists():
            raise FileNotFoundError(f"no ledger at {path}")
        try:
            if readonly:
                con = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True,
                                      timeout=timeout, isolation_level=None)
            else:
                con = sqlite3.connect(str(path), timeout=timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot open the ledger {path}: {exc}") from exc
        return cls(con, path, readonly=readonly)

    def close(self) -> None:
        """Close the connection (idempotent); a writer first indexes the packets by tick
        (once, at the end: cheaper than keeping the index while booking)."""
        try:
            if not self.readonly:
                self._index()
        except Exception:  # noqa: BLE001 - an index is an optimisation; closing goes on
            pass
        try:
            self.db.close()
        except self._errors:
            pass

    def _index(self) -> None:
        if self.db.in_transaction:
            return
        self.db.execute(PACKET_INDEX)

    def __enter__(self) -> LedgerStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ backend seam
    def _sql(self, sql: str) -> str:
        """``sql`` (``?`` placeholders) in the backend's placeholder style."""
        return sql

    def _why(self, exc: BaseException) -> str:
        return _sqlite_why(exc)  # type: ignore[arg-type]

    def _in_transaction(self) -> bool:
        return bool(self.db.in_transaction)

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.db.execute(self._sql(sql), params)

    def _executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.db.executemany(self._sql(sql), rows)

    @staticmethod
    def _total(expr: str) -> str:
        """Sum of ``expr`` over the group, 0.0 when there is none."""
        return f"TOTAL({expr})"

    @staticmethod
    def _bin(col: str) -> str:
        """``⌊col / ?⌋`` as an integer (``col`` ≥ 0)."""
        return f"CAST({col} / ? AS INTEGER)"

    def _has_table(self, name: str) -> bool:
        return bool(self._query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                                (name,)))

    def _write_packets(self, ticks: np.ndarray, sim_time: np.ndarray,
                       flows: list[tuple[str, str, str, np.ndarray]]) -> None:
        """Insert the packet rows: for each flow its non-zero ticks (``ticks`` and
        ``sim_time`` [s] of the window; joules [J] of the flow, shape (n,))."""
        for src, snk, car, j in flows:
            nz = np.flatnonzero(j)
            if nz.size:  # one statement per flow: its names as literals, bound once
                self.db.executemany(
                    f"INSERT INTO packet VALUES (?,?,{_literal(src)},{_literal(snk)},"
                    f"{_literal(car)},?)",
                    zip(ticks[nz].tolist(), sim_time[nz].tolist(), j[nz].tolist(),
                        strict=True))

    def _write_series(self, ticks: np.ndarray,
                      series: list[tuple[str, str, np.ndarray]]) -> None:
        """Insert the series rows: for each series its non-zero ticks."""
        for dev, met, v in series:
            nz = np.flatnonzero(v)
            if nz.size:
                self.db.executemany(
                    f"INSERT INTO series VALUES (?,{_literal(dev)},{_literal(met)},?)",
                    zip(ticks[nz].tolist(), v[nz].tolist(), strict=True))

    # ------------------------------------------------------------ transactions
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction around the writes in the block (nested blocks join the outer one);
        rolled back if the block raises. Database errors surface as :class:`LedgerError`."""
        if self._depth:
            yield
            return
        self._depth += 1
        try:
            if self._in_transaction():  # left open by a failure we did not see: never jam
                self._rollback()
            self.db.execute("BEGIN")
            try:
                yield
                self.db.execute("COMMIT")
            except BaseException:
                self._rollback()  # also when COMMIT itself failed (disk full, I/O error)
                raise
        except self._errors as exc:
            raise LedgerError(self._why(exc)) from exc
        finally:
            self._depth -= 1

    def _rollback(self) -> None:
        if not self._in_transaction():
            return
        try:
            self.db.execute("ROLLBACK")
        except self._errors:
            # e.g. statements still running: close them by resetting the connection's state
            try:
                self.db.rollback()
            except self._errors:
                pass

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        try:
            return list(self._execute(sql, params).fetchall())
        except self._errors as exc:
            if self._depth == 0 and self._in_transaction():
                self._rollback()  # PostgreSQL: a failed statement aborts its transaction
            raise LedgerError(str(exc)) from exc

    # ------------------------------------------------------------ writes
    def truncate_from(self, window: int, tick: int) -> None:
        """Forget everything booked from window ``window`` / tick ``tick`` on (a run resumed
        from a snapshot books it again). Call inside :meth:`transaction`."""
        for sql, arg in (("DELETE FROM packet WHERE tick >= ?", tick),
                         ("DELETE FROM event WHERE tick >= ?", tick),
                         ("DELETE FROM series WHERE tick >= ?", tick),
                         ("DELETE FROM node_balance WHERE window_index >= ?", window),
                         ("DELETE FROM device_metric WHERE window_index >= ?", window),
                         ("DELETE FROM settled_window WHERE window_index >= ?", window)):
            try:
                self._execute(sql, (arg,))
            except self._errors as exc:
                raise LedgerError(f"cannot truncate the ledger: {exc}") from exc

    def write_run(self, run_id: str, home: str, start: float, dt: float, ticks: int,
                  manifest: str, created_at: str | None = None) -> None:
        """Write (or replace) the run row.

        ``start`` [s since the epoch] of tick 0, ``dt`` [s], ``ticks`` planned, ``manifest``
        the resolved Home as JSON; ``created_at`` defaults to now (local time, ISO 8601).
        Packet and event times of :meth:`book_window` are ``start + tick · dt``.
        """
        if created_at is None:
            created_at = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        with self.transaction():
            self._execute("DELETE FROM run WHERE run_id = ?", (run_id,))
            self._execute("INSERT INTO run VALUES (?,?,?,?,?,?,?)",
                          (run_id, home, created_at, start, dt, ticks, manifest))
        self._timebase = (start, dt)

    def write_nodes(self, nodes: Iterable[tuple[str, str, bool]]) -> None:
        """Write (or replace) ``(name, kind, bounded)`` node rows, in the given order."""
        rows = [(str(n), str(k), bool(b)) for n, k, b in nodes]
        with self.transaction():
            for name, _, _ in rows:
                self._execute("DELETE FROM node WHERE name = ?", (name,))
            self._executemany("INSERT INTO node VALUES (?,?,?)", rows)

    def _time(self) -> tuple[float, float]:
        """``(start [s], dt [s])`` of the run row."""
        if self._timebase is None:
            r = self.run()
            if r is None:
                raise LedgerError("the ledger has no run row: write_run first")
            self._timebase = (r.start, r.dt)
        return self._timebase

    def _event_rows(self, events: Iterable[Event]) -> list[tuple[Any, ...]]:
        start, dt = self._time()
        return [(e.tick, start + e.tick * dt if e.sim_time is None else e.sim_time, e.device,
                 e.kind, self._text(e.value), e.reason, json.dumps(e.data or {}))
                for e in events]

    @staticmethod
    def _text(value: Any) -> Any:
        """An event's ``value`` as the TEXT column stores it (SQLite converts it itself)."""
        return value

    def book_window(self, window: int, tick0: int, n: int, flows: Iterable[Flow],
                    balances: Iterable[NodeBalance], metrics: Iterable[MetricTotal],
                    events: Iterable[Event] = (), booked_at: float | None = None,
                    series: Iterable[Series] = ()) -> int:
        """Book window ``window`` (ticks ``[tick0, tick0 + n)``) in one transaction.

        Writes one ``packet`` row per non-zero tick of each flow (flows in the given order),
        the nodes' balances [J], the devices' metric totals, the events, one ``series`` row
        per non-zero tick of each series, then the ``settled_window`` row (``booked_at`` [s
        since the epoch], default now): a window is settled on disk exactly when all of its
        rows are. Returns the packet rows written.

        Raises
        ------
        ValueError
            If a flow or series does not have ``n`` values (nothing is written).
        LedgerError
            If the database refuses the window (e.g. a negative packet; rolled back).
        """
        start, dt = self._time()
        ticks = tick0 + np.arange(n)
        sim_time = start + ticks * dt
        pk: list[tuple[str, str, str, np.ndarray]] = []
        rows = 0
        for src, snk, car, joules in flows:
            j = np.asarray(joules, dtype=float)
            if j.shape != (n,):
                raise ValueError(f"flow {src}->{snk} has {j.shape} values, expected {n}")
            pk.append((src, snk, car, j))
            rows += int(np.count_nonzero(j))
        ser: list[tuple[str, str, np.ndarray]] = []
        for dev, met, values in series:
            v = np.asarray(values, dtype=float)
            if v.shape != (n,):
                raise ValueError(f"series {dev}.{met} has {v.shape} values, expected {n}")
            ser.append((dev, met, v))
        bal_rows = [(window, *b) for b in balances]
        met_rows = [(window, *m) for m in metrics]
        ev_rows = self._event_rows(events)
        with self.transaction():
            self._write_packets(ticks, sim_time, pk)
            if bal_rows:
                self._executemany("INSERT INTO node_balance VALUES (?,?,?,?,?,?,?,?)",
                                  bal_rows)
            if met_rows:
                self._executemany("INSERT INTO device_metric VALUES (?,?,?,?,?,?)", met_rows)
            if ev_rows:
                self._executemany("INSERT INTO event VALUES (?,?,?,?,?,?,?)", ev_rows)
            if ser:
                self._write_series(ticks, ser)
            self._execute("INSERT INTO settled_window VALUES (?,?,?,?)",
                          (window, tick0, n, time.time() if booked_at is None else booked_at))
        return rows

    def write_events(self, events: Iterable[Event]) -> int:
        """Write events outside a window's booking (``sim_time`` [s] from the run row when
        not given). Returns the rows written."""
        ev_rows = self._event_rows(events)
        if ev_rows:
            with self.transaction():
                self._executemany("INSERT INTO event VALUES (?,?,?,?,?,?,?)", ev_rows)
        return len(ev_rows)

    # ------------------------------------------------------------ reads: run
    def run(self) -> Run | None:
        """The run row (None while the ledger has none)."""
        rows = self._query("SELECT run_id, home, created_at, start_time, dt, ticks, manifest "
                           "FROM run")
        if not rows:
            return None
        run_id, home, created, start, dt, ticks, manifest = rows[0]
        return Run(run_id, home, created, float(start), float(dt), int(ticks), manifest)

    def home(self) -> Home:
        """The resolved Home manifest stored in the run row.

        Raises
        ------
        LedgerError
            If the ledger has no run row.
        pydantic.ValidationError
            If the stored manifest does not validate.
        """
        from homesim.schemas.manifest import Home

        r = self.run()
        if r is None:
            raise LedgerError("the ledger has no run row")
        return Home.model_validate_json(r.manifest)

    def nodes(self) -> list[Node]:
        """Every node (devices and external nodes) in the order they were written."""
        return [Node(name, kind, bool(b))
                for name, kind, b in self._query("SELECT name, kind, bounded FROM node "
                                                 f"ORDER BY {self._seq}")]

    def kinds(self) -> dict[str, str]:
        """Kind of every node, by name."""
        return dict(self._query("SELECT name, kind FROM node"))

    def settled_windows(self) -> list[SettledWindow]:
        """The booked windows, by window index."""
        return [SettledWindow(*r) for r in self._query(
            "SELECT window_index, tick0, n, booked_at FROM settled_window "
            "ORDER BY window_index")]

    def settled_span(self) -> SettledSpan:
        """How many windows and ticks are booked and which ticks they span."""
        count, first, end, n = self._query(
            "SELECT COUNT(*), MIN(tick0), MAX(tick0 + n), SUM(n) FROM settled_window")[0]
        return SettledSpan(int(count), first, end, int(n or 0))

    # ------------------------------------------------------------ reads: packets
    @staticmethod
    def _tick_range(tick0: int | None, tick1: int | None, col: str = "tick"
                    ) -> tuple[list[str], list[Any]]:
        where, params = [], []
        if tick0 is not None:
            where.append(f"{col} >= ?")
            params.append(tick0)
        if tick1 is not None:
            where.append(f"{col} < ?")
            params.append(tick1)
        return where, params

    def flow_totals(self, tick0: int | None = None, tick1: int | None = None,
                    carrier: str | None = None) -> dict[tuple[str, str, str], float]:
        """Energy of each ``(source, sink, carrier)`` flow over ticks ``[tick0, tick1)``
        (default: every booked tick) [J], sorted by key."""
        where, params = self._tick_range(tick0, tick1)
        if carrier is not None:
            where.append("carrier = ?")
            params.append(carrier)
        cond = f" WHERE {' AND '.join(where)}" if where else ""
        rows = self._query(f"SELECT source, sink, carrier, SUM(joules) FROM packet{cond} "
                           "GROUP BY source, sink, carrier ORDER BY source, sink, carrier",
                           params)
        return {(s, k, c): float(j) for s, k, c, j in rows}

    def hourly_flows(self, bin_s: float = S_PER_H) -> list[HourlyFlow]:
        """Energy per flow and time bin of ``bin_s`` [s] (default an hour) over the whole run
        [J], aggregated in SQLite (small: 8,760 bins × flows for a year); bins count from the
        epoch (``bin = ⌊sim_time / bin_s⌋``), sorted by bin, source, sink, carrier."""
        return [HourlyFlow(*r) for r in self._query(
            f"SELECT {self._bin('sim_time')} AS h, source, sink, carrier, SUM(joules) "
            "FROM packet GROUP BY h, source, sink, carrier ORDER BY h, source, sink, carrier",
            (float(bin_s),))]

    def tick_flows(self, tick0: int, tick1: int, carrier: str | None = None) -> list[TickFlow]:
        """Energy of each (source, sink) flow in each tick of ``[tick0, tick1)`` [J], only
        ``carrier`` if given, sorted by tick (then source, sink)."""
        where, params = self._tick_range(tick0, tick1)
        if carrier is not None:
            where.append("carrier = ?")
            params.append(carrier)
        return [TickFlow(*r) for r in self._query(
            f"SELECT tick, source, sink, SUM(joules) FROM packet WHERE {' AND '.join(where)} "
            "GROUP BY tick, source, sink ORDER BY tick", params)]

    def per_tick(self, meters: Sequence[Meter], tick0: int, tick1: int) -> np.ndarray:
        """Every meter per tick of ``[tick0, tick1)`` in one pass over the packets [J].

        Returns an array of shape ``(tick1 - tick0, len(meters))``; row ``i`` is tick
        ``tick0 + i`` (zero where nothing flowed). One row per tick comes out of SQLite (a
        pivot): a year at dt = 60 s is 525,600 short rows instead of millions of packets.
        """
        out = np.zeros((max(tick1 - tick0, 0), len(meters)))
        live = [(i, m) for i, m in enumerate(meters) if m.sinks != () and m.sources != ()]
        if not live or tick1 <= tick0:
            return out
        terms: list[str] = []
        params: list[Any] = []
        for _, m in live:
            cond = "carrier = ?"
            params.append(m.carrier)
            if m.sinks is not None:
                cond += f" AND sink IN ({_marks(m.sinks)})"
                params += m.sinks
            if m.sources is not None:
                cond += f" AND source IN ({_marks(m.sources)})"
                params += m.sources
            terms.append(self._total(f"CASE WHEN {cond} THEN joules END"))
        carriers = sorted({m.carrier for _, m in live})
        rows = self._query(
            f"SELECT tick, {', '.join(terms)} FROM packet "
            f"WHERE tick >= ? AND tick < ? AND carrier IN ({_marks(carriers)}) GROUP BY tick",
            [*params, tick0, tick1, *carriers])
        if rows:
            a = np.array(rows, dtype=float)
            out[np.ix_(a[:, 0].astype(np.int64) - tick0, [i for i, _ in live])] = a[:, 1:]
        return out

    def flow_series(self, source: str | None, sink: str | None, carrier: str, tick0: int,
                    tick1: int) -> np.ndarray:
        """Per-tick energy of one flow over ``[tick0, tick1)`` [J], shape (tick1 - tick0,);
        ``source``/``sink`` None: any node (e.g. everything into ``sink``)."""
        m = Meter(carrier, None if source is None else (source,),
                  None if sink is None else (sink,))
        return self.per_tick([m], tick0, tick1)[:, 0]

    # ------------------------------------------------------------ reads: windows
    def node_balances(self, tick0: int | None = None, tick1: int | None = None
                      ) -> dict[str, NodeBalance]:
        """Each balanced node's balance summed over the windows inside ``[tick0, tick1)``
        (default all) [J], sorted by node; ``max_abs_residual`` is the worst tick's."""
        sql = ("SELECT b.node, SUM(b.energy_in), SUM(b.energy_out), SUM(b.delta_stored), "
               "SUM(b.losses), SUM(b.residual), MAX(b.max_abs_residual) FROM node_balance b")
        where, params = self._window_range(tick0, tick1)
        if where:
            sql += (" JOIN settled_window w ON w.window_index = b.window_index WHERE "
                    + " AND ".join(where))
        rows = self._query(sql + " GROUP BY b.node ORDER BY b.node", params)
        return {r[0]: NodeBalance(*r) for r in rows}

    @staticmethod
    def _window_range(tick0: int | None, tick1: int | None) -> tuple[list[str], list[Any]]:
        """Windows lying entirely inside ``[tick0, tick1)``."""
        where, params = [], []
        if tick0 is not None:
            where.append("w.tick0 >= ?")
            params.append(tick0)
        if tick1 is not None:
            where.append("w.tick0 + w.n <= ?")
            params.append(tick1)
        return where, params

    def device_metrics(self, metrics: Sequence[str] | None = None,
                       devices: Sequence[str] | None = None, tick0: int | None = None,
                       tick1: int | None = None) -> list[DeviceMetric]:
        """Per-window metric totals, minima and maxima, with each window's ticks, sorted by
        ``tick0``; only ``metrics``/``devices`` if given and only windows lying entirely
        inside ``[tick0, tick1)`` if given (unit of each metric as its device books it)."""
        where, params = [], []
        if metrics is not None:
            where.append(f"m.metric IN ({_marks(metrics)})")
            params += metrics
        if devices is not None:
            where.append(f"m.device IN ({_marks(devices)})")
            params += devices
        w_where, w_params = self._window_range(tick0, tick1)
        where += w_where
        params += w_params
        cond = f" WHERE {' AND '.join(where)}" if where else ""
        return [DeviceMetric(*r) for r in self._query(
            "SELECT m.window_index, w.tick0, w.n, m.device, m.metric, m.total, m.minimum, "
            "m.maximum FROM device_metric m JOIN settled_window w "
            f"ON w.window_index = m.window_index{cond} ORDER BY w.tick0, m.device, m.metric",
            params)]

    def metric_totals(self, tick0: int | None = None, tick1: int | None = None
                      ) -> dict[tuple[str, str], tuple[float, float, float]]:
        """``(sum, minimum, maximum)`` of every device metric over the windows lying inside
        ``[tick0, tick1)`` (default all), by ``(device, metric)`` (unit of each metric)."""
        where, params = self._window_range(tick0, tick1)
        cond = f" WHERE {' AND '.join(where)}" if where else ""
        rows = self._query(
            "SELECT m.device, m.metric, SUM(m.total), MIN(m.minimum), MAX(m.maximum) "
            "FROM device_metric m JOIN settled_window w ON w.window_index = m.window_index"
            f"{cond} GROUP BY m.device, m.metric ORDER BY m.device, m.metric", params)
        return {(d, m): (float(t), float(lo), float(hi)) for d, m, t, lo, hi in rows}

    def booked_ticks(self, tick0: int | None = None, tick1: int | None = None) -> int:
        """How many booked ticks lie in ``[tick0, tick1)`` (default: all booked ticks)."""
        lo = -(2 ** 62) if tick0 is None else tick0
        hi = 2 ** 62 if tick1 is None else tick1
        return sum(max(0, min(t0 + n, hi) - max(t0, lo))
                   for t0, n in self._query("SELECT tick0, n FROM settled_window"))

    def series_keys(self) -> list[tuple[str, str]]:
        """``(device, metric)`` of every stored per-tick series (empty for ledgers written
        before the ``series`` table existed)."""
        if not self._has_table("series"):
            return []
        return [(d, m) for d, m in self._query(
            "SELECT DISTINCT device, metric FROM series ORDER BY device, metric")]

    def series(self, device: str, metric: str, tick0: int, tick1: int) -> np.ndarray:
        """Per-tick values of a stored series over ``[tick0, tick1)``, zeros where no row was
        stored; shape (tick1 - tick0,) (unit of the metric)."""
        out = np.zeros(max(tick1 - tick0, 0))
        if tick1 <= tick0 or not self._has_table("series"):
            return out
        rows = self._query("SELECT tick, value FROM series WHERE device = ? AND metric = ? "
                           "AND tick >= ? AND tick < ?", (device, metric, tick0, tick1))
        if rows:
            a = np.array(rows, dtype=float)
            out[a[:, 0].astype(np.int64) - tick0] = a[:, 1]
        return out

    def events(self, device: str | None = None, kind: str | None = None,
               tick0: int | None = None, tick1: int | None = None) -> list[Event]:
        """Device events in ``[tick0, tick1)`` (default all), by tick then booking order."""
        where, params = self._tick_range(tick0, tick1)
        if device is not None:
            where.append("device = ?")
            params.append(device)
        if kind is not None:
            where.append("kind = ?")
            params.append(kind)
        cond = f" WHERE {' AND '.join(where)}" if where else ""
        rows = self._query("SELECT tick, device, kind, value, reason, data, sim_time "
                           f"FROM event{cond} ORDER BY tick, {self._seq}", params)
        return [Event(t, d, k, v, r, json.loads(data) if data else None, s)
                for t, d, k, v, r, data, s in rows]

    # ------------------------------------------------------------ export
    def export_table(self, table: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Column names and every row of one of :data:`EXPORT_TABLES`, in storage order.

        Raises
        ------
        ValueError
            If ``table`` is not one of :data:`EXPORT_TABLES`.
        """
        if table not in EXPORT_TABLES:
            raise ValueError(f"table must be one of {', '.join(EXPORT_TABLES)}, not {table!r}")
        try:
            cur = self._execute(f"SELECT * FROM {table} ORDER BY {self._seq}")  # noqa: S608
            rows = list(cur.fetchall())
        except self._errors as exc:
            raise LedgerError(str(exc)) from exc
        return [d[0] for d in cur.description], rows


# ---------------------------------------------------------------------------- PostgreSQL

_PGCOPY_HEAD = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, header extension
_PGCOPY_TAIL = b"\xff\xff"


def _copy_rows(n: int, fields: list[tuple[str, Any]]) -> bytes:
    """``n`` rows in PostgreSQL's binary COPY format, built in one numpy buffer.

    ``fields`` are ``(kind, value)``: ``"int8"`` (an array of n ints), ``"float8"`` (an array
    of n floats) or ``"text"`` (one string, the same in every row).
    """
    layout: list[tuple[str, str]] = [("count", ">i2")]
    for i, (kind, value) in enumerate(fields):
        layout.append((f"len{i}", ">i4"))
        if kind == "int8":
            layout.append((f"f{i}", ">i8"))
        elif kind == "float8":
            layout.append((f"f{i}", ">f8"))
        else:
            layout.append((f"f{i}", f"S{len(value.encode())}"))
    rows = np.empty(n, dtype=np.dtype(layout))
    rows["count"] = len(fields)
    for i, (kind, value) in enumerate(fields):
        if kind == "text":
            raw = value.encode()
            rows[f"len{i}"] = len(raw)
            rows[f"f{i}"] = raw
        else:
            rows[f"len{i}"] = 8
            rows[f"f{i}"] = value
    return rows.tobytes()


class PgLedgerStore(LedgerStore):
    """The ledger in a PostgreSQL database (``homesim run --ledger postgresql://…``): the
    same tables (:data:`SCHEMA`) in one schema per run (:func:`pg_schema`), packets and
    series written with binary ``COPY`` (psycopg 3), every read of :class:`LedgerStore`.

    The password never reaches a message: give it in the URL, in :data:`DSN_ENV` (the same
    URL with its password) or the way libpq finds it (``PGPASSWORD``, ``~/.pgpass``).
    """

    _seq = "ctid"  # insertion order of append-only tables

    def __init__(self, con: Any, path: Path | str, readonly: bool, schema: str | None,
                 errors: tuple[type[BaseException], ...]) -> None:
        super().__init__(con, path, readonly)
        self.schema = schema
        self._errors = errors
        self._sqls: dict[str, str] = {}

    @classmethod
    def connect(cls, dsn: str, schema: str | None, readonly: bool = True,
                create: bool = False) -> PgLedgerStore:
        """Connect to the PostgreSQL ledger at ``dsn`` (tables in ``schema``; with
        ``create``: the schema and its tables are created when missing).

        Raises
        ------
        LedgerError
            If psycopg is missing or the server refuses (the message names the DSN without
            its password).
        """
        try:
            import psycopg
            from psycopg import sql
        except ImportError as exc:
            raise LedgerError("a PostgreSQL ledger needs psycopg 3: "
                              "pip install 'psycopg[binary]'") from exc
        plain, password = without_password(dsn)
        env = os.environ.get(DSN_ENV)
        if password is None and env and is_postgres(env):
            env_plain, env_password = without_password(env)
            if env_plain == plain:
                password = env_password
        kwargs: dict[str, Any] = {} if password is None else {"password": password}
        try:
            con = psycopg.connect(plain, autocommit=True, **kwargs)
        except psycopg.Error as exc:
            raise LedgerError(f"cannot connect to the ledger {plain}: "
                              f"{str(exc).strip()}") from None
        try:
            if schema:
                if create:
                    con.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
                        sql.Identifier(schema)))
                con.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
            if create:
                con.execute(SCHEMA)
            if readonly:
                con.execute("SET default_transaction_read_only = on")
        except psycopg.Error as exc:
            con.close()
            raise LedgerError(f"cannot {'create' if create else 'open'} the ledger {plain} "
                              f"(schema {schema}): {str(exc).strip()}") from None
        return cls(con, plain, readonly, schema, (psycopg.Error,))

    def _sql(self, sql: str) -> str:
        out = self._sqls.get(sql)
        if out is None:
            out = self._sqls[sql] = sql.replace("%", "%%").replace("?", "%s")
        return out

    def _why(self, exc: BaseException) -> str:
        return f"{type(exc).__name__}: {str(exc).strip()}"

    def _in_transaction(self) -> bool:
        from psycopg import pq

        return bool(self.db.info.transaction_status != pq.TransactionStatus.IDLE)

    def _executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self.db.cursor() as cur:
            cur.executemany(self._sql(sql), list(rows))

    def _index(self) -> None:
        pass  # kept up to date by the server while booking

    @staticmethod
    def _total(expr: str) -> str:
        return f"COALESCE(SUM({expr}), 0.0)"

    @staticmethod
    def _bin(col: str) -> str:
        return f"CAST(FLOOR({col} / ?) AS BIGINT)"

    def _has_table(self, name: str) -> bool:
        return bool(self._query("SELECT 1 FROM information_schema.tables WHERE "
                                "table_schema = current_schema() AND table_name = ?", (name,)))

    @staticmethod
    def _text(value: Any) -> Any:
        """As SQLite's TEXT affinity stores it: ``True`` → ``'1'``, ``2.0`` → ``'2.0'``."""
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, bool | int):
            return str(int(value))
        if isinstance(value, float):
            text = f"{value:.15g}"
            return text + ".0" if text.lstrip("-").isdigit() else text
        return str(value)

    def _copy(self, table: str, columns: str, chunks: list[bytes]) -> None:
        with self.db.cursor() as cur, cur.copy(
                f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)") as cp:
            cp.write(b"".join([_PGCOPY_HEAD, *chunks, _PGCOPY_TAIL]))

    def _write_packets(self, ticks: np.ndarray, sim_time: np.ndarray,
                       flows: list[tuple[str, str, str, np.ndarray]]) -> None:
        chunks = []
        for src, snk, car, j in flows:
            nz = np.flatnonzero(j)
            if nz.size:
                chunks.append(_copy_rows(nz.size, [
                    ("int8", ticks[nz]), ("float8", sim_time[nz]), ("text", src),
                    ("text", snk), ("text", car), ("float8", j[nz])]))
        if chunks:
            self._copy("packet", "tick, sim_time, source, sink, carrier, joules", chunks)

    def _write_series(self, ticks: np.ndarray,
                      series: list[tuple[str, str, np.ndarray]]) -> None:
        chunks = []
        for dev, met, v in series:
            nz = np.flatnonzero(v)
            if nz.size:
                chunks.append(_copy_rows(nz.size, [("int8", ticks[nz]), ("text", dev),
                                                   ("text", met), ("float8", v[nz])]))
        if chunks:
            self._copy("series", "tick, device, metric, value", chunks)
