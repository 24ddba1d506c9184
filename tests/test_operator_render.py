"""Operator pieces that need no cluster: CRDs, render functions, conditions, live changes,
the home's Secret, router and Service, and what each pod may read of them."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from homesim.infra.router.access import access_plan, derive_secret
from homesim.infra.router.config import render_config
from homesim.operator.conditions import set_condition
from homesim.operator.live import live_changes, restart_hash
from homesim.operator.render import RenderOptions, render_block_homes, render_home
from homesim.schemas.crd import block_crd, home_crd
from homesim.schemas.manifest import DEVICE_KINDS, Block, load_manifest, parse_home

ROOT = Path(__file__).resolve().parent.parent
HOME = load_manifest(ROOT / "examples" / "home.yaml")
KEY = "test-home-key-a-0123456789abcdefghijklmnopqrstuv"
KEY_B = "test-home-key-b-0123456789abcdefghijklmnopqrstuv"


def _walk(node, path=""):
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _walk(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, f"{path}[{i}]")


def test_crd_schemas_are_structural():
    """No $ref, no additionalProperties: false, no x- keys but x-kubernetes-*, typed nodes."""
    for crd in (home_crd(), block_crd()):
        schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        for path, node in _walk(schema):
            if not isinstance(node, dict):
                continue
            assert "$ref" not in node and "anyOf" not in node and "const" not in node, path
            assert node.get("additionalProperties", True) is not False, path
            for k in node:
                if k.startswith("x-") and path.endswith(".properties") is False:
                    assert k.startswith("x-kubernetes-"), (path, k)
        v = crd["spec"]["versions"][0]
        assert v["subresources"] == {"status": {}}
        assert {c["name"] for c in v["additionalPrinterColumns"]} >= {"Speed", "Age"}
    assert home_crd()["spec"]["names"]["shortNames"] == ["hm"]


def test_crd_keeps_value_constraints_from_the_models():
    spec = home_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    props = spec["properties"]["devices"]["items"]["properties"]["properties"]["properties"]
    assert props["capacity"] == {"description": "Usable capacity [J] (10 kWh = 3.6e7 J).",
                                 "minimum": 0.0, "exclusiveMinimum": True, "type": "number"}
    kinds = spec["properties"]["devices"]["items"]["properties"]["kind"]["enum"]
    assert set(kinds) == set(DEVICE_KINDS) and "heat_pump" in kinds


def test_render_home_one_deployment_per_device():
    objs = render_home(HOME, "ns1", None, KEY)
    deps = [o for o in objs if o["kind"] == "Deployment"
            and o["metadata"]["labels"]["app.kubernetes.io/component"] != "router"]
    names = sorted(o["metadata"]["name"] for o in deps)
    assert names == sorted([f"greensboro-{d.name}" for d in HOME.spec.devices]
                           + ["greensboro-clock", "greensboro-ledger"])
    for d in deps:
        labels = d["metadata"]["labels"]
        assert labels["homesim.io/home"] == "greensboro"
        assert labels["app.kubernetes.io/part-of"] == "homesim"
        sel = d["spec"]["selector"]["matchLabels"]
        assert all(d["spec"]["template"]["metadata"]["labels"][k] == v for k, v in sel.items())
        c = d["spec"]["template"]["spec"]["containers"][0]
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
        assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    pv = next(d for d in deps if d["metadata"]["name"] == "greensboro-pv-south")
    assert pv["metadata"]["labels"]["homesim.io/device-kind"] == "pv"
    assert pv["spec"]["template"]["spec"]["containers"][0]["args"] == ["pv", "--device",
                                                                       "pv-south"]
    cm = objs[0]
    assert cm["kind"] == "ConfigMap"
    assert yaml.safe_load(cm["data"]["manifest.yaml"])["spec"]["devices"][2]["name"] == "pv-south"


def test_disabled_device_has_zero_replicas():
    data = HOME.model_dump(mode="json")
    data["spec"]["devices"][6]["enabled"] = False
    objs = render_home(parse_home(data), "ns1", None, KEY)
    house = next(o for o in objs if o["metadata"]["name"] == "greensboro-house")
    assert house["spec"]["replicas"] == 0


def test_live_change_keeps_pods_fixed_change_rolls_them():
    data = HOME.model_dump(mode="json")
    new = copy.deepcopy(data)
    new["spec"]["devices"][0]["properties"]["cloud_cover"] = 0.5  # live
    new["spec"]["devices"][4]["properties"]["capacity"] = 7.2e7  # start-only
    a, b = parse_home(data).spec, parse_home(new).spec
    assert live_changes(a, b) == [("weather", "cloud_cover", 0.5)]
    assert restart_hash(a, "weather") == restart_hash(b, "weather")
    assert restart_hash(a, "battery") != restart_hash(b, "battery")


def test_conditions_keep_transition_time_when_status_is_unchanged():
    c = set_condition(None, "Ready", False, "DevicesNotReady", "0/7", 1, at="t1")
    c = set_condition(c, "Ready", False, "DevicesNotReady", "1/7", 2, at="t2")
    assert c[0]["lastTransitionTime"] == "t1" and c[0]["observedGeneration"] == 2
    c = set_condition(c, "Ready", True, "DevicesReady", "7/7", 2, at="t3")
    assert c[0]["lastTransitionTime"] == "t3" and c[0]["status"] == "True"


def test_block_renders_one_building_home():
    """A Block is one simulation: one child Home named like the Block, flats' devices renamed."""
    h = yaml.safe_load((ROOT / "examples" / "block.yaml").read_text())
    block = Block.model_validate(h)
    homes = render_block_homes(block, "ns1")
    assert [x["metadata"]["name"] for x in homes] == ["tower"]
    home = parse_home(homes[0])
    names = [d.name for d in home.spec.devices]
    assert "top-west" in names and "top-west-kitchen" in names and "heat-node" in names
    assert home.spec.device("top-west-kitchen").flat == "top-west"
    assert home.spec.device("heat-node").flat is None
    objs = render_home(home, None, None, KEY)
    deployments = [o for o in objs if o["kind"] == "Deployment"]
    assert len(deployments) == len(names) + 3  # every device + clock + ledger + router
    # a resident per flat, each with its own key in the Secret
    data = _secret_data(objs)
    assert {"resident.top-west", "resident.ground-east"} <= set(data)
    assert "anonymous" not in _all_text(objs).lower()


# --------------------------------------------------------------------------- credentials


def _secret_data(objs: list[dict[str, Any]]) -> dict[str, str]:
    sec = next(o for o in objs if o["kind"] == "Secret")
    return {k: base64.b64decode(v).decode() for k, v in sec["data"].items()}


def _all_text(objs: list[dict[str, Any]]) -> str:
    """Every rendered object as JSON, plus the decoded data of its Secret."""
    return json.dumps(objs) + json.dumps(_secret_data(objs))


def _by(objs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name)


def _pods(objs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o["spec"]["template"]["spec"] for o in objs
            if o["kind"] == "Deployment"}


def _renamed(name: str) -> Any:
    data = HOME.model_dump(mode="json")
    data["metadata"]["name"] = name
    return parse_home(data)


def test_secret_holds_home_key_router_config_and_one_secret_per_identity():
    objs = render_home(HOME, "ns1", None, KEY)
    sec = _by(objs, "Secret", "greensboro-wamp")
    assert sec["type"] == "Opaque" and sec["metadata"]["namespace"] == "ns1"
    labels = sec["metadata"]["labels"]
    assert labels["homesim.io/home"] == "greensboro"
    assert labels["app.kubernetes.io/managed-by"] == "homesim-operator"
    data = _secret_data(objs)
    plan = access_plan(HOME)
    assert set(data) == {"home-key", "config.json", *plan.authids()}
    assert {"manager", "viewer", "operator", "clock", "ledger", "pv-south"} <= set(data)
    assert data["home-key"] == KEY
    for authid in plan.authids():
        assert data[authid] == derive_secret(KEY, "greensboro", authid)
    assert json.loads(data["config.json"]) == render_config(
        plan.realm_access(KEY), 8080, 8081, "0.0.0.0")
    # every key is a valid Secret key
    assert all(c.isalnum() or c in "-._" for k in data for c in k)


