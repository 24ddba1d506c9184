"""The PostgreSQL ledger backend against a real server (Debian's ``postgresql`` binaries,
started and stopped here: tests/postgres.py): the same store tests as the default SQLite
store (tests/test_store.py, collected again here with the ``at`` fixture pointing at
PostgreSQL), and a real ``homesim run --ledger postgresql://…`` whose summary is the SQLite
run's, with its password in no log, no argv and no file of the run."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from pathlib import Path

import psutil
import pytest

from homesim.devices.bus.store import (
    DSN_ENV,
    PG_POINTER,
    LedgerError,
    LedgerStore,
    pg_schema,
    redact,
    without_password,
)
from tests.conftest import missing_tool
from tests.integration.conftest import HOMESIM, example, write_manifest
from tests.postgres import PgServer, pg_bin
from tests.test_store import (  # noqa: F401 - collected again, against PostgreSQL
    booked,
    test_a_failed_window_leaves_nothing_behind,
    test_export_command_writes_the_table,
    test_ledger_totals_and_summary_agree_with_the_store,
    test_reads,
    test_rows_on_disk_are_what_the_ledger_always_wrote,
)

pytestmark = pytest.mark.quick


@pytest.fixture(scope="module")
def pg():
    """A PostgreSQL server for this module (skipped, or failed in the full tier, only when
    the binaries or psycopg are missing: ./test installs both)."""
    bindir = pg_bin()
    if bindir is None:
        missing_tool("PostgreSQL server binaries missing (Debian package postgresql)",
                     module_level=True)
    try:
        import psycopg  # noqa: F401
    except ImportError:
        missing_tool("psycopg missing (pip install -e .)", module_level=True)
    server = PgServer(bindir).start()  # type: ignore[arg-type]
    yield server
    server.stop()


class PgAt:
    """Where the tests' ledger lives: this run's schema in the test server; the run folder
    holds the pointer readers follow (``ledger.pg.json``, no password)."""

    seq = "ctid"

    def __init__(self, dsn: str, run_dir: Path) -> None:
        import psycopg

        self.dsn = dsn
        self.target = dsn
        self.schema = pg_schema("unit", "r")  # the tests' home and run id
        self.run_dir = run_dir
        self.env = {DSN_ENV: dsn}
        with psycopg.connect(dsn, autocommit=True) as con:  # a fresh schema for each test
            con.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
        (run_dir / PG_POINTER).write_text(json.dumps(
            {"dsn": without_password(dsn)[0], "schema": self.schema}))

    def create(self) -> LedgerStore:
        return LedgerStore.create(self.dsn, schema=self.schema)

    def open(self) -> LedgerStore:
        return LedgerStore.open(self.dsn, schema=self.schema)

    def rows(self, sql: str) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.dsn) as con:
            con.execute(f'SET search_path TO "{self.schema}"')
            return [tuple(r) for r in con.execute(sql.format(seq=self.seq)).fetchall()]

    def tables(self) -> list[str]:
        return [r[0] for r in self.rows(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = "
            f"'{self.schema}' ORDER BY table_name")]


@pytest.fixture
def at(pg, tmp_path) -> PgAt:
    return PgAt(pg.dsn, tmp_path)


def test_the_password_stays_out_of_messages(pg, tmp_path, monkeypatch):
    """A refused connection names the server, not the password; the URL is redacted for
    messages; a reader given the URL without password finds it in HOMESIM_LEDGER_DSN."""
    plain, password = without_password(pg.dsn)
    assert password == pg.password and password not in plain
    assert pg.password not in redact(pg.dsn) and "***" in redact(pg.dsn)
    wrong = pg.dsn.replace(pg.password, "not-" + pg.password)
    monkeypatch.delenv(DSN_ENV, raising=False)
    with pytest.raises(LedgerError, match="password authentication failed") as err:
        LedgerStore.create(wrong, schema="homesim_nope")
    assert pg.password not in str(err.value)
    with pytest.raises(LedgerError) as err:  # no password at all: refused, nothing leaked
        LedgerStore.create(plain, schema="homesim_nope")
    assert pg.password not in str(err.value)
    monkeypatch.setenv(DSN_ENV, pg.dsn)
    st = LedgerStore.create(plain, schema="homesim_pw")
    st.write_run("r", "unit", 0.0, 60.0, 1, "{}")
    st.close()
    with LedgerStore.open(plain, schema="homesim_pw") as ro:
        assert ro.run().run_id == "r"
        with pytest.raises(LedgerError, match="read-only"):
            ro.write_run("r2", "unit", 0.0, 60.0, 1, "{}")


def _argv_watch(password: str, stop: threading.Event, seen: list[str]) -> None:
    """Every process's command line, while a run goes: none may hold the password."""
    while not stop.is_set():
        for p in psutil.process_iter(["cmdline"]):
            line = " ".join(p.info["cmdline"] or [])
            if password in line:
                seen.append(line)
        stop.wait(0.2)


