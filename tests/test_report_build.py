"""The report's pure parts (local-time bins, EV sessions, display threshold, duration curve)
and the report built from a hand-made ledger (no browser; tests/integration/test_report.py
renders real runs in Chromium)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from homesim.infra.analysis.compare import duration_curve
from homesim.infra.analysis.report import ReportError, build_report, render_html, sessions_of
from homesim.infra.analysis.rundata import (
    DISPLAY_KWH,
    ac_columns,
    bin_index,
    binned,
    display,
    period_edges,
)
from homesim.schemas.manifest import Home
from tests.test_figures import DT, HOME, START, WINDOWS, _book


def test_local_periods_follow_the_zone():
    """Days are local days (23 h on the spring DST change), weeks start on Monday, months
    on the 1st; a tick belongs to the period its start lies in."""
    berlin = ZoneInfo("Europe/Berlin")
    t0 = datetime(2025, 3, 30, tzinfo=berlin).timestamp()
    edges, labels = period_edges(t0, t0 + 2 * 86400, berlin, "day")
    assert labels == ["2025-03-30", "2025-03-31", "2025-04-01"]
    assert np.diff(edges).tolist() == [23 * 3600.0, 24 * 3600.0, 24 * 3600.0]
    _, weeks = period_edges(t0, t0 + 10 * 86400, berlin, "week")
    assert weeks == ["2025-03-24", "2025-03-31", "2025-04-07"]
    _, months = period_edges(t0, t0 + 3 * 86400, berlin, "month")
    assert months == ["2025-03", "2025-04"]
    e, hours = period_edges(START, START + 2 * 3600, UTC, "hour")
    assert hours == ["2025-01-01 00:00", "2025-01-01 01:00"] and len(e) == 3
    idx = bin_index(np.array([START - 1, START, START + 3599, START + 3600, START + 7200]), e)
    assert idx.tolist() == [-1, 0, 0, 1, 2]
    assert binned(np.ones(5), idx, 2).tolist() == [2.0, 1.0]


def test_display_threshold_and_duration_curve():
    """Float noise is not data; the duration curve is sorted and thinned."""
    v = display(np.array([4e-15, -3e-4, 2e-3, 5.0]), DISPLAY_KWH)
    assert v.tolist() == [0.0, 0.0, 2e-3, 5.0]
    x, kw = duration_curve(np.array([1000.0, 3000.0, 0.0, 2000.0]))
    assert kw == [3.0, 2.0, 1.0, 0.0] and x == [25.0, 50.0, 75.0, 100.0]
    x, kw = duration_curve(np.arange(10_000.0), points=100)
    assert len(kw) == 100 and kw[0] == 9.999 and kw[-1] == 0.0 and x[-1] == 100.0


def test_ev_sessions():
    """A session is a run of connected ticks; unmet energy belongs to the session it
    follows."""
    conn = np.array([0, 1, 1, 0, 0, 1, 1, 1])
    charged = np.array([0, 2, 3, 0, 0, 1, 1, 1.0]) * 3.6e6
    unmet = np.array([0, 0, 0, 0.5, 0, 0, 0, 0.25]) * 3.6e6
    s = sessions_of(conn, charged, unmet, "car")
    assert [(x.k0, x.k1, x.charged_kwh, x.unmet_kwh) for x in s] == [(1, 3, 5.0, 0.5),
                                                                    (5, 8, 3.0, 0.25)]


def test_ac_columns_balance():
    """PV (AC) = what the inverter put out − what it took from battery and grid; supply and
    use of the AC bus are equal."""
    from homesim.devices.bus.figures import Roles

    roles = Roles.of({d["name"]: d["kind"] for d in HOME["spec"]["devices"]})
    n = 2
    vals = {"out": np.array([9.0, 4]), "in_other": np.array([1.0, 4]),
            "discharge": np.array([1.0, 0]), "import": np.array([0.0, 4]),
            "charge": np.array([2.0, 0]), "export": np.array([1.0, 0]),
            "use:Household load": np.array([3.0, 2]), "use:EV charger": np.array([2.0, 1]),
            "use:Heat pump": np.array([1.0, 1])}
    cols = ac_columns(vals, roles)
    pv = next(c for c in cols if c.key == "pv_ac")
    assert pv.values.tolist() == [8.0, 0.0]
    net = sum(c.sign * c.values for c in cols)
    np.testing.assert_allclose(net, np.zeros(n))
    assert {c.label for c in cols if c.sign < 0} == {"Household load", "EV charger",
                                                     "Heat pump", "Battery charge",
                                                     "Grid export"}


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A hand-made run folder: the figures test's two windows, plus the heat node's
    decisions (events of the economic broker)."""
    from homesim.devices.bus.ledger import Ledger
    from homesim.devices.bus.store import Event

    led = Ledger(Home.model_validate(HOME), "r", tmp_path / "ledger.sqlite", START, DT, 4)
    for w, spec in enumerate(WINDOWS):
        _book(led, w, spec)
    led.store.write_events([Event(0, "node", "heat_source", "heat_pump", "pv_surplus",
                                  {"cost_hp": 0.0}),
                            Event(2, "node", "heat_source", "boiler", "cheaper",
                                  {"cost_hp": 0.3, "cost_gas": 0.12}),
                            Event(1, "node", "dhw_source", "boiler", "gas cheaper at "
                                  "the hot-water COP", {"cost_hp": 0.14, "cost_gas": 0.12})])
    led.close()
    return tmp_path


def test_report_of_a_hand_made_ledger(run_dir):
    """Every figure the ledger has data for, with that data; KPI cards are the headline
    figures; an hour selector for a short run; a day outside the run is refused."""
    rep = build_report(run_dir)
    assert {"sankey", "energy", "power", "soc", "cost", "ev", "temperature", "heat",
            "broker"} <= set(rep.figures)
    assert "bills" not in rep.figures and "heat_store" not in rep.figures
    for name, fig in rep.figures.items():
        assert fig.data, name
    broker = rep.figures["broker"]
    assert list(broker.data[0].y) == ["heat_pump", "boiler", "boiler"]
    assert broker.data[0].x[0] == "2025-01-01 00:00:00"      # local (UTC) wall time
    assert broker.data[1].name == "node (hot water)" and list(broker.data[1].y) == [
        "boiler", "boiler"]
    energy = rep.figures["energy"]
    assert [b["label"] for b in energy.layout.updatemenus[0].buttons] == ["hour", "day",
                                                                          "week", "month"]
    labels = {t.name for t in energy.data if t.visible}
    assert {"PV (AC)", "Grid import", "Household load", "EV charger", "Heat pump"} <= labels
    sankey = rep.figures["sankey"].data[0]
    assert "Home (AC)" in sankey.node.label and "Losses" not in sankey.node.label[:1]
    page = render_html(rep)
    assert "Self-sufficiency" in page and "44.7 %" in page      # 8.5 / 19
    assert "local time (UTC)" in page
    with pytest.raises(ReportError, match="outside the run"):
        build_report(run_dir, day="2030-01-01")
