"""homesim against the single-process lower bound (writes benchmarks/results/ratio.json).

    python benchmarks/ratio.py [--pairs 3] [--quick]

Times, in alternating pairs (the order swaps every pair, so a drift in the machine's load
hits both sides alike):

* ``homesim run examples/home.yaml --until 365d --dt 60 --speed max --no-report`` as a user
  runs it (router and process start-up included), sampling CPU time and peak RSS of every
  process of the run (devices, clock, ledger, router, supervisor) every 0.2 s;
* ``python benchmarks/lower_bound.py --days 365`` (the same home in one process; its
  interpreter start-up and imports included).

Per side: wall time [s] and CPU time [s] (user + system of the whole process tree). Reported:
the median over the pairs of each, ``ratio = median homesim wall / median lower-bound wall``,
the median (over the device, clock and ledger processes) of their peak RSS [MiB] in each
pair, and the lower bound's agreement with each run's summary (``lower_bound.compare``).
Targets of issue 16: ratio <= 3 and median peak RSS <= 60 MiB; PASS/FAIL is printed for each.

``--quick``: 30 days, 1 pair, written to ``ratio-quick.json`` (development and tests).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from _procs import EXAMPLE, HOMESIM, RESULTS, ROOT, device_rss, machine, now, run_sampled
from lower_bound import compare

RATIO_TARGET = 3.0
RSS_TARGET_MIB = 60.0


def time_homesim(days: int, out: Path) -> dict[str, Any]:
    """One ``homesim run`` of ``days`` at dt = 60 s; its summary is read from ``out``."""
    s = run_sampled([*HOMESIM, "run", str(EXAMPLE), "--until", f"{days}d", "--dt", "60",
                     "--speed", "max", "--no-report", "--out", str(out), "-q"])
    if s.returncode != 0:
        raise SystemExit(f"homesim run failed ({s.returncode}):\n{s.stderr[-3000:]}")
    dev = device_rss(s.rss_mib)
    return {"wall_s": round(s.wall_s, 2), "cpu_s": round(s.cpu_s, 2),
            "cpu_per_process_s": dict(sorted(s.cpu.items(), key=lambda kv: -kv[1])),
            "rss_peak_mib": s.rss_mib,
            "rss_median_device_mib": round(statistics.median(dev.values()), 1) if dev else None,
            "summary": json.loads((out / "summary.json").read_text())}


def time_lower_bound(days: int, out: Path) -> dict[str, Any]:
    """One ``lower_bound.py`` process of ``days`` at dt = 60 s; figures read from ``out``."""
    s = run_sampled([sys.executable, str(ROOT / "benchmarks" / "lower_bound.py"),
                     "--days", str(days), "--dt", "60", "--json", str(out)])
    if s.returncode != 0:
        raise SystemExit(f"lower_bound.py failed ({s.returncode}):\n{s.stderr[-3000:]}")
    res = json.loads(out.read_text())
    return {"wall_s": round(s.wall_s, 2), "cpu_s": round(s.cpu_s, 2),
            "rss_peak_mib": max(s.rss_mib.values(), default=None),
            "stages_s": res["seconds"], "result": res}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=None, help="alternating pairs (3; quick: 1)")
    ap.add_argument("--days", type=int, default=None, help="simulated days (365; quick: 30)")
    ap.add_argument("--quick", action="store_true", help="30 days, 1 pair")
    ap.add_argument("--out", type=Path, default=None, help="result file (default: results/)")
    a = ap.parse_args()
    days = a.days or (30 if a.quick else 365)
    pairs = a.pairs or (1 if a.quick else 3)
    load_before = machine()["loadavg"]
    rows = []
    with tempfile.TemporaryDirectory(prefix="homesim-ratio-") as d:
        tmp = Path(d)
        for i in range(pairs):
            order = ("homesim", "lower_bound") if i % 2 == 0 else ("lower_bound", "homesim")
            row: dict[str, Any] = {"order": list(order)}
            for side in order:
                if side == "homesim":
                    row["homesim"] = time_homesim(days, tmp / f"run{i}")
                else:
                    row["lower_bound"] = time_lower_bound(days, tmp / f"lb{i}.json")
            summary = row["homesim"].pop("summary")
            result = row["lower_bound"].pop("result")
            row["agreement"] = compare(result, summary)
            row["ratio"] = round(row["homesim"]["wall_s"] / row["lower_bound"]["wall_s"], 2)
            rows.append(row)
            print(f"pair {i + 1}/{pairs}: homesim {row['homesim']['wall_s']:.1f} s wall "
                  f"({row['homesim']['cpu_s']:.1f} s CPU), lower bound "
                  f"{row['lower_bound']['wall_s']:.1f} s ({row['lower_bound']['cpu_s']:.1f} s "
                  f"CPU), ratio {row['ratio']:.2f}", flush=True)

    def med(side: str, key: str) -> float:
        return round(statistics.median(r[side][key] for r in rows), 2)

    hs_wall, lb_wall = med("homesim", "wall_s"), med("lower_bound", "wall_s")
    ratio = round(hs_wall / lb_wall, 2)
    rss = med("homesim", "rss_median_device_mib")
    worst = max(v["relative"] for r in rows for v in r["agreement"].values())
    result = {
        "benchmark": "ratio", "date": now(), "machine": machine(), "loadavg_before": load_before,
        "days": days, "dt": 60, "pairs": pairs,
        "command": f"homesim run examples/home.yaml --until {days}d --dt 60 --speed max "
                   "--no-report",
        "median": {"homesim_wall_s": hs_wall, "homesim_cpu_s": med("homesim", "cpu_s"),
                   "lower_bound_wall_s": lb_wall, "lower_bound_cpu_s": med("lower_bound", "cpu_s"),
                   "ratio": ratio, "rss_median_device_mib": rss},
        "targets": {"ratio": RATIO_TARGET, "rss_median_device_mib": RSS_TARGET_MIB},
        "pass": {"ratio": ratio <= RATIO_TARGET, "rss": rss <= RSS_TARGET_MIB},
        "agreement_worst_relative": worst, "pairs_detail": rows,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = a.out or RESULTS / ("ratio-quick.json" if a.quick else "ratio.json")
    path.write_text(json.dumps(result, indent=2) + "\n")
    last, m = rows[-1]["homesim"], result["median"]
    print(f"\n{days} days at dt = 60 s, median of {pairs} pair(s), "
          f"load {result['machine']['loadavg']}")
    print(f"  homesim     {hs_wall:7.1f} s wall  {m['homesim_cpu_s']:7.1f} s CPU")
    print(f"  lower bound {lb_wall:7.1f} s wall  {m['lower_bound_cpu_s']:7.1f} s CPU")
    print(f"  ratio {ratio:.2f} (target <= {RATIO_TARGET:g}): "
          f"{'PASS' if result['pass']['ratio'] else 'FAIL'}")
    print(f"  median peak RSS of device/clock/ledger processes {rss:.1f} MiB "
          f"(target <= {RSS_TARGET_MIB:g}): {'PASS' if result['pass']['rss'] else 'FAIL'}")
    print(f"  lower bound vs homesim figures: worst relative difference {worst:.1e}")
    print("  per process (last pair): " + ", ".join(
        f"{k} {v:.1f} s/{last['rss_peak_mib'].get(k, 0):.0f} MiB"
        for k, v in last["cpu_per_process_s"].items()))
    print(f"written {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
