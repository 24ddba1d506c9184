"""The embedded Crossbar router of `homesim run`.

Crossbar cannot share homesim's environment (it pins idna<2.6, h2<4, eth-abi<5.2, ...), so it
lives in its own virtual environment, built once and cached:

    $HOMESIM_CACHE/router/<hash>/        (HOMESIM_CACHE defaults to ~/.cache/homesim)

`<hash>` covers `requirements.txt`, the start-up hook in `crossbar/` and the Python
version, so editing either builds a fresh environment next time (old ones may be deleted by
hand). The start-up hook (`crossbar/homesim_router_boot.py`, loaded by a `.pth` file in every
Python process of that venv, including the router workers Crossbar spawns) turns TCP_NODELAY
on for every accepted socket (Crossbar 26.10 leaves Nagle on: ~40 ms stalls on paced traffic;
`HOMESIM_ROUTER_NODELAY=0` disables the fix) and silences bjdata's NumPy 1.x/2.x notice.

The environment is built in a temporary directory and renamed into place, so its console
scripts (`bin/crossbar`, `bin/pip`) carry a stale shebang: always use `<venv>/bin/python -m`.

Endpoints of a started router (`start_router`):

* WebSocket, JSON + msgpack: ``ws://127.0.0.1:<ws_port>/ws`` - wamp-cli (JSON only), browsers.
* RawSocket, msgpack: ``rs://127.0.0.1:<rs_port>`` - devices. Autobahn's Component takes
  ``{"type": "rawsocket", "url": "rs://127.0.0.1:<rs_port>", "serializer": "msgpack"}``
  (see `component_transport`).

Messages up to 16 MiB on RawSocket (the protocol's maximum, 2**24) and 64 MiB on WebSocket.
One realm per router; every client authenticates and gets a role (see
:mod:`homesim.infra.router.access`). Clients need no ``wamp.*`` meta API.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

# the config is shared with the router container's entry point (stdlib only)
from homesim.infra.router.config import (
    RS_MAX_MESSAGE_SIZE,
    URI_PREFIX,
    WS_MAX_MESSAGE_SIZE,
    WS_PATH,
    RealmAccess,
    render_config,
)

__all__ = [
    "RS_MAX_MESSAGE_SIZE",
    "URI_PREFIX",
    "WS_MAX_MESSAGE_SIZE",
    "WS_PATH",
    "Router",
    "RouterError",
    "RealmAccess",
    "write_private",
    "component_transport",
    "free_ports",
    "ensure_router_env",
    "render_config",
    "router_env_dir",
    "start_router",
]

HERE = Path(__file__).resolve().parent
REQUIREMENTS = HERE / "requirements.txt"
BOOT_FILES = (
    HERE / "crossbar" / "homesim_router_boot.py",
    HERE / "crossbar" / "homesim_router_boot.pth",
)

CACHE_ENV = "HOMESIM_CACHE"
NODELAY_ENV = "HOMESIM_ROUTER_NODELAY"
MARKER = "homesim-router.json"

# `bin/crossbar` has a stale shebang (the venv is built elsewhere and renamed), so run it so:
_CROSSBAR_MAIN = "import sys, crossbar; sys.argv[0] = 'crossbar'; sys.exit(crossbar.run())"
_PIP_TAIL_LINES = 40
_LOG_TAIL_LINES = 30
# Python variables of the caller's environment that must not leak into the router venv.
_SCRUBBED_ENV = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONSAFEPATH", "VIRTUAL_ENV")


class RouterError(RuntimeError):
    """The router environment could not be built, or the router did not start."""


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only (0600 from the first byte on:
    created with that mode, then replaced atomically)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------- environment


def _cache_root(cache_dir: Path | None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "homesim"


def _env_hash() -> str:
    h = hashlib.sha256()
    for path in (REQUIREMENTS, *BOOT_FILES):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    h.update(f"{sys.implementation.name}-{sys.version_info[0]}.{sys.version_info[1]}".encode())
    return h.hexdigest()[:12]


def router_env_dir(cache_dir: Path | None = None) -> Path:
    """Where the router venv for the current requirements lives (whether built or not)."""
    return _cache_root(cache_dir) / "router" / _env_hash()


def _venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _is_ready(venv: Path) -> bool:
    # the marker is written before the rename; exists() follows the python symlink, so a venv
    # whose base interpreter disappeared counts as broken and is rebuilt
    return (venv / MARKER).is_file() and _venv_python(venv).exists()


def ensure_router_env(
    cache_dir: Path | None = None, progress: Callable[[str], None] | None = None
) -> Path:
    """Return the python of the Crossbar router venv, building it the first time (~1.5 min).

    `progress` receives one-line status messages (stages and pip's "Collecting ..." lines).
    Safe to call from several processes at once: one builds, the others wait on a file lock.
    Raises `RouterError` (with the tail of pip's output) when the build fails.
    """
    venv = router_env_dir(cache_dir)
    if _is_ready(venv):
        return _venv_python(venv)
    say = progress or (lambda _msg: None)
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f".{venv.name}.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say("Waiting for another homesim process to finish building the router environment")
            fcntl.flock(lock, fcntl.LOCK_EX)
        if _is_ready(venv):
            return _venv_python(venv)
        # we hold the lock: anything left for this hash is debris of an interrupted build
        for stale in venv.parent.glob(f".{venv.name}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        if venv.exists():
            shutil.rmtree(venv)
        tmp = Path(tempfile.mkdtemp(prefix=f".{venv.name}.tmp-", dir=venv.parent))
        try:
            _build_env(tmp, say)
            tmp.rename(venv)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    say(f"Router environment ready: {venv}")
    return _venv_python(venv)


def _run_quiet(cmd: list[str], what: str, env: dict[str, str], cwd: Path) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-_PIP_TAIL_LINES:])
        raise RouterError(f"{what} failed (exit code {proc.returncode}):\n{tail}")
    return proc.stdout


def _build_env(venv: Path, say: Callable[[str], None]) -> None:
    say("Creating the Crossbar router environment (one time, about 1.5 minutes)")
    env = _clean_env()
    cwd = venv.parent  # never the caller's cwd: `python -m` puts it first on sys.path
    _run_quiet([sys.executable, "-I", "-m", "venv", str(venv)], "python -m venv", env, cwd)
    python = str(_venv_python(venv))

    say("Installing Crossbar into the router environment")
    cmd = [
        python,
        "-I",
        "-u",
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        "--progress-bar",
        "off",
        "-r",
        str(REQUIREMENTS),
    ]
    tail: deque[str] = deque(maxlen=_PIP_TAIL_LINES)
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    with proc:
        for line in proc.stdout:
            line = line.rstrip()
            tail.append(line)
            if line.startswith(("Collecting ", "Building wheel", "Installing collected")):
                say(line.split(" (from ")[0][:120])
    if proc.returncode != 0:
        joined = "\n".join(tail)
        raise RouterError(
            f"pip install -r {REQUIREMENTS.name} failed (exit code {proc.returncode}):\n{joined}"
        )

    site = _run_quiet(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        "locating site-packages",
        env,
        cwd,
    ).strip()
    for src in BOOT_FILES:
        shutil.copy2(src, Path(site) / src.name)

    say("Checking the router environment")
    check = (
        "import contextlib, io\n"
        "with contextlib.redirect_stderr(io.StringIO()) as err:\n"
        "    import crossbar, autobahn.wamp.serializer\n"
        "assert 'NumPy' not in err.getvalue(), err.getvalue()\n"
        "from twisted.internet import tcp\n"
        "assert tcp.Server.__init__._homesim_nodelay, 'TCP_NODELAY patch not active'\n"
    )
    _run_quiet([python, "-c", check], "router environment check", {**env, NODELAY_ENV: "1"}, cwd)
    versions = _run_quiet(
        [
            python,
            "-c",
            "import crossbar, autobahn, twisted; "
            "print(crossbar.__version__, autobahn.__version__, twisted.__version__)",
        ],
        "reading versions",
        env,
        cwd,
    ).split()
    marker = {
        "requirements": REQUIREMENTS.read_text(),
        "python": sys.version.split()[0],
        "crossbar": versions[0] if versions else None,
        "autobahn": versions[1] if len(versions) > 1 else None,
        "twisted": versions[2] if len(versions) > 2 else None,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    (venv / MARKER).write_text(json.dumps(marker, indent=2) + "\n")


def _clean_env(nodelay: bool | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
    env["PYTHONUNBUFFERED"] = "1"
    if nodelay is not None:
        env[NODELAY_ENV] = "1" if nodelay else "0"
    return env


# --------------------------------------------------------------------------- config


def component_transport(url: str) -> dict[str, Any]:
    """Autobahn `Component` transport for a router URL (`rs://...` or `ws://.../ws`)."""
    if url.startswith(("rs://", "rss://")):
        return {"type": "rawsocket", "url": url, "serializer": "msgpack"}
    if url.startswith(("ws://", "wss://")):
        return {"type": "websocket", "url": url, "serializers": ["msgpack", "json"]}
    raise ValueError(f"not a router URL (rs://host:port or ws://host:port/ws): {url!r}")


# --------------------------------------------------------------------------- process


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _ephemeral_range() -> tuple[int, int]:
    """The kernel's range for ``bind(port 0)`` and outgoing connections (Linux), else IANA's."""
    try:
        lo, hi = (int(x) for x in
                  Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
        return lo, hi
    except (OSError, ValueError):
        return 49152, 65535


def free_ports(host: str, count: int) -> list[int]:
    """``count`` distinct free TCP ports on ``host`` (held open together while picked).

    Picked at random **below the kernel's ephemeral range** when there is room (10000 … the
    range's start): the router binds them only seconds later, and in between every device's
    metrics server and every outgoing connection takes an ephemeral port, which could be the
    very port picked by ``bind(0)`` and released (Crossbar then fails with
    ``cannot_listen``). Falls back to ``bind(0)`` where that range is too small.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    lo, _hi = _ephemeral_range()
    rng = random.SystemRandom()
    # up to 200 random tries (shuffling the whole range cost 0.4 s of start-up)
    candidates = ([rng.randrange(10000, lo) for _ in range(200)]
                  if lo - 10000 >= 1000 else [])
    with contextlib.ExitStack() as stack:
        ports: list[int] = []
        for port in candidates:
            if len(ports) == count:
                break
            if port in ports:
                continue
            s = stack.enter_context(socket.socket(family, socket.SOCK_STREAM))
            try:
                s.bind((host, port))
            except OSError:
                continue
            ports.append(port)
        while len(ports) < count:
            s = stack.enter_context(socket.socket(family, socket.SOCK_STREAM))
            s.bind((host, 0))
            ports.append(s.getsockname()[1])
        return ports


def _port_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Twisted's listenTCP
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _first_error(text: str) -> str | None:
    """The first exception line of a log excerpt ("...Error: message"), if any."""
    for line in text.splitlines():
        stripped = line.strip()
        if re.match(r"^[\w.]+(Error|Exception): ", stripped):
            return stripped
    return None


def _tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            text = f.read().decode(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


class Router:
    """A running Crossbar node (controller + one router worker), see `start_router`."""

    def __init__(
        self,
        proc: subprocess.Popen,
        *,
        host: str,
        ws_port: int,
        rs_port: int,
        realms: list[str],
        workdir: Path,
        log_file: Any,
    ) -> None:
        self._proc = proc
        self._log_file = log_file
        self._known: dict[int, psutil.Process] = {}
        self._stopped = False
        self.host = host
        self.ws_port = ws_port
        self.rs_port = rs_port
        self.realms = list(realms)
        self.workdir = workdir
        self.log_path = workdir / "router.log"
        self.config_path = workdir / ".crossbar" / "config.json"
        self.ws_url = f"ws://{_url_host(host)}:{ws_port}{WS_PATH}"
        self.rs_url = f"rs://{_url_host(host)}:{rs_port}"

    @property
    def pid(self) -> int:
        """PID of the Crossbar controller (the leader of the router's process group)."""
        return self._proc.pid

    @property
    def process(self) -> subprocess.Popen:
        return self._proc

    def poll(self) -> int | None:
        """Exit code of the controller, or None while it runs."""
        return self._proc.poll()

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        return _tail(self.log_path, lines)

    def processes(self) -> list[psutil.Process]:
        """The controller and every process it spawned (alive ones)."""
        self._remember()
        return [p for p in self._known.values() if _alive(p)]

    def _remember(self) -> None:
        try:
            root = psutil.Process(self._proc.pid)
            for p in [root, *root.children(recursive=True)]:
                self._known.setdefault(p.pid, p)
        except psutil.Error:
            pass

    def _listening(self) -> bool:
        ports = {self.ws_port, self.rs_port}
        for p in self.processes():
            with contextlib.suppress(psutil.Error):
                for c in p.net_connections(kind="tcp"):
                    if c.status == psutil.CONN_LISTEN and c.laddr:
                        ports.discard(c.laddr.port)
        if ports:
            return False
        for port in (self.ws_port, self.rs_port):  # really accepting
            with socket.create_connection((self.host, port), timeout=1):
                pass
        return True

    def socket_nodelay(self) -> dict[tuple[str, int], bool]:
        """TCP_NODELAY of every accepted client connection, read from the router's own sockets.

        Keyed by the client's (host, port). Diagnostic (tests, benchmarks): duplicates each
        socket with pidfd_getfd(2), so it needs Linux >= 5.6 and ptrace rights over the router
        (same user; root if kernel.yama.ptrace_scope >= 2); raises OSError otherwise.
        """
        ports = {self.ws_port, self.rs_port}
        result: dict[tuple[str, int], bool] = {}
        for p in self.processes():
            try:
                conns = p.net_connections(kind="tcp")
            except psutil.Error:
                continue
            for c in conns:
                if c.status == psutil.CONN_LISTEN or not c.raddr or c.laddr.port not in ports:
                    continue
                with _pidfd_getfd(p.pid, c.fd) as sock:
                    value = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
                result[(c.raddr.ip, c.raddr.port)] = bool(value)
        return result

    def stop(self, timeout: float = 10) -> int | None:
        """SIGTERM the router's process group and every process it spawned, SIGKILL what is
        left after `timeout` seconds. Returns the controller's exit code. Idempotent."""
        if self._stopped:  # never signal a process group id that may have been reused since
            return self._proc.returncode
        self._stopped = True
        self._remember()
        procs = [p for p in self._known.values() if p.pid != self._proc.pid]
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, signal.SIGTERM)
        for p in procs:  # workers that left the group, if any
            with contextlib.suppress(psutil.Error):
                p.terminate()
        deadline = time.monotonic() + timeout
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        _, alive = psutil.wait_procs(procs, timeout=max(0.0, deadline - time.monotonic()))
        if self._proc.poll() is None or alive:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, signal.SIGKILL)
            for p in alive:
                with contextlib.suppress(psutil.Error):
                    p.kill()
            self._proc.wait()
            psutil.wait_procs(alive, timeout=5)
        if not self._log_file.closed:
            self._log_file.close()
        return self._proc.returncode

    def __enter__(self) -> Router:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.poll() is None else f"exited {self.poll()}"
        return f"<Router pid={self.pid} {self.rs_url} {self.ws_url} {state}>"


_SYS_PIDFD_GETFD = 438  # on every Linux architecture but alpha


@contextlib.contextmanager
def _pidfd_getfd(pid: int, fd: int):
    """A duplicate of file descriptor `fd` of process `pid`, as a socket (closed on exit)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    try:
        dup = libc.syscall(_SYS_PIDFD_GETFD, pidfd, fd, 0)
        if dup < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"pidfd_getfd({pid}, {fd}): {os.strerror(err)}")
    finally:
        os.close(pidfd)
    sock = socket.socket(fileno=dup)  # closing our duplicate leaves the router's socket alone
    try:
        yield sock
    finally:
        sock.close()


def _alive(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def start_router(
    workdir: Path,
    access: RealmAccess,
    ws_port: int = 0,
    rs_port: int = 0,
    timeout: float = 60,
    *,
    host: str = "127.0.0.1",
    python: Path | None = None,
    nodelay: bool | None = None,
    progress: Callable[[str], None] | None = None,
) -> Router:
    """Start Crossbar serving `access.realm`; return once both ports accept connections.

    Writes `<workdir>/.crossbar/config.json` (it holds every secret: the folder is 0700, the
    file 0600), logs to `<workdir>/router.log` (level warn).
    Ports 0 pick free ports. `python` is the router venv's interpreter (default:
    `ensure_router_env(progress=progress)`, which builds it the first time). `nodelay=False`
    disables the TCP_NODELAY fix (default: inherit HOMESIM_ROUTER_NODELAY, else on).
    Raises `RouterError` with the log's tail if Crossbar exits or is not up within `timeout`.
    """
    realms = [access.realm]
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    python = Path(python) if python else ensure_router_env(progress=progress)
    for port in (ws_port, rs_port):
        if port and not _port_free(host, port):
            raise RouterError(f"cannot start the router: port {port} on {host} is in use")
    free = iter(free_ports(host, (ws_port == 0) + (rs_port == 0)))
    ws_port = ws_port or next(free)
    rs_port = rs_port or next(free)
    cbdir = workdir / ".crossbar"
    cbdir.mkdir(mode=0o700, exist_ok=True)
    os.chmod(cbdir, 0o700)
    config = render_config(access, ws_port, rs_port, host)
    write_private(cbdir / "config.json", json.dumps(config, indent=2) + "\n")

    log_file = open(workdir / "router.log", "wb")  # noqa: SIM115 - owned by the Router
    # -I: neither the cwd nor PYTHON* variables of the caller reach the router; cwd=cbdir is
    # inherited by the workers, which run `python -m crossbar.worker.main` (cwd on sys.path)
    cmd = [
        str(python),
        "-I",
        "-u",
        "-c",
        _CROSSBAR_MAIN,
        "start",
        "--cbdir",
        str(cbdir),
        "--loglevel",
        "warn",
        "--logformat",
        "standard",
        "--color",
        "false",
    ]
    try:
        proc = subprocess.Popen(
            cmd,
            cwd=cbdir,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=_clean_env(nodelay),
            start_new_session=True,
        )
    except OSError as exc:
        log_file.close()
        raise RouterError(f"cannot start Crossbar ({python}): {exc}") from exc
    router = Router(
        proc,
        host=host,
        ws_port=ws_port,
        rs_port=rs_port,
        realms=realms,
        workdir=workdir,
        log_file=log_file,
    )

    deadline = time.monotonic() + timeout
    while True:
        code = proc.poll()
        if code is not None:
            router.stop(timeout=5)
            tail = router.log_tail()
            cause = _first_error(_tail(router.log_path, 200)) or "see below"
            raise RouterError(
                f"Crossbar router exited with code {code} during start-up ({cause}); "
                f"{router.log_path}:\n{tail}"
            )
        try:
            if router._listening():
                return router
        except OSError:
            pass
        if time.monotonic() > deadline:
            router.stop(timeout=5)
            raise RouterError(
                f"Crossbar router not accepting on ports {ws_port}/{rs_port} after {timeout:g} s; "
                f"{router.log_path}:\n{router.log_tail()}"
            )
        time.sleep(0.05)
