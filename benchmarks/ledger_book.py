"""How much CPU does the ledger store spend booking a run? Books the windows of a finished
run again, through the store only (no router, no devices), and measures it.

    python benchmarks/ledger_book.py RUN [--store PATH] [--out DIR] [--json OUT]

``RUN`` is a run folder (or its ``ledger.sqlite``) written by this homesim: its packets,
per-tick series, balances and metric totals are read back window by window and booked into
a fresh ledger with :meth:`LedgerStore.book_window`, as the ledger process books them.
``--store PATH`` books with another version of ``devices/bus/store.py`` (e.g. the previous
commit's, ``git show HEAD~1:devices/bus/store.py > /tmp/old_store.py``), so that two
layouts can be compared on the same flows. Reports the CPU time of the bookings [s] (process
time, reading excluded), the booked packets, the ledger file's size [MB] and the peak RSS
[MiB] of this process.

Measured 2026-12-01 (a year of examples/home.yaml at dt = 60 s, 365 windows of 1,440 ticks,
7 flows, 1.6 M non-zero packets): one row per packet 2.9 s and 119 MB; one row per window and
flow 0.09 s and 35 MB.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from homesim.devices.bus import store as current


def load_store(path: Path | None) -> ModuleType:
    """The store module to book with: this tree's, or the file at ``path``."""
    if path is None:
        return current
    spec = importlib.util.spec_from_file_location("other_store", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def windows(run: Path) -> tuple[Any, list[dict[str, Any]]]:
    """The run row and, per window, what the ledger process booked for it."""
    db = run / "ledger.sqlite" if run.is_dir() else run
    with current.LedgerStore.open(db) as st:
        info = st.run()
        if info is None:
            raise SystemExit(f"{db}: no run row")
        keys = st.series_keys()
        out = []
        for w in st.settled_windows():
            t1 = w.tick0 + w.n
            flows: dict[tuple[str, str, str], np.ndarray] = {}
            for p in st.packets(w.tick0, t1):
                key = (p.source, p.sink, p.carrier)
                flows.setdefault(key, np.zeros(w.n))[p.tick - w.tick0] = p.joules
            bal = st.node_balances(w.tick0, t1)
            met = [current.MetricTotal(d.device, d.metric, d.total, d.minimum, d.maximum)
                   for d in st.device_metrics(tick0=w.tick0, tick1=t1)]
            series = [(d, m, st.series(d, m, w.tick0, t1)) for d, m in keys]
            out.append({"w": w, "flows": flows, "balances": list(bal.values()),
                        "metrics": met, "series": series})
    return info, out


def book(mod: ModuleType, info: Any, wins: list[dict[str, Any]], target: Path
         ) -> dict[str, Any]:
    """Book ``wins`` into a new ledger at ``target`` with the store module ``mod``."""
    st = mod.LedgerStore.create(target)
    st.write_run(info.run_id, info.home, info.start, info.dt, info.ticks, info.manifest)
    args = [(x["w"], [mod.Flow(*k, j) for k, j in x["flows"].items()],
             [mod.NodeBalance(*b) for b in x["balances"]],
             [mod.MetricTotal(*m) for m in x["metrics"]],
             [mod.Series(*s) for s in x["series"]]) for x in wins]
    packets = 0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for w, flows, bal, met, ser in args:
        packets += st.book_window(w.window, w.tick0, w.n, flows, bal, met, series=ser,
                                  booked_at=w.booked_at)
    st.close()  # a SQLite writer indexes at close: part of the cost
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    size = sum(p.stat().st_size for p in target.parent.glob(target.name + "*"))
    return {"windows": len(args), "packets": packets, "cpu_s": round(cpu, 3),
            "wall_s": round(wall, 3), "file_mb": round(size / 1e6, 1),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path, help="run folder or ledger.sqlite to book again")
    ap.add_argument("--store", type=Path, help="another devices/bus/store.py to book with")
    ap.add_argument("--out", type=Path, help="folder for the new ledger (default: a temp dir)")
    ap.add_argument("--json", type=Path, help="write the figures to this file")
    a = ap.parse_args(argv)
    info, wins = windows(a.run)
    mod = load_store(a.store)
    with tempfile.TemporaryDirectory() as tmp:
        folder = a.out or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        fig = {"run": str(a.run), "store": str(a.store or "this tree"), "dt": info.dt,
               "ticks": info.ticks, **book(mod, info, wins, folder / "ledger.sqlite")}
    print(json.dumps(fig, indent=1))
    if a.json:
        a.json.write_text(json.dumps(fig, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
