"""Hot water heated by the heat node (issue 12): the dispatch's DHW priority (pure), the
whole home in process (examples/dhw-heat-pump.yaml: tank band, heat-pump electricity,
conservation) and the validation of ``heated_by: heat_node``."""

from __future__ import annotations

import copy
import tempfile
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import yaml
from homesim_loop import HomeLoop
from numpy.testing import assert_allclose

from homesim.devices.models.boiler import Boiler
from homesim.devices.models.dhw import (
    TAPPING_CYCLE_M,
    DhwTank,
    dhw_need,
    dhw_step,
    dhw_thermostat,
    dhw_trajectory,
    tap_energy,
)
from homesim.devices.models.heatnode import (
    DhwDemand,
    DispatchInputs,
    DispatchPlant,
    HeatPumpOffer,
    dispatch,
)
from homesim.devices.models.zone import Element, zone_constants
from homesim.infra.supervisor import RunOptions, prepare_home
from homesim.schemas.manifest import ManifestError, load_any, parse_any
from homesim.schemas.units import J_PER_KWH

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "dhw-heat-pump.yaml"
DT = 300.0
TANK = DhwTank(volume=0.3, p_el=0.0, t_set=50.0, hysteresis=5.0, ua=2.0)


# ------------------------------------------------------------------------------- pure


def test_step_need_and_thermostat_are_the_trajectory() -> None:
    """The single-tick pieces the heat node uses give the tank's own trajectory bit for bit,
    and the need brings the tank exactly to t_set."""
    n = int(86400 / DT)
    w = tap_energy(np.arange(n) * DT, DT, TAPPING_CYCLE_M)
    r = dhw_trajectory(TANK, TANK.energy(46.0), False, w, DT, q_max=np.inf)
    e, on = TANK.energy(46.0), False
    for k in range(n):
        on = dhw_thermostat(TANK, e, on)
        q = dhw_need(TANK, e, float(w[k]), DT) if on else 0.0
        e, drawn, loss = dhw_step(TANK, e, q, float(w[k]), DT)
        assert (q, e, drawn, loss) == (r.q_in[k], r.stored[k], r.drawn[k], r.loss[k])
        if q > 0:
            assert TANK.t_cold + e / TANK.heat_capacity == pytest.approx(50.0, abs=1e-9)


def _inputs(n: int, setpoint: float = 21.0) -> DispatchInputs:
    z = zone_constants(100.0, 2.6, [Element(10.0, 1.3, kind="window"), Element(120.0, 0.35)],
                       phi_hc_max=20000.0)
    one = np.ones((n, 1))
    return DispatchInputs(zones=[z], coupling=np.zeros((1, 1)), theta_m0=np.array([20.0]),
                          dt=DT, theta_e=np.zeros(n), theta_g=10.0, h_ve=40.0 * one,
                          phi_int=0.0 * one, phi_sol=0.0 * one, setpoint=setpoint * one)


def _offer(n: int, p: float = 6000.0) -> HeatPumpOffer:
    return HeatPumpOffer(np.full(n, p), np.full(n, 3.2), p_th_max_dhw=np.full(n, p * 0.9),
                         cop_dhw=np.full(n, 2.2), modulation_min=0.3, cd=0.9)


def _cold_tank(n: int, temp: float = 42.0) -> DhwDemand:
    return DhwDemand(TANK, TANK.energy(temp), False, np.zeros(n))


def test_dhw_priority_and_cop_at_the_hot_water_temperature() -> None:
    """A tank below its band takes the heat pump first (at the hot-water COP); the flats get
    what is left of its output there; the node's balance closes in every tick."""
    n = 12
    d = dispatch(_inputs(n), DispatchPlant(heat_pumps=[_offer(n)], dhw=[_cold_tank(n)]))
    q_max_dhw = 6000.0 * 0.9 * DT
    assert d.dhw_heat[0, 0] == pytest.approx(q_max_dhw)  # all of it: the tank comes first
    assert d.heat[0].sum() == 0.0 and d.unmet[0] > 0
    assert d.hp_dhw[0, 0] == 1.0
    assert d.hp_el[0, 0] == pytest.approx(q_max_dhw / 2.2)  # COP at the hot-water flow
    back = int(np.argmax(d.dhw_heat[:, 0] == 0.0))  # the first tick without hot water
    assert d.dhw_temp[back - 1, 0] == pytest.approx(50.0, abs=1e-9)
    later = d.hp_dhw[back:, 0] == 0.0
    assert np.all(later) and np.all(d.unmet[back:] == 0.0)
    # node: in = out, tick by tick
    node_in = d.hp_heat.sum(axis=1) + d.boiler_heat + d.buffer_discharge
    node_out = (d.heat.sum(axis=1) + d.buffer_charge + d.dhw_heat.sum(axis=1)
                + d.distribution_loss)
    assert_allclose(node_in, node_out, rtol=1e-12, atol=1e-6)


