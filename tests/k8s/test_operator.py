"""The operator against a real kube-apiserver 1.20 + controller-manager."""

from __future__ import annotations

import base64
import json
import time

import yaml

from .conftest import ROOT, Cluster, Operator, wait_for

EXAMPLE = ROOT / "examples" / "home.yaml"
N_DEVICES = 7
N_DEPLOYMENTS = N_DEVICES + 3  # devices, clock, ledger, router


def _deployments(c: Cluster, ns: str, home: str) -> list[dict]:
    return c.get("deployments", "-n", ns, "-l", f"homesim.io/home={home}")["items"]


def _home(c: Cluster, ns: str, name: str = "greensboro") -> dict:
    return c.get("home", name, "-n", ns)


def _condition(home: dict, type_: str) -> dict | None:
    return next((x for x in home.get("status", {}).get("conditions", [])
                 if x["type"] == type_), None)


def test_apply_creates_one_deployment_per_device_with_owner(cluster, namespace, operator):
    """kubectl apply of examples/home.yaml → a Deployment per device, clock, ledger, ConfigMap,
    all owned by the Home; conditions tell the truth; events are posted."""
    cluster.kubectl("apply", "-n", namespace, "-f", str(EXAMPLE))
    deps = wait_for(lambda: len(_deployments(cluster, namespace, "greensboro")) == N_DEPLOYMENTS
                    and _deployments(cluster, namespace, "greensboro"), 90, "deployments",
                    operator.log)
    home = _home(cluster, namespace)
    uid = home["metadata"]["uid"]
    for d in deps:
        refs = d["metadata"]["ownerReferences"]
        assert [(r["kind"], r["uid"], r["controller"]) for r in refs] == [("Home", uid, True)]
    kinds = sorted(d["metadata"]["labels"].get("homesim.io/device-kind", "-") for d in deps)
    assert kinds == sorted(["weather", "sun", "pv", "inverter", "battery", "grid", "load",
                            "-", "-", "-"])
    cms = cluster.get("configmaps", "-n", namespace, "-l", "homesim.io/home=greensboro")
    manifest = yaml.safe_load(cms["items"][0]["data"]["manifest.yaml"])
    assert manifest["spec"]["devices"][4]["properties"]["capacity"] == 36e6

    home = wait_for(lambda: _condition(_home(cluster, namespace), "Reconciled")
                    and _home(cluster, namespace), 60, "status", operator.log)
    rec = _condition(home, "Reconciled")
    assert rec["status"] == "True" and rec["reason"] == "Applied"
    assert rec["observedGeneration"] == home["metadata"]["generation"]
    ready = _condition(home, "Ready")  # no kubelet here: no pod ever runs
    assert ready["status"] == "False" and ready["reason"] == "DevicesNotReady"
    assert home["status"]["devices"] == f"0/{N_DEVICES}"
    # printer columns and the short name
    out = cluster.kubectl("get", "hm", "-n", namespace).stdout
    assert "DEVICES" in out and "SPEED" in out and f"0/{N_DEVICES}" in out and "max" in out
    events = cluster.get("events", "-n", namespace)["items"]
    assert any(e["reason"] == "Reconciled" and e["involvedObject"]["kind"] == "Home"
               for e in events)


def test_invalid_home_is_rejected_by_the_crd_schema(crds, namespace):
    """A negative capacity never reaches the operator: the API server refuses it."""
    data = yaml.safe_load(EXAMPLE.read_text())
    data["spec"]["devices"][4]["properties"]["capacity"] = -1
    data["spec"]["simulation"]["speed"] = "warp"
    res = crds.kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(data),
                       check=False)
    assert res.returncode != 0
    assert "capacity" in res.stderr and "greater than 0" in res.stderr, res.stderr
    assert "speed" in res.stderr, res.stderr


def test_spec_the_crd_cannot_check_gets_a_false_condition(cluster, namespace, operator):
    """Cross-field rules (pv model cec needs a module) are reported as Reconciled=False."""
    data = yaml.safe_load(EXAMPLE.read_text())
    data["spec"]["devices"][2]["properties"]["model"] = "cec"
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(data))
    home = wait_for(lambda: (c := _condition(_home(cluster, namespace), "Reconciled"))
                    and c["status"] == "False" and _home(cluster, namespace), 60,
                    "InvalidSpec", operator.log)
    rec = _condition(home, "Reconciled")
    assert rec["reason"] == "InvalidSpec" and "module" in rec["message"]
    assert _deployments(cluster, namespace, "greensboro") == []


