"""The in-process harness (tests/homesim_loop.py) against a real run: the same packets.

``homesim run`` (router, clock, ledger, one process per device) and ``HomeLoop`` (the same
shells and protocols, messages routed in one process) book the same energy: every
(tick, source, sink, carrier) value of the ledger equals the harness' packet, bit for bit,
and the totals per flow agree to 1e-12. So what the state tests prove with the harness
(restore = continue) holds for the bus.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

from homesim.devices.bus.store import LedgerStore
from homesim.schemas.manifest import load_any
from homesim.schemas.wire import unpack
from tests.integration.conftest import ROOT, homesim_run

sys.path.insert(0, str(ROOT / "tests"))
from homesim_loop import HomeLoop  # noqa: E402


def _ledger_packets(db: Path) -> dict[tuple[int, str, str, str], float]:
    with LedgerStore.open(db) as store:
        return {(p.tick, p.source, p.sink, p.carrier): p.joules for p in store.packets()}


@pytest.mark.parametrize(("example", "args"), [
    pytest.param("home", ["--until", "2d"], marks=pytest.mark.quick),
    ("block", ["--until", "2d", "--dt", "900"]),
])
def test_the_harness_books_what_a_real_run_books(tmp_path, example, args):
    out = tmp_path / "run"
    homesim_run(ROOT / "examples" / f"{example}.yaml", out, *args, "--no-report")
    home = load_any(out / "manifest.yaml")  # the resolved manifest the processes ran
    loop = HomeLoop(home, run_id="harness")
    loop.run()
    assert loop.result is not None and loop.result.ok
    mine = {}
    for m in loop.messages:
        if m.topic.startswith("homesim.packets."):
            p = m.payload
            for f in p["flows"]:
                for i, j in enumerate(unpack(f["joules"]).tolist()):
                    if j != 0:  # the ledger stores non-zero ticks only
                        mine[(p["tick0"] + i, f["source"], f["sink"], f["carrier"])] = j
    ledger = _ledger_packets(out / "ledger.sqlite")
    assert mine.keys() == ledger.keys()
    different = [k for k, v in ledger.items() if mine[k] != v]
    assert not different, f"{len(different)} packets differ, e.g. {different[:3]}"
    totals = {k: v for k, v in loop.flow_totals().items() if v != 0}
    with LedgerStore.open(out / "ledger.sqlite") as store:
        booked = store.flow_totals()
    assert totals.keys() == booked.keys()
    for key, value in booked.items():
        assert math.isclose(totals[key], value, rel_tol=1e-12), key