def test_a_tank_in_its_band_waits_and_the_boiler_heats_it_alone() -> None:
    """Inside its band (thermostat off) a tank takes nothing; with the boiler only, the
    boiler heats it (gas on the whole heat) and the heat pump is not asked."""
    n = 4
    d = dispatch(_inputs(n), DispatchPlant(heat_pumps=[_offer(n)],
                                           dhw=[_cold_tank(n, temp=47.0)]))
    assert d.dhw_heat.sum() == 0.0
    boiler = Boiler(p_th_max=24000.0)
    plant = DispatchPlant(heat_pumps=[_offer(n)], boiler=boiler, t_return=np.full(n, 30.0),
                          strategy="boiler_only", dhw=[_cold_tank(n)])
    d = dispatch(_inputs(n), plant)
    assert d.dhw_heat[0, 0] > 0 and d.boiler_dhw[0] == d.dhw_heat[0, 0]
    assert d.hp_heat.sum() == 0.0
    gas = boiler.gas_energy(d.boiler_heat, DT, np.full(n, 30.0))
    assert_allclose(d.boiler_gas, gas, rtol=1e-12)


def test_the_broker_prices_hot_water_at_the_hot_water_cop() -> None:
    """economic: electricity 0.30/kWh, gas 0.11/kWh. The rooms' heat costs 0.30/3.2 = 0.094
    from the heat pump, under gas (0.11/eta); the tank's costs 0.30/2.2 = 0.136 at the hot-water
    flow, above gas, so the boiler heats the water while the heat pump heats the rooms. At
    0.20/kWh the heat pump's hot water (0.091) is the cheaper: it goes first for the tank."""
    n = 4
    boiler = Boiler(p_th_max=40000.0)  # the tank's need in one tick (8.8 MJ) fits

    def run(price: float):
        return dispatch(_inputs(n), DispatchPlant(
            heat_pumps=[_offer(n)], boiler=boiler, t_return=np.full(n, 30.0),
            strategy="economic", price_el=np.full(n, price), gas_price=0.11,
            dhw=[_cold_tank(n)]))

    d = run(0.30)
    assert d.choice[0].source == "heat_pump"  # the rooms
    assert d.dhw_heat[0, 0] > 0 and d.boiler_dhw[0] == pytest.approx(d.dhw_heat[0, 0])
    assert d.hp_dhw[0, 0] == 0.0 and d.hp_heat[0].sum() > 0
    d = run(0.20)  # the heat pump first (its full hot-water output), the boiler the rest
    assert d.hp_dhw[0, 0] == 1.0
    assert d.boiler_dhw[0] == pytest.approx(d.dhw_heat[0, 0] - 6000.0 * 0.9 * DT)


def test_heat_pump_only_without_output_leaves_the_tank_cold() -> None:
    n = 3
    off = HeatPumpOffer(np.zeros(n), np.zeros(n), p_th_max_dhw=np.zeros(n),
                        cop_dhw=np.zeros(n))
    d = dispatch(_inputs(n), DispatchPlant(heat_pumps=[off], strategy="heat_pump_only",
                                           dhw=[_cold_tank(n)]))
    assert d.dhw_heat.sum() == 0.0 and np.all(np.diff(d.dhw_temp[:, 0]) < 0)


@pytest.mark.parametrize("kw", [dict(energy0=float("nan")), dict(wanted=np.array([-1.0])),
                                dict(wanted=np.array([np.inf]))])
def test_bad_dhw_demand(kw) -> None:
    args = dict(tank=TANK, energy0=0.0, heater_on0=False, wanted=np.zeros(1)) | kw
    with pytest.raises(ValueError):
        DhwDemand(**args)


def test_a_wrong_wanted_length_is_refused() -> None:
    with pytest.raises(ValueError, match=r"dhw\[0\].wanted"):
        dispatch(_inputs(4), DispatchPlant(dhw=[_cold_tank(3)]))


# ------------------------------------------------------------------------- in process


@cache
def _run(enabled: bool, until: str = "4d") -> tuple[dict, dict, float, float]:
    """The example in process into a real ledger: (summary, flow totals [J], dt, ticks)."""
    data = yaml.safe_load(EXAMPLE.read_text())
    if not enabled:
        for d in data["spec"]["devices"]:
            if d["kind"] == "dhw_tank":
                d["enabled"] = False
    home = prepare_home(parse_any(data), RunOptions(until=until, dt=DT))
    with tempfile.TemporaryDirectory() as tmp:
        loop = HomeLoop(home, window=96, ledger_db=Path(tmp) / "ledger.sqlite")
        loop.run()
        summary = loop.ledger.summary()
        loop.close()
    per_tick = {k: np.concatenate([np.asarray(x, dtype=float) for x in v])
                for k, v in loop.flows.items()}
    return summary, per_tick, home.spec.simulation.dt, home


