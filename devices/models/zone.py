"""Zone constants and heat gains of the ISO 13790 5R1C model (one flat, no solver).

Each zone (flat) is the resistance-capacitance network of ISO 13790:2008 §12.2 and Annex C,
with three nodes: the indoor air ``theta_air``, a star node of the internal surfaces
``theta_s`` and the thermal mass ``theta_m``, all in [°C]::

    theta_e --H_ve------ theta_air --H_tr_is-- theta_s --H_tr_ms-- theta_m --H_tr_em-- theta_e
                            |                     |                  |  \\
                          Phi_ia + Phi_HC     Phi_st + H_tr_w       Phi_m  H_g -- theta_g
                                              (to theta_e)           |
                                                                 K_ij -- theta_m of zone j

This module gives the parameters of that network and its driving gains:

* :class:`Element` (one envelope element, ``b U A``) and :func:`zone_constants`, which turns a
  zone's geometry, envelope and thermal class into a :class:`Zone` (``C_m``, ``A_m``, ``A_t``
  and the conductances ``H_tr_is``, ``H_tr_w``, ``H_tr_ms``, ``H_tr_em``, ``H_g``);
* :func:`ventilation_conductance` (``H_ve``, §9.3.1);
* :func:`facade_irradiance` (irradiance on a window plane, with pvlib) and
  :func:`solar_gains` (``Phi_sol``, §11.3).

Ground elements connect the mass node to the ground temperature ``theta_g`` (an extension of
the standard network, which has no ground node). The coupled network of several zones and its
time stepping live in :mod:`homesim.devices.models.thermal_network`.

References
----------
ISO 13790:2008. Energy performance of buildings - Calculation of energy use for space heating
and cooling. §7.2.2 (gains), §9.3 (ventilation), §11.3 (solar gains), §12.2.2 (5R1C
constants), Table 12 (dynamic parameters).

ISO 13789:2017. Thermal performance of buildings - Transmission and ventilation heat transfer
coefficients (the adjustment factor ``b``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "H_IS",
    "H_MS",
    "LAMBDA_AT",
    "RHO_C_AIR",
    "THERMAL_CLASSES",
    "Element",
    "Zone",
    "facade_irradiance",
    "solar_gains",
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

