"""The heat node of a building: dispatch of heat sources and allocation to coupled flats.

Pure functions, no I/O. The heat node is the heat bus's balancing device: it advances the
flats' thermal state (ISO 13790 5R1C zones, :mod:`homesim.devices.models.zone`, coupled
through party walls, :mod:`homesim.devices.models.thermal_network`) tick by tick together
with the plant — heat pumps (performance reported by each heat pump from hplib), a gas boiler
(:class:`~homesim.devices.models.boiler.Boiler`) and a buffer tank
(:func:`~homesim.devices.models.buffer.buffer_step`) — so that a whole window is one message
per device and stays causal (tick ``k`` uses only ticks ``≤ k``), exactly as the inverter
does with the battery.

One tick
--------
1. Solve the coupled zones with ideal thermostats: each flat's heat demand ``D_i`` [W].
2. Gross need at the node ``N = ΣD_i / (1 − distribution_loss)``.
   Hot water first (DHW priority, :class:`DhwDemand`): each tank the node heats whose
   thermostat asks for heat (:func:`~homesim.devices.models.dhw.dhw_thermostat`: below
   ``t_set − hysteresis`` until ``t_set``) takes what brings it to ``t_set`` at the tick end
   (:func:`~homesim.devices.models.dhw.dhw_need`) from the heat pumps — at their hot-water
   flow temperature (``p_th_max_dhw``, ``cop_dhw``) for the whole tick, the flats getting
   the rest of that output, no buffer charging — and the boiler, in the strategy's order
   (never from the buffer); then the tank advances by
   :func:`~homesim.devices.models.dhw.dhw_step`.
3. Cover ``N`` by ``strategy``:

   * ``heat_pump_first``: heat pumps (in manifest order, up to their full-load output, and
     only while their electricity fits ``el_max``), then the buffer, then the boiler; while a
     heat pump runs, its spare output charges the buffer (when the buffer is not
     discharging). A heat pump that charges the buffer in a tick runs the whole tick at the
     buffer's charging flow temperature (its report's ``p_th_max_buffer``, ``cop_buffer``:
     one flow temperature per tick, the heating circuit mixes down), and only charges when
     it can still give the flats' share at that temperature and is not on its heating rod
     there (``cop_buffer`` > 1);
   * ``heat_pump_only``: heat pumps, then the buffer;
   * ``boiler_only``: the boiler, then the buffer;
   * ``economic`` (the broker, :func:`broker_choice`): every tick, PV surplus → heat pump
     at full power into the buffer; otherwise the cheaper marginal heat (electricity price /
     COP against gas price / boiler efficiency) first, then the other sources. Hot water is
     priced on its own, at the heat pumps' hot-water COP (``cop_dhw``, lower: a hotter
     flow), so gas can win for the tank while the heat pump heats the rooms.

4. If ``N`` is not covered, every flat gets the same fraction of its demand and the zones
   are solved again with that heat fixed (the shortfall is ``unmet``).

A heat pump's electricity follows EN 14825 part load
(:func:`~homesim.devices.models.heatpump_partload.part_load_electric`: cycling below its
``modulation_min`` with the degradation coefficient ``cd``); the cycling loss (electricity
beyond the heat, when the part-load COP falls below 1) goes to ``ambient``.

Occupants (:func:`~homesim.devices.models.comfort.occupant_response`): before each tick's
solve, each flat's ventilation conductance and solar gains are adjusted from its mass
temperature at the start of the tick (the state); the solar gain kept out by the blinds is
added to the flat's loss to the outdoors (``q_ambient``).

All flows are energies per tick [J]. The node's own balance is exact by construction
(``in = out``); what the ledger checks independently is every device's own physics.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from homesim.schemas.units import J_PER_KWH

from .boiler import Boiler
from .buffer import Buffer, buffer_headroom, buffer_step
from .comfort import NO_RESPONSE, OccupantResponse, occupant_response
from .dhw import DhwTank, dhw_need, dhw_step, dhw_thermostat
from .heatpump_partload import part_load_electric, thermal_for_electric
from .thermal_network import ZoneNetwork
from .zone import Zone

__all__ = ["HeatPumpOffer", "HeatDispatch", "STRATEGIES", "BrokerChoice", "broker_choice",
           "DispatchInputs", "DispatchPlant", "DhwDemand", "dispatch"]

STRATEGIES = ("heat_pump_first", "heat_pump_only", "boiler_only", "economic")

#: The broker's choice → (order of use, spare heat-pump output into the buffer).
BROKER_ORDER = {
    "pv_surplus": (("hp", "buffer", "boiler"), True),
    "heat_pump": (("hp", "buffer", "boiler"), False),
    "boiler": (("buffer", "boiler", "hp"), False),
    "none": (("buffer", "boiler", "hp"), False),
}


@dataclass(frozen=True)
class BrokerChoice:
    """The economic broker's decision for one tick.

    ``source``: ``pv_surplus`` (heat pump at full power, spare output into the buffer),
    ``heat_pump`` or ``boiler`` (the cheaper marginal heat), ``none`` (no heat source
    available). ``cost_hp`` = price_el / cop, ``cost_gas`` = gas_price / eta
    [currency/kWh of heat] (``inf`` when unavailable).
    """

    source: str
    cost_hp: float
    cost_gas: float
    reason: str


def broker_choice(pv_surplus: float, hp_available: bool, price_el: float, cop: float,
                  gas_price: float | None, boiler_eta: float) -> BrokerChoice:
    """Choose the heat source of a tick by marginal cost (the economic broker).

    1. PV surplus (> 0 J) and a heat pump that can run → ``pv_surplus``: the surplus
       electricity is free (its alternative is export), so the heat pump runs at full power
       and what the flats do not need goes into the buffer.
    2. Otherwise compare the marginal cost of a kWh of heat: ``price_el / cop`` for the heat
       pump against ``gas_price / boiler_eta`` for the boiler; the cheaper one goes first
       (ties go to the heat pump). A cold night with a poor COP and paid electricity is how
       gas wins.

    Parameters
    ----------
    pv_surplus : float
        PV electricity not used by the other loads in the tick [J].
    hp_available : bool
        A heat pump can run (above its cut-off, grid limit not zero).
    price_el : float
        Electricity price [currency/kWh].
    cop : float
        The heat pump's COP in this tick [-] (≤ 0: unavailable).
    gas_price : float or None
        Gas price [currency/kWh]; None: no boiler.
    boiler_eta : float
        Boiler efficiency at the tick's load and return temperature [-].

    Returns
    -------
    BrokerChoice
    """
    inf = float("inf")
    cost_hp = price_el / cop if hp_available and cop > 0 else inf
    cost_gas = gas_price / boiler_eta if gas_price is not None and boiler_eta > 0 else inf
    if hp_available and pv_surplus > 0.0:
        return BrokerChoice("pv_surplus", cost_hp, cost_gas,
                            f"PV surplus {pv_surplus / J_PER_KWH:.3f} kWh in the tick")
    if cost_hp == inf and cost_gas == inf:
        return BrokerChoice("none", cost_hp, cost_gas, "no heat source available")
    if cost_hp <= cost_gas:
        return BrokerChoice("heat_pump", cost_hp, cost_gas,
                            f"heat pump {cost_hp:.4f} <= gas {cost_gas:.4f} per kWh of heat")
    return BrokerChoice("boiler", cost_hp, cost_gas,
                        f"gas {cost_gas:.4f} < heat pump {cost_hp:.4f} per kWh of heat")


def _dhw_choice(heat_pumps: Sequence[HeatPumpOffer], cap_dhw: np.ndarray, k: int,
                pv_surplus: float, price_el: float, gas_price: float | None,
                boiler_eta: float) -> BrokerChoice:
    """The economic broker's choice for hot water in tick ``k``: :func:`broker_choice` at
    the COP of the heat pump that can give the most hot water (``cop_dhw``, its hot-water
    flow temperature) instead of its space-heating COP."""
    n_hp = len(heat_pumps)
    best = int(np.argmax(cap_dhw)) if n_hp else 0
    cop = float(heat_pumps[best].mode(False, True)[1][k]) if n_hp else 0.0
    return broker_choice(pv_surplus=pv_surplus, hp_available=bool(cap_dhw.sum() > 0.0),
                         price_el=price_el, cop=cop, gas_price=gas_price,
                         boiler_eta=boiler_eta)


@dataclass(frozen=True)
class HeatPumpOffer:
    """What one heat pump can do over the window (from its report).

    p_th_max [W], cop [-]: full-load output and COP per tick at the heating curve's flow
    temperature, shape (n,); 0 when off (below its cut-off); cop 1 on hplib's heating rod.
    p_th_max_buffer [W], cop_buffer [-]: the same at the buffer's charging flow temperature
    (None: as p_th_max, cop). p_th_max_dhw [W], cop_dhw [-]: the same at the hot-water
    charging flow temperature (None: as p_th_max, cop). modulation_min [-] in (0, 1] and
    cd [-] in (0, 1]: EN 14825 part load
    (:func:`~homesim.devices.models.heatpump_partload.part_load_electric`); the defaults
    (1, 1) mean electricity = heat / cop.
    """

    p_th_max: np.ndarray
    cop: np.ndarray
    p_th_max_buffer: np.ndarray | None = None
    cop_buffer: np.ndarray | None = None
    modulation_min: float = 1.0
    cd: float = 1.0
    p_th_max_dhw: np.ndarray | None = None
    cop_dhw: np.ndarray | None = None

    def mode(self, buffer: bool, dhw: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(p_th_max, cop) at the heating curve's flow temperature or, with ``buffer``, at
        the buffer's charging temperature, or with ``dhw`` at the hot-water charging
        temperature [W], [-]."""
        if dhw and self.p_th_max_dhw is not None and self.cop_dhw is not None:
            return self.p_th_max_dhw, self.cop_dhw
        if buffer and self.p_th_max_buffer is not None and self.cop_buffer is not None:
            return self.p_th_max_buffer, self.cop_buffer
        return self.p_th_max, self.cop

    def electric(self, q: float, k: int, dt: float, buffer: bool, dhw: bool = False) -> float:
        """Electricity [J] for heat ``q`` [J] in tick ``k`` (in the given mode)."""
        p, c = self.mode(buffer, dhw)
        return float(part_load_electric(q, float(p[k]) * dt, float(c[k]),
                                        self.modulation_min, self.cd))


