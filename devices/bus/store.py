"""The ledger store: the one module that owns the ledger's SQL (schema, writes, every read).

A run's ledger is one SQLite file (``ledger.sqlite`` in the run folder) with standard SQL
types that PostgreSQL accepts, or the same tables in PostgreSQL (:class:`PgLedgerStore`,
``homesim run --ledger postgresql://…``: one schema per run).
The ledger process writes it through :meth:`LedgerStore.create` (the run row, the nodes, then
one transaction per settled window); the analysis code (report, bills, ``homesim export``)
reads it through :meth:`LedgerStore.open`. Nobody else writes SQL against these tables.

Tables
------
``run``            one row: run id, home name, creation time, ``start_time`` [s since the
                   epoch], ``dt`` [s], planned ``ticks``, the resolved manifest (JSON);
``node``           every device and external node: ``name``, ``kind``, ``bounded``;
``packet``         one row per window and flow: ``window_index``, ``tick0``, ``n``,
                   ``source``, ``sink``, ``carrier``, ``joules`` (the window's ``n``
                   per-tick energies [J], little-endian float64, as a BLOB / bytea); a flow
                   that is zero over a whole window has no row (a missing row means 0).
                   ``homesim export`` and :meth:`LedgerStore.packets` expand it to one row
                   per non-zero tick: ``tick``, ``sim_time`` [s], ``source``, ``sink``,
                   ``carrier``, ``joules`` [J];
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
                   [°C], charger connected [-], energy unmet [J]): one row per window and
                   series, ``window_index``, ``tick0``, ``n``, ``device``, ``metric``,
                   ``value`` (``n`` little-endian float64); like packets, a missing row means
                   0 (exported as ``tick``, ``device``, ``metric``, ``value`` per non-zero
                   tick).

Per-tick data is stored per window (a year at dt = 60 s is ~10⁵ rows instead of ~10⁶–10⁷):
booking a window writes a few rows, and every read aggregates the windows' arrays in numpy
(:meth:`LedgerStore._blocks` is the one place that reads them). A ledger written by an
older homesim (one row per tick) is refused with a :class:`LedgerError` naming it.

This module imports only the standard library, numpy and ``homesim.schemas`` (and psycopg
when a PostgreSQL ledger is opened): no autobahn, no twisted, no other ``homesim.devices.bus``
module.
"""

from __future__ import annotations

import hashlib
import json
import math
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
    "DSN_ENV", "PG_POINTER", "LEDGER_FILE", "run_ledger", "run_ledger_dsn", "is_postgres",
    "redact", "without_password", "pg_schema",
    "Run", "Node", "Flow", "NodeBalance", "MetricTotal", "Event", "SettledWindow",
    "SettledSpan", "HourlyFlow", "TickFlow", "Packet", "DeviceMetric", "Meter", "Series",
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
    window_index BIGINT NOT NULL, tick0 BIGINT NOT NULL, n INTEGER NOT NULL,
    source TEXT NOT NULL, sink TEXT NOT NULL, carrier TEXT NOT NULL,
    joules BYTEA NOT NULL
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
    window_index BIGINT NOT NULL, tick0 BIGINT NOT NULL, n INTEGER NOT NULL,
    device TEXT NOT NULL, metric TEXT NOT NULL, value BYTEA NOT NULL
);
CREATE INDEX IF NOT EXISTS packet_tick0 ON packet (tick0);
"""
"""The ledger's DDL (idempotent: ``CREATE … IF NOT EXISTS``), for SQLite and PostgreSQL.
``BYTEA`` is PostgreSQL's byte string; SQLite stores the BLOB as given (NUMERIC affinity
leaves BLOBs alone). Per-tick arrays are ``n`` little-endian float64 (:data:`TICK_DTYPE`)."""

PACKET_INDEX = "CREATE INDEX IF NOT EXISTS packet_tick0 ON packet (tick0);"
"""The packets' window index: a SQLite ledger builds it when the writer closes (keeping it
up to date while booking costs more than building it once)."""

TICK_DTYPE = np.dtype("<f8")
"""How a window's per-tick values are stored: little-endian float64."""

_PER_TICK = {"packet": ("source", "sink", "carrier", "joules"),
             "series": ("device", "metric", "value")}
