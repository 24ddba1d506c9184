"""The operator's live update path: manifest change → WAMP set on the running device."""

from __future__ import annotations

import json
import os
import signal

from homesim.operator.live import live_changes
from homesim.operator.wamp import push
from homesim.schemas.manifest import parse_home

from .conftest import call, example, running, start_run, write_manifest


def test_live_changes_reach_the_running_device(tmp_path):
    data = example(dt=1, duration="1h", speed="realtime")
    out = tmp_path / "run"
    run = start_run(write_manifest(tmp_path, data), out)
    try:
        info = running(out)
        new = json.loads(json.dumps(data))
        new["spec"]["devices"][0]["properties"]["cloud_cover"] = 0.3
        new["spec"]["devices"][6]["properties"]["annual_kwh"] = 5000
        changes = live_changes(parse_home(data).spec, parse_home(new).spec)
        assert changes == [("weather", "cloud_cover", 0.3), ("house", "annual_kwh", 5000.0)]
        op = (out / "secrets" / "operator").read_text().strip()  # the operator's credential
        ok, failed = push(changes, info["rs_url"], info["realm"], "operator", op)
        assert failed == [] and len(ok) == 2
        res = call(out, "homesim.device.weather.get", '"cloud_cover"')
        assert res.returncode == 0 and json.loads(res.stdout)["value"] == 0.3
        bad = call(out, "homesim.device.weather.set",
                    '"cloud_cover"', "2")
        assert bad.returncode == 1 and "homesim.error.invalid_argument" in bad.stderr
        # a device that is not there: the push reports it, nothing crashes
        ok, failed = push([("nope", "x", 1)], info["rs_url"], info["realm"], "operator", op,
                          timeout=15)
        assert ok == [] and failed == [("nope", "x", 1)]
        # the viewer's credential cannot push (it may not call set)
        viewer = (out / "secrets" / "viewer").read_text().strip()
        ok, failed = push([("weather", "cloud_cover", 0.1)], info["rs_url"], info["realm"],
                          "viewer", viewer)
        assert ok == [] and failed == [("weather", "cloud_cover", 0.1)]
    finally:
        os.killpg(run.pid, signal.SIGINT)
        run.communicate(timeout=60)