def test_disable_scales_to_zero_and_delete_collects_children(cluster, namespace, operator):
    """enabled: false → replicas 0; deleting the Home → garbage collection of its children."""
    cluster.kubectl("apply", "-n", namespace, "-f", str(EXAMPLE))
    wait_for(lambda: len(_deployments(cluster, namespace, "greensboro")) == N_DEPLOYMENTS,
             90, "deployments", operator.log)
    patch = [{"op": "replace", "path": "/spec/devices/6/enabled", "value": False}]
    cluster.kubectl("patch", "home", "greensboro", "-n", namespace, "--type=json",
                    "-p", json.dumps(patch))

    def house_replicas() -> int | None:
        d = cluster.get("deployment", "greensboro-house", "-n", namespace)
        return d["spec"]["replicas"]

    wait_for(lambda: house_replicas() == 0, 60, "replicas 0", operator.log)
    home = wait_for(lambda: (h := _home(cluster, namespace))["status"].get("devices")
                    == f"0/{N_DEVICES - 1}" and h, 60, "devices column", operator.log)
    assert _condition(home, "Reconciled")["observedGeneration"] == 2
    cluster.kubectl("delete", "home", "greensboro", "-n", namespace, "--wait=true",
                    timeout=90)
    wait_for(lambda: _deployments(cluster, namespace, "greensboro") == [], 90,
             "garbage collection", operator.log)
    cms = cluster.get("configmaps", "-n", namespace, "-l", "homesim.io/home=greensboro")
    assert cms["items"] == []
    for kind in ("secrets", "services"):  # its credentials and its router go with it
        wait_for(lambda k=kind: cluster.get(k, "-n", namespace, "-l",
                                            "homesim.io/home=greensboro")["items"] == [],
                 90, f"garbage collection of {kind}", operator.log)


def test_operator_restart_does_not_duplicate_children(cluster, namespace, operator: Operator):
    cluster.kubectl("apply", "-n", namespace, "-f", str(EXAMPLE))
    wait_for(lambda: len(_deployments(cluster, namespace, "greensboro")) == N_DEPLOYMENTS,
             90, "deployments", operator.log)
    before = sorted((d["metadata"]["name"], d["metadata"]["uid"])
                    for d in _deployments(cluster, namespace, "greensboro"))
    secret_before = _secret(cluster, namespace, "greensboro")
    for _ in range(2):
        operator.stop()
        operator.start()
        wait_for(lambda: "resuming" in operator.log.read_text().lower()
                 or "handler 'reconcile_home' succeeded" in operator.log.read_text().lower(),
                 60, "operator resumed", operator.log)
    import time

    time.sleep(3)
    after = sorted((d["metadata"]["name"], d["metadata"]["uid"])
                   for d in _deployments(cluster, namespace, "greensboro"))
    assert after == before  # same objects, none added or re-created
    assert len(cluster.get("configmaps", "-n", namespace, "-l",
                           "homesim.io/home=greensboro")["items"]) == 1
    # the home key survives restarts: same Secret, same data, same version
    assert _secret(cluster, namespace, "greensboro")["metadata"]["resourceVersion"] == \
        secret_before["metadata"]["resourceVersion"]


def test_block_reconciles_into_one_building_home(cluster, namespace, operator):
    """A Block → one child Home (the building, same name) → one Deployment per device."""
    cluster.kubectl("apply", "-n", namespace, "-f", str(ROOT / "examples" / "block.yaml"))
    wait_for(lambda: {h["metadata"]["name"] for h in cluster.get("homes", "-n", namespace)
                      ["items"]} == {"tower"}, 90, "child home", operator.log)
    from homesim.schemas.manifest import load_any

    n_devices = len(load_any(ROOT / "examples" / "block.yaml").spec.enabled())
    assert n_devices > 12  # six flats (zone + kitchen) + the building's devices
    wait_for(lambda: len(cluster.get("deployments", "-n", namespace)["items"]) == n_devices
             + 3, 90, "deployments of the building", operator.log)
    residents = {k for k in _secret(cluster, namespace, "tower")["data"]
                 if k.startswith("resident.")}
    assert len(residents) == 6  # one credential per flat
    h = cluster.get("home", "tower", "-n", namespace)
    assert h["metadata"]["ownerReferences"][0]["kind"] == "Block"
    assert h["metadata"]["labels"]["homesim.io/block"] == "tower"
    block = cluster.get("block", "tower", "-n", namespace)
    assert block["status"]["children"] == ["tower"]


# --------------------------------------------------------------------------- router per home


def _secret(c: Cluster, ns: str, home: str) -> dict:
    return c.get("secret", f"{home}-wamp", "-n", ns)


def _home_objects(c: Cluster, ns: str, home: str) -> dict[tuple[str, str], dict]:
    """Every object labelled with the home: (kind, name) -> metadata."""
    out = {}
    for kind in ("deployments", "services", "secrets", "configmaps"):
        for o in c.get(kind, "-n", ns, "-l", f"homesim.io/home={home}")["items"]:
            out[(o["kind"], o["metadata"]["name"])] = o["metadata"]
    return out


def _versions(c: Cluster, ns: str, home: str) -> dict[tuple[str, str], str]:
    """resourceVersion of every object of the home."""
    return {k: m["resourceVersion"] for k, m in _home_objects(c, ns, home).items()}


def _replicasets(c: Cluster, ns: str, home: str) -> list[tuple[str, str]]:
    """(name, uid) of the ReplicaSets of the home's router: a rollout would add one."""
    items = c.get("replicasets", "-n", ns, "-l",
                  f"homesim.io/home={home},app.kubernetes.io/component=router")["items"]
    return sorted((r["metadata"]["name"], r["metadata"]["uid"]) for r in items)


