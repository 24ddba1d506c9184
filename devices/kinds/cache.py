"""A disk cache for pure per-tick series that repeat across runs (solar position, …).

A sweep, a what-if fork, a benchmark's second run or eight copies of one home all compute
the same solar position for the same place, ``start`` and ``dt``. :func:`chunked` keeps such
a series on disk in chunks of ticks (one day of ticks by default), keyed by the function's
name, its inputs and the versions that could change its result; a window then reads the
chunks it covers instead of computing them (and a process whose windows all hit the cache
never imports the library that computes them).

Only pure, element-wise functions belong here: a chunk computed alone must equal the same
ticks computed in any other grouping (the caller's promise, checked by the tests for the
series cached today). The cache is an optimisation, never a source of truth: any failure to
read or write it (read-only home, full disk, a corrupt or foreign file) falls back to
computing, and ``HOMESIM_CACHE=off`` disables it.

Location: ``$HOMESIM_CACHE`` if set (a folder), else ``~/.cache/homesim/series``.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import logging
import os
import tempfile
from collections.abc import Callable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["chunked", "cache_dir", "SECONDS_PER_CHUNK"]

log = logging.getLogger("homesim.cache")

SECONDS_PER_CHUNK = 86400.0
"""Simulated time per cache chunk [s] (one day): what a ``max``-speed window covers."""

_FORMAT = 1  # bump when the chunk layout changes


def cache_dir() -> Path | None:
    """The cache folder, or None when ``HOMESIM_CACHE=off``."""
    env = os.environ.get("HOMESIM_CACHE", "")
    if env.lower() in ("off", "0", "no", "false"):
        return None
    if env:
        return Path(env)
    return Path.home() / ".cache" / "homesim" / "series"


@functools.cache
def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "-"


@functools.cache
def _source_digest(module: str) -> str:
    """Digest of a module's source: a changed model makes new cache entries."""
    if not module:
        return "-"
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return "-"
    origin = spec.origin if spec is not None else None
    try:
        return hashlib.sha256(Path(origin).read_bytes()).hexdigest() if origin else "-"
    except OSError:
        return "-"


def _key_digest(name: str, key: Mapping[str, Any], versions: tuple[str, ...],
                model: str) -> str:
    doc = {"format": _FORMAT, "name": name, "key": dict(key),
           "versions": {d: _version(d) for d in versions}, "model": _source_digest(model)}
    return _digest(json.dumps(doc, sort_keys=True, default=repr))


@functools.lru_cache(maxsize=64)
def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _load(path: Path, names: set[str] | None, n: int) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            out = {k: z[k] for k in z.files}
    except (OSError, ValueError, KeyError):
        return None
    if (names is not None and set(out) != names) or \
            any(v.shape != (n,) or v.dtype != np.float64 for v in out.values()):
        return None
    return out


def _save(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **{k: np.ascontiguousarray(v, dtype=np.float64)
                              for k, v in arrays.items()})
            os.replace(tmp, path)  # atomic: a concurrent reader sees all or nothing
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        log.debug("series cache not written (%s): %s", path, exc)


def chunked(name: str, key: Mapping[str, Any], tick0: int, n: int, dt: float,
            compute: Callable[[int, int], Mapping[str, np.ndarray]],
            versions: tuple[str, ...] = (), model: str = "") -> dict[str, np.ndarray]:
    """Ticks ``tick0 … tick0 + n - 1`` of a cached series: ``{name: array (n,)}``.

    Parameters
    ----------
    name : str
        The series' name (a folder of the cache).
    key : mapping
        Every input the series depends on besides the tick numbers (place, ``start`` [s],
        ``dt`` [s], model options), JSON-serialisable.
    tick0, n : int
        The ticks wanted (a window).
    dt : float
        Tick length [s]; a chunk holds ``ceil(SECONDS_PER_CHUNK / dt)`` ticks.
    compute : callable
        ``compute(c0, m)`` → ``{name: array (m,)}`` for ticks ``c0 … c0 + m - 1``; pure and
        element-wise (see the module docstring).
    versions : tuple of str
        Distributions whose version is part of the key (``("pvlib",)``).
    model : str
        The module that computes the series (``"homesim.devices.models.sun"``): its source
        is part of the key, so editing the model never reads stale chunks.

    Returns
    -------
    dict of numpy.ndarray
        Float64 arrays of shape ``(n,)``, equal to ``compute(tick0, n)``.
    """
    root = cache_dir()
    if root is None or n <= 0:
        return {k: np.asarray(v, dtype=float) for k, v in compute(tick0, n).items()}
    per = max(1, int(np.ceil(SECONDS_PER_CHUNK / dt)))
    folder = root / name / _key_digest(name, key, versions, model)
    parts: list[dict[str, np.ndarray]] = []
    names: set[str] | None = None
    for c in range(tick0 // per, (tick0 + n - 1) // per + 1):
        c0 = c * per
        path = folder / f"{c}.npz"
        got = _load(path, names, per)
        if got is None:
            got = {k: np.asarray(v, dtype=np.float64) for k, v in compute(c0, per).items()}
            _save(path, got)
        names = set(got)
        lo, hi = max(tick0, c0) - c0, min(tick0 + n, c0 + per) - c0
        parts.append({k: v[lo:hi] for k, v in got.items()})
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