def test_a_run_booked_in_postgresql_has_the_sqlite_runs_summary(pg, tmp_path, monkeypatch):
    """`homesim run --ledger postgresql://…` of the example home (a day at dt = 15 min)
    gives the summary of the same run into SQLite, figure for figure; the report's reads
    (through the run folder's pointer) agree with the SQLite ledger's; the password is in
    no argv, no log and no file of the run folder."""
    manifest = write_manifest(tmp_path, example(duration="1d", dt=900, speed="max"))
    env = {**os.environ, DSN_ENV: pg.dsn}  # the readers' password, in the environment
    runs = {}
    seen: list[str] = []
    stop = threading.Event()
    watch = threading.Thread(target=_argv_watch, args=(pg.password, stop, seen), daemon=True)
    watch.start()
    try:
        plain = without_password(pg.dsn)[0]  # --ledger without password, libpq's PGPASSWORD
        for name, extra, run_env in (
                ("sqlite", [], {k: v for k, v in env.items() if k != DSN_ENV}),
                ("pg", ["--ledger", plain],
                 {**{k: v for k, v in env.items() if k != DSN_ENV}, "PGPASSWORD": pg.password})):
            out = tmp_path / name
            res = subprocess.run([*HOMESIM, "run", str(manifest), "--out", str(out), "--json",
                                  "-q", "--no-report", "--window", "8",
                                  "--snapshot-every", "4", *extra],
                                 capture_output=True,
                                 text=True, timeout=600, env=run_env)
            assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
            assert pg.password not in res.stdout + res.stderr
            runs[name] = out
    finally:
        stop.set()
        watch.join()
    assert seen == [], "the password showed in a process's command line"
    assert not (runs["sqlite"] / PG_POINTER).exists()
    assert not (runs["pg"] / "ledger.sqlite").exists()
    pointer = json.loads((runs["pg"] / PG_POINTER).read_text())
    assert pointer["schema"].startswith("homesim_") and pg.password not in pointer["dsn"]
    assert (runs["pg"] / PG_POINTER).stat().st_mode & 0o077 == 0
    for f in runs["pg"].rglob("*"):
        if f.is_file():
            assert pg.password.encode() not in f.read_bytes(), f

    summaries = {k: json.loads((v / "summary.json").read_text()) for k, v in runs.items()}
    for s in summaries.values():
        s.pop("run_id")
        s.pop("clock")  # wall time
        assert s["complete"] and s["ledger"]["error"] is None
    assert summaries["pg"] == summaries["sqlite"]

    monkeypatch.setenv(DSN_ENV, pg.dsn)  # the reader's password (the pointer has none)
    with LedgerStore.open(runs["sqlite"] / "ledger.sqlite") as a, \
            LedgerStore.open(runs["pg"] / "ledger.sqlite") as b:  # the pointer: PostgreSQL
        assert type(b).__name__ == "PgLedgerStore"
        assert b.settled_span() == a.settled_span()
        assert b.node_balances().keys() == a.node_balances().keys()
        fa, fb = a.flow_totals(), b.flow_totals()
        assert fb.keys() == fa.keys()
        assert all(fb[k] == pytest.approx(fa[k], rel=1e-12, abs=1e-9) for k in fa)
        ha, hb = a.hourly_flows(), b.hourly_flows()
        assert [h[:4] for h in hb] == [h[:4] for h in ha]
        assert [h.joules for h in hb] == pytest.approx([h.joules for h in ha], rel=1e-12)
        assert b.export_table("packet") == a.export_table("packet")

    # the report reads the PostgreSQL run through its folder's pointer
    res = subprocess.run([*HOMESIM, "report", str(runs["pg"])], capture_output=True,
                         text=True, timeout=600, env=env)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    assert (runs["pg"] / "report.html").stat().st_size > 10_000
    # so do bill, compare and the Python API (they once looked for ledger.sqlite only)
    for cmd in (["bill", str(runs["pg"])], ["bill", str(runs["sqlite"])],
                ["compare", str(runs["sqlite"]), str(runs["pg"]), "--html",
                 str(tmp_path / "compare.html")]):
        res = subprocess.run([*HOMESIM, *cmd], capture_output=True, text=True, timeout=600,
                             env=env)
        assert res.returncode == 0, (cmd, res.stdout[-2000:] + res.stderr[-3000:])
    bills = {k: (v / "bills.csv").read_text() for k, v in runs.items()}
    assert bills["pg"] == bills["sqlite"]
    from homesim.infra.api import open_run

    a, b = open_run(runs["sqlite"]).flows(), open_run(runs["pg"]).flows()
    assert len(b) == len(a) > 0
    assert b["kwh"].sum() == pytest.approx(a["kwh"].sum(), rel=1e-12)

    # a fork books where the original booked (its own schema), or where --ledger says
    forks = {}
    for name, extra in (("pg", []), ("sqlite", ["--ledger", "sqlite"])):
        forks[name] = tmp_path / f"fork-{name}"
        res = subprocess.run([*HOMESIM, "fork", str(runs["pg"]), "--out", str(forks[name]),
                              "--json", "-q", "--no-report", *extra], capture_output=True,
                             text=True, timeout=600, env=env)
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
        assert pg.password not in res.stdout + res.stderr
    assert (forks["pg"] / PG_POINTER).exists() and not (forks["pg"] / "ledger.sqlite").exists()
    fork_pointer = json.loads((forks["pg"] / PG_POINTER).read_text())
    assert fork_pointer["schema"] != pointer["schema"]
    assert (forks["sqlite"] / "ledger.sqlite").exists()
    assert not (forks["sqlite"] / PG_POINTER).exists()
    fs = {k: json.loads((v / "summary.json").read_text()) for k, v in forks.items()}
    assert fs["pg"]["energy_kwh"] == fs["sqlite"]["energy_kwh"]
    assert fs["pg"]["complete"] and fs["pg"]["ticks"] > 0
