"""Several inverters: a PV (string) inverter beside the hybrid inverter (issue 12).

* the model (``models/pv_inverter.py``): pvlib's PVWatts inverter, clipping at the AC
  rating, the DC drawn when the balancing inverter takes less;
* the allocation (``models/inverter.allocate`` with ``ac_in``): AC-coupled sources serve the
  load, charge, export; curtailment takes the same fraction of every source; the AC bus
  balances; without sources nothing changes;
* the manifest: a pv naming a missing or wrong-kind inverter, a PV inverter without arrays,
  two balancing devices: refused with their field path;
* in process (real shells, protocols and ledger, no router): ``examples/pv-inverter.yaml``
  conserves energy at every node, clips at 3 kW, agrees with pvlib, restores bit for bit.
"""

from __future__ import annotations

import copy
import json
import sqlite3
import tempfile
from functools import cache
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pvlib
import pytest
import yaml
from homesim_loop import HomeLoop
from numpy.testing import assert_allclose, assert_array_equal

from homesim.devices.bus.protocol import T
from homesim.devices.bus.store import LedgerStore
from homesim.devices.models.battery import BatteryEnvelope
from homesim.devices.models.inverter import InverterSettings, allocate
from homesim.devices.models.pv_inverter import PvInverter, convert, dc_drawn
from homesim.infra.supervisor import RunOptions, prepare_home
from homesim.schemas.manifest import ManifestError, load_any, parse_any, topology_errors
from homesim.schemas.registry import REGISTRY, KindDescriptor
from homesim.schemas.wire import unpack

ROOT = Path(__file__).resolve().parents[1]
START = pd.Timestamp("2025-06-01", tz="Etc/GMT+5").timestamp()
DT = 60.0


def _pvwatts(dc_w: np.ndarray, pdc0: float, eta: float = 0.96) -> np.ndarray:
    """pvlib's own PVWatts inverter [W], no output where it gives none (as ModelChain)."""
    with np.errstate(all="ignore"):
        ac = pvlib.inverter.pvwatts(np.asarray(dc_w, dtype=float), pdc0, eta)
    return np.maximum(np.nan_to_num(np.asarray(ac, dtype=float)), 0.0)


# ----------------------------------------------------------------------------- model


def test_conversion_is_pvlibs_pvwatts_inverter():
    """AC = pvlib.inverter.pvwatts(dc, pdc0 = p_ac_max / eta_inv_nom) for every DC power,
    to the bit, including clipping at p_ac_max."""
    inv = PvInverter(3000.0)
    dc_w = np.concatenate([np.linspace(0, 6000, 601), [3125.0, 3124.9, 1e-9]])
    c = convert(inv, dc_w * DT, DT)
    assert_array_equal(c.ac, np.minimum(_pvwatts(dc_w, 3125.0) * DT, 3000.0 * DT))
    # published figures of the curve (pvlib 0.16): 1.5 kW DC -> 1443.0368 W AC
    assert_allclose(convert(inv, np.array([1500.0]), 1.0).ac, [1443.036796], atol=1e-6)
    assert c.ac.max() == 3000.0 * DT


def test_clipping_leaves_the_excess_dc_undrawn():
    """Above the rating the DC drawn yields exactly the rating; the rest is ``clipped``;
    losses are DC drawn − AC, never negative."""
    inv = PvInverter(3000.0, eta_inv_nom=0.97)
    dc = np.array([0.0, 1000.0, 3000.0, 3500.0, 5000.0]) * DT
    c = convert(inv, dc, DT)
    assert_array_equal(c.dc_used + c.clipped, dc)
    assert np.all(c.losses >= 0) and np.all(c.clipped >= 0)
    clip = c.ac >= 3000.0 * DT
    assert clip.tolist() == [False, False, False, True, True]
    assert_allclose(_pvwatts(c.dc_used[clip] / DT, 3000 / 0.97, 0.97), 3000.0, rtol=1e-12)
    assert np.all(c.clipped[~clip] == 0)
    assert_allclose(c.clipped[clip], dc[clip] - 3000 / 0.97 * DT, rtol=1e-9)


