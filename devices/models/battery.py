"""Battery storage: an energy bucket with charge and discharge efficiencies.

The stored energy advances per tick as

    energy' = energy + charge * eta_charge - discharge / eta_discharge
    losses  = charge * (1 - eta_charge) + discharge * (1 / eta_discharge - 1)

where ``charge`` and ``discharge`` are the energies exchanged at the battery terminals in the
tick [J]. The inverter (inside its allocation) and the battery device advance the state with
the same :func:`storage_step`, so both reach bit-identical energies.

References
----------
A generic energy-reservoir model with constant round-trip efficiency split into charge and
discharge parts, as used for example in NREL's System Advisor Model battery "energy
bucket" (DiOrio, N. et al. 2015, Technoeconomic Modeling of Battery Energy Storage in SAM,
NREL/TP-6A20-64641, :doi:`10.2172/1225314`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "COUPLINGS",
    "ENERGY_TOLERANCE",
    "BatteryEnvelope",
    "converter_terminal",
    "max_charge",
    "max_discharge",
    "storage_limits",
    "storage_step",
    "storage_trajectory",
]

ENERGY_TOLERANCE = 1e-6
"""Rounding tolerance when validating a stored energy against its bounds [J]."""

COUPLINGS = ("dc", "ac")
"""Where a battery meets the home's bus: ``'dc'`` behind the hybrid inverter (its packets are
terminal energies), ``'ac'`` behind its own bidirectional converter (its packets are AC
energies; the converter's losses are the battery's)."""


@dataclass(frozen=True)
class BatteryEnvelope:
    """What a battery offers for one window: its state and limits.

    Attributes
    ----------
    energy : float
        Stored energy at the window start [J].
    e_min : float
        Lowest allowed stored energy [J], >= 0.
    e_max : float
        Highest allowed stored energy [J], >= ``e_min``.
    p_charge_max : float
        Charge power limit at the terminals [W], >= 0.
    p_discharge_max : float
        Discharge power limit at the terminals [W], >= 0.
    eta_charge : float
        Charge efficiency [-], in ``(0, 1]``.
    eta_discharge : float
        Discharge efficiency [-], in ``(0, 1]``.
    capacity : float or None, default None
        Nominal capacity [J] that ``soc`` refers to (``soc = energy / capacity``);
        ``None`` means ``e_max``.
    coupling : {'dc', 'ac'}, default 'dc'
        ``'dc'``: on the DC side of the hybrid inverter, which limits its AC flows with its
        own rating; ``'ac'``: behind its own bidirectional converter on the AC bus (SAM's
        AC-connected battery, ``batt_ac_or_dc``), see :func:`converter_terminal`.
    eta_ac_dc : float, default 1.0
        ``'ac'`` only: converter efficiency when charging, AC → battery terminals [-], in
        ``(0, 1]`` (SAM ``batt_ac_dc_efficiency``).
    eta_dc_ac : float, default 1.0
        ``'ac'`` only: converter efficiency when discharging, terminals → AC [-], in
        ``(0, 1]`` (SAM ``batt_dc_ac_efficiency``).
    p_ac_max : float or None, default None
        ``'ac'`` only: AC rating of the converter [W], >= 0 (both directions); ``None`` =
        only the terminal limits apply.

    Raises
    ------
    ValueError
        If a field is out of range; the message names the field. ``energy`` may exceed its
        bounds by :data:`ENERGY_TOLERANCE` (rounding).
    """

    energy: float
    e_min: float
    e_max: float
    p_charge_max: float
    p_discharge_max: float
    eta_charge: float
    eta_discharge: float
    capacity: float | None = None
    coupling: str = "dc"
    eta_ac_dc: float = 1.0
    eta_dc_ac: float = 1.0
    p_ac_max: float | None = None

    def __post_init__(self) -> None:
        for name in ("energy", "e_min", "e_max", "p_charge_max", "p_discharge_max"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value)):
                raise ValueError(f"{name}: must be a finite number, got {value!r}")
        if self.e_min < 0.0:
            raise ValueError(f"e_min: must be >= 0 J, got {self.e_min}")
        if self.e_max < self.e_min:
            raise ValueError(f"e_max: must be >= e_min ({self.e_min} J), got {self.e_max}")
        if not (
            self.e_min - ENERGY_TOLERANCE <= self.energy <= self.e_max + ENERGY_TOLERANCE
        ):
            raise ValueError(
                f"energy: must be in [e_min, e_max] = [{self.e_min}, {self.e_max}] J, "
                f"got {self.energy}"
            )
        if self.p_charge_max < 0.0:
            raise ValueError(f"p_charge_max: must be >= 0 W, got {self.p_charge_max}")
        if self.p_discharge_max < 0.0:
            raise ValueError(f"p_discharge_max: must be >= 0 W, got {self.p_discharge_max}")
        for name in ("eta_charge", "eta_discharge"):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                raise ValueError(f"{name}: must be in (0, 1], got {value}")
        if self.capacity is not None and not self.capacity > 0.0:
            raise ValueError(f"capacity: must be > 0 J, got {self.capacity}")
        if self.coupling not in COUPLINGS:
            raise ValueError(f"coupling: must be one of {COUPLINGS}, got {self.coupling!r}")
        for name in ("eta_ac_dc", "eta_dc_ac"):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                raise ValueError(f"{name}: must be in (0, 1], got {value}")
        if self.p_ac_max is not None and not 0.0 <= self.p_ac_max < math.inf:
            raise ValueError(f"p_ac_max: must be a finite number >= 0 W, got {self.p_ac_max}")

    @property
    def nominal(self) -> float:
        """Capacity that ``soc`` refers to: ``capacity``, or ``e_max`` when unset [J]."""
        return self.e_max if self.capacity is None else self.capacity

    @property
    def soc(self) -> float:
        """State of charge ``energy / nominal`` [-] (0 when the nominal capacity is 0)."""
        return self.energy / self.nominal if self.nominal > 0.0 else 0.0


def storage_step(
    energy: float, charge: float, discharge: float, eta_charge: float, eta_discharge: float
) -> tuple[float, float]:
    """Advance the stored energy over one tick.

    Parameters
    ----------
    energy : float
        Stored energy at the tick start [J].
    charge : float
        Energy delivered to the battery terminals in the tick [J], >= 0.
    discharge : float
        Energy taken from the battery terminals in the tick [J], >= 0.
    eta_charge, eta_discharge : float
        Charge and discharge efficiencies [-], in ``(0, 1]``.

    Returns
    -------
    energy : float
        Stored energy at the tick end [J].
    losses : float
        Conversion losses in the tick [J], so that
        ``charge - discharge - (energy' - energy) - losses == 0`` up to rounding.

    Notes
    -----
    Plain float arithmetic, no validation (called once per tick in hot loops); the caller
    keeps ``charge`` and ``discharge`` within :func:`storage_limits`. This exact expression
    defines the battery state everywhere in homesim.
    """
    return (
        energy + charge * eta_charge - discharge / eta_discharge,
        charge * (1.0 - eta_charge) + discharge * (1.0 / eta_discharge - 1.0),
    )


def converter_terminal(
    ac_in: np.ndarray, ac_out: np.ndarray, eta_ac_dc: float, eta_dc_ac: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Terminal energies of an AC-coupled battery from the AC energies of its converter.

    Parameters
    ----------
    ac_in : array_like
        AC energy into the converter per tick (charging) [J], >= 0.
    ac_out : array_like
        AC energy out of the converter per tick (discharging) [J], >= 0.
    eta_ac_dc, eta_dc_ac : float
        Converter efficiencies AC → DC and DC → AC [-], in ``(0, 1]``.

    Returns
    -------
    charge : numpy.ndarray
        Energy into the battery terminals, ``ac_in * eta_ac_dc`` [J].
    discharge : numpy.ndarray
        Energy out of the battery terminals, ``ac_out / eta_dc_ac`` [J].
    losses : numpy.ndarray
        Converter losses ``(ac_in - charge) + (discharge - ac_out)`` [J], >= 0.

    Notes
    -----
    A constant-efficiency bidirectional converter, as SAM's AC-connected battery
    (DiOrio et al. 2015). The inverter's dispatch
    (:mod:`homesim.devices.models.dispatch`) uses the same two expressions per tick, so the
    battery reaches bit-identical energies.
    """
    a_in = np.asarray(ac_in, dtype=float)
    a_out = np.asarray(ac_out, dtype=float)
    charge = a_in * eta_ac_dc
    discharge = a_out / eta_dc_ac
    return charge, discharge, (a_in - charge) + (discharge - a_out)


def storage_trajectory(
    energy0: float,
    charge: np.ndarray,
    discharge: np.ndarray,
    eta_charge: float,
    eta_discharge: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Apply :func:`storage_step` tick by tick.

    Parameters
    ----------
    energy0 : float
        Stored energy at the start of the first tick [J].
    charge, discharge : array_like
        Energy into / out of the battery terminals per tick [J].
    eta_charge, eta_discharge : float
        Charge and discharge efficiencies [-], in ``(0, 1]``.

    Returns
    -------
    energy : numpy.ndarray
        Stored energy at the end of each tick [J].
    losses : numpy.ndarray
        Losses per tick [J].

    Raises
    ------
    ValueError
        If ``charge`` and ``discharge`` differ in length.

    Notes
    -----
    Bit-identical to calling :func:`storage_step` repeatedly (it does exactly that).
    """
    c = np.asarray(charge, dtype=float).ravel().tolist()
    d = np.asarray(discharge, dtype=float).ravel().tolist()
    if len(c) != len(d):
        raise ValueError(f"charge and discharge differ in length: {len(c)} != {len(d)}")
    energies = [0.0] * len(c)
    losses = [0.0] * len(c)
    e = float(energy0)
    step = storage_step
    for i, (ci, di) in enumerate(zip(c, d, strict=True)):
        e, loss = step(e, ci, di, eta_charge, eta_discharge)
        energies[i] = e
        losses[i] = loss
    return np.asarray(energies, dtype=float), np.asarray(losses, dtype=float)


def max_charge(energy: float, ceiling: float, limit: float, eta_charge: float) -> float:
    """Largest charge [J] in one tick that keeps the energy at or below ``ceiling``.

    Parameters
    ----------
    energy : float
        Stored energy at the tick start [J].
    ceiling : float
        Energy not to exceed at the tick end [J].
    limit : float
        Terminal energy limit for the tick (power limit times ``dt``) [J].
    eta_charge : float
        Charge efficiency [-].

    Returns
    -------
    float
        Charge [J], >= 0, such that ``storage_step(energy, c, 0, ...)[0] <= ceiling`` holds
        exactly in floating point.
    """
    room = ceiling - energy
    if room <= 0.0 or limit <= 0.0:
        return 0.0
    c = room / eta_charge
    if c >= limit:
        c = limit
    # Rounding of energy + c * eta may overshoot the ceiling by an ulp: step back.
    while c > 0.0 and storage_step(energy, c, 0.0, eta_charge, 1.0)[0] > ceiling:
        c = math.nextafter(c, 0.0)
    return c


def max_discharge(energy: float, floor: float, limit: float, eta_discharge: float) -> float:
    """Largest discharge [J] in one tick that keeps the energy at or above ``floor``.

    Parameters
    ----------
    energy : float
        Stored energy at the tick start [J].
    floor : float
        Energy not to go below at the tick end [J].
    limit : float
        Terminal energy limit for the tick (power limit times ``dt``) [J].
    eta_discharge : float
        Discharge efficiency [-].

    Returns
    -------
    float
        Discharge [J], >= 0, such that ``storage_step(energy, 0, d, ...)[0] >= floor`` holds
        exactly in floating point.
    """
    room = energy - floor
    if room <= 0.0 or limit <= 0.0:
        return 0.0
    d = room * eta_discharge
    if d >= limit:
        d = limit
    while d > 0.0 and storage_step(energy, 0.0, d, 1.0, eta_discharge)[0] < floor:
        d = math.nextafter(d, 0.0)
    return d


def storage_limits(energy: float, env: BatteryEnvelope, dt: float) -> tuple[float, float]:
    """Largest charge and discharge feasible in one tick.

    Parameters
    ----------
    energy : float
        Stored energy at the tick start [J].
    env : BatteryEnvelope
        Bounds, power limits and efficiencies.
    dt : float
        Tick length [s], > 0.

    Returns
    -------
    charge_max : float
        Largest terminal charge [J]: ``min(p_charge_max * dt, (e_max - energy) / eta_charge)``.
    discharge_max : float
        Largest terminal discharge [J]:
        ``min(p_discharge_max * dt, (energy - e_min) * eta_discharge)``.

    Both are >= 0, and applying either with :func:`storage_step` keeps the energy in
    ``[e_min, e_max]`` exactly.

    Raises
    ------
    ValueError
        If ``dt <= 0``.
    """
    if not dt > 0:
        raise ValueError(f"dt: must be > 0 s, got {dt}")
    return (
        max_charge(energy, env.e_max, env.p_charge_max * dt, env.eta_charge),
        max_discharge(energy, env.e_min, env.p_discharge_max * dt, env.eta_discharge),
    )