def test_the_heat_pump_holds_the_tank_in_its_band_under_cycle_m() -> None:
    """examples/dhw-heat-pump.yaml, 4 days of January at dt 300 s, real shells and ledger:
    every draw of cycle M is served (nothing unmet), the tank is back at t_set after each
    call for heat and never above it, every tick below the band gets heat from the node,
    and the booked energy is conserved at every bounded node."""
    s, flows, dt, home = _run(True)
    assert s["complete"] and s["conservation"]["relative_residual"] <= 1e-9
    assert s["conservation"]["per_node_relative"]["hot-water"] <= 1e-9
    p = home.spec.device("hot-water").properties
    tank = DhwTank(volume=p.volume, p_el=0.0, t_set=p.t_set, hysteresis=p.hysteresis,
                   t_cold=p.t_cold, t_use=p.t_use, ua=p.ua, t_surround=p.t_surround)
    heat = flows[("heat-node", "hot-water", "heat")]
    n = heat.size
    t0 = home_start_seconds(home)
    wanted = tap_energy(t0 + np.arange(n) * dt, dt, TAPPING_CYCLE_M)
    # the tank again, from the packets alone (not from the shell's own metrics)
    r = dhw_trajectory(tank, tank.energy(p.temp_initial), False, wanted, dt, q_given=heat,
                       q_max=np.inf)
    assert r.unmet.sum() == 0.0 and r.drawn.sum() == pytest.approx(4 * 5.845 * J_PER_KWH)
    assert r.temp.max() <= p.t_set + 1e-9 and r.temp.min() >= p.t_use
    start = np.concatenate([[p.temp_initial], r.temp[:-1]])
    below = start < p.t_set - p.hysteresis
    assert below.any() and np.all(heat[below] > 0)  # DHW priority: served at once
    assert np.all(heat <= r.asked * (1 + 1e-9) + 1e-6)  # never more than it asked for
    ends = np.flatnonzero((heat > 0) & np.append(heat[1:] == 0, True))
    assert_allclose(r.temp[ends], p.t_set, atol=1e-9)  # each charge ends at t_set
    assert not flows.get(("inverter", "hot-water", "electricity"), np.zeros(1)).any()


def home_start_seconds(home) -> float:
    """Seconds since a local midnight of the run's first tick (the taps' clock)."""
    from homesim.devices.context import home_context
    from homesim.devices.models.schedule import local_seconds

    ctx = home_context(home)
    return float(local_seconds(np.array([ctx.start]), ctx.tz)[0])


def test_the_heat_pump_pays_for_the_hot_water() -> None:
    """With the tank the heat pump makes the tank's heat more and draws more electricity:
    the extra electricity per extra heat lies between the hot-water COP's bounds (hplib's
    generic air/water at 55 °C: COP 1 on its heating rod up to ~4.5 when mild)."""
    with_tank, f1, _, _ = _run(True)
    without, f0, _, _ = _run(False)
    assert without["conservation"]["relative_residual"] <= 1e-9
    el1 = f1[("inverter", "heat-pump", "electricity")].sum()
    el0 = f0[("inverter", "heat-pump", "electricity")].sum()
    q1 = f1[("heat-pump", "heat-node", "heat")].sum()
    q0 = f0[("heat-pump", "heat-node", "heat")].sum()
    dhw = f1[("heat-node", "hot-water", "heat")].sum()
    assert dhw > 4 * 5.845 * J_PER_KWH * 0.9
    assert el1 - el0 > 0.15 * dhw
    assert 1.0 <= (q1 - q0) / (el1 - el0) <= 4.5


# ------------------------------------------------------------------------- validation


def _data() -> dict:
    return copy.deepcopy(yaml.safe_load(EXAMPLE.read_text()))


def _errors(data: dict) -> list[tuple[str, str]]:
    with pytest.raises(ManifestError) as exc:
        parse_any(data)
    return exc.value.errors


def test_heated_by_heat_node_without_a_heat_node_is_refused_with_its_path() -> None:
    data = _data()
    devs = data["spec"]["devices"]
    for d in devs:
        if d["kind"] in ("heat_node", "heat_pump", "flat"):
            d["enabled"] = False
    i = next(i for i, d in enumerate(devs) if d["kind"] == "dhw_tank")
    errs = _errors(data)
    assert (f"spec.devices[{i}].properties.heated_by",) == tuple(p for p, _ in errs)
    assert "heat_node" in errs[0][1]


