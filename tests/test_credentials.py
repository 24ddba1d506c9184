"""Access plan and run credentials (pure and file level; the router is tested in
tests/integration/test_access.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from homesim.infra.cli import app
from homesim.infra.credentials import CredentialError, credential_for, write_run_secrets
from homesim.infra.router.access import access_plan, derive_secret, new_home_key
from homesim.infra.router.config import render_config
from homesim.schemas.manifest import ManifestError, load_any, parse_home

ROOT = Path(__file__).resolve().parents[1]


def block():
    return load_any(ROOT / "examples" / "block.yaml")


def test_plan_roles_principals_and_no_anonymous() -> None:
    plan = access_plan(block())
    roles = {r["name"] for r in plan.roles}
    assert {p.role for p in plan.principals} <= roles
    flats = {d.flat for d in block().spec.devices if d.flat}
    assert {p.authid for p in plan.principals if p.role.startswith("resident.")} == {
        f"resident.{f}" for f in flats}
    assert len(flats) == 6
    cfg = render_config(plan.realm_access(new_home_key()), 1, 2)
    assert "anonymous" not in json.dumps(cfg)
    home = access_plan(load_any(ROOT / "examples" / "home.yaml"))
    assert not [p for p in home.principals if p.role.startswith("resident.")]


def test_secrets_are_per_identity_per_realm_and_per_key() -> None:
    k1, k2 = new_home_key(), new_home_key()
    s = derive_secret(k1, "tower", "manager")
    assert s == derive_secret(k1, "tower", "manager") and len(s) == 43
    assert len({s, derive_secret(k2, "tower", "manager"), derive_secret(k1, "other", "manager"),
                derive_secret(k1, "tower", "viewer")}) == 4
    with pytest.raises(ValueError):
        derive_secret("", "tower", "manager")


@pytest.mark.parametrize("name", ["manager", "viewer", "operator", "tap"])
def test_people_names_are_reserved_for_devices(name: str) -> None:
    data = json.loads(json.dumps({"apiVersion": "homesim.io/v1alpha1", "kind": "Home",
                                  "metadata": {"name": "h1"},
                                  "spec": {"devices": [{"name": "inv", "kind": "inverter"},
                                                       {"name": name, "kind": "load"}]}}))
    with pytest.raises(ManifestError, match="reserved"):
        parse_home(data)


def test_run_credentials_files_and_errors(tmp_path: Path) -> None:
    plan = access_plan(block())
    key = new_home_key()
    folder = write_run_secrets(tmp_path, plan, key)
    assert folder.stat().st_mode & 0o777 == 0o700
    assert all(f.stat().st_mode & 0o777 == 0o600 for f in folder.iterdir())
    (tmp_path / "router.json").write_text(json.dumps(
        {"ws_url": "ws://127.0.0.1:1/ws", "rs_url": "rs://127.0.0.1:2", "realm": "tower"}))
    c = credential_for(tmp_path, "resident", "ground-east")
    assert c.authid == "resident.ground-east" and c.realm == "tower"
    assert c.secret == derive_secret(key, "tower", "resident.ground-east")
    assert "secret" not in c.public() and c.secret not in repr(c)
    for args, match in [(("root",), "unknown role"), (("resident",), "--flat"),
                        (("resident", "attic"), "no resident of flat 'attic'"),
                        (("viewer", "ground-east"), "--flat goes with")]:
        with pytest.raises(CredentialError, match=match):
            credential_for(tmp_path, *args)
    with pytest.raises(CredentialError, match="not a homesim run folder"):
        credential_for(tmp_path / "nope")


def test_credentials_command(tmp_path: Path) -> None:
    plan = access_plan(block())
    key = new_home_key()
    write_run_secrets(tmp_path, plan, key)
    (tmp_path / "router.json").write_text(json.dumps(
        {"ws_url": "ws://127.0.0.1:1/ws", "rs_url": "rs://127.0.0.1:2", "realm": "tower"}))
    runner = CliRunner()
    res = runner.invoke(app, ["credentials", str(tmp_path), "--role", "manager"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["authid"] == "manager" and "secret" not in out
    assert derive_secret(key, "tower", "manager") not in res.output
    res = runner.invoke(app, ["credentials", str(tmp_path), "--role", "manager",
                              "--show-secret", "--format", "env"])
    assert f'HOMESIM_SECRET="{derive_secret(key, "tower", "manager")}"' in res.stdout
    res = runner.invoke(app, ["credentials", str(tmp_path), "--role", "king"])
    assert res.exit_code == 2 and "unknown role" in res.output
    res = runner.invoke(app, ["wamp", "call", "homesim.clock.status"])
    assert res.exit_code == 2 and "--run" in res.output