def test_dc_drawn_for_less_ac_is_the_inverse_curve():
    """When the balancing inverter takes less AC, the DC drawn gives exactly that AC."""
    inv = PvInverter(3000.0)
    dc = np.array([500.0, 2000.0, 3000.0, 4500.0]) * DT
    full = convert(inv, dc, DT)
    assert_array_equal(dc_drawn(inv, dc, full.ac, DT), full.dc_used)
    half = full.ac / 2
    drawn = dc_drawn(inv, dc, half, DT)
    assert np.all(drawn <= full.dc_used) and np.all(drawn >= half)
    assert_allclose(_pvwatts(drawn / DT, 3125.0) * DT, half, rtol=1e-12)


def test_bad_parameters_name_the_field():
    with pytest.raises(ValueError, match="p_ac_max"):
        PvInverter(0.0)
    with pytest.raises(ValueError, match="eta_inv_nom"):
        PvInverter(3000.0, eta_inv_nom=1.5)
    with pytest.raises(ValueError, match="dc"):
        convert(PvInverter(3000.0), np.array([-1.0]), DT)


# ----------------------------------------------------------------------------- allocation


def _settings(**kw) -> InverterSettings:
    return InverterSettings(p_ac_max=5000.0, **kw)


def _balance(a, pv_dc, ac_in) -> np.ndarray:
    """Per tick: energy into the AC bus − energy out of it [J] (0 when balanced)."""
    into = (a.pv_dc_used - a.inverter_losses) + a.ac_in_used.sum(axis=1) \
        + a.battery_discharge + a.grid_import
    out = a.to_load + a.battery_charge + a.grid_export
    return into - out


@pytest.mark.parametrize("with_battery", [False, True])
def test_ac_sources_are_taken_like_pv_ac_and_the_bus_balances(with_battery):
    rng = np.random.default_rng(7)
    n = 500
    times = START + np.arange(n) * DT
    pv_dc = rng.uniform(0, 6000, n) * DT
    ac1, ac2 = rng.uniform(0, 3000, n) * DT, rng.uniform(0, 1000, n) * DT
    load = rng.uniform(0, 7000, n) * DT
    bat = [BatteryEnvelope(18e6, 1.8e6, 36e6, 4000, 4000, 0.95, 0.95, 36e6)] \
        if with_battery else None
    a = allocate(_settings(), DT, times, pv_dc, None, load, 13800 * DT,
                 rng.uniform(0, 4000, n) * DT, bat, [ac1, ac2])
    assert a.ac_in_used.shape == (n, 2)
    assert np.all(a.ac_in_used[:, 0] <= ac1) and np.all(a.ac_in_used[:, 1] <= ac2)
    assert np.all(a.ac_in_used >= 0)
    assert_allclose(_balance(a, pv_dc, [ac1, ac2]), 0.0, atol=1e-9 * DT * 1e4)
    assert_allclose(a.to_load + a.unserved, load, rtol=1e-12)
    # the same fraction of every source where PV is curtailed; all of each elsewhere
    # the hybrid's own PV AC: all of it exported without limit
    own = allocate(_settings(), DT, times, pv_dc, None, np.zeros(n), 0.0, np.full(n, 1e12),
                   None).pv_ac
    cut = a.ac_in_used.sum(axis=1) + a.pv_ac < own + ac1 + ac2 - 1e-6
    assert cut.any() and (~cut).any()
    assert_allclose(a.ac_in_used[~cut, 0], ac1[~cut], rtol=1e-12)
    assert_allclose(a.pv_ac[~cut], own[~cut], rtol=1e-12)
    frac = a.ac_in_used[cut, 0] / ac1[cut]
    big = ac1[cut] > 1.0
    assert_allclose(frac[big], (a.pv_ac[cut] / own[cut])[big], rtol=1e-9)


def test_without_ac_sources_the_allocation_is_unchanged():
    """``ac_in=[]`` gives the same allocation, bit for bit, as before (no sources)."""
    rng = np.random.default_rng(3)
    n = 300
    times = START + np.arange(n) * DT
    args = (rng.uniform(0, 6000, n) * DT, None, rng.uniform(0, 5000, n) * DT, 13800 * DT,
            5000 * DT, [BatteryEnvelope(18e6, 1.8e6, 36e6, 4000, 4000, 0.95, 0.95, 36e6)])
    a = allocate(_settings(), DT, times, *args)
    b = allocate(_settings(), DT, times, *args, [])
    for f in ("pv_dc_used", "pv_ac", "to_load", "battery_charge", "grid_import",
              "grid_export", "battery_energy"):
        assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f)


