"""The supervisor's teardown (:func:`homesim.infra.supervisor._stop_all`) on real processes."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from homesim.infra.supervisor import _Proc, _stop_all

# a process that exits 0 on SIGTERM (as devices do) and otherwise sleeps
_GRACEFUL = ("import signal, sys, time\n"
             "signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))\n"
             "print('ready', flush=True)\n"
             "time.sleep(60)\n")


def _start(tmp_path: Path, name: str) -> _Proc:
    p = subprocess.Popen([sys.executable, "-c", _GRACEFUL], stdout=subprocess.PIPE, text=True,
                         start_new_session=True)
    assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    return _Proc(name, "battery", p, tmp_path / f"{name}.log")


def test_a_stopped_process_ends_on_sigterm_without_waiting_for_the_grace(tmp_path: Path) -> None:
    """SIGSTOP'd (a frozen device): continued after SIGTERM, so it exits by its own handler
    (status 0) at once rather than being SIGKILLed after the grace period."""
    frozen, live = _start(tmp_path, "house"), _start(tmp_path, "grid")
    frozen.popen.send_signal(signal.SIGSTOP)
    t0 = time.monotonic()
    _stop_all([frozen, live], grace=20.0)
    took = time.monotonic() - t0
    assert frozen.popen.returncode == 0 and live.popen.returncode == 0
    assert took < 10.0, took  # the grace (20 s) was not spent


def test_a_process_ignoring_sigterm_is_killed_after_the_grace(tmp_path: Path) -> None:
    p = subprocess.Popen([sys.executable, "-c",
                          "import signal, time\n"
                          "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                          "print('ready', flush=True)\n"
                          "time.sleep(60)\n"],
                         stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    _stop_all([_Proc("sun", "sun", p, tmp_path / "sun.log")], grace=0.5)
    assert p.returncode == -signal.SIGKILL
