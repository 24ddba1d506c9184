"""`homesim serve`: a real server process, its HTTP API (docs/web-api.md), real runs over the
real router, and the manager credential it hands to the page."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import EXAMPLE, HOMESIM, ROOT, wait_for

PROBE = Path(__file__).with_name("access_probe.py")
DIST = ROOT / "web" / "dist"


class Server:
    """A running `homesim serve --port 0 --no-browser`: its URL, token and runs folder."""

    def __init__(self, proc: subprocess.Popen, url: str, runs: Path) -> None:
        self.proc, self.runs = proc, runs
        self.base, _, self.token = url.partition("/?token=")

    def request(self, method: str, path: str, body: Any = None, token: str | None = "auth",
                raw: bool = False, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        h = dict(headers or {})
        if token == "auth":
            h["Authorization"] = f"Bearer {self.token}"
        elif token is not None:
            h["Authorization"] = f"Bearer {token}"
        data = None if body is None else json.dumps(body).encode()
        if data is not None:
            h["Content-Type"] = "application/json"
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                status, payload, ctype = r.status, r.read(), r.headers.get("content-type", "")
        except urllib.error.HTTPError as e:
            status, payload, ctype = e.code, e.read(), e.headers.get("content-type", "")
        if raw or not ctype.startswith("application/json"):
            return status, payload
        return status, json.loads(payload)

    def wait_run(self, run_id: str, until: tuple[str, ...], timeout: float = 300) -> dict:
        def done() -> dict | None:
            _, r = self.request("GET", f"/api/runs/{run_id}")
            return r if r["status"] in until else None

        return wait_for(done, timeout, f"run {run_id} to be {'/'.join(until)}")


def start_server(runs: Path) -> tuple[subprocess.Popen, str, list[str]]:
    proc = subprocess.Popen([*HOMESIM, "serve", "--port", "0", "--no-browser", "--runs",
                             str(runs)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=runs.parent, start_new_session=True)
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        if not line:
            break
        lines.append(line)
        if "http://" in line:
            return proc, line.split()[-1], lines
    proc.kill()
    raise AssertionError(f"homesim serve printed no URL: {lines} {proc.stderr.read()}")  # type: ignore[union-attr]


def stop_server(proc: subprocess.Popen) -> str:
    """Ctrl-C the server; its stderr. Fails if it has not stopped (with its runs) in 60 s."""
    proc.send_signal(2)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        left = subprocess.run(["ps", "-o", "pid,stat,etimes,args", "-s", str(proc.pid)],
                              capture_output=True, text=True).stdout
        proc.kill()
        _, err = proc.communicate()
        raise AssertionError(f"homesim serve did not stop in 60 s after SIGINT; its process "
                             f"group:\n{left}\nstderr:\n{err[-2000:]}") from None
    return err


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    runs = tmp_path_factory.mktemp("serve") / "runs"
    runs.parent.mkdir(exist_ok=True)
    proc, url, _ = start_server(runs)
    srv = Server(proc, url, runs)
    yield srv
    err = stop_server(proc)
    assert srv.token not in err, "the token must never be logged"


def example_yaml() -> str:
    return EXAMPLE.read_text()


@pytest.mark.quick
def test_token_kinds_validate(server: Server) -> None:
    """The token guards the API; kinds are the registry's; validate gives field paths."""
    from homesim.schemas.registry import REGISTRY

    assert len(server.token) == 43 and server.base.startswith("http://127.0.0.1:")
    assert server.request("GET", "/api/kinds", token=None) == (401, {"error": "unauthorized"})
    assert server.request("GET", "/api/kinds", token="x" * 43)[0] == 401
    assert server.request("GET", "/api/health", token=None)[1]["ok"] is True
    # the cookie set by opening /?token= works too; a wrong token sets none
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    opener.open(f"{server.base}/?token=wrong", timeout=30).read()
    with pytest.raises(urllib.error.HTTPError) as no:
        opener.open(f"{server.base}/api/kinds", timeout=30)
    assert no.value.code == 401
    opener.open(f"{server.base}/?token={server.token}", timeout=30).read()
    assert json.loads(opener.open(f"{server.base}/api/kinds", timeout=30).read())["kinds"]

    status, body = server.request("GET", "/api/kinds")
    assert status == 200
    kinds = {k["kind"]: k for k in body["kinds"]}
    assert list(kinds) == list(REGISTRY.names())
    bat = kinds["battery"]
    assert bat["role"] == "storage" and "capacity" in bat["properties_schema"]["properties"]
    assert "soc_min" in bat["live"] and "capacity" not in bat["live"]
    assert {"kind", "label", "description", "limits", "colour", "report", "inputs"} <= set(bat)

    status, body = server.request("GET", "/api/examples")
    names = {e["name"]: e for e in body["examples"]}
    assert {"home", "block", "ev-home"} <= set(names)
    assert names["home"]["yaml"] == example_yaml() and names["home"]["title"]

    ok = server.request("POST", "/api/validate", {"yaml": example_yaml()})
    assert ok == (200, {"ok": True, "kind": "Home", "errors": []})
    bad_yaml = example_yaml().replace("capacity: 36000000", "capacity: -5")
    assert bad_yaml != example_yaml()
    status, bad = server.request("POST", "/api/validate", {"yaml": bad_yaml})
    assert status == 200 and bad["ok"] is False
    assert [e["path"] for e in bad["errors"]] == ["spec.devices[4].properties.capacity"]
    assert server.request("POST", "/api/validate", {"nope": 1})[1]["error"] == "bad_request"
    status, body = server.request("POST", "/api/runs", {"yaml": bad_yaml, "speed": "max"})
    assert status == 400 and body["errors"][0]["path"] == "spec.devices[4].properties.capacity"
    status, body = server.request("POST", "/api/runs", {"yaml": example_yaml(), "until": "7"})
    assert status == 400 and body["errors"][0]["path"] == "until"
    assert server.request("GET", "/api/runs/nope")[0] == 404
    assert server.request("GET", "/api/nothing")[0] == 404

    status, page = server.request("GET", "/", token=None)
    if (DIST / "index.html").is_file():  # ./test builds web/ first: the real page
        assert page == (DIST / "index.html").read_bytes()
    else:
        assert os.environ.get("HOMESIM_TEST_TIER") != "full", \
            "web/dist is not built (cd web && npm ci && npm run build)"
        assert b"npm ci && npm run build" in page.replace(b"&amp;", b"&")


