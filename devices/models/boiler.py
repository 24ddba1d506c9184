"""Gas condensing boiler with a modulation range.

The useful efficiency (on the gross calorific value, GCV) is interpolated between the two
test points of Commission Regulation (EU) No 813/2013, Annex III:

* ``eta_full`` (eta_4): rated heat output, high-temperature regime, return 60 °C;
* ``eta_part`` (eta_1): 30 % of rated heat output, low-temperature regime, return 30 °C.

With the load fraction ``L = p_th / p_th_max`` (raised to ``modulation_min`` when the boiler
cycles on and off) and the return temperature ``t_return``:

    f_c = clip((T_DEW - t_return) / (T_DEW - 30), 0, 1)     condensing share, T_DEW = 55 °C
    f_p = clip((1 - L) / (1 - 0.3), 0, 1)                   part-load share
    s   = f_p + condensing_share * (f_c - f_p)
    eta = (1 - s) * eta_full + s * eta_part

Above the dew point of the flue gas (~55 °C return for natural gas) no water vapour
condenses (``f_c = 0``); below it the latent heat recovered grows with the temperature
difference. ``condensing_share`` splits the gain between the test points into a condensing
part and a part-load part (lower flue-gas temperature at low firing rate). The curve passes
through both test points exactly (``s`` is exactly 0 and 1 there) and stays between
``eta_full`` and ``eta_part``: nothing is extrapolated below 30 °C return or below 30 % load.

References
----------
Commission Regulation (EU) No 813/2013 (ecodesign requirements for space heaters and
combination heaters), OJ L 239, 6.9.2013, Annex III point 4 and Annex I (definitions of
eta_4 and eta_1). The dew-point behaviour of condensing boilers follows e.g. Recknagel,
Sprenger, Albers, Taschenbuch für Heizung + Klimatechnik.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

__all__ = ["T_DEW", "T_RETURN_FULL", "T_RETURN_PART", "LOAD_PART", "Boiler"]

T_DEW = 55.0
"""Flue-gas water dew point of natural-gas firing, as a return temperature [°C]."""
T_RETURN_FULL = 60.0
"""Return temperature of the eta_4 test point (80/60 °C) [°C]."""
T_RETURN_PART = 30.0
"""Return temperature of the eta_1 test point (low-temperature regime) [°C]."""
LOAD_PART = 0.3
"""Load fraction of the eta_1 test point [-]."""
_REL_TOLERANCE = 1e-9
"""Relative rounding tolerance when checking heat against the rated output [-]."""


@dataclass(frozen=True)
class Boiler:
    """A gas condensing boiler.

    Attributes
    ----------
    p_th_max : float
        Rated (nominal) heat output [W], > 0.
    modulation_min : float, default 0.2
        Lowest continuous load fraction [-], in ``(0, 1]``. Below it the burner cycles on
        and off, at the efficiency of ``modulation_min``.
    eta_full : float, default 0.88
        Useful efficiency at rated output, return 60 °C (GCV) [-], in ``(0, 1]``:
        eta_4 of Reg. (EU) 813/2013.
    eta_part : float, default 0.96
        Useful efficiency at 30 % load, return 30 °C (GCV) [-], in ``(0, 1]``:
        eta_1 of Reg. (EU) 813/2013.
    condensing_share : float, default 0.75
        Share of ``eta_part - eta_full`` due to condensation (the rest is the part-load
        gain) [-], in ``[0, 1]``.

    Raises
    ------
    ValueError
        If a field is out of range; the message names the field. Efficiencies are on the
        gross calorific value, so they cannot exceed 1.
    """

    p_th_max: float
    modulation_min: float = 0.2
    eta_full: float = 0.88
    eta_part: float = 0.96
    condensing_share: float = 0.75

    def __post_init__(self) -> None:
        for name in ("p_th_max", "modulation_min", "eta_full", "eta_part", "condensing_share"):
            value = getattr(self, name)
            if isinstance(value, bool) or not (
                isinstance(value, numbers.Real) and math.isfinite(value)
            ):
                raise ValueError(f"{name}: must be a finite number, got {value!r}")
        if not self.p_th_max > 0.0:
            raise ValueError(f"p_th_max: must be > 0 W, got {self.p_th_max}")
        if not 0.0 < self.modulation_min <= 1.0:
            raise ValueError(f"modulation_min: must be in (0, 1], got {self.modulation_min}")
        for name in ("eta_full", "eta_part"):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                raise ValueError(f"{name}: must be in (0, 1] (GCV basis), got {value}")
        if not 0.0 <= self.condensing_share <= 1.0:
            raise ValueError(
                f"condensing_share: must be in [0, 1], got {self.condensing_share}"
            )

    def efficiency(self, load_fraction: np.ndarray, t_return: np.ndarray) -> np.ndarray:
        """Useful efficiency on the gross calorific value.

        Parameters
        ----------
        load_fraction : array_like
            Heat output over rated output [-], in ``[0, 1]``; below ``modulation_min`` the
            boiler cycles and the efficiency at ``modulation_min`` applies.
        t_return : array_like
            Return (boiler inlet) water temperature [°C].

        Returns
        -------
        numpy.ndarray
            Efficiency [-], between ``eta_full`` and ``eta_part``, broadcast shape.

        Raises
        ------
        ValueError
            If an input is not finite or ``load_fraction`` is outside ``[0, 1]`` (beyond
            rounding).
        """
        load = np.asarray(load_fraction, dtype=float)
        t_ret = np.asarray(t_return, dtype=float)
        if not (np.all(np.isfinite(load)) and np.all(np.isfinite(t_ret))):
            raise ValueError("load_fraction, t_return: must be finite")
        if np.any(load < 0.0) or np.any(load > 1.0 + _REL_TOLERANCE):
            raise ValueError("load_fraction: must be in [0, 1]")
        # On/off cycling below the modulation range runs at modulation_min.
        load = np.clip(load, self.modulation_min, 1.0)
        f_c = np.clip((T_DEW - t_ret) / (T_DEW - T_RETURN_PART), 0.0, 1.0)
        f_p = np.clip((1.0 - load) / (1.0 - LOAD_PART), 0.0, 1.0)
        # Written so that s is exactly 0 at (1, 60 °C) and exactly 1 at (0.3, 30 °C).
        s = f_p + self.condensing_share * (f_c - f_p)
        return (1.0 - s) * self.eta_full + s * self.eta_part

    def gas_energy(self, q_th: np.ndarray, dt: float, t_return: np.ndarray) -> np.ndarray:
        """Gas energy (GCV) burnt in one tick for a useful heat output.

        Parameters
        ----------
        q_th : array_like
            Useful heat delivered in the tick [J], in ``[0, p_th_max * dt]``.
        dt : float
            Tick length [s], > 0.
        t_return : array_like
            Return water temperature [°C].

        Returns
        -------
        numpy.ndarray
            Gas energy on the gross calorific value [J], ``q_th / efficiency``.

        Raises
        ------
        ValueError
            If ``dt <= 0``, or ``q_th`` is not finite, negative, or above
            ``p_th_max * dt`` (beyond rounding).
        """
        if not (math.isfinite(dt) and dt > 0.0):
            raise ValueError(f"dt: must be > 0 s, got {dt}")
        q = np.asarray(q_th, dtype=float)
        if not np.all(np.isfinite(q)):
            raise ValueError("q_th: must be finite [J]")
        if np.any(q < 0.0):
            raise ValueError(f"q_th: must be >= 0 J, got min {q.min()}")
        q_max = self.p_th_max * dt
        if np.any(q > q_max * (1.0 + _REL_TOLERANCE)):
            raise ValueError(
                f"q_th: must be <= p_th_max * dt = {q_max} J, got max {q.max()}"
            )
        eta = self.efficiency(np.minimum(q / q_max, 1.0), t_return)
        return q / eta
