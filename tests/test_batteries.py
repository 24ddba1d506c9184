"""Several batteries on one inverter and AC-coupled batteries (issue 12).

* the dispatch rule (``models/dispatch.py``): shares in proportion to each battery's room,
  every battery within its own limits, the AC bus balanced, each battery's state reproducible
  from its own packets; one battery is exactly the single-battery allocation;
* the shells: one pair of packets per battery, an AC-coupled battery's converter;
* the manifest: options refused with their field path;
* in process (real shells, protocols and ledger, no router): the example homes use both
  batteries within their limits with conservation ≤ 1e-9, and restore bit for bit from a
  snapshot.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from homesim_loop import HomeLoop
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from homesim.devices.bus.store import LedgerStore
from homesim.devices.models.battery import (
    BatteryEnvelope,
    converter_terminal,
    storage_trajectory,
)
from homesim.devices.models.dispatch import share
from homesim.devices.models.inverter import InverterSettings, allocate
from homesim.infra.supervisor import RunOptions, prepare_home
from homesim.schemas.manifest import Home, ManifestError, load_any, parse_any

ROOT = Path(__file__).resolve().parents[1]

START = pd.Timestamp("2025-06-01", tz="Etc/GMT+5").timestamp()
WINDOWS = [(), (("00:00", "06:00"),), (("17:00", "21:00"),)]


def bat(energy=18e6, e_min=1.8e6, e_max=36e6, p=5000.0, eta=0.95, **kw) -> BatteryEnvelope:
    return BatteryEnvelope(energy, e_min, e_max, p, p, eta, eta, kw.pop("capacity", e_max),
                           **kw)


def ch(a) -> np.ndarray:
    """Per battery (rows) and tick: energy into each battery at its coupling point [J]."""
    return a.battery_charges.T


def dis(a) -> np.ndarray:
    """Per battery and tick: energy out of each battery at its coupling point [J]."""
    return a.battery_discharges.T


def en(a) -> np.ndarray:
    """Per battery and tick: stored energy at the end of the tick [J]."""
    return a.battery_energies.T


def terminal(a, i: int, b: BatteryEnvelope) -> tuple[np.ndarray, np.ndarray]:
    """Battery ``i``'s terminal energies from its packets (as the battery shell computes)."""
    c, d = ch(a)[i], dis(a)[i]
    if b.coupling == "ac":
        c, d, _ = converter_terminal(c, d, b.eta_ac_dc, b.eta_dc_ac)
    return c, d


# ----------------------------------------------------------------------------- share


@given(st.floats(0, 1e9), st.lists(st.one_of(st.just(0.0), st.floats(0, 1e8)), min_size=1,
                                   max_size=5))
def test_shares_stay_within_rooms_and_add_up(total, rooms):
    """Each share is in [0, room], a room of 0 gets exactly 0, they add up to the total
    (at most the rooms together)."""
    out = share(total, rooms)
    assert len(out) == len(rooms)
    for s, r in zip(out, rooms, strict=True):
        assert 0.0 <= s <= r
        if r == 0.0:
            assert s == 0.0
    want = min(total, sum(rooms))
    assert abs(sum(out) - want) <= 1e-12 * max(want, 1.0)


def test_shares_are_proportional_to_rooms():
    assert share(6.0, [3.0, 6.0]) == pytest.approx([2.0, 4.0], rel=1e-15)
    assert share(3.0, [4.0]) == [3.0] and share(9.0, [4.0]) == [4.0]
    assert share(10.0, [1.0, 2.0]) == [1.0, 2.0]


# ----------------------------------------------------------------------------- the rule


def test_two_equal_batteries_share_a_deficit_equally():
    """Same power, both above their floors: each gives half; the grid is not needed."""
    s = InverterSettings(10000.0, reserve_soc=0.0)
    load = np.array([4000.0 * 60])
    a = allocate(s, 60.0, [START], np.zeros(1), None, load, 1e9, 1e9, [bat(), bat()])
    assert dis(a)[0][0] == pytest.approx(2000.0 * 60, rel=1e-15)
    assert dis(a)[1][0] == pytest.approx(2000.0 * 60, rel=1e-15)
    assert a.grid_import[0] == 0.0


def test_a_full_battery_takes_nothing_and_the_other_takes_the_surplus():
    s = InverterSettings(10000.0)
    pv = np.array([6000.0 * 60 / 0.95])
    a = allocate(s, 60.0, [START], pv, None, np.zeros(1), 1e9, 1e9,
                 [bat(energy=36e6), bat(energy=10e6, p=3000.0)])
    assert ch(a)[0][0] == 0.0
    assert ch(a)[1][0] == 3000.0 * 60  # its own power limit
    assert a.grid_export[0] > 0.0


