"""Entry point of the router container (``localhost/homesim-router``): one home's Crossbar.

The image runs this file as a script with the router venv's Python, where neither homesim nor
its dependencies are installed: standard library only (no import from homesim).

One router per Home: the operator renders the home's Crossbar configuration
(:func:`homesim.operator.render.render_home`, key ``config.json`` of the Secret
``<home>-wamp``) and mounts it, alone, at ``$HOMESIM_ROUTER_CONFIG``. This script checks it,
copies it into ``$HOMESIM_CBDIR/config.json`` (mode 0600: it holds every identity's secret),
starts Crossbar and waits. SIGTERM, SIGINT and SIGHUP stop Crossbar (SIGKILL after 10 s) and
exit 0; if Crossbar exits on its own, so does this process, with Crossbar's exit code (1 if
that was 0). There is no realm list and no restart: a new configuration (the home's
principals changed) comes with a new pod (the Deployment's ``homesim.io/config-sha256``).

The configuration is refused (exit 1, one clear line) when the file is missing, unreadable or
not JSON, is not a Crossbar node configuration (``version`` 2, ``workers``), or lets anybody
in unauthenticated: every transport (and every WebSocket path) needs an ``auth`` section, and
``anonymous`` is accepted on loopback interfaces only (Crossbar allows anonymous on a
transport without ``auth``).

Environment (default):

* ``HOMESIM_ROUTER_CONFIG`` (``/etc/homesim-router/config.json``): the configuration;
* ``HOMESIM_CBDIR`` (``/var/lib/crossbar``): Crossbar's node directory, must be writable;
* ``HOMESIM_ROUTER_LOGLEVEL`` (``info``): Crossbar's ``--loglevel``.

    python entry.py                 run (the container's entry point)
    python entry.py --print-config  print the configuration it would start, every secret
                                    and ticket replaced by "***" (exit 1 if it is refused)
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
from typing import Any

__all__ = ["ConfigError", "Settings", "load_config", "main", "redact", "write_config"]

DEFAULT_CONFIG = "/etc/homesim-router/config.json"
DEFAULT_CBDIR = "/var/lib/crossbar"
STOP_GRACE = 10.0  # seconds between SIGTERM and SIGKILL of Crossbar's process group
LOOPBACK = ("127.0.0.1", "::1", "localhost")
#: Keys whose values are credentials in a Crossbar configuration (never printed).
SECRET_KEYS = frozenset({"secret", "ticket", "password", "salt", "token"})
# `crossbar` as a module (console-script shebangs are fragile; the worker processes Crossbar
# spawns use sys.executable anyway)
CROSSBAR_MAIN = "import sys, crossbar; sys.argv[0] = 'crossbar'; sys.exit(crossbar.run())"


def log(msg: str) -> None:
    print(f"homesim-router: {msg}", file=sys.stderr, flush=True)


class ConfigError(ValueError):
    """The configuration file is missing, unreadable, invalid or unsafe (the message names
    the file and the problem, never a secret)."""


class Settings:
    """The entry point's settings, read from the environment (see the module docstring)."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        env = dict(os.environ if env is None else env)
        self.config = Path(env.get("HOMESIM_ROUTER_CONFIG") or DEFAULT_CONFIG)
        self.cbdir = Path(env.get("HOMESIM_CBDIR") or DEFAULT_CBDIR)
        self.loglevel = env.get("HOMESIM_ROUTER_LOGLEVEL") or "info"


def _check_auth(auth: Any, where: str, interface: str) -> None:
    if not isinstance(auth, dict) or not auth:
        raise ConfigError(f"{where} has no 'auth' section (Crossbar would let anybody in "
                          f"anonymously)")
    if "anonymous" in auth and interface not in LOOPBACK:
        raise ConfigError(f"{where} allows anonymous clients on {interface!r} (only a "
                          f"loopback interface may)")


