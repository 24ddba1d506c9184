"""The command line without a router: validate, bad manifests, help."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "homesim.infra.cli"]


def _bad_manifest(tmp_path: Path) -> Path:
    data = yaml.safe_load((ROOT / "examples" / "home.yaml").read_text())
    data["metadata"]["name"] = "Not_A_DNS_Name"
    data["spec"]["devices"][4]["properties"]["eta_charge"] = 1.5
    data["spec"]["devices"][6]["properties"]["appliances"][0]["start"] = "25:00"
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def test_validate_reports_every_error_with_its_path(tmp_path):
    res = subprocess.run([*CLI, "validate", str(_bad_manifest(tmp_path))],
                         capture_output=True, text=True)
    assert res.returncode == 1
    for path in ("metadata.name", "spec.devices[4].properties.eta_charge",
                 "spec.devices[6].properties.appliances[0].start"):
        assert path in res.stderr, res.stderr
    assert "3 error(s)" in res.stderr


def test_run_refuses_a_bad_manifest_before_starting_anything(tmp_path):
    res = subprocess.run([*CLI, "run", str(_bad_manifest(tmp_path)), "--out",
                          str(tmp_path / "run")], capture_output=True, text=True)
    assert res.returncode == 2
    assert "spec.devices[4].properties.eta_charge" in res.stderr
    assert not (tmp_path / "run").exists()


def test_validate_accepts_the_example():
    res = subprocess.run([*CLI, "validate", str(ROOT / "examples" / "home.yaml")],
                         capture_output=True, text=True)
    assert res.returncode == 0 and "greensboro" in res.stdout


def test_run_help_teaches_the_options():
    res = subprocess.run([*CLI, "run", "--help"], capture_output=True, text=True)
    for opt in ("--until", "--dt", "--speed", "--seed", "--out"):
        assert opt in res.stdout
