"""Access control in a real `homesim run` of the block: anonymous refused; residents reach
their flat only and may set only its thermostat; a packet forged by a device of the building
is booked nowhere and counted; a device cannot end the run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest
import yaml

from homesim.devices.bus.store import LedgerStore
from tests.integration.conftest import HOMESIM, ROOT, call, running, start_run
from tests.integration.test_access import probe

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

FORGED_J = 1.0e12


def wamp(out: Path, authid: str, *args: str) -> subprocess.CompletedProcess:
    info = json.loads((out / "router.json").read_text())
    return subprocess.run([*HOMESIM, "wamp", "--url", info["rs_url"], "--realm", info["realm"],
                           "--authid", authid, "--secret-file", str(out / "secrets" / authid),
                           *args], capture_output=True, text=True, timeout=60)


def test_default_run_refuses_anonymous_and_isolates_flats(tmp_path):
    out = tmp_path / "run"
    run = start_run(ROOT / "examples" / "block.yaml", out, "--until", "2d", "--speed", "4000x")
    try:
        info = running(out)
        # paused while the checks that need no flowing windows run: 2 days at 4000x could
        # otherwise be over before the forgery below on a loaded machine
        r = call(out, "homesim.clock.pause")
        assert r.returncode == 0, r.stderr
        # anonymous: refused on both transports (no join, so no call/publish/subscribe/register)
        res = probe({"probes": [
            {"ident": {"url": url, "realm": info["realm"], "authid": "", "secret": "",
                       "method": "anonymous"},
             "actions": [["call", "homesim.clock.status"]]}
            for url in (info["ws_url"], info["rs_url"])]}, tmp_path)
        assert [p["join"] for p in res["probes"]] == ["wamp.error.no_auth_method"] * 2

        # a resident: the thermostat of the own flat, nothing else
        r = call(out, "homesim.device.ground-east.set", '"ach_vent"', "0.5",
                 role="resident", flat="ground-east")
        assert r.returncode == 1 and "homesim.error.not_authorized" in r.stderr, r.stderr
        r = call(out, "homesim.device.ground-east.set", '"thermostat.comfort"', "21.5",
                 role="resident", flat="ground-east")
        assert r.returncode == 0 and json.loads(r.stdout)["value"] == 21.5, r.stderr
        r = call(out, "homesim.device.top-west.get", '"thermostat"',
                 role="resident", flat="ground-east")
        assert r.returncode == 1 and "wamp.error.not_authorized" in r.stderr
        r = call(out, "homesim.ledger.meter.ground-east", role="resident", flat="ground-east")
        assert r.returncode == 0, r.stderr
        meter = json.loads(r.stdout)
        spec = yaml.safe_load((out / "manifest.yaml").read_text())["spec"]
        mine = {d["name"] for d in spec["devices"] if d.get("flat") == "ground-east"}
        assert {"ground-east", "ground-east-kitchen"} <= mine
        assert meter["flows"] and all(f["source"] in mine or f["sink"] in mine
                                      for f in meter["flows"]), meter
        # other flats' own flows (e.g. their kitchens) are not in it
        assert not any("top-west-kitchen" in (f["source"], f["sink"]) for f in meter["flows"])
        # the manager may set what the resident may not; a viewer may not pause
        r = call(out, "homesim.device.ground-east.set", '"ach_vent"', "0.5")
        assert r.returncode == 0, r.stderr
        r = call(out, "homesim.clock.pause", role="viewer")
        assert r.returncode == 1 and "wamp.error.not_authorized" in r.stderr

        r = call(out, "homesim.clock.resume")
        assert r.returncode == 0, r.stderr
        # a viewer watching packets sees numbers (arrays travel as bytes, printed as lists)
        r = wamp(out, "viewer", "sub", "homesim.packets.inverter", "--count", "1",
                 "--timeout", "30")
        assert r.returncode == 0, r.stderr
        event = json.loads(r.stdout.splitlines()[0])
        joules = [f["joules"] for f in event["payload"]["flows"]]
        assert joules and all(isinstance(j, list) and len(j) == event["payload"]["n"]
                              and all(isinstance(x, float) for x in j) for j in joules), event
        # a device of the building forges the inverter's packets: dropped, counted
        st = json.loads(call(out, "homesim.clock.status").stdout)
        forged = {"run": st.get("run", ""), "window": st["window"], "tick0": st["tick"], "n": 1,
                  "publisher": "inverter",
                  "flows": [{"source": "grid", "sink": "ground-east-kitchen",
                             "carrier": "electricity", "joules": [FORGED_J]}]}
        r = wamp(out, "ground-east-kitchen", "pub", "homesim.packets.inverter",
                 json.dumps(forged))
        assert r.returncode == 1 and "not_authorized" in r.stderr  # not on another's topic
        r = wamp(out, "ground-east-kitchen", "pub", "homesim.packets.ground-east-kitchen",
                 json.dumps(forged))
        assert r.returncode == 0, r.stderr  # the router lets a device publish its packets ...
        # ... but not end the run, nor pose as the clock
        r = wamp(out, "ground-east-kitchen", "pub", "homesim.clock.finished",
                 json.dumps({"ok": False, "message": "forged"}))
        assert r.returncode == 1 and "not_authorized" in r.stderr
        status = json.loads(call(out, "homesim.ledger.status").stdout)
        assert status["dropped"].get("forged", 0) >= 1, status
        stdout, stderr = run.communicate(timeout=300)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGINT)
            run.communicate(timeout=60)
    assert run.returncode == 0, (stdout[-2000:], stderr[-3000:])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["ledger"]["dropped_messages"].get("forged", 0) >= 1
    with LedgerStore.open(out / "ledger.sqlite") as store:
        packets = list(store.packets())
    n = sum(1 for p in packets if (p.source, p.sink) == ("grid", "ground-east-kitchen"))
    biggest = max(p.joules for p in packets)
    assert n == 0 and biggest < FORGED_J
    # every secret file is private, and no secret is in any log or in the summary
    secrets = []
    for f in (out / "secrets").iterdir():
        assert f.stat().st_mode & 0o077 == 0, f
        secrets.append(f.read_text().strip())
    assert (out / "secrets").stat().st_mode & 0o077 == 0
    logs = [*(out / "logs").iterdir(), out / "router.log", out / "summary.json",
            out / "router.json"]
    text = "\n".join(p.read_text(errors="replace") for p in logs if p.is_file())
    assert len(secrets) > 30 and not [s for s in secrets if s in text]
    assert (out / ".crossbar" / "config.json").stat().st_mode & 0o077 == 0