def check_config(config: Any, source: str = "the configuration") -> dict[str, Any]:
    """``config`` if it is a Crossbar node configuration with authentication on every
    transport; raises ConfigError otherwise (see the module docstring)."""
    if not isinstance(config, dict) or config.get("version") != 2:
        raise ConfigError(f"{source} is not a Crossbar node configuration (version 2)")
    workers = config.get("workers")
    if not isinstance(workers, list) or not workers:
        raise ConfigError(f"{source} has no workers")
    for w in workers:
        if not isinstance(w, dict):
            raise ConfigError(f"{source}: a worker is not an object")
        if w.get("type") != "router":
            continue
        if not w.get("realms"):
            raise ConfigError(f"{source}: the router worker serves no realm")
        for i, t in enumerate(w.get("transports") or []):
            if not isinstance(t, dict):
                raise ConfigError(f"{source}: transport {i} is not an object")
            interface = str((t.get("endpoint") or {}).get("interface", "0.0.0.0"))
            where = f"{source}: transport {i} ({t.get('type')})"
            if t.get("type") == "web":
                for path, service in (t.get("paths") or {}).items():
                    if isinstance(service, dict) and service.get("type") == "websocket":
                        _check_auth(service.get("auth"), f"{where} path /{path}", interface)
            else:
                _check_auth(t.get("auth"), where, interface)
    return config


def load_config(path: Path) -> tuple[dict[str, Any], str]:
    """The checked configuration in ``path`` and its text.

    Raises ConfigError if the file is missing, unreadable, not JSON or refused by
    :func:`check_config`."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"no router configuration at {path} (HOMESIM_ROUTER_CONFIG; the "
                          f"operator mounts config.json of the Secret <home>-wamp)") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise ConfigError(f"cannot read the router configuration {path}: {reason}") from None
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:  # the message gives a position, not the content
        raise ConfigError(f"the router configuration {path} is not JSON (line {exc.lineno}, "
                          f"column {exc.colno}: {exc.msg})") from None
    return check_config(config, str(path)), text


def redact(node: Any) -> Any:
    """A copy of ``node`` with every credential value (:data:`SECRET_KEYS`) replaced by
    ``"***"``."""
    if isinstance(node, dict):
        return {k: "***" if k in SECRET_KEYS and isinstance(v, str | int | float)
                else redact(v) for k, v in node.items()}
    if isinstance(node, list):
        return [redact(v) for v in node]
    return node


def write_config(settings: Settings, text: str) -> Path:
    """Write ``text`` into ``<cbdir>/config.json``, readable by its owner only (0600 from
    the first byte on, replaced atomically). Raises OSError if the directory is not
    writable."""
    settings.cbdir.mkdir(parents=True, exist_ok=True)
    path = settings.cbdir / "config.json"
    tmp = path.with_name(f".config.json.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return path


def _listening(config: dict[str, Any]) -> str:
    parts = []
    for w in config["workers"]:
        for t in w.get("transports") or []:
            ep = t.get("endpoint") or {}
            parts.append(f"{t.get('type')} {ep.get('interface', '0.0.0.0')}:{ep.get('port')}")
    realms = [r.get("name") for w in config["workers"] for r in w.get("realms") or []]
    return f"realm {', '.join(map(str, realms))} on {', '.join(parts)}"


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
    """Runs Crossbar until a stop signal or until it exits; see the module docstring."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stop_signal: int | None = None
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

    def run(self, config: dict[str, Any], text: str) -> int:
        """Write the configuration, start Crossbar, wait; the exit code (see the module
        docstring). Raises OSError if the node directory is not writable."""
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        path = write_config(self.settings, text)
        log(f"starting Crossbar: {_listening(config)} ({path})")
        self.crossbar = Crossbar(self.settings)
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
            time.sleep(0.1)


def main(argv: list[str] | None = None) -> int:
    """Run (or with ``--print-config`` print) the router; the process's exit code."""
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--print-config", action="store_true",
                   help="print the configuration it would start (secrets replaced by ***) "
                        "and exit")
    args = p.parse_args(argv)
    settings = Settings()
    try:
        config, text = load_config(settings.config)
    except ConfigError as exc:
        log(f"refusing to start: {exc}")
        return 1
    if args.print_config:
        print(json.dumps(redact(config), indent=2))
        return 0
    try:
        return Supervisor(settings).run(config, text)
    except OSError as exc:  # e.g. the node directory is not writable (no volume mounted)
        log(f"cannot run Crossbar: {exc} (HOMESIM_CBDIR={settings.cbdir} must be writable)")
        return 1


if __name__ == "__main__":
    sys.exit(main())
