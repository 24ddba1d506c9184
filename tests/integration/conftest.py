"""Helpers of the integration tier: real `homesim run` processes over a real Crossbar router."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from homesim.devices.bus.store import LedgerStore

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "home.yaml"
HOMESIM = [sys.executable, "-m", "homesim.infra.cli"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session", autouse=True)
def router_env() -> Path:
    """Build (once) or find the cached Crossbar environment."""
    from homesim.infra.router import ensure_router_env

    return ensure_router_env()


def example(**sim: Any) -> dict[str, Any]:
    """The example manifest as a dict, with simulation settings overridden."""
    data = yaml.safe_load(EXAMPLE.read_text())
    data["spec"]["simulation"].update(sim)
    return data


def write_manifest(tmp: Path, data: dict[str, Any], name: str = "home.yaml") -> Path:
    p = tmp / name
    p.write_text(yaml.safe_dump(data, sort_keys=False))
    return p


def homesim_run(manifest: Path, out: Path, *args: str, check: bool = True,
                timeout: float = 600) -> tuple[subprocess.CompletedProcess, dict | None]:
    """Run `homesim run MANIFEST --out OUT --json -q ARGS`; return the process and summary."""
    res = subprocess.run([*HOMESIM, "run", str(manifest), "--out", str(out), "--json", "-q",
                          *args], capture_output=True, text=True, timeout=timeout)
    summary = None
    if (out / "summary.json").exists():
        summary = json.loads((out / "summary.json").read_text())
    if check and res.returncode != 0:
        raise AssertionError(f"homesim run failed ({res.returncode}):\n{res.stdout[-3000:]}\n"
                             f"{res.stderr[-3000:]}")
    return res, summary


def start_run(manifest: Path, out: Path, *args: str) -> subprocess.Popen:
    """Start `homesim run` in the background (its own session, so tests can signal it)."""
    return subprocess.Popen([*HOMESIM, "run", str(manifest), "--out", str(out), "-q", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def call(out: Path, *args: str, role: str = "manager", flat: str | None = None,
         timeout: float = 60) -> subprocess.CompletedProcess:
    """One RPC with ``python -m homesim.devices call`` (the operator's client) to the run in
    ``out``, authenticated as ``role`` (``resident`` with ``flat``)."""
    info = json.loads((out / "router.json").read_text())
    authid = f"resident.{flat}" if role == "resident" else role
    return subprocess.run([sys.executable, "-m", "homesim.devices", "call", "--router",
                           info["rs_url"], "--realm", info["realm"], "--authid", authid,
                           "--secret-file", str(out / "secrets" / authid), *args],
                          capture_output=True, text=True, timeout=timeout)


def running(out: Path, windows: int = 2) -> dict[str, Any]:
    """Wait until the run in ``out`` has its router and ``windows`` booked; its router.json."""
    info = wait_for(lambda: (out / "router.json").exists()
                    and json.loads((out / "router.json").read_text()), what="router.json")
    wait_for(lambda: settled_windows(out / "ledger.sqlite") >= windows, 120, "a running home")
    return info


def wait_for(pred: Any, timeout: float = 60, what: str = "condition",
             proc: subprocess.Popen | None = None, out: Path | None = None) -> Any:
    """Poll ``pred`` until it is truthy (its value) or ``timeout`` [s] passes.

    With ``proc`` (a started ``homesim run``), fail at once when it has exited, with its
    output; with ``out`` (its run folder), a timeout shows the tail of every process log.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        if proc is not None and proc.poll() is not None:
            o, e = proc.communicate()
            raise AssertionError(f"the run exited ({proc.returncode}) before {what}:\n"
                                 f"{o[-3000:]}\n{e[-3000:]}{_log_tails(out)}")
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}{_log_tails(out)}")


def _log_tails(out: Path | None, chars: int = 1500) -> str:
    """The last ``chars`` of each log of the run in ``out`` (for a failure message)."""
    if out is None or not (out / "logs").is_dir():
        return ""
    parts = [f"\n--- {log.name} ---\n{log.read_text(errors='replace')[-chars:]}"
             for log in sorted((out / "logs").glob("*.log"))]
    return "".join(parts)


def ws_url(out: Path) -> str:
    """WebSocket URL of the router of a running `homesim run --out OUT`."""
    info = wait_for(lambda: (out / "router.json").exists()
                    and json.loads((out / "router.json").read_text()), what="router.json")
    return info["ws_url"]


def ledger_packets(db: Path) -> np.ndarray:
    """All packets ``(tick, source, sink, carrier, joules)`` sorted by (tick, source, sink,
    carrier), read through the store."""
    with LedgerStore.open(db) as store:
        return sorted((p.tick, p.source, p.sink, p.carrier, p.joules) for p in store.packets())


def settled_windows(db: Path) -> int:
    """Windows the ledger has committed so far (0 while it does not exist)."""
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        n = con.execute("SELECT count(*) FROM settled_window").fetchone()[0]
        con.close()
        return n
    except sqlite3.Error:
        return 0


def assert_same_ledger(a: Path, b: Path, rtol: float = 1e-9) -> int:
    """Both ledgers hold the same packets (keys equal, joules within rtol); return the count."""
    pa, pb = ledger_packets(a), ledger_packets(b)
    assert len(pa) == len(pb), f"{len(pa)} vs {len(pb)} packets"
    ka = [r[:4] for r in pa]
    kb = [r[:4] for r in pb]
    assert ka == kb
    ja = np.array([r[4] for r in pa])
    jb = np.array([r[4] for r in pb])
    np.testing.assert_allclose(ja, jb, rtol=rtol, atol=1e-9)
    return len(pa)


WAMPC_DIRS = [Path(os.environ.get("HOMESIM_CACHE", Path.home() / ".cache" / "homesim"))
              / "npm" / "node_modules" / ".bin"]


def wampc_path() -> str | None:
    for d in WAMPC_DIRS:
        if (d / "wampc").exists():
            return str(d / "wampc")
    return shutil.which("wampc")


def wampc(url: str, realm: str, script: str, timeout: float = 30) -> str:
    """Drive the real npm wamp-cli through stdin; return its output."""
    exe = wampc_path()
    if exe is None:
        pytest.fail("wamp-cli (wampc) is not installed: npm install wamp-cli@4.2.2 "
                    "(.ci/run installs it under ~/.cache/homesim/npm)")
    env = dict(os.environ)
    major = int(subprocess.run(["node", "--version"], capture_output=True, text=True)
                .stdout.strip().lstrip("v").split(".")[0])
    if major < 22:
        env["NODE_OPTIONS"] = "--experimental-websocket"
    proc = subprocess.Popen([exe, url, realm], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    # feed slowly: wamp-cli reads prompts asynchronously
    out = ""
    try:
        time.sleep(1.0)
        for line in script.strip().splitlines():
            if line.startswith("#sleep "):
                time.sleep(float(line.split()[1]))
                continue
            try:
                proc.stdin.write(line + "\n")
                proc.stdin.flush()
            except BrokenPipeError:
                break
            time.sleep(0.3)
        time.sleep(1.0)
        out, _ = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return out
