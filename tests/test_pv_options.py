"""PV options of issue 12 through the manifest and the shell: AOI, spectral and cell-temperature
models with parameters, PVWatts loss components, a horizon profile."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from homesim.devices.kinds.pv import PvShell
from homesim.schemas.manifest import ManifestError, parse_home

ROOT = Path(__file__).resolve().parent.parent


def _home(props: dict[str, Any]) -> Any:
    data = yaml.safe_load((ROOT / "examples" / "home.yaml").read_text())
    for d in data["spec"]["devices"]:
        if d["kind"] == "pv":
            d["properties"].update(props)
    return parse_home(data)


def test_defaults_stay_pvwatts_v5() -> None:
    shell = PvShell(_home({}), "pv-south")
    a = shell.array
    assert (a.transposition, a.aoi_model, a.spectral_model, a.temperature_model) == (
        "perez", "physical", "no_loss", "open_rack_glass_polymer")
    from pvlib.pvsystem import pvwatts_losses

    assert a.losses_fraction(a.losses_percent) == 1 - pvwatts_losses() / 100  # 14.08 %
    assert a.horizon == ()


def test_every_option_reaches_the_model() -> None:
    shell = PvShell(_home({
        "aoi_model": "martin_ruiz", "iam_parameters": {"a_r": 0.2},
        "spectral_model": "first_solar", "module_type": "cdte",
        "precipitable_water": "14 mm",
        "temperature_model": "pvsyst_insulated", "temperature_parameters": {"u_v": 1.0},
        "pvwatts_losses": {"soiling": 5, "shading": 0},
        "horizon": [{"azimuth": 90, "elevation": 10}, {"azimuth": 270, "elevation": 5}],
    }), "pv-south")
    a = shell.array
    assert a.iam_parameters["a_r"] == 0.2 and a.module_type == "cdte"
    assert a.precipitable_water == pytest.approx(1.4)
    assert a.temperature_parameters["u_v"] == 1.0
    assert a.pvwatts_losses["soiling"] == 5 and a.pvwatts_losses["lid"] == 1.5
    assert a.horizon == ((90.0, 10.0), (270.0, 5.0))
    for name in ("aoi_model", "spectral_model", "temperature_model", "pvwatts_losses",
                 "horizon", "iam_parameters", "temperature_parameters"):
        assert shell.live(name), name
    new = shell.validated_set("pvwatts_losses", {"soiling": 1})
    assert new.pvwatts_losses.soiling == 1 and new.pvwatts_losses.availability == 3
    from pvlib.pvsystem import pvwatts_losses

    assert a.losses_fraction(None) == 1 - pvwatts_losses(soiling=5, shading=0) / 100


@pytest.mark.parametrize(("props", "reason"), [
    ({"losses_percent": 10, "pvwatts_losses": {"soiling": 1}}, "give one"),
    ({"aoi_model": "sapm"}, "sandia_module"),
    ({"spectral_model": "sapm"}, "sandia_module"),
    ({"spectral_model": "first_solar"}, "module_type"),
    ({"aoi_model": "ashrae", "iam_parameters": {"a_r": 0.2}}, "a_r not a parameter"),
    ({"temperature_model": "sapm", "temperature_parameters": {"a": -3}}, "a, b and deltaT"),
    ({"temperature_model": "faiman", "temperature_parameters": {"u_c": 20}}, "faiman"),
])
def test_inconsistent_options_name_the_device(props, reason) -> None:
    with pytest.raises(ManifestError) as exc:
        _home(props)
    assert any(p == "spec.devices[2]" and reason in r for p, r in exc.value.errors), \
        exc.value.errors


@pytest.mark.parametrize(("props", "field"), [
    ({"aoi_model": "fresnel"}, "aoi_model"),
    ({"horizon": [{"azimuth": 90, "elevation": 91}]}, "horizon[0].elevation"),
    ({"horizon": [{"azimuth": 0, "elevation": 0}] * 3601}, "horizon"),
    ({"pvwatts_losses": {"soiling": 101}}, "pvwatts_losses.soiling"),
    ({"precipitable_water": 9}, "precipitable_water"),
    ({"temperature_model": "pvsyst_roof"}, "temperature_model"),
])
def test_out_of_bounds_options_name_the_field(props, field) -> None:
    with pytest.raises(ManifestError) as exc:
        _home(props)
    assert any(p.startswith(f"spec.devices[2].properties.{field}") for p, _ in exc.value.errors), \
        exc.value.errors
