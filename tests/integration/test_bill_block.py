"""`homesim bill` on a real run of the block: one bill per flat that adds up to the meters."""

from __future__ import annotations

import csv
import math
import subprocess
from datetime import datetime, timedelta

import pytest

from homesim.devices.context import home_context
from homesim.devices.models.schedule import resolve_tz
from homesim.schemas.manifest import load_any

from .conftest import HOMESIM, ROOT, homesim_run

BLOCK = ROOT / "examples" / "block.yaml"


def test_bill_block_two_days(tmp_path):
    """Two days of the block at dt = 900 s: a bill per flat + total, and the bills add up to
    the grid's net cost plus the boilers' gas cost of the summary (1e-9 relative)."""
    out = tmp_path / "block"
    _, s = homesim_run(BLOCK, out, "--until", "2d", "--dt", "900", "--no-report")
    assert s["complete"], s.get("clock")
    res = subprocess.run([*HOMESIM, "bill", str(out)], capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    rows = list(csv.DictReader((out / "bills.csv").open()))
    flats = sorted(s["heat"]["flats"])
    assert len(flats) == 6
    assert sorted(r["flat"] for r in rows[:-1]) == flats and rows[-1]["flat"] == "total"
    bills = {r["flat"]: {k: float(v) for k, v in r.items() if k not in ("flat", "currency")}
             for r in rows}
    metered = math.fsum([s["cost"]["grid"], *(b["cost"] for b in s["heat"]["boilers"].values())])
    assert s["cost"]["net"] == pytest.approx(metered, rel=1e-12)   # net cost: grid + gas
    billed = math.fsum(bills[f]["total"] for f in flats)
    assert billed == pytest.approx(metered, rel=1e-9)
    assert bills["total"]["total"] == pytest.approx(metered, rel=1e-9)
    assert {r["currency"] for r in rows} == {s["cost"]["currency"]}
    for f in flats:
        # meters agree with the summary's per-flat heat and electricity
        assert bills[f]["heat_kwh"] == pytest.approx(s["heat"]["flats"][f]["heat_kwh"], rel=1e-9)
        assert bills[f]["electricity_kwh"] == pytest.approx(
            s["heat"]["flats"][f]["electricity_kwh"], rel=1e-9)
    gas = math.fsum(b["gas_kwh"] for b in s["heat"]["boilers"].values())
    assert bills["total"]["gas_kwh"] == pytest.approx(gas, rel=1e-9, abs=1e-9)
    # the first (local) day and the rest add up to the whole run
    tz = resolve_tz(home_context(load_any(out / "manifest.yaml")).tz)
    first = datetime.fromtimestamp(s["start"], tz).date()
    days = []
    for i, period in enumerate((["--to", str(first)], ["--from", str(first + timedelta(1))])):
        target = tmp_path / f"part{i}.csv"
        res = subprocess.run([*HOMESIM, "bill", str(out), *period, "--out", str(target)],
                             capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr
        days.append(float(list(csv.DictReader(target.open()))[-1]["total"]))
    assert math.fsum(days) == pytest.approx(metered, rel=1e-9)
