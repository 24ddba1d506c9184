"""The disk cache of pure per-tick series (devices/kinds/cache.py) and the sun that uses it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from homesim.devices.kinds import cache
from homesim.devices.kinds.cache import chunked
from homesim.devices.models.sun import solar_position, tick_midpoints

LAT, LON, ALT, START = 36.1, -79.9, 270.0, 1735707600.0  # the example home, 2025-01-01 05:00Z


def _sun(dt: float):
    def compute(c0: int, m: int) -> dict[str, np.ndarray]:
        calls.append((c0, m))
        return solar_position(tick_midpoints(START, dt, c0, m), LAT, LON, ALT)
    calls: list[tuple[int, int]] = []
    return compute, calls


def _key(dt: float) -> dict:
    return {"latitude": LAT, "longitude": LON, "altitude": ALT, "start": START, "dt": dt}


@pytest.mark.parametrize("dt, windows", [
    (60.0, [(0, 1440), (1437, 7), (2880, 2880), (5, 1)]),  # within, across chunks, 2 chunks
    (900.0, [(0, 96), (90, 20)]),
    (7.0, [(12340, 30000)]),  # a chunk of ceil(86400 / 7) ticks, not a whole day
])
def test_cached_windows_equal_computed_ones_bit_for_bit(tmp_path, monkeypatch, dt, windows):
    monkeypatch.setenv("HOMESIM_CACHE", str(tmp_path))
    for tick0, n in windows:
        want = solar_position(tick_midpoints(START, dt, tick0, n), LAT, LON, ALT)
        for attempt in ("cold", "warm"):
            compute, calls = _sun(dt)
            got = chunked("solar_position", _key(dt), tick0, n, dt, compute, ("pvlib",))
            assert got.keys() == want.keys()
            for k in want:
                assert got[k].shape == (n,)
                assert np.array_equal(got[k], want[k]), (attempt, k)
            if attempt == "warm":
                assert calls == [], "a warm cache computes nothing"
    assert list(tmp_path.rglob("*.npz"))


def test_the_key_separates_places_and_grids(tmp_path, monkeypatch):
    monkeypatch.setenv("HOMESIM_CACHE", str(tmp_path))
    compute, _ = _sun(60.0)
    a = chunked("solar_position", _key(60.0), 0, 60, 60.0, compute)
    other = {**_key(60.0), "latitude": -LAT}
    b = chunked("solar_position", other, 0, 60, 60.0,
                lambda c0, m: solar_position(tick_midpoints(START, 60.0, c0, m), -LAT, LON, ALT))
    assert not np.array_equal(a["zenith"], b["zenith"])
    assert len({p.parent for p in tmp_path.rglob("*.npz")}) == 2


def test_a_corrupt_or_foreign_chunk_is_recomputed(tmp_path, monkeypatch):
    monkeypatch.setenv("HOMESIM_CACHE", str(tmp_path))
    compute, calls = _sun(60.0)
    want = chunked("solar_position", _key(60.0), 0, 100, 60.0, compute)
    (chunk,) = tmp_path.rglob("0.npz")
    chunk.write_bytes(b"not a zip file")
    compute, calls = _sun(60.0)
    got = chunked("solar_position", _key(60.0), 0, 100, 60.0, compute)
    assert calls == [(0, 1440)] and all(np.array_equal(got[k], want[k]) for k in want)
    np.savez(chunk, zenith=np.zeros(3))  # the wrong names and shape
    compute, calls = _sun(60.0)
    got = chunked("solar_position", _key(60.0), 0, 100, 60.0, compute)
    assert calls == [(0, 1440)] and all(np.array_equal(got[k], want[k]) for k in want)


def test_off_and_unwritable_caches_compute(tmp_path, monkeypatch):
    monkeypatch.setenv("HOMESIM_CACHE", "off")
    compute, calls = _sun(60.0)
    chunked("solar_position", _key(60.0), 0, 10, 60.0, compute)
    assert calls == [(0, 10)]  # only the window, nothing stored
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    monkeypatch.setenv("HOMESIM_CACHE", str(ro / "series"))
    compute, calls = _sun(60.0)
    got = chunked("solar_position", _key(60.0), 0, 10, 60.0, compute)
    assert got["zenith"].shape == (10,)
    if os.geteuid() != 0:  # root writes anyway
        assert not list(ro.rglob("*.npz"))


def test_a_sun_on_a_warm_cache_imports_neither_pvlib_nor_pandas(tmp_path):
    """The point of the cache for footprint: the sun process then never loads pvlib."""
    code = f"""
import sys
from homesim.devices.__main__ import shell_class
from homesim.devices.kinds.base import Window
from homesim.schemas.manifest import load_manifest
home = load_manifest({str(Path(__file__).parents[1] / "examples" / "home.yaml")!r})
sun = shell_class("sun")(home, "sun")
for w in range(3):
    sun.report(Window("r", w, w * 1440, 1440, 60.0, {START}, "max"), {{}})
print(sorted(m for m in ("pvlib", "pandas") if m in sys.modules))
"""
    env = {**os.environ, "HOMESIM_CACHE": str(tmp_path)}
    cold = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, check=True)
    warm = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, check=True)
    assert "pvlib" in cold.stdout
    assert warm.stdout.strip() == "[]", warm.stdout + warm.stderr
    assert cache.cache_dir() is not None
