"""Lean processes (issue 16): each kind imports only what it needs.

Each case starts ``python -m homesim.devices <kind>`` for real (the entry point's own code:
argument parsing, manifest validation, shell or clock/ledger construction, metrics) and stops
it where it would connect to the router: ``serve`` is replaced, as the runtime module is
loaded, by a function that reports which modules are loaded. A top-level ``import pandas``
(or pvlib, scipy, plotly) anywhere on a lean kind's import path fails the test. The
integration case checks the running processes of a real run (their mapped libraries), which
also catches a heavy import inside a function that every window calls.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
HOME = ROOT / "examples" / "home.yaml"

#: What a lean process must not have loaded when it connects.
HEAVY = ("pandas", "pvlib", "scipy", "plotly", "pint", "pyarrow", "demandlib", "hplib")

# Runs the entry point; when homesim.devices.bus.runtime is loaded its ``serve`` becomes a
# function that prints the loaded modules (and the peak RSS) as JSON instead of connecting.
_HARNESS = r"""
import importlib.abc, importlib.util, json, resource, sys

def report(*_args, **_kwargs):
    mods = sorted(k for k, v in sys.modules.items() if v is not None)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("LEAN " + json.dumps({"modules": mods, "rss_mib": rss}), flush=True)
    return 0

class Hook(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != "homesim.devices.bus.runtime":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            module.serve = report

        spec.loader.exec_module = exec_module
        return spec

sys.meta_path.insert(0, Hook())
from homesim.devices.__main__ import main
main(sys.argv[1:])
"""


def _loaded(kind: str, device: str, tmp_path: Path) -> dict:
    args = [kind, "--manifest", str(HOME), "--router", "rs://127.0.0.1:9", "--realm", "r"]
    if kind == "ledger":
        args += ["--db", str(tmp_path / "ledger.sqlite"), "--summary",
                 str(tmp_path / "summary.json")]
    elif kind != "clock":
        args += ["--device", device]
    res = subprocess.run([sys.executable, "-c", _HARNESS, *args], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    lines = [x for x in res.stdout.splitlines() if x.startswith("LEAN ")]
    assert lines, f"{kind} never reached serve (rc {res.returncode}):\n{res.stderr[-2000:]}"
    return json.loads(lines[0][5:])


@pytest.mark.parametrize(("kind", "device"), [
    ("battery", "battery"), ("grid", "grid"), ("inverter", "inverter"), ("clock", "clock"),
    ("ledger", "ledger"),
    # these need pvlib/demandlib for their first window, imported there, not at start
    ("sun", "sun"), ("load", "house"),
])
def test_kind_connects_without_heavy_imports(kind: str, device: str, tmp_path: Path) -> None:
    got = _loaded(kind, device, tmp_path)
    mods = set(got["modules"])
    assert "homesim.devices.bus.runtime" in mods  # the harness really ran the entry point
    heavy = sorted({m.split(".")[0] for m in mods} & set(HEAVY))
    assert not heavy, f"{kind} imports {heavy} before it connects"
    # autobahn's unused serializers stay out (homesim speaks msgpack and JSON)
    assert not {"cbor2", "bjdata", "autobahn.flatbuffers"} & mods


def test_named_zone_offsets_need_no_pandas() -> None:
    """Local time in a named zone (schedules of grid, load, inverter) loads no pandas."""
    code = ("import sys, numpy as np\n"
            "from homesim.devices.models.schedule import in_windows, utc_offset\n"
            "utc_offset(np.array([1.7e9]), 'Europe/Berlin')\n"
            "in_windows(np.array([1.7e9]), 'America/New_York', "
            "[{'start': '17:00', 'end': '21:00'}])\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'pandas', 'pvlib'}))\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    assert res.stdout.strip() == "[]"


@pytest.mark.parametrize("tz", ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe",
                                "Asia/Kolkata", "Pacific/Chatham", "Africa/Casablanca",
                                "America/Sao_Paulo", "Etc/GMT+5", "Europe/Dublin"])
def test_utc_offset_matches_pandas(tz: str) -> None:
    """The zoneinfo step function gives pandas' ``tz_convert`` offsets to the second,
    across daylight-saving changes and historic transitions."""
    pd = pytest.importorskip("pandas")
    from homesim.devices.models.schedule import resolve_tz, utc_offset

    rng = np.random.default_rng(16)
    for start in (-1.5e9, 0.0, 1.3e9, 1.74e9, 2.1e9):
        t = start + np.sort(rng.uniform(0, 400 * 86400, 5_000))
        t = np.concatenate([t, np.floor(t[:50]) + 0.999])
        utc = pd.to_datetime(np.floor(t).astype("int64"), unit="s", utc=True)
        local = utc.tz_convert(resolve_tz(tz)).tz_localize(None)
        expected = (local - utc.tz_localize(None)).total_seconds().to_numpy(dtype=float)
        np.testing.assert_array_equal(utc_offset(t, tz), expected)


def _mapped_heavy(pid: int) -> set[str]:
    """Heavy packages whose compiled extensions a process has mapped (pvlib and demandlib
    bring pandas, pvlib scipy)."""
    try:
        maps = Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return set()
    return {pkg for pkg in ("pandas", "scipy", "pyarrow")
            if f"/site-packages/{pkg}/" in maps or f"/site-packages/{pkg}.libs/" in maps}


@pytest.mark.integration
@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux /proc")
def test_lean_kinds_stay_lean_while_running(tmp_path: Path) -> None:
    """A real run of the example home, paced: after two booked windows (every device has
    computed, the ledger booked, the grid looked up its tariff windows in local time), the
    battery, grid, clock and ledger processes have no pandas, scipy or pyarrow mapped."""
    from tests.integration.conftest import running, start_run, wait_for

    out = tmp_path / "run"
    proc = start_run(HOME, out, "--until", "1d", "--speed", "3600x", "--no-report")
    try:
        running(out, windows=2)
        mark = str(out / "manifest.yaml")
        procs: dict[str, int] = {}

        def find() -> bool:
            for d in Path("/proc").iterdir():
                if d.name.isdigit():
                    try:
                        cmd = (d / "cmdline").read_bytes().split(b"\0")
                    except OSError:
                        continue
                    args = [c.decode() for c in cmd]
                    if mark in args and "--device" in args:
                        procs[args[args.index("--device") + 1]] = int(d.name)
            return {"battery", "grid", "clock", "ledger"} <= procs.keys()

        wait_for(find, 30, "the run's processes", proc=proc, out=out)
        heavy = {name: _mapped_heavy(procs[name]) for name in ("battery", "grid", "clock",
                                                               "ledger")}
        assert not any(heavy.values()), f"heavy packages loaded while running: {heavy}"
        # the check can see a heavy process: the PV computes with pvlib (pandas, scipy)
        assert "pandas" in _mapped_heavy(procs["pv-south"])
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
        proc.communicate(timeout=60)