@dataclass(frozen=True, eq=False)
class DispatchInputs:
    """The flats and their weather over one window of n ticks: what :func:`dispatch` heats.

    N is the number of flats (``len(zones)``), n the number of ticks (``len(theta_e)``).
    The arrays are stored as float arrays (``numpy.asarray(..., dtype=float)``).

    Attributes
    ----------
    zones : sequence of Zone
        The N flats (5R1C constants of ISO 13790, see
        :func:`~homesim.devices.models.zone.zone_constants`); stored as a tuple.
    coupling : numpy.ndarray, shape (N, N)
        Conductances between the flats' mass nodes [W/K] (symmetric, zero diagonal, >= 0).
    theta_m0 : numpy.ndarray, shape (N,)
        Mass-node temperatures at the window start [°C].
    dt : float
        Tick length [s], > 0.
    theta_e : numpy.ndarray, shape (n,)
        Outdoor air temperature [°C].
    theta_g : float
        Ground temperature under the building [°C].
    h_ve : numpy.ndarray, shape (n, N)
        Ventilation conductance [W/K] (see
        :func:`~homesim.devices.models.zone.ventilation_conductance`).
    phi_int : numpy.ndarray, shape (n, N)
        Internal heat gains [W].
    phi_sol : numpy.ndarray, shape (n, N)
        Solar heat gains [W] (see :func:`~homesim.devices.models.zone.solar_gains`).
    setpoint : numpy.ndarray, shape (n, N)
        Heating setpoint of the air [°C]; ``-inf`` switches a flat's heating off.
    response : sequence of OccupantResponse, optional
        The occupants of each flat (N); default none react.

    Raises
    ------
    ValueError
        If ``zones`` is a single Zone, ``theta_e`` is not one-dimensional, an array has the
        wrong shape, or a value is not finite (``setpoint`` may be ``-inf``); the message
        names the field. The zones themselves, ``coupling`` and ``dt`` are checked by
        :class:`~homesim.devices.models.thermal_network.ZoneNetwork` when :func:`dispatch`
        runs.
    """

    zones: Sequence[Zone]
    coupling: np.ndarray
    theta_m0: np.ndarray
    dt: float
    theta_e: np.ndarray
    theta_g: float
    h_ve: np.ndarray
    phi_int: np.ndarray
    phi_sol: np.ndarray
    setpoint: np.ndarray
    response: Sequence[OccupantResponse] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.zones, Zone):
            raise ValueError("zones: must be a sequence of Zone, got a single Zone")
        zones = tuple(self.zones)
        n_z = len(zones)
        theta_e = np.asarray(self.theta_e, dtype=float)
        if theta_e.ndim != 1:
            raise ValueError(f"theta_e must have shape (n,), got {theta_e.shape}")
        n = theta_e.shape[0]
        arrays = {name: np.asarray(getattr(self, name), dtype=float)
                  for name in ("h_ve", "phi_int", "phi_sol", "setpoint")}
        for name, a in arrays.items():
            if a.shape != (n, n_z):
                raise ValueError(f"{name} must have shape ({n}, {n_z}), got {a.shape}")
        theta_m0 = np.asarray(self.theta_m0, dtype=float)
        if theta_m0.shape != (n_z,):
            raise ValueError(f"theta_m0 must have shape ({n_z},), got {theta_m0.shape}")
        for name, a in arrays.items():
            ok = np.isfinite(a) | (a == -np.inf) if name == "setpoint" else np.isfinite(a)
            if not np.all(ok):
                raise ValueError(f"{name} must be finite")
        if not np.all(np.isfinite(theta_e)):
            raise ValueError("theta_e must be finite")
        if not np.all(np.isfinite(theta_m0)):
            raise ValueError("theta_m0 must be finite")
        theta_g = float(self.theta_g)
        if not math.isfinite(theta_g):
            raise ValueError(f"theta_g must be finite, got {theta_g}")
        resp = tuple(self.response) if self.response is not None else (NO_RESPONSE,) * n_z
        if len(resp) != n_z or not all(isinstance(r, OccupantResponse) for r in resp):
            raise ValueError(f"response must be {n_z} OccupantResponse")
        object.__setattr__(self, "response", resp)
        object.__setattr__(self, "zones", zones)
        object.__setattr__(self, "coupling", np.asarray(self.coupling, dtype=float))
        object.__setattr__(self, "theta_m0", theta_m0)
        object.__setattr__(self, "dt", float(self.dt))
        object.__setattr__(self, "theta_e", theta_e)
        object.__setattr__(self, "theta_g", theta_g)
        for name, a in arrays.items():
            object.__setattr__(self, name, a)

    @property
    def n(self) -> int:
        """Number of ticks of the window."""
        return int(self.theta_e.shape[0])


@dataclass(frozen=True, eq=False)
class DhwDemand:
    """A domestic hot-water tank heated by the heat node, over one window (from its report).

    Attributes
    ----------
    tank : DhwTank
        The tank (:class:`~homesim.devices.models.dhw.DhwTank`; its ``p_el`` is not used).
    energy0 : float
        Energy above the cold water at the window start [J].
    heater_on0 : bool
        The tank thermostat's charging request at the window start.
    wanted : numpy.ndarray, shape (n,)
        Hot-water energy the taps want per tick [J].

    Raises
    ------
    ValueError
        If ``energy0`` is not finite or ``wanted`` is not finite and >= 0.
    """

    tank: DhwTank
    energy0: float
    heater_on0: bool
    wanted: np.ndarray

    def __post_init__(self) -> None:
        w = np.asarray(self.wanted, dtype=float)
        if w.ndim != 1 or not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ValueError("wanted: must be (n,) finite energies >= 0 J")
        if not math.isfinite(float(self.energy0)):
            raise ValueError(f"energy0: must be finite, got {self.energy0}")
        object.__setattr__(self, "wanted", w)
        object.__setattr__(self, "energy0", float(self.energy0))


@dataclass(frozen=True, eq=False)
class DispatchPlant:
    """The heat sources, the buffer and how the heat node runs them over one window.

    Every field has a default: ``DispatchPlant()`` is a node without any heat source (all
    demand is ``unmet``). Per-tick arrays have the window's n ticks (``DispatchInputs.n``);
    :func:`dispatch` checks that.

    Attributes
    ----------
    heat_pumps : sequence of HeatPumpOffer, default ()
        The H heat pumps, in order of use; stored as a tuple.
    el_max : numpy.ndarray, shape (n,), optional
        Electricity the heat pumps may draw together per tick [J] (e.g. 0 during a grid
        outage); default unlimited.
    boiler : Boiler, optional
        The gas boiler, if any.
    t_return : numpy.ndarray, shape (n,), optional
        Boiler return temperature [°C]; required with a boiler.
    buffer : Buffer, optional
        The buffer tank, if any.
    buffer_energy0 : float, default 0.0
        Buffer energy above its ``t_min`` at the window start [J].
    strategy : str, default "heat_pump_first"
        One of :data:`STRATEGIES`.
    distribution_loss : float, default 0.0
        Fraction of the node's heat lost in distribution [-], in [0, 0.5].
    price_el : numpy.ndarray, shape (n,), optional
        Electricity import price [currency/kWh]; required by the ``economic`` strategy (and
        only used there).
    gas_price : float, default 0.0
        Gas price [currency/kWh] (``economic`` only).
    pv_surplus : numpy.ndarray, shape (n,), optional
        PV electricity not used by the other loads [J] (``economic`` only); default none.
    dhw : sequence of DhwDemand, default ()
        The T hot-water tanks the node heats (priority over the flats, see :func:`dispatch`);
        stored as a tuple.

    Raises
    ------
    ValueError
        On an unknown strategy, a distribution loss outside [0, 0.5], a boiler without
        ``t_return``, or the ``economic`` strategy without ``price_el``.
    """

    heat_pumps: Sequence[HeatPumpOffer] = ()
    el_max: np.ndarray | None = None
    boiler: Boiler | None = None
    t_return: np.ndarray | None = None
    buffer: Buffer | None = None
    buffer_energy0: float = 0.0
    strategy: str = "heat_pump_first"
    distribution_loss: float = 0.0
    price_el: np.ndarray | None = None
    gas_price: float = 0.0
    pv_surplus: np.ndarray | None = None
    dhw: Sequence[DhwDemand] = ()

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(
                f"unknown strategy {self.strategy!r}; use one of {', '.join(STRATEGIES)}")
        if not 0.0 <= self.distribution_loss <= 0.5:
            raise ValueError("distribution_loss must be in [0, 0.5]")
        if self.boiler is not None and self.t_return is None:
            raise ValueError("t_return is required with a boiler")
        if self.strategy == "economic" and self.price_el is None:
            raise ValueError("the economic strategy needs price_el")
        object.__setattr__(self, "heat_pumps", tuple(self.heat_pumps))
        object.__setattr__(self, "dhw", tuple(self.dhw))


