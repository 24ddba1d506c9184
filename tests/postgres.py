"""A real PostgreSQL server for tests: Debian's ``postgresql`` binaries, started and stopped by
the test itself (initdb into a fresh directory, a free port on 127.0.0.1, a Unix socket in that
directory, password authentication). As root the server runs as the ``postgres`` user (the
server refuses root)."""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

PG_LIB = Path("/usr/lib/postgresql")


def pg_bin() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` with ``initdb`` (None if absent)."""
    if not PG_LIB.is_dir():
        return None
    found = sorted((p for p in PG_LIB.iterdir() if (p / "bin" / "initdb").exists()),
                   key=lambda p: int(p.name) if p.name.isdigit() else 0)
    return found[-1] / "bin" if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    """One throw-away PostgreSQL cluster; :attr:`dsn` holds user, password, host, port."""

    user = "homesim"

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.base = Path(tempfile.mkdtemp(prefix="homesim-pg-"))
        self.data = self.base / "data"
        self.password = secrets.token_hex(12)
        self.port = _free_port()
        self.dsn = f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/postgres"
        self._as: dict[str, int] = {}
        if os.geteuid() == 0:  # postgres refuses to run as root
            pw = pwd.getpwnam("postgres")
            os.chown(self.base, pw.pw_uid, pw.pw_gid)
            self._as = {"user": pw.pw_uid, "group": pw.pw_gid}

    def _run(self, *cmd: str) -> None:
        res = subprocess.run([str(self.bindir / cmd[0]), *cmd[1:]], capture_output=True,
                             text=True, timeout=120, cwd=self.base, **self._as)  # type: ignore[call-overload]
        if res.returncode != 0:
            log = self.base / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{cmd[0]} failed ({res.returncode}): {res.stderr[-2000:]}\n"
                               f"{tail}")

    def start(self) -> PgServer:
        pwfile = self.base / "pw"
        pwfile.write_text(self.password + "\n")
        if self._as:
            os.chown(pwfile, self._as["user"], self._as["group"])
        pwfile.chmod(0o600)
        self._run("initdb", "-D", str(self.data), "-U", self.user, "--auth=scram-sha-256",
                  f"--pwfile={pwfile}", "-E", "UTF8", "--no-sync", "--no-instructions")
        pwfile.unlink()
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.base / "server.log"), "-w",
                  "-t", "60", "-o", f"-p {self.port} -k {self.base} "
                  "-c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off",
                  "start")
        return self

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)
