"""The heat node of a building: dispatch of heat sources and allocation to coupled flats.

Pure functions, no I/O. The heat node is the heat bus's balancing device: it advances the
flats' thermal state (ISO 13790 5R1C zones coupled through party walls,
:mod:`homesim.devices.models.thermal`) tick by tick together with the plant — heat pumps
(performance reported by each heat pump from hplib), a gas boiler
(:class:`~homesim.devices.models.boiler.Boiler`) and a buffer tank
(:func:`~homesim.devices.models.buffer.buffer_step`) — so that a whole window is one message
per device and stays causal (tick ``k`` uses only ticks ``≤ k``), exactly as the inverter
does with the battery.

One tick
--------
1. Solve the coupled zones with ideal thermostats: each flat's heat demand ``D_i`` [W].
2. Gross need at the node ``N = ΣD_i / (1 − distribution_loss)``.
3. Cover ``N`` by ``strategy``:

   * ``heat_pump_first``: heat pumps (in manifest order, up to their full-load output, and
     only while their electricity fits ``el_max``), then the buffer, then the boiler; a
     heat pump's spare output charges the buffer when the buffer is not discharging;
   * ``heat_pump_only``: heat pumps, then the buffer;
   * ``boiler_only``: the boiler, then the buffer.

4. If ``N`` is not covered, every flat gets the same fraction of its demand and the zones
   are solved again with that heat fixed (the shortfall is ``unmet``).

All flows are energies per tick [J]. The node's own balance is exact by construction
(``in = out``); what the ledger checks independently is every device's own physics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from homesim.devices.models.boiler import Boiler
from homesim.devices.models.buffer import Buffer, buffer_headroom, buffer_step
from homesim.devices.models.thermal import Zone, solve_tick

__all__ = ["HeatPumpOffer", "HeatDispatch", "STRATEGIES", "dispatch"]

STRATEGIES = ("heat_pump_first", "heat_pump_only", "boiler_only")


@dataclass(frozen=True)
class HeatPumpOffer:
    """What one heat pump can do over the window (from its report).

    p_th_max [W], cop [-]: full-load output and COP per tick, shape (n,); 0 when off
    (below its cut-off).
    """

    p_th_max: np.ndarray
    cop: np.ndarray


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
    boiler_heat: np.ndarray     # (n,)
    boiler_gas: np.ndarray      # (n,)
    buffer_charge: np.ndarray   # (n,)
    buffer_discharge: np.ndarray  # (n,)
    buffer_loss: np.ndarray     # (n,)
    buffer_stored: np.ndarray   # (n,) stored energy at the end of each tick
    distribution_loss: np.ndarray  # (n,)
    unmet: np.ndarray           # (n,) demand not covered (summed over flats)
    source: list[str] = field(default_factory=list)  # main source of each tick


def dispatch(
    zones: Sequence[Zone],
    coupling: np.ndarray,
    theta_m0: np.ndarray,
    dt: float,
    theta_e: np.ndarray,
    theta_g: float,
    h_ve: np.ndarray,
    phi_int: np.ndarray,
    phi_sol: np.ndarray,
    setpoint: np.ndarray,
    heat_pumps: Sequence[HeatPumpOffer] = (),
    el_max: np.ndarray | None = None,
    boiler: Boiler | None = None,
    t_return: np.ndarray | None = None,
    buffer: Buffer | None = None,
    buffer_energy0: float = 0.0,
    strategy: str = "heat_pump_first",
    distribution_loss: float = 0.0,
) -> HeatDispatch:
    """Advance the flats and the plant over one window of n ticks of ``dt`` seconds.

    Parameters
    ----------
    zones : sequence of Zone
        The N flats (5R1C constants).
    coupling : array, shape (N, N)
        Conductances between flats [W/K] (symmetric, zero diagonal).
    theta_m0 : array, shape (N,)
        Mass-node temperatures at the window start [°C].
    dt : float
        Tick length [s].
    theta_e : array, shape (n,)
        Outdoor air temperature [°C].
    theta_g : float
        Ground temperature under the building [°C].
    h_ve, phi_int, phi_sol, setpoint : arrays, shape (n, N)
        Ventilation conductance [W/K], internal and solar gains [W], heating setpoint [°C].
    heat_pumps : sequence of HeatPumpOffer
        The H heat pumps, in order of use.
    el_max : array, shape (n,), optional
        Electricity the heat pumps may draw together per tick [J] (e.g. 0 during a grid
        outage); default unlimited.
    boiler : Boiler, optional
    t_return : array, shape (n,), optional
        Boiler return temperature [°C] (required with a boiler).
    buffer : Buffer, optional
    buffer_energy0 : float
        Buffer energy above its ``t_min`` at the window start [J].
    strategy : str
        One of :data:`STRATEGIES`.
    distribution_loss : float
        Fraction of the node's heat lost in distribution, in [0, 0.5].

    Returns
    -------
    HeatDispatch

    Raises
    ------
    ValueError
        On an unknown strategy, a boiler without ``t_return``, or inputs of the wrong shape.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; use one of {', '.join(STRATEGIES)}")
    if not 0.0 <= distribution_loss <= 0.5:
        raise ValueError("distribution_loss must be in [0, 0.5]")
    n_z = len(zones)
    theta_e = np.asarray(theta_e, dtype=float)
    n = theta_e.shape[0]
    arrays = {"h_ve": h_ve, "phi_int": phi_int, "phi_sol": phi_sol, "setpoint": setpoint}
    for name, a in arrays.items():
        if np.shape(a) != (n, n_z):
            raise ValueError(f"{name} must have shape ({n}, {n_z}), got {np.shape(a)}")
    if boiler is not None and t_return is None:
        raise ValueError("t_return is required with a boiler")
    theta_g = float(theta_g)
    n_hp = len(heat_pumps)
    el_cap = np.full(n, np.inf) if el_max is None else np.asarray(el_max, dtype=float)
    out = HeatDispatch(
        demand=np.zeros((n, n_z)), heat=np.zeros((n, n_z)), q_ambient=np.zeros((n, n_z)),
        q_couple=np.zeros((n, n_z, n_z)), theta_air=np.zeros((n, n_z)),
        theta_m=np.zeros((n, n_z)), hp_heat=np.zeros((n, n_hp)), hp_el=np.zeros((n, n_hp)),
        boiler_heat=np.zeros(n), boiler_gas=np.zeros(n), buffer_charge=np.zeros(n),
        buffer_discharge=np.zeros(n), buffer_loss=np.zeros(n), buffer_stored=np.zeros(n),
        distribution_loss=np.zeros(n), unmet=np.zeros(n))
    use_hp = strategy in ("heat_pump_first", "heat_pump_only") and n_hp > 0
    use_boiler = strategy in ("heat_pump_first", "boiler_only") and boiler is not None
    theta_m = np.asarray(theta_m0, dtype=float).copy()
    e_buf = float(buffer_energy0)
    keep = 1.0 - distribution_loss
    for k in range(n):
        res = solve_tick(zones, coupling, theta_m, dt, float(theta_e[k]), theta_g, h_ve[k],
                         phi_int[k], phi_sol[k], setpoint[k])
        demand = res.phi_hc * dt                      # [J] per flat
        need = float(demand.sum()) / keep             # [J] gross at the node
        rest = need
        # heat pumps
        hp_q = np.zeros(n_hp)
        hp_spare = np.zeros(n_hp)
        if use_hp:
            el_left = float(el_cap[k])
            for h, hp in enumerate(heat_pumps):
                cop = float(hp.cop[k])
                q_max = float(hp.p_th_max[k]) * dt
                if cop <= 0.0 or q_max <= 0.0 or el_left <= 0.0:
                    continue
                q_max = min(q_max, el_left * cop)
                hp_q[h] = min(rest, q_max)
                hp_spare[h] = q_max - hp_q[h]
                rest -= hp_q[h]
                el_left -= hp_q[h] / cop
        # buffer, boiler
        charge = discharge = 0.0
        if buffer is not None:
            max_charge, max_discharge = buffer_headroom(buffer, e_buf, dt)
        else:
            max_charge = max_discharge = 0.0
        q_boiler = 0.0
        if strategy == "boiler_only" and use_boiler:
            q_boiler = min(rest, boiler.p_th_max * dt)
            rest -= q_boiler
        if rest > 0.0 and max_discharge > 0.0:
            discharge = min(rest, max_discharge)
            rest -= discharge
        if strategy == "heat_pump_first" and use_boiler and rest > 0.0:
            q_boiler = min(rest, boiler.p_th_max * dt)
            rest -= q_boiler
        if strategy == "heat_pump_first" and discharge == 0.0 and max_charge > 0.0:
            for h in range(n_hp):  # spare heat-pump output into the buffer
                extra = min(hp_spare[h], max_charge - charge)
                if extra > 0.0:
                    hp_q[h] += extra
                    charge += extra
        if rest < 1e-9 * max(need, 1.0):
            rest = 0.0
        supplied = need - rest                         # [J] gross heat into the flats' loop
        if rest > 0.0:
            share = supplied / need
            res = solve_tick(zones, coupling, theta_m, dt, float(theta_e[k]), theta_g,
                             h_ve[k], phi_int[k], phi_sol[k], setpoint[k],
                             phi_hc_fixed=res.phi_hc * share)
        heat = res.phi_hc * dt
        delivered = float(heat.sum())
        out.demand[k] = demand
        out.heat[k] = heat
        out.q_ambient[k] = res.q_ambient * dt
        out.q_couple[k] = res.q_couple * dt
        out.theta_air[k] = res.theta_air
        out.theta_m[k] = res.theta_m
        out.unmet[k] = max(float(demand.sum()) - delivered, 0.0)
        # heat into the node = delivered + distribution loss + buffer charge
        out.hp_heat[k] = hp_q
        for h, hp in enumerate(heat_pumps):
            if hp_q[h] > 0.0:
                out.hp_el[k, h] = hp_q[h] / float(hp.cop[k])
        out.boiler_heat[k] = q_boiler
        if q_boiler > 0.0:
            out.boiler_gas[k] = float(boiler.gas_energy(np.array([q_boiler]), dt,
                                                        np.array([t_return[k]]))[0])
        if buffer is not None:
            e_buf, loss = buffer_step(buffer, e_buf, charge, discharge, dt)
            out.buffer_loss[k] = loss
        out.buffer_charge[k] = charge
        out.buffer_discharge[k] = discharge
        out.buffer_stored[k] = e_buf
        node_in = float(hp_q.sum()) + q_boiler + discharge
        out.distribution_loss[k] = max(node_in - charge - delivered, 0.0)
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