@dataclass
class HeatDispatch:
    """Result of :func:`dispatch` over n ticks (N flats, H heat pumps); energies [J]."""

    demand: np.ndarray          # (n, N) ideal heat demand of each flat
    heat: np.ndarray            # (n, N) heat delivered to each flat
    q_ambient: np.ndarray       # (n, N) net heat from each flat to the outdoors (+ = loss)
    q_couple: np.ndarray        # (n, N, N) net heat from flat i to flat j
    theta_air: np.ndarray       # (n, N) [°C]
    theta_m: np.ndarray         # (n, N) [°C]
    hp_heat: np.ndarray         # (n, H) heat from each heat pump into the node
    hp_el: np.ndarray           # (n, H) electricity of each heat pump
    hp_buffer: np.ndarray       # (n, H) 1.0 where the heat pump ran at the buffer's temperature
    boiler_heat: np.ndarray     # (n,)
    boiler_gas: np.ndarray      # (n,)
    buffer_charge: np.ndarray   # (n,)
    buffer_discharge: np.ndarray  # (n,)
    buffer_loss: np.ndarray     # (n,)
    buffer_stored: np.ndarray   # (n,) stored energy at the end of each tick
    distribution_loss: np.ndarray  # (n,)
    unmet: np.ndarray           # (n,) demand not covered (summed over flats)
    vent_boost: np.ndarray      # (n, N) ventilation conductance added by open windows [W/K]
    shading: np.ndarray         # (n, N) shading reduction factor of the blinds [-]
    source: list[str] = field(default_factory=list)  # main source of each tick
    choice: list[BrokerChoice] = field(default_factory=list)  # economic strategy only
    #: the broker's choice for hot water, ``(tick, choice)`` for each tick in which a tank
    #: asked for heat (economic strategy only; priced at the hot-water COP)
    choice_dhw: list[tuple[int, BrokerChoice]] = field(default_factory=list)
    # hot water (T tanks heated by the node): heat to each tank (n, T), energy above the
    # cold water (n, T) and temperature [°C] (n, T) at each tick end, 1.0 where a heat pump
    # ran at the hot-water temperature (n, H), the boiler's heat to the tanks (n,)
    dhw_heat: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    dhw_stored: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    dhw_temp: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    hp_dhw: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    boiler_dhw: np.ndarray = field(default_factory=lambda: np.zeros(0))


