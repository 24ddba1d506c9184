"""A device kind defined by a descriptor alone (plus its model and shell), outside the package.

tests/toykind/ holds a ``kettle``: ``kinds.yaml`` (the descriptor), ``model.py`` (properties
and physics), ``shell.py``. Nothing in the homesim package names it: ``HOMESIM_KINDS`` adds
it to the registry of every process, and the inverter balances it like any ``sink`` with a
``demand`` signal. It runs over the real router and lands in the ledger.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from homesim.devices.bus.store import LedgerStore
from tests.integration.conftest import EXAMPLE, HOMESIM, ROOT

TOY = ROOT / "tests" / "toykind"
PACKAGE_DIRS = ("devices", "schemas", "infra", "operator")


def _env() -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(ROOT / "tests"), os.environ.get("PYTHONPATH")]))
    return dict(os.environ, HOMESIM_KINDS=str(TOY / "kinds.yaml"), PYTHONPATH=path)


def _manifest(tmp: Path) -> Path:
    data = yaml.safe_load(EXAMPLE.read_text())
    data["spec"]["simulation"].update(duration="2d", dt=60)
    data["spec"]["devices"].append({"name": "kettle", "kind": "kettle",
                                    "properties": {"power": 2200, "hours": [12, 15]}})
    p = tmp / "kettle-home.yaml"
    p.write_text(yaml.safe_dump(data, sort_keys=False))
    return p


def test_the_package_does_not_know_the_toy_kind() -> None:
    """The kettle is defined by tests/toykind alone (no file of the package names it)."""
    for d in PACKAGE_DIRS:
        for f in (ROOT / d).rglob("*"):
            if f.is_file() and f.suffix in (".py", ".yaml", ".json"):
                assert "kettle" not in f.read_text(errors="ignore").lower(), f


@pytest.mark.quick
def test_unknown_without_the_descriptor_known_with_it(tmp_path: Path) -> None:
    m = _manifest(tmp_path)
    bare = subprocess.run([*HOMESIM, "validate", str(m)], capture_output=True, text=True,
                          timeout=120)
    assert bare.returncode == 1 and "spec.devices[7]" in bare.stdout + bare.stderr
    ok = subprocess.run([*HOMESIM, "validate", str(m)], capture_output=True, text=True,
                        timeout=120, env=_env())
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = yaml.safe_load(m.read_text())
    bad["spec"]["devices"][-1]["properties"]["power"] = -1
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    res = subprocess.run([*HOMESIM, "validate", str(tmp_path / "bad.yaml")],
                         capture_output=True, text=True, timeout=120, env=_env())
    assert res.returncode == 1 and "spec.devices[7].properties.power" in res.stdout + res.stderr


@pytest.mark.quick
def test_the_toy_kind_runs_over_the_router(tmp_path: Path) -> None:
    m = _manifest(tmp_path)
    out = tmp_path / "run"
    res = subprocess.run([*HOMESIM, "run", str(m), "--out", str(out), "--json", "-q",
                          "--no-report"], capture_output=True, text=True, timeout=600,
                         env=_env())
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"]
    con = sqlite3.connect(out / "ledger.sqlite")
    with LedgerStore.open(out / "ledger.sqlite") as store:
        kettle = [p.joules for p in store.packets()
                  if p.source == "inverter" and p.sink == "kettle"]
    served = (math.fsum(kettle), len(kettle))
    demand = con.execute("SELECT SUM(total) FROM device_metric "
                         "WHERE device='kettle' AND metric='demand'").fetchone()[0]
    # 2 boils a day x 3 min x 2200 W x 2 days, all served (the grid is up on 1-2 January)
    assert demand == 2 * 2 * 180 * 2200
    assert abs(served[0] - demand) < 1e-6 and served[1] == 2 * 2 * 3
    node = con.execute("SELECT kind, bounded FROM node WHERE name='kettle'").fetchone()
    assert node == ("kettle", 1)
    worst = con.execute("SELECT MAX(max_abs_residual) FROM node_balance "
                        "WHERE node='kettle'").fetchone()[0]
    assert worst < 1e-6
    sys.stdout.write(f"kettle served {served[0] / 3.6e6:.3f} kWh\n")
