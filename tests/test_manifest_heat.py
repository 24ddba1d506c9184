"""Manifest validation of the heat devices and of a Block (examples/block.yaml as the base)."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from homesim.schemas.manifest import Block, Home, ManifestError, as_home, load_any, parse_any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "block.yaml"
CLI = [sys.executable, "-m", "homesim.infra.cli"]
FLATS = ["ground-west", "ground-east", "first-west", "first-east", "top-west", "top-east"]
BLOCK_DEVICES = ["weather", "sun", "roof-pv", "inverter", "grid", "heat-node", "heat-pump",
                 "boiler", "buffer", "load-manager", "garage-1", "garage-2"]


@pytest.fixture(scope="module")
def base() -> dict:
    return yaml.safe_load(EXAMPLE.read_text())


@pytest.fixture
def data(base) -> dict:
    return copy.deepcopy(base)


def block_device(data: dict, name: str) -> dict:
    return next(d for d in data["spec"]["devices"] if d["name"] == name)


def block_index(data: dict, name: str) -> int:
    return next(i for i, d in enumerate(data["spec"]["devices"]) if d["name"] == name)


def errors(data: dict) -> list[tuple[str, str]]:
    with pytest.raises(ManifestError) as exc:
        parse_any(data)
    assert exc.value.errors, "ManifestError without errors"
    return exc.value.errors


# ------------------------------------------------------------------ the example


def test_example_parses_as_a_home(base) -> None:
    home = parse_any(base)
    assert isinstance(home, Home)
    assert home.kind == "Home" and home.metadata.name == "tower"
    assert home.metadata.labels["homesim.io/block"] == "tower"
    names = [d.name for d in home.spec.devices]
    expected = [n for f in FLATS for n in (f, f"{f}-kitchen")] + ["top-east-geyser"] \
        + BLOCK_DEVICES
    assert names == expected
    for d in home.spec.devices:
        if d.name in ("garage-1", "garage-2"):  # block-level chargers owned by a flat
            assert d.flat in FLATS, d.name
        elif d.name in BLOCK_DEVICES:
            assert d.flat is None, d.name
        else:
            assert d.flat in FLATS and d.name.startswith(d.flat), d.name
    zones = [d for d in home.spec.devices if d.kind == "flat"]
    assert [z.name for z in zones] == FLATS
    assert [z.flat for z in zones] == FLATS
    kitchens = [d for d in home.spec.devices if d.kind == "load"]
    assert [(k.name, k.flat) for k in kitchens] == [(f"{f}-kitchen", f) for f in FLATS]
    node = home.spec.first("heat_node")
    assert node.name == "heat-node" and node.properties.strategy == "heat_pump_first"
    assert {(c.a, c.b) for c in node.properties.couplings} <= {(a, b) for a in FLATS
                                                               for b in FLATS}


def test_load_any_and_as_home_agree(base) -> None:
    home = load_any(EXAMPLE)
    block = Block.model_validate(base)
    assert as_home(block).model_dump() == home.model_dump() == parse_any(base).model_dump()
    assert [f.name for f in block.spec.flats] == FLATS


# -------------------------------------------------------------------- couplings


def test_coupling_to_an_unknown_flat(data) -> None:
    block_device(data, "heat-node")["properties"]["couplings"][2]["b"] = "attic"
    errs = errors(data)
    assert len(errs) == 1
    path, reason = errs[0]
    assert path == "spec"
    assert "couplings[2]" in reason and "'attic'" in reason
    assert "flats: " + ", ".join(sorted(FLATS)) in reason


def test_coupling_to_a_disabled_flat(data) -> None:
    data["spec"]["flats"][0]["devices"][0]["enabled"] = False
    (path, reason), = errors(data)
    assert "couplings[0]" in reason and "'ground-west'" in reason
    assert "ground-west," not in reason.split("flats:")[1]


def test_flat_coupled_to_itself(data) -> None:
    block_device(data, "heat-node")["properties"]["couplings"][1]["b"] = "first-west"
    (path, reason), = errors(data)
    assert path == "spec"
    assert "couplings[1]" in reason and "itself" in reason


# ------------------------------------------------------------------- heat node


def test_flat_devices_need_a_heat_node(data) -> None:
    del data["spec"]["devices"][block_index(data, "heat-node")]
    errs = errors(data)
    # one error per kind that needs it, at the first device of that kind
    assert {r.split(" devices need")[0] for _, r in errs} == {"flat", "heat_pump", "boiler",
                                                               "buffer"}
    assert all("need an enabled heat_node" in r for _, r in errs)
    assert ("spec.flats[0].devices[0]", errs[0][1]) == errs[0]


def test_heat_node_with_a_disabled_node(data) -> None:
    block_device(data, "heat-node")["enabled"] = False
    errs = errors(data)
    assert len(errs) == 4 and all("need an enabled heat_node" in r for _, r in errs)


def test_two_heat_nodes(data) -> None:
    data["spec"]["devices"].append({"name": "heat-node-2", "kind": "heat_node"})
    (path, reason), = errors(data)
    assert path == f"spec.devices[{len(data['spec']['devices']) - 1}]"
    assert "at most 1 enabled heat_node" in reason and "'heat-node' already" in reason


# --------------------------------------------------------------- building rules


def test_a_flat_with_its_own_inverter(data) -> None:
    data["spec"]["flats"][3]["devices"].append(
        {"name": "inverter", "kind": "inverter", "properties": {"p_ac_max": 5000}})
    (path, reason), = errors(data)
    # the flat's inverter comes first in the building, so the block's own is the extra one
    assert path == f"spec.devices[{block_index(data, 'inverter')}]"
    assert "at most 1 enabled inverter" in reason and "flats[3].devices[" in reason


def test_two_zones_in_one_flat(data) -> None:
    zone = copy.deepcopy(data["spec"]["flats"][1]["devices"][0])
    zone["name"] = "annex"
    data["spec"]["flats"][1]["devices"].append(zone)
    (path, reason), = errors(data)
    assert path == "spec.flats[1].devices[2]"
    assert "'ground-east'" in reason and "more than 1 enabled flat device" in reason


def test_duplicate_flat_names(data) -> None:
    data["spec"]["flats"][5]["name"] = "top-west"
    (path, reason), = errors(data)
    assert "flat names must be unique: top-west" in reason


def test_block_device_clashing_with_a_renamed_flat_device(data) -> None:
    data["spec"]["devices"].append({"name": "top-east-kitchen", "kind": "load"})
    (path, reason), = errors(data)
    assert "device names must be unique: top-east-kitchen" in reason


# -------------------------------------------------------------- field paths


def test_bad_property_deep_in_a_flat_has_the_full_path(data) -> None:
    data["spec"]["flats"][2]["devices"][0]["properties"]["windows"][0]["g_value"] = 2
    errs = errors(data)
    assert errs == [("spec.flats[2].devices[0].properties.windows[0].g_value",
                     "Input should be less than or equal to 1")]


def test_bad_load_in_a_flat_has_the_full_path(data) -> None:
    data["spec"]["flats"][4]["devices"][1]["properties"]["annual_kwh"] = -1
    (path, reason), = errors(data)
    assert path == "spec.flats[4].devices[1].properties.annual_kwh"


def test_every_error_is_reported(data) -> None:
    data["metadata"]["name"] = "Tower_1"
    data["spec"]["flats"][0]["devices"][0]["properties"]["windows"][1]["g_value"] = -0.1
    data["spec"]["flats"][5]["devices"][0]["properties"]["floor_area"] = -70
    paths = [p for p, _ in errors(data)]
    assert paths == ["metadata.name",
                     "spec.flats[0].devices[0].properties.windows[1].g_value",
                     "spec.flats[5].devices[0].properties.floor_area"]


def test_renamed_device_name_too_long_points_into_the_flat(data) -> None:
    data["spec"]["flats"][0]["name"] = "a" * 40                 # allowed: <= 40
    data["spec"]["flats"][0]["devices"][1]["name"] = "k" * 30   # allowed: <= 63
    for c in block_device(data, "heat-node")["properties"]["couplings"]:
        for end in ("a", "b"):
            if c[end] == "ground-west":
                c[end] = "a" * 40
    errs = errors(data)
    assert any("flats[0].devices[1].name" in f"{p} {r}" for p, r in errs), errs


# ------------------------------------------------------------------ heat devices


@pytest.mark.parametrize("t_max", [35, 30])
def test_buffer_t_max_not_above_t_min(data, t_max) -> None:
    block_device(data, "buffer")["properties"]["t_max"] = t_max
    (path, reason), = errors(data)
    assert path == f"spec.devices[{block_index(data, 'buffer')}]"
    assert "t_max must be above properties.t_min" in reason


def test_buffer_in_a_flat_with_bad_temperatures(data) -> None:
    del data["spec"]["devices"][block_index(data, "buffer")]
    data["spec"]["flats"][1]["devices"].append(
        {"name": "tank", "kind": "buffer", "properties": {"volume": 0.2, "t_min": 50,
                                                           "t_max": 40}})
    (path, reason), = errors(data)
    assert path == "spec.flats[1].devices[2]"
    assert "t_max must be above" in reason


def test_flats_and_heat_pump_need_weather_and_sun(data) -> None:
    for name in ("weather", "sun", "roof-pv"):   # pv would complain first
        del data["spec"]["devices"][block_index(data, name)]
    errs = errors(data)
    assert [r.split(" devices")[0] for _, r in errs] == ["flat", "heat_pump", "boiler"]
    assert "need an enabled weather and sun" in errs[0][1]
    assert errs[0][0] == "spec.flats[0].devices[0]"


def test_heat_pump_alone_needs_weather_and_sun(data) -> None:
    """Only block devices, no flats' zones: the heat pump still needs weather and sun."""
    for name in ("weather", "sun", "roof-pv", "boiler", "buffer"):
        del data["spec"]["devices"][block_index(data, name)]
    block_device(data, "heat-node")["properties"]["couplings"] = []
    for f in data["spec"]["flats"]:
        f["devices"] = [d for d in f["devices"] if d["kind"] != "flat"]
    (path, reason), = errors(data)
    assert "heat_pump devices need an enabled weather and sun" in reason


