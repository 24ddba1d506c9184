"""Load options of issue 12 through the manifest, the pre-run checks and the shell: BDEW
profiles by name with holidays, CSV profiles, several loads per home."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from numpy.testing import assert_allclose

from homesim.devices.kinds.base import Window
from homesim.devices.kinds.load import LoadShell
from homesim.infra.preflight import load_checked
from homesim.schemas.manifest import ManifestError, parse_home
from homesim.schemas.registry import REGISTRY

ROOT = Path(__file__).resolve().parent.parent


def _home(tmp: Path, loads: list[dict[str, Any]], duration: str = "1d") -> Path:
    data = yaml.safe_load((ROOT / "examples" / "home.yaml").read_text())
    data["spec"]["simulation"]["duration"] = duration
    data["spec"]["devices"] = [d for d in data["spec"]["devices"] if d["kind"] != "load"] + loads
    p = tmp / "home.yaml"
    p.write_text(yaml.safe_dump(data, sort_keys=False))
    return p


def _csv(tmp: Path, days: int = 2, start: str = "2025-01-01") -> Path:
    idx = pd.date_range(start, periods=days * 96, freq="15min")
    w = 200.0 + 100.0 * (np.arange(len(idx)) % 96 >= 72)
    p = tmp / "shop.csv"
    pd.DataFrame({"Zeitstempel": idx.strftime("%d.%m.%Y %H:%M"), "kW": w / 1e3}).to_csv(
        p, index=False)
    return p


def _window(home, n: int = 96, dt: float = 900.0) -> Window:
    from homesim.devices.context import home_context

    return Window("r", 0, 0, n, dt, home_context(home).start, "max")


def test_several_loads_per_home(tmp_path) -> None:
    """No limit on loads per home; BDEW profiles by name, holidays, and a CSV load validate and
    report their demand."""
    assert REGISTRY.get("load").limits.max_per_home is None
    _csv(tmp_path)
    m = _home(tmp_path, [
        {"name": "flat", "kind": "load", "properties": {"profile": "h0_dyn", "annual_kwh": 3000}},
        {"name": "bakery", "kind": "load", "properties": {
            "profile": "g5", "annual_kwh": "20 MWh",
            "holidays": {"country": "US", "subdivision": "NC"}}},
        {"name": "shop", "kind": "load", "properties": {
            "profile": "csv", "csv": {"file": "shop.csv", "time_column": "Zeitstempel",
                                      "column": "kW", "unit": "kW",
                                      "time_format": "%d.%m.%Y %H:%M"}}},
    ])
    home = load_checked(m)
    assert [d.name for d in home.spec.devices if d.kind == "load"] == ["flat", "bakery", "shop"]
    shop = home.spec.device("shop").properties
    assert Path(shop.csv.file).is_absolute()
    assert home.spec.device("bakery").properties.annual_kwh == 20000.0
    w = _window(home)
    demand = {n: LoadShell(home, n).report(w, {}).demand for n in ("flat", "bakery", "shop")}
    assert_allclose(demand["shop"][:72], 200.0 * 900) and assert_allclose(demand["shop"][72:],
                                                                          300.0 * 900)
    assert demand["bakery"].sum() > 0 and demand["flat"].sum() > 0


def test_csv_load_scaled_to_annual_kwh(tmp_path) -> None:
    _csv(tmp_path, days=365)
    m = _home(tmp_path, [{"name": "shop", "kind": "load", "properties": {
        "profile": "csv", "annual_kwh": 1000,
        "csv": {"file": "shop.csv", "time_column": "Zeitstempel", "column": "kW",
                "unit": "kW", "time_format": "%d.%m.%Y %H:%M", "scale": True}}}], "365d")
    home = load_checked(m)
    shell = LoadShell(home, "shop")
    e = shell.report(_window(home, 8760, 3600.0), {}).demand
    assert_allclose(e.sum(), 1000 * 3.6e6, rtol=1e-12)
    shell.props = shell.validated_set("annual_kwh", 2000)  # live: the profile follows
    shell.setup()
    assert_allclose(shell.report(_window(home, 8760, 3600.0), {}).demand.sum(), 2000 * 3.6e6,
                    rtol=1e-12)


@pytest.mark.parametrize(("props", "field", "reason"), [
    ({"profile": "csv"}, "spec.devices[6]", "properties.csv"),
    ({"profile": "h1"}, "spec.devices[6].properties.profile", "h0_dyn"),
    ({"holidays": {"country": "XX"}}, "spec.devices[6]", "holidays.country"),
    ({"holidays": {"country": "DE", "subdivision": "ZZ"}}, "spec.devices[6]", "BY"),
    ({"csv": {"file": "x.csv", "unit": "hp"}}, "spec.devices[6].properties.csv.unit", "kWh"),
])
def test_bad_load_options_name_the_field(tmp_path, props, field, reason) -> None:
    (tmp_path / "x.csv").write_text("time,power\n")
    m = _home(tmp_path, [{"name": "house", "kind": "load", "properties": props}])
    with pytest.raises(ManifestError) as exc:
        load_checked(m)
    assert any(p == field and reason in r for p, r in exc.value.errors), exc.value.errors


def test_preflight_reads_the_csv_and_checks_coverage(tmp_path) -> None:
    """validate reads the CSV as the device does; without a complete year it must cover the
    simulated span (here 2 days of data, 3 days simulated)."""
    _csv(tmp_path, days=2)
    props = {"profile": "csv", "csv": {"file": "shop.csv", "time_column": "Zeitstempel",
                                       "column": "kW", "unit": "kW",
                                       "time_format": "%d.%m.%Y %H:%M"}}
    load_checked(_home(tmp_path, [{"name": "s", "kind": "load", "properties": props}], "2d"))
    with pytest.raises(ManifestError) as exc:
        load_checked(_home(tmp_path, [{"name": "s", "kind": "load", "properties": props}], "3d"))
    [(path, reason)] = exc.value.errors
    assert path == "spec.devices[6].properties.csv.file"
    assert "does not cover the simulation" in reason and "2025-01-03" in reason
    props["csv"]["column"] = "W"
    with pytest.raises(ManifestError, match="missing column"):
        load_checked(_home(tmp_path, [{"name": "s", "kind": "load", "properties": props}]))
    with pytest.raises(ManifestError, match="covers 2025-01-03"):  # --until 3d: too long
        load_checked(_home(tmp_path, [{"name": "s", "kind": "load", "properties": {
            **props, "csv": {**props["csv"], "column": "kW"}}}]), {"until": "3d"})


def test_profile_is_not_live_but_annual_kwh_is() -> None:
    home = parse_home(yaml.safe_load((ROOT / "examples" / "home.yaml").read_text()))
    shell = LoadShell(home, "house")
    assert not shell.live("profile") and not shell.live("holidays") and not shell.live("csv")
    assert shell.live("annual_kwh")
