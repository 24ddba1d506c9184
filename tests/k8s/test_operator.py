"""The operator against a real kube-apiserver 1.20 + controller-manager."""

from __future__ import annotations

import json

import yaml

from .conftest import ROOT, Cluster, Operator, wait_for

EXAMPLE = ROOT / "examples" / "home.yaml"
N_DEVICES = 7


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
    deps = wait_for(lambda: len(_deployments(cluster, namespace, "greensboro")) == N_DEVICES + 2
                    and _deployments(cluster, namespace, "greensboro"), 90, "deployments",
                    operator.log)
    home = _home(cluster, namespace)
    uid = home["metadata"]["uid"]
    for d in deps:
        refs = d["metadata"]["ownerReferences"]
        assert [(r["kind"], r["uid"], r["controller"]) for r in refs] == [("Home", uid, True)]
    kinds = sorted(d["metadata"]["labels"].get("homesim.io/device-kind", "-") for d in deps)
    assert kinds == sorted(["weather", "sun", "pv", "inverter", "battery", "grid", "load",
                            "-", "-"])
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
    wait_for(lambda: len(_deployments(cluster, namespace, "greensboro")) == N_DEVICES + 2,
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


def test_operator_restart_does_not_duplicate_children(cluster, namespace, operator: Operator):
    cluster.kubectl("apply", "-n", namespace, "-f", str(EXAMPLE))
    wait_for(lambda: len(_deployments(cluster, namespace, "greensboro")) == N_DEVICES + 2,
             90, "deployments", operator.log)
    before = sorted((d["metadata"]["name"], d["metadata"]["uid"])
                    for d in _deployments(cluster, namespace, "greensboro"))
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


def test_block_reconciles_into_one_building_home(cluster, namespace, operator):
    """A Block → one child Home (the building, same name) → one Deployment per device."""
    cluster.kubectl("apply", "-n", namespace, "-f", str(ROOT / "examples" / "block.yaml"))
    wait_for(lambda: {h["metadata"]["name"] for h in cluster.get("homes", "-n", namespace)
                      ["items"]} == {"tower"}, 90, "child home", operator.log)
    from homesim.schemas.manifest import load_any

    n_devices = len(load_any(ROOT / "examples" / "block.yaml").spec.enabled())
    assert n_devices > 12  # six flats (zone + kitchen) + the building's devices
    wait_for(lambda: len(cluster.get("deployments", "-n", namespace)["items"]) == n_devices
             + 2, 90, "deployments of the building", operator.log)
    h = cluster.get("home", "tower", "-n", namespace)
    assert h["metadata"]["ownerReferences"][0]["kind"] == "Block"
    assert h["metadata"]["labels"]["homesim.io/block"] == "tower"
    block = cluster.get("block", "tower", "-n", namespace)
    assert block["status"]["children"] == ["tower"]
