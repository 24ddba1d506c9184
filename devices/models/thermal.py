"""Flats of a block: a multi-zone 5R1C thermal network (ISO 13790 simple hourly method).

Each zone (flat) is the resistance-capacitance network of ISO 13790:2008 §12.2 and Annex C,
with three nodes: the indoor air ``theta_air``, a star node of the internal surfaces
``theta_s`` and the thermal mass ``theta_m``, all in [°C]::

    theta_e --H_ve------ theta_air --H_tr_is-- theta_s --H_tr_ms-- theta_m --H_tr_em-- theta_e
                            |                     |                  |  \\
                          Phi_ia + Phi_HC     Phi_st + H_tr_w       Phi_m  H_g -- theta_g
                                              (to theta_e)           |
                                                                 K_ij -- theta_m of zone j

Zones are coupled mass node to mass node through a symmetric conductance matrix ``K`` [W/K]
(party walls, floors and ceilings between flats). Ground elements connect the mass node
to the ground temperature ``theta_g`` (an extension of the standard network, which has no
ground node).

Time discretisation: backward (implicit) Euler on the mass node,

    c_m (theta_m - theta_m0) / dt = H_tr_ms (theta_s - theta_m) + H_tr_em (theta_e - theta_m)
                                    + H_g (theta_g - theta_m) + sum_j K_ij (theta_m_j - theta_m)
                                    + Phi_m + Phi_m_ext,

with the air and surface nodes quasi-steady (algebraic) at the end of the tick. This is
unconditionally stable and never oscillates, at any ``dt``. ISO 13790 Annex C itself
uses a Crank-Nicolson-like scheme (air and surface driven by the mean of the mass
temperatures at the start and end of the hour, eq. C.9), so results at ``dt = 3600 s`` differ
slightly from the standard's; they agree as ``dt -> 0``.

Heat gains are split over the nodes by eqs. C.1-C.3:

    Phi_ia = 0.5 Phi_int
    Phi_m  = (A_m / A_t) (0.5 Phi_int + Phi_sol)
    Phi_st = (1 - A_m / A_t - H_tr_w / (9.1 A_t)) (0.5 Phi_int + Phi_sol)

These three do not add up to ``Phi_int + Phi_sol``: the remainder
``H_tr_w / (9.1 A_t) (0.5 Phi_int + Phi_sol)`` is the part of the gains the standard lets
escape through the windows. This module books it as a direct loss to the outdoors (part of
``q_ambient``), so that the energy balance of every zone closes exactly:

    dt (phi_hc + phi_int + phi_sol + phi_m_ext - q_ambient - sum_j q_couple[i, j])
        == c_m (theta_m - theta_m0).

An ideal heating-only thermostat delivers ``0 <= phi_hc <= phi_hc_max`` to the air node so
that the air is at the setpoint at the end of the tick whenever the bounds allow; the
coupled problem is solved with an active-set iteration (a few passes).

References
----------
ISO 13790:2008. Energy performance of buildings - Calculation of energy use for space heating
and cooling. §7.2.2 (gains), §9.3 (ventilation), §11.3 (solar gains), §12.2 and Annex C
(simple hourly method), Table 12 (dynamic parameters).

ISO 13789:2017. Thermal performance of buildings - Transmission and ventilation heat transfer
coefficients (the adjustment factor ``b``).

EN 12831-1:2017. Energy performance of buildings - Method for calculation of the design heat
load (the steady-state sum the 5R1C network is compared with in the tests).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "RHO_C_AIR",
    "THERMAL_CLASSES",
    "Element",
    "TickResult",
    "Zone",
    "facade_irradiance",
    "simulate",
    "solar_gains",
    "solve_tick",
    "ventilation_conductance",
    "zone_constants",
]

RHO_C_AIR = 1200.0
"""Volumetric heat capacity of air [J/(m^3 K)], ISO 13790 §9.3.1."""

H_IS = 3.45
"""Heat transfer coefficient between the air and the surface node per A_t [W/(m^2 K)]."""

H_MS = 9.1
"""Heat transfer coefficient between the surface and the mass node per A_m [W/(m^2 K)]."""

LAMBDA_AT = 4.5
"""Ratio of the internal surface area A_t to the floor area A_f [-]."""

THERMAL_CLASSES: dict[str, tuple[float, float]] = {
    # class: (A_m / A_f [-], C_m / A_f [J/(m^2 K)]), ISO 13790:2008 Table 12
    "very_light": (2.5, 80_000.0),
    "light": (2.5, 110_000.0),
    "medium": (2.5, 165_000.0),
    "heavy": (3.0, 260_000.0),
    "very_heavy": (3.5, 370_000.0),
}
"""Effective mass area and internal heat capacity per floor area by class (Table 12)."""

SETPOINT_TOLERANCE = 1e-9
"""Band [K] within which an unheated air node counts as at its setpoint (active set)."""

_KINDS = ("opaque", "window")
_BOUNDARIES = ("outdoor", "ground")
_TRANSPOSITIONS = ("isotropic", "klucher", "haydavies", "reindl", "perez")


def _check_range(name: str, value: float, lo: float, hi: float = math.inf) -> None:
    if not (lo <= value <= hi) or math.isnan(value):
        raise ValueError(f"{name}: must be in [{lo}, {hi}], got {value}")


def _check_positive(name: str, value: float, allow_inf: bool = False) -> None:
    ok = value > 0 and (allow_inf or math.isfinite(value))
    if not ok:
        raise ValueError(f"{name}: must be a finite number > 0, got {value}")


@dataclass(frozen=True)
class Element:
    """One envelope element of a zone.

    Attributes
    ----------
    area : float
        Element area [m^2], > 0.
    u_value : float
        Thermal transmittance [W/(m^2 K)], >= 0.
    kind : str, default "opaque"
        ``"opaque"`` or ``"window"`` (glazing plus frame).
    b : float, default 1.0
        Adjustment factor of ISO 13789 [-] in ``[0, 1]``: 1 towards the outdoors,
        ``0 < b < 1`` towards an unheated space (garage, staircase).
    boundary : str, default "outdoor"
        ``"outdoor"`` or ``"ground"``; ground elements (opaque only) connect the mass
        node to ``theta_g``.

    Raises
    ------
    ValueError
        If a field is out of range; the message names the field.
    """

    area: float
    u_value: float
    kind: str = "opaque"
    b: float = 1.0
    boundary: str = "outdoor"

    def __post_init__(self) -> None:
        _check_positive("Element.area", self.area)
        _check_range("Element.u_value", self.u_value, 0.0)
        if not math.isfinite(self.u_value):
            raise ValueError(f"Element.u_value: must be finite, got {self.u_value}")
        _check_range("Element.b", self.b, 0.0, 1.0)
        if self.kind not in _KINDS:
            raise ValueError(f"Element.kind: must be one of {_KINDS}, got {self.kind!r}")
        if self.boundary not in _BOUNDARIES:
            raise ValueError(
                f"Element.boundary: must be one of {_BOUNDARIES}, got {self.boundary!r}"
            )
        if self.kind == "window" and self.boundary == "ground":
            raise ValueError("Element.boundary: a window cannot face the ground")

    @property
    def conductance(self) -> float:
        """Transmission heat transfer coefficient ``b U A`` [W/K]."""
        return self.b * self.u_value * self.area


@dataclass(frozen=True)
class Zone:
    """5R1C constants of one zone (ISO 13790:2008 §7.2.2, §12.2.2, Table 12).

    Build it with :func:`zone_constants`; the fields are the network's parameters.

    Attributes
    ----------
    floor_area : float
        Conditioned floor area A_f [m^2].
    volume : float
        Air volume [m^3].
    c_m : float
        Internal heat capacity C_m [J/K], > 0.
    a_m : float
        Effective mass area A_m [m^2], > 0.
    a_t : float
        Area of all surfaces facing the zone A_t = 4.5 A_f [m^2], > 0.
    h_tr_is : float
        Air-to-surface conductance 3.45 A_t [W/K], > 0.
    h_tr_w : float
        Window conductance, sum of ``b U A`` of the windows [W/K].
    h_tr_ms : float
        Surface-to-mass conductance 9.1 A_m [W/K], > 0.
    h_tr_em : float
        Mass-to-outdoor conductance ``1 / (1 / H_op - 1 / H_tr_ms)`` [W/K], with ``H_op`` the
        ``b U A`` sum of the opaque outdoor elements (0 if there are none).
    h_g : float
        Mass-to-ground conductance, ``b U A`` sum of the ground elements [W/K].
    phi_hc_max : float
        Heating capacity of the emitters [W], >= 0 (``inf`` allowed).

    Raises
    ------
    ValueError
        If a field is out of range; the message names the field.
    """

    floor_area: float
    volume: float
    c_m: float
    a_m: float
    a_t: float
    h_tr_is: float
    h_tr_w: float
    h_tr_ms: float
    h_tr_em: float
    h_g: float
    phi_hc_max: float

    def __post_init__(self) -> None:
        for name in ("floor_area", "volume", "c_m", "a_m", "a_t", "h_tr_is", "h_tr_ms"):
            _check_positive(f"Zone.{name}", getattr(self, name))
        for name in ("h_tr_w", "h_tr_em", "h_g"):
            value = getattr(self, name)
            _check_range(f"Zone.{name}", value, 0.0)
            if not math.isfinite(value):
                raise ValueError(f"Zone.{name}: must be finite, got {value}")
        _check_range("Zone.phi_hc_max", self.phi_hc_max, 0.0)


def zone_constants(
    floor_area: float,
    room_height: float,
    elements: Sequence[Element],
    thermal_class: str = "medium",
    phi_hc_max: float = math.inf,
) -> Zone:
    """5R1C constants of a zone from its geometry and envelope (ISO 13790:2008 §12.2.2).

    Parameters
    ----------
    floor_area : float
        Conditioned floor area A_f [m^2], > 0.
    room_height : float
        Clear room height [m], > 0; the air volume is ``floor_area * room_height``.
    elements : sequence of Element
        Envelope elements towards the outdoors, unheated spaces and the ground. Walls,
        floors and ceilings shared with other zones belong in the coupling matrix instead.
    thermal_class : str, default "medium"
        One of :data:`THERMAL_CLASSES` (ISO 13790 Table 12): ``very_light``, ``light``,
        ``medium``, ``heavy``, ``very_heavy``.
    phi_hc_max : float, default inf
        Heating capacity of the emitters [W], >= 0.

    Returns
    -------
    Zone

    Raises
    ------
    ValueError
        On a non-positive area or height, an unknown class, a non-element in ``elements``,
        or opaque outdoor conductance ``H_op >= H_tr_ms`` (then ``H_tr_em`` would not be
        positive: the envelope is too leaky for the 5R1C split).
    """
    _check_positive("floor_area", floor_area)
    _check_positive("room_height", room_height)
    if thermal_class not in THERMAL_CLASSES:
        raise ValueError(
            f"thermal_class: must be one of {sorted(THERMAL_CLASSES)}, got {thermal_class!r}"
        )
    am_per_af, cm_per_af = THERMAL_CLASSES[thermal_class]
    h_w = h_op = h_g = 0.0
    for element in elements:
        if not isinstance(element, Element):
            raise ValueError(f"elements: expected Element, got {type(element).__name__}")
        if element.kind == "window":
            h_w += element.conductance
        elif element.boundary == "ground":
            h_g += element.conductance
        else:
            h_op += element.conductance
    a_m = am_per_af * floor_area
    a_t = LAMBDA_AT * floor_area
    h_ms = H_MS * a_m
    if h_op >= h_ms:
        raise ValueError(
            f"elements: opaque outdoor conductance H_op = {h_op:.6g} W/K must be below "
            f"H_tr_ms = {h_ms:.6g} W/K"
        )
    # H_tr_em in series with H_tr_ms gives H_op (ISO 13790 eq. 63); no opaque element -> 0.
    h_em = 1.0 / (1.0 / h_op - 1.0 / h_ms) if h_op > 0 else 0.0
    return Zone(
        floor_area=float(floor_area),
        volume=float(floor_area * room_height),
        c_m=cm_per_af * floor_area,
        a_m=a_m,
        a_t=a_t,
        h_tr_is=H_IS * a_t,
        h_tr_w=h_w,
        h_tr_ms=h_ms,
        h_tr_em=h_em,
        h_g=h_g,
        phi_hc_max=float(phi_hc_max),
    )


def ventilation_conductance(
    volume: float,
    ach_vent: float,
    ach_inf: float,
    wind_speed: np.ndarray,
    wind_coeff: float = 0.0,
) -> np.ndarray:
    """Ventilation heat transfer coefficient H_ve (ISO 13790 §9.3.1).

    ``H_ve = RHO_C_AIR * volume * (ach_vent + ach_inf + wind_coeff * wind_speed) / 3600``.

    Parameters
    ----------
    volume : float
        Air volume of the zone [m^3], > 0.
    ach_vent : float
        Air changes per hour by (mechanical or window) ventilation [1/h], >= 0.
    ach_inf : float
        Air changes per hour by infiltration at calm [1/h], >= 0.
    wind_speed : array_like
        Wind speed [m/s], >= 0.
    wind_coeff : float, default 0.0
        Extra air changes per hour per m/s of wind [h^-1 (m/s)^-1], >= 0.

    Returns
    -------
    numpy.ndarray
        H_ve [W/K], the shape of ``wind_speed``.

    Raises
    ------
    ValueError
        On a parameter out of range or a negative or NaN wind speed.
    """
    _check_positive("volume", volume)
    _check_range("ach_vent", ach_vent, 0.0)
    _check_range("ach_inf", ach_inf, 0.0)
    _check_range("wind_coeff", wind_coeff, 0.0)
    wind = np.asarray(wind_speed, dtype=float)
    if not np.all(wind >= 0):
        raise ValueError("wind_speed: must be >= 0 m/s and not NaN")
    return RHO_C_AIR * volume * (ach_vent + ach_inf + wind_coeff * wind) / 3600.0


def facade_irradiance(
    surface_tilt: float,
    surface_azimuth: float,
    solar_zenith: np.ndarray,
    solar_azimuth: np.ndarray,
    ghi: np.ndarray,
    dni: np.ndarray,
    dhi: np.ndarray,
    dni_extra: np.ndarray | None = None,
    albedo: float = 0.2,
    model: str = "isotropic",
) -> np.ndarray:
    """Irradiance on a window plane [W/m^2] with :func:`pvlib.irradiance.get_total_irradiance`.

    Parameters
    ----------
    surface_tilt : float
        Tilt from horizontal [deg]; 90 for a facade.
    surface_azimuth : float
        Azimuth the surface faces, east of north [deg]; 180 = south.
    solar_zenith, solar_azimuth : array_like
        Solar position [deg] (azimuth east of north).
    ghi, dni, dhi : array_like
        Global horizontal, direct normal and diffuse horizontal irradiance [W/m^2].
    dni_extra : array_like, optional
        Extraterrestrial normal irradiance [W/m^2]; required by ``haydavies``, ``reindl``
        and ``perez``.
    albedo : float, default 0.2
        Ground reflectance [-] in ``[0, 1]``.
    model : str, default "isotropic"
        Sky diffuse model: ``isotropic``, ``klucher``, ``haydavies``, ``reindl``, ``perez``.

    Returns
    -------
    numpy.ndarray
        ``poa_global`` [W/m^2], broadcast shape of the inputs; NaN is returned as 0 and the
        result is never negative.

    Raises
    ------
    ValueError
        On an unknown model, a missing ``dni_extra``, an albedo out of ``[0, 1]`` or
        inputs that do not broadcast.

    Notes
    -----
    The beam is set to 0 when the sun is below the horizon (``solar_zenith > 90``): for a
    vertical plane the angle of incidence alone does not ensure that.
    """
    from pvlib import atmosphere, irradiance

    if model not in _TRANSPOSITIONS:
        raise ValueError(f"model: must be one of {_TRANSPOSITIONS}, got {model!r}")
    if model in ("haydavies", "reindl", "perez") and dni_extra is None:
        raise ValueError(f"dni_extra: required by the {model!r} model")
    _check_range("albedo", albedo, 0.0, 1.0)
    inputs = [solar_zenith, solar_azimuth, ghi, dni, dhi]
    if dni_extra is not None:
        inputs.append(dni_extra)
    try:
        arrays = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in inputs))
    except ValueError:
        raise ValueError("facade_irradiance: inputs must broadcast to one shape") from None
    zen, azi, ghi_, dni_, dhi_ = arrays[:5]
    extra = arrays[5] if dni_extra is not None else None
    # Below the horizon there is no beam, whatever the angle of incidence on a facade.
    dni_ = np.where(zen > 90.0, 0.0, dni_)
    airmass = None
    if model == "perez":
        airmass = atmosphere.get_relative_airmass(zen, model="kastenyoung1989")
    with np.errstate(invalid="ignore", divide="ignore"):
        total = irradiance.get_total_irradiance(
            surface_tilt,
            surface_azimuth,
            zen,
            azi,
            dni_,
            ghi_,
            dhi_,
            dni_extra=extra,
            airmass=airmass,
            albedo=albedo,
            model=model,
        )
    poa = np.nan_to_num(np.asarray(total["poa_global"], dtype=float), nan=0.0)
    # Transposition models can dip slightly below 0 near sunset; irradiance cannot.
    return np.maximum(poa, 0.0).reshape(zen.shape)


def solar_gains(
    poa_global: np.ndarray,
    area: float,
    g_value: float,
    frame_fraction: float = 0.3,
    shading: float = 1.0,
    f_w: float = 0.9,
) -> np.ndarray:
    """Solar heat gains through a window (ISO 13790:2008 §11.3.2-11.3.4).

    ``phi_sol = shading * (f_w * g_value) * (1 - frame_fraction) * area * poa_global``.

    Parameters
    ----------
    poa_global : array_like
        Irradiance on the window plane [W/m^2].
    area : float
        Overall projected window area A_w,p (glazing and frame) [m^2], >= 0.
    g_value : float
        Total solar energy transmittance at normal incidence g_gl,n [-] in ``[0, 1]``.
    frame_fraction : float, default 0.3
        Frame area fraction F_F [-] in ``[0, 1)``.
    shading : float, default 1.0
        Shading reduction factor F_sh,ob (external obstacles, movable shading) [-] in
        ``[0, 1]``.
    f_w : float, default 0.9
        Correction of g for non-scattering glazing, F_w [-] in ``(0, 1]`` (§11.3.3).

    Returns
    -------
    numpy.ndarray
        phi_sol [W], the shape of ``poa_global``.

    Raises
    ------
    ValueError
        On a parameter out of range.

    Notes
    -----
    The thermal radiation to the sky (the ``F_r Phi_r`` term of ISO 13790 eq. 43) is not
    included.
    """
    _check_range("area", area, 0.0)
    _check_range("g_value", g_value, 0.0, 1.0)
    if not 0.0 <= frame_fraction < 1.0:
        raise ValueError(f"frame_fraction: must be in [0, 1), got {frame_fraction}")
    _check_range("shading", shading, 0.0, 1.0)
    if not 0.0 < f_w <= 1.0:
        raise ValueError(f"f_w: must be in (0, 1], got {f_w}")
    poa = np.asarray(poa_global, dtype=float)
    return shading * (f_w * g_value) * (1.0 - frame_fraction) * area * poa


@dataclass
class TickResult:
    """State and heat flows of all zones at the end of one tick.

    Attributes
    ----------
    theta_air : numpy.ndarray
        Air temperature (N,) [°C].
    theta_s : numpy.ndarray
        Surface-node temperature (N,) [°C].
    theta_m : numpy.ndarray
        Mass temperature at the end of the tick (N,) [°C].
    phi_hc : numpy.ndarray
        Heating power delivered to the air node (N,) [W].
    q_ambient : numpy.ndarray
        Net heat flow from the zone to the outdoors and the ground (N,) [W], positive =
        loss; includes the share of the gains ISO 13790 eqs. C.2/C.3 assign to no node.
    q_couple : numpy.ndarray
        Net heat flow from zone i to zone j (N, N) [W], antisymmetric.
    """

    theta_air: np.ndarray
    theta_s: np.ndarray
    theta_m: np.ndarray
    phi_hc: np.ndarray
    q_ambient: np.ndarray
    q_couple: np.ndarray


class _Network:
    """Per-zone constants of the coupled network as arrays (precomputed once)."""

    def __init__(self, zones: Sequence[Zone], coupling: np.ndarray, dt: float) -> None:
        if isinstance(zones, Zone) or len(zones) == 0:
            raise ValueError("zones: must be a non-empty sequence of Zone")
        for zone in zones:
            if not isinstance(zone, Zone):
                raise ValueError(f"zones: expected Zone, got {type(zone).__name__}")
        if not (dt > 0 and math.isfinite(dt)):
            raise ValueError(f"dt: must be a finite number > 0 s, got {dt}")
        n_zones = len(zones)
        k = np.asarray(coupling, dtype=float)
        if k.shape != (n_zones, n_zones):
            raise ValueError(
                f"coupling: expected shape ({n_zones}, {n_zones}) for {n_zones} zones, "
                f"got {k.shape}"
            )
        if not np.all(np.isfinite(k)):
            raise ValueError("coupling: must be finite")
        if np.any(np.diag(k) != 0):
            raise ValueError("coupling: the diagonal must be zero")
        if np.any(k < 0):
            raise ValueError("coupling: conductances must be >= 0 W/K")
        if not np.allclose(k, k.T, rtol=1e-12, atol=1e-12):
            raise ValueError("coupling: must be symmetric (K[i, j] == K[j, i])")
        k = 0.5 * (k + k.T)  # exactly symmetric, so q_couple is exactly antisymmetric

        def field(name: str) -> np.ndarray:
            return np.array([getattr(z, name) for z in zones], dtype=float)

        self.n = n_zones
        self.dt = float(dt)
        self.k = k
        self.coupled = bool(np.any(k > 0))
        self.laplacian = np.diag(k.sum(axis=1)) - k
        self.c_dt = field("c_m") / dt
        self.h_is = field("h_tr_is")
        self.h_w = field("h_tr_w")
        self.h_ms = field("h_tr_ms")
        self.h_em = field("h_tr_em")
        self.h_g = field("h_g")
        self.phi_max = field("phi_hc_max")
        a_t = field("a_t")
        self.f_m = field("a_m") / a_t  # share of the non-air gains to the mass node
        self.f_w = self.h_w / (H_MS * a_t)  # share lost directly (see module docstring)
        self.f_st = 1.0 - self.f_m - self.f_w  # share to the surface node
        self.s = self.h_is + self.h_w + self.h_ms  # diagonal of the surface equation


def _series(name: str, value: object, shape: tuple[int, ...], allow_neg_inf: bool = False):
    arr = np.asarray(value, dtype=float)
    if arr.shape != shape:
        raise ValueError(f"{name}: expected shape {shape}, got {arr.shape}")
    ok = np.isfinite(arr) | (arr == -np.inf) if allow_neg_inf else np.isfinite(arr)
    if not np.all(ok):
        allowed = "finite or -inf" if allow_neg_inf else "finite"
        raise ValueError(f"{name}: must be {allowed}")
    return arr


def _run(
    net: _Network,
    theta_m0: np.ndarray,
    theta_e: np.ndarray,
    theta_g: float,
    h_ve: np.ndarray,
    phi_int: np.ndarray,
    phi_sol: np.ndarray,
    setpoint: np.ndarray,
    phi_hc_fixed: np.ndarray | None,
    phi_m_ext: np.ndarray | None,
) -> dict[str, np.ndarray]:
    """Advance the validated network over ``n`` ticks; inputs are (n, N), theta_e (n, 1)."""
    n_ticks, n_zones = h_ve.shape
    h = h_ve
    te = theta_e
    h_is, h_w, h_ms, s = net.h_is, net.h_w, net.h_ms, net.s
    # Gains on the nodes (ISO 13790 eqs. C.1-C.3) and the share booked as a direct loss.
    shared = 0.5 * phi_int + phi_sol
    phi_ia = 0.5 * phi_int
    phi_st = net.f_st * shared
    phi_m = net.f_m * shared
    if phi_m_ext is not None:
        phi_m = phi_m + phi_m_ext
    phi_lost = net.f_w * shared

    # Air and surface equations, solved for (theta_air, theta_s) given theta_m and phi_hc:
    #   [h + h_is, -h_is; -h_is, s] [ta; ts] = [h te + phi_ia + P; h_w te + phi_st + h_ms tm]
    det = (h + h_is) * s - h_is * h_is  # = h s + h_is (h_w + h_ms) > 0
    r1 = h * te + phi_ia
    r2 = h_w * te + phi_st
    # Mass-node equation with P fixed: d_fix tm - sum_j K_ij tm_j = c_dt tm0 + r_fix + g P.
    base = net.h_em * te + net.h_g * theta_g + phi_m
    g = h_ms * h_is / det
    h3 = h_ms * (h * h_is + h * h_w + h_is * h_w) / det  # theta_s side seen from the mass
    d_fix = net.c_dt + net.h_em + net.h_g + h3
    r_fix = base + h_ms * (h_is * r1 + (h + h_is) * r2) / det
    # theta_air = a0 + a1 P + a2 tm when P is fixed.
    a0 = (s * r1 + h_is * r2) / det
    a1 = s / det
    a2 = g

    theta_m = np.empty((n_ticks, n_zones))
    phi_hc = np.empty((n_ticks, n_zones))
    c_dt = net.c_dt
    lap = net.laplacian
    diag_idx = np.diag_indices(n_zones)
    tm = np.array(theta_m0, dtype=float)

    if phi_hc_fixed is not None:
        rhs_all = r_fix + g * phi_hc_fixed
        for k in range(n_ticks):
            rhs = c_dt * tm + rhs_all[k]
            if net.coupled:
                m = lap.copy()
                m[diag_idx] += d_fix[k]
                tm = np.linalg.solve(m, rhs)
            else:
                tm = rhs / d_fix[k]
            theta_m[k] = tm
        phi_hc[:] = phi_hc_fixed
    else:
        # Thermostat: in the "set" mode theta_air = T is known and P is the unknown.
        #   theta_s = (h_is T + h_w te + phi_st + h_ms tm) / s
        #   d_set tm - sum_j K_ij tm_j = c_dt tm0 + r_set;  P = b0 + b1 tm
        heatable = np.isfinite(setpoint) & (net.phi_max > 0)
        t_set = np.where(heatable, setpoint, 0.0)  # -inf (no heating) never enters "set"
        t_chk = np.where(heatable, setpoint, -np.inf)
        d_set = c_dt + net.h_em + net.h_g + h_ms * (h_is + h_w) / s
        r_set = base + h_ms * (h_is * t_set + r2) / s
        b0 = h * (t_set - te) + h_is * t_set - phi_ia - h_is * (h_is * t_set + r2) / s
        b1 = -h_is * h_ms / s
        p_max = net.phi_max
        tol = SETPOINT_TOLERANCE
        max_passes = 10 + 2 * n_zones
        is_set = np.zeros(n_zones, dtype=bool)
        at_max = np.zeros(n_zones, dtype=bool)
        for k in range(n_ticks):
            tk = t_chk[k]
            # A zone that cannot heat in this tick stays off (warm start from the last tick).
            is_set &= heatable[k]
            at_max &= heatable[k]
            for _ in range(max_passes):
                p_fix = np.where(at_max, p_max, 0.0)
                rhs = c_dt * tm + np.where(is_set, r_set[k], r_fix[k] + g[k] * p_fix)
                diag = np.where(is_set, d_set, d_fix[k])
                if net.coupled:
                    m = lap.copy()
                    m[diag_idx] += diag
                    tm_new = np.linalg.solve(m, rhs)
                else:
                    tm_new = rhs / diag
                ta = a0[k] + a1[k] * p_fix + a2[k] * tm_new
                p_set = b0[k] + b1 * tm_new
                free = ~is_set
                to_set = free & (((~at_max) & (ta < tk - tol)) | (at_max & (ta > tk + tol)))
                to_off = is_set & (p_set < 0.0)
                to_max = is_set & (p_set > p_max)
                if not (to_set.any() or to_off.any() or to_max.any()):
                    break
                is_set = (is_set & ~to_off & ~to_max) | to_set
                at_max = (at_max & ~to_set) | to_max
            else:
                raise RuntimeError(
                    f"thermostat: active set did not converge in {max_passes} passes at "
                    f"tick {k}; check the inputs for NaN or extreme values"
                )
            tm = tm_new
            theta_m[k] = tm
            phi_hc[k] = np.where(is_set, p_set, p_fix)

    # Recover the algebraic nodes and the flows, vectorised over all ticks.
    theta_air = a0 + a1 * phi_hc + a2 * theta_m
    theta_s = (h_is * (r1 + phi_hc) + (h + h_is) * (r2 + h_ms * theta_m)) / det
    q_ambient = (
        h * (theta_air - te)
        + h_w * (theta_s - te)
        + net.h_em * (theta_m - te)
        + net.h_g * (theta_m - theta_g)
        + phi_lost
    )
    q_couple = net.k * (theta_m[:, :, None] - theta_m[:, None, :])
    return {
        "theta_air": theta_air,
        "theta_s": theta_s,
        "theta_m": theta_m,
        "phi_hc": phi_hc,
        "q_ambient": q_ambient,
        "q_couple": q_couple,
    }


def _check_scalar(name: str, value: float) -> float:
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name}: must be finite, got {value}")
    return v


def _validate(
    zones, coupling, theta_m0, dt, theta_e, theta_g, h_ve, phi_int, phi_sol, setpoint,
    phi_hc_fixed, phi_m_ext, shape: tuple[int, ...],
):
    net = _Network(zones, coupling, dt)
    full = shape + (net.n,)
    tm0 = _series("theta_m0", theta_m0, (net.n,))
    te = _series("theta_e", theta_e, shape)
    tg = _check_scalar("theta_g", theta_g)
    hv = _series("h_ve", h_ve, full)
    if np.any(hv < 0):
        raise ValueError("h_ve: must be >= 0 W/K")
    arrays = [
        hv,
        _series("phi_int", phi_int, full),
        _series("phi_sol", phi_sol, full),
        _series("setpoint", setpoint, full, allow_neg_inf=True),
        None if phi_hc_fixed is None else _series("phi_hc_fixed", phi_hc_fixed, full),
        None if phi_m_ext is None else _series("phi_m_ext", phi_m_ext, full),
    ]
    return net, tm0, te, tg, arrays


class ZoneNetwork:
    """Coupled zones validated once, for many single-tick solves.

    ``ZoneNetwork(zones, coupling, dt).step(...)`` gives what :func:`solve_tick` gives with the
    same arguments, without re-validating the zones and the coupling every tick (the heat
    node solves one tick at a time because its plant decides between ticks).

    Raises
    ------
    ValueError
        As :func:`solve_tick` for the zones, the coupling and ``dt``.
    """

    def __init__(self, zones: Sequence[Zone], coupling: np.ndarray, dt: float) -> None:
        self._net = _Network(zones, coupling, dt)
        self.n = self._net.n

    def step(self, theta_m0: np.ndarray, theta_e: float, theta_g: float, h_ve: np.ndarray,
             phi_int: np.ndarray, phi_sol: np.ndarray, setpoint: np.ndarray,
             phi_hc_fixed: np.ndarray | None = None,
             phi_m_ext: np.ndarray | None = None) -> TickResult:
        """One tick; arguments as :func:`solve_tick` (shapes (N,), not re-checked)."""
        def row(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else np.asarray(a, dtype=float).reshape(1, self.n)

        out = _run(self._net, np.asarray(theta_m0, dtype=float),
                   np.full((1, 1), float(theta_e)), float(theta_g), row(h_ve), row(phi_int),
                   row(phi_sol), row(setpoint), row(phi_hc_fixed), row(phi_m_ext))
        return TickResult(theta_air=out["theta_air"][0], theta_s=out["theta_s"][0],
                          theta_m=out["theta_m"][0], phi_hc=out["phi_hc"][0],
                          q_ambient=out["q_ambient"][0], q_couple=out["q_couple"][0])


def solve_tick(
    zones: Sequence[Zone],
    coupling: np.ndarray,
    theta_m0: np.ndarray,
    dt: float,
    theta_e: float,
    theta_g: float,
    h_ve: np.ndarray,
    phi_int: np.ndarray,
    phi_sol: np.ndarray,
    setpoint: np.ndarray,
    phi_hc_fixed: np.ndarray | None = None,
    phi_m_ext: np.ndarray | None = None,
) -> TickResult:
    """Advance N coupled zones by one tick (backward Euler, ideal thermostat).

    Parameters
    ----------
    zones : sequence of Zone
        The N zones.
    coupling : array_like
        Conductance matrix K (N, N) [W/K] between the mass nodes: symmetric, zero diagonal,
        >= 0.
    theta_m0 : array_like
        Mass temperatures at the start of the tick (N,) [°C].
    dt : float
        Tick length [s], > 0.
    theta_e : float
        Outdoor air temperature [°C].
    theta_g : float
        Ground temperature (boundary of the ground elements) [°C].
    h_ve : array_like
        Ventilation conductance (N,) [W/K], >= 0 (see :func:`ventilation_conductance`).
    phi_int : array_like
        Internal heat gains (N,) [W].
    phi_sol : array_like
        Solar heat gains (N,) [W] (see :func:`solar_gains`).
    setpoint : array_like
        Heating setpoint of the air (N,) [°C]; ``-inf`` switches the heating off.
    phi_hc_fixed : array_like, optional
        Imposed heating power (N,) [W]; replaces the thermostat when given.
    phi_m_ext : array_like, optional
        Extra heat flow into the mass nodes (N,) [W], e.g. from neighbours simulated
        elsewhere (``-sum_j q_couple[i, j]``).

    Returns
    -------
    TickResult

    Raises
    ------
    ValueError
        On invalid zones, coupling, shapes or non-finite inputs; the message names the
        argument.
    RuntimeError
        If the thermostat's active-set iteration does not converge.

    Notes
    -----
    With the thermostat each zone's ``phi_hc`` lies in ``[0, phi_hc_max]``; when it is
    strictly inside, ``theta_air`` equals the setpoint at the end of the tick; when it is 0,
    ``theta_air >= setpoint``; at the maximum, ``theta_air <= setpoint`` (both within
    :data:`SETPOINT_TOLERANCE`).
    """
    net, tm0, te, tg, arrays = _validate(
        zones, coupling, theta_m0, dt, theta_e, theta_g, h_ve, phi_int, phi_sol, setpoint,
        phi_hc_fixed, phi_m_ext, shape=(),
    )
    rows = [None if a is None else a[None, :] for a in arrays]
    out = _run(net, tm0, np.reshape(te, (1, 1)), tg, *rows)
    return TickResult(
        theta_air=out["theta_air"][0],
        theta_s=out["theta_s"][0],
        theta_m=out["theta_m"][0],
        phi_hc=out["phi_hc"][0],
        q_ambient=out["q_ambient"][0],
        q_couple=out["q_couple"][0],
    )


def simulate(
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
    phi_hc_fixed: np.ndarray | None = None,
    phi_m_ext: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Advance N coupled zones over n ticks; :func:`solve_tick` tick after tick.

    Parameters are those of :func:`solve_tick` with a leading time axis: ``theta_e`` (n,),
    and ``h_ve``, ``phi_int``, ``phi_sol``, ``setpoint``, ``phi_hc_fixed``, ``phi_m_ext``
    (n, N). ``theta_m0`` (N,) is the mass temperature at the start of tick 0.

    Returns
    -------
    dict of numpy.ndarray
        ``theta_air``, ``theta_s``, ``theta_m``, ``phi_hc``, ``q_ambient`` (n, N) and
        ``q_couple`` (n, N, N), the fields of :class:`TickResult` per tick.

    Raises
    ------
    ValueError
        As :func:`solve_tick`; shapes must match exactly (no broadcasting).
    RuntimeError
        If the thermostat's active-set iteration does not converge.

    Notes
    -----
    Everything that does not depend on the mass temperatures is computed once for all
    ticks; the loop only solves the N x N mass system (a division when the zones are not
    coupled) and updates the thermostat's active set, starting from the previous tick's.
    """
    te_arr = np.asarray(theta_e, dtype=float)
    if te_arr.ndim != 1:
        raise ValueError(f"theta_e: expected shape (n,), got {te_arr.shape}")
    net, tm0, te, tg, arrays = _validate(
        zones, coupling, theta_m0, dt, te_arr, theta_g, h_ve, phi_int, phi_sol, setpoint,
        phi_hc_fixed, phi_m_ext, shape=te_arr.shape,
    )
    return _run(net, tm0, te[:, None], tg, *arrays)
