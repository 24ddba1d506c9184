"""Summer comfort: the occupants' window airing and shading, and the adaptive comfort bound.

Occupant response
-----------------
A flat without cooling overheats in summer unless its occupants react: they close the
blinds when the room gets warm, and open the windows when the room is warm and the outdoor
air is cooler. :func:`occupant_response` is that reaction, as a function of the room's
temperature at the start of the tick ``theta``: the 5R1C mass temperature, the zone's state
(the walls and furniture the occupants feel; it moves slowly, so reacting to it at the tick
start does not chatter as a reaction to the algebraic air node would, and the result hardly
depends on ``dt``). It is causal and the same in the heat node's coupled solve and in the
flat's own solve:

    r_open  = clip((theta - t_open) / band, 0, 1) * clip((theta - theta_e) / band, 0, 1)
    h_ve   += RHO_C_AIR * volume * ach_boost * r_open / 3600          [W/K]
    r_shade = clip((theta - t_shade) / band, 0, 1)
    f_sh    = 1 - (1 - shading_factor) * r_shade                      [-] on phi_sol

The ramps of width ``band`` are the expected share of occupants who have reacted (window
opening is modelled as a probability rising with the indoor temperature, Rijal et al. 2007;
here its mean, a continuous ramp, so that two solvers that agree to rounding also agree on
the reaction). Windows are only opened while the outdoor air is cooler than the room. The
solar gain the closed blinds keep out (``(1 - f_sh) * phi_sol``) is reflected to the
outdoors: the heat node books it with the flat's loss to ``ambient``.

Comfort bound
-------------
EN 16798-1:2019 (Annex B.2) gives the adaptive comfort range of buildings without
mechanical cooling: the operative temperature's upper limit of category II (normal
expectation) is

    theta_max = 0.33 * theta_rm + 18.8 + 3          (10 °C <= theta_rm <= 30 °C)

with the running mean outdoor temperature
``theta_rm = (1 - alpha) * sum_i alpha**(i - 1) * theta_ed,i``, ``alpha = 0.8`` and
``theta_ed,i`` the daily mean outdoor temperature ``i`` days before
(:func:`running_mean_outdoor`, :func:`adaptive_upper_limit`). The operative temperature
of the 5R1C network is ``0.3 theta_air + 0.7 theta_s`` (ISO 13790 eq. C.11,
:func:`operative_temperature`).

References
----------
EN 16798-1:2019, Energy performance of buildings -- Ventilation for buildings -- Part 1:
Indoor environmental input parameters, Annex B.2 (adaptive criteria, eq. B.2, B.3).

Rijal, H. B., Tuohy, P., Humphreys, M. A., Nicol, J. F., Samuel, A., Clarke, J. (2007).
Using results from field surveys to predict the effect of open windows on thermal comfort
and energy use in buildings. Energy and Buildings 39(7), 823-836,
:doi:`10.1016/j.enbuild.2007.02.003`.

ISO 13790:2008 §11.4.3 (shading reduction factor of movable shading, F_sh,with).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .thermal_network import ZoneNetwork
from .zone import RHO_C_AIR, Zone

__all__ = ["OccupantResponse", "NO_RESPONSE", "occupant_response", "simulate_occupied",
           "operative_temperature", "running_mean_outdoor", "adaptive_upper_limit",
           "ALPHA_RM", "CATEGORY_OFFSET"]

ALPHA_RM = 0.8
"""Weight of the running mean outdoor temperature, EN 16798-1 eq. B.3 [-]."""
CATEGORY_OFFSET = {"I": 2.0, "II": 3.0, "III": 4.0}
"""Upper limit above the neutral temperature per EN 16798-1 category [K]."""


@dataclass(frozen=True)
class OccupantResponse:
    """How a flat's occupants react to a warm room (see the module docstring).

    Attributes
    ----------
    ach_boost : float, default 0.0
        Extra air changes with the windows open [1/h], >= 0 (0: never opened).
    t_open : float, default 24.0
        Room air temperature at which occupants start opening windows [°C].
    t_shade : float, default 24.0
        Room air temperature at which blinds start to close [°C].
    shading_factor : float, default 1.0
        Shading reduction factor F_sh of the closed blinds [-] in ``[0, 1]`` (1: no
        blinds; external venetian blinds ~0.2, internal ~0.6).
    band : float, default 1.0
        Width of the temperature ramps [K], > 0.

    Raises
    ------
    ValueError
        If a field is out of range; the message names the field.
    """

    ach_boost: float = 0.0
    t_open: float = 24.0
    t_shade: float = 24.0
    shading_factor: float = 1.0
    band: float = 1.0

    def __post_init__(self) -> None:
        for name in ("ach_boost", "t_open", "t_shade", "shading_factor", "band"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"{name}: must be finite, got {getattr(self, name)}")
        if self.ach_boost < 0.0:
            raise ValueError(f"ach_boost: must be >= 0 1/h, got {self.ach_boost}")
        if not 0.0 <= self.shading_factor <= 1.0:
            raise ValueError(f"shading_factor: must be in [0, 1], got {self.shading_factor}")
        if not self.band > 0.0:
            raise ValueError(f"band: must be > 0 K, got {self.band}")

    @property
    def active(self) -> bool:
        """Whether the occupants react at all (windows or blinds)."""
        return self.ach_boost > 0.0 or self.shading_factor < 1.0


NO_RESPONSE = OccupantResponse()
"""Occupants who never open windows nor close blinds."""


def _ramp(x: np.ndarray, band: np.ndarray) -> np.ndarray:
    return np.clip(x / band, 0.0, 1.0)


def occupant_response(theta_air: np.ndarray, theta_e: float | np.ndarray,
                      volume: np.ndarray, ach_boost: np.ndarray | float,
                      t_open: np.ndarray | float, t_shade: np.ndarray | float,
                      shading_factor: np.ndarray | float,
                      band: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """Extra ventilation and solar shading of flats whose room is at ``theta_air``.

    Parameters
    ----------
    theta_air : array_like
        Room temperature the occupants react to [°C], shape (N,): the mass temperature at
        the start of the tick in :func:`~homesim.devices.models.heatnode.dispatch` and
        :func:`simulate_occupied`.
    theta_e : float or array_like
        Outdoor air temperature of the tick [°C].
    volume : array_like
        Air volume [m^3].
    ach_boost, t_open, t_shade, shading_factor, band : array_like
        The fields of :class:`OccupantResponse` per flat.

    Returns
    -------
    h_ve_extra : numpy.ndarray
        Ventilation conductance added by open windows [W/K], >= 0.
    f_sh : numpy.ndarray
        Shading reduction factor on the solar gains [-] in ``[shading_factor, 1]``.
    """
    ta = np.asarray(theta_air, dtype=float)
    b = np.asarray(band, dtype=float)
    r_open = _ramp(ta - np.asarray(t_open, dtype=float), b) * _ramp(ta - theta_e, b)
    h_extra = RHO_C_AIR * np.asarray(volume, dtype=float) * np.asarray(ach_boost, dtype=float) \
        * r_open / 3600.0
    r_shade = _ramp(ta - np.asarray(t_shade, dtype=float), b)
    f_sh = 1.0 - (1.0 - np.asarray(shading_factor, dtype=float)) * r_shade
    return h_extra, f_sh


def operative_temperature(theta_air: np.ndarray, theta_s: np.ndarray) -> np.ndarray:
    """Operative temperature of a 5R1C zone, ``0.3 theta_air + 0.7 theta_s`` [°C]
    (ISO 13790:2008 eq. C.11): what EN 16798-1's comfort limits apply to."""
    return 0.3 * np.asarray(theta_air, dtype=float) + 0.7 * np.asarray(theta_s, dtype=float)


