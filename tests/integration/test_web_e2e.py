"""The web builder end to end: `node --test` on web/e2e (a real `homesim serve`, Debian's
chromium driven by playwright-core; see web/e2e/tests/builder.test.mjs), so that one pytest
command reports it. Needs the built page (web/dist) and web/e2e/node_modules: ./test --full
installs and builds both; elsewhere the test is skipped with the command to run."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys

import pytest

from tests.integration.conftest import ROOT

WEB = ROOT / "web"
E2E = WEB / "e2e"


def _missing() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed (apt-get install nodejs npm)"
    if not os.path.exists("/usr/bin/chromium") and not os.environ.get("CHROMIUM"):
        return "Debian's chromium is not installed (apt-get install chromium)"
    if not (WEB / "dist" / "index.html").is_file():
        return "the builder is not built: cd web && npm ci && npm run build"
    if not (E2E / "node_modules" / "playwright-core").is_dir():
        return "the e2e tests are not installed: cd web/e2e && npm ci"
    return None


def test_web_builder_end_to_end() -> None:
    """Palette, drag-and-connect, 10 kWh battery and YAML export, field error, a live run of
    two days with changing edge power, what-if KPIs: every node test passes."""
    why = _missing()
    if why:
        if os.environ.get("HOMESIM_TEST_TIER") == "full":
            pytest.fail(why)
        pytest.skip(why)
    env = dict(os.environ, HOMESIM_PYTHON=sys.executable)
    # its own process group: on a timeout, node, the server it started and the server's runs
    # all get SIGTERM (the server and the supervisor then stop their processes)
    proc = subprocess.Popen(["node", "--test", "--test-concurrency=1", "--test-reporter=spec",
                             "tests/"], cwd=E2E, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=900)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
        pytest.fail(f"web/e2e timed out after 900 s:\n{out[-6000:]}\n{err[-3000:]}")
    assert proc.returncode == 0, (f"web/e2e failed (exit {proc.returncode}):\n"
                                  f"{out[-6000:]}\n{err[-3000:]}")
