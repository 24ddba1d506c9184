"""Choosing the ledger's backend: PostgreSQL URLs (password handling, one schema per run), the
``--ledger`` option, and the operator's ledger Deployment with a DSN from a Secret. The store
itself against a real server: tests/integration/test_ledger_postgres.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from homesim.devices.bus.store import (
    LedgerStore,
    is_postgres,
    pg_schema,
    redact,
    without_password,
)
from homesim.operator.render import RenderOptions, render_home
from homesim.schemas.manifest import load_manifest

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "homesim.infra.cli"]


def test_urls_and_schemas():
    dsn = "postgresql://led%40ger:p%3Ass@db.example:5433/homes?sslmode=require"
    assert is_postgres(dsn) and is_postgres("postgres://h/db")
    assert not is_postgres("ledger.sqlite") and not is_postgres(Path("postgresql://x"))
    assert without_password(dsn) == (
        "postgresql://led%40ger@db.example:5433/homes?sslmode=require", "p:ss")
    assert redact(dsn) == "postgresql://led%40ger:***@db.example:5433/homes?sslmode=require"
    assert without_password("postgresql://u@h/db") == ("postgresql://u@h/db", None)
    assert pg_schema("Greensboro", "greensboro-20250101T000000Z") == \
        "homesim_greensboro_greensboro_20250101t000000z"
    long = pg_schema("h" * 80, "r")
    assert len(long) <= 63 and long != pg_schema("h" * 81, "r")
    assert set(pg_schema("a'; DROP TABLE x; --", "r")) <= set("abcdefghijklmnopqrstuvwxyz0123"
                                                             "456789_")


def test_a_missing_postgresql_server_is_a_ledger_error_without_the_password():
    from homesim.devices.bus.store import LedgerError

    with pytest.raises(LedgerError) as err:
        LedgerStore.create("postgresql://u:sekrit-pw@127.0.0.1:1/db", schema="s")
    assert "sekrit-pw" not in str(err.value) and "127.0.0.1" in str(err.value)


def test_run_refuses_a_ledger_that_is_not_a_postgresql_url(tmp_path):
    res = subprocess.run([*CLI, "run", str(ROOT / "examples" / "home.yaml"), "--ledger",
                          "mysql://u:topsecret@h/db", "--out", str(tmp_path / "r")],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "postgresql://" in res.stderr
    assert "topsecret" not in res.stdout + res.stderr


def test_the_operator_passes_the_dsn_secret_to_the_ledger_only():
    home = load_manifest(ROOT / "examples" / "home.yaml")

    def ledger(opts):
        objs = render_home(home, "ns", opts, "k" * 43)
        deps = {o["metadata"]["name"]: o for o in objs if o["kind"] == "Deployment"}
        return deps, deps["greensboro-ledger"]["spec"]["template"]["spec"]["containers"][0]

    deps, c = ledger(RenderOptions())
    assert c["args"][c["args"].index("--db") + 1] == "/var/lib/homesim/ledger.sqlite"
    assert "HOMESIM_LEDGER_DSN" not in {e["name"] for e in c["env"]}
    deps, c = ledger(RenderOptions(ledger_dsn_secret=("homes-ledger", "dsn")))
    assert "--db" not in c["args"]
    (dsn,) = [e for e in c["env"] if e["name"] == "HOMESIM_LEDGER_DSN"]
    assert dsn == {"name": "HOMESIM_LEDGER_DSN",
                   "valueFrom": {"secretKeyRef": {"name": "homes-ledger", "key": "dsn"}}}
    for name, d in deps.items():  # no other process sees it
        if name != "greensboro-ledger":
            env = d["spec"]["template"]["spec"]["containers"][0].get("env", [])
            assert "HOMESIM_LEDGER_DSN" not in {e["name"] for e in env}, name


def test_operator_options_read_the_secret_reference(monkeypatch):
    from homesim.operator.handlers import options

    monkeypatch.delenv("HOMESIM_LEDGER_DSN_SECRET", raising=False)
    assert options().ledger_dsn_secret is None
    monkeypatch.setenv("HOMESIM_LEDGER_DSN_SECRET", "homes-ledger/dsn")
    assert options().ledger_dsn_secret == ("homes-ledger", "dsn")
    monkeypatch.setenv("HOMESIM_LEDGER_DSN_SECRET", "no-key")
    with pytest.raises(ValueError, match="HOMESIM_LEDGER_DSN_SECRET"):
        options()


def test_the_chart_has_the_ledger_value():
    chart = ROOT / "helm" / "homesim"
    values = yaml.safe_load((chart / "values.yaml").read_text())
    assert values["ledger"]["dsnSecret"] == {"name": "", "key": "dsn"}
    schema = json.loads((chart / "values.schema.json").read_text())
    assert "dsnSecret" in schema["properties"]["ledger"]["properties"]
    tpl = (chart / "templates" / "operator.yaml").read_text()
    assert "HOMESIM_LEDGER_DSN_SECRET" in tpl and ".Values.ledger.dsnSecret" in tpl
