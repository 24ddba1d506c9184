"""State and recovery with real processes and the real router: kill -9 of a device and of the
router mid-run, a SIGKILLed `homesim run` resumed, a fork without changes, a sweep — each
compared with an undisturbed run's ledger."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from homesim.devices.bus.store import LedgerStore
from tests.integration.conftest import HOMESIM, ROOT, homesim_run, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

ARGS = ["--until", "6d", "--dt", "900", "--speed", "20000x", "--snapshot-every", "5",
        "--no-report"]


def packets(db: Path, tick0: int = 0) -> dict[tuple, float]:
    with LedgerStore.open(db) as store:
        rows = [(p.tick, p.source, p.sink, p.carrier, p.joules) for p in store.packets(tick0)]
    out: dict[tuple, float] = {}
    for t, s, k, c, j in rows:
        out[(t, s, k, c)] = out.get((t, s, k, c), 0.0) + j
    return out


def assert_same(a: dict[tuple, float], b: dict[tuple, float], rtol: float = 1e-9) -> None:
    assert a.keys() == b.keys(), sorted(set(a) ^ set(b))[:10]
    worst = max((abs(a[k] - b[k]) / max(abs(a[k]), 1e-9) for k in a), default=0.0)
    assert worst <= rtol, worst


@pytest.fixture(scope="module")
def undisturbed(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("undisturbed") / "run"
    homesim_run(ROOT / "examples" / "home.yaml", out, *ARGS)
    return out


def _start(out: Path) -> subprocess.Popen:
    return subprocess.Popen([*HOMESIM, "run", str(ROOT / "examples" / "home.yaml"), "--out",
                             str(out), "-q", *ARGS], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def _pids(pattern: str) -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["cmdline"])
            if pattern in " ".join(p.info["cmdline"] or ())]


def _snapshots(out: Path) -> int:
    return len(list((out / "snapshots").glob("w*.json"))) if (out / "snapshots").exists() \
        else 0


def test_kill_a_device_then_the_router_books_the_undisturbed_ledger(tmp_path, undisturbed):
    out = tmp_path / "run"
    run = _start(out)
    try:
        wait_for(lambda: _snapshots(out) >= 1, 240, "a first snapshot")
        victims = _pids(f"{out}/manifest.yaml --device battery")
        assert victims
        for p in victims:
            p.kill()
        t_kill = time.monotonic()
        wait_for(lambda: _snapshots(out) >= 3, 240, "snapshots after the recovery")
        recovered_after = time.monotonic() - t_kill
        # Crossbar renames its processes (controller, router worker): found by their cwd
        cbdir = str(out / ".crossbar")
        routers = [p for p in psutil.process_iter(["cwd"]) if p.info["cwd"] == cbdir]
        assert routers
        for p in routers:
            p.kill()
        stdout, stderr = run.communicate(timeout=600)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGINT)
            run.communicate(timeout=60)
    assert run.returncode == 0, stderr[-3000:]
    err = " ".join(stderr.split())
    assert "recovered from" in err and "after battery exited (-9)" in err, err[-2000:]
    assert "after router exited" in err, err[-2000:]
    assert_same(packets(undisturbed / "ledger.sqlite"), packets(out / "ledger.sqlite"))
    a = json.loads((undisturbed / "summary.json").read_text())
    b = json.loads((out / "summary.json").read_text())
    assert a["windows"] == b["windows"] and b["complete"]
    print(f"recovery: snapshots resumed {recovered_after:.1f} s after the kill")


def test_a_sigkilled_run_resumes_to_the_same_ledger(tmp_path, undisturbed):
    out = tmp_path / "run"
    run = _start(out)
    try:
        wait_for(lambda: _snapshots(out) >= 2, 240, "two snapshots")
        os.kill(run.pid, signal.SIGKILL)  # the supervisor only: its processes are orphaned
        run.communicate(timeout=30)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    res = subprocess.run([*HOMESIM, "resume", str(out), "-q", "--no-report"],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "resuming" in res.stderr
    assert_same(packets(undisturbed / "ledger.sqlite"), packets(out / "ledger.sqlite"))
    assert not _pids(f"{out}/manifest.yaml")  # nothing left running


def test_a_fork_without_changes_books_what_the_original_booked(tmp_path, undisturbed):
    fork = tmp_path / "fork"
    res = subprocess.run([*HOMESIM, "fork", str(undisturbed), "--at", "2d", "--out", str(fork),
                          "-q", "--no-report", "--speed", "20000x"],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    meta = json.loads((fork / "fork.json").read_text())
    assert 0 < meta["tick"] <= 192  # at or before day 2 (96 ticks a day)
    assert_same(packets(undisturbed / "ledger.sqlite", meta["tick"]),
                packets(fork / "ledger.sqlite"), rtol=0.0)
    # a fork where the house uses twice as much books another future from the same state
    bigger = tmp_path / "bigger"
    res = subprocess.run([*HOMESIM, "fork", str(undisturbed), "--at", "2d", "--out",
                          str(bigger), "--set", "house.annual_kwh=7000", "-q",
                          "--no-report", "--speed", "max"],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    a = packets(fork / "ledger.sqlite")
    b = packets(bigger / "ledger.sqlite")
    house = sum(v for (t, s, k, c), v in a.items() if k == "house")
    house_big = sum(v for (t, s, k, c), v in b.items() if k == "house")
    assert house_big > 1.2 * house  # the profile scales; the appliances stay
    res = subprocess.run([*HOMESIM, "fork", str(undisturbed), "--set", "batery.capacity=1"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "no device 'batery'" in res.stderr


def test_sweep_writes_the_comparison(tmp_path):
    out = tmp_path / "sweep"
    res = subprocess.run([*HOMESIM, "sweep", str(ROOT / "examples" / "home.yaml"), "--set",
                          "battery.capacity=5kWh,15kWh", "--until", "3d", "--dt", "900",
                          "--jobs", "2", "--out", str(out)],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    doc = json.loads((out / "comparison.json").read_text())
    caps = [v["set"]["battery.capacity"] for v in doc["variants"]]
    assert caps == ["5kWh", "15kWh"]
    imports = [v["summary"]["energy_kwh"]["grid_import"] for v in doc["variants"]]
    assert imports[1] < imports[0], imports
    assert (out / "comparison.html").stat().st_size > 10_000


def test_a_live_fork_of_a_running_home(tmp_path):
    """homesim.clock.fork (manager) snapshots the running home at the next boundary and runs
    its future at speed max; without changes it books what the original books after the
    snapshot (an electric home: the same packets whatever the window sizes)."""
    out = tmp_path / "run"
    run = _start(out)
    try:
        wait_for(lambda: _snapshots(out) >= 1, 240, "a first snapshot")
        res = subprocess.run([*HOMESIM, "wamp", "--run", str(out), "--role", "manager", "call",
                              "homesim.clock.fork", "[]"], capture_output=True, text=True,
                             timeout=120)
        assert res.returncode == 0, res.stderr[-2000:]
        reply = json.loads(res.stdout)
        fork = Path(reply["out"])
        viewer = subprocess.run([*HOMESIM, "wamp", "--run", str(out), "--role", "viewer",
                                 "call", "homesim.clock.fork", "[]"], capture_output=True,
                                text=True, timeout=120)
        assert viewer.returncode == 1 and "not_authorized" in viewer.stderr
        wait_for(lambda: (fork / "summary.json").exists(), 400, "the fork's summary")
        stdout, stderr = run.communicate(timeout=600)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGINT)
            run.communicate(timeout=60)
    assert run.returncode == 0, stderr[-3000:]
    snap = json.loads(Path(reply["snapshot"]).read_text())
    assert json.loads((fork / "summary.json").read_text())["complete"]
    assert_same(packets(out / "ledger.sqlite", snap["tick"]), packets(fork / "ledger.sqlite"))
