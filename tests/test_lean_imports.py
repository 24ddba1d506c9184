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
#: Packages autobahn would import that no device, clock or ledger process loads (issue 16:
#: ~8.5 MiB of its peak RSS).
LEAN_UNUSED = ("cryptography", "click", "cffi", "pycparser", "_cffi_backend",
               "_nvx_utf8validator", "_nvx_xormasker")

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
    ("battery", "battery"), ("grid", "grid"), ("clock", "clock"), ("ledger", "ledger"),
    # the sun needs pvlib for windows its series cache does not hold: imported there
    ("sun", "sun"),
])
def test_kind_connects_without_heavy_imports(kind: str, device: str, tmp_path: Path) -> None:
    got = _loaded(kind, device, tmp_path)
    mods = set(got["modules"])
    assert "homesim.devices.bus.runtime" in mods  # the harness really ran the entry point
    heavy = sorted({m.split(".")[0] for m in mods} & set(HEAVY))
    assert not heavy, f"{kind} imports {heavy} before it connects"
    # autobahn's unused serializers stay out (homesim speaks msgpack and JSON)
    assert not {"cbor2", "bjdata", "autobahn.flatbuffers"} & mods
    # nor what a device process has no use for (homesim.devices.bus.lean_device_process):
    # cryptography (WAMP-CRA needs only hashlib), click, the WebSocket NVX helpers (rawsocket)
    unused = sorted(m for m in mods if m.split(".")[0] in LEAN_UNUSED)
    assert not unused, f"{kind} imports {unused}"
    assert "autobahn.wamp.auth" in mods  # … though autobahn's WAMP-CRA is there


@pytest.mark.parametrize(("kind", "device", "module"), [
    ("inverter", "inverter", "pvlib.inverter"), ("load", "house", "demandlib"),
])
def test_heavy_kinds_warm_up_before_they_connect(kind: str, device: str, module: str,
                                                 tmp_path: Path) -> None:
    """What window 0 needs (pvlib's inverter model with PV on the bus, demandlib's year) is
    imported before joining (DeviceShell.warm), while the router starts: not on the run's
    critical path at window 0 (measured: 1.3 s of wall time there)."""
    got = _loaded(kind, device, tmp_path)
    assert module in set(got["modules"])


_DEFERRED_CRYPTO = r"""
import base64, hashlib, hmac, json, sys
from homesim.devices.bus import lean_device_process
lean_device_process(sys.argv[1])
import autobahn.twisted.component, autobahn.websocket
from autobahn.wamp import auth
out = {"nvx": autobahn.websocket.HAS_NVX, "click": sys.modules.get("click") is not None}
out["after_import"] = "cryptography" in sys.modules
from autobahn.wamp.types import Challenge
cra = auth.create_authenticator("wampcra", authid="dev", secret="s3cret")  # as Component does
# homesim's WAMP-CRA (an unsalted secret): HMAC-SHA256 of the challenge, hashlib only
sig = cra.on_challenge(None, Challenge("wampcra", {"challenge": "ch"}))
out["wcs"] = sig == base64.b64encode(hmac.digest(b"s3cret", b"ch", "sha256")).decode()
out["after_unsalted"] = "cryptography" in sys.modules
# a salted secret loads the real cryptography on first use, with the standard's result
sig = cra.on_challenge(None, Challenge("wampcra", {"challenge": "ch", "salt": "salt",
                                                   "iterations": 100, "keylen": 32}))
key = base64.b64encode(hashlib.pbkdf2_hmac("sha256", b"s3cret", b"salt", 100, 32))
out["salted"] = sig == base64.b64encode(hmac.digest(key, b"ch", "sha256")).decode()
out["after_salted"] = "cryptography" in sys.modules
from cryptography.hazmat.primitives import hashes  # the real package, not a stand-in
out["real"] = hashes.SHA256().name == "sha256"
print(json.dumps(out))
"""


@pytest.mark.parametrize("router", ["rs://127.0.0.1:8081", "ws://127.0.0.1:8080/ws"])
def test_wamp_cra_without_cryptography(router: str) -> None:
    """autobahn's WAMP-CRA works without importing cryptography; a salted key imports it
    then (the same PBKDF2 result as hashlib's), and afterwards ``cryptography`` is the
    real package. A WebSocket client keeps autobahn's native NVX helpers."""
    res = subprocess.run([sys.executable, "-c", _DEFERRED_CRYPTO, router],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr[-2000:]
    got = json.loads(res.stdout.splitlines()[-1])
    assert got == {"nvx": router.startswith("ws"), "click": False, "after_import": False,
                   "wcs": True, "after_unsalted": False, "salted": True,
                   "after_salted": True, "real": True}


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


def _mapped_heavy(pid: int, pkgs: tuple[str, ...] = ("pandas", "scipy", "pyarrow")) -> set[str]:
    """Packages of ``pkgs`` whose compiled extensions a process has mapped (by default the
    heavy ones: pvlib and demandlib bring pandas, pvlib scipy)."""
    try:
        maps = Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return set()
    return {pkg for pkg in pkgs
            if f"/site-packages/{pkg}/" in maps or f"/site-packages/{pkg}.libs/" in maps
            or f"/site-packages/{pkg}." in maps}  # a top-level extension (_cffi_backend.…so)


#: Compiled extensions of what :data:`LEAN_UNUSED` names (cryptography's Rust/OpenSSL
#: bindings, CFFI, autobahn's NVX helpers).
LEAN_UNUSED_EXT = ("cryptography", "_cffi_backend", "_nvx_utf8validator", "_nvx_xormasker")


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
        # no process of the run maps cryptography, CFFI or NVX (all of them joined the
        # router with WAMP-CRA; the weather, PV and load too)
        unused = {name: _mapped_heavy(pid, LEAN_UNUSED_EXT) for name, pid in procs.items()}
        assert not any(unused.values()), f"loaded while running: {unused}"
        assert _mapped_heavy(os.getpid(), ("numpy",)) == {"numpy"}  # the check sees a .so
        # the check can see a heavy process: the PV computes with pvlib (pandas, scipy)
        assert "pandas" in _mapped_heavy(procs["pv-south"])
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
        proc.communicate(timeout=60)
