"""Bounds of the contract: live changes and speeds a running home must refuse (model level).

Issue "Robust under faulty and hostile input": every number of every ``<Kind>Properties``
has a minimum and a maximum (so inf and NaN are refused), every array ``maxItems``, every
free string ``maxLength``; a ``set`` argument over 1 MiB is refused before validation; a
speed ``Nx`` needs 0.01 ≤ N ≤ 1e6.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from homesim.devices.bus.protocol import ClockProtocol, parse_speed, speed_factor, window_ticks
from homesim.devices.kinds.base import MAX_ARGUMENT_BYTES, InvalidArgument, argument_size_problem
from homesim.devices.kinds.battery import BatteryShell
from homesim.devices.kinds.grid import GridShell
from homesim.devices.kinds.load import LoadShell
from homesim.devices.kinds.pv import PvShell
from homesim.schemas.manifest import ManifestError, check_speed, load_manifest, parse_duration

ROOT = Path(__file__).resolve().parent.parent
HOME = load_manifest(ROOT / "examples" / "home.yaml")
CONTRACT = yaml.safe_load((ROOT / "schemas" / "asyncapi.yaml").read_text())
SCHEMAS = CONTRACT["components"]["schemas"]
INF, NAN = float("inf"), float("nan")


def _shells() -> dict[str, Any]:
    return {"grid": GridShell(HOME, "grid"), "battery": BatteryShell(HOME, "battery"),
            "pv-south": PvShell(HOME, "pv-south"), "house": LoadShell(HOME, "house")}


@pytest.mark.parametrize(("device", "prop", "value"), [
    ("grid", "p_import_max", 1e308),
    ("grid", "p_import_max", INF),
    ("battery", "p_charge_max", INF),
    ("battery", "p_discharge_max", -INF),
    ("pv-south", "pdc0", INF),
    ("pv-south", "pdc0", NAN),
    ("pv-south", "gamma_pdc", -INF),
    ("house", "annual_kwh", INF),
    ("house", "annual_kwh", 1e8),
])
def test_set_refuses_non_finite_and_absurd_numbers(device: str, prop: str, value: float) -> None:
    shell = _shells()[device]
    with pytest.raises(InvalidArgument) as exc:
        shell.validated_set(prop, value)
    assert exc.value.uri == "homesim.error.invalid_argument"
    assert exc.value.field == prop


def test_set_still_accepts_sensible_values() -> None:
    s = _shells()
    assert s["grid"].validated_set("p_import_max", 1e9).p_import_max == 1e9
    assert s["pv-south"].validated_set("pdc0", 7000).pdc0 == 7000
    assert s["house"].validated_set("annual_kwh", 1e7).annual_kwh == 1e7


def _appliance(i: int) -> dict[str, Any]:
    return {"name": f"a{i}", "power": 100.0, "start": "08:00", "end": "09:00"}


def test_set_refuses_huge_lists_fast() -> None:
    load = _shells()["house"]
    t0 = time.monotonic()
    with pytest.raises(InvalidArgument):  # 1001 items < 1 MiB: refused by maxItems
        load.validated_set("appliances", [_appliance(i) for i in range(1001)])
    big = [_appliance(0)] * 1_000_000  # > 1 MiB: refused by size before validation
    with pytest.raises(InvalidArgument) as exc:
        load.validated_set("appliances", big)
    assert "larger than" in exc.value.reason
    assert time.monotonic() - t0 < 5
    assert len(load.validated_set("appliances", [_appliance(i) for i in range(3)]).appliances) == 3


def test_set_refuses_an_argument_over_one_mib_before_validating() -> None:
    grid = _shells()["grid"]
    t0 = time.monotonic()
    wide = {"k" * 100 + str(i): i for i in range(20000)}
    for value in ("x" * (20 * 2**20), [1.0] * 2_000_000, wide):
        with pytest.raises(InvalidArgument) as exc:
            grid.validated_set("outages", value)
        assert exc.value.uri == "homesim.error.invalid_argument"
        assert "larger than" in exc.value.reason
    deep: Any = []
    for _ in range(10_000):
        deep = [deep]
    with pytest.raises(InvalidArgument, match="nested deeper"):
        grid.validated_set("outages", deep)
    assert time.monotonic() - t0 < 5
    assert argument_size_problem("x" * (MAX_ARGUMENT_BYTES - 10)) is None
    assert argument_size_problem([{"a": 1}] * 10) is None


@pytest.mark.parametrize("speed", ["0x", "0.0x", "0.000001x", "0.009x", "1000001x",
                                   "1" + "0" * 309 + "x", "1e309x", "infx", "nanx", "-1x",
                                   "", "fast", "9" * 40 + "x"])
def test_bad_speeds_are_refused(speed: str) -> None:
    with pytest.raises(ValueError):  # pydantic.ValidationError is a ValueError
        parse_speed(speed)
    with pytest.raises(ValueError):
        check_speed(speed)
    clock = ClockProtocol(["a"], "run", 0.0, 60.0, 10, "max", 5.0)
    with pytest.raises(InvalidArgument) as exc:
        clock.set_speed(speed, now=0.0)
    assert exc.value.uri == "homesim.error.invalid_argument"
    assert clock.speed == "max"


@pytest.mark.parametrize("speed", ["0.01x", "0.5x", "60x", "1000000x", "realtime", "max"])
def test_good_speeds_size_windows(speed: str) -> None:
    assert parse_speed(speed) == speed == check_speed(speed)
    f = speed_factor(speed)
    assert f is None or (math.isfinite(f) and 0.01 <= f <= 1e6)
    n = window_ticks(speed, 60.0)
    assert 1 <= n <= 1440
    clock = ClockProtocol(["a"], "run", 0.0, 60.0, 10, "max", 5.0)
    clock.set_speed(speed, now=0.0)
    assert clock.speed == speed


def test_durations_are_bounded() -> None:
    assert parse_duration("36500d") == 36500 * 86400
    for bad in ("36600d", "9" * 400 + "d", INF, NAN, -1, "1e9", "x" * 10_000):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_manifest_refuses_non_finite_and_over_bound_numbers(tmp_path: Path) -> None:
    text = (ROOT / "examples" / "home.yaml").read_text()
    for old, new in (("pdc0: 5000", "pdc0: .inf"), ("capacity: 36000000", "capacity: 1.0e+16"),
                     ("annual_kwh: 4000", "annual_kwh: .nan")):
        assert old in text
        p = tmp_path / "m.yaml"
        p.write_text(text.replace(old, new))
        with pytest.raises(ManifestError) as exc:
            load_manifest(p)
        assert any("properties" in f"{path} {reason}" and path.startswith("spec.devices[")
                   for path, reason in exc.value.errors), exc.value.errors


def _walk(schema: dict[str, Any], path: str, out: list[str]) -> None:
    if not isinstance(schema, dict):
        return
    types = schema.get("type")
    types = types if isinstance(types, list) else [types]
    if "number" in types or "integer" in types:
        has_min = "minimum" in schema or "exclusiveMinimum" in schema
        has_max = "maximum" in schema or "exclusiveMaximum" in schema
        if not (has_min and has_max):
            out.append(f"{path}: number without minimum and maximum")
    if "array" in types and "maxItems" not in schema:
        out.append(f"{path}: array without maxItems")
    pattern = str(schema.get("pattern", "*"))
    fixed = pattern.startswith("^") and pattern.endswith("$") and not set("*+{") & set(pattern)
    if "string" in types and not ({"maxLength", "enum"} & schema.keys() or fixed):
        out.append(f"{path}: string without maxLength")
    for k, v in schema.get("properties", {}).items():
        _walk(v, f"{path}.{k}", out)
    if isinstance(schema.get("items"), dict):
        _walk(schema["items"], f"{path}[]", out)
    for key in ("anyOf", "oneOf", "allOf"):
        for i, v in enumerate(schema.get(key, [])):
            _walk(v, f"{path}|{i}", out)


def _used(name: str, acc: set[str]) -> None:
    def refs(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                target = ref.rsplit("/", 1)[-1]
                if target not in acc:
                    acc.add(target)
                    refs(SCHEMAS[target])
            for v in node.values():
                refs(v)
        elif isinstance(node, list):
            for v in node:
                refs(v)
    acc.add(name)
    refs(SCHEMAS[name])


def test_every_property_schema_is_bounded() -> None:
    names: set[str] = set()
    for k in SCHEMAS:
        if k.endswith("Properties") and "x-homesim-kind" in SCHEMAS[k]:
            _used(k, names)
    assert {"GridProperties", "Appliance", "Tariff", "Thermostat"} <= names
    problems: list[str] = []
    for n in sorted(names):
        _walk(SCHEMAS[n], n, problems)
    # battery capacity is not live; its maximum (1e15 J) is a manifest rule
    assert problems == ["BatteryProperties.capacity: number without minimum and maximum"]


def _summary(**over: Any) -> dict[str, Any]:
    s: dict[str, Any] = {"complete": True, "ticks": 1440, "ticks_planned": 1440, "windows": 1,
                         "ledger": {"error": None},
                         "conservation": {"worst_abs_residual_j": 1e-6, "relative_residual": 1e-12,
                                          "worst_node": "inverter",
                                          "relative_residual_node": "inverter"}}
    s.update(over)
    return s


def test_a_run_is_a_success_only_when_every_window_is_booked() -> None:
    from homesim.infra.supervisor import summary_problem

    assert summary_problem(_summary(), {"window": 1}) is None
    assert "no summary" in str(summary_problem(None, {"window": 1}))
    assert "1339 of 1440" in str(summary_problem(_summary(complete=False, ticks=1339)))
    assert "booked 1 windows of the 2" in str(summary_problem(_summary(), {"window": 2}))
    assert "ledger failed" in str(summary_problem(_summary(ledger={"error": "boom"})))
    nan = {"worst_abs_residual_j": NAN, "relative_residual": 0.0, "worst_node": "grid"}
    assert "not finite" in str(summary_problem(_summary(conservation=nan)))
    big = {"worst_abs_residual_j": 1.0, "relative_residual": 0.5,
           "relative_residual_node": "battery"}
    assert "battery" in str(summary_problem(_summary(conservation=big)))
