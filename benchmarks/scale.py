"""Many homes on one machine: cost per home-year and realtime jitter (results/scale.json).

    python benchmarks/scale.py [--quick] [--days D] [--max-homes N] [--jitter-seconds S]

**Throughput.** N = 1, 2, 4, 8, ... copies of ``examples/home.yaml`` run concurrently, each
its own ``homesim run --until Dd --dt 60 --speed max --no-report`` (its own router), start-up
included. Per N: wall time of the batch [s], CPU of all its processes [s], the peak of their
summed RSS [MiB], and per home-year (``D / 365`` years per home): CPU-seconds and
wall-seconds per home-year and the throughput in home-years per wall hour. The doubling
stops at ``--max-homes``, when the next N would need more than 80 % of the available memory
(the summed peak RSS of N = 1 times N), or once the machine is *saturated*: a doubling of N
gained less than 10 % throughput (the CPU is the limit; ``--full-series`` goes on doubling
and only notes where it saturated).

**Realtime jitter.** ``--jitter-homes`` homes (8) at ``--speed realtime --dt 1``, each with a
probe (``window_probe.py``) that joins the home's bus as the viewer and stamps every
``homesim.clock.window`` on arrival with ``time.monotonic()``. The clock opens window k
(``tick0 = k``) at ``anchor + k * dt`` (the pacing of ``devices/bus/protocol.py``), so a
window's lateness is ``arrival_k - k * dt - anchor``; the anchor, which no message carries,
is estimated per home as the smallest ``arrival_k - k * dt`` (the most punctual window, so
the lateness includes the clock's and the router's delay beyond the fastest delivery).
Jitter is taken over the windows that open while every home runs on schedule: from 5 s after
the last home caught up (its first window does the lazy set-up of every device and takes
seconds; the clock then opens the windows it owes back to back until it is on time again)
to the first home's last window; ``--jitter-seconds`` of them at least (each home runs long
enough to cover the concurrent start-up). Also reported: the first window's delay. Target of
issue 16: p99 <= 5 ms with 8 homes.

``--quick``: 7 days per home, N up to 4, jitter over 20 s (development and tests).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from _procs import EXAMPLE, HOMESIM, RESULTS, ROOT, machine, now, run_group

JITTER_TARGET_MS = 5.0
SATURATION_GAIN = 1.10  # a doubling must raise throughput by 10 % to count as not saturated


def batch(n: int, days: int, tmp: Path, timeout: float | None = None) -> dict[str, Any]:
    """Run ``n`` homes concurrently for ``days`` at dt = 60 s, speed max.

    Raises subprocess.TimeoutExpired if they are not done within ``timeout`` [s].
    """
    cmds = [[*HOMESIM, "run", str(EXAMPLE), "--until", f"{days}d", "--dt", "60", "--speed",
             "max", "--no-report", "-q", "--out", str(tmp / f"n{n}-home{i}")] for i in range(n)]
    runs, peak = run_group(cmds, timeout=timeout)
    bad = [r for r in runs if r.returncode != 0]
    if bad:
        raise SystemExit(f"{len(bad)} of {n} homes failed:\n{bad[0].stderr[-3000:]}")
    wall = max(r.wall_s for r in runs)
    cpu = runs[0].cpu_s
    home_years = n * days / 365.0
    return {"homes": n, "days": days, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
            "cpu_per_wall": round(cpu / wall, 2), "rss_peak_total_mib": peak,
            "cpu_s_per_home_year": round(cpu / home_years, 1),
            "wall_s_per_home_year": round(wall / home_years, 1),
            "home_years_per_hour": round(home_years / wall * 3600.0, 1)}


def throughput(days: int, max_homes: int, tmp: Path, full: bool = False,
               timeout: float | None = None) -> tuple[list[dict[str, Any]], str]:
    """The doubling series (see the module docstring) and why it stopped; a batch that is
    not done within ``timeout`` [s] stops it too."""
    rows: list[dict[str, Any]] = []
    why: dict[str, str] = {}
    n = 1
    while True:
        try:
            row = batch(n, days, tmp, timeout)
        except subprocess.TimeoutExpired:
            return rows, "; ".join([*why.values(), f"{n} homes not done within {timeout:g} s"])
        rows.append(row)
        print(f"  {n:3d} homes: {row['wall_s']:7.1f} s wall, {row['cpu_s']:7.1f} s CPU, "
              f"{row['rss_peak_total_mib']:7.0f} MiB, {row['home_years_per_hour']:6.1f} "
              "home-years/h", flush=True)
        if len(rows) > 1 and row["home_years_per_hour"] < \
                rows[-2]["home_years_per_hour"] * SATURATION_GAIN and "saturated" not in why:
            why["saturated"] = (f"CPU: {n} homes gained less than "
                                f"{SATURATION_GAIN - 1:.0%} over {n // 2}")
            if not full:
                return rows, why["saturated"]
        if 2 * n > max_homes:
            return rows, "; ".join([*why.values(), f"cap --max-homes {max_homes}"])
        need = rows[0]["rss_peak_total_mib"] * 2 * n
        avail = psutil.virtual_memory().available / 2**20
        if need > 0.8 * avail:
            return rows, "; ".join([*why.values(), f"memory: {2 * n} homes need ~{need:.0f} "
                                    f"MiB of {avail:.0f} available"])
        n *= 2


def lateness(arrivals: np.ndarray) -> np.ndarray:
    """Lateness of each window [s]: ``arrival - tick0 * dt - min(arrival - tick0 * dt)``.

    ``arrivals``: rows ``[monotonic, tick0, n, dt]`` as written by ``window_probe.py``.
    """
    offset = arrivals[:, 0] - arrivals[:, 1] * arrivals[:, 3]
    return offset - offset.min()


def caught_up(arrivals: np.ndarray) -> float:
    """Arrival [s] of the first window after window 0 that is less than half a tick late."""
    late = lateness(arrivals)
    ok = np.nonzero((late < 0.5 * arrivals[:, 3]) & (np.arange(len(late)) > 0))[0]
    return float(arrivals[ok[0], 0]) if ok.size else float(arrivals[-1, 0])


def jitter(homes: int, seconds: float, tmp: Path) -> dict[str, Any]:
    """Run ``homes`` homes at realtime, dt = 1 s, with probes; window lateness statistics."""
    # every home must still run after the last one has started (start-up is concurrent)
    span = int(seconds + 30 + 20 * homes)
    outs = [tmp / f"rt-home{i}" for i in range(homes)]
    cmds = [[*HOMESIM, "run", str(EXAMPLE), "--until", f"{span}s", "--dt", "1", "--speed",
             "realtime", "--no-report", "-q", "--out", str(o)] for o in outs]
    probes = [[sys.executable, str(ROOT / "benchmarks" / "window_probe.py"), str(o),
               str(tmp / f"probe{i}.json")] for i, o in enumerate(outs)]
    runs, peak = run_group(cmds + probes, timeout=span + 600)
    bad = [r for r in runs[:homes] if r.returncode != 0]
    if bad:
        raise SystemExit(f"{len(bad)} realtime homes failed:\n{bad[0].stderr[-3000:]}")
    arrivals = []
    for i in range(homes):
        a = np.asarray(json.loads((tmp / f"probe{i}.json").read_text())["arrivals"], dtype=float)
        if len(a) < 2:
            raise SystemExit(f"probe {i} saw {len(a)} windows:\n{runs[homes + i].stderr[-2000:]}")
        arrivals.append(a)
    # a home runs on schedule once its first window (lazy set-up) and the backlog it leaves
    # behind are done: from its first window after window 0 that opens within half a tick
    t_from = max(caught_up(a) for a in arrivals) + 5.0
    t_to = min(a[-1, 0] for a in arrivals)
    late_all = np.concatenate([lateness(a) for a in arrivals]) * 1000.0
    late = np.concatenate([lateness(a)[(a[:, 0] >= t_from) & (a[:, 0] <= t_to)]
                           for a in arrivals]) * 1000.0
    if late.size == 0:
        raise SystemExit("the realtime homes never ran at the same time")

    first = [float(lateness(a)[1]) * 1000.0 for a in arrivals if a[1, 1] == 1.0]

    def stats(x: np.ndarray) -> dict[str, float]:
        return {"windows": int(x.size), "p50_ms": round(float(np.percentile(x, 50)), 2),
                "p99_ms": round(float(np.percentile(x, 99)), 2),
                "max_ms": round(float(x.max()), 2)}

    steady = stats(late)
    return {"homes": homes, "dt": 1, "speed": "realtime", "span_s": span,
            "concurrent_s": round(t_to - t_from, 1), "rss_peak_total_mib": peak,
            "cpu_s": round(runs[0].cpu_s, 1), "steady": steady,
            "first_window_late_ms": round(max(first), 1) if first else None,
            "all_windows": stats(late_all),
            "target_p99_ms": JITTER_TARGET_MS, "pass": steady["p99_ms"] <= JITTER_TARGET_MS}


def table(rows: list[dict[str, Any]]) -> str:
    """The throughput rows as a markdown table."""
    lines = ["| homes | wall [s] | CPU [s] | CPU/wall | peak RSS [MiB] | CPU-s / home-year "
             "| wall-s / home-year | home-years / h |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['homes']} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | "
                     f"{r['cpu_per_wall']:.2f} | {r['rss_peak_total_mib']:.0f} | "
                     f"{r['cpu_s_per_home_year']:.1f} | {r['wall_s_per_home_year']:.1f} | "
                     f"{r['home_years_per_hour']:.1f} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="7 days, up to 4 homes, 20 s jitter")
    ap.add_argument("--days", type=int, default=None, help="days per home (365; quick: 7)")
    ap.add_argument("--max-homes", type=int, default=None, help="cap on N (16; quick: 4)")
    ap.add_argument("--jitter-homes", type=int, default=8)
    ap.add_argument("--jitter-seconds", type=float, default=None, help="(60; quick: 20)")
    ap.add_argument("--full-series", action="store_true",
                    help="go on doubling past saturation (up to --max-homes or memory)")
    ap.add_argument("--batch-timeout", type=float, default=None,
                    help="give up a batch of N homes after this many seconds")
    ap.add_argument("--homes", type=int, nargs="+", help="run just these N (no doubling)")
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--skip-jitter", action="store_true")
    ap.add_argument("--out", type=Path, default=None, help="result file (default: results/)")
    a = ap.parse_args()
    days = a.days or (7 if a.quick else 365)
    max_homes = a.max_homes or (4 if a.quick else 16)
    seconds = a.jitter_seconds or (20.0 if a.quick else 60.0)
    result: dict[str, Any] = {"benchmark": "scale", "date": now(), "machine": machine()}
    with tempfile.TemporaryDirectory(prefix="homesim-scale-") as d:
        tmp = Path(d)
        if not a.skip_throughput:
            print(f"throughput: {days} days per home at dt = 60 s, speed max", flush=True)
            if a.homes:  # just these batches
                rows, why = [], "the batches of --homes"
                for n in a.homes:
                    try:
                        rows.append(batch(n, days, tmp, a.batch_timeout))
                    except subprocess.TimeoutExpired:
                        why = f"{n} homes not done within {a.batch_timeout:g} s"
                        break
            else:
                rows, why = throughput(days, max_homes, tmp, a.full_series, a.batch_timeout)
            result["throughput"] = {"days": days, "rows": rows, "stopped": why}
            print(f"  stopped: {why}\n\n{table(rows)}\n", flush=True)
        if not a.skip_jitter:
            print(f"jitter: {a.jitter_homes} homes at realtime, dt = 1 s", flush=True)
            j = jitter(a.jitter_homes, seconds, tmp)
            result["jitter"] = j
            s = j["steady"]
            print(f"  {s['windows']} windows over {j['concurrent_s']} s with all homes running: "
                  f"p50 {s['p50_ms']} ms, p99 {s['p99_ms']} ms, max {s['max_ms']} ms "
                  f"(target p99 <= {JITTER_TARGET_MS:g} ms): {'PASS' if j['pass'] else 'FAIL'}")
    result["machine_after"] = {"loadavg": machine()["loadavg"]}
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = a.out or RESULTS / ("scale-quick.json" if a.quick else "scale.json")
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