def running_mean_outdoor(theta_ed: np.ndarray, theta_rm0: float | None = None,
                         alpha: float = ALPHA_RM) -> np.ndarray:
    """Running mean outdoor temperature of each day, EN 16798-1 eq. B.3.

    Parameters
    ----------
    theta_ed : array_like
        Daily mean outdoor temperatures [°C], shape (d,), oldest first.
    theta_rm0 : float, optional
        Running mean before the first day [°C]; default the first day's mean.
    alpha : float, default 0.8
        Weight [-] in ``[0, 1)``.

    Returns
    -------
    numpy.ndarray
        ``theta_rm`` of each day (from the days before it) [°C], shape (d,).

    Raises
    ------
    ValueError
        If ``alpha`` is out of range or ``theta_ed`` is empty.
    """
    if not 0.0 <= alpha < 1.0:
        raise ValueError(f"alpha: must be in [0, 1), got {alpha}")
    ted = np.asarray(theta_ed, dtype=float)
    if ted.size == 0:
        raise ValueError("theta_ed: needs at least one day")
    rm = float(ted[0]) if theta_rm0 is None else float(theta_rm0)
    out = np.empty_like(ted)
    for i, t in enumerate(ted):
        out[i] = rm
        rm = (1.0 - alpha) * float(t) + alpha * rm  # eq. B.3 in recursive form
    return out


