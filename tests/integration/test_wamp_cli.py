"""The real npm wamp-cli against a running home: clock control, get/set, errors."""

from __future__ import annotations

import json
import os
import re
import signal

import pytest

from .conftest import (
    example,
    settled_windows,
    start_run,
    wait_for,
    wampc,
    write_manifest,
    ws_url,
)

JS_CALL = ("session.call('{proc}', {args}).then(r => console.log('JSON ' + JSON.stringify(r)),"
           " e => console.log('WAMPERR ' + e.error + ' ' + JSON.stringify(e.kwargs)))")


def js(proc: str, *args: object) -> str:
    """A line for wamp-cli's REPL calling ``proc`` and printing the result as one JSON line."""
    return JS_CALL.format(proc=proc, args=json.dumps(list(args)))


def results(out: str) -> list[object]:
    return [json.loads(m) for m in re.findall(r"JSON (.*)$", out, flags=re.M)]


def errors(out: str) -> list[str]:
    return re.findall(r"WAMPERR (\S+)", out, flags=re.M)


@pytest.fixture
def realtime_home(tmp_path):
    """The example home at realtime, dt = 1 s, for an hour of simulated time."""
    m = write_manifest(tmp_path, example(dt=1, duration="1h", speed="realtime"))
    out = tmp_path / "run"
    # wamp-cli cannot authenticate: the opt-in anonymous role on the loopback WebSocket
    run = start_run(m, out, "--anonymous", "manager")
    try:
        url = ws_url(out)
        wait_for(lambda: settled_windows(out / "ledger.sqlite") >= 2, 120, "a running home")
        yield url, "greensboro", run
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGINT)
            run.communicate(timeout=60)


def test_clock_control_and_speed_reach_every_device(realtime_home):
    """realtime ≈ 1 tick/s; pause holds; resume and set_speed 60x work; devices see the speed."""
    url, realm, run = realtime_home
    devices = ["weather", "sun", "pv-south", "inverter", "battery", "grid", "house"]
    out = wampc(url, realm, "\n".join([
        "#sleep 4",
        js("homesim.clock.status"),
        "#sleep 3",
        js("homesim.clock.status"),
        js("homesim.clock.pause"),
        "#sleep 1",
        js("homesim.clock.status"),
        "#sleep 2",
        js("homesim.clock.status"),
        js("homesim.clock.resume"),
        js("homesim.clock.set_speed", "60x"),
        "#sleep 3",
        js("homesim.clock.status"),
        *[js(f"homesim.device.{d}.snapshot") for d in devices],
        js("homesim.clock.set_speed", "warp9"),
    ]), timeout=90)
    r = results(out)
    assert len(r) == 8 + len(devices), out[-3000:]
    s1, s2, paused, p1, p2, resumed, fast, s3 = r[:8]
    assert s1["state"] == "running" and s1["speed"] == "realtime"
    assert 1 <= s2["tick"] - s1["tick"] <= 6, (s1, s2)  # ~3 s of wall time at realtime
    assert paused["state"] == "paused"
    assert p1["state"] == "paused" and p2["tick"] == p1["tick"]  # nothing moves while paused
    assert resumed["state"] == "running" and fast["speed"] == "60x"
    assert s3["tick"] - p2["tick"] >= 60, (p2, s3)  # 60 ticks/s for ~3 s
    for snap in r[8:]:
        assert snap["clock"]["speed"] == "60x", snap
    assert errors(out) == ["homesim.error.invalid_argument"]  # warp9 is not a speed


def test_get_set_and_bad_payloads(realtime_home):
    """Cookbook calls work; bad input gets a homesim.error.* WAMP error; devices keep answering."""
    url, realm, run = realtime_home
    out = wampc(url, realm, "\n".join([
        "#sleep 3",
        ".CALL homesim.device.battery.get", '["soc"]', "{}",
        "#sleep 1",
        js("homesim.device.battery.get", "soc"),
        js("homesim.device.weather.set", "cloud_cover", 7),
        js("homesim.device.weather.set", "cloud_cover", "thick"),
        js("homesim.device.weather.set", "no_such_thing", 1),
        js("homesim.device.weather.set", "file", "/etc/passwd"),
        js("homesim.device.weather.get"),
        ".PUB homesim.packets.inverter", '["garbage"]', '{"flows": 3}',
        ".PUB homesim.clock.window", '[{"window": "x"}]', "{}",
        "#sleep 1",
        js("homesim.device.weather.set", "cloud_cover", 0.8),
        js("homesim.device.weather.get", "cloud_cover"),
        js("homesim.device.house.set", "appliances.oven.state", "on"),
        js("homesim.device.house.get", "appliances.oven.state"),
        js("homesim.device.battery.describe"),
        js("homesim.clock.status"),
    ]), timeout=90)
    assert "RES>" in out  # the plain .CALL form printed a result
    assert errors(out) == ["homesim.error.invalid_argument", "homesim.error.invalid_argument",
                           "homesim.error.unknown_property", "homesim.error.read_only",
                           "homesim.error.invalid_argument"], out[-3000:]
    r = results(out)
    soc, cc_set, cc, oven_set, oven, desc, status = r
    assert 0.0 <= soc["value"] <= 1.0
    assert cc == {"name": "cloud_cover", "value": 0.8}
    assert oven["value"] == "on"
    names = {p["name"]: p for p in desc["properties"]}
    assert names["capacity"]["unit"] == "J" and names["capacity"]["live"] is False
    assert status["state"] == "running"  # the garbage events did not stop anything
    assert run.poll() is None