def test_shares_follow_power_limits_and_each_reserve():
    """A 5 kW and a 2.5 kW battery share a large deficit 2:1; a battery at its reserve gives
    nothing while the grid is up."""
    s = InverterSettings(10000.0, reserve_soc=0.2)
    load = np.array([9000.0 * 60, 9000.0 * 60])
    a = allocate(s, 60.0, START + np.array([0.0, 60.0]), np.zeros(2), None, load, 1e9, 1e9,
                 [bat(p=5000.0), bat(p=2500.0), bat(energy=0.2 * 36e6)])
    assert dis(a)[0][0] == 5000.0 * 60 and dis(a)[1][0] == 2500.0 * 60
    assert not dis(a)[2].any()
    assert a.grid_import[0] == pytest.approx(1500.0 * 60)


def test_dc_batteries_share_the_inverters_rating_ac_ones_do_not():
    """Two 5 kW DC batteries behind a 4 kW inverter give 4 kW together; an AC-coupled one
    gives its converter's rating on top."""
    s = InverterSettings(4000.0, reserve_soc=0.0)
    load = np.array([20000.0 * 60])
    ac = bat(coupling="ac", eta_ac_dc=0.96, eta_dc_ac=0.96, p_ac_max=3000.0)
    a = allocate(s, 60.0, [START], np.zeros(1), None, load, 1e9, 1e9, [bat(), bat(), ac])
    assert dis(a)[0][0] + dis(a)[1][0] == pytest.approx(4000.0 * 60, rel=1e-15)
    assert dis(a)[0][0] == pytest.approx(dis(a)[1][0], rel=1e-15)
    assert dis(a)[2][0] == 3000.0 * 60
    c, d = terminal(a, 2, ac)
    assert d[0] == pytest.approx(3000.0 * 60 / 0.96)  # the converter's loss is the battery's


def test_an_idle_second_battery_changes_nothing():
    """One battery through the several-battery dispatch (an idle one beside it) is the
    single-battery allocation, bit for bit: the rule reduces to it."""
    rng = np.random.default_rng(3)
    n, dt = 2880, 60.0
    t = START + np.arange(n) * dt
    pv = np.clip(np.sin(np.arange(n) / 1440 * 2 * np.pi - np.pi / 2), 0, None) * 7000 * dt
    load = rng.uniform(100, 6000, n) * dt
    imp = np.where(rng.uniform(size=n) < 0.05, 0.0, 8000.0 * dt)
    exp = np.where(imp == 0.0, 0.0, 3000.0 * dt)
    idle = bat(energy=0.0, e_min=0.0, p=0.0)
    for mode, cw, dw, gcp in [("self_consumption", (), (), 0.0),
                              ("time_of_use", WINDOWS[1], WINDOWS[2], 3000.0),
                              ("backup", WINDOWS[1], (), 2000.0)]:
        s = InverterSettings(5000.0, mode=mode, charge_windows=cw, discharge_windows=dw,
                             grid_charge_power=gcp, tz="Etc/GMT+5")
        one = allocate(s, dt, t, pv, None, load, imp, exp, bat(energy=10e6))
        two = allocate(s, dt, t, pv, None, load, imp, exp, [bat(energy=10e6), idle])
        for f in ("pv_dc_used", "to_load", "unserved", "grid_import", "grid_export",
                  "battery_charge", "battery_discharge", "battery_energy"):
            assert_array_equal(getattr(two, f), getattr(one, f), err_msg=f"{mode} {f}")
        assert not ch(two)[1].any() and not dis(two)[1].any()