def test_heated_by_heat_node_without_a_heat_source_is_refused() -> None:
    data = _data()
    for d in data["spec"]["devices"]:
        if d["kind"] == "heat_pump":
            d["enabled"] = False
    (path, reason), = _errors(data)
    assert path.endswith(".properties.heated_by") and "heat_pump or boiler" in reason


def test_in_a_block_the_path_names_the_flat() -> None:
    """examples/block.yaml's geyser heated by the building's heat node validates; without
    the heat node, the error names flats[i].devices[j]."""
    data = yaml.safe_load((ROOT / "examples" / "block.yaml").read_text())
    i, flat = next((i, f) for i, f in enumerate(data["spec"]["flats"])
                   if any(d["kind"] == "dhw_tank" for d in f["devices"]))
    j = next(j for j, d in enumerate(flat["devices"]) if d["kind"] == "dhw_tank")
    flat["devices"][j]["properties"]["heated_by"] = "heat_node"
    parse_any(copy.deepcopy(data))
    for d in data["spec"]["devices"]:
        if d["kind"] in ("heat_node", "heat_pump", "boiler", "buffer"):
            d["enabled"] = False
    for f in data["spec"]["flats"]:
        for d in f["devices"]:
            if d["kind"] == "flat":
                d["enabled"] = False
    paths = [p for p, _ in _errors(data)]
    assert f"spec.flats[{i}].devices[{j}].properties.heated_by" in paths


def test_the_example_validates_and_the_element_home_is_unchanged() -> None:
    home = load_any(EXAMPLE)
    assert home.spec.device("hot-water").properties.heated_by == "heat_node"
    geyser = load_any(ROOT / "examples" / "dhw-home.yaml").spec.device("geyser")
    assert geyser.properties.heated_by == "element"


# ------------------------------------------------------------------------------ shells


def _window(n: int = 96) -> object:
    from homesim.devices.context import home_context
    from homesim.devices.kinds.base import Window

    return Window("r", 0, 0, n, DT, home_context(load_any(EXAMPLE)).start, "max")


def test_the_tank_shell_reports_its_state_and_refuses_heat_it_did_not_ask_for() -> None:
    """heated_by heat_node: no element demand, the tank's state in the report, the node's
    heat accepted up to what its thermostat asked for and refused beyond (no joule dropped);
    the heat node waits for this tank, the tank for the node's packets."""
    from homesim.devices.kinds.dhw_tank import DhwTankShell
    from homesim.devices.kinds.heat_node import HeatNodeShell

    home = load_any(EXAMPLE)
    shell = DhwTankShell(home, "hot-water")
    assert "heat-node" in shell.packet_publishers()
    assert "hot-water" in HeatNodeShell(home, "heat-node").inputs()
    win = _window()
    shell.energy = shell.tank.energy(44.0)  # below the band: it asks
    rep = shell.report(win, {})
    assert not rep.demand.any() and rep.heated_by_node == 1.0
    assert rep.energy == shell.energy and rep.wanted.sum() > 0
    asked = dhw_trajectory(shell.tank, shell.energy, False, rep.wanted, DT, q_max=np.inf,
                           q_given=np.zeros(win.n)).asked
    too_much = np.zeros(win.n)
    too_much[0] = asked[0] * 1.01
    with pytest.raises(ValueError, match="asked for"):
        shell.settle(win, {("heat-node", "hot-water", "heat"): too_much})
    ok = np.zeros(win.n)
    ok[0] = asked[0]
    res = shell.settle(win, {("heat-node", "hot-water", "heat"): ok})
    assert res.metrics["temp"][0] == pytest.approx(50.0, abs=1e-9)
    assert shell.state()["energy_heat"] == ok.sum()


def test_an_element_tank_does_not_wait_for_the_heat_node() -> None:
    """A geyser next to a heat node (examples/block.yaml's top-east) keeps its element: the
    heat node neither waits for it nor heats it."""
    from homesim.devices.kinds.dhw_tank import DhwTankShell
    from homesim.devices.kinds.heat_node import HeatNodeShell

    home = load_any(ROOT / "examples" / "block.yaml")
    tank = next(d.name for d in home.spec.devices if d.kind == "dhw_tank")
    node = next(d.name for d in home.spec.devices if d.kind == "heat_node")
    assert node not in DhwTankShell(home, tank).packet_publishers()
    hn = HeatNodeShell(home, node)
    assert tank not in hn.inputs() and hn.tanks == []
