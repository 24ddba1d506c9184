"""Weather files of issue 12 through `homesim validate`'s checks (infra/preflight.py): PVGIS
and CSV files are read as the device reads them; columns, length, time zone, gaps, coverage
and the location are checked before a run."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from homesim.devices.context import home_context
from homesim.infra.preflight import load_checked
from homesim.schemas.manifest import ManifestError

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "examples" / "weather"


def _home(tmp: Path, weather: dict[str, Any], location: bool = True, **sim: Any) -> Path:
    data = yaml.safe_load((ROOT / "examples" / "home.yaml").read_text())
    data["spec"]["devices"][0]["properties"] = weather
    data["spec"]["simulation"].update(sim)
    if not location:
        del data["spec"]["location"]
    p = tmp / "home.yaml"
    p.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return p


def _errors(m: Path, **over: Any) -> list[tuple[str, str]]:
    with pytest.raises(ManifestError) as exc:
        load_checked(m, over or None)
    return exc.value.errors


def test_the_sample_manifest_validates() -> None:
    home = load_checked(SAMPLES / "open-meteo-home.yaml")
    w = home.spec.device("weather").properties
    assert w.format == "csv" and w.csv.wind_unit == "km/h"


@pytest.mark.parametrize("name", ["greensboro-pvgis-tmy.csv", "greensboro-pvgis-hourly-2023.csv"])
def test_pvgis_files_give_the_home_its_location(tmp_path, name) -> None:
    shutil.copy(SAMPLES / name, tmp_path / name)
    home = load_checked(_home(tmp_path, {"file": name}, location=False))
    ctx = home_context(home)
    assert (ctx.latitude, ctx.longitude, ctx.altitude, ctx.tz) == (36.1, -79.95, 273.0, "UTC")


def test_a_csv_needs_a_location(tmp_path) -> None:
    shutil.copy(SAMPLES / "greensboro-open-meteo-2024.csv", tmp_path / "om.csv")
    csv = yaml.safe_load((SAMPLES / "open-meteo-home.yaml").read_text())["spec"]["devices"][0]
    errs = _errors(_home(tmp_path, {**csv["properties"], "file": "om.csv"}, location=False))
    assert errs == [("spec.location", "required: the weather file has no location (a CSV); "
                     "give latitude, longitude, altitude and timezone")]


def test_columns_gaps_zone_and_coverage_are_checked(tmp_path) -> None:
    idx = pd.date_range("2025-01-01", periods=72, freq="h")
    df = pd.DataFrame({"time": idx.strftime("%Y-%m-%dT%H:%M"), "ghi": 0.0, "dni": 0.0,
                       "dhi": 0.0, "temp_air": 3.0, "wind_speed": 2.0})
    f = tmp_path / "w.csv"
    df.to_csv(f, index=False)
    props = {"file": "w.csv", "format": "csv", "csv": {"label": "start"}}
    m = _home(tmp_path, props, duration="2d", start="2025-01-01T00:00:00")
    m.write_text(m.read_text().replace("timezone: Etc/GMT+5", "timezone: UTC"))
    load_checked(m)  # 3 days of data cover 2 days
    [(path, reason)] = _errors(m, until="4d")
    assert path == "spec.devices[0].properties.file"
    assert "does not cover the simulation: no record covers 2025-01-04T00:00:00 UTC" in reason
    df.drop(columns="dhi").to_csv(f, index=False)
    assert "missing column(s) 'dhi'" in _errors(m)[0][1]
    df.drop(index=[5]).to_csv(f, index=False)
    assert "gap between data rows 5 and 6" in _errors(m)[0][1]
    df.to_csv(f, index=False)
    m2 = _home(tmp_path, {**props, "csv": {"label": "start", "timezone": "Mars/Olympus"}})
    assert "Mars/Olympus" in _errors(m2)[0][1]


def test_a_typical_year_must_be_whole(tmp_path) -> None:
    text = (SAMPLES / "greensboro-pvgis-tmy.csv").read_text().splitlines()
    (tmp_path / "short.csv").write_text("\n".join(text[:-500]) + "\n")
    [(path, reason)] = _errors(_home(tmp_path, {"file": "short.csv"}))
    assert path == "spec.devices[0].properties.file" and "short.csv" in reason