@st.composite
def homes(draw):
    n = draw(st.integers(1, 30))
    dt = draw(st.sampled_from([1.0, 60.0, 900.0]))
    p_ac = draw(st.floats(500.0, 10000.0))
    s = InverterSettings(
        p_ac, mode=draw(st.sampled_from(["self_consumption", "time_of_use", "backup"])),
        reserve_soc=draw(st.floats(0.0, 1.0)), charge_windows=draw(st.sampled_from(WINDOWS)),
        discharge_windows=draw(st.sampled_from(WINDOWS)),
        grid_charge_power=draw(st.sampled_from([0.0, 1000.0, 20000.0])), tz="Etc/GMT+5")
    energies = st.floats(0.0, 1.0).map(lambda x: x * 2 * p_ac * dt)
    pick = st.lists(st.one_of(st.just(0.0), energies), min_size=n, max_size=n)
    pv, load, imp, exp = (np.array(draw(pick)) for _ in range(4))
    island = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    imp[island] = exp[island] = 0.0
    bats = []
    for _ in range(draw(st.integers(1, 3))):
        cap = draw(st.floats(1e3, 1e8))
        lo = draw(st.floats(0.0, 0.5)) * cap
        hi = lo + draw(st.floats(0.0, 1.0)) * (cap - lo)
        ac = draw(st.booleans())
        bats.append(BatteryEnvelope(
            lo + draw(st.floats(0.0, 1.0)) * (hi - lo), lo, hi, draw(st.floats(0.0, 2e4)),
            draw(st.floats(0.0, 2e4)), draw(st.floats(0.5, 1.0)), draw(st.floats(0.5, 1.0)),
            cap, coupling="ac" if ac else "dc",
            eta_ac_dc=draw(st.floats(0.5, 1.0)) if ac else 1.0,
            eta_dc_ac=draw(st.floats(0.5, 1.0)) if ac else 1.0,
            p_ac_max=draw(st.one_of(st.none(), st.floats(0.0, 2e4))) if ac else None))
    times = START + draw(st.integers(0, 365 * 86400)) + np.arange(n) * dt
    return s, dt, times, pv, load, imp, exp, bats


@settings(max_examples=200, deadline=None)
@given(case=homes())
def test_every_battery_stays_within_its_own_limits(case):
    """The AC bus balances; each battery stays in [e_min, e_max], within its power limits
    (DC ones together within the inverter's rating, AC ones within their converter's); no
    battery charges while another discharges; each battery's state follows from its own
    packets alone (as the battery device computes it), bit for bit."""
    s, dt, times, pv, load, imp, exp, bats = case
    a = allocate(s, dt, times, pv, None, load, imp, exp, bats)
    scale = max(pv.max(), load.max(), imp.max(), exp.max(), 1.0)
    tol = max(1e-9, 1e-13 * scale)
    c_all = a.battery_charges.sum(axis=1)
    d_all = a.battery_discharges.sum(axis=1)
    res = a.pv_dc_used + d_all + a.grid_import - a.to_load - c_all - a.grid_export \
        - a.inverter_losses
    assert np.all(np.abs(res) <= tol)
    assert np.all(np.abs(a.to_load + a.unserved - load) <= tol)
    assert not np.any((c_all > 0) & (d_all > 0))
    cap = s.ac_limit * dt
    dc = [i for i, b in enumerate(bats) if b.coupling == "dc"]
    if dc:
        assert np.all(np.sum([ch(a)[i] for i in dc], axis=0) <= cap * (1 + 1e-12))
        assert np.all(a.pv_ac + np.sum([dis(a)[i] for i in dc], axis=0)
                      <= cap * (1 + 1e-12))
    island = (imp == 0.0) & (exp == 0.0)
    for i, b in enumerate(bats):
        c, d = terminal(a, i, b)
        assert np.all(ch(a)[i] >= 0) and np.all(dis(a)[i] >= 0)
        assert np.all(c <= b.p_charge_max * dt) and np.all(d <= b.p_discharge_max * dt)
        if b.coupling == "ac" and b.p_ac_max is not None:
            assert np.all(ch(a)[i] <= b.p_ac_max * dt)
            assert np.all(dis(a)[i] <= b.p_ac_max * dt)
        energy, _ = storage_trajectory(b.energy, c, d, b.eta_charge, b.eta_discharge)
        assert_array_equal(energy, en(a)[i])
        assert np.all((energy >= b.e_min) & (energy <= b.e_max))
        if s.mode == "backup":
            assert not dis(a)[i][~island].any()


def test_the_order_of_the_batteries_does_not_matter():
    """Reversing the batteries reverses their results (up to the last rounding)."""
    n, dt = 1440, 60.0
    t = START + np.arange(n) * dt
    pv = np.clip(np.sin(np.arange(n) / n * 2 * np.pi - np.pi / 2), 0, None) * 9000 * dt
    load = np.full(n, 900.0 * dt)
    bats = [bat(energy=5e6), bat(energy=20e6, e_max=40e6, p=3000.0, eta=0.97),
            bat(energy=3e6, coupling="ac", eta_ac_dc=0.96, eta_dc_ac=0.95, p_ac_max=2000.0)]
    s = InverterSettings(6000.0)
    a = allocate(s, dt, t, pv, None, load, 1e9, 1e9, bats)
    b = allocate(s, dt, t, pv, None, load, 1e9, 1e9, bats[::-1])
    for i in range(3):
        np.testing.assert_allclose(en(a)[i], en(b)[2 - i], rtol=1e-9)
    assert np.all(a.battery_charges.sum(axis=0) > 0)
    assert np.all(a.battery_discharges.sum(axis=0) > 0)


