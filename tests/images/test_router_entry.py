"""The router container's entry point (infra/router/entry.py): realm list and configuration."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from homesim.infra.router import entry as router_entry
from homesim.infra.router.config import render_config

INFRA = Path(__file__).resolve().parents[2] / "infra" / "router"


def test_realms_from_file_and_environment(tmp_path: Path) -> None:
    """HOMESIM_REALMS, then the file; comments, blanks, invalid names and duplicates skipped."""
    realms = tmp_path / "realms"
    realms.write_text("# homes\ngreensboro\n\n  district-1  # block\nbad realm!\ngreensboro\n")
    settings = router_entry.Settings({"HOMESIM_REALMS_FILE": str(realms),
                                      "HOMESIM_REALMS": "tools, greensboro"})
    warned: set[str] = set()
    assert router_entry.read_realms(settings, warned) == ["tools", "greensboro", "district-1"]
    assert warned == {"bad realm!"}


def test_missing_realms_file_means_no_realm(tmp_path: Path) -> None:
    """A realms file that is not there (yet) is an empty list, not an error."""
    settings = router_entry.Settings({"HOMESIM_REALMS_FILE": str(tmp_path / "absent")})
    assert router_entry.read_realms(settings) == []
    assert (settings.ws_port, settings.rs_port, settings.host) == (8080, 8081, "0.0.0.0")


def test_print_config_runs_with_the_standard_library_only(tmp_path: Path) -> None:
    """As in the router image: the two files alone, isolated Python, no homesim installed."""
    for name in ("entry.py", "config.py"):
        shutil.copy(INFRA / name, tmp_path / name)
    env = {"HOMESIM_REALMS": "greensboro", "HOMESIM_REALMS_FILE": str(tmp_path / "none"),
           "HOMESIM_WS_PORT": "9080", "HOMESIM_RS_PORT": "9081"}
    # -S: no site-packages at all; -I would drop the script's folder from sys.path
    res = subprocess.run([sys.executable, "-S", "-E", str(tmp_path / "entry.py"),
                          "--print-config"], capture_output=True, text=True, env=env,
                         cwd=tmp_path, timeout=60, check=True)
    assert json.loads(res.stdout) == render_config(["greensboro"], 9080, 9081, "0.0.0.0")


def test_config_without_realms_only_when_allowed() -> None:
    """The router may start with no realm (it waits for the first home); homesim run may not."""
    cfg = render_config([], 1, 2, allow_empty=True)
    assert cfg["workers"][0]["realms"] == []
    with pytest.raises(ValueError, match="at least one realm"):
        render_config([], 1, 2)