def test_router_deployment_and_service_of_the_home():
    objs = render_home(HOME, "ns1", RenderOptions(router_image="reg/router:1"), KEY)
    dep = _by(objs, "Deployment", "greensboro-router")
    assert dep["metadata"]["labels"]["app.kubernetes.io/component"] == "router"
    assert dep["spec"]["replicas"] == 1 and dep["spec"]["strategy"] == {"type": "Recreate"}
    tpl = dep["spec"]["template"]
    pod = tpl["spec"]
    c, = pod["containers"]
    assert c["image"] == "reg/router:1"
    env = {e["name"]: e["value"] for e in c["env"]}
    assert env["HOMESIM_ROUTER_CONFIG"] == "/etc/homesim-router/config.json"
    config = _secret_data(objs)["config.json"]
    assert tpl["metadata"]["annotations"]["homesim.io/config-sha256"] == \
        hashlib.sha256(config.encode()).hexdigest()
    assert c["readinessProbe"]["tcpSocket"] == {"port": 8081}
    assert {p["name"]: p["containerPort"] for p in c["ports"]} == {"ws": 8080, "rawsocket": 8081}
    # the same hardened pod as every other
    device_pod = _pods(objs)["greensboro-battery"]
    assert pod["securityContext"] == device_pod["securityContext"]
    assert c["securityContext"] == device_pod["containers"][0]["securityContext"]
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["automountServiceAccountToken"] is False
    # the Secret's config.json only, and a writable node directory
    vols = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    assert vols[mounts["/etc/homesim-router"]]["secret"] == {
        "secretName": "greensboro-wamp", "items": [{"key": "config.json", "path": "config.json"}],
        "defaultMode": 0o400}
    assert "emptyDir" in vols[mounts["/var/lib/crossbar"]]
    svc = _by(objs, "Service", "greensboro-router")
    assert {p["name"]: (p["port"], p["targetPort"]) for p in svc["spec"]["ports"]} == {
        "ws": (8080, "ws"), "rawsocket": (8081, "rawsocket")}
    sel = svc["spec"]["selector"]
    selected = [name for name, o in ((o["metadata"]["name"], o) for o in objs
                                     if o["kind"] == "Deployment")
                if all(o["spec"]["template"]["metadata"]["labels"].get(k) == v
                       for k, v in sel.items())]
    assert selected == ["greensboro-router"]


def test_each_pod_mounts_only_its_own_secret():
    """Least privilege: a process sees its own secret, never the home key or another's."""
    objs = render_home(HOME, "ns1", None, KEY)
    data = _secret_data(objs)
    pods = _pods(objs)
    assert len(pods) == len(HOME.spec.devices) + 3
    for name, pod in pods.items():
        secret_vols = [v for v in pod["volumes"] if "secret" in v]
        assert len(secret_vols) == 1, name  # one Secret volume, with one item
        vol = secret_vols[0]["secret"]
        assert vol["secretName"] == "greensboro-wamp" and vol["defaultMode"] == 0o400
        assert len(vol["items"]) == 1, name
        c, = pod["containers"]
        assert "envFrom" not in c
        env = {e["name"]: e for e in c["env"]}
        assert all("valueFrom" not in e for e in env.values()), name
        if name == "greensboro-router":
            assert vol["items"] == [{"key": "config.json", "path": "config.json"}]
            continue
        authid = env["HOMESIM_AUTHID"]["value"]
        assert name == f"greensboro-{authid}"
        assert vol["items"] == [{"key": authid, "path": "secret"}]
        mount = next(m for m in c["volumeMounts"] if m["name"] == secret_vols[0]["name"])
        assert mount["readOnly"] is True
        assert env["HOMESIM_SECRET_FILE"]["value"] == f"{mount['mountPath']}/secret"
        assert env["HOMESIM_ROUTER_URL"]["value"] == "rs://greensboro-router:8081"
        assert env["HOMESIM_REALM"]["value"] == "greensboro"
        # no secret value in the pod spec itself (annotations, env, args)
        text = json.dumps(pod)
        assert not any(v in text for k, v in data.items() if k != "config.json"), name


def test_no_anonymous_in_any_rendered_object():
    for opts in (None, RenderOptions(authenticator={"procedure": "com.example.authenticate"})):
        objs = render_home(HOME, "ns1", opts, KEY)
        assert "anonymous" not in _all_text(objs).lower()
        config = json.loads(_secret_data(objs)["config.json"])
        for t in config["workers"][0]["transports"]:
            auth = t["auth"] if "auth" in t else t["paths"]["ws"]["auth"]
            assert auth and "anonymous" not in auth
            assert t["endpoint"]["interface"] == "0.0.0.0"


