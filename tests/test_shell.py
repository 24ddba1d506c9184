"""Device shells without a router: properties, live set, errors; clock window sizes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from homesim.devices.bus.clock import window_ticks
from homesim.devices.kinds.base import InvalidArgument, ReadOnly, UnknownProperty, Window
from homesim.devices.kinds.battery import BatteryShell
from homesim.devices.kinds.load import LoadShell
from homesim.schemas.manifest import load_manifest

HOME = load_manifest(Path(__file__).resolve().parent.parent / "examples" / "home.yaml")


def test_set_validates_with_the_contract():
    b = BatteryShell(HOME, "battery")
    new = b.validated_set("p_charge_max", 3000)
    assert new.p_charge_max == 3000.0
    with pytest.raises(InvalidArgument) as exc:
        b.validated_set("eta_charge", 2)
    assert exc.value.field == "eta_charge"
    with pytest.raises(ReadOnly):
        b.validated_set("capacity", 1e6)
    with pytest.raises(UnknownProperty):
        b.validated_set("flux_capacitor", 1)


def test_nested_appliance_state_and_state_values():
    load = LoadShell(HOME, "house")
    new = load.validated_set("appliances.oven.state", "on")
    assert [a.state for a in new.appliances if a.name == "oven"] == ["on"]
    with pytest.raises(InvalidArgument):
        load.validated_set("appliances.oven.state", "maybe")
    with pytest.raises(UnknownProperty):
        load.validated_set("appliances.toaster.state", "on")
    b = BatteryShell(HOME, "battery")
    assert b.get_property("soc") == pytest.approx(0.5)


def test_battery_rejects_packets_beyond_its_limits():
    b = BatteryShell(HOME, "battery")
    w = Window("r", 0, 0, 2, 60.0, 0.0, "max")
    too_much = np.array([1e9, 0.0])
    with pytest.raises(ValueError, match="SoC limits"):
        b.settle(w, {("inverter", "battery", "electricity"): too_much})


@pytest.mark.parametrize(("speed", "dt", "n"), [("max", 60, 1440), ("max", 1, 2880),
                                                 ("realtime", 60, 1), ("60x", 60, 1),
                                                 ("3600x", 60, 30), ("60x", 1, 30)])
def test_window_sizes(speed, dt, n):
    assert window_ticks(speed, dt) == n
