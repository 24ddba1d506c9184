"""Entry point of the router container (``localhost/homesim-router``): Crossbar for a realm list.

The image runs this file as a script with the router venv's Python, where neither homesim nor
its dependencies are installed: only the standard library and :mod:`config` (copied
next to it; imported as ``homesim.infra.router.config`` when homesim is installed).

It renders the Crossbar configuration (:func:`config.render_config`, the same as
``homesim run``'s router) into ``$HOMESIM_CBDIR/config.json``, starts Crossbar, and every
``$HOMESIM_REALMS_POLL`` seconds re-reads the realm list; when the list changed it re-renders the
configuration and restarts Crossbar (connected clients are dropped and reconnect). SIGTERM and
SIGINT stop Crossbar (SIGKILL after 10 s) and exit 0; if Crossbar exits on its own, so does this
process, with Crossbar's exit code.

Environment (default):

* ``HOMESIM_REALMS_FILE`` (``/etc/homesim-router/realms``): one realm per line, ``#`` comments;
  may be missing (e.g. a ConfigMap that is not there yet);
* ``HOMESIM_REALMS`` (empty): comma-separated realms, served in addition to the file's;
* ``HOMESIM_WS_PORT`` (8080): WebSocket on ``/ws``, JSON + msgpack (wamp-cli, browsers);
* ``HOMESIM_RS_PORT`` (8081): RawSocket, msgpack (devices);
* ``HOMESIM_ROUTER_HOST`` (``0.0.0.0``): the interface of both transports;
* ``HOMESIM_CBDIR`` (``/var/lib/crossbar``): Crossbar's node directory, must be writable;
* ``HOMESIM_REALMS_POLL`` (5): seconds between reads of the realm list;
* ``HOMESIM_ROUTER_LOGLEVEL`` (``info``): Crossbar's ``--loglevel``.

With no realm at all Crossbar still starts and listens (so readiness probes pass), and every
join fails with ``wamp.error.no_such_realm`` until a realm is listed. Invalid realm names are
logged and skipped.

    python entry.py                 run (the container's entry point)
    python entry.py --print-config  print the configuration it would start and exit
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

try:  # installed with homesim
    from homesim.infra.router.config import REALM_NAME, render_config
except ImportError:  # the router image: config.py sits next to this file
    from config import REALM_NAME, render_config  # type: ignore[no-redef]

__all__ = ["Settings", "main", "read_realms"]

DEFAULT_REALMS_FILE = "/etc/homesim-router/realms"
DEFAULT_CBDIR = "/var/lib/crossbar"
STOP_GRACE = 10.0  # seconds between SIGTERM and SIGKILL of Crossbar's process group
# `crossbar` as a module (console-script shebangs are fragile; the worker processes Crossbar
# spawns use sys.executable anyway)
CROSSBAR_MAIN = "import sys, crossbar; sys.argv[0] = 'crossbar'; sys.exit(crossbar.run())"


def log(msg: str) -> None:
    print(f"homesim-router: {msg}", file=sys.stderr, flush=True)


class Settings:
    """The entry point's settings, read from the environment (see the module docstring)."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        env = dict(os.environ if env is None else env)
        self.realms_file = Path(env.get("HOMESIM_REALMS_FILE") or DEFAULT_REALMS_FILE)
        self.env_realms = _split(env.get("HOMESIM_REALMS", ""), ",")
        self.ws_port = int(env.get("HOMESIM_WS_PORT") or 8080)
        self.rs_port = int(env.get("HOMESIM_RS_PORT") or 8081)
        self.host = env.get("HOMESIM_ROUTER_HOST") or "0.0.0.0"
        self.cbdir = Path(env.get("HOMESIM_CBDIR") or DEFAULT_CBDIR)
        self.poll = float(env.get("HOMESIM_REALMS_POLL") or 5)
        self.loglevel = env.get("HOMESIM_ROUTER_LOGLEVEL") or "info"


def _split(text: str, sep: str | None) -> list[str]:
    out = []
    for part in text.split(sep):
        part = part.split("#", 1)[0].strip()
        if part:
            out.append(part)
    return out