def test_authenticator_option_reaches_the_router_config():
    opts = RenderOptions(authenticator={"procedure": "com.example.authenticate"})
    config = json.loads(_secret_data(render_home(HOME, None, opts, KEY))["config.json"])
    ws = config["workers"][0]["transports"][0]["paths"]["ws"]["auth"]
    assert ws["ticket"] == {"type": "dynamic", "authenticator": "com.example.authenticate",
                            "authenticator-realm": "greensboro"}
    assert ws["wampcra"]["type"] == "static"  # processes keep WAMP-CRA
    # the external authenticator joins as its own identity that may register that one
    # procedure and nothing else
    data = _secret_data(render_home(HOME, None, opts, KEY))
    assert data["authenticator"] == derive_secret(KEY, "greensboro", "authenticator")
    (role,) = [r for r in config["workers"][0]["realms"][0]["roles"]
               if r["name"] == "authenticator"]
    assert [(p["uri"], p["match"], p["allow"]) for p in role["permissions"]] == [
        ("com.example.authenticate", "exact",
         {"call": False, "register": True, "publish": False, "subscribe": False})]


def test_a_second_home_shares_nothing_with_the_first():
    """Names, router, Service, realm and every secret differ; with the same key too (the
    realm is part of every derived secret)."""
    a = render_home(HOME, "ns1", None, KEY)
    for key_b in (KEY_B, KEY):
        b = render_home(_renamed("greenwood"), "ns1", None, key_b)
        names_a = {(o["kind"], o["metadata"]["name"]) for o in a}
        names_b = {(o["kind"], o["metadata"]["name"]) for o in b}
        assert not names_a & names_b
        sa, sb = _secret_data(a), _secret_data(b)
        shared = {k for k in sa if k not in ("home-key", "config.json") and sa[k] in sb.values()}
        assert not shared, shared
        config_b = sb["config.json"]
        assert not [k for k, v in sa.items() if k != "home-key" and v in config_b]
        assert json.loads(config_b)["workers"][0]["realms"][0]["name"] == "greenwood"
        env_b = {e["name"]: e["value"] for e in
                 _pods(b)["greenwood-clock"]["containers"][0]["env"]}
        assert env_b["HOMESIM_ROUTER_URL"] == "rs://greenwood-router:8081"
        for pod in _pods(b).values():
            for v in pod["volumes"]:
                assert v.get("secret", {}).get("secretName", "greenwood-wamp") == \
                    "greenwood-wamp"
                assert v.get("configMap", {}).get("name", "greenwood-manifest") == \
                    "greenwood-manifest"


def test_same_key_renders_identical_objects():
    first = render_home(HOME, "ns1", None, KEY)
    assert render_home(HOME, "ns1", None, KEY) == first
    other = render_home(HOME, "ns1", None, KEY_B)
    changed = {o["metadata"]["name"] for o, p in zip(first, other, strict=True) if o != p}
    # a new key changes the Secret, rolls the router (its config) and every process (its
    # secret); the manifest and the Service stay
    assert "greensboro-manifest" not in changed and "greensboro-wamp" in changed
    assert "greensboro-router" in changed and "greensboro-clock" in changed


def test_render_refuses_what_cannot_be_a_realm_or_a_secret_key():
    with pytest.raises(ValueError, match="empty"):
        render_home(HOME, "ns1", None, "")
    # the manifest refuses, before any render, a name that cannot be a WAMP realm (a letter
    # first) and a device named like the Secret's key of the home key
    with pytest.raises(ValueError, match="metadata.name"):
        _renamed("9ab")
    data = HOME.model_dump(mode="json")
    data["spec"]["devices"][6]["name"] = "home-key"
    with pytest.raises(ValueError, match="reserved device name.*home-key"):
        parse_home(data)


# --------------------------------------------------------------------------- operator side


