"""Benchmarks of the example home over a real router (writes benchmarks/results/bench.json).

    python benchmarks/run.py [--quick]

Measures, each with ``homesim run`` as a user runs it (router and process start-up included):
* a simulated year at dt = 60 s and a simulated day at dt = 1 s, speed max:
  wall time and simulated seconds per wall second;
* WAMP messages per simulated day (a tap subscribed to every ``homesim.`` topic);
* peak RSS of every process (devices, clock, ledger, router), sampled every 0.25 s.
Target on a 2-core machine: a year at dt = 60 s in under 60 s of wall time.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "home.yaml"
RESULTS = ROOT / "benchmarks" / "results"


def _sample_rss(out_dir: Path, peak: dict[str, float], stop: threading.Event) -> None:
    while not stop.is_set():
        for p in psutil.process_iter(["pid", "cmdline", "memory_info"]):
            cmd = p.info["cmdline"] or []
            text = " ".join(cmd)
            if str(out_dir) not in text or p.info["memory_info"] is None:
                continue
            if "--device" in cmd:
                name = cmd[cmd.index("--device") + 1]
            elif "crossbar" in text:
                name = f"router:{p.info['pid']}"
            else:
                continue
            rss = p.info["memory_info"].rss / 2**20
            peak[name] = max(peak.get(name, 0.0), rss)
        stop.wait(0.25)


def run_case(until: str, dt: float, tmp: Path, label: str) -> dict:
    out = tmp / label
    tap = tmp / f"{label}-tap.json"
    peak: dict[str, float] = {}
    stop = threading.Event()
    sampler = threading.Thread(target=_sample_rss, args=(out, peak, stop), daemon=True)
    sampler.start()
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "homesim.infra.cli", "run", str(EXAMPLE),
                          "--until", until, "--dt", str(dt), "--speed", "max", "--out", str(out),
                          "--tap", str(tap), "-q", "--json", "--no-report"],
                         capture_output=True, text=True)
    wall = time.perf_counter() - t0
    stop.set()
    sampler.join()
    if res.returncode != 0:
        raise SystemExit(f"{label} failed:\n{res.stderr[-3000:]}")
    summary = json.loads((out / "summary.json").read_text())
    t = json.loads(tap.read_text())
    sim = summary["sim_seconds"]
    router = sum(v for k, v in peak.items() if k.startswith("router:"))
    devices = {k: round(v, 1) for k, v in sorted(peak.items()) if not k.startswith("router:")}
    return {
        "until": until, "dt": dt, "ticks": summary["ticks"], "windows": summary["windows"],
        "wall_s": round(wall, 2),
        "clock_wall_s": round(summary["clock"]["wall_elapsed"], 2),
        "sim_s_per_wall_s": round(sim / wall, 1),
        "messages_per_sim_day": round(t["messages"] / t["sim_seconds"] * 86400, 1),
        "bytes_msgpack_per_sim_day": round(t["bytes_msgpack"] / t["sim_seconds"] * 86400),
        "rss_mib": devices, "rss_router_mib": round(router, 1),
        "conservation_relative": summary["conservation"]["relative_residual"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="30 days instead of a year")
    a = ap.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        cases = {
            "year_dt60": run_case("30d" if a.quick else "365d", 60, tmp, "year_dt60"),
            "day_dt1": run_case("1d", 1, tmp, "day_dt1"),
        }
    result = {"benchmark": "example_home", "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "machine": {"cpus": psutil.cpu_count(), "platform": platform.platform(),
                          "python": platform.python_version()},
              "target": "year at dt=60 s in < 60 s wall", "cases": cases}
    path = RESULTS / ("bench-quick.json" if a.quick else "bench.json")
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
