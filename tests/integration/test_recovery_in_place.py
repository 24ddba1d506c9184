"""Recovery in place, as in Kubernetes: every process restarted on its own when it exits (as
the kubelet restarts a pod's container), nobody restarting the home; the clock's snapshots
and the ledger's file on "volumes" (folders that outlive the processes).

kill -9 of a device, of the ledger, of the clock and of the router at different moments of a
paced run: the ledger books what an undisturbed run books (≤ 1e-9), the run ends once, and a
process restarted after the end does not run it again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
import yaml

from homesim.infra import router as rt
from homesim.infra.credentials import write_run_secrets
from homesim.infra.router.access import access_plan, new_home_key
from homesim.infra.supervisor import RunOptions, prepare_home
from homesim.schemas.manifest import load_manifest
from tests.integration.conftest import ROOT, homesim_run, wait_for
from tests.integration.test_recovery import assert_same, packets

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

UNTIL, DT, SPEED, EVERY = "6d", 900, "20000x", 5


class Pod:
    """One process restarted whenever it exits (restartPolicy: Always), with its log."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.cmd, self.env, self.log = name, cmd, env, log
        self.proc: subprocess.Popen | None = None
        self.restarts = -1
        self.exits: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            with open(self.log, "ab") as fh:
                self.proc = subprocess.Popen(self.cmd, env=self.env, stdout=fh, stderr=fh,
                                             stdin=subprocess.DEVNULL, start_new_session=True,
                                             cwd=self.log.parent)
            self.restarts += 1
            code = self.proc.wait()
            self.exits.append(code)
            time.sleep(0.3)

    def kill(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)

    def stop(self) -> None:
        self._stop.set()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def _snapshots(folder: Path) -> int:
    return len(list(folder.glob("w*.json"))) if folder.exists() else 0


@pytest.fixture(scope="module")
def undisturbed(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("undisturbed") / "run"
    homesim_run(ROOT / "examples" / "home.yaml", out, "--until", UNTIL, "--dt", str(DT),
                "--speed", SPEED, "--no-report")
    return out


def test_kill_each_part_in_place_books_the_undisturbed_ledger(tmp_path, undisturbed):
    run = tmp_path / "run"
    (run / "logs").mkdir(parents=True)
    home = prepare_home(load_manifest(ROOT / "examples" / "home.yaml"),
                        RunOptions(until=UNTIL, dt=DT, speed=SPEED))
    manifest = run / "manifest.yaml"
    manifest.write_text(yaml.safe_dump(home.model_dump(mode="json"), sort_keys=False))
    plan = access_plan(home)
    key = new_home_key()
    secrets = write_run_secrets(run, plan, key)
    access = plan.realm_access(key)
    python = rt.ensure_router_env()
    ws_port, rs_port = rt.free_ports("127.0.0.1", 2)
    router = rt.start_router(run, access, ws_port=ws_port, rs_port=rs_port, python=python)
    snaps, volume = run / "snapshots", run / "ledger-volume"
    volume.mkdir()
    base = dict(os.environ, HOMESIM_ROUTER_URL=f"rs://127.0.0.1:{rs_port}",
                HOMESIM_REALM=home.metadata.name, HOMESIM_RUN_ID="inplace",
                HOMESIM_RECOVERY="in_place", HOMESIM_AFTER_FINISH="idle",
                PYTHONUNBUFFERED="1")
    base.pop("HOMESIM_METRICS_PORT", None)
    pods: dict[str, Pod] = {}

    def pod(kind: str, name: str, *extra: str) -> None:
        env = dict(base, HOMESIM_AUTHID=name, HOMESIM_SECRET_FILE=str(secrets / name))
        cmd = [sys.executable, "-m", "homesim.devices", kind, "--manifest", str(manifest),
               "--device", name, *extra]
        pods[name] = Pod(name, cmd, env, run / "logs" / f"{name}.log")

    t0 = time.monotonic()
    try:
        for d in home.spec.enabled():
            pod(d.kind, d.name)
        pod("ledger", "ledger", "--db", str(volume / "ledger.sqlite"),
            "--summary", str(volume / "summary.json"))
        pod("clock", "clock", "--snapshot-every", str(EVERY), "--snapshot-dir", str(snaps))

        kills: list[tuple[str, float]] = []
        n = 1
        for victim in ("battery", "ledger", "clock", "router"):
            wait_for(lambda n=n: _snapshots(snaps) >= n, 240, f"{n} snapshot(s)")
            if victim == "router":
                for p in router.processes():
                    p.kill()
                router.process.wait(10)  # reaped (the controller is this test's child)
                time.sleep(1.0)
                router = rt.start_router(run, access, ws_port=ws_port, rs_port=rs_port,
                                         python=python)
            else:
                pods[victim].kill()
            kills.append((victim, time.monotonic()))
            n = _snapshots(snaps) + 2  # the run went on after the recovery
        marker = snaps / "finished.json"
        wait_for(marker.exists, 600, "the end of the run")
        wait_for(lambda: (volume / "summary.json").exists(), 60, "the ledger's summary")
        wall = time.monotonic() - t0
        summary_before = (volume / "summary.json").read_text()
        # a process restarted after the end does not run it again (nor rewrite the summary)
        pods["ledger"].kill()
        pods["battery"].kill()
        time.sleep(6)
        assert (volume / "summary.json").read_text() == summary_before
    finally:
        for p in pods.values():
            p.stop()
        router.stop()
        cbdir = str(run / ".crossbar")
        for p in psutil.process_iter(["cwd"]):
            if p.info["cwd"] == cbdir:
                p.kill()

    assert_same(packets(undisturbed / "ledger.sqlite"), packets(volume / "ledger.sqlite"))
    a = json.loads((undisturbed / "summary.json").read_text())
    b = json.loads((volume / "summary.json").read_text())
    assert b["complete"] and a["windows"] == b["windows"], (a["windows"], b["windows"])
    assert json.loads(marker.read_text())["ok"]
    clock_log = (run / "logs" / "clock.log").read_text()
    # the start, then one recovery per kill (a killed clock, and a clock whose session the
    # router restart cut, recover as "clock started")
    assert clock_log.count('"event": "recovered"') >= 5, clock_log[-3000:]
    # every device left its old epoch at least once (exit 75) and was restarted into the new
    assert pods["battery"].restarts >= 2 and 75 in pods["grid"].exits, pods["grid"].exits
    print(f"in-place recovery: 4 kills, run {wall:.1f} s wall; restarts "
          + ", ".join(f"{k}={p.restarts}" for k, p in pods.items()))
