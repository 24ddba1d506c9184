"""``homesim validate`` is total: any file ends in a clear message and a non-zero exit within
seconds, never a traceback (binary, wrong encoding, huge, YAML bombs, deep nesting, lists and
scalars, markup in user text, missing weather/tariff files, absurd durations)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = (ROOT / "examples" / "home.yaml").read_text()
LIMIT_S = 30.0  # wall bound of one validate (the interpreter start dominates)


def _validate(*paths: Path) -> tuple[int, str, float]:
    t0 = time.monotonic()
    res = subprocess.run([sys.executable, "-m", "homesim.infra.cli", "validate",
                          *map(str, paths)],
                         capture_output=True, text=True, timeout=LIMIT_S * 2,
                         env={**os.environ, "COLUMNS": "200"})
    return res.returncode, res.stdout + res.stderr, time.monotonic() - t0


def _bomb(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


CASES = {
    "binary.yaml": os.urandom(64 * 1024),
    "utf16.yaml": EXAMPLE.encode("utf-16"),
    "latin1.yaml": "metadata: {name: caf\u00e9}\n".encode("latin-1"),
    "huge.yaml": b"a: " + b"x" * (11 * 2**20),
    "bomb.yaml": _bomb().encode(),
    "deep-flow.yaml": b"[" * 200_000 + b"]" * 200_000,
    "deep-block.yaml": "".join(" " * i + f"k{i}:\n" for i in range(2000)).encode(),
    "list.json": b"[1, 2, 3]",
    "scalar.yaml": b"42\n",
    "empty.yaml": b"",
    "two-docs.yaml": EXAMPLE.encode() + b"\n---\n" + EXAMPLE.encode(),
    "bad-yaml.yaml": b"a: [1, 2\nb: }{",
    "markup.yaml": b"metadata: {name: '[bold red]x[/'}\n[/]: 1\n",
    "many-nodes.yaml": b"[" + b"1," * 300_000 + b"1]",
    "no-weather.yaml": EXAMPLE.replace("file: null  ", "file: nowhere.csv").encode(),
    "century.yaml": EXAMPLE.replace("duration: 1d", "duration: 36600d").encode(),
    "inf.yaml": EXAMPLE.replace("pdc0: 5000", "pdc0: .inf").encode(),
    "zero-speed.yaml": EXAMPLE.replace("speed: max", "speed: 0x").encode(),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_validate_refuses_with_a_message(tmp_path: Path, name: str) -> None:
    p = tmp_path / name
    p.write_bytes(CASES[name])
    code, out, wall = _validate(p)
    assert code != 0, out
    assert "Traceback" not in out, out
    assert "✗" in out and out.strip(), out
    assert wall < LIMIT_S, (name, wall)


def test_validate_reports_the_field_path_and_prints_user_text_verbatim(tmp_path: Path) -> None:
    weather = tmp_path / "no-weather.yaml"
    weather.write_bytes(CASES["no-weather.yaml"])
    tariff = tmp_path / "[red]tariff.yaml"
    tariff.write_text(EXAMPLE.replace("          flat: 0.12\n",
                                      "          flat: 0.12\n          file: gone.csv\n"))
    assert "file: gone.csv" in tariff.read_text()
    code, out, _ = _validate(weather, tariff, tmp_path / "missing.yaml")
    assert code == 1 and "Traceback" not in out
    assert "spec.devices[0].properties.file: no such file" in out
    assert "properties.tariff_import.file: no such file" in out
    assert "[red]tariff.yaml" in out  # not eaten as markup
    assert "missing.yaml" in out


def test_validate_still_accepts_the_examples() -> None:
    code, out, _ = _validate(*(ROOT / "examples").glob("*.yaml"))
    assert code == 0, out
    assert out.count("✓") == len(list((ROOT / "examples").glob("*.yaml")))


def test_a_home_too_large_for_the_machine_is_refused_before_start(tmp_path) -> None:
    """200 loads (the measured case that never started): refused at once with the estimate,
    no process started, when the memory available is that of a small machine."""
    import os
    import subprocess
    import sys
    import time

    import yaml

    from homesim.infra.supervisor import footprint
    from homesim.schemas.manifest import parse_any

    root = Path(__file__).resolve().parent.parent
    data = yaml.safe_load((root / "examples" / "home.yaml").read_text())
    data["spec"]["devices"] += [{"name": f"flat-{i}", "kind": "load",
                                 "properties": {"annual_kwh": 2000}} for i in range(200)]
    procs, need = footprint(parse_any(data))
    assert procs == 210 and need > 30 * 2**30
    m = tmp_path / "big.yaml"
    m.write_text(yaml.safe_dump(data))
    t0 = time.monotonic()
    res = subprocess.run([sys.executable, "-m", "homesim.infra.cli", "run", str(m), "--out",
                          str(tmp_path / "run"), "-q", "--no-report"], capture_output=True,
                         text=True, timeout=120,
                         env=dict(os.environ, HOMESIM_MEMORY_LIMIT=str(8 * 2**30)))
    out = res.stdout + res.stderr
    assert res.returncode != 0 and "210 processes" in out and "8.0 GiB" in out, out
    assert time.monotonic() - t0 < 60
    assert not (tmp_path / "run" / "logs").exists()  # nothing was started


def test_the_call_client_refuses_an_argument_over_the_limit_without_sending() -> None:
    """Beyond the router's message limit a call is never answered: ``python -m
    homesim.devices call`` (the operator's client too) refuses it at once, clearly."""
    import subprocess
    import sys

    chunk = "[" + ",".join(["1.5"] * 30_000) + "]"  # ~120 kB per argument (argv's limit)
    res = subprocess.run([sys.executable, "-m", "homesim.devices", "call", "--router",
                          "rs://127.0.0.1:9", "--realm", "x", "homesim.device.house.set",
                          *([chunk] * 10)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 1
    assert "homesim.error.invalid_argument" in res.stderr and "not reachable" not in res.stderr