def read_realms(settings: Settings, warned: set[str] | None = None) -> list[str]:
    """The realms to serve: ``HOMESIM_REALMS`` then the file's lines; deduplicated, in order.

    A missing or unreadable file counts as empty; invalid names are skipped (logged once per
    name when `warned` is given).
    """
    lines: list[str] = []
    with contextlib.suppress(OSError, UnicodeDecodeError):
        lines = _split(settings.realms_file.read_text(), "\n")
    out: list[str] = []
    for realm in [*settings.env_realms, *lines]:
        if not REALM_NAME.match(realm):
            if warned is not None and realm not in warned:
                warned.add(realm)
                log(f"skipping invalid realm name {realm!r} (must match {REALM_NAME.pattern})")
            continue
        if realm not in out:
            out.append(realm)
    return out


def write_config(settings: Settings, realms: list[str]) -> Path:
    """Render the configuration into ``<cbdir>/config.json`` (atomically)."""
    config = render_config(realms, settings.ws_port, settings.rs_port, settings.host,
                           allow_empty=True)
    settings.cbdir.mkdir(parents=True, exist_ok=True)
    path = settings.cbdir / "config.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(config, indent=2) + "\n")
    os.replace(tmp, path)
    return path


class Crossbar:
    """One Crossbar node process (in a session of its own), reaped by `Supervisor`."""

    def __init__(self, settings: Settings) -> None:
        cmd = [sys.executable, "-u", "-c", CROSSBAR_MAIN, "start",
               "--cbdir", str(settings.cbdir), "--loglevel", settings.loglevel,
               "--logformat", "standard", "--color", "false"]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(cmd, cwd=settings.cbdir, stdin=subprocess.DEVNULL,
                                     env=env, start_new_session=True)
        self.pid = self.proc.pid
        self.code: int | None = None

    def signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)


class Supervisor:
    """Keeps Crossbar running with the current realm list; see the module docstring."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stop_signal: int | None = None
        self.warned: set[str] = set()
        self.crossbar: Crossbar | None = None

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.stop_signal = signum

    def reap(self) -> None:
        """Collect every exited child (we may be PID 1: orphaned workers end up here)."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            cb = self.crossbar
            if cb is not None and pid == cb.pid:
                cb.code = os.waitstatus_to_exitcode(status)
                cb.proc.returncode = cb.code  # keep Popen from waiting on a reaped pid

    def start(self, realms: list[str]) -> None:
        path = write_config(self.settings, realms)
        shown = ", ".join(realms) or "none yet"
        log(f"starting Crossbar on {self.settings.host} ws:{self.settings.ws_port} "
            f"rawsocket:{self.settings.rs_port}, realms: {shown} ({path})")
        self.crossbar = Crossbar(self.settings)

    def stop(self) -> int | None:
        """SIGTERM Crossbar's process group, SIGKILL it after `STOP_GRACE`; its exit code."""
        cb = self.crossbar
        if cb is None:
            return None
        cb.signal_group(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        while cb.code is None and time.monotonic() < deadline:
            time.sleep(0.05)
            self.reap()
        cb.signal_group(signal.SIGKILL)  # workers that outlive the controller, if any
        while cb.code is None:
            time.sleep(0.05)
            self.reap()
        self.crossbar = None
        return cb.code

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        realms = read_realms(self.settings, self.warned)
        self.start(realms)
        next_poll = time.monotonic() + self.settings.poll
        while True:
            if self.stop_signal is not None:
                log(f"{signal.Signals(self.stop_signal).name}: stopping Crossbar")
                code = self.stop()
                log(f"Crossbar stopped (exit code {code})")
                return 0
            self.reap()
            cb = self.crossbar
            if cb is not None and cb.code is not None:
                log(f"Crossbar exited on its own with code {cb.code}")
                return cb.code or 1
            if time.monotonic() >= next_poll:
                next_poll = time.monotonic() + self.settings.poll
                new = read_realms(self.settings, self.warned)
                if new != realms:
                    log(f"realms changed: {', '.join(realms) or 'none'} -> "
                        f"{', '.join(new) or 'none'}; restarting Crossbar")
                    self.stop()
                    realms = new
                    self.start(realms)
            time.sleep(0.1)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--print-config", action="store_true",
                   help="print the Crossbar configuration for the current realms and exit")
    args = p.parse_args(argv)
    settings = Settings()
    if args.print_config:
        realms = read_realms(settings, set())
        print(json.dumps(render_config(realms, settings.ws_port, settings.rs_port,
                                       settings.host, allow_empty=True), indent=2))
        return 0
    try:
        return Supervisor(settings).run()
    except OSError as exc:  # e.g. the node directory is not writable (no volume mounted)
        log(f"cannot run Crossbar: {exc} (HOMESIM_CBDIR={settings.cbdir} must be writable)")
        return 1


if __name__ == "__main__":
    sys.exit(main())
