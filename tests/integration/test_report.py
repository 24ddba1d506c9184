"""`homesim report`: one self-contained report.html whose figures render in headless Chromium,
and PNGs of the key figures (needs Debian `chromium`; .ci/run installs it)."""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

import pytest

from homesim.infra.analysis.report import find_chromium

from .conftest import EXAMPLE, HOMESIM

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def chromium() -> str:
    path = find_chromium()
    if path is None:
        pytest.fail("Chromium is missing: `apt-get install -y chromium` (.ci/run installs it); "
                    "the report's PNGs and this test need it")
    return path


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, chromium) -> Path:
    out = tmp_path_factory.mktemp("report") / "run"
    res = subprocess.run([*HOMESIM, "run", str(EXAMPLE), "--until", "3d", "--out", str(out),
                          "-q"], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return out


def _dump_dom(chromium: str, html: Path) -> str:
    with tempfile.TemporaryDirectory() as profile:
        res = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--no-first-run", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
             "--virtual-time-budget=10000", "--dump-dom", html.resolve().as_uri()],
            capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout


def _assert_png(p: Path) -> None:
    data = p.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{p} is not a PNG"
    assert len(data) > 10_000, f"{p} is only {len(data)} bytes"


@pytest.mark.quick
def test_report_renders_every_figure(run_dir, chromium):
    """The run's report.html is self-contained and its six figures render as plotly SVG."""
    html = run_dir / "report.html"
    text = html.read_text()
    assert "<script src=" not in text          # plotly JS inlined, nothing fetched
    dom = _dump_dom(chromium, html)
    assert 'class="main-svg"' in dom
    assert len(re.findall(r'class="plot-container plotly"', dom)) >= 6
    assert 'class="sankey"' in dom and 'class="sankey-node' in dom
    assert 'class="barlayer' in dom                 # monthly bars, cost, unserved
    assert "Monthly energy per flow" in dom and "Battery state of charge" in dom
    assert "Grid cost by month" in dom and "Unserved energy by month" in dom
    for name in ("sankey", "monthly", "day"):
        _assert_png(run_dir / "figures" / f"{name}.png")


def test_report_command_with_day(run_dir, chromium):
    """`homesim report RUN_DIR --day` rewrites the report and PNGs for the chosen day."""
    for p in (run_dir / "figures").glob("*.png"):
        p.unlink()
    res = subprocess.run([*HOMESIM, "report", str(run_dir), "--day", "2025-01-02"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Power on 2025-01-02" in (run_dir / "report.html").read_text()
    for name in ("sankey", "monthly", "day"):
        _assert_png(run_dir / "figures" / f"{name}.png")
    bad = subprocess.run([*HOMESIM, "report", str(run_dir), "--day", "Jan 2"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr
