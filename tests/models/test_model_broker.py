"""The economic broker: the rule (a pure function) and the heat node following it, on the
seed's two scenarios — a sunny day (PV surplus → heat pump at full power into the buffer)
and a night at −15 °C (poor COP, paid electricity → gas)."""

from __future__ import annotations

import numpy as np
import pytest

from homesim.devices.models.boiler import Boiler
from homesim.devices.models.buffer import Buffer
from homesim.devices.models.heatnode import (
    DispatchInputs,
    DispatchPlant,
    HeatPumpOffer,
    broker_choice,
    dispatch,
)
from homesim.devices.models.heatpump import HeatPumpModel, heating_curve
from homesim.devices.models.zone import Element, zone_constants

BUFFER = Buffer(volume=0.5, t_min=35.0, t_max=60.0, ua=2.0)
ZONES = [zone_constants(70.0, 2.6, [Element(10.0, 1.3, kind="window"), Element(50.0, 0.35)])
         for _ in range(2)]


def case(n: int, theta_e: float) -> dict:
    """Two flats coupled by a party wall, at a constant outdoor temperature, 15-min ticks."""
    return dict(zones=ZONES, coupling=np.array([[0.0, 36.0], [36.0, 0.0]]),
                theta_m0=np.array([20.0, 20.0]), dt=900.0, theta_e=np.full(n, theta_e),
                theta_g=10.0, h_ve=np.full((n, 2), 30.0), phi_int=np.full((n, 2), 150.0),
                phi_sol=np.zeros((n, 2)), setpoint=np.full((n, 2), 21.0))

PRICE_EL, GAS = 0.30, 0.12  # [currency/kWh]
BOILER = Boiler(p_th_max=24000.0)


def _offer(n: int, temp_air: float) -> HeatPumpOffer:
    """A generic hplib air/water heat pump (10 kW) at its heating curve."""
    model = HeatPumpModel("Generic", group_id=1, p_th_ref=10000.0, t_cutoff=-20.0)
    t = np.full(n, temp_air)
    perf = model.performance(t, heating_curve(t))
    return HeatPumpOffer(np.asarray(perf.p_th_max, float), np.asarray(perf.cop, float))


def test_rule_pv_surplus_wins_even_against_cheap_gas():
    c = broker_choice(pv_surplus=1e6, hp_available=True, price_el=PRICE_EL, cop=2.0,
                      gas_price=0.01, boiler_eta=0.95)
    assert c.source == "pv_surplus" and "PV surplus" in c.reason


def test_rule_compares_marginal_heat_costs():
    hp_cheaper = broker_choice(0.0, True, PRICE_EL, 4.0, GAS, 0.95)   # 0.075 < 0.126
    gas_cheaper = broker_choice(0.0, True, PRICE_EL, 2.0, GAS, 0.95)  # 0.15 > 0.126
    assert hp_cheaper.source == "heat_pump" and hp_cheaper.cost_hp == pytest.approx(0.075)
    assert gas_cheaper.source == "boiler"
    assert gas_cheaper.cost_gas == pytest.approx(GAS / 0.95)
    # no boiler: the heat pump whatever it costs; nothing available: none
    assert broker_choice(0.0, True, 10.0, 1.0, None, 0.0).source == "heat_pump"
    assert broker_choice(0.0, False, PRICE_EL, 0.0, None, 0.0).source == "none"
    # heat pump off (cut-off / outage) but PV surplus: not the heat pump
    assert broker_choice(1e6, False, PRICE_EL, 3.0, GAS, 0.95).source == "boiler"


def test_seed_scenario_sunny_day_heat_pump_into_buffer():
    """Mild sunny noon with PV surplus: the heat pump runs at full power, the flats are
    served and the rest goes into the buffer; no gas."""
    n = 8
    offer = _offer(n, 8.0)
    d = dispatch(DispatchInputs(**case(n, theta_e=8.0)),
                 DispatchPlant(heat_pumps=[offer], boiler=BOILER, t_return=np.full(n, 35.0),
                               buffer=BUFFER, buffer_energy0=0.0, strategy="economic",
                               price_el=np.full(n, PRICE_EL), gas_price=GAS,
                               pv_surplus=np.full(n, 5e6)))
    assert {c.source for c in d.choice} == {"pv_surplus"}
    charged = d.buffer_charge > 0
    assert charged.any()
    full_power = offer.p_th_max * 900.0
    np.testing.assert_allclose(d.hp_heat[charged, 0], full_power[charged], rtol=1e-12)
    assert d.boiler_gas.sum() == 0.0 and d.unmet.sum() == 0.0


def test_seed_scenario_cold_night_gas():
    """−15 °C at night, no PV, paid electricity: hplib's COP at the heating curve's flow
    temperature makes heat-pump heat dearer than gas, so the boiler heats and the heat pump
    stays off."""
    n = 8
    offer = _offer(n, -15.0)
    cop = float(offer.cop[0])
    assert 0 < cop < PRICE_EL / (GAS / 0.9)  # poor COP: 0.30/cop > gas/eta
    d = dispatch(DispatchInputs(**case(n, theta_e=-15.0)),
                 DispatchPlant(heat_pumps=[offer], boiler=BOILER, t_return=np.full(n, 40.0),
                               buffer=None, strategy="economic", price_el=np.full(n, PRICE_EL),
                               gas_price=GAS, pv_surplus=np.zeros(n)))
    assert {c.source for c in d.choice} == {"boiler"}
    assert d.hp_heat.sum() == 0.0 and d.hp_el.sum() == 0.0
    assert d.boiler_heat.sum() > 0 and d.unmet.sum() == pytest.approx(0.0, abs=1e-6)
    # the same night with cheap electricity: the heat pump again
    d2 = dispatch(DispatchInputs(**case(n, theta_e=-15.0)),
                  DispatchPlant(heat_pumps=[offer], boiler=BOILER, t_return=np.full(n, 40.0),
                                strategy="economic", price_el=np.full(n, 0.05), gas_price=GAS))
    assert {c.source for c in d2.choice} == {"heat_pump"}