def test_operator_options_from_the_environment(monkeypatch):
    from homesim.operator.handlers import options

    monkeypatch.setenv("HOMESIM_ROUTER_IMAGE", "reg/router:2")
    monkeypatch.setenv("HOMESIM_AUTHENTICATOR", '{"procedure": "com.example.auth"}')
    monkeypatch.setenv("HOMESIM_ROUTER_RESOURCES", '{"requests": {"memory": "64Mi"}}')
    o = options()
    assert o.router_image == "reg/router:2"
    assert o.authenticator == {"procedure": "com.example.auth"}
    assert o.router_resources == {"requests": {"memory": "64Mi"}}
    monkeypatch.setenv("HOMESIM_AUTHENTICATOR", "")
    assert options().authenticator is None
    monkeypatch.setenv("HOMESIM_AUTHENTICATOR", '{"uri": "x"}')
    with pytest.raises(ValueError, match="procedure"):
        options()


def test_live_push_passes_the_secret_in_a_private_file_only(monkeypatch):
    """The operator's secret reaches the `call` subprocess as a 0600 file (removed after),
    never on its command line or in its environment."""
    import subprocess

    from homesim.operator import wamp

    seen: list[tuple[list[str], dict[str, str], int, str]] = []

    def fake_run(cmd, **kw):
        path = cmd[cmd.index("--secret-file") + 1]
        seen.append((cmd, kw["env"], stat.S_IMODE(os.stat(path).st_mode),
                     Path(path).read_text().strip()))
        return subprocess.CompletedProcess(cmd, 0 if "battery" in cmd[-3] else 1, "{}", "")

    monkeypatch.setattr(subprocess, "run", fake_run)
    monkeypatch.setenv("HOMESIM_AUTHID", "battery")  # must not override --authid
    secret = "s3cr3t-value-for-the-test"
    ok, failed = wamp.push([("battery", "soc_min", 0.2), ("house", "x", 1)],
                           "rs://greensboro-router.ns1:8081", "greensboro", "operator", secret)
    assert ok == [("battery", "soc_min", 0.2)] and failed == [("house", "x", 1)]
    for cmd, env, mode, content in seen:
        assert mode == 0o600 and content == secret
        assert secret not in " ".join(cmd) and secret not in json.dumps(env)
        assert cmd[cmd.index("--authid") + 1] == "operator" and "HOMESIM_AUTHID" not in env
        assert not Path(cmd[cmd.index("--secret-file") + 1]).exists()  # removed


def test_state_outlives_pods_and_every_process_recovers_in_place():
    """The clock's snapshots and the ledger's file are on PersistentVolumeClaims (not
    emptyDir), the clock snapshots every ``snapshot_every`` windows, and every process of
    the home runs with recovery in place (a restarted pod joins the clock's epoch)."""
    home = load_manifest(Path(__file__).resolve().parents[1] / "examples" / "home.yaml")
    objs = render_home(home, "ns", RenderOptions(snapshot_every=7, storage_class="fast",
                                                 state_storage="2Gi"), "k" * 43)
    claims = {o["metadata"]["name"]: o for o in objs if o["kind"] == "PersistentVolumeClaim"}
    assert set(claims) == {"greensboro-snapshots", "greensboro-ledger"}
    for c in claims.values():
        assert c["spec"]["storageClassName"] == "fast"
        assert c["spec"]["resources"]["requests"]["storage"] == "2Gi"
    deps = {o["metadata"]["name"]: o for o in objs if o["kind"] == "Deployment"}

    def pod(name):
        return deps[name]["spec"]["template"]["spec"]

    for part, claim in (("clock", "greensboro-snapshots"), ("ledger", "greensboro-ledger")):
        vols = pod(f"greensboro-{part}")["volumes"]
        assert any(v.get("persistentVolumeClaim", {}).get("claimName") == claim for v in vols)
        assert not any("emptyDir" in v and v["name"] in ("ledger", "snapshots") for v in vols)
    args = pod("greensboro-clock")["containers"][0]["args"]
    assert args[args.index("--snapshot-every") + 1] == "7"
    assert args[args.index("--snapshot-dir") + 1].startswith("/var/lib/homesim")
    for name, d in deps.items():
        if name == "greensboro-router":
            continue
        env = {e["name"]: e.get("value") for e in d["spec"]["template"]["spec"]
               ["containers"][0]["env"]}
        assert env["HOMESIM_RECOVERY"] == "in_place", name
