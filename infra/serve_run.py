"""One run started by ``homesim serve``: ``python -m homesim.infra.serve_run MANIFEST --out DIR``.

The run is the one ``homesim run`` makes: :func:`homesim.infra.supervisor.run_home` (a real
Crossbar router, one process per device, the clock and the ledger, snapshots every 10 windows
so that the clock can fork), in this process's main thread, so that SIGTERM from the server
stops every process of the run. After the run ``report.html`` is written (no PNGs).

``MANIFEST`` is a resolved manifest the server has already checked (absolute file paths,
simulation overrides applied). Standard output carries one JSON object per line, for the
server (nothing else is printed there):

* ``{"event": "phase", "text": "..."}``: what the supervisor is doing (``running`` once the
  router and every process are up);
* ``{"event": "progress", ...}``: the clock's progress (``tick``, ``ticks_total``,
  ``sim_time`` [s since the epoch, UTC], ``wall_elapsed`` [s], ``energy`` [J] per flow …);
* ``{"event": "done", "ok": bool, "message": "...", "summary": {...} | null}``: the end.

Exit status 0 when the run completed, 1 otherwise, 2 when the manifest cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["main"]


def _emit(event: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}, default=str) + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    """Run the manifest, report on stdout as JSON lines; the exit status (see the module)."""
    ap = argparse.ArgumentParser(prog="python -m homesim.infra.serve_run",
                                 description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("manifest", type=Path, help="resolved manifest (checked by the server)")
    ap.add_argument("--out", type=Path, required=True, help="run folder")
    a = ap.parse_args(argv)

    from homesim.infra.supervisor import RunOptions, run_home
    from homesim.schemas.manifest import ManifestError, load_any

    try:
        home = load_any(a.manifest)
    except ManifestError as exc:
        _emit("done", ok=False, message=str(exc), summary=None)
        return 2
    try:
        res = run_home(home, RunOptions(out=a.out),
                       on_progress=lambda ev: _emit("progress", **{
                           k: v for k, v in ev.items() if k != "event"}),
                       on_phase=lambda text: _emit("phase", text=text))
    except Exception as exc:  # noqa: BLE001 - the server shows the reason, never a traceback
        _emit("done", ok=False, message=f"{type(exc).__name__}: {exc}", summary=None)
        return 1
    if res.summary:
        from homesim.infra.analysis.report import write_report

        try:
            write_report(res.run_dir, png=False)
        except Exception as exc:  # noqa: BLE001 - a report never fails a run
            _emit("phase", text=f"report not written: {exc}")
    _emit("done", ok=res.ok, message=res.message, summary=res.summary)
    return 0 if res.ok else 1


if __name__ == "__main__":
    sys.exit(main())
