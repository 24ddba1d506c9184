"""Size and time of the devices' saved state (``DeviceShell.dump_state`` / ``load_state``).

    .venv/bin/python benchmarks/state_size.py [--repeat 200]

For each example home (shortened, dt = 900 s, 6-hour windows) it runs half of the run in
process (``tests/homesim_loop.HomeLoop``: real shells and protocols, no router), then measures

* the JSON size of every device's state [bytes] (compact separators, as the snapshot file
  writes it), per kind (largest device) and per home (every device);
* the time to save the whole home (``dump_state`` of every device + ``json.dumps``) and to
  restore it (``json.loads`` + ``load_state`` into fresh shells), the median of ``--repeat``;
* once, the time to build the fresh shells a restore needs (``setup()``: weather file,
  profiles, hplib), which dominates a restore.

Writes ``benchmarks/results/state_size.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from homesim_loop import HomeLoop  # noqa: E402

from homesim.infra.supervisor import RunOptions, prepare_home  # noqa: E402
from homesim.schemas.manifest import load_any  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "state_size.json"
CASES = {"home": "4d", "ev-home": "4d", "block": "4d"}


def _compact(obj: object) -> str:
    return json.dumps(obj, allow_nan=False, separators=(",", ":"))


def measure(name: str, until: str, repeat: int) -> dict:
    home = prepare_home(load_any(ROOT / "examples" / f"{name}.yaml"),
                        RunOptions(until=until, dt=900))
    loop = HomeLoop(home, window=24)
    loop.run(8)  # two days: batteries, tanks, flats, cars mid-way
    states = loop.dump()
    sizes = {n: len(_compact(s)) for n, s in states.items()}
    kinds: dict[str, int] = {}
    for n, s in states.items():
        kinds[s["kind"]] = max(kinds.get(s["kind"], 0), sizes[n])

    def save() -> str:
        return _compact({n: s.dump_state() for n, s in loop.shells.items()})

    text = save()
    t0 = time.perf_counter()
    fresh = HomeLoop(home, window=24).shells
    build = time.perf_counter() - t0

    def restore() -> None:
        for n, s in json.loads(text).items():
            fresh[n].load_state(s)

    def median(fn) -> float:  # noqa: ANN001
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return statistics.median(times)

    return {"devices": len(states), "bytes_home": len(text), "bytes_per_device": sizes,
            "bytes_per_kind": dict(sorted(kinds.items())),
            "save_seconds": median(save), "load_seconds": median(restore),
            "build_shells_seconds": build}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=200)
    a = ap.parse_args()
    out = {"machine": platform.platform(), "python": platform.python_version(),
           "homes": {n: measure(n, u, a.repeat) for n, u in CASES.items()}}
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(f"{'home':10} {'devices':>7} {'bytes':>7} {'save ms':>8} {'load ms':>8} "
          f"{'build s':>8}")
    for n, r in out["homes"].items():
        print(f"{n:10} {r['devices']:7d} {r['bytes_home']:7d} {r['save_seconds'] * 1e3:8.3f} "
              f"{r['load_seconds'] * 1e3:8.3f} {r['build_shells_seconds']:8.2f}")
    kinds: dict[str, int] = {}
    for r in out["homes"].values():
        for k, b in r["bytes_per_kind"].items():
            kinds[k] = max(kinds.get(k, 0), b)
    print("bytes per kind (largest device):",
          ", ".join(f"{k} {b}" for k, b in sorted(kinds.items())))


if __name__ == "__main__":
    main()
