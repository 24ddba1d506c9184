"""Authorization matrix against the real Crossbar router, as `homesim run` configures it.

Two routers (a block ``tower`` and a home ``greensboro``), each with the access plan of
:mod:`homesim.infra.router.access` and its own key. Every identity of the block (and an
anonymous client on each transport) tries every action; each cell is asserted against a
table written by hand from the issue's rules (not computed from the plan under test).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from homesim.infra.router import start_router
from homesim.infra.router.access import access_plan, derive_secret, new_home_key
from homesim.schemas.manifest import load_any

pytestmark = [pytest.mark.integration, pytest.mark.quick, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).with_name("access_probe.py")

# --- the actions (verb, uri), and who owns what ------------------------------------------
# R1 lives in flat ground-east, R2 in top-west; D is a device of R1's flat (its kitchen
# load); INV is the building's inverter.
ACTIONS = [
    ("call", "homesim.device.ground-east.get"),        # 0 own flat (R1)
    ("call", "homesim.device.top-west.get"),           # 1 other flat (R1)
    ("call", "homesim.device.heat-pump.get"),          # 2 building device
    ("call", "homesim.device.ground-east.set"),        # 3
    ("call", "homesim.device.top-west.set"),           # 4
    ("call", "homesim.device.heat-pump.set"),          # 5
    ("call", "homesim.clock.pause"),                   # 6
    ("call", "homesim.clock.status"),                  # 7 carries every flow: not residents
    ("subscribe", "homesim.device.ground-east.report"),  # 8
    ("subscribe", "homesim.device.top-west.report"),   # 9
    ("subscribe", "homesim.packets.inverter"),         # 10 every flow of the building
    ("subscribe", "homesim.clock.progress"),           # 11
    ("publish", "homesim.packets.inverter"),           # 12 INV's own packet topic
    ("publish", "homesim.settle"),                     # 13
    ("publish", "homesim.device.ground-east-kitchen.report"),  # 14 D's own
    ("publish", "homesim.device.inverter.report"),     # 15 INV's own
    ("publish", "homesim.clock.window"),               # 16
    ("register", "homesim.device.ground-east-kitchen.get"),  # 17 D's own procedure
    ("register", "homesim.device.inverter.snapshot"),  # 18 INV's own procedure
    ("call", "homesim.ledger.meter.ground-east"),      # 19 R1's meter
    ("call", "homesim.ledger.meter.top-west"),         # 20 R2's meter
    ("subscribe", "homesim.device.top-west.events"),   # 21
    ("register", "homesim.clock.resume"),              # 22 only the clock
    ("publish", "homesim.packets.ground-east-kitchen"),  # 23 D's own packet topic
]
# A = allowed, . = refused (wamp.error.not_authorized), one character per action above.
EXPECTED = {
    #                         0         1         2
    #                         012345678901234567890123
    "manager":               "AAAAAAAAAAAA.......AAA..",
    "viewer":                "AAA....AAAAA.........A..",
    "operator":              "...AAA.A................",
    "resident.ground-east":  "A..A....A..........A....",
    "resident.top-west":     ".A..A....A..........AA..",
    "ground-east-kitchen":   "........AAAA.AA..A...A.A",
    "inverter":              "........AAAAAA.A..A..A..",
    "clock":                 "........AAAA....A..AAAA.",
    "ledger":                "........AAAA.A.......A..",
}


def _secret(key: str, realm: str, authid: str) -> str:
    return derive_secret(key, realm, authid)


@pytest.fixture(scope="module")
def routers(tmp_path_factory, router_env) -> Any:
    block = load_any(ROOT / "examples" / "block.yaml")
    home = load_any(ROOT / "examples" / "home.yaml")
    out = {}
    started = []
    try:
        for h in (block, home):
            key = new_home_key()
            plan = access_plan(h)
            r = start_router(tmp_path_factory.mktemp(h.metadata.name),
                             plan.realm_access(key), python=router_env)
            started.append(r)
            out[h.metadata.name] = {"router": r, "key": key, "plan": plan,
                                    "ws": f"ws://127.0.0.1:{r.ws_port}/ws",
                                    "rs": f"rs://127.0.0.1:{r.rs_port}"}
        yield out
    finally:
        for r in started:
            r.stop()


def _ident(r: dict[str, Any], realm: str, authid: str, transport: str = "ws",
           method: str = "wampcra", key: str | None = None,
           secret: str | None = None) -> dict[str, Any]:
    return {"url": r[transport], "realm": realm, "authid": authid, "method": method,
            "secret": secret if secret is not None
            else _secret(key or r["key"], realm, authid)}


def probe(plan: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / f"plan-{random.getrandbits(32)}.json"
    path.write_text(json.dumps(plan))
    res = subprocess.run([sys.executable, str(PROBE), str(path)], capture_output=True,
                         text=True, timeout=240)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert "error" not in out, out["error"]
    return out


def test_authorization_matrix(routers, tmp_path):
    """Every role x action x own/other flat cell on the block's router; anonymous refused on
    both transports; publishes are acknowledged so a refusal is seen, not assumed."""
    r, realm = routers["tower"], "tower"
    callees = [_ident(r, realm, d, "rs") for d in ("ground-east", "top-west", "heat-pump")]
    callees.append({**_ident(r, realm, "clock", "rs"),
                    "procedures": ["homesim.clock.pause", "homesim.clock.status"]})
    callees.append({**_ident(r, realm, "ledger", "rs"),
                    "procedures": ["homesim.ledger.meter.ground-east",
                                   "homesim.ledger.meter.top-west"]})
    probes = []
    for authid in EXPECTED:
        probes.append({"ident": _ident(r, realm, authid, "ws"), "actions": ACTIONS})
    for transport in ("ws", "rs"):
        probes.append({"ident": {**_ident(r, realm, "viewer", transport),
                                 "method": "anonymous"}, "actions": ACTIONS[:1]})
    out = probe({"callees": callees, "probes": probes}, tmp_path)
    assert out["callees"] == {"ground-east": "ok", "top-west": "ok", "heat-pump": "ok",
                              "clock": "ok", "ledger": "ok"}
    cells = 0
    wrong = []
    for (authid, want), got in zip(EXPECTED.items(), out["probes"], strict=False):
        assert got["join"] == "ok", (authid, got)
        role = authid if authid in ("manager", "viewer", "operator", "clock", "ledger") \
            or authid.startswith("resident.") else f"device.{authid}"
        assert got["authrole"] == role
        for (verb, uri), w, g in zip(ACTIONS, want, got["actions"], strict=True):
            cells += 1
            ok = g == "ok"
            if ok != (w == "A") or (not ok and g != "wamp.error.not_authorized"):
                wrong.append((authid, verb, uri, w, g))
    assert wrong == [], wrong
    for anon in out["probes"][len(EXPECTED):]:
        assert anon["join"] != "ok" and "no_auth_method" in anon["join"], anon
    assert cells == len(EXPECTED) * len(ACTIONS)


def test_no_identity_reaches_another_home(routers, tmp_path):
    """Credentials of the block are refused by the home's router (and the other way round);
    a realm the router does not serve is refused; the home's own manager joins."""
    a, b = routers["tower"], routers["greensboro"]
    probes = []
    for authid in ("manager", "viewer", "operator", "clock", "ledger", "inverter", "grid"):
        for transport in ("ws", "rs"):
            # A's secret against B's router, asking for B's realm and for A's realm
            probes.append({"ident": _ident(b, "greensboro", authid, transport,
                                           secret=_secret(a["key"], "tower", authid))})
            probes.append({"ident": _ident(b, "tower", authid, transport,
                                           secret=_secret(a["key"], "tower", authid))})
            probes.append({"ident": _ident(a, "tower", authid, transport,
                                           secret=_secret(b["key"], "greensboro", authid))})
    probes.append({"ident": _ident(b, "greensboro", "manager", "ws")})  # control: B's own
    out = probe({"probes": probes}, tmp_path)
    *cross, own = out["probes"]
    assert own["join"] == "ok" and own["authrole"] == "manager"
    assert all(p["join"] != "ok" for p in cross), [p for p in cross if p["join"] == "ok"]
    assert len(cross) == 7 * 2 * 3


