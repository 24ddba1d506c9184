"""Headline figures (homesim.devices.bus.figures) on a ledger written by the real Ledger,
checked against numbers computed by hand; the ledger's summary and Prometheus gauges, the
store path (report, compare) and the bills all agree."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import REGISTRY as PROM
from prometheus_client.parser import text_string_to_metric_families

from homesim.devices.bus.figures import Roles, Totals, figures_of, headline, window_totals
from homesim.devices.bus.store import LedgerStore
from homesim.schemas.manifest import Home
from homesim.schemas.registry import REGISTRY
from homesim.schemas.units import J_PER_KWH

START = 1735689600.0  # 2025-01-01T00:00:00Z
DT = 900.0
P_IMP, P_EXP = 0.25, 0.10  # [EUR/kWh]
HOME = {
    "apiVersion": "homesim.io/v1alpha1", "kind": "Home", "metadata": {"name": "figs"},
    "spec": {
        "location": {"latitude": 50, "longitude": 8, "timezone": "UTC"},
        "simulation": {"start": "2025-01-01T00:00:00+00:00", "duration": "1h", "dt": DT},
        "devices": [
            {"name": "weather", "kind": "weather"}, {"name": "sun", "kind": "sun"},
            {"name": "pv", "kind": "pv"}, {"name": "inverter", "kind": "inverter"},
            {"name": "battery", "kind": "battery"},
            {"name": "grid", "kind": "grid", "properties": {
                "tariff_import": {"flat": P_IMP}, "tariff_export": {"flat": P_EXP},
                "currency": "EUR"}},
            {"name": "house", "kind": "load"}, {"name": "car", "kind": "ev_charger"},
            {"name": "lm", "kind": "load_manager"}, {"name": "node", "kind": "heat_node"},
            {"name": "hp", "kind": "heat_pump"}, {"name": "rooms", "kind": "flat"},
        ]}}

EL, HEAT = "electricity", "heat"
SCALE = 3.6e5
"""Energies below are in units of SCALE [J] (0.1 kWh: above the report's display threshold)."""
ENERGY_METRICS = {"pv_ac", "unserved", "demand", "heat", "delivered", "unmet", "throttled"}
# Two windows of two ticks [SCALE J]. The AC bus balances in every tick:
# pv_ac + discharge + import = house + car + hp + charge + export.
WINDOWS = [
    {"flows": [("sun", "pv", "solar", [20, 0]), ("pv", "inverter", EL, [10, 0]),
               ("inverter", "house", EL, [3, 2]), ("inverter", "car", EL, [2, 4]),
               ("inverter", "hp", EL, [1, 1]), ("inverter", "battery", EL, [2, 0]),
               ("battery", "inverter", EL, [0, 1]), ("grid", "inverter", EL, [0, 6]),
               ("inverter", "grid", EL, [1, 0]), ("hp", "node", HEAT, [3, 3]),
               ("ambient", "hp", HEAT, [2, 2]), ("node", "rooms", HEAT, [3, 3])],
     "metrics": {"inverter": {"pv_ac": [9, 0], "unserved": [0, 0]},
                 "house": {"demand": [3, 2], "unserved": [0, 0]},
                 "car": {"delivered": [1.75, 3.5], "unmet": [0, 0], "connected": [1, 1]},
                 "lm": {"throttled": [0, 0.5]},
                 "node": {"demand": [3, 3], "heat": [3, 3], "unmet": [0, 0]},
                 "battery": {"soc": [0.75, 0.5]}, "rooms": {"temp_room": [20, 19.5]}}},
    {"flows": [("inverter", "house", EL, [2, 2]), ("inverter", "hp", EL, [1, 1]),
               ("grid", "inverter", EL, [3, 1.5]), ("battery", "inverter", EL, [0, 1.5]),
               ("hp", "node", HEAT, [2.5, 2.5]), ("ambient", "hp", HEAT, [1.5, 1.5]),
               ("node", "rooms", HEAT, [2.5, 2.5])],
     "metrics": {"inverter": {"pv_ac": [0, 0], "unserved": [0, 0.5]},
                 "house": {"demand": [2, 2.5], "unserved": [0, 0.5]},
                 "car": {"delivered": [0, 0], "unmet": [0, 0.25], "connected": [0, 0]},
                 "lm": {"throttled": [0, 0]},
                 "node": {"demand": [2.5, 2.5], "heat": [2.5, 2.5], "unmet": [0, 0]},
                 "battery": {"soc": [0.5, 0.25]}, "rooms": {"temp_room": [19, 18.5]}}},
]


def _grid_cost(flows: list) -> list[float]:
    imp = next((np.array(j, float) for s, k, _, j in flows if s == "grid"), np.zeros(2))
    exp = next((np.array(j, float) for s, k, _, j in flows if k == "grid"), np.zeros(2))
    return (SCALE * (imp / J_PER_KWH * P_IMP - exp / J_PER_KWH * P_EXP)).tolist()


def _book(led, w: int, spec: dict) -> None:
    tick0, n = 2 * w, 2
    metrics = {d: {k: (np.array(v, float) * SCALE).tolist() if k in ENERGY_METRICS else v
                   for k, v in m.items()} for d, m in spec["metrics"].items()}
    metrics["grid"] = {"cost": _grid_cost(spec["flows"])}
    settles = {d: {"run": "r", "window": w, "tick0": tick0, "n": n, "device": d, "packets": 0,
                   "metrics": metrics.get(d, {})} for d in led.devices}
    packets = [{"flows": [{"source": a, "sink": b, "carrier": c,
                           "joules": np.array(j, dtype=float) * SCALE}
                          for a, b, c, j in spec["flows"]]}]
    led.book(w, settles, packets)


@pytest.fixture
def booked(tmp_path: Path):
    from homesim.devices.bus.ledger import Ledger

    home = Home.model_validate(HOME)
    led = Ledger(home, "r", tmp_path / "ledger.sqlite", START, DT, 4,
                 summary_path=tmp_path / "summary.json")
    for w, spec in enumerate(WINDOWS):
        _book(led, w, spec)
    summary = led.summary()
    led.finalize()
    return tmp_path, led, summary


def test_roles_come_from_the_registry():
    """Consumers are the registry's consumer kinds that take electricity (never a list of
    kind names); an unknown (plugin) kind counts as a consumer; external nodes do not."""
    kinds = {k: k for k in REGISTRY.names()} | {"ambient": "ambient", "kettle": "kettle"}
    r = Roles.of(kinds)
    expected = {k for k in REGISTRY.names()
                if REGISTRY.get(k).consumer and "electricity" in REGISTRY.get(k).carriers
                and REGISTRY.get(k).role != "source"}
    assert set(r.consumers) == expected | {"kettle"}
    assert {"load", "heat_pump", "ev_charger"} <= set(r.consumers)
    assert not {"battery", "grid", "inverter", "pv", "ambient"} & set(r.consumers)
    assert (r.grids, r.batteries, r.sources, r.balancers) == (("grid",), ("battery",),
                                                               ("pv",), ("inverter",))
    assert (r.heat_pumps, r.boilers, r.heat_stores, r.zones, r.chargers, r.managers) == (
        ("heat_pump",), ("boiler",), ("buffer",), ("flat",), ("ev_charger",),
        ("load_manager",))


def test_figures_by_hand(booked):
    """Load counts every consumer; self-consumption and self-sufficiency by Luthander et al.
    (2015) with M = Σ_t max(0, L_t − max(0, imp_t − exp_t)); peak, cost, heat, EV."""
    tmp, led, summary = booked
    with LedgerStore.open(tmp / "ledger.sqlite") as st:
        f = figures_of(st)
    kwh = SCALE / J_PER_KWH
    # L_t = [6, 7, 3, 3]; imp = [0, 6, 3, 1.5]; exp = [1, 0, 0, 0] → M_t = [6, 1, 0, 1.5]
    assert f.load_kwh == pytest.approx(19 * kwh, rel=1e-15)
    assert f.consumers_kwh["house"] == pytest.approx(9 * kwh)
    assert f.consumers_kwh["car"] == pytest.approx(6 * kwh)
    assert f.consumers_kwh["hp"] == pytest.approx(4 * kwh)
    assert f.load_by_kind_kwh == pytest.approx({"load": 9 * kwh, "ev_charger": 6 * kwh,
                                                "heat_pump": 4 * kwh})
    assert f.self_consumed_kwh == pytest.approx(8.5 * kwh)
    # the batteries gave 0.5 more than they took (2.5 vs 2): held before the span, not PV
    assert f.self_consumption == pytest.approx((8.5 - 0.5) / 9)
    assert f.self_sufficiency == pytest.approx(8.5 / 19)
    assert (f.pv_ac_kwh, f.pv_dc_kwh, f.solar_incident_kwh) == pytest.approx(
        (9 * kwh, 10 * kwh, 20 * kwh))
    assert (f.grid_import_kwh, f.grid_export_kwh) == pytest.approx((10.5 * kwh, 1 * kwh))
    assert (f.battery_charge_kwh, f.battery_discharge_kwh) == pytest.approx((2 * kwh,
                                                                             2.5 * kwh))
    assert f.unserved_kwh == pytest.approx(0.5 * kwh)          # the inverter's, all consumers
    assert f.demand_kwh == pytest.approx(19.5 * kwh)
    assert f.peak_import_w == pytest.approx(6 * SCALE / DT)
    assert f.peak_load_w == pytest.approx(7 * SCALE / DT)
    assert f.net_cost == pytest.approx((10.5 * P_IMP - 1 * P_EXP) * kwh)
    assert (f.grid_cost, f.gas_cost, f.currency) == (pytest.approx(f.net_cost), 0.0, "EUR")
    assert f.soc == {"battery": {"min": 0.25, "max": 0.75}}
    h = f.heat
    assert h is not None and h.scop == pytest.approx(11 / 4)
    assert h.delivered_kwh == pytest.approx(11 * kwh) and h.sources_kwh == pytest.approx(
        {"hp": 11 * kwh})
    assert h.flats["rooms"]["heat_kwh"] == pytest.approx(11 * kwh)
    assert h.flats["rooms"]["temp_room_min"] == 18.5
    ev = f.ev
    assert ev is not None
    assert (ev.electricity_kwh, ev.delivered_kwh, ev.unmet_kwh, ev.throttled_kwh) == \
        pytest.approx((6 * kwh, 5.25 * kwh, 0.25 * kwh, 0.5 * kwh))
    assert [k.key for k in f.kpis()][:3] == ["self_sufficiency", "self_consumption", "load"]


def test_ledger_summary_store_prometheus_and_bills_agree(booked):
    """One set of figures: the ledger's summary and gauges (its running totals), the store
    path (report, compare) and the bills (their own meters and tariffs)."""
    from homesim.infra.analysis.billing import bill_run

    tmp, led, summary = booked
    with LedgerStore.open(tmp / "ledger.sqlite") as st:
        f = figures_of(st)
    s = f.summary()
    for key, value in s["energy_kwh"].items():
        assert summary["energy_kwh"][key] == pytest.approx(value, rel=1e-12, abs=1e-18), key
    for key in ("self_consumption", "self_sufficiency", "peak_import_w"):
        assert summary[key] == pytest.approx(s[key], rel=1e-12), key
    cost = dict(summary["cost"])
    assert cost.pop("currency") == s["cost"]["currency"] == "EUR"
    assert cost == pytest.approx({k: v for k, v in s["cost"].items() if k != "currency"},
                                 rel=1e-12)
    assert summary["heat"]["heat_pumps"] == s["heat"]["heat_pumps"]
    assert summary["ev"]["delivered_kwh"] == pytest.approx(s["ev"]["delivered_kwh"])
    # the running totals equal the store's, window by window
    assert led.totals.self_consumed == pytest.approx(8.5 * SCALE)
    # Prometheus: the ledger's gauges, live and as saved with the run
    live = PROM.get_sample_value("homesim_run_energy_joules", {"home": "figs",
                                                              "quantity": "load"})
    assert live == pytest.approx(19.0 * SCALE)
    saved = {}
    for fam in text_string_to_metric_families((tmp / "ledger.prom").read_text()):
        for sample in fam.samples:
            if sample.labels.get("home") == "figs":
                saved[(sample.name, sample.labels.get("quantity"))] = sample.value
    g = f.gauges()
    for group, metric in (("energy", "homesim_run_energy_joules"), ("ratio", "homesim_run_ratio"),
                          ("power", "homesim_run_power_watts"), ("cost", "homesim_run_cost")):
        for q, v in g[group].items():
            assert saved[(metric, q)] == pytest.approx(v, rel=1e-12), (metric, q)
    # the bills: every consumer's electricity, and the metered cost
    bill = bill_run(tmp)
    assert bill.load_kwh == pytest.approx(f.load_kwh, rel=1e-12)
    assert bill.metered_cost == pytest.approx(f.net_cost, rel=1e-12)
    assert bill.total.total == pytest.approx(f.net_cost, rel=1e-12)


def test_window_totals_add_up():
    """Totals of two windows added equal the totals of both at once (figures are additive)."""
    roles = Roles.of({d["name"]: d["kind"] for d in HOME["spec"]["devices"]})

    def tot(specs: list[dict]) -> Totals:
        n = 2 * len(specs)
        keys = {(a, b, c) for s in specs for a, b, c, _ in s["flows"]}
        flows = []
        for key in sorted(keys):
            arr = SCALE * np.concatenate([next((np.array(j, float) for a, b, c, j in s["flows"]
                                        if (a, b, c) == key), np.zeros(2)) for s in specs])
            flows.append((*key, arr))
        mets = []
        for dev in specs[0]["metrics"]:
            for name in specs[0]["metrics"][dev]:
                mets.append((dev, name, np.concatenate([np.array(s["metrics"][dev][name],
                                                                 float) for s in specs])))
        return window_totals(roles, DT, n, flows, mets)

    parts = Totals(dt=DT)
    for s in WINDOWS:
        parts.add(tot([s]))
    whole = tot(WINDOWS)
    home = Home.model_validate(HOME)
    a, b = headline(parts, roles, home), headline(whole, roles, home)
    assert a.summary()["energy_kwh"] == pytest.approx(b.summary()["energy_kwh"])
    assert (a.self_sufficiency, a.peak_import_w) == pytest.approx((b.self_sufficiency,
                                                                   b.peak_import_w))
    assert math.isclose(a.ev.throttled_kwh, b.ev.throttled_kwh)


def test_energy_stored_before_the_span_is_not_self_consumed_pv():
    """A what-if fork (or a run from a full battery) whose battery covers the evening load
    with energy charged before the span: self-sufficiency counts it, self-consumption does
    not (it stayed above 100 % before: 105 % in a fork of the web builder's home)."""
    roles = Roles.of({d["name"]: d["kind"] for d in HOME["spec"]["devices"]})
    # tick 0: 1 of PV to the house; tick 1: the battery gives 3 to the house, no PV, no grid
    flows = [("pv", "inverter", EL, SCALE * np.array([1.0, 0.0])),
             ("inverter", "house", EL, SCALE * np.array([1.0, 3.0])),
             ("battery", "inverter", EL, SCALE * np.array([0.0, 3.0]))]
    t = window_totals(roles, DT, 2, flows, [("inverter", "pv_ac", SCALE * np.array([1.0, 0.0]))])
    f = headline(t, roles)
    assert f.self_consumed_kwh == pytest.approx(4 * SCALE / J_PER_KWH)  # M: no grid at all
    assert f.self_sufficiency == pytest.approx(1.0)
    assert f.self_consumption == pytest.approx(1.0)  # (M − D) / P = (4 − 3) / 1, was 4 / 1
    # the battery charged from the span's PV and gave it back: all of it counts
    flows2 = [("pv", "inverter", EL, SCALE * np.array([4.0, 0.0])),
              ("inverter", "house", EL, SCALE * np.array([1.0, 3.0])),
              ("inverter", "battery", EL, SCALE * np.array([3.0, 0.0])),
              ("battery", "inverter", EL, SCALE * np.array([0.0, 3.0])),
              ("grid", "inverter", EL, SCALE * np.array([0.0, 0.0]))]
    t2 = window_totals(roles, DT, 2, flows2,
                       [("inverter", "pv_ac", SCALE * np.array([4.0, 0.0]))])
    assert headline(t2, roles).self_consumption == pytest.approx(1.0)