def _second_home() -> str:
    data = yaml.safe_load(EXAMPLE.read_text())
    data["metadata"]["name"] = "greenwood"
    return yaml.safe_dump(data)


def test_home_gets_its_secret_router_and_service(cluster, namespace, operator):
    """A Home → Secret <home>-wamp (home key, router config, one secret per identity),
    router Deployment and Service, all owned by the Home; no secret in the operator's log."""
    cluster.kubectl("apply", "-n", namespace, "-f", str(EXAMPLE))
    wait_for(lambda: len(_home_objects(cluster, namespace, "greensboro")) == N_DEPLOYMENTS + 3,
             90, "children", operator.log)
    uid = _home(cluster, namespace)["metadata"]["uid"]
    objs = _home_objects(cluster, namespace, "greensboro")
    assert set(objs) >= {("Secret", "greensboro-wamp"), ("Service", "greensboro-router"),
                         ("Deployment", "greensboro-router")}
    for meta in objs.values():
        assert [(r["kind"], r["uid"]) for r in meta["ownerReferences"]] == [("Home", uid)]
    sec = _secret(cluster, namespace, "greensboro")
    assert sec["type"] == "Opaque"
    data = {k: base64.b64decode(v).decode() for k, v in sec["data"].items()}
    assert {"home-key", "config.json", "manager", "viewer", "operator", "clock", "ledger",
            "battery"} <= set(data)
    assert "anonymous" not in data["config.json"]
    router = cluster.get("deployment", "greensboro-router", "-n", namespace)
    pod = router["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == "localhost/homesim-router:latest"
    vol = next(v for v in pod["volumes"] if "secret" in v)["secret"]
    assert vol["items"] == [{"key": "config.json", "path": "config.json"}]
    svc = cluster.get("service", "greensboro-router", "-n", namespace)
    assert {p["name"]: p["port"] for p in svc["spec"]["ports"]} == {"ws": 8080, "rawsocket": 8081}
    battery = cluster.get("deployment", "greensboro-battery", "-n", namespace)
    env = {e["name"]: e.get("value") for e in
           battery["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["HOMESIM_ROUTER_URL"] == "rs://greensboro-router:8081"
    assert env["HOMESIM_AUTHID"] == "battery"
    log = operator.log.read_text()
    leaked = [k for k, v in data.items() if k != "config.json" and v in log]
    assert not leaked, f"secrets of {leaked} in the operator log"


def test_second_home_does_not_touch_the_first_homes_router(cluster, namespace, operator):
    """Adding a Home creates its own router and Secret and leaves every object of the first
    home as it was (same resourceVersion: its router is not restarted); deleting it removes
    its Secret, router and Service, and again leaves the first home alone."""
    cluster.kubectl("apply", "-n", namespace, "-f", str(EXAMPLE))
    wait_for(lambda: len(_home_objects(cluster, namespace, "greensboro")) == N_DEPLOYMENTS + 3,
             90, "children of the first home", operator.log)
    wait_for(lambda: (c := _condition(_home(cluster, namespace), "Reconciled"))
             and c["status"] == "True", 60, "first home reconciled", operator.log)
    # settled: the deployment controller writes the Deployments' status for a while after
    # they are created (it bumps their resourceVersion too); wait until nothing changes
    before = _versions(cluster, namespace, "greensboro")
    deadline = time.monotonic() + 60
    while True:
        time.sleep(4)
        now = _versions(cluster, namespace, "greensboro")
        if now == before or time.monotonic() > deadline:
            break
        before = now
    rs_before = _replicasets(cluster, namespace, "greensboro")
    assert len(rs_before) == 1, rs_before
    key_a = _secret(cluster, namespace, "greensboro")["data"]["home-key"]

    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=_second_home())
    wait_for(lambda: len(_home_objects(cluster, namespace, "greenwood")) == N_DEPLOYMENTS + 3,
             90, "children of the second home", operator.log)
    wait_for(lambda: (c := _condition(_home(cluster, namespace, "greenwood"), "Reconciled"))
             and c["status"] == "True", 60, "second home reconciled", operator.log)
    time.sleep(3)
    after = _versions(cluster, namespace, "greensboro")
    changed = {k: (before.get(k), v) for k, v in after.items() if before.get(k) != v}
    assert not changed and after.keys() == before.keys(), \
        f"the first home's objects changed when a second home was added: {changed}"
    # its router was not rolled: the same one ReplicaSet (pod template) as before
    assert _replicasets(cluster, namespace, "greensboro") == rs_before
    sec_b = _secret(cluster, namespace, "greenwood")
    assert sec_b["data"]["home-key"] != key_a
    assert not set(sec_b["data"].values()) & set(_secret(cluster, namespace,
                                                         "greensboro")["data"].values())

    cluster.kubectl("delete", "home", "greenwood", "-n", namespace, "--wait=true", timeout=90)
    wait_for(lambda: _home_objects(cluster, namespace, "greenwood") == {}, 90,
             "garbage collection of the second home", operator.log)
    time.sleep(2)
    assert _versions(cluster, namespace, "greensboro") == before
    assert _replicasets(cluster, namespace, "greensboro") == rs_before