def test_an_ac_source_does_not_eat_the_dc_batterys_discharge_headroom():
    """At night a DC battery gives up to the hybrid inverter's rating whatever a PV inverter
    delivers (the PV inverter's AC does not pass the hybrid inverter)."""
    n = 10
    times = START + np.arange(n) * DT
    bat = [BatteryEnvelope(30e6, 1e6, 36e6, 9000, 9000, 1.0, 1.0, 36e6)]
    a = allocate(_settings(), DT, times, np.zeros(n), None, np.full(n, 9000 * DT), 0.0, 0.0,
                 bat, [np.full(n, 3000 * DT)])
    assert_allclose(a.ac_in_used[:, 0], 3000 * DT)
    assert_allclose(a.battery_discharge, 5000 * DT)  # the hybrid's own 5 kW
    assert_allclose(a.unserved, 1000 * DT)


# ----------------------------------------------------------------------------- manifest


def _example(name: str = "pv-inverter") -> dict:
    return yaml.safe_load((ROOT / "examples" / f"{name}.yaml").read_text())


def _errors(data: dict) -> list[tuple[str, str]]:
    with pytest.raises(ManifestError) as exc:
        parse_any(data)
    return exc.value.errors


def _index(data: dict, name: str) -> int:
    return next(i for i, d in enumerate(data["spec"]["devices"]) if d["name"] == name)


def test_a_pv_naming_a_missing_inverter_is_refused_with_its_path():
    data = _example()
    i = _index(data, "pv-west")
    data["spec"]["devices"][i]["properties"]["inverter"] = "string-inverterr"
    errs = dict(_errors(data))
    assert f"spec.devices[{i}].properties.inverter" in errs
    assert "no device 'string-inverterr'" in errs[f"spec.devices[{i}].properties.inverter"]
    assert "'string-inverter'" in errs[f"spec.devices[{i}].properties.inverter"]
    # the PV inverter is now without arrays: named too
    assert "has no enabled pv array" in errs[f"spec.devices[{_index(data, 'string-inverter')}]"]


def test_a_pv_naming_a_device_of_another_kind_is_refused_with_its_path():
    data = _example()
    i = _index(data, "pv-south")
    data["spec"]["devices"][i]["properties"]["inverter"] = "inverter"
    errs = _errors(data)
    assert errs == [(f"spec.devices[{i}].properties.inverter",
                     "'inverter' is a inverter, not a pv_inverter (a pv's inverter names a "
                     "pv_inverter: 'string-inverter')")]


def test_a_disabled_pv_inverter_and_an_unwired_one_are_refused():
    data = _example()
    j = _index(data, "string-inverter")
    data["spec"]["devices"][j]["enabled"] = False
    (path, reason), = _errors(data)
    assert path == f"spec.devices[{_index(data, 'pv-west')}].properties.inverter"
    assert "disabled" in reason
    data = _example()
    data["spec"]["devices"].append({"name": "spare", "kind": "pv_inverter"})
    (path, reason), = _errors(data)
    assert path == f"spec.devices[{len(data['spec']['devices']) - 1}]"
    assert "has no enabled pv array" in reason


def test_two_balancing_devices_are_refused_with_the_path():
    """A second inverter is refused (one per home), once, at its path."""
    data = _example()
    data["spec"]["devices"].append({"name": "inverter-2", "kind": "inverter"})
    (path, reason), = _errors(data)
    assert path == f"spec.devices[{len(data['spec']['devices']) - 1}]"
    assert "at most 1 enabled inverter" in reason


def test_a_second_balancer_of_another_kind_is_refused(monkeypatch):
    """Whatever its kind (here a plugin balancer), a second balancing device on the electric
    bus is named at its path."""
    toy = KindDescriptor(kind="toy_balancer", label="Toy", description="a second balancer",
                         shell="x.y:Z", role="balancer", carriers=["electricity"])
    monkeypatch.setitem(REGISTRY._kinds, "toy_balancer", toy)

    def dev(name, kind):
        return SimpleNamespace(name=name, kind=kind, enabled=True, flat=None,
                               properties=SimpleNamespace())
    devices = [dev("inverter", "inverter"), dev("other", "toy_balancer")]
    errs = topology_errors(devices)
    assert [p for p, _ in errs] == ["devices[1]"]
    assert "one balancing device" in errs[0][1] and "'inverter'" in errs[0][1]


