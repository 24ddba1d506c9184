"""PV arrays: plane-of-array irradiance, cell temperature and DC power.

The model chain is the one :meth:`pvlib.modelchain.ModelChain.with_pvwatts` runs, step by
step with pvlib's functions:

1. transposition to the plane of array, :func:`pvlib.irradiance.get_total_irradiance`
   (``haydavies``, ``perez`` with relative air mass (Kasten & Young 1989) at the apparent
   zenith, or ``isotropic``), with ``dni_extra``;
2. reflection losses on the beam with :func:`pvlib.iam.physical`; effective irradiance
   ``poa_direct * iam + poa_diffuse`` (no spectral loss);
3. cell temperature with :func:`pvlib.temperature.sapm_cell` driven by ``poa_global``;
4. DC power with :func:`pvlib.pvsystem.pvwatts_dc` (PVWatts) or the CEC single-diode model
   (:func:`pvlib.pvsystem.calcparams_cec` + :func:`pvlib.pvsystem.max_power_point`);
5. DC system losses (:func:`pvlib.pvsystem.pvwatts_losses`, 14.08 % by default).

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
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:  # pandas is imported lazily, with pvlib
    import pandas as pd

__all__ = [
    "CECArray",
    "PVWattsArray",
    "SAPMTemperature",
    "cec_module",
    "pv_dc",
]

TRANSPOSITIONS = ("haydavies", "perez", "isotropic")
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


def _check_common(
    surface_tilt: float,
    surface_azimuth: float,
    transposition: str,
    albedo: float,
    losses_percent: float | None,
    temperature_model: str | SAPMTemperature,
) -> None:
    if not 0.0 <= surface_tilt <= 180.0:
        raise ValueError(f"surface_tilt: must be in [0, 180] deg, got {surface_tilt}")
    if not 0.0 <= surface_azimuth <= 360.0:
        raise ValueError(f"surface_azimuth: must be in [0, 360] deg, got {surface_azimuth}")
    if transposition not in TRANSPOSITIONS:
        raise ValueError(f"transposition: must be one of {TRANSPOSITIONS}, got {transposition!r}")
    if not 0.0 <= albedo <= 1.0:
        raise ValueError(f"albedo: must be in [0, 1], got {albedo}")
    if losses_percent is not None and not 0.0 <= losses_percent <= 100.0:
        raise ValueError(f"losses_percent: must be in [0, 100] %, got {losses_percent}")
    if not isinstance(temperature_model, SAPMTemperature):
        SAPMTemperature.from_pvlib(temperature_model)


def _losses_fraction(losses_percent: float | None) -> float:
    if losses_percent is None:
        from pvlib.pvsystem import pvwatts_losses

        losses_percent = float(pvwatts_losses())
    return 1.0 - losses_percent / 100.0


def _temperature(model: str | SAPMTemperature) -> SAPMTemperature:
    return model if isinstance(model, SAPMTemperature) else SAPMTemperature.from_pvlib(model)


@dataclass(frozen=True)
class PVWattsArray:
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
        SAPM mounting configuration from pvlib, or explicit parameters.
    losses_percent : float or None, default None
        DC system losses [%]; ``None`` = :func:`pvlib.pvsystem.pvwatts_losses` default
        (14.08 %).
    module_efficiency : float, default 0.2
        Module efficiency at STC [-], only used for the collecting area.

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
        _check_common(
            self.surface_tilt,
            self.surface_azimuth,
            self.transposition,
            self.albedo,
            self.losses_percent,
            self.temperature_model,
        )

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


@dataclass(frozen=True)
class CECArray:
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
        _check_common(
            self.surface_tilt,
            self.surface_azimuth,
            self.transposition,
            self.albedo,
            self.losses_percent,
            self.temperature_model,
        )
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

    Returns
    -------
    dict of numpy.ndarray
        ``poa_global`` [W/m^2], ``temp_cell`` [°C], ``p_dc`` (after DC losses, >= 0) [W],
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
    Follows :meth:`pvlib.modelchain.ModelChain.with_pvwatts` (see the module docstring);
    for a CEC array the DC model is the CEC single-diode model.
    """
    from pvlib import atmosphere, iam, irradiance, temperature
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

    airmass = None
    if array.transposition == "perez":
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
        iam_beam = iam.physical(aoi)
    poa_global = np.nan_to_num(np.asarray(total["poa_global"], dtype=float))
    poa_direct = np.nan_to_num(np.asarray(total["poa_direct"], dtype=float))
    poa_diffuse = np.nan_to_num(np.asarray(total["poa_diffuse"], dtype=float))
    # Irradiance cannot be negative (transposition models can dip below 0 near sunset).
    poa_global = np.maximum(poa_global, 0.0)
    effective = np.maximum(poa_direct * np.nan_to_num(iam_beam) + poa_diffuse, 0.0)

    t = _temperature(array.temperature_model)
    temp_cell = np.asarray(
        temperature.sapm_cell(poa_global, temp_air, wind_speed, t.a, t.b, t.deltaT), dtype=float
    )

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
    p_dc = np.maximum(np.nan_to_num(p_dc) * _losses_fraction(array.losses_percent), 0.0)
    solar = poa_global * array.area * dt
    # Guard: a DC yield above the incident energy would be unphysical (possible only with
    # extreme temperature coefficients or parameters); clip it.
    dc = np.minimum(p_dc * dt, solar)
    p_dc = np.where(dc < p_dc * dt, dc / dt, p_dc)
    return {
        "poa_global": poa_global,
        "temp_cell": temp_cell,
        "p_dc": p_dc,
        "v_dc": v_dc,
        "solar": solar,
        "dc": dc,
    }