def test_a_disabled_sun_counts_as_missing(data) -> None:
    block_device(data, "sun")["enabled"] = False
    errs = errors(data)
    assert {r.split(" devices")[0] for _, r in errs} == {"pv", "flat", "heat_pump"}
    assert all("need an enabled sun device" in r for _, r in errs)


# ------------------------------------------------------------------------- cli


def test_cli_validate_accepts_the_block() -> None:
    res = subprocess.run([*CLI, "validate", str(EXAMPLE)], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stderr
    assert "tower" in res.stdout
    assert "ground-west-kitchen (load)" in res.stdout


def test_cli_validate_reports_the_field_path(base, tmp_path) -> None:
    """`homesim validate` exits 1 on an invalid manifest (infra/cli.py: ``typer.Exit(1 if bad
    else 0)``; it is ``run`` that exits 2) and prints every error with its path."""
    data = copy.deepcopy(base)
    data["spec"]["flats"][2]["devices"][0]["properties"]["windows"][0]["g_value"] = 2
    p = tmp_path / "broken.yaml"
    p.write_text(yaml.safe_dump(data))
    res = subprocess.run([*CLI, "validate", str(p)], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 1, (res.returncode, res.stdout, res.stderr)
    assert "1 error(s)" in res.stderr
    assert "spec.flats[2].devices[0].properties.windows[0].g_value" in res.stderr
    assert "less than or equal to 1" in res.stderr


def test_thermostat_and_heating_curve_are_settable_live():
    """Nested live properties exist explicitly, so ``set thermostat.comfort 22.5`` works and
    a bad value is refused with its field path."""
    from homesim.devices.kinds.base import InvalidArgument
    from homesim.devices.kinds.flat import FlatShell
    from homesim.devices.kinds.heat_pump import HeatPumpShell

    home = load_any(EXAMPLE)
    flat = FlatShell(home, "top-west")
    assert flat.validated_set("thermostat.comfort", 22.5).thermostat.comfort == 22.5
    with pytest.raises(InvalidArgument) as exc:
        flat.validated_set("thermostat.mode", "party")
    assert exc.value.field == "thermostat.mode"
    hp = HeatPumpShell(home, "heat-pump")
    assert hp.validated_set("heating_curve.t_flow_design", 45).heating_curve.t_flow_design == 45


def test_block_device_owned_by_an_unknown_flat_is_refused():
    data = yaml.safe_load(EXAMPLE.read_text())
    for d in data["spec"]["devices"]:
        if d["name"] == "garage-1":
            d["flat"] = "penthouse"
    with pytest.raises(ManifestError) as exc:
        parse_any(data)
    assert any("penthouse" in r and p.startswith("spec.devices[") and p.endswith("].flat")
               for p, r in exc.value.errors)
