"""The router container's entry point (infra/router/entry.py) with a Home's rendered config.

Fast checks of the entry point (checks, redaction, private copy), and one integration test
that starts two REAL Crossbar routers through entry.py, as the router image does, with the
``config.json`` that :func:`homesim.operator.render.render_home` puts into the Secret of two
Homes (``greensboro`` and ``greenwood``), and joins them with autobahn clients. The only change
to the rendered configuration: both transports listen on 127.0.0.1 and free ports instead of
0.0.0.0:8080/8081 (two routers on one host, and no open ports during tests).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from homesim.infra.router import ensure_router_env, free_ports
from homesim.infra.router import entry as router_entry
from homesim.operator.render import render_home
from homesim.schemas.manifest import load_manifest, parse_home

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra" / "router"
HOME_A = load_manifest(ROOT / "examples" / "home.yaml")  # realm greensboro
KEY_A = "router-entry-test-key-a-0123456789abcdefghijk"
KEY_B = "router-entry-test-key-b-0123456789abcdefghijk"


def _home(name: str) -> Any:
    data = HOME_A.model_dump(mode="json")
    data["metadata"]["name"] = name
    return parse_home(data)


def secret_data(home: Any, key: str) -> dict[str, str]:
    """The decoded data of the home's rendered Secret."""
    sec = next(o for o in render_home(home, "ns", None, key) if o["kind"] == "Secret")
    return {k: base64.b64decode(v).decode() for k, v in sec["data"].items()}


def _secrets_in(config: Any) -> list[str]:
    out: list[str] = []
    if isinstance(config, dict):
        for k, v in config.items():
            if k in ("secret", "ticket") and isinstance(v, str):
                out.append(v)
            else:
                out.extend(_secrets_in(v))
    elif isinstance(config, list):
        for v in config:
            out.extend(_secrets_in(v))
    return out


# --------------------------------------------------------------------------- unit


def test_print_config_redacts_every_secret_with_the_standard_library_only(tmp_path: Path):
    """As in the router image: entry.py alone, isolated Python, no homesim installed."""
    shutil.copy(INFRA / "entry.py", tmp_path / "entry.py")
    text = secret_data(HOME_A, KEY_A)["config.json"]
    (tmp_path / "config.json").write_text(text)
    env = {"HOMESIM_ROUTER_CONFIG": str(tmp_path / "config.json")}
    # -S: no site-packages at all; -I would drop the script's folder from sys.path
    res = subprocess.run([sys.executable, "-S", "-E", str(tmp_path / "entry.py"),
                          "--print-config"], capture_output=True, text=True, env=env,
                         cwd=tmp_path, timeout=60, check=True)
    shown = json.loads(res.stdout)
    config = json.loads(text)
    secrets = _secrets_in(config)
    assert len(secrets) >= 2 * 12  # every identity, WAMP-CRA and ticket
    assert not [s for s in secrets if s in res.stdout]
    assert set(_secrets_in(shown)) == {"***"}
    assert shown == router_entry.redact(config)
    # only credentials are hidden: realm, roles, transports are as configured
    assert shown["workers"][0]["realms"] == config["workers"][0]["realms"]
    ws = shown["workers"][0]["transports"][0]["paths"]["ws"]["auth"]
    assert ws["wampcra"]["users"]["manager"] == {"secret": "***", "role": "manager"}


def _refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any,
             config: Any | None, raw: str | None = None) -> str:
    path = tmp_path / "config.json"
    if raw is not None:
        path.write_text(raw)
    elif config is not None:
        path.write_text(json.dumps(config))
    else:
        path.unlink(missing_ok=True)
    monkeypatch.setenv("HOMESIM_ROUTER_CONFIG", str(path))
    monkeypatch.setenv("HOMESIM_CBDIR", str(tmp_path / "cbdir"))
    assert router_entry.main([]) == 1  # refused before Crossbar starts
    assert not (tmp_path / "cbdir" / "config.json").exists()
    err = capsys.readouterr().err
    assert "refusing to start" in err and str(path) in err
    return err


def test_missing_invalid_or_open_config_is_a_clear_error(tmp_path, monkeypatch, capsys):
    config = json.loads(secret_data(HOME_A, KEY_A)["config.json"])
    assert "no router configuration" in _refused(tmp_path, monkeypatch, capsys, None)
    err = _refused(tmp_path, monkeypatch, capsys, None, raw='{"version": 2, "secret": "abc')
    assert "not JSON" in err and "abc" not in err
    assert "version 2" in _refused(tmp_path, monkeypatch, capsys, {"workers": []})
    # anybody in: anonymous on 0.0.0.0, or a transport without any auth section
    open_ws = json.loads(json.dumps(config))
    open_ws["workers"][0]["transports"][0]["paths"]["ws"]["auth"]["anonymous"] = {
        "type": "static", "role": "viewer"}
    assert "anonymous clients on '0.0.0.0'" in _refused(tmp_path, monkeypatch, capsys, open_ws)
    no_auth = json.loads(json.dumps(config))
    del no_auth["workers"][0]["transports"][1]["auth"]
    assert "no 'auth' section" in _refused(tmp_path, monkeypatch, capsys, no_auth)
    for secret in _secrets_in(config):
        assert secret not in capsys.readouterr().err