def test_a_flats_pv_names_its_flats_pv_inverter():
    """In a block a flat's devices are renamed <flat>-<device>: a pv's inverter follows."""
    data = _example("block")
    flat = data["spec"]["flats"][0]
    flat["devices"] += [
        {"name": "balcony-pv", "kind": "pv", "properties": {"pdc0": 800, "inverter": "micro"}},
        {"name": "micro", "kind": "pv_inverter", "properties": {"p_ac_max": 600}}]
    home = parse_any(data)
    pv = home.spec.device(f"{flat['name']}-balcony-pv")
    assert pv.properties.inverter == f"{flat['name']}-micro"
    assert home.spec.device(f"{flat['name']}-micro").kind == "pv_inverter"


# ----------------------------------------------------------------------------- in process


@cache
def _run(export_w: float | None = None, until: str = "3d", dt: float = 300.0,
         window: int = 96) -> tuple:
    """The example (its grid's export limit set to ``export_w`` [W]) in process into a real
    ledger: (home, summary, per-tick flows, per-tick settle metrics, totals of every metric
    and of every node's losses)."""
    data = _example()
    if export_w is not None:
        data["spec"]["devices"][_index(data, "grid")]["properties"]["p_export_max"] = export_w
    home = prepare_home(parse_any(data), RunOptions(until=until, dt=dt))
    ticks = int(round(pd.Timedelta(until).total_seconds() / dt))
    with tempfile.TemporaryDirectory() as d:
        db = Path(d) / "ledger.sqlite"
        loop = HomeLoop(home, window=window, ledger_db=db)
        series: dict[tuple[str, str], np.ndarray] = {}
        for msg in loop.run():
            if msg.topic == T.SETTLE:
                t0 = msg.payload["tick0"]
                for name, arr in (msg.payload.get("metrics") or {}).items():
                    x = unpack(arr)
                    series.setdefault((msg.payload["device"], name),
                                      np.zeros(ticks))[t0:t0 + len(x)] = x
        summary = json.loads(json.dumps(loop.ledger.summary()))
        loop.close()
        flows: dict[tuple[str, str], np.ndarray] = {}
        with LedgerStore.open(db) as store:
            for p in store.packets():
                flows.setdefault((p.source, p.sink), np.zeros(ticks))[p.tick] += p.joules
        con = sqlite3.connect(db)
        totals = {(dev, m): t for dev, m, t in con.execute(
            "SELECT device, metric, SUM(total) FROM device_metric GROUP BY device, metric")}
        totals |= {(node, "losses"): t for node, t in con.execute(
            "SELECT node, SUM(losses) FROM node_balance GROUP BY node")}
        con.close()
    return home, summary, flows, series, totals


def test_the_example_conserves_energy_and_clips_at_3_kw():
    home, s, flows, series, totals = _run()
    dt = home.spec.simulation.dt
    assert s["complete"]
    assert s["conservation"]["relative_residual"] <= 1e-9
    for node in ("string-inverter", "inverter", "pv-west", "pv-south", "battery"):
        assert s["conservation"]["per_node_relative"][node] <= 1e-9, node
    ac = flows[("string-inverter", "inverter")]
    dc = flows[("pv-west", "string-inverter")]
    cap = 3000.0 * dt
    assert ac.max() == pytest.approx(cap, rel=1e-12)  # clips at the 3 kW rating
    at_cap = ac >= cap * (1 - 1e-12)
    assert at_cap.sum() >= 6
    clipped = series[("string-inverter", "clipped")]
    assert clipped.sum() > 0.1 * 3.6e6 and np.all(clipped[~at_cap] == 0)
    assert totals[("string-inverter", "clipped")] == pytest.approx(clipped.sum(), rel=1e-12)
    # what the rating cut is not drawn: the array's curtailed DC includes it
    assert np.all(series[("pv-west", "curtailed")] >= clipped - 1e-6)
    # conversion losses (DC drawn - AC delivered) are the PV inverter's
    assert np.all(dc >= ac)
    assert totals[("string-inverter", "losses")] == pytest.approx((dc - ac).sum(), rel=1e-12)
    # the balancer's pv_ac counts both inverters' PV AC: the hybrid's after its own losses
    hybrid_ac = flows[("pv-south", "inverter")].sum() - totals[("inverter", "losses")]
    assert totals[("inverter", "pv_ac")] == pytest.approx(hybrid_ac + ac.sum(), rel=1e-12)