def adaptive_upper_limit(theta_rm: np.ndarray | float, category: str = "II") -> np.ndarray:
    """Upper operative temperature of EN 16798-1's adaptive comfort range [°C] (eq. B.2).

    ``0.33 * theta_rm + 18.8 + offset`` with the category's offset (I: 2, II: 3, III: 4 K);
    ``theta_rm`` is clipped to the range of validity, 10-30 °C.

    Raises
    ------
    ValueError
        On an unknown category.
    """
    if category not in CATEGORY_OFFSET:
        raise ValueError(f"category: one of {sorted(CATEGORY_OFFSET)}, got {category!r}")
    rm = np.clip(np.asarray(theta_rm, dtype=float), 10.0, 30.0)
    return 0.33 * rm + 18.8 + CATEGORY_OFFSET[category]


def simulate_occupied(zone: Zone, theta_m0: float, dt: float,
                      theta_e: np.ndarray, theta_g: float, h_ve: np.ndarray,
                      phi_int: np.ndarray, phi_sol: np.ndarray, setpoint: np.ndarray,
                      phi_hc_fixed: np.ndarray, phi_m_ext: np.ndarray,
                      response: OccupantResponse) -> dict[str, np.ndarray]:
    """One zone over n ticks with imposed heat and its occupants' response, tick by tick.

    What a flat does with the heat the heat node gave it: the same
    :func:`occupant_response` and the same tick solve
    (:class:`~homesim.devices.models.thermal_network.ZoneNetwork`) as
    :func:`~homesim.devices.models.heatnode.dispatch`.

    Parameters
    ----------
    zone : Zone
        The zone's 5R1C constants.
    theta_m0 : float
        Mass temperature at the window start [°C].
    dt : float
        Tick length [s].
    theta_e : array_like, shape (n,)
        Outdoor air temperature [°C].
    theta_g : float
        Ground temperature [°C].
    h_ve, phi_int, phi_sol, setpoint, phi_hc_fixed, phi_m_ext : array_like, shape (n,)
        Ventilation conductance without open windows [W/K], internal and (unshaded) solar
        gains [W], setpoint [°C], heat delivered [W], heat from the neighbours into the
        mass node [W].
    response : OccupantResponse
        The occupants.

    Returns
    -------
    dict of numpy.ndarray, shape (n,)
        ``theta_air``, ``theta_s``, ``theta_m`` [°C], ``vent_boost`` (air changes added [1/h]),
        ``shading`` (reduction factor on the solar gains [-]).

    Raises
    ------
    ValueError
        As :class:`~homesim.devices.models.thermal_network.ZoneNetwork` on invalid inputs.
    """
    te = np.asarray(theta_e, dtype=float)
    n = te.shape[0]
    net = ZoneNetwork([zone], np.zeros((1, 1)), dt)
    p = response
    out = {k: np.empty(n) for k in ("theta_air", "theta_s", "theta_m", "vent_boost",
                                    "shading")}
    tm = np.array([float(theta_m0)])
    vol = np.array([zone.volume])

    def row(a: np.ndarray, k: int) -> np.ndarray:
        return np.asarray(a, dtype=float)[k:k + 1]

    for k in range(n):
        boost, f_sh = occupant_response(tm, float(te[k]), vol, p.ach_boost, p.t_open,
                                        p.t_shade, p.shading_factor, p.band)
        r = net.step(tm, float(te[k]), float(theta_g), row(h_ve, k) + boost, row(phi_int, k),
                     row(phi_sol, k) * f_sh, row(setpoint, k),
                     phi_hc_fixed=row(phi_hc_fixed, k), phi_m_ext=row(phi_m_ext, k))
        ta, tm = r.theta_air, r.theta_m
        out["theta_air"][k] = ta[0]
        out["theta_m"][k] = tm[0]
        out["theta_s"][k] = r.theta_s[0]
        out["vent_boost"][k] = boost[0] * 3600.0 / (RHO_C_AIR * zone.volume)
        out["shading"][k] = f_sh[0]
    return out