def test_config_copy_is_private(tmp_path: Path):
    settings = router_entry.Settings({"HOMESIM_CBDIR": str(tmp_path / "cb")})
    path = router_entry.write_config(settings, '{"version": 2}\n')
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == '{"version": 2}\n'
    assert router_entry.Settings({}).config == Path("/etc/homesim-router/config.json")


# --------------------------------------------------------------------------- real routers

CLIENT = r"""
import asyncio, json, os, sys
sys.modules.setdefault("_bjdata", None)  # bjdata's NumPy 1.x/2.x notice
import txaio
txaio.use_asyncio()
from autobahn.asyncio.rawsocket import WampRawSocketClientFactory
from autobahn.asyncio.wamp import ApplicationSession
from autobahn.asyncio.websocket import WampWebSocketClientFactory
from autobahn.wamp import auth
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.serializer import JsonSerializer, MsgPackSerializer
from autobahn.wamp.types import ComponentConfig


async def probe(p):
    loop = asyncio.get_running_loop()
    done = loop.create_future()

    class Probe(ApplicationSession):
        def onConnect(self):
            kw = {"authid": p["authid"]} if p.get("authid") else {}
            self.join(p["realm"], authmethods=p["methods"], **kw)

        def onChallenge(self, challenge):
            if challenge.method == "wampcra":
                return auth.compute_wcs(p["secret"], challenge.extra["challenge"])
            return p["secret"]

        async def onJoin(self, details):
            out = {"joined": details.authrole, "authid": details.authid,
                   "authmethod": details.authmethod}
            for uri in p.get("calls", []):
                try:
                    await self.call(uri)
                    out[uri] = "ok"
                except ApplicationError as e:
                    out[uri] = e.error
            if not done.done():
                done.set_result(out)
            self.leave()

        def onLeave(self, details):
            if not done.done():
                done.set_result({"refused": details.reason})
            self.disconnect()

        def onDisconnect(self):
            if not done.done():
                done.set_result({"refused": "disconnected"})

    def make():
        return Probe(ComponentConfig(realm=p["realm"]))

    host, port = p["host"], p["port"]
    if p["transport"] == "rs":
        factory = WampRawSocketClientFactory(make, serializer=MsgPackSerializer())
    else:
        factory = WampWebSocketClientFactory(make, url=f"ws://{host}:{port}/ws",
                                             serializers=[JsonSerializer()])
    transport, _ = await loop.create_connection(factory, host, port)
    try:
        return await asyncio.wait_for(done, 15)
    finally:
        transport.close()


async def guarded(p):
    try:
        return await probe(p)
    except Exception as e:
        return {"error": repr(e)}


async def main():
    probes = json.loads(sys.stdin.read())
    out = await asyncio.gather(*(guarded(p) for p in probes))  # every join at once
    os.write(1, json.dumps(out).encode())

asyncio.run(main())
"""


