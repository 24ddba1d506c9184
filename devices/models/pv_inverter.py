"""PV (string) inverter on the AC bus: DC of its arrays → AC, clipped at its rating.

A PV inverter sits beside the home's hybrid inverter (the balancing device): it takes the DC
of the arrays wired to it, converts it with the PVWatts inverter model and delivers AC to the
home's AC bus. Energies are per tick [J]; powers [W].

Clipping: above its AC rating the inverter moves its arrays off their maximum power point, so
the DC it does not convert is never drawn (it stays with the arrays, as the hybrid inverter's
clipping does in :func:`homesim.devices.models.inverter.allocate`); :func:`convert` reports
it as ``clipped``. When the balancing inverter takes less AC than available (export limit),
the DC drawn is what yields the AC taken (:func:`dc_drawn`).

References
----------
Dobos, A. P. (2014). PVWatts Version 5 Manual. NREL/TP-6A20-62641. :doi:`10.2172/1158421`
(inverter efficiency curve, eq. 10; :func:`pvlib.inverter.pvwatts`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .inverter import InverterSettings, pv_ac, pv_dc_for_ac

__all__ = ["PvInverter", "Conversion", "convert", "dc_drawn"]


@dataclass(frozen=True)
class PvInverter:
    """A PV inverter's PVWatts parameters.

    Attributes
    ----------
    p_ac_max : float
        AC rating [W], > 0 (pvlib's ``pac0 = eta_inv_nom * pdc0``).
    eta_inv_nom : float, default 0.96
        Nominal efficiency [-], in ``(0, 1]``.
    eta_inv_ref : float, default 0.9637
        Reference efficiency of the curve [-], in ``(0, 1]``.

    Raises
    ------
    ValueError
        On a value out of range (the message names the field).
    """

    p_ac_max: float
    eta_inv_nom: float = 0.96
    eta_inv_ref: float = 0.9637
    _curve: InverterSettings = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # validates the fields (same rules and messages as the hybrid inverter's)
        object.__setattr__(self, "_curve", InverterSettings(
            p_ac_max=self.p_ac_max, eta_inv_nom=self.eta_inv_nom,
            eta_inv_ref=self.eta_inv_ref))

    @property
    def pdc0(self) -> float:
        """DC input rating of the PVWatts curve ``p_ac_max / eta_inv_nom`` [W]."""
        return self.p_ac_max / self.eta_inv_nom

    @property
    def curve(self) -> InverterSettings:
        """The PVWatts curve as the hybrid inverter's settings (same functions, one curve)."""
        return self._curve


@dataclass(frozen=True)
class Conversion:
    """Result of :func:`convert`, per tick [J] (arrays of length ``n``).

    Attributes
    ----------
    ac : numpy.ndarray
        AC energy the inverter can deliver, ``<= p_ac_max * dt`` [J].
    dc_used : numpy.ndarray
        DC energy drawn to deliver ``ac`` [J]: all of ``dc`` below the rating, the DC that
        yields ``p_ac_max * dt`` when clipping.
    losses : numpy.ndarray
        Conversion losses ``dc_used - ac`` [J], >= 0.
    clipped : numpy.ndarray
        DC not drawn because of the rating, ``dc - dc_used`` [J], >= 0.
    """

    ac: np.ndarray
    dc_used: np.ndarray
    losses: np.ndarray
    clipped: np.ndarray


def convert(inv: PvInverter, dc: np.ndarray, dt: float) -> Conversion:
    """AC energy from the DC energy of the inverter's arrays, tick by tick.

    Parameters
    ----------
    inv : PvInverter
        The inverter.
    dc : array_like
        DC energy its arrays can deliver per tick [J], >= 0 (at maximum power).
    dt : float
        Tick length [s], > 0.

    Returns
    -------
    Conversion
        ``ac = pvlib.inverter.pvwatts(dc / dt, pdc0, eta_inv_nom, eta_inv_ref) * dt`` (clipped
        at ``p_ac_max * dt``, 0 where pvlib gives none), the DC drawn for it, the conversion
        losses and the clipped DC.

    Raises
    ------
    ValueError
        If ``dt <= 0`` or ``dc`` is negative or not finite.
    """
    if not dt > 0:
        raise ValueError(f"dt: must be > 0 s, got {dt}")
    p = np.atleast_1d(np.asarray(dc, dtype=float))
    if not np.all(np.isfinite(p)) or np.any(p < 0.0):
        raise ValueError("dc: must be finite and >= 0 J")
    cap = inv.p_ac_max * dt
    ac = np.minimum(pv_ac(inv.curve, p / dt, None) * dt, cap)
    clipping = ac >= cap
    if np.any(clipping):
        # the rating cuts: the arrays give only the DC that yields the rating
        need = np.minimum(pv_dc_for_ac(inv.curve, ac / dt, None) * dt, p)
        used = np.where(clipping, need, p)
    else:
        used = p.copy()
    used = np.maximum(used, ac)  # efficiency <= 1: losses >= 0
    return Conversion(ac=ac, dc_used=used, losses=used - ac, clipped=p - used)


def dc_drawn(inv: PvInverter, dc: np.ndarray, ac: np.ndarray, dt: float) -> np.ndarray:
    """DC energy drawn from the arrays when the AC taken is ``ac`` [J] per tick.

    Parameters
    ----------
    inv : PvInverter
        The inverter.
    dc : array_like
        DC energy its arrays can deliver per tick [J], >= 0.
    ac : array_like
        AC energy taken per tick [J], in ``[0, convert(inv, dc, dt).ac]``.
    dt : float
        Tick length [s], > 0.

    Returns
    -------
    numpy.ndarray
        ``convert(...).dc_used`` where all the AC is taken; where less is taken (curtailment)
        the smallest DC that yields ``ac`` (inverse of the PVWatts curve), never above ``dc``
        nor below ``ac``.
    """
    p = np.atleast_1d(np.asarray(dc, dtype=float))
    a = np.atleast_1d(np.asarray(ac, dtype=float))
    full = convert(inv, p, dt)
    less = a < full.ac
    if np.any(less):
        need = np.minimum(pv_dc_for_ac(inv.curve, a / dt, None) * dt, p)
        used = np.where(less, need, full.dc_used)
    else:
        used = full.dc_used
    return np.asarray(np.maximum(used, a), dtype=float)