def test_envelope_refuses_bad_coupling_options():
    with pytest.raises(ValueError, match="coupling"):
        bat(coupling="dc-ish")
    with pytest.raises(ValueError, match="eta_dc_ac"):
        bat(coupling="ac", eta_dc_ac=0.0)
    with pytest.raises(ValueError, match="p_ac_max"):
        bat(coupling="ac", p_ac_max=-1.0)


# ----------------------------------------------------------------------------- manifest


def _example(name: str) -> dict:
    return yaml.safe_load((ROOT / "examples" / f"{name}.yaml").read_text())


def _errors(data: dict) -> list[tuple[str, str]]:
    with pytest.raises(ManifestError) as exc:
        parse_any(data)
    return exc.value.errors


@pytest.mark.parametrize("path", sorted((ROOT / "examples").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_every_example_validates(path):
    load_any(path)


@pytest.mark.parametrize("path", sorted((ROOT / "examples").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_every_example_runs_a_day_in_process(path):
    """Every example runs (real shells and protocols, no router) with the booked energy
    conserved at every bounded node."""
    import tempfile

    home = prepare_home(load_any(path), RunOptions(until="1d", dt=900.0))
    with tempfile.TemporaryDirectory() as d:
        loop = HomeLoop(home, window=48, ledger_db=Path(d) / "ledger.sqlite")
        loop.run()
        summary = loop.ledger.summary()
        loop.close()
    assert summary["complete"] and summary["conservation"]["relative_residual"] <= 1e-9


def test_a_converter_rating_on_a_dc_battery_is_refused_with_its_path():
    data = _example("two-batteries")
    i = next(i for i, d in enumerate(data["spec"]["devices"]) if d["name"] == "battery-b")
    data["spec"]["devices"][i]["properties"]["p_ac_max"] = 3000
    (path, reason), = _errors(data)
    assert path == f"spec.devices[{i}]" or path.startswith(f"spec.devices[{i}].properties")
    assert "p_ac_max" in reason and "coupling" in reason


def test_a_live_converter_rating_on_a_dc_battery_is_refused():
    from homesim.devices.kinds.base import InvalidArgument
    from homesim.devices.kinds.battery import BatteryShell

    home = load_any(ROOT / "examples" / "two-batteries.yaml")
    with pytest.raises(InvalidArgument, match="coupling 'dc'") as exc:
        BatteryShell(home, "battery-a").validated_set("p_ac_max", 3000)
    assert exc.value.field == "p_ac_max"
    ac = BatteryShell(load_any(ROOT / "examples" / "ac-battery.yaml"), "battery")
    assert ac.validated_set("p_ac_max", 3000).p_ac_max == 3000.0


def test_an_unknown_coupling_is_refused_with_its_path():
    data = _example("ac-battery")
    i = next(i for i, d in enumerate(data["spec"]["devices"]) if d["kind"] == "battery")
    data["spec"]["devices"][i]["properties"]["coupling"] = "hybrid"
    (path, reason), = _errors(data)
    assert path.startswith(f"spec.devices[{i}]") and "coupling" in path + reason


def test_a_second_inverter_is_refused_with_its_path():
    """One balancing device per home: a second inverter is named, not ignored."""
    data = _example("ac-battery")
    data["spec"]["devices"].append({"name": "pv-inverter", "kind": "inverter"})
    (path, reason), = _errors(data)
    assert path == f"spec.devices[{len(data['spec']['devices']) - 1}]"
    assert "at most 1 enabled inverter" in reason


# ----------------------------------------------------------------------------- in process


@cache
def _home(name: str, until: str, dt: float) -> Home:
    return prepare_home(load_any(ROOT / "examples" / f"{name}.yaml"),
                        RunOptions(until=until, dt=dt))


@cache
def _run(name: str, until: str = "4d", dt: float = 300.0, window: int = 96) -> tuple:
    """Run an example in process into a real ledger: (summary, per-tick packets, settles)."""
    import tempfile

    home = _home(name, until, dt)
    with tempfile.TemporaryDirectory() as d:
        db = Path(d) / "ledger.sqlite"
        loop = HomeLoop(home, window=window, ledger_db=db)
        loop.run()
        summary = json.loads(json.dumps(loop.ledger.summary()))
        loop.close()
        ticks = int(round(pd.Timedelta(until).total_seconds() / dt))
        flows: dict[tuple[str, str], np.ndarray] = {}
        with LedgerStore.open(db) as store:
            for p in store.packets():
                flows.setdefault((p.source, p.sink), np.zeros(ticks))[p.tick] += p.joules
            soc = {dev: store.series(dev, met, 0, ticks) for dev, met in store.series_keys()
                   if met == "soc"}
    return home, summary, flows, soc


def test_a_home_with_two_batteries_uses_both_within_their_limits():
    home, s, flows, soc = _run("two-batteries")
    assert s["conservation"]["relative_residual"] <= 1e-9
    assert s["complete"]
    dt = home.spec.simulation.dt
    for name in ("battery-a", "battery-b"):
        p = home.spec.device(name).properties
        charge, discharge = flows[("inverter", name)], flows[(name, "inverter")]
        assert charge.sum() > 0.5 * 3.6e6 and discharge.sum() > 0.5 * 3.6e6, name
        assert charge.max() <= p.p_charge_max * dt * (1 + 1e-12)
        assert discharge.max() <= p.p_discharge_max * dt * (1 + 1e-12)
        assert not np.any((charge > 0) & (discharge > 0))
        tol = 1e-9
        assert soc[name].min() >= p.soc_min - tol and soc[name].max() <= p.soc_max + tol
        assert s["conservation"]["per_node_relative"][name] <= 1e-9


def test_a_home_with_an_ac_coupled_battery_runs():
    home, s, flows, soc = _run("ac-battery")
    assert s["complete"] and s["conservation"]["relative_residual"] <= 1e-9
    p = home.spec.device("battery").properties
    dt = home.spec.simulation.dt
    charge, discharge = flows[("inverter", "battery")], flows[("battery", "inverter")]
    assert charge.sum() > 1 * 3.6e6 and discharge.sum() > 1 * 3.6e6
    assert charge.max() <= p.p_ac_max * dt * (1 + 1e-12)
    assert discharge.max() <= p.p_ac_max * dt * (1 + 1e-12)
    assert soc["battery"].min() >= p.soc_min - 1e-9 and soc["battery"].max() <= 1 + 1e-9


def test_an_ac_battery_is_not_limited_by_the_inverter():
    """With the PV inverter's rating cut to 1 kW, the AC-coupled battery still gives up to its
    converter's 5 kW at night (a DC battery could give 1 kW)."""
    data = _example("ac-battery")
    for d in data["spec"]["devices"]:
        if d["kind"] == "inverter":
            d["properties"]["p_ac_max"] = 1000
    home = prepare_home(Home.model_validate(data), RunOptions(until="2d", dt=300.0))
    loop = HomeLoop(home, window=96)
    loop.run()
    flows = loop.flows[("battery", "inverter", "electricity")]
    top = max(max(x) for x in flows)
    assert top > 1000.0 * 300.0 * 1.5


def test_two_battery_and_ac_homes_restore_bit_for_bit():
    """Snapshots: every device's dump_state after window k, restored into fresh shells,
    continues with the same messages bit for bit (tests/test_state.py's harness)."""
    from test_state import Original, check_continuation

    for name in ("two-batteries@2d", "ac-battery@2d"):
        orig = Original(name, window=24)
        for k in (1, orig.count // 2, orig.count - 1):
            check_continuation(orig, k, m=2)
        state = json.loads(orig.states[1])
        bats = [n for n, x in state.items() if x["kind"] == "battery"]
        assert bats and all(state[b]["energy"] > 0 for b in bats)


def test_a_disabled_second_battery_takes_no_part():
    data = _example("two-batteries")
    for d in data["spec"]["devices"]:
        if d["name"] == "battery-b":
            d["enabled"] = False
    home = prepare_home(Home.model_validate(copy.deepcopy(data)),
                        RunOptions(until="1d", dt=300.0))
    loop = HomeLoop(home, window=96)
    loop.run()
    assert ("inverter", "battery-b", "electricity") not in loop.flows
    assert loop.flow_totals()[("inverter", "battery-a", "electricity")] > 0
