"""A real Prometheus scrapes a running home; its energy counters match the ledger exactly.

`homesim run` (paced, 3600x) writes `prometheus/prometheus.yml` and one file_sd target per
process; the test starts Debian's `prometheus` on loopback against that config, pauses the
clock over WAMP, waits until every device's `homesim_windows_total` equals the ledger's
settled windows, and compares `sum by (source, sink) (homesim_energy_joules_total)` with the
ledger's `SUM(joules) GROUP BY source, sink` (rel 1e-9).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from homesim.devices.bus.store import LedgerStore

from .conftest import example, start_run, wait_for, write_manifest

REALM = "greensboro"


def prometheus_binary() -> str:
    exe = shutil.which("prometheus") or ("/usr/bin/prometheus"
                                         if Path("/usr/bin/prometheus").exists() else None)
    if exe is None:
        pytest.fail("the prometheus binary is not installed: apt-get install prometheus "
                    "(.ci/run installs it)")
    return exe


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api(base: str, path: str, **params: str) -> Any:
    url = f"{base}{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
    with urllib.request.urlopen(url, timeout=5) as r:
        body = json.loads(r.read())
    assert body["status"] == "success", body
    return body["data"]


def query(base: str, q: str) -> list[dict[str, Any]]:
    return api(base, "/api/v1/query", query=q)["result"]


def call(out: Path, proc: str, *args: str) -> dict[str, Any]:
    info = json.loads((out / "router.json").read_text())
    res = subprocess.run([sys.executable, "-m", "homesim.devices", "call", "--router",
                          info["rs_url"], "--realm", info["realm"], "--authid", "manager",
                          "--secret-file", str(out / "secrets" / "manager"), proc, *args],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr[-2000:]
    return json.loads(res.stdout)


def ledger_state(db: Path) -> tuple[int, int, dict[tuple[str, str], float]]:
    """Windows booked, packets booked (non-zero ticks of flows), energy per (source, sink)
    [J], read through the store in one read transaction."""
    sums: dict[tuple[str, str], float] = {}
    with LedgerStore.open(db, timeout=5) as store, store.transaction():
        windows = store.settled_span().windows
        rows = sum(1 for _ in store.packets())
        for (s, k, _), v in store.flow_totals().items():
            sums[(s, k)] = sums.get((s, k), 0.0) + v
    return windows, rows, sums


def test_prometheus_scrapes_a_running_home(tmp_path: Path) -> None:
    exe = prometheus_binary()
    manifest = write_manifest(tmp_path, example(duration="3d", dt=60, speed="3600x"))
    out = tmp_path / "run"
    run = start_run(manifest, out)
    prom = None
    try:
        cfg = wait_for(lambda: (out / "prometheus" / "prometheus.yml").exists()
                       and out / "prometheus" / "prometheus.yml", timeout=120,
                       what="prometheus.yml")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        prom = subprocess.Popen(
            [exe, f"--config.file={cfg}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=open(tmp_path / "prometheus.log", "wb"),  # noqa: SIM115
            start_new_session=True)
        kinds = {"weather", "sun", "pv-south", "inverter", "battery", "grid", "house", "clock",
                 "ledger"}

        def targets_up() -> bool:
            assert run.poll() is None, run.communicate()
            try:
                act = api(base, "/api/v1/targets")["activeTargets"]
            except OSError:
                return False
            up = {t["labels"].get("device") for t in act if t["health"] == "up"}
            return kinds <= up

        wait_for(targets_up, timeout=120, what="every target up in Prometheus")

        def sim_time() -> float | None:
            r = query(base, 'homesim_sim_time_seconds{home="greensboro"}')
            return float(r[0]["value"][1]) if r else None

        t1 = wait_for(sim_time, timeout=30, what="homesim_sim_time_seconds")
        wait_for(lambda: (sim_time() or 0) > t1, timeout=30, what="sim time advancing")

        st = call(out, "homesim.clock.pause")
        assert st["state"] == "paused"
        db = out / "ledger.sqlite"
        devices = kinds - {"clock", "ledger"}

        def settled() -> tuple | None:
            windows, rows, sums = ledger_state(db)
            if windows == 0:
                return None
            per_dev = {r["metric"]["device"]: float(r["value"][1])
                       for r in query(base, 'homesim_windows_total{home="greensboro"}')}
            if set(per_dev) != devices or any(v != windows for v in per_dev.values()):
                return None
            packets = query(base, 'homesim_ledger_packets_total{home="greensboro"}')
            if not packets or float(packets[0]["value"][1]) != rows:
                return None
            return windows, rows, sums

        windows, _, sums = wait_for(settled, timeout=30,
                                    what="every device's windows_total == ledger windows")
        assert ledger_state(db)[0] == windows, "the clock moved on while paused"
        prom_sums = {(r["metric"]["source"], r["metric"]["sink"]): float(r["value"][1])
                     for r in query(base, 'sum by (source, sink) '
                                          '(homesim_energy_joules_total{home="greensboro"})')}
        assert set(sums) <= set(prom_sums)
        for key, joules in sums.items():
            assert prom_sums[key] == pytest.approx(joules, rel=1e-9), key
        for key in set(prom_sums) - set(sums):  # flows that were zero all along
            assert prom_sums[key] == 0.0, key
        assert sums[("inverter", "house")] > 0  # (at night the sun has given nothing yet)

        soc = query(base, "homesim_soc_ratio")
        assert soc and all(0.0 <= float(r["value"][1]) <= 1.0 for r in soc)
        def paused() -> float:  # the clock's next scrape (1 s) after the pause shows it
            r = query(base, 'homesim_clock_paused{home="greensboro"}')
            return float(r[0]["value"][1]) if r else 0.0

        wait_for(lambda: paused() == 1.0, timeout=15, what="homesim_clock_paused == 1")
        assert paused() == 1.0
        assert float(query(base, "homesim_speed_factor")[0]["value"][1]) == 3600.0
        assert query(base, "homesim_window_settle_duration_seconds_count")
        assert query(base, 'homesim_power_watts{device="battery"}')
        assert query(base, "homesim_conservation_residual_joules")

        # finish quickly: as fast as possible from here
        call(out, "homesim.clock.set_speed", '"max"')
        call(out, "homesim.clock.resume")
        run.wait(timeout=120)
        assert run.returncode == 0, run.communicate()
    finally:
        if prom is not None and prom.poll() is None:
            prom.terminate()
            try:
                prom.wait(timeout=10)
            except subprocess.TimeoutExpired:
                prom.kill()
                prom.wait()
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGINT)
            try:
                run.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(run.pid, signal.SIGKILL)
                run.wait()
