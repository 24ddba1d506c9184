"""PV arrays: plane-of-array irradiance, optical and spectral losses, cell temperature and
DC power.

The model chain is the one :class:`pvlib.modelchain.ModelChain` runs, step by step with
pvlib's functions (``ModelChain.with_pvwatts`` by default):

1. far shading (optional): the beam is blocked while the sun is below a horizon profile
   (azimuth → elevation, interpolated linearly, periodic over 360°), by setting DNI to 0
   before the transposition (with ``haydavies`` / ``perez`` the circumsolar diffuse, which
   follows DNI, goes with it), as PVGIS applies its horizon to the beam;
2. transposition to the plane of array, :func:`pvlib.irradiance.get_total_irradiance`
   (``haydavies``, ``perez`` with relative air mass (Kasten & Young 1989) at the apparent
   zenith, or ``isotropic``), with ``dni_extra``;
3. reflection losses on the beam (``aoi_model``): :func:`pvlib.iam.physical` (default),
   :func:`pvlib.iam.ashrae`, :func:`pvlib.iam.martin_ruiz`, :func:`pvlib.iam.sapm` (a module
   of pvlib's Sandia database) or none (``no_loss``);
4. spectral modifier (``spectral_model``): none (``no_loss``, default),
   :func:`pvlib.spectrum.spectral_factor_sapm` or
   :func:`pvlib.spectrum.spectral_factor_firstsolar`, at the absolute air mass
   (:func:`pvlib.atmosphere.get_absolute_airmass` at the pressure of the altitude);
   effective irradiance ``spectral * (poa_direct * iam + poa_diffuse)``, as ModelChain;
5. cell temperature driven by ``poa_global``: :func:`pvlib.temperature.sapm_cell` (the four
   SAPM mountings or own parameters), :func:`pvlib.temperature.pvsyst_cell` (freestanding,
   insulated, semi-integrated or own parameters) or :func:`pvlib.temperature.faiman`;
6. DC power with :func:`pvlib.pvsystem.pvwatts_dc` (PVWatts) or the CEC single-diode model
   (:func:`pvlib.pvsystem.calcparams_cec` + :func:`pvlib.pvsystem.max_power_point`);
7. DC system losses: :func:`pvlib.pvsystem.pvwatts_losses` of its components (14.08 % with
   pvlib's defaults) or one percentage.

References
----------
Dobos, A. P. (2014). PVWatts Version 5 Manual. NREL/TP-6A20-62641. :doi:`10.2172/1158421`

Hay, J. E. and Davies, J. A. (1980). Calculations of the solar radiation incident on an
inclined surface. Proc. First Canadian Solar Radiation Data Workshop, 59–72.

Perez, R. et al. (1990). Modeling daylight availability and irradiance components from
direct and global irradiance. Solar Energy 44(5), 271–289.
:doi:`10.1016/0038-092X(90)90055-H`

De Soto, W., Klein, S. A. and Beckman, W. A. (2006). Improvement and validation of a model
for photovoltaic array performance. Solar Energy 80(1), 78–88.
:doi:`10.1016/j.solener.2005.06.010`

King, D. L., Boyson, W. E. and Kratochvil, J. A. (2004). Photovoltaic Array Performance
Model. SAND2004-3535. :doi:`10.2172/919131`
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

if TYPE_CHECKING:  # pandas is imported lazily, with pvlib
    import pandas as pd

__all__ = [
    "AOI_MODELS",
    "CECArray",
    "ChainOptions",
    "PVWattsArray",
    "SAPMTemperature",
    "SPECTRAL_MODELS",
    "TEMPERATURE_MODELS",
    "cec_module",
    "cell_temperature",
    "horizon_elevation",
    "pv_dc",
    "sandia_module",
]

TRANSPOSITIONS = ("haydavies", "perez", "isotropic")
AOI_MODELS = ("physical", "ashrae", "martin_ruiz", "sapm", "no_loss")
SPECTRAL_MODELS = ("no_loss", "sapm", "first_solar")
#: pvlib's parameters of each AOI model (``iam_parameters``), with its defaults.
IAM_PARAMETERS = {"physical": ("n", "K", "L"), "ashrae": ("b",), "martin_ruiz": ("a_r",)}
#: Cell-temperature models: the SAPM mountings and PVsyst presets of
#: ``pvlib.temperature.TEMPERATURE_MODEL_PARAMETERS``, and ``sapm``, ``pvsyst``, ``faiman`` with
#: ``temperature_parameters``.
SAPM_MOUNTINGS = ("open_rack_glass_glass", "close_mount_glass_glass", "open_rack_glass_polymer",
                  "insulated_back_glass_polymer")
PVSYST_MOUNTINGS = ("freestanding", "insulated", "semi_integrated")
TEMPERATURE_MODELS = (*SAPM_MOUNTINGS, "sapm", *(f"pvsyst_{m}" for m in PVSYST_MOUNTINGS),
                      "pvsyst", "faiman")
#: Parameters of each cell-temperature function (``temperature_parameters``).
TEMPERATURE_PARAMETERS = {
    "sapm": ("a", "b", "deltaT"),
    "pvsyst": ("u_c", "u_v", "module_efficiency", "alpha_absorption"),
    "faiman": ("u0", "u1"),
}
#: Components of :func:`pvlib.pvsystem.pvwatts_losses` [%].
PVWATTS_LOSSES = ("soiling", "shading", "snow", "mismatch", "wiring", "connections", "lid",
                  "nameplate_rating", "age", "availability")
MODULE_TYPES = ("cdte", "monosi", "polysi", "multisi", "cigs", "asi")
IRRADIANCE_REF = 1000.0
"""Irradiance at standard test conditions [W/m^2]."""


class SAPMTemperature(NamedTuple):
    """Parameters of the SAPM cell-temperature model (King et al. 2004).

    Attributes
    ----------
    a : float
        Upper limit of module temperature at low wind speed [-].
    b : float
        Decrease of module temperature with wind speed [s/m].
    deltaT : float
        Difference between cell and module back temperature at 1000 W/m^2 [°C].
    """

    a: float
    b: float
    deltaT: float  # noqa: N815 - pvlib's name

    @classmethod
    def from_pvlib(cls, name: str) -> SAPMTemperature:
        """Look up ``pvlib.temperature.TEMPERATURE_MODEL_PARAMETERS['sapm'][name]``.

        Raises
        ------
        ValueError
            If ``name`` is not one of pvlib's SAPM mounting configurations.
        """
        from pvlib.temperature import TEMPERATURE_MODEL_PARAMETERS

        table = TEMPERATURE_MODEL_PARAMETERS["sapm"]
        if name not in table:
            raise ValueError(f"temperature_model: unknown {name!r}; choose one of {sorted(table)}")
        p = table[name]
        return cls(float(p["a"]), float(p["b"]), float(p["deltaT"]))


def temperature_family(model: str | SAPMTemperature) -> str:
    """``'sapm'``, ``'pvsyst'`` or ``'faiman'``: the pvlib function of a temperature model."""
    if isinstance(model, SAPMTemperature) or model in SAPM_MOUNTINGS or model == "sapm":
        return "sapm"
    if model == "pvsyst" or model.removeprefix("pvsyst_") in PVSYST_MOUNTINGS:
        return "pvsyst"
    if model == "faiman":
        return "faiman"
    raise ValueError(f"temperature_model: unknown {model!r}; choose one of "
                     f"{', '.join(TEMPERATURE_MODELS)}")


def temperature_arguments(model: str | SAPMTemperature,
                          parameters: Mapping[str, float] | None = None) -> dict[str, float]:
    """Keyword arguments of the cell-temperature function of ``model``.

    A SAPM mounting or PVsyst preset gives pvlib's parameters
    (``pvlib.temperature.TEMPERATURE_MODEL_PARAMETERS``); ``parameters`` override them (for
    ``sapm`` they must give ``a``, ``b`` and ``deltaT``; for ``pvsyst`` and ``faiman`` the rest
    are pvlib's function defaults).

    Raises
    ------
    ValueError
        On an unknown model, a parameter of another model, or ``sapm`` without its three.
    """
    from pvlib.temperature import TEMPERATURE_MODEL_PARAMETERS

    family = temperature_family(model)
    params = {k: float(v) for k, v in (parameters or {}).items() if v is not None}
    foreign = sorted(set(params) - set(TEMPERATURE_PARAMETERS[family]))
    if foreign:
        raise ValueError(f"temperature_parameters: {', '.join(foreign)} are not parameters of "
                         f"the {family} model ({', '.join(TEMPERATURE_PARAMETERS[family])})")
    if isinstance(model, SAPMTemperature):
        base: dict[str, float] = dict(model._asdict())
    elif model in SAPM_MOUNTINGS:
        base = dict(TEMPERATURE_MODEL_PARAMETERS["sapm"][model])
    elif family == "pvsyst" and model != "pvsyst":
        base = dict(TEMPERATURE_MODEL_PARAMETERS["pvsyst"][model.removeprefix("pvsyst_")])
    else:
        base = {}
    out = {k: float(v) for k, v in {**base, **params}.items()}
    if family == "sapm" and set(out) != {"a", "b", "deltaT"}:
        raise ValueError("temperature_parameters: the sapm model needs a, b and deltaT")
    return out


def cell_temperature(model: str | SAPMTemperature, parameters: Mapping[str, float] | None,
                     poa_global: np.ndarray, temp_air: np.ndarray, wind_speed: np.ndarray
                     ) -> np.ndarray:
    """Cell temperature [°C] from plane-of-array irradiance [W/m^2], air temperature [°C] and
    wind speed [m/s] with :func:`pvlib.temperature.sapm_cell`,
    :func:`pvlib.temperature.pvsyst_cell` or :func:`pvlib.temperature.faiman`
    (see :func:`temperature_arguments`)."""
    from pvlib import temperature

    fn = {"sapm": temperature.sapm_cell, "pvsyst": temperature.pvsyst_cell,
          "faiman": temperature.faiman}[temperature_family(model)]
    kw = temperature_arguments(model, parameters)
    return np.asarray(fn(poa_global, temp_air, wind_speed, **kw), dtype=float)


def horizon_elevation(horizon: tuple[tuple[float, float], ...], azimuth: np.ndarray
                      ) -> np.ndarray:
    """Elevation of a horizon profile at solar azimuths [deg].

    Parameters
    ----------
    horizon : tuple of (azimuth, elevation)
        Points of the profile [deg] (azimuth east of north, 0–360); linear in between,
        periodic over 360°. Empty: a flat horizon (0°).
    azimuth : array_like
        Azimuths [deg].

    Returns
    -------
    numpy.ndarray
        Horizon elevation [deg].
    """
    az = np.asarray(azimuth, dtype=float)
    if not horizon:
        return np.zeros(az.shape)
    pts = np.asarray(horizon, dtype=float)
    order = np.argsort(pts[:, 0] % 360.0, kind="stable")
    return np.interp(az % 360.0, pts[order, 0] % 360.0, pts[order, 1], period=360.0)


@dataclass(frozen=True, kw_only=True)
class ChainOptions:
    """Options of the model chain every array has (see the module docstring).

    Attributes
    ----------
    aoi_model : {'physical', 'ashrae', 'martin_ruiz', 'sapm', 'no_loss'}, default 'physical'
        Reflection losses on the beam (pvlib.iam).
    iam_parameters : mapping, optional
        Parameters of the AOI model (physical: ``n``, ``K`` [1/m], ``L`` [m]; ashrae ``b``;
        martin_ruiz ``a_r``); missing ones are pvlib's defaults.
    spectral_model : {'no_loss', 'sapm', 'first_solar'}, default 'no_loss'
        Spectral modifier (pvlib.spectrum).
    module_type : str, optional
        First Solar spectral model's module type (``cdte``, ``monosi``, ``polysi``,
        ``multisi``, ``cigs``, ``asi``).
    precipitable_water : float, default 1.42
        Precipitable water for ``first_solar`` [cm] (1.42 cm: the ASTM G173-03 reference
        atmosphere).
    sandia_module : str, optional
        A module of pvlib's Sandia database (``retrieve_sam('SandiaMod')``): ``B0``–``B5`` of
        ``aoi_model: sapm``, ``A0``–``A4`` of ``spectral_model: sapm``.
    temperature_parameters : mapping, optional
        Parameters of the cell-temperature model (:func:`temperature_arguments`).
    pvwatts_losses : mapping, optional
        Arguments of :func:`pvlib.pvsystem.pvwatts_losses` [%] (missing ones: pvlib's
        defaults); used when ``losses_percent`` is None.
    horizon : tuple of (azimuth, elevation), default ()
        Far-shading horizon profile [deg] (:func:`horizon_elevation`); empty = none.
    """

    aoi_model: str = "physical"
    iam_parameters: Mapping[str, float] = field(default_factory=dict)
    spectral_model: str = "no_loss"
    module_type: str | None = None
    precipitable_water: float = 1.42
    sandia_module: str | None = None
    temperature_parameters: Mapping[str, float] = field(default_factory=dict)
    pvwatts_losses: Mapping[str, float] | None = None
    horizon: tuple[tuple[float, float], ...] = ()

    def _check_chain(self, surface_tilt: float, surface_azimuth: float, transposition: str,
                     albedo: float, losses_percent: float | None,
                     temperature_model: str | SAPMTemperature) -> None:
        if not 0.0 <= surface_tilt <= 180.0:
            raise ValueError(f"surface_tilt: must be in [0, 180] deg, got {surface_tilt}")
        if not 0.0 <= surface_azimuth <= 360.0:
            raise ValueError(f"surface_azimuth: must be in [0, 360] deg, got {surface_azimuth}")
        if transposition not in TRANSPOSITIONS:
            raise ValueError(
                f"transposition: must be one of {TRANSPOSITIONS}, got {transposition!r}")
        if not 0.0 <= albedo <= 1.0:
            raise ValueError(f"albedo: must be in [0, 1], got {albedo}")
        if losses_percent is not None and not 0.0 <= losses_percent <= 100.0:
            raise ValueError(f"losses_percent: must be in [0, 100] %, got {losses_percent}")
        if losses_percent is not None and self.pvwatts_losses is not None:
            raise ValueError("losses_percent and pvwatts_losses: give one of them")
        if self.aoi_model not in AOI_MODELS:
            raise ValueError(f"aoi_model: must be one of {AOI_MODELS}, got {self.aoi_model!r}")
        allowed = IAM_PARAMETERS.get(self.aoi_model, ())
        foreign = sorted(k for k, v in self.iam_parameters.items()
                         if v is not None and k not in allowed)
        if foreign:
            raise ValueError(f"iam_parameters: {', '.join(foreign)} are not parameters of the "
                             f"{self.aoi_model} AOI model ({', '.join(allowed) or 'none'})")
        if self.spectral_model not in SPECTRAL_MODELS:
            raise ValueError(f"spectral_model: must be one of {SPECTRAL_MODELS}, "
                             f"got {self.spectral_model!r}")
        if "sapm" in (self.aoi_model, self.spectral_model):
            if not self.sandia_module:
                raise ValueError("sandia_module: aoi_model or spectral_model sapm needs a "
                                 "module of pvlib's Sandia database")
            sandia_module(self.sandia_module)
        if self.spectral_model == "first_solar" and self.module_type not in MODULE_TYPES:
            raise ValueError(f"module_type: spectral_model first_solar needs one of "
                             f"{MODULE_TYPES}, got {self.module_type!r}")
        if not 0.1 <= self.precipitable_water <= 8.0:
            raise ValueError(f"precipitable_water: must be in [0.1, 8] cm, got "
                             f"{self.precipitable_water}")
        temperature_arguments(temperature_model, self.temperature_parameters)
        if self.pvwatts_losses is not None:
            bad = sorted(set(self.pvwatts_losses) - set(PVWATTS_LOSSES))
            if bad:
                raise ValueError(f"pvwatts_losses: unknown {', '.join(bad)}; components are "
                                 f"{', '.join(PVWATTS_LOSSES)}")
            for k, v in self.pvwatts_losses.items():
                if v is not None and not 0.0 <= v <= 100.0:
                    raise ValueError(f"pvwatts_losses.{k}: must be in [0, 100] %, got {v}")
        for az, el in self.horizon:
            if not (0.0 <= az <= 360.0 and 0.0 <= el <= 90.0):
                raise ValueError(f"horizon: azimuth in [0, 360] and elevation in [0, 90] deg, "
                                 f"got ({az}, {el})")

    def losses_fraction(self, losses_percent: float | None) -> float:
        """``1 - losses / 100``: ``losses_percent``, else
        :func:`pvlib.pvsystem.pvwatts_losses` of ``pvwatts_losses`` (pvlib's defaults:
        14.08 %)."""
        if losses_percent is None:
            from pvlib.pvsystem import pvwatts_losses

            kw = {k: float(v) for k, v in (self.pvwatts_losses or {}).items() if v is not None}
            losses_percent = float(pvwatts_losses(**kw))
        return 1.0 - losses_percent / 100.0


@dataclass(frozen=True)
class PVWattsArray(ChainOptions):
    """A fixed-tilt array described by the PVWatts DC model (Dobos 2014).

    Attributes
    ----------
    pdc0 : float
        DC nameplate at 1000 W/m^2 and 25 °C cell temperature [W], > 0.
    gamma_pdc : float, default -0.004
        Temperature coefficient of power [1/°C].
    surface_tilt : float, default 30
        Tilt from horizontal [deg].
    surface_azimuth : float, default 180
        Azimuth, east of north (180 = south) [deg].
    transposition : {'haydavies', 'perez', 'isotropic'}, default 'haydavies'
        Sky diffuse model.
    albedo : float, default 0.25
        Ground reflectance [-].
    temperature_model : str or SAPMTemperature, default 'open_rack_glass_polymer'
        One of :data:`TEMPERATURE_MODELS`, or explicit SAPM parameters.
    losses_percent : float or None, default None
        DC system losses [%]; ``None`` = :func:`pvlib.pvsystem.pvwatts_losses` of
        ``pvwatts_losses`` (14.08 % with pvlib's defaults).
    module_efficiency : float, default 0.2
        Module efficiency at STC [-], only used for the collecting area.
    aoi_model, iam_parameters, spectral_model, module_type, precipitable_water, sandia_module,
    temperature_parameters, pvwatts_losses, horizon
        Keyword-only, see :class:`ChainOptions`.

    Raises
    ------
    ValueError
        On a parameter outside its range (the message names the field).
    """

    pdc0: float
    gamma_pdc: float = -0.004
    surface_tilt: float = 30.0
    surface_azimuth: float = 180.0
    transposition: str = "haydavies"
    albedo: float = 0.25
    temperature_model: str | SAPMTemperature = "open_rack_glass_polymer"
    losses_percent: float | None = None
    module_efficiency: float = 0.2

    def __post_init__(self) -> None:
        if not self.pdc0 > 0:
            raise ValueError(f"pdc0: must be > 0 W, got {self.pdc0}")
        if not -0.1 < self.gamma_pdc < 0.1:
            raise ValueError(f"gamma_pdc: must be in (-0.1, 0.1) 1/°C, got {self.gamma_pdc}")
        if not 0.0 < self.module_efficiency <= 1.0:
            raise ValueError(
                f"module_efficiency: must be in (0, 1], got {self.module_efficiency}"
            )
        self._check_chain(self.surface_tilt, self.surface_azimuth, self.transposition,
                          self.albedo, self.losses_percent, self.temperature_model)

    @property
    def area(self) -> float:
        """Collecting area ``pdc0 / (1000 W/m^2 * module_efficiency)`` [m^2]."""
        return self.pdc0 / (IRRADIANCE_REF * self.module_efficiency)


@lru_cache(maxsize=2)
def _sam_table(name: str) -> pd.DataFrame:
    from pvlib.pvsystem import retrieve_sam

    return retrieve_sam(name)


def _canonical(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


def lookup_sam(kind: str, name: str, field: str) -> dict[str, float | str]:
    """Parameters of a product in one of pvlib's bundled SAM tables.

    Parameters
    ----------
    kind : {'CECMod', 'cecinverter'}
        SAM table passed to :func:`pvlib.pvsystem.retrieve_sam`.
    name : str
        Product name, either pvlib's column name (``'Canadian_Solar_Inc__CS5P_220M'``) or the
        raw name with spaces and punctuation (matched ignoring case and punctuation).
    field : str
        Field name used in the error message.

    Returns
    -------
    dict
        The table column as a dict (numbers as float).

    Raises
    ------
    ValueError
        If the name is not in the table; the message lists close matches.
    """
    table = _sam_table(kind)
    col: str | None
    if name in table.columns:
        col = name
    else:
        canon = {_canonical(c): c for c in table.columns}
        col = canon.get(_canonical(name))
        if col is None:
            key = _canonical(name)
            close = [c for k, c in canon.items() if key and key in k][:5]
            if not close:
                near = difflib.get_close_matches(key, list(canon), n=5, cutoff=0.5)
                close = [canon[k] for k in near]
            hint = f"; close matches: {close}" if close else ""
            raise ValueError(f"{field}: {name!r} is not in pvlib's {kind} table{hint}")
    out: dict[str, float | str] = {}
    for key, value in table[col].items():
        try:
            out[key] = float(value)
        except (TypeError, ValueError):
            out[key] = value
    return out


def cec_module(name: str) -> dict[str, float | str]:
    """Parameters of a module from pvlib's bundled CEC database (``retrieve_sam('CECMod')``).

    Raises
    ------
    ValueError
        If the module is not found; the message lists close matches.
    """
    return dict(_cec_module(name))


@lru_cache(maxsize=32)
def _cec_module(name: str) -> dict[str, float | str]:
    return lookup_sam("CECMod", name, "module")


def sandia_module(name: str) -> dict[str, float | str]:
    """Parameters of a module from pvlib's bundled Sandia database
    (``retrieve_sam('SandiaMod')``): ``A0``–``A4`` (spectral), ``B0``–``B5`` (AOI), ….

    Raises
    ------
    ValueError
        If the module is not found; the message lists close matches.
    """
    return dict(_sandia_module(name))


@lru_cache(maxsize=32)
def _sandia_module(name: str) -> dict[str, float | str]:
    return lookup_sam("SandiaMod", name, "sandia_module")


@dataclass(frozen=True)
class CECArray(ChainOptions):
    """A fixed-tilt array of CEC-database modules (single-diode model, De Soto et al. 2006).

    Attributes
    ----------
    module : str
        Module name in pvlib's CEC database.
    modules_per_string : int, default 1
        Modules in series.
    strings_per_inverter : int, default 1
        Parallel strings.
    surface_tilt, surface_azimuth, transposition, albedo, temperature_model, losses_percent
        As for :class:`PVWattsArray`; losses are applied to the single-diode DC power.
    aoi_model, …, horizon
        Keyword-only, see :class:`ChainOptions`.

    Raises
    ------
    ValueError
        On an unknown module (with close matches) or a parameter outside its range.
    """

    module: str
    modules_per_string: int = 1
    strings_per_inverter: int = 1
    surface_tilt: float = 30.0
    surface_azimuth: float = 180.0
    transposition: str = "haydavies"
    albedo: float = 0.25
    temperature_model: str | SAPMTemperature = "open_rack_glass_polymer"
    losses_percent: float | None = None

    def __post_init__(self) -> None:
        if int(self.modules_per_string) != self.modules_per_string or self.modules_per_string < 1:
            raise ValueError(
                f"modules_per_string: must be an integer >= 1, got {self.modules_per_string}"
            )
        if (
            int(self.strings_per_inverter) != self.strings_per_inverter
            or self.strings_per_inverter < 1
        ):
            raise ValueError(
                f"strings_per_inverter: must be an integer >= 1, got {self.strings_per_inverter}"
            )
        self._check_chain(self.surface_tilt, self.surface_azimuth, self.transposition,
                          self.albedo, self.losses_percent, self.temperature_model)
        cec_module(self.module)  # raises with close matches

    @property
    def parameters(self) -> dict[str, float | str]:
        """The module's CEC parameters."""
        return cec_module(self.module)

    @property
    def modules(self) -> int:
        """Number of modules."""
        return int(self.modules_per_string) * int(self.strings_per_inverter)

    @property
    def area(self) -> float:
        """Collecting area ``A_c * modules`` [m^2]."""
        return float(self.parameters["A_c"]) * self.modules

    @property
    def pdc0(self) -> float:
        """DC nameplate ``STC * modules`` [W]."""
        return float(self.parameters["STC"]) * self.modules


def pv_dc(
    array: PVWattsArray | CECArray,
    ghi: np.ndarray,
    dni: np.ndarray,
    dhi: np.ndarray,
    temp_air: np.ndarray,
    wind_speed: np.ndarray,
    apparent_zenith: np.ndarray,
    azimuth: np.ndarray,
    dni_extra: np.ndarray,
    dt: float,
    altitude: float = 0.0,
) -> dict[str, np.ndarray]:
    """DC output of a PV array over ticks.

    Parameters
    ----------
    array : PVWattsArray or CECArray
        The array.
    ghi, dni, dhi : array_like
        Mean irradiance over each tick [W/m^2].
    temp_air : array_like
        Air temperature [°C].
    wind_speed : array_like
        Wind speed [m/s].
    apparent_zenith, azimuth : array_like
        Solar apparent zenith and azimuth at the tick midpoints [deg].
    dni_extra : array_like
        Extraterrestrial normal irradiance [W/m^2].
    dt : float
        Tick length [s], > 0.
    altitude : float, default 0
        Site altitude [m]: the pressure of the absolute air mass (spectral models only).

    Returns
    -------
    dict of numpy.ndarray
        ``poa_global`` [W/m^2], ``effective`` (effective irradiance) [W/m^2], ``temp_cell``
        [°C], ``p_dc`` (after DC losses, >= 0) [W],
        ``v_dc`` [V] (string voltage at maximum power for a CEC array, NaN when it produces
        nothing; always NaN for a PVWatts array, which has no voltage), ``solar`` =
        ``poa_global * area * dt`` (solar energy incident on the array) [J] and
        ``dc = p_dc * dt`` [J], with ``0 <= dc <= solar``.

    Raises
    ------
    ValueError
        If ``dt <= 0`` or the inputs do not have one shape.

    Notes
    -----
    Follows :class:`pvlib.modelchain.ModelChain` (see the module docstring); for a CEC
    array the DC model is the CEC single-diode model.
    """
    from pvlib import atmosphere, iam, irradiance, spectrum
    from pvlib import pvsystem as pvs

    if not dt > 0:
        raise ValueError(f"dt: must be > 0 s, got {dt}")
    inputs = [
        np.atleast_1d(np.asarray(x, dtype=float))
        for x in (ghi, dni, dhi, temp_air, wind_speed, apparent_zenith, azimuth, dni_extra)
    ]
    try:
        arrays = np.broadcast_arrays(*inputs)
    except ValueError:
        raise ValueError("pv_dc: inputs must have one shape") from None
    ghi, dni, dhi, temp_air, wind_speed, zen, azi, dni_extra = arrays

    if array.horizon:  # far shading: no beam while the sun is below the horizon profile
        blocked = (90.0 - zen) < horizon_elevation(array.horizon, azi)
        dni = np.where(blocked, 0.0, dni)
    airmass = None
    if array.transposition == "perez" or array.spectral_model != "no_loss":
        airmass = atmosphere.get_relative_airmass(zen, model="kastenyoung1989")
    with np.errstate(invalid="ignore", divide="ignore"):
        total = irradiance.get_total_irradiance(
            array.surface_tilt,
            array.surface_azimuth,
            zen,
            azi,
            dni,
            ghi,
            dhi,
            dni_extra=dni_extra,
            airmass=airmass,
            albedo=array.albedo,
            model=array.transposition,
        )
        aoi = irradiance.aoi(array.surface_tilt, array.surface_azimuth, zen, azi)
        iam_beam = _iam(array, aoi, iam)
        spectral = _spectral(array, airmass, altitude, atmosphere, spectrum)
    poa_global = np.nan_to_num(np.asarray(total["poa_global"], dtype=float))
    poa_direct = np.nan_to_num(np.asarray(total["poa_direct"], dtype=float))
    poa_diffuse = np.nan_to_num(np.asarray(total["poa_diffuse"], dtype=float))
    # Irradiance cannot be negative (transposition models can dip below 0 near sunset).
    poa_global = np.maximum(poa_global, 0.0)
    effective = np.maximum(
        spectral * (poa_direct * np.nan_to_num(iam_beam) + poa_diffuse), 0.0)

    temp_cell = cell_temperature(array.temperature_model, array.temperature_parameters,
                                 poa_global, temp_air, wind_speed)

    if isinstance(array, PVWattsArray):
        p_dc = np.asarray(
            pvs.pvwatts_dc(effective, temp_cell, array.pdc0, array.gamma_pdc), dtype=float
        )
        v_dc = np.full(p_dc.shape, np.nan)
    else:
        m = array.parameters
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            il, io, rs, rsh, nnsvth = pvs.calcparams_cec(
                effective,
                temp_cell,
                alpha_sc=m["alpha_sc"],
                a_ref=m["a_ref"],
                I_L_ref=m["I_L_ref"],
                I_o_ref=m["I_o_ref"],
                R_sh_ref=m["R_sh_ref"],
                R_s=m["R_s"],
                Adjust=m["Adjust"],
            )
            mpp = pvs.max_power_point(il, io, rs, rsh, nnsvth, method="newton")
        p_module = np.nan_to_num(np.asarray(mpp["p_mp"], dtype=float))
        producing = (effective > 0.0) & (p_module > 0.0)
        p_dc = np.where(producing, p_module * array.modules, 0.0)
        v_dc = np.where(
            producing, np.asarray(mpp["v_mp"], dtype=float) * array.modules_per_string, np.nan
        )
    p_dc = np.maximum(np.nan_to_num(p_dc) * array.losses_fraction(array.losses_percent), 0.0)
    solar = poa_global * array.area * dt
    # Guard: a DC yield above the incident energy would be unphysical (possible only with
    # extreme temperature coefficients or parameters); clip it.
    dc = np.minimum(p_dc * dt, solar)
    p_dc = np.where(dc < p_dc * dt, dc / dt, p_dc)
    return {
        "poa_global": poa_global,
        "effective": effective,
        "temp_cell": temp_cell,
        "p_dc": p_dc,
        "v_dc": v_dc,
        "solar": solar,
        "dc": dc,
    }


def _iam(array: ChainOptions, aoi: np.ndarray, iam: Any) -> np.ndarray:
    """Incidence-angle modifier of the beam [-] (``aoi_model``, as ModelChain)."""
    kw = {k: float(v) for k, v in array.iam_parameters.items() if v is not None}
    if array.aoi_model == "no_loss":
        return np.ones(aoi.shape)
    if array.aoi_model == "sapm":
        return np.asarray(iam.sapm(aoi, sandia_module(str(array.sandia_module))), dtype=float)
    fn = {"physical": iam.physical, "ashrae": iam.ashrae, "martin_ruiz": iam.martin_ruiz}
    return np.asarray(fn[array.aoi_model](aoi, **kw), dtype=float)


def _spectral(array: ChainOptions, airmass: np.ndarray | None, altitude: float,
              atmosphere: Any, spectrum: Any) -> np.ndarray | float:
    """Spectral modifier [-] at the absolute air mass (``spectral_model``, as ModelChain)."""
    if array.spectral_model == "no_loss" or airmass is None:
        return 1.0
    am_abs = atmosphere.get_absolute_airmass(airmass, atmosphere.alt2pres(altitude))
    if array.spectral_model == "sapm":
        f = spectrum.spectral_factor_sapm(am_abs, sandia_module(str(array.sandia_module)))
    else:
        f = spectrum.spectral_factor_firstsolar(
            np.full(np.shape(am_abs), array.precipitable_water), am_abs,
            module_type=array.module_type)
    return np.nan_to_num(np.asarray(f, dtype=float))
