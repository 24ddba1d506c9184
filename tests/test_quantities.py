"""Quantities with units in manifests (pint): converted to the property's ``x-unit`` at
validation, refused with the expected unit when the dimension is wrong; durations need a
unit; "did you mean" for kinds, properties and values."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from homesim.schemas.manifest import (
    Home,
    ManifestError,
    home_json_schema,
    parse_any,
    parse_duration,
    with_simulation,
)
from homesim.schemas.quantities import QuantityError, to_unit

ROOT = Path(__file__).resolve().parent.parent
HOME = yaml.safe_load((ROOT / "examples" / "home.yaml").read_text())
BLOCK = yaml.safe_load((ROOT / "examples" / "block.yaml").read_text())


@pytest.mark.parametrize(("text", "unit", "value"), [
    ("10 kWh", "J", 3.6e7), ("10kWh", "J", 3.6e7), ("10 kwh", "J", 3.6e7),
    ("36 MJ", "J", 3.6e7), ("5 kW", "W", 5000.0), ("7.4kW", "W", 7400.0),
    ("15 min", "s", 900.0), ("2 h", "s", 7200.0), ("4 MWh", "kWh", 4000.0),
    ("70 m^2", "m2", 70.0), ("70 m2", "m2", 70.0), ("0.8 m3", "m3", 0.8),
    ("68 degF", "°C", 20.0), ("21 °C", "°C", 21.0), ("20 C", "°C", 20.0),
    ("15 °C", "K", 15.0),  # a [K] property is a difference
    ("14 %", "%", 14.0), ("0.35 W/(m^2 K)", "W/(m2 K)", 0.35), ("3.6e7", "J", 3.6e7),
])
def test_quantities_convert_to_the_property_unit(text: str, unit: str, value: float) -> None:
    assert to_unit(text, unit) == pytest.approx(value)


@pytest.mark.parametrize(("text", "unit", "message"), [
    ("10 kW", "J", "'10 kW' is a power, not an energy: give J, e.g. 10 kWh"),
    ("5 kWh", "W", "is an energy, not a power: give W, e.g. 5 kW"),
    ("20 m", "m2", "is a length, not an area"),
    ("10 foo", "J", "unknown unit 'foo'"),
    ("kWh", "J", "is not a number with a unit"),
    ("0.3 EUR", "currency/kWh", "give a plain number in currency/kWh"),
    ("1e999 J", "J", "not a finite"),
    ("1 " + "k" * 100, "J", "not a quantity"),
    ("1 m^2^2^2^2^2^2^2^2^2^2", "J", "is not a unit"),  # a power tower would never end
    ("1 m**99999999999", "J", "is not a unit"),
])
def test_wrong_quantities_name_the_expected_unit(text: str, unit: str, message: str) -> None:
    with pytest.raises(QuantityError, match=message.replace("(", r"\(").replace(")", r"\)")):
        to_unit(text, unit)


def _with(doc: dict[str, Any], *path: Any, value: Any) -> dict[str, Any]:
    d = copy.deepcopy(doc)
    node = d
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value
    return d


def test_a_manifest_takes_units_and_stores_si_numbers() -> None:
    d = _with(HOME, "spec", "devices", 4, "properties", "capacity", value="10 kWh")
    d = _with(d, "spec", "devices", 4, "properties", "p_charge_max", value="3.3 kW")
    d = _with(d, "spec", "devices", 6, "properties", "appliances", 0, "power", value="2 kW")
    d = _with(d, "spec", "devices", 6, "properties", "annual_kwh", value="4.5 MWh")
    d = _with(d, "spec", "simulation", "dt", value="15 min")
    d = _with(d, "spec", "simulation", "timeout", value="2 min")
    d = _with(d, "spec", "simulation", "duration", value="2 weeks")
    home = parse_any(d)
    bat, house = home.spec.device("battery").properties, home.spec.device("house").properties
    assert (bat.capacity, bat.p_charge_max) == (3.6e7, 3300.0)
    assert (house.appliances[0].power, house.annual_kwh) == (2000.0, 4500.0)
    sim = home.spec.simulation
    assert (sim.dt, sim.timeout, parse_duration(sim.duration)) == (900.0, 120.0, 14 * 86400)
    # what every process reads: plain SI numbers
    dumped = home.model_dump(mode="json")
    assert dumped["spec"]["devices"][4]["properties"]["capacity"] == 3.6e7
    assert Home.model_validate(dumped) == home
    # the schema (CRD) is unchanged: numbers stay numbers
    props = home_json_schema()["$defs"]["BatteryProperties"]["properties"]["capacity"]
    assert props["type"] == "number"


def test_a_block_takes_units_in_its_flats() -> None:
    d = _with(BLOCK, "spec", "flats", 0, "devices", 0, "properties", "walls", 0, "area",
              value="20 m^2")
    d = _with(d, "spec", "flats", 0, "devices", 1, "properties", "annual_kwh", value="2.2 MWh")
    home = parse_any(d)
    assert home.spec.device("ground-west").properties.walls[0].area == 20.0
    assert home.spec.device("ground-west-kitchen").properties.annual_kwh == 2200.0
    bad = _with(BLOCK, "spec", "flats", 0, "devices", 1, "properties", "annual_kwh",
                value="2.2 MW")
    with pytest.raises(ManifestError) as exc:
        parse_any(bad)
    assert exc.value.errors == [("spec.flats[0].devices[1].properties.annual_kwh",
                                 "'2.2 MW' is a power, not an energy: give kWh, e.g. 10 kWh")]


@pytest.mark.parametrize(("path", "value", "where", "message"), [
    (("spec", "devices", 4, "kind"), "batery", "spec.devices[4]",
     "unknown kind 'batery'; did you mean 'battery'?"),
    (("spec", "devices", 4, "properties", "capcity"), 1, "spec.devices[4].properties.capcity",
     "unknown property 'capcity'; did you mean 'capacity'?"),
    (("spec", "devices", 2, "properties", "transposition"), "peres",
     "spec.devices[2].properties.transposition", "did you mean 'perez'?"),
    (("spec", "simulation", "durration"), "1d", "spec.simulation.durration",
     "unknown field 'durration'; did you mean 'duration'?"),
    (("spec", "devices", 6, "properties", "appliances", 0, "state"), True,
     "spec.devices[6].properties.appliances[0].state", 'write it in quotes, e.g. "on"'),
    (("spec", "devices", 4, "properties", "capacity"), "10 kW",
     "spec.devices[4].properties.capacity", "'10 kW' is a power, not an energy: give J"),
    (("spec", "devices", 4, "properties", "eta_charge"), "95 %",
     "spec.devices[4].properties.eta_charge", "expected a plain number (this property has no"),
    (("spec", "simulation", "duration"), 7, "spec.simulation.duration",
     "7 has no unit: give a unit, e.g. 7d or 7h"),
    (("spec", "simulation", "duration"), "7", "spec.simulation.duration",
     "'7' has no unit: give a unit, e.g. 7d or 7h"),
    (("spec", "simulation", "speed"), "fast", "spec.simulation.speed",
     "invalid speed 'fast': use realtime, max or e.g. 60x"),
    (("metadata", "name"), "My_Home", "metadata.name", "must be a DNS label"),
    (("kind",), "Hom", "kind", "must be Home or Block, not 'Hom'; did you mean 'Home'?"),
])
def test_errors_name_the_closest_valid_value(path: tuple[Any, ...], value: Any, where: str,
                                             message: str) -> None:
    with pytest.raises(ManifestError) as exc:
        parse_any(_with(HOME, *path, value=value))
    assert len(exc.value.errors) == 1, exc.value.errors
    got_path, reason = exc.value.errors[0]
    assert got_path == where and message in reason, exc.value.errors
    assert "pydantic" not in reason and "type=" not in reason


def test_overrides_report_under_the_option_names() -> None:
    home = parse_any(copy.deepcopy(HOME))
    assert with_simulation(home, until="2d", dt="15min").spec.simulation.dt == 900.0
    with pytest.raises(ManifestError) as exc:
        with_simulation(home, until="7", speed="fast", dt="1 kg",
                        labels={"duration": "--until", "speed": "--speed", "dt": "--dt"})
    assert dict(exc.value.errors) == {
        "--until": "'7' has no unit: give a unit, e.g. 7d or 7h (s, m = minutes, h, d, w)",
        "--speed": "invalid speed 'fast': use realtime, max or e.g. 60x",
        "--dt": "'1 kg' is a mass, not a time: give s, e.g. 15 min"}
    assert exc.value.source == "options"
