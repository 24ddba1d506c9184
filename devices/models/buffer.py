"""Hot-water buffer tank: one fully mixed node with standing losses.

The state is the energy stored above the lowest useful temperature ``t_min``,

    energy = C * (T - t_min),   C = RHO_WATER * C_P_WATER * volume   [J/K]

and ``capacity = C * (t_max - t_min)``. Over a tick of length ``dt`` the tank exchanges
``charge`` and ``discharge`` [J] and loses ``ua * dt * (T1 - t_surround)`` to the room, with
``T1`` the temperature at the tick end (backward Euler, unconditionally stable):

    energy1 = (energy0 + charge - discharge - ua*dt*(t_min - t_surround)) / (1 + ua*dt/C)
    loss    = energy0 + charge - discharge - energy1

so ``energy1 == energy0 + charge - discharge - loss`` by construction. The loss is negative
(a gain) when the tank is colder than the room.

Bounds: a discharge may not take the tank below ``t_min`` (energy 0) and a charge may not
take it above ``t_max`` (``capacity``). The exchange with the room alone may: an idle tank
cools below ``t_min`` towards ``t_surround`` (negative energy: heat is stored but not
useful), it is not an error. The implicit step never overshoots ``t_surround``.

References
----------
Single-node (fully mixed) storage tank model, e.g. Duffie, J. A., Beckman, W. A. (2013),
Solar Engineering of Thermal Processes, 4th ed., Wiley, section 8.3,
:doi:`10.1002/9781118671603`; implicit (backward) Euler time step.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

__all__ = [
    "C_P_WATER",
    "RHO_WATER",
    "REL_TOLERANCE",
    "Buffer",
    "buffer_step",
    "buffer_headroom",
    "buffer_trajectory",
]

C_P_WATER = 4186.0
"""Specific heat capacity of liquid water [J/(kg K)] (~4.18-4.19 between 20 and 80 °C)."""
RHO_WATER = 983.2
"""Density of water at 60 °C [kg/m3]."""
REL_TOLERANCE = 1e-6
"""Relative tolerance (of the capacity) when checking the stored energy against its bounds."""


def _finite(name: str, value: float) -> None:
    if isinstance(value, bool) or not (
        isinstance(value, numbers.Real) and math.isfinite(value)
    ):
        raise ValueError(f"{name}: must be a finite number, got {value!r}")


@dataclass(frozen=True)
class Buffer:
    """A fully mixed hot-water tank.

    Attributes
    ----------
    volume : float
        Water volume [m3], > 0.
    t_min : float
        Lowest useful temperature [°C]: stored energy 0.
    t_max : float
        Highest allowed temperature [°C], > ``t_min``: stored energy ``capacity``.
    ua : float
        Standing loss coefficient [W/K], >= 0.
    t_surround : float, default 15.0
        Temperature of the room the tank stands in [°C].

    Raises
    ------
    ValueError
        If a field is out of range; the message names the field.
    """

    volume: float
    t_min: float
    t_max: float
    ua: float
    t_surround: float = 15.0

    def __post_init__(self) -> None:
        for name in ("volume", "t_min", "t_max", "ua", "t_surround"):
            _finite(name, getattr(self, name))
        if not self.volume > 0.0:
            raise ValueError(f"volume: must be > 0 m3, got {self.volume}")
        if not self.t_max > self.t_min:
            raise ValueError(f"t_max: must be > t_min ({self.t_min} °C), got {self.t_max}")
        if not self.ua >= 0.0:
            raise ValueError(f"ua: must be >= 0 W/K, got {self.ua}")

    @property
    def heat_capacity(self) -> float:
        """Heat capacity of the water ``RHO_WATER * C_P_WATER * volume`` [J/K]."""
        return RHO_WATER * C_P_WATER * self.volume

    @property
    def capacity(self) -> float:
        """Usable energy between ``t_min`` and ``t_max`` [J]."""
        return self.heat_capacity * (self.t_max - self.t_min)

    def temperature(self, energy: np.ndarray | float) -> np.ndarray | float:
        """Water temperature [°C] for a stored energy above ``t_min`` [J].

        Returns a float for a scalar input, an array otherwise. Not clipped.
        """
        if isinstance(energy, numbers.Real):
            return self.t_min + energy / self.heat_capacity
        return self.t_min + np.asarray(energy, dtype=float) / self.heat_capacity


def _check_dt(dt: float) -> None:
    if not (isinstance(dt, numbers.Real) and math.isfinite(dt) and dt > 0.0):
        raise ValueError(f"dt: must be > 0 s, got {dt!r}")


def buffer_step(
    buffer: Buffer, energy0: float, charge: float, discharge: float, dt: float
) -> tuple[float, float]:
    """Advance the tank over one tick.

    Parameters
    ----------
    buffer : Buffer
        The tank.
    energy0 : float
        Stored energy at the tick start [J].
    charge : float
        Heat put into the tank in the tick [J], >= 0.
    discharge : float
        Heat taken from the tank in the tick [J], >= 0.
    dt : float
        Tick length [s], > 0.

    Returns
    -------
    energy1 : float
        Stored energy at the tick end [J], not clipped: a discharge or charge may overshoot
        ``[0, capacity]`` by rounding (up to :data:`REL_TOLERANCE` of the capacity), and the
        standing loss alone may take it below 0 (tank colder than ``t_min``).
    loss : float
        Standing loss in the tick [J], evaluated at the end-of-tick temperature; negative
        (a gain) when the tank ends colder than ``t_surround``.
        ``energy1 == energy0 + charge - discharge - loss`` up to rounding.

    Raises
    ------
    ValueError
        If ``dt <= 0``, an energy is not finite, ``charge`` or ``discharge`` is negative, or
        with ``discharge > 0`` ``energy1`` would fall below 0, or with ``charge > 0`` it
        would exceed ``capacity``, by more than :data:`REL_TOLERANCE` of the capacity (see
        :func:`buffer_headroom`).
    """
    _check_dt(dt)
    for name, value in (("energy0", energy0), ("charge", charge), ("discharge", discharge)):
        _finite(name, value)
    if charge < 0.0:
        raise ValueError(f"charge: must be >= 0 J, got {charge}")
    if discharge < 0.0:
        raise ValueError(f"discharge: must be >= 0 J, got {discharge}")
    net = energy0 + charge - discharge
    k = buffer.ua * dt
    energy1 = (net - k * (buffer.t_min - buffer.t_surround)) / (1.0 + k / buffer.heat_capacity)
    cap = buffer.capacity
    tol = REL_TOLERANCE * cap
    if discharge > 0.0 and energy1 < -tol:
        raise ValueError(
            f"buffer would fall below t_min: energy {energy1} J < 0 "
            f"(energy0 {energy0}, charge {charge}, discharge {discharge})"
        )
    if charge > 0.0 and energy1 > cap + tol:
        raise ValueError(
            f"buffer would exceed t_max: energy {energy1} J > capacity {cap} J "
            f"(energy0 {energy0}, charge {charge}, discharge {discharge})"
        )
    return energy1, net - energy1


def buffer_headroom(buffer: Buffer, energy0: float, dt: float) -> tuple[float, float]:
    """Largest charge and discharge possible in one tick.

    Parameters
    ----------
    buffer : Buffer
        The tank.
    energy0 : float
        Stored energy at the tick start [J].
    dt : float
        Tick length [s], > 0.

    Returns
    -------
    charge_max : float
        Largest charge [J] (with no discharge) that ends the tick at or below ``capacity``.
    discharge_max : float
        Largest discharge [J] (with no charge) that ends the tick at or above 0.

    Both include the standing loss of the tick and are >= 0. When the loss alone takes the
    tank below ``t_min``, ``discharge_max`` is 0 (likewise ``charge_max`` is 0 when a tank
    at ``t_max`` gains heat from a warmer room).

    Raises
    ------
    ValueError
        If ``dt <= 0`` or ``energy0`` is not finite.
    """
    _check_dt(dt)
    _finite("energy0", energy0)
    k = buffer.ua * dt
    # Loss-equivalent offset of the implicit step (see buffer_step).
    offset = k * (buffer.t_min - buffer.t_surround)
    charge_max = buffer.capacity * (1.0 + k / buffer.heat_capacity) + offset - energy0
    discharge_max = energy0 - offset
    return max(charge_max, 0.0), max(discharge_max, 0.0)


def buffer_trajectory(
    buffer: Buffer,
    energy0: float,
    charge: np.ndarray,
    discharge: np.ndarray,
    dt: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Apply :func:`buffer_step` tick by tick.

    Parameters
    ----------
    buffer : Buffer
        The tank.
    energy0 : float
        Stored energy at the start of the first tick [J].
    charge, discharge : array_like, shape (n,)
        Heat into / out of the tank per tick [J].
    dt : float
        Tick length [s], > 0.

    Returns
    -------
    energy : numpy.ndarray, shape (n,)
        Stored energy at the end of each tick [J].
    losses : numpy.ndarray, shape (n,)
        Standing loss per tick [J].

    Raises
    ------
    ValueError
        If ``charge`` and ``discharge`` differ in length, or as :func:`buffer_step` (the
        message names the tick).
    """
    c = np.asarray(charge, dtype=float).ravel().tolist()
    d = np.asarray(discharge, dtype=float).ravel().tolist()
    if len(c) != len(d):
        raise ValueError(f"charge and discharge differ in length: {len(c)} != {len(d)}")
    energies = [0.0] * len(c)
    losses = [0.0] * len(c)
    e = float(energy0)
    for i, (ci, di) in enumerate(zip(c, d, strict=True)):
        try:
            e, loss = buffer_step(buffer, e, ci, di, dt)
        except ValueError as exc:
            raise ValueError(f"tick {i}: {exc}") from None
        energies[i] = e
        losses[i] = loss
    return np.asarray(energies, dtype=float), np.asarray(losses, dtype=float)