def test_join_fuzz_is_always_refused(routers, tmp_path):
    """A bounded fuzz of joins: wrong secrets, unknown authids, wrong realms, wrong methods,
    odd strings. Not one is let in."""
    r, key = routers["tower"], routers["tower"]["key"]
    rng = random.Random(20261130)
    known = routers["tower"]["plan"].authids()
    odd = ["", " ", "manager ", "MANAGER", "resident.", "resident.*", "../manager",
           "manager\x00", "é", "x" * 300, "device.inverter", "anonymous", "trusted"]
    probes = []
    n = 200 if os.environ.get("HOMESIM_TEST_TIER") == "full" else 60
    for _ in range(n):
        authid = rng.choice([rng.choice(known), rng.choice(odd),
                             "".join(rng.choice("abc.-_") for _ in range(rng.randint(1, 12)))])
        realm = rng.choice(["tower", "tower", "greensboro", "Tower", "tower.x", "homesim"])
        transport = rng.choice(["ws", "rs"])
        method = rng.choice(["wampcra", "wampcra", "ticket"])
        good = derive_secret(key, "tower", authid) if authid else "x"
        secret = rng.choice([good[:-1] + ("A" if good[-1] != "A" else "B"), good.upper(),
                             new_home_key(), "", good + " ", good[:10]])
        if method == "ticket" and transport == "rs":
            method = "wampcra"  # the rawsocket takes WAMP-CRA only: still refused
        probes.append({"ident": {"url": r[transport], "realm": realm, "authid": authid,
                                 "method": method, "secret": secret}})
    out = probe({"probes": probes}, tmp_path)
    let_in = [(p["ident"]["authid"], p["ident"]["realm"], res["join"])
              for p, res in zip(probes, out["probes"], strict=True) if res["join"] == "ok"]
    assert let_in == []
    assert len(out["probes"]) == n
