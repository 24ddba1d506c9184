"""Operator pieces that need no cluster: CRDs, render functions, conditions, live changes."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from homesim.operator.conditions import set_condition
from homesim.operator.live import live_changes, restart_hash
from homesim.operator.render import render_block_homes, render_home
from homesim.schemas.crd import block_crd, home_crd
from homesim.schemas.manifest import DEVICE_KINDS, Block, load_manifest, parse_home

ROOT = Path(__file__).resolve().parent.parent
HOME = load_manifest(ROOT / "examples" / "home.yaml")


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
    objs = render_home(HOME, "ns1")
    deps = [o for o in objs if o["kind"] == "Deployment"]
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
    objs = render_home(parse_home(data), "ns1")
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
    objs = render_home(home)
    deployments = [o for o in objs if o["kind"] == "Deployment"]
    assert len(deployments) == len(names) + 2  # every device + clock + ledger