def dispatch(inputs: DispatchInputs, plant: DispatchPlant | None = None) -> HeatDispatch:
    """Advance the flats and the plant over one window of n ticks of ``inputs.dt`` seconds.

    Parameters
    ----------
    inputs : DispatchInputs
        The N flats, their coupling and state, and the weather and gains per tick.
    plant : DispatchPlant, optional
        Heat pumps, boiler, buffer, strategy and prices; default ``DispatchPlant()`` (no heat
        source).

    Returns
    -------
    HeatDispatch
        Energies per tick [J] (shapes (n,), (n, N), (n, N, N) or (n, H) as documented there)
        and the main source of each tick.

    Raises
    ------
    ValueError
        If a per-tick array of ``plant`` (``el_max``, ``t_return``, ``price_el``,
        ``pv_surplus``, a heat pump's ``p_th_max`` or ``cop``) does not have shape (n,), or
        (from :class:`~homesim.devices.models.thermal_network.ZoneNetwork`) on invalid
        zones, coupling or ``dt``.
    RuntimeError
        If a flat's thermostat does not converge (see
        :func:`~homesim.devices.models.thermal_network.solve_tick`).
    """
    if plant is None:
        plant = DispatchPlant()
    zones, coupling, dt, theta_g = inputs.zones, inputs.coupling, inputs.dt, inputs.theta_g
    theta_e, h_ve, phi_int, phi_sol = inputs.theta_e, inputs.h_ve, inputs.phi_int, inputs.phi_sol
    setpoint = inputs.setpoint
    heat_pumps, el_max, boiler, t_return = (plant.heat_pumps, plant.el_max, plant.boiler,
                                            plant.t_return)
    buffer, strategy, price_el, pv_surplus = (plant.buffer, plant.strategy, plant.price_el,
                                              plant.pv_surplus)
    gas_price = plant.gas_price
    dhw = plant.dhw
    n_z = len(zones)
    n = inputs.n
    n_hp = len(heat_pumps)
    n_dhw = len(dhw)
    per_tick = {"el_max": el_max, "t_return": t_return, "price_el": price_el,
                "pv_surplus": pv_surplus}
    for h, hp in enumerate(heat_pumps):
        per_tick[f"heat_pumps[{h}].p_th_max"] = hp.p_th_max
        per_tick[f"heat_pumps[{h}].cop"] = hp.cop
        per_tick[f"heat_pumps[{h}].p_th_max_buffer"] = hp.p_th_max_buffer
        per_tick[f"heat_pumps[{h}].cop_buffer"] = hp.cop_buffer
        per_tick[f"heat_pumps[{h}].p_th_max_dhw"] = hp.p_th_max_dhw
        per_tick[f"heat_pumps[{h}].cop_dhw"] = hp.cop_dhw
    for t, d in enumerate(dhw):
        per_tick[f"dhw[{t}].wanted"] = d.wanted
    for name, a in per_tick.items():
        if a is not None and np.shape(a) != (n,):
            raise ValueError(f"{name} must have shape ({n},), got {np.shape(a)}")
    el_cap = np.full(n, np.inf) if el_max is None else np.asarray(el_max, dtype=float)
    out = HeatDispatch(
        demand=np.zeros((n, n_z)), heat=np.zeros((n, n_z)), q_ambient=np.zeros((n, n_z)),
        q_couple=np.zeros((n, n_z, n_z)), theta_air=np.zeros((n, n_z)),
        theta_m=np.zeros((n, n_z)), hp_heat=np.zeros((n, n_hp)), hp_el=np.zeros((n, n_hp)),
        hp_buffer=np.zeros((n, n_hp)),
        boiler_heat=np.zeros(n), boiler_gas=np.zeros(n), buffer_charge=np.zeros(n),
        buffer_discharge=np.zeros(n), buffer_loss=np.zeros(n), buffer_stored=np.zeros(n),
        distribution_loss=np.zeros(n), unmet=np.zeros(n), vent_boost=np.zeros((n, n_z)),
        shading=np.ones((n, n_z)), dhw_heat=np.zeros((n, n_dhw)),
        dhw_stored=np.zeros((n, n_dhw)), dhw_temp=np.zeros((n, n_dhw)),
        hp_dhw=np.zeros((n, n_hp)), boiler_dhw=np.zeros(n))
    e_dhw = [d.energy0 for d in dhw]
    on_dhw = [bool(d.heater_on0) for d in dhw]
    has_hp = n_hp > 0
    theta_m = inputs.theta_m0.copy()
    e_buf = float(plant.buffer_energy0)
    keep = 1.0 - plant.distribution_loss
    p_el = np.zeros(n) if price_el is None else np.asarray(price_el, dtype=float)
    surplus = np.zeros(n) if pv_surplus is None else np.asarray(pv_surplus, dtype=float)
    t_ret = np.zeros(n) if t_return is None else t_return  # given whenever there is a boiler
    net = ZoneNetwork(zones, coupling, dt)
    resp = inputs.response or ()
    reacts = any(r.active for r in resp)
    if reacts:
        volume = np.array([z.volume for z in zones])
        r_par = [np.array([getattr(r, f) for r in resp]) for f in
                 ("ach_boost", "t_open", "t_shade", "shading_factor", "band")]
    for k in range(n):
        h_ve_k, phi_sol_k = h_ve[k], phi_sol[k]
        if reacts:  # the occupants react to the room's (mass) temperature at the tick start
            boost, f_sh = occupant_response(theta_m, float(theta_e[k]), volume, *r_par)
            h_ve_k = h_ve_k + boost
            phi_sol_k = phi_sol_k * f_sh
            out.vent_boost[k] = boost
            out.shading[k] = f_sh
        res = net.step(theta_m, float(theta_e[k]), theta_g, h_ve_k, phi_int[k], phi_sol_k,
                       setpoint[k])
        demand = res.phi_hc * dt                      # [J] per flat
        need = float(demand.sum()) / keep             # [J] gross at the node
        rest = need
        # what the heat pumps can give this tick (limited by the electricity allowed): each
        # one reserves the electricity of its full load (at the hotter of its two flow
        # temperatures), then gives what that buys in either mode
        hp_cap = np.zeros(n_hp)
        hp_cap_buf = np.zeros(n_hp)
        hp_cap_dhw = np.zeros(n_hp)
        el_left = float(el_cap[k])
        for h, hp in enumerate(heat_pumps):
            if el_left <= 0.0:
                break
            q_max = float(hp.p_th_max[k]) * dt
            full = hp.electric(q_max, k, dt, False)
            if buffer is not None and hp.p_th_max_buffer is not None:
                full = max(full, hp.electric(float(hp.p_th_max_buffer[k]) * dt, k, dt, True))
            if n_dhw and hp.p_th_max_dhw is not None:
                full = max(full, hp.electric(float(hp.p_th_max_dhw[k]) * dt, k, dt, False,
                                             dhw=True))
            if full <= 0.0:
                continue
            e_res = min(el_left, full)
            for buf, hot, cap in ((False, False, hp_cap), (True, False, hp_cap_buf),
                                  (False, True, hp_cap_dhw)):
                if (buf and buffer is None) or (hot and not n_dhw):
                    continue
                p, c = hp.mode(buf, hot)
                cap[h] = thermal_for_electric(e_res, float(p[k]) * dt, float(c[k]),
                                              hp.modulation_min, hp.cd)
            el_left -= e_res
        if buffer is not None:
            max_charge, max_discharge = buffer_headroom(buffer, e_buf, dt)
        else:
            max_charge = max_discharge = 0.0
        # order of use and whether spare heat-pump output charges the buffer
        order: tuple[str, ...]
        if strategy == "heat_pump_first":
            order, to_buffer = ("hp", "buffer", "boiler"), True
        elif strategy == "heat_pump_only":
            order, to_buffer = ("hp", "buffer"), False
        elif strategy == "boiler_only":
            order, to_buffer = ("boiler", "buffer"), False
        else:
            best = int(np.argmax(hp_cap)) if n_hp else 0
            eta = float(boiler.efficiency(np.array([min(need / (boiler.p_th_max * dt), 1.0)]),
                                          np.array([t_ret[k]]))[0]
                        ) if boiler is not None else 0.0
            choice = broker_choice(
                pv_surplus=float(surplus[k]), hp_available=bool(hp_cap.sum() > 0.0),
                price_el=float(p_el[k]), cop=float(heat_pumps[best].cop[k]) if n_hp else 0.0,
                gas_price=gas_price if boiler is not None else None, boiler_eta=eta)
            out.choice.append(choice)
            order, to_buffer = BROKER_ORDER[choice.source]
        order_dhw: tuple[str, ...] | None = None if strategy == "economic" else order
        # hot water first (DHW priority): a tank whose thermostat asks for heat (below
        # t_set - hysteresis until t_set) takes what brings it to t_set at the tick end from
        # the heat pumps (at the hot-water flow temperature) and the boiler, in the
        # strategy's order; a heat pump that heats water runs the whole tick at that
        # temperature and gives the flats only what is left of its output there
        dhw_q = [0.0] * n_dhw  # plain lists: nothing to pay per tick in homes without tanks
        hp_dhw_q = [0.0] * n_hp
        boiler_max = boiler.p_th_max * dt if boiler is not None else 0.0
        boiler_dhw = 0.0
        for t, d in enumerate(dhw):
            on_dhw[t] = dhw_thermostat(d.tank, e_dhw[t], on_dhw[t])
            if not on_dhw[t]:
                continue
            want = dhw_need(d.tank, e_dhw[t], float(d.wanted[k]), dt)
            if order_dhw is None:  # the broker prices hot water at the hot-water COP
                c_dhw = _dhw_choice(heat_pumps, hp_cap_dhw, k, float(surplus[k]),
                                    float(p_el[k]), gas_price if boiler is not None else None,
                                    eta)
                out.choice_dhw.append((k, c_dhw))
                order_dhw = BROKER_ORDER[c_dhw.source][0]
            for src in order_dhw:
                if src == "hp":
                    for h in range(n_hp):
                        x = min(want, max(hp_cap_dhw[h] - hp_dhw_q[h], 0.0))
                        hp_dhw_q[h] += x
                        dhw_q[t] += x
                        want -= x
                elif src == "boiler" and boiler is not None:
                    x = min(want, max(boiler_max - boiler_dhw, 0.0))
                    boiler_dhw += x
                    dhw_q[t] += x
                    want -= x
        in_dhw = [x > 0.0 for x in hp_dhw_q]
        hp_q = np.zeros(n_hp)
        charge = discharge = 0.0
        q_boiler = 0.0
        for src in order:
            if rest <= 0.0:
                break
            if src == "hp" and has_hp:
                for h in range(n_hp):
                    cap_h = hp_cap_dhw[h] - hp_dhw_q[h] if in_dhw[h] else hp_cap[h]
                    hp_q[h] = min(rest, max(cap_h, 0.0))
                    rest -= hp_q[h]
            elif src == "buffer" and max_discharge > 0.0:
                discharge = min(rest, max_discharge)
                rest -= discharge
            elif src == "boiler" and boiler is not None:
                q_boiler = min(rest, max(boiler_max - boiler_dhw, 0.0))
                rest -= q_boiler
        # spare heat-pump output into the buffer: while the heat pump runs anyway
        # (heat_pump_first), or on PV surplus (economic) even without demand. Charging runs
        # the heat pump at the buffer's flow temperature for the whole tick, so only where it
        # still gives the flats' share at that temperature.
        running = float(hp_q.sum()) > 0.0 or (strategy == "economic" and to_buffer)
        hp_buf = np.zeros(n_hp, dtype=bool)
        if to_buffer and running and discharge == 0.0 and max_charge > 0.0:
            for h, hp in enumerate(heat_pumps):
                # never charge on hplib's heating rod (COP 1 at the buffer's temperature),
                # nor while heating hot water (one flow temperature per tick)
                if float(hp.mode(True)[1][k]) <= 1.0 or in_dhw[h]:
                    continue
                extra = min(hp_cap_buf[h] - hp_q[h], max_charge - charge)
                if extra > 0.0:
                    hp_q[h] += extra
                    charge += extra
                    hp_buf[h] = True
        supplied = need - rest                         # [J] gross heat into the flats' loop
        if rest > 0.0:
            share = supplied / need
            res = net.step(theta_m, float(theta_e[k]), theta_g, h_ve_k, phi_int[k],
                           phi_sol_k, setpoint[k], phi_hc_fixed=res.phi_hc * share)
        heat = res.phi_hc * dt
        delivered = float(heat.sum())
        out.demand[k] = demand
        out.heat[k] = heat
        # the solar gain kept out by the blinds goes back to the outdoors
        out.q_ambient[k] = (res.q_ambient + (phi_sol[k] - phi_sol_k)) * dt
        out.q_couple[k] = res.q_couple * dt
        out.theta_air[k] = res.theta_air
        out.theta_m[k] = res.theta_m
        out.unmet[k] = max(float(demand.sum()) - delivered, 0.0)
        # heat into the node = delivered + distribution loss + buffer charge + hot water
        q_dhw = math.fsum(dhw_q)
        if q_dhw > 0.0:
            hp_q += hp_dhw_q
            q_boiler += boiler_dhw
            out.hp_dhw[k] = in_dhw
        out.hp_heat[k] = hp_q
        out.hp_buffer[k] = hp_buf
        for h, hp in enumerate(heat_pumps):
            if hp_q[h] > 0.0:
                out.hp_el[k, h] = hp.electric(float(hp_q[h]), k, dt, bool(hp_buf[h]),
                                              bool(in_dhw[h]))
        out.boiler_heat[k] = q_boiler
        out.boiler_dhw[k] = boiler_dhw
        if q_boiler > 0.0 and boiler is not None:
            out.boiler_gas[k] = float(boiler.gas_energy(np.array([q_boiler]), dt,
                                                        np.array([t_ret[k]]))[0])
        for t, d in enumerate(dhw):
            e_dhw[t] = dhw_step(d.tank, e_dhw[t], float(dhw_q[t]), float(d.wanted[k]), dt)[0]
            out.dhw_heat[k, t] = dhw_q[t]
            out.dhw_stored[k, t] = e_dhw[t]
            out.dhw_temp[k, t] = d.tank.t_cold + e_dhw[t] / d.tank.heat_capacity
        if buffer is not None:
            e_buf, loss = buffer_step(buffer, e_buf, charge, discharge, dt)
            out.buffer_loss[k] = loss
        out.buffer_charge[k] = charge
        out.buffer_discharge[k] = discharge
        out.buffer_stored[k] = e_buf
        node_in = float(hp_q.sum()) + q_boiler + discharge
        out.distribution_loss[k] = max(node_in - charge - delivered - q_dhw, 0.0)
        theta_m = res.theta_m
        if hp_q.sum() > 0.0:
            out.source.append("heat_pump")
        elif q_boiler > 0.0:
            out.source.append("boiler")
        elif discharge > 0.0:
            out.source.append("buffer")
        else:
            out.source.append("none")
    return out