"""The per-window tables: their key columns, then the column holding the array."""

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


class Packet(NamedTuple):
    """One non-zero packet: energy of one flow in one tick [J] (:meth:`LedgerStore.packets`;
    the rows ``homesim export --table packet`` writes)."""

    tick: int
    sim_time: float
    """Start of the tick [s since the epoch]."""
    source: str
    sink: str
    carrier: str
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

LEDGER_FILE = "ledger.sqlite"
"""A run folder's ledger: this SQLite file, or (a run booked in PostgreSQL) the same path
with :data:`PG_POINTER` beside it, which :meth:`LedgerStore.open` follows."""


def run_ledger(run_dir: Path | str) -> Path | None:
    """The ledger path of run folder ``run_dir`` for :meth:`LedgerStore.open`: its
    :data:`LEDGER_FILE` when that file or the folder's :data:`PG_POINTER` exists, else None
    (not a run folder, or the run never started). The one place that knows where a run's
    ledger is; readers (report, bill, compare, export, the Python API) ask here."""
    p = Path(run_dir) / LEDGER_FILE
    return p if p.is_file() or p.with_name(PG_POINTER).is_file() else None


def run_ledger_dsn(run_dir: Path | str) -> str | None:
    """The PostgreSQL URL a run folder's :data:`PG_POINTER` names, or None (a SQLite run).

    The pointer holds no password: when :data:`DSN_ENV` holds the same URL with one, that is
    returned; else libpq finds it (``PGPASSWORD``, ``~/.pgpass``). Used to go on booking
    where a run booked (``homesim resume``, ``homesim fork``)."""
    pointer = Path(run_dir) / PG_POINTER
    if not pointer.is_file():
        return None
    dsn = str(json.loads(pointer.read_text())["dsn"])
    full = os.environ.get(DSN_ENV) or ""
    return full if full and without_password(full)[0] == dsn else dsn


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
    small: connection and transactions, the placeholder style (:meth:`_sql`), the
    insertion-order column (:attr:`_seq`), :meth:`_has_table` and :meth:`_columns`. Per-tick
    data is read in one place, :meth:`_blocks`, and aggregated in numpy.

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
        self._layout_ok = False  # _check_layout passed

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
        store = cls(con, path, readonly=False)
        try:
            store._check_layout()  # an old file continued (resume): refused, left as it was
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            con.executescript(SCHEMA.replace(PACKET_INDEX, ""))  # the index: at close
        except sqlite3.Error as exc:
            con.close()
            raise LedgerError(f"cannot create the ledger {path}: {exc}") from exc
        except LedgerError:
            con.close()
            raise
        return store

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

    def _has_table(self, name: str) -> bool:
        return bool(self._query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                                (name,)))

    def _columns(self, table: str) -> list[str]:
        """Column names of ``table`` (empty when there is no such table)."""
        return [r[1] for r in self._query(f"PRAGMA table_info({table})")]

    def _write_blocks(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        """Insert per-window rows of ``packet`` or ``series``: ``(window_index, tick0, n,
        *key, array bytes)`` (a few rows per window: plain ``executemany``)."""
        self._executemany(f"INSERT INTO {table} VALUES (?,?,?,{_marks(rows[0][3:])})", rows)

    def _check_layout(self) -> None:
        """Refuse a ledger whose per-tick tables have the old layout (one row per tick).

        Raises
        ------
        LedgerError
            If ``packet`` or ``series`` has a ``tick`` column.
        """
        if self._layout_ok:
            return
        for table in _PER_TICK:
            if "tick" in self._columns(table):
                raise LedgerError(
                    f"the ledger {self.path} was written by an older homesim (one {table} row "
                    "per tick); re-run the simulation to read it with this version")
        self._layout_ok = True

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
        self._check_layout()
        for sql, arg in (("DELETE FROM packet WHERE window_index >= ?", window),
                         ("DELETE FROM event WHERE tick >= ?", tick),
                         ("DELETE FROM series WHERE window_index >= ?", window),
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

        Writes one ``packet`` row per flow that is non-zero in some tick (its ``n`` per-tick
        joules [J] as one array; flows in the given order), the nodes' balances [J], the
        devices' metric totals, the events, one ``series`` row per series non-zero in some
        tick, then the ``settled_window`` row (``booked_at`` [s since the epoch], default
        now): a window is settled on disk exactly when all of its rows are. Returns the
        packets booked: the non-zero ticks of all flows.

        Raises
        ------
        ValueError
            If a flow or series does not have ``n`` values (nothing is written).
        LedgerError
            If a packet is negative or a value not finite (nothing is written), or the
            database refuses the window (rolled back).
        """
        self._time()  # a run row first
        pk: list[tuple[Any, ...]] = []
        count = 0
        for src, snk, car, joules in flows:
            j = np.asarray(joules, dtype=TICK_DTYPE)
            if j.shape != (n,):
                raise ValueError(f"flow {src}->{snk} has {j.shape} values, expected {n}")
            if not np.isfinite(j).all() or (j < 0).any():
                bad = j[~np.isfinite(j) | (j < 0)][0]
                raise LedgerError(f"window {window}: packet {src}->{snk} ({car}) of {bad} J "
                                  "refused: packets are finite and non-negative")
            nz = int(np.count_nonzero(j))
            if nz:
                pk.append((window, tick0, n, src, snk, car, j.tobytes()))
                count += nz
        ser: list[tuple[Any, ...]] = []
        for dev, met, values in series:
            v = np.asarray(values, dtype=TICK_DTYPE)
            if v.shape != (n,):
                raise ValueError(f"series {dev}.{met} has {v.shape} values, expected {n}")
            if not np.isfinite(v).all():
                raise LedgerError(f"window {window}: series {dev}.{met} has a non-finite "
                                  "value")
            if np.count_nonzero(v):
                ser.append((window, tick0, n, dev, met, v.tobytes()))
        bal_rows = [(window, *b) for b in balances]
        met_rows = [(window, *m) for m in metrics]
        ev_rows = self._event_rows(events)
        with self.transaction():
            if pk:
                self._write_blocks("packet", pk)
            if bal_rows:
                self._executemany("INSERT INTO node_balance VALUES (?,?,?,?,?,?,?,?)",
                                  bal_rows)
            if met_rows:
                self._executemany("INSERT INTO device_metric VALUES (?,?,?,?,?,?)", met_rows)
            if ev_rows:
                self._executemany("INSERT INTO event VALUES (?,?,?,?,?,?,?)", ev_rows)
            if ser:
                self._write_blocks("series", ser)
            self._execute("INSERT INTO settled_window VALUES (?,?,?,?)",
                          (window, tick0, n, time.time() if booked_at is None else booked_at))
        return count

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

    def _blocks(self, table: str, tick0: int | None = None, tick1: int | None = None,
                where: Sequence[str] = (), params: Sequence[Any] = ()
                ) -> Iterator[tuple[int, tuple[str, ...], np.ndarray]]:
        """The per-window arrays of ``packet`` or ``series`` overlapping ``[tick0, tick1)``
        (default: all), in storage order, each clipped to the range: ``(first tick, key,
        values)``; ``key`` is ``(source, sink, carrier)`` or ``(device, metric)``, ``values``
        [J] or the metric's unit per tick. ``where`` are extra SQL conditions on the key
        columns with their ``params``. The one place that reads these tables' arrays.

        Raises
        ------
        LedgerError
            If the ledger cannot be read or has the old layout (:meth:`_check_layout`).
        """
        self._check_layout()
        *keys, col = _PER_TICK[table]
        cond, args = list(where), list(params)
        if tick1 is not None:
            cond.append("tick0 < ?")
            args.append(tick1)
        if tick0 is not None:
            cond.append("tick0 + n > ?")
            args.append(tick0)
            span = self._query("SELECT MAX(n) FROM settled_window")[0][0]
            if span is not None:  # the index's lower bound: no window is longer
                cond.append("tick0 > ?")
                args.append(tick0 - int(span))
        sql = (f"SELECT tick0, n, {', '.join(keys)}, {col} FROM {table}"  # noqa: S608
               + (f" WHERE {' AND '.join(cond)}" if cond else "") + f" ORDER BY {self._seq}")
        for t0, n, *key, raw in self._query(sql, args):
            values = np.frombuffer(raw, dtype=TICK_DTYPE)
            if values.size != n:
                raise LedgerError(f"{table} row of window tick0={t0} holds {values.size} "
                                  f"values, expected {n}")
            lo = 0 if tick0 is None else max(tick0 - t0, 0)
            hi = n if tick1 is None else min(tick1 - t0, n)
            if hi > lo:
                yield int(t0) + lo, tuple(key), values[lo:hi]

    def packets(self, tick0: int | None = None, tick1: int | None = None,
                carrier: str | None = None) -> Iterator[Packet]:
        """Every non-zero packet in ``[tick0, tick1)`` (default all), one per tick and flow
        (``joules`` [J], ``sim_time`` [s] the tick's start), window by window in booking
        order (flows as booked, ticks ascending): the rows ``homesim export`` writes."""
        self._check_layout()
        start, dt = self._time()
        where, params = ((["carrier = ?"], [carrier]) if carrier is not None else ([], []))
        for t, (src, snk, car), v in self._blocks("packet", tick0, tick1, where, params):
            nz = np.flatnonzero(v)
            ticks = t + nz
            for k, s, j in zip(ticks.tolist(), (start + ticks * dt).tolist(), v[nz].tolist(),
                               strict=True):
                yield Packet(k, s, src, snk, car, j)

    def flow_totals(self, tick0: int | None = None, tick1: int | None = None,
                    carrier: str | None = None) -> dict[tuple[str, str, str], float]:
        """Energy of each ``(source, sink, carrier)`` flow over ticks ``[tick0, tick1)``
        (default: every booked tick) [J], sorted by key; only flows with a non-zero packet
        in the range. Summed as the ledger keeps its running totals: the exactly rounded
        sum of each window (``math.fsum``), added window by window."""
        where, params = ((["carrier = ?"], [carrier]) if carrier is not None else ([], []))
        totals: dict[tuple[str, str, str], float] = {}
        for _, key, v in self._blocks("packet", tick0, tick1, where, params):
            if v.any():
                k3 = (key[0], key[1], key[2])
                totals[k3] = totals.get(k3, 0.0) + math.fsum(v.tolist())
        return {k: totals[k] for k in sorted(totals)}

    def hourly_flows(self, bin_s: float = S_PER_H) -> list[HourlyFlow]:
        """Energy per flow and time bin of ``bin_s`` [s] (default an hour) over the whole run
        [J] (small: 8,760 bins × flows for a year); bins count from the epoch (``bin =
        ⌊sim_time / bin_s⌋``), only bins with a non-zero packet, sorted by bin, source, sink,
        carrier."""
        self._check_layout()
        start, dt = self._time()
        parts: dict[tuple[str, ...], list[tuple[np.ndarray, np.ndarray]]] = {}
        for t, key, v in self._blocks("packet"):
            nz = np.flatnonzero(v)
            if nz.size:
                bins = np.floor((start + (t + nz) * dt) / float(bin_s)).astype(np.int64)
                parts.setdefault(key, []).append((bins, v[nz]))
        out: list[HourlyFlow] = []
        for key, chunks in parts.items():
            bins, inverse = np.unique(np.concatenate([b for b, _ in chunks]),
                                      return_inverse=True)
            sums = np.bincount(inverse, weights=np.concatenate([v for _, v in chunks]))
            out += [HourlyFlow(b, key[0], key[1], key[2], j)
                    for b, j in zip(bins.tolist(), sums.tolist(), strict=True)]
        out.sort(key=lambda h: (h.bin, h.source, h.sink, h.carrier))
        return out

    def tick_flows(self, tick0: int, tick1: int, carrier: str | None = None) -> list[TickFlow]:
        """Energy of each (source, sink) flow in each tick of ``[tick0, tick1)`` [J] (ticks
        with a non-zero packet), only ``carrier`` if given, sorted by tick, source, sink."""
        if tick1 <= tick0:
            return []
        where, params = ((["carrier = ?"], [carrier]) if carrier is not None else ([], []))
        pairs: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
        for t, (src, snk, _), v in self._blocks("packet", tick0, tick1, where, params):
            j, hit = pairs.setdefault((src, snk), (np.zeros(tick1 - tick0),
                                                   np.zeros(tick1 - tick0, dtype=bool)))
            j[t - tick0:t - tick0 + v.size] += v
            hit[t - tick0:t - tick0 + v.size] |= v != 0
        out = [TickFlow(tick0 + k, src, snk, j[k])
               for (src, snk), (j, hit) in pairs.items() for k in np.flatnonzero(hit).tolist()]
        out.sort(key=lambda f: (f.tick, f.source, f.sink))
        return out

    def per_tick(self, meters: Sequence[Meter], tick0: int, tick1: int) -> np.ndarray:
        """Every meter per tick of ``[tick0, tick1)`` in one pass over the packets [J].

        Returns an array of shape ``(tick1 - tick0, len(meters))``; row ``i`` is tick
        ``tick0 + i`` (zero where nothing flowed). The windows' arrays of the meters'
        carriers are read once and added into the meters' columns.
        """
        out = np.zeros((max(tick1 - tick0, 0), len(meters)))
        live = [(i, m) for i, m in enumerate(meters) if m.sinks != () and m.sources != ()]
        if not live or tick1 <= tick0:
            return out
        carriers = sorted({m.carrier for _, m in live})
        cols: dict[tuple[str, ...], list[int]] = {}
        for t, key, v in self._blocks("packet", tick0, tick1,
                                      [f"carrier IN ({_marks(carriers)})"], carriers):
            hit = cols.get(key)
            if hit is None:
                src, snk, car = key
                hit = cols[key] = [i for i, m in live if m.carrier == car
                                   and (m.sinks is None or snk in m.sinks)
                                   and (m.sources is None or src in m.sources)]
            for i in hit:
                out[t - tick0:t - tick0 + v.size, i] += v
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
        where: list[str] = []
        params: list[Any] = []
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
        for t, _, v in self._blocks("series", tick0, tick1, ["device = ?", "metric = ?"],
                                    [device, metric]):
            out[t - tick0:t - tick0 + v.size] = v
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
        """Column names and every row of one of :data:`EXPORT_TABLES`, in storage order;
        ``packet`` and ``series`` one row per non-zero tick (``tick, sim_time, source, sink,
        carrier, joules`` and ``tick, device, metric, value``), window by window.

        Raises
        ------
        ValueError
            If ``table`` is not one of :data:`EXPORT_TABLES`.
        """
        if table not in EXPORT_TABLES:
            raise ValueError(f"table must be one of {', '.join(EXPORT_TABLES)}, not {table!r}")
        if table == "packet":
            return list(Packet._fields), [tuple(p) for p in self.packets()]
        if table == "series":
            rows = []
            for t, (dev, met), v in self._blocks("series"):
                nz = np.flatnonzero(v)
                rows += [(k, dev, met, x) for k, x in zip((t + nz).tolist(), v[nz].tolist(),
                                                          strict=True)]
            return ["tick", "device", "metric", "value"], rows
        try:
            cur = self._execute(f"SELECT * FROM {table} ORDER BY {self._seq}")  # noqa: S608
            rows = list(cur.fetchall())
        except self._errors as exc:
            raise LedgerError(str(exc)) from exc
        return [d[0] for d in cur.description], rows


# ---------------------------------------------------------------------------- PostgreSQL

class PgLedgerStore(LedgerStore):
    """The ledger in a PostgreSQL database (``homesim run --ledger postgresql://…``): the
    same tables (:data:`SCHEMA`) in one schema per run (:func:`pg_schema`; per-tick arrays
    as ``bytea``, a few rows per window written with ``executemany``, psycopg 3), every read
    of :class:`LedgerStore`.

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
        store = cls(con, plain, readonly, schema, (psycopg.Error,))
        if create:
            try:
                store._check_layout()  # an old schema continued (resume): refused
            except LedgerError:
                con.close()
                raise
        return store

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

    def _has_table(self, name: str) -> bool:
        return bool(self._query("SELECT 1 FROM information_schema.tables WHERE "
                                "table_schema = current_schema() AND table_name = ?", (name,)))

    def _columns(self, table: str) -> list[str]:
        return [r[0] for r in self._query(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = "
            "current_schema() AND table_name = ? ORDER BY ordinal_position", (table,))]

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