def test_the_pv_inverters_ac_agrees_with_pvlib():
    """Every tick of the run: AC delivered = pvlib.inverter.pvwatts(DC drawn) (clipped at the
    rating), to 1e-9 relative: taken in full, clipped, or curtailed by the export limit."""
    for export_w in (None, 2000.0):
        home, s, flows, series, totals = _run(export_w)
        dt = home.spec.simulation.dt
        ac = flows[("string-inverter", "inverter")]
        dc = flows[("pv-west", "string-inverter")]
        expect = np.minimum(_pvwatts(dc / dt, 3000 / 0.96), 3000.0) * dt
        assert_allclose(ac, expect, rtol=1e-9, atol=1e-6)
        assert totals[("string-inverter", "ac")] == pytest.approx(ac.sum(), rel=1e-12)


def test_curtailment_takes_the_same_fraction_of_both_inverters_and_is_booked():
    """A 2 kW export limit: PV is curtailed on sunny afternoons, the same fraction of the PV
    inverter's AC and of the hybrid's PV AC; curtailed AC is a metric, never dropped."""
    home, s, flows, series, totals = _run(2000.0)
    assert s["complete"] and s["conservation"]["relative_residual"] <= 1e-9
    cut = series[("string-inverter", "curtailed")]
    assert cut.sum() > 1 * 3.6e6
    ac = series[("string-inverter", "ac")]
    avail = ac + cut
    k = cut > 1e-3 * avail
    assert k.sum() >= 6
    frac_string = ac[k] / avail[k]
    # the hybrid's PV AC: used (the balancer's pv_ac minus the PV inverter's AC) and
    # available (its arrays' DC drawn + not drawn, through its PVWatts curve, 5 kW)
    dt = home.spec.simulation.dt
    dc_south = flows[("pv-south", "inverter")] + series[("pv-south", "curtailed")]
    hybrid_avail = np.minimum(_pvwatts(dc_south / dt, 5000 / 0.96), 5000.0) * dt
    hybrid_used = series[("inverter", "pv_ac")] - ac
    assert np.all(frac_string < 1)
    assert_allclose(hybrid_used[k] / hybrid_avail[k], frac_string, rtol=1e-9)
    grid_export = flows[("inverter", "grid")]
    assert grid_export.max() <= 2000.0 * home.spec.simulation.dt * (1 + 1e-12)


def test_a_pv_inverter_home_restores_bit_for_bit():
    """Snapshots: every device's dump_state after window k, restored into fresh shells,
    continues with the same messages bit for bit (tests/test_state.py's harness)."""
    import test_state
    from test_state import Original, check_continuation

    cases = {**test_state.CASES, "pv-inverter": ("2d", 24)}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(test_state, "CASES", cases)
        orig = Original("pv-inverter@2d", window=24)
        for k in (1, orig.count // 2):
            check_continuation(orig, k, m=2)
    state = json.loads(orig.states[-1])
    assert state["string-inverter"]["energy_ac"] > 0


def test_a_live_rating_change_reaches_the_balancer():
    """``set p_ac_max`` on the PV inverter: the balancing inverter takes the new rating from
    its report (not from the manifest), so the PV inverter's settle accepts its packets."""
    home = prepare_home(load_any(ROOT / "examples" / "pv-inverter.yaml"),
                        RunOptions(until="2d", dt=300.0))
    loop = HomeLoop(home, window=96)
    loop.run(1)
    shell = loop.shells["string-inverter"]
    shell.props = shell.validated_set("p_ac_max", 2000)
    shell.setup()
    loop.run()
    ac = np.concatenate([np.asarray(x) for x in
                         loop.flows[("string-inverter", "inverter", "electricity")][1:]])
    assert ac.max() == pytest.approx(2000.0 * 300.0, rel=1e-12)


def test_disabling_the_pv_inverter_and_unwiring_its_array_puts_it_on_the_hybrid():
    data = _example()
    data["spec"]["devices"][_index(data, "string-inverter")]["enabled"] = False
    del data["spec"]["devices"][_index(data, "pv-west")]["properties"]["inverter"]
    home = prepare_home(parse_any(copy.deepcopy(data)), RunOptions(until="1d", dt=900.0))
    loop = HomeLoop(home, window=96)
    loop.run()
    assert loop.flow_totals()[("pv-west", "inverter", "electricity")] > 0
    assert not any("string-inverter" in k for k in loop.flow_totals())