def test_refuses_remote_host(tmp_path: Path) -> None:
    """A non-loopback --host is refused without --allow-remote."""
    res = subprocess.run([*HOMESIM, "serve", "--host", "0.0.0.0", "--no-browser"],
                         capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert res.returncode == 2 and "--allow-remote" in res.stderr and "http://" not in res.stdout


def probe(ident: dict[str, Any], actions: list[list[str]], tmp: Path) -> dict[str, Any]:
    plan = tmp / "plan.json"
    plan.write_text(json.dumps({"probes": [{"ident": ident, "actions": actions}]}))
    res = subprocess.run([sys.executable, str(PROBE), str(plan)], capture_output=True,
                         text=True, timeout=120)
    assert res.stdout.strip(), res.stderr[-2000:]
    return json.loads(res.stdout.strip().splitlines()[-1])["probes"][0]


def test_run_to_the_end(server: Server) -> None:
    """A day of the example home at speed max finishes with a summary and a report."""
    status, run = server.request("POST", "/api/runs", {"yaml": example_yaml(), "until": "1d",
                                                       "speed": "max"})
    assert status == 201, run
    assert run["status"] in ("starting", "running") and run["name"] == "greensboro"
    assert Path(run["out"]).parent == server.runs.resolve()
    assert server.request("GET", f"/api/runs/{run['id']}/report")[0] == 404  # not yet
    done = server.wait_run(run["id"], ("finished", "failed", "stopped"))
    assert done["status"] == "finished", done["error"]
    assert done["summary"]["complete"] is True and done["summary"]["ticks"] == 1440
    assert done["progress"]["tick"] == 1440 and done["wamp"] is None
    status, page = server.request("GET", f"/api/runs/{run['id']}/report")
    assert status == 200 and b"<html" in page[:2000].lower() and b"plotly" in page
    assert run["id"] in [r["id"] for r in server.request("GET", "/api/runs")[1]["runs"]]


def test_wamp_credential_and_stop(server: Server, tmp_path: Path) -> None:
    """While a run runs, its wamp block joins the router as manager (ticket); stop stops it."""
    status, run = server.request("POST", "/api/runs", {"yaml": example_yaml(), "until": "3d",
                                                       "speed": 3600})
    assert status == 201, run
    # running: the router is up; once the clock reports progress it has registered its
    # procedures too
    def progressing() -> dict | None:
        _, x = server.request("GET", f"/api/runs/{run['id']}")
        return x if x["status"] not in ("starting", "running") or x["progress"] else None

    r = wait_for(progressing, 180, "the clock's first progress")
    assert r["status"] == "running", r["error"]
    w = r["wamp"]
    assert w["authid"] == "manager" and w["realm"] == "greensboro"
    assert w["url"].startswith("ws://127.0.0.1:") and w["url"].endswith("/ws")
    ident = {"url": w["url"], "realm": w["realm"], "authid": w["authid"], "secret": w["ticket"],
             "method": "ticket"}
    got = probe(ident, [["call", "homesim.clock.status"],
                        ["subscribe", "homesim.clock.progress"]], tmp_path)
    assert got == {"join": "ok", "authrole": "manager", "actions": ["ok", "ok"]}
    wrong = probe(dict(ident, secret="x" + w["ticket"][1:]), [], tmp_path)
    assert wrong["join"] != "ok"

    status, stopped = server.request("POST", f"/api/runs/{run['id']}/stop")
    assert status == 200
    end = server.wait_run(run["id"], ("finished", "failed", "stopped"), 120)
    assert end["status"] == "stopped" and end["wamp"] is None
    assert server.request("GET", f"/api/runs/{run['id']}/report")[0] == 404
