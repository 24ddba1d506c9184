"""Heat-pump part load: EN 14825 cycling degradation, and its inverse.

A heat pump asked for less than its lowest continuous output cycles on and off. EN 14825
corrects the COP of such a bin with the degradation coefficient ``Cd`` (``Cc``/``Cdh`` in the
standard for water-based heat pumps) and the capacity ratio ``CR`` (heat demand over the
heat the unit gives when it runs):

    COP_pl = COP * CR / (Cd * CR + (1 - Cd))

``Cd = 1`` means no cycling loss; EN 14825's default for water-based heat pumps when it is
not measured is 0.9. For a variable-speed heat pump the unit runs at ``modulation_min``
times its full-load output while on, so ``CR = L / modulation_min`` with ``L`` the load
fraction ``q / q_max``; between ``modulation_min`` and full load the compressor modulates and
the full-load COP holds (hplib's fit is a full-load fit; modulation effects on the COP are
not modelled). An on/off heat pump has ``modulation_min = 1``. The electricity of a tick is
then, with ``q`` the heat and ``q_max`` the full-load heat of the tick,

    L >= m:      e = q / COP
    0 < L < m:   e = q / COP_pl = Cd * q / COP + (1 - Cd) * m * q_max / COP

which is continuous at ``L = m`` and increasing in ``q``, so it can be inverted
(:func:`thermal_for_electric`, used when the electricity a heat pump may draw is limited).
Where the heat pump runs on hplib's heating rod (``cop <= 1``, see
:class:`~homesim.devices.models.heatpump.HeatPumpModel`) there is no compressor to cycle:
``e = q``.

With a low COP and a small ``CR`` the electricity can exceed the heat (``COP_pl < 1``): the
difference is the cycling loss, heat that never reaches the water (the heat node books it
from the heat pump to ``ambient``).

References
----------
EN 14825:2018, Air conditioners, liquid chilling packages and heat pumps, with electrically
driven compressors, for space heating and cooling -- Testing and rating at part load
conditions and calculation of seasonal performance, §8.4-8.5 (COP at part load of
fixed- and variable-capacity units, degradation coefficient, default 0.9 for water-based
units).
"""

from __future__ import annotations

import numpy as np

__all__ = ["CD_DEFAULT", "part_load_electric", "thermal_for_electric", "check_cd"]

CD_DEFAULT = 0.9
"""EN 14825's default degradation coefficient of water-based heat pumps [-]."""


def check_cd(cd: float) -> float:
    """``cd`` as a float, or ValueError when it is not in ``(0, 1]``."""
    c = float(cd)
    if not 0.0 < c <= 1.0:
        raise ValueError(f"cd: the EN 14825 degradation coefficient must be in (0, 1], got {cd}")
    return c


def part_load_electric(q: np.ndarray | float, q_max: np.ndarray | float,
                       cop: np.ndarray | float, modulation_min: float = 1.0,
                       cd: float = CD_DEFAULT) -> np.ndarray:
    """Electricity of a heat pump that gives ``q`` of at most ``q_max`` (EN 14825 part load).

    Parameters
    ----------
    q : array_like
        Heat delivered [J] (or [W]), ``0 <= q <= q_max``.
    q_max : array_like
        Full-load heat in the same time [J] (or [W]), >= 0.
    cop : array_like
        Full-load COP [-]; ``<= 0`` when the heat pump is off (then ``q`` must be 0),
        ``<= 1`` on hplib's heating rod (no cycling loss: ``e = q``).
    modulation_min : float, default 1.0
        Lowest continuous load fraction [-] in ``(0, 1]`` (1 for an on/off unit).
    cd : float, default 0.9
        EN 14825 degradation coefficient [-] in ``(0, 1]``; 1 = no cycling loss.

    Returns
    -------
    numpy.ndarray
        Electricity [J] (or [W]), the broadcast shape; 0 where ``q`` is 0.

    Raises
    ------
    ValueError
        If ``cd`` or ``modulation_min`` is out of range.
    """
    cd = check_cd(cd)
    m = float(modulation_min)
    if not 0.0 < m <= 1.0:
        raise ValueError(f"modulation_min: must be in (0, 1], got {modulation_min}")
    q_, qm, c = np.broadcast_arrays(np.asarray(q, dtype=float), np.asarray(q_max, dtype=float),
                                    np.asarray(cop, dtype=float))
    on = (q_ > 0.0) & (c > 0.0)
    # full-load COP where the compressor runs; the rod (cop <= 1) converts 1:1
    rod = on & (c <= 1.0)
    safe = np.where(c > 0.0, c, 1.0)  # cop is 0 only where q is 0 (off): never divided by
    cycling = on & ~rod & (q_ < m * qm)
    e = np.where(on, q_ / safe, 0.0)
    e = np.where(cycling, cd * q_ / safe + (1.0 - cd) * m * qm / safe, e)
    return np.where(rod, q_, e)


def thermal_for_electric(e: float, q_max: float, cop: float, modulation_min: float = 1.0,
                         cd: float = CD_DEFAULT) -> float:
    """The largest heat [J] a heat pump gives with at most ``e`` of electricity [J].

    The inverse of :func:`part_load_electric` for one tick: ``part_load_electric(q) <= e``
    for the returned ``q`` (up to rounding), ``q <= q_max``.

    Parameters
    ----------
    e : float
        Electricity available [J], >= 0.
    q_max, cop, modulation_min, cd
        As :func:`part_load_electric`.

    Returns
    -------
    float
        Heat [J]; 0 when the heat pump is off (``cop <= 0``, ``q_max <= 0``) or ``e`` does
        not even cover the cycling loss.
    """
    cd = check_cd(cd)
    if e <= 0.0 or q_max <= 0.0 or cop <= 0.0:
        return 0.0
    if cop <= 1.0:  # heating rod
        return min(e, q_max)
    m = float(modulation_min)
    if e * cop >= m * q_max:  # modulating: the full-load COP
        return min(e * cop, q_max)
    q = (e * cop - (1.0 - cd) * m * q_max) / cd
    return max(min(q, m * q_max), 0.0)
