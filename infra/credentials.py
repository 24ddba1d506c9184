"""Credentials of a local run: the files ``homesim run`` writes and ``homesim credentials`` /
``homesim wamp`` read.

Layout of a run folder (every secret readable by its owner only)::

    RUN_DIR/secrets/            0700
    RUN_DIR/secrets/home-key    0600  the run's random key; every secret derives from it
    RUN_DIR/secrets/<authid>    0600  one identity's secret (devices, clock, ledger, people)
    RUN_DIR/router.json               ws_url, rs_url, realm (no secret)

A process is given only the path of its own secret file (``HOMESIM_SECRET_FILE``), never a
secret on its command line or in the log.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from homesim.infra.router import write_private
from homesim.infra.router.access import (
    PEOPLE_ROLES,
    AccessPlan,
    derive_secret,
    resident_authid,
)

__all__ = ["Credential", "CredentialError", "secrets_dir", "write_run_secrets",
           "read_home_key", "credential_for"]

HOME_KEY = "home-key"


class CredentialError(ValueError):
    """A credential cannot be found or read (the message says what to do)."""


@dataclass(frozen=True)
class Credential:
    """Everything a client needs to join a run's realm as one identity."""

    ws_url: str
    rs_url: str
    realm: str
    authid: str
    role: str
    secret: str = field(repr=False)
    secret_file: Path | None = None

    def public(self) -> dict[str, str]:
        """The credential without its secret (safe to print or log)."""
        return {"ws_url": self.ws_url, "rs_url": self.rs_url, "realm": self.realm,
                "authid": self.authid, "role": self.role,
                "secret_file": str(self.secret_file or "")}


def secrets_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "secrets"


def write_run_secrets(run_dir: Path, plan: AccessPlan, home_key: str) -> Path:
    """Write the home key and one secret file per principal of ``plan``; the folder."""
    folder = secrets_dir(run_dir)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    write_private(folder / HOME_KEY, home_key + "\n")
    for p in plan.principals:
        write_private(folder / p.authid, derive_secret(home_key, plan.realm, p.authid) + "\n")
    return folder


def read_home_key(run_dir: Path) -> str | None:
    """The run's home key, or None if the run has none (e.g. a run older than credentials)."""
    path = secrets_dir(run_dir) / HOME_KEY
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def _authid_for(role: str, flat: str | None) -> str:
    if role == "resident":
        if not flat:
            raise CredentialError("the resident role needs --flat FLAT")
        return resident_authid(flat)
    if role not in PEOPLE_ROLES:
        raise CredentialError(f"unknown role {role!r}: choose one of "
                              f"{', '.join((*PEOPLE_ROLES, 'resident'))}")
    if flat:
        raise CredentialError("--flat goes with --role resident only")
    return role


def credential_for(run_dir: Path, role: str = "viewer", flat: str | None = None) -> Credential:
    """The credential of a person's ``role`` (``manager``, ``viewer``, ``operator``, or
    ``resident`` of ``flat``) for the run in ``run_dir``.

    Raises
    ------
    CredentialError
        If the folder is not a run, the role is unknown, the flat has no resident (not a flat
        of this block), or the secret file is missing or unreadable.
    """
    run_dir = Path(run_dir)
    info_path = run_dir / "router.json"
    try:
        info = json.loads(info_path.read_text())
    except (OSError, ValueError):
        raise CredentialError(f"{run_dir} is not a homesim run folder (no readable "
                              "router.json)") from None
    authid = _authid_for(role, flat)
    path = secrets_dir(run_dir) / authid
    try:
        secret = path.read_text().strip()
    except FileNotFoundError:
        if role == "resident":
            raise CredentialError(f"no resident of flat {flat!r} in this run (is it a flat "
                                  "of the block?)") from None
        raise CredentialError(f"no {role} credential in {secrets_dir(run_dir)} (a run "
                              "written before credentials existed?)") from None
    except OSError as exc:
        raise CredentialError(f"cannot read {path}: {exc.strerror}") from None
    return Credential(ws_url=str(info.get("ws_url", "")), rs_url=str(info.get("rs_url", "")),
                      realm=str(info.get("realm", "")), authid=authid,
                      role=authid if role == "resident" else role, secret=secret,
                      secret_file=path)
