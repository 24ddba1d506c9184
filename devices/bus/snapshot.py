"""Home snapshots: the state of every process of a run at a window boundary, on disk.

The clock takes one every ``snapshot_every`` windows (and on demand): once window ``w`` is
settled by every device and the ledger and before ``w + 1`` opens, it calls each device's
``snapshot`` procedure and the ledger's ``homesim.ledger.snapshot``, and writes

    RUN_DIR/snapshots/w<window>.json        (0600, written atomically)

.. code-block:: text

    {"version": 1, "run": RUN_ID, "home": NAME, "window": W, "tick": T, "sim_time": [s],
     "speed": SPEED, "energy": {flow: [J]},            the clock's position and totals
     "manifest": {...},                                 the Home with every device's
                                                        properties as they are at W
     "devices": {name: {"kind", "properties", "state"}},
     "ledger": {...}}                                   the ledger's running totals

``W`` is the next window to open and ``T`` the ticks settled so far. A run started from it
(``--restore FILE`` of every process; ``homesim resume``, ``homesim fork``) opens window ``W``
at tick ``T`` with every device's state loaded, and books exactly what the original run
booked after it (the devices are deterministic given their state).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["SNAPSHOT_VERSION", "SnapshotError", "snapshot_path", "write_snapshot",
           "read_snapshot", "latest_snapshot", "snapshot_at_or_before", "list_snapshots"]

SNAPSHOT_VERSION = 1
_REQUIRED = ("version", "run", "home", "window", "tick", "manifest", "devices", "ledger")


class SnapshotError(ValueError):
    """A snapshot file is missing, unreadable or not a homesim snapshot."""


def snapshot_path(folder: Path, window: int) -> Path:
    return Path(folder) / f"w{window:07d}.json"


def write_snapshot(folder: Path, doc: dict[str, Any]) -> Path:
    """Write ``doc`` as ``folder/w<window>.json``, readable by its owner only, atomically
    (a crash leaves the previous snapshot intact, never half a file). Returns the path."""
    folder = Path(folder)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = snapshot_path(folder, int(doc["window"]))
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(doc, fh, allow_nan=False, separators=(",", ":"))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def read_snapshot(path: Path) -> dict[str, Any]:
    """The snapshot in ``path``.

    Raises
    ------
    SnapshotError
        If it cannot be read, is not JSON, or lacks a field of the format.
    """
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise SnapshotError(f"cannot read the snapshot {path}: {exc}") from None
    if not isinstance(doc, dict) or any(k not in doc for k in _REQUIRED):
        raise SnapshotError(f"{path} is not a homesim snapshot (needs {', '.join(_REQUIRED)})")
    if doc["version"] != SNAPSHOT_VERSION:
        raise SnapshotError(f"{path}: snapshot version {doc['version']!r} is not "
                            f"{SNAPSHOT_VERSION}")
    return doc


def list_snapshots(folder: Path) -> list[tuple[int, Path]]:
    """``(window, path)`` of every snapshot in ``folder``, oldest first."""
    out = []
    for p in Path(folder).glob("w*.json"):
        try:
            out.append((int(p.stem[1:]), p))
        except ValueError:
            continue
    return sorted(out)


def latest_snapshot(folder: Path) -> Path | None:
    """The most recent snapshot in ``folder`` (None if there is none)."""
    snaps = list_snapshots(folder)
    return snaps[-1][1] if snaps else None


def snapshot_at_or_before(folder: Path, sim_time: float) -> Path | None:
    """The latest snapshot whose simulated time is ≤ ``sim_time`` [s since the epoch]."""
    best = None
    for _, p in list_snapshots(folder):
        doc = read_snapshot(p)
        if float(doc.get("sim_time", 0.0)) <= sim_time:
            best = p
    return best
