"""The registry of device kinds: descriptors from the contract, typed reports, topology rules."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import yaml

from homesim.schemas.generated.kinds import EvChargerReport, FlatReport, PvReport
from homesim.schemas.manifest import ManifestError, parse_any, topology_errors
from homesim.schemas.registry import REGISTRY, KindDescriptor, Registry, load_kind_file
from homesim.schemas.reports import ReportError, ReportSpec, report_type

ROOT = Path(__file__).resolve().parent.parent
HOME = yaml.safe_load((ROOT / "examples" / "home.yaml").read_text())
BLOCK = yaml.safe_load((ROOT / "examples" / "block.yaml").read_text())


def errors(data: dict) -> list[tuple[str, str]]:
    with pytest.raises(ManifestError) as exc:
        parse_any(data)
    return exc.value.errors


# ----------------------------------------------------------------- descriptors


def test_every_kind_has_a_shell_a_properties_model_and_a_report_type() -> None:
    for kind in REGISTRY:
        d = REGISTRY.get(kind)
        cls = REGISTRY.shell_class(kind)
        assert cls.kind == kind, d.shell
        assert REGISTRY.properties_model(kind).__name__.endswith("Properties")
        assert REGISTRY.report_type(kind).KIND == kind


def test_the_inverter_balances_the_electric_bus() -> None:
    assert set(REGISTRY.balanced_by("inverter")) == {"pv", "battery", "grid", "load",
                                                     "heat_node", "load_manager", "dhw_tank",
                                                     "pv_inverter"}
    assert REGISTRY.where(bounded=False) == ("sun", "grid")


def test_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="batery.*battery"):
        REGISTRY.get("batery")


def test_a_descriptor_naming_an_unknown_kind_is_refused() -> None:
    reg = Registry({k: REGISTRY.get(k) for k in REGISTRY})
    bad = KindDescriptor(kind="toaster", label="Toaster", description="d", role="sink",
                         shell="x.y:Z", inputs=["wether"])
    with pytest.raises(ValueError, match="inputs names unknown kind.*wether"):
        reg.register(bad)
    assert "toaster" not in reg
    bad = KindDescriptor(kind="toaster", label="Toaster", description="d", role="sink",
                         shell="x.y:Z", references={"socket": "sockett"})
    with pytest.raises(ValueError, match="references names unknown kind.*sockett"):
        reg.register(bad)
    with pytest.raises(ValueError, match="already registered"):
        reg.register(REGISTRY.get("pv"))


def test_kind_file_errors_name_the_field(tmp_path: Path) -> None:
    f = tmp_path / "kinds.yaml"
    f.write_text("toaster: {label: T, description: d, role: cook, shell: 'x:Y'}\n")
    with pytest.raises(ValueError, match="toaster.*role"):
        load_kind_file(f)
    f.write_text("- not a mapping\n")
    with pytest.raises(ValueError, match="mapping"):
        load_kind_file(f)


# ----------------------------------------------------------------- typed reports


def _pv_wire(n: int = 3) -> dict:
    return {"signals": {"dc": [1.0] * n, "solar": [2.0] * n, "v_dc": [float("nan")] * n}}


def test_a_report_round_trips() -> None:
    r = PvReport.from_wire(_pv_wire(), 3, "pv-south")
    assert isinstance(r.dc, np.ndarray) and r.dc.shape == (3,)
    assert np.isnan(r.v_dc).all()  # v_dc may be NaN (PVWatts), dc may not
    back = PvReport.from_wire(r.to_wire(), 3)
    assert np.array_equal(back.solar, r.solar)


@pytest.mark.parametrize("mutate, field", [
    (lambda w: w["signals"].pop("dc"), "signals.dc"),
    (lambda w: w["signals"].update(dc=[1.0, 2.0]), "signals.dc"),
    (lambda w: w["signals"].update(dc=[1.0, float("nan"), 1.0]), "signals.dc"),
    (lambda w: w["signals"].update(dcc=[1.0] * 3), "signals.dcc"),
    (lambda w: w["signals"].update(solar="abc"), "signals.solar"),
    (lambda w: w.update(params={"x": 1.0}), "params.x"),
    (lambda w: w.update(envelope={"energy": 1}), "envelope"),
])
def test_a_malformed_report_names_device_and_field(mutate, field) -> None:
    wire = _pv_wire()
    mutate(wire)
    with pytest.raises(ReportError) as exc:
        PvReport.from_wire(wire, 3, "pv-south")
    assert exc.value.device == "pv-south" and exc.value.field == field
    assert str(exc.value).startswith(f"report of pv-south: {field}:")


def test_items_and_params() -> None:
    rep = EvChargerReport(e_min=np.zeros(2), e_max=np.ones(2), p_max=11e3, p_min=1.4e3,
                          efficiency=0.9, sessions=({"arrival_tick": 0, "departure_tick": 5,
                                                     "remaining": 1e7, "capacity": 2e8,
                                                     "soc_start": 0.3, "unmet_tick": -1},))
    wire = rep.to_wire()
    assert wire["params"]["sessions"] == 1 and wire["params"]["s0_remaining"] == 1e7
    back = EvChargerReport.from_wire(wire, 2, "garage-1")
    assert back.sessions[0]["capacity"] == 2e8
    del wire["params"]["s0_capacity"]
    with pytest.raises(ReportError, match="params.s0_capacity: missing"):
        EvChargerReport.from_wire(wire, 2, "garage-1")


def test_infinite_param_only_where_allowed() -> None:
    spec = FlatReport.SPEC
    assert spec.params["phi_hc_max"].inf and not spec.params["c_m"].inf


def test_firm_signals() -> None:
    cls = REGISTRY.report_type("heat_node")
    r = cls(firm={"hp": np.array([1.0, 2.0])})
    wire = r.to_wire()
    assert list(wire["signals"]) == ["el:hp"]
    assert np.array_equal(cls.from_wire(wire, 2).firm["hp"], [1.0, 2.0])
    with pytest.raises(ReportError, match="el:hp"):
        cls.from_wire({"signals": {"el:hp": [1.0, -np.inf]}}, 2, "heat-node")


def test_report_types_of_plugin_kinds_are_built_at_run_time() -> None:
    cls = report_type("toaster", ReportSpec.model_validate(
        {"signals": {"demand": {"unit": "J"}}, "params": {"slots": {"unit": "1"}}}))
    r = cls.from_wire({"signals": {"demand": [1, 2]}, "params": {"slots": 2}}, 2, "t")
    assert r.slots == 2.0 and r.demand.tolist() == [1.0, 2.0]


# ----------------------------------------------------------------- topology


def test_a_second_grid_is_refused_with_its_path() -> None:
    data = copy.deepcopy(HOME)
    data["spec"]["devices"].append({"name": "grid-2", "kind": "grid"})
    (path, reason), = errors(data)
    assert path == f"spec.devices[{len(data['spec']['devices']) - 1}]"
    assert "at most 1 enabled grid" in reason and "'grid' already" in reason


def test_a_disabled_second_grid_is_fine() -> None:
    data = copy.deepcopy(HOME)
    data["spec"]["devices"].append({"name": "grid-2", "kind": "grid", "enabled": False})
    parse_any(data)


def test_a_second_battery_is_fine() -> None:
    """The inverter dispatches several batteries (tests/test_batteries.py)."""
    data = copy.deepcopy(HOME)
    data["spec"]["devices"].append({"name": "battery-2", "kind": "battery"})
    parse_any(data)


def test_a_second_boiler_in_a_flat_is_refused_with_its_block_path() -> None:
    data = copy.deepcopy(BLOCK)
    data["spec"]["flats"][2]["devices"].append({"name": "boiler", "kind": "boiler"})
    errs = errors(data)
    assert len(errs) == 1
    path, reason = errs[0]
    # the flat's boiler comes first in the building; the block's own is then the extra one
    assert path.startswith("spec.devices[") and "flats[2].devices[" in reason
    assert "at most 1 enabled boiler" in reason


def test_a_home_needs_its_balancing_device() -> None:
    data = copy.deepcopy(HOME)
    data["spec"]["devices"] = [d for d in data["spec"]["devices"] if d["kind"] != "inverter"]
    errs = errors(data)
    assert ("spec.devices", errs[0][1]) == errs[0] and "needs 1 enabled inverter" in errs[0][1]


def test_topology_rules_are_pure() -> None:
    home = parse_any(copy.deepcopy(HOME))
    assert topology_errors(home.spec.devices) == []
