"""A running home refuses hostile live changes with homesim.error.invalid_argument (speeds
that would divide by zero, overflow or freeze the clock; inf and absurd property values;
over-long lists) and then completes normally: ✓, exit 0, every window booked."""

from __future__ import annotations

import json
import os
import signal

from .conftest import call, example, running, start_run, write_manifest

INVALID = "homesim.error.invalid_argument"



def test_hostile_live_changes_are_refused_and_the_run_completes(tmp_path):
    data = example(dt=1, duration="1h", speed="realtime")
    out = tmp_path / "run"
    run = start_run(write_manifest(tmp_path, data), out)
    try:
        running(out)
        many = json.dumps([{"name": f"a{i}", "power": 1.0, "start": "08:00", "end": "09:00"}
                           for i in range(1001)])
        hostile = [
            ("homesim.clock.set_speed", '"0x"'),
            ("homesim.clock.set_speed", '"0.000001x"'),
            ("homesim.clock.set_speed", '"1' + "0" * 309 + 'x"'),
            ("homesim.device.pv-south.set", '"pdc0"', "Infinity"),
            ("homesim.device.battery.set", '"p_charge_max"', "Infinity"),
            ("homesim.device.grid.set", '"p_import_max"', "1e308"),
            ("homesim.device.house.set", '"annual_kwh"', "Infinity"),
            ("homesim.device.house.set", '"appliances"', many),
        ]
        for args in hostile:
            res = call(out, *args)
            assert res.returncode == 1 and INVALID in res.stderr, (args[:2], res.stderr[-2000:])
        status = call(out, "homesim.clock.status")
        assert status.returncode == 0 and json.loads(status.stdout)["state"] == "running"
        pv = call(out, "homesim.device.pv-south.get", '"pdc0"')
        assert pv.returncode == 0 and json.loads(pv.stdout)["value"] == 5000.0
        fast = call(out, "homesim.clock.set_speed", '"max"')
        assert fast.returncode == 0, fast.stderr[-2000:]
        stdout, stderr = run.communicate(timeout=240)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGINT)
            run.communicate(timeout=60)
    assert run.returncode == 0, (stdout[-2000:], stderr[-3000:])
    assert "✓" in stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] and summary["ticks"] == summary["ticks_planned"] == 3600
    assert summary["ledger"]["error"] is None