class EntryRouter:
    """infra/router/entry.py run with the router venv's Python, as the router image runs it."""

    def __init__(self, python: Path, workdir: Path, config_text: str) -> None:
        config = json.loads(config_text)
        self.ws_port, self.rs_port = free_ports("127.0.0.1", 2)
        web, raw = config["workers"][0]["transports"]
        web["endpoint"].update(interface="127.0.0.1", port=self.ws_port)
        raw["endpoint"].update(interface="127.0.0.1", port=self.rs_port)
        workdir.mkdir(parents=True)
        self.config = workdir / "config.json"
        self.config.write_text(json.dumps(config))
        self.config.chmod(0o400)
        self.cbdir = workdir / "cbdir"
        self.log = workdir / "router.log"
        env = {k: v for k, v in os.environ.items()
               if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
        env.update(HOMESIM_ROUTER_CONFIG=str(self.config), HOMESIM_CBDIR=str(self.cbdir),
                   HOMESIM_ROUTER_LOGLEVEL="info")
        with open(self.log, "wb") as fh:
            self.proc = subprocess.Popen([str(python), "-u", str(INFRA / "entry.py")],
                                         stdout=fh, stderr=subprocess.STDOUT, env=env,
                                         cwd=workdir, start_new_session=True)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"router exited:\n{self.log.read_text()[-3000:]}"
            try:
                for port in (self.ws_port, self.rs_port):
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"router not up:\n{self.log.read_text()[-3000:]}")

    def rss_mb(self) -> float:
        """Resident memory of Crossbar (controller + router worker, not this entry point)."""
        root = psutil.Process(self.proc.pid)
        return sum(p.memory_info().rss for p in root.children(recursive=True)) / 2**20

    def stop(self) -> int:
        """SIGTERM the entry point (as the kubelet does); its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        return self.proc.returncode


def run_probes(script: Path, probes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    res = subprocess.run([sys.executable, str(script)], input=json.dumps(probes),
                         capture_output=True, text=True, timeout=120, cwd=script.parent)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout)
    errors = [(p, o) for p, o in zip(probes, out, strict=True) if "error" in o]
    assert not errors, errors
    return out


@pytest.mark.integration
@pytest.mark.quick
def test_rendered_config_refuses_anonymous_other_homes_and_other_realms(tmp_path: Path):
    """Two Homes, two real routers from their Secrets' config.json: no anonymous join on
    either transport, each home's identities join their own home only."""
    t0 = time.monotonic()
    python = ensure_router_env(progress=lambda m: print(m, file=sys.stderr))
    a, b = secret_data(HOME_A, KEY_A), secret_data(_home("greenwood"), KEY_B)
    ra = EntryRouter(python, tmp_path / "a", a["config.json"])
    rb = EntryRouter(python, tmp_path / "b", b["config.json"])
    script = tmp_path / "client.py"
    script.write_text(CLIENT)
    try:
        ra.wait_ready()
        rb.wait_ready()
        t_up = time.monotonic() - t0
        copy = ra.cbdir / "config.json"
        assert stat.S_IMODE(copy.stat().st_mode) == 0o600  # the private copy Crossbar reads

        def at(r: EntryRouter, transport: str, realm: str, **kw: Any) -> dict[str, Any]:
            port = r.rs_port if transport == "rs" else r.ws_port
            return {"host": "127.0.0.1", "port": port, "transport": transport, "realm": realm,
                    **kw}

        def cra(authid: str, secret: str) -> dict[str, Any]:
            return {"methods": ["wampcra"], "authid": authid, "secret": secret}

        anon = {"methods": ["anonymous"]}
        cases = {
            "anonymous rs": at(ra, "rs", "greensboro", **anon),
            "anonymous ws": at(ra, "ws", "greensboro", **anon),
            "anonymous ws B": at(rb, "ws", "greenwood", **anon),
            "operator A on A": at(ra, "rs", "greensboro", **cra("operator", a["operator"]),
                                  calls=["homesim.clock.status", "homesim.clock.pause"]),
            "manager A ticket on A": at(ra, "ws", "greensboro", methods=["ticket"],
                                        authid="manager", secret=a["manager"]),
            "manager A on B": at(rb, "rs", "greenwood", **cra("manager", a["manager"])),
            "manager A ticket on B": at(rb, "ws", "greenwood", methods=["ticket"],
                                        authid="manager", secret=a["manager"]),
            "manager A, realm A, on B": at(rb, "rs", "greensboro",
                                           **cra("manager", a["manager"])),
            "manager A, other realm, on A": at(ra, "rs", "homesim",
                                               **cra("manager", a["manager"])),
            "manager B on B": at(rb, "rs", "greenwood", **cra("manager", b["manager"])),
            "battery's secret as pv-south": at(ra, "rs", "greensboro",
                                               **cra("pv-south", a["battery"])),
            "unknown authid": at(ra, "rs", "greensboro", **cra("intruder", a["manager"])),
            "home key as secret": at(ra, "rs", "greensboro", **cra("manager", a["home-key"])),
        }
        out = dict(zip(cases, run_probes(script, list(cases.values())), strict=True))
        joined = {k for k, v in out.items() if "joined" in v}
        assert joined == {"operator A on A", "manager A ticket on A", "manager B on B"}, out
        for k in set(cases) - joined:
            assert out[k]["refused"].startswith("wamp.error."), (k, out[k])
        assert out["operator A on A"]["joined"] == "operator"
        assert out["operator A on A"]["authmethod"] == "wampcra"
        # the operator may call the clock's status (no clock here: no callee), not pause it
        assert out["operator A on A"]["homesim.clock.status"] == "wamp.error.no_such_procedure"
        assert out["operator A on A"]["homesim.clock.pause"] == "wamp.error.not_authorized"
        assert out["manager A ticket on A"]["joined"] == "manager"
        assert out["manager A, realm A, on B"]["refused"] == "wamp.error.no_such_realm"
        assert out["manager A, other realm, on A"]["refused"] == "wamp.error.no_such_realm"
        rss = ra.rss_mb(), rb.rss_mb()
    finally:
        codes = ra.stop(), rb.stop()
    assert codes == (0, 0), (ra.log.read_text()[-2000:], rb.log.read_text()[-2000:])
    log = ra.log.read_text()
    assert "SIGTERM: stopping Crossbar" in log and "realm greensboro on web" in log
    for secret in _secrets_in(json.loads(a["config.json"])):
        assert secret not in log
    print(f"\ntwo routers up in {t_up:.1f} s; Crossbar RSS per home router "
          f"{rss[0]:.0f} MB / {rss[1]:.0f} MB; {len(cases)} joins in "
          f"{time.monotonic() - t0:.1f} s total")
