"""Heat pumps from hplib, and a weather-compensated heating curve.

Performance comes from hplib's fitted models (Keymark test data): for a source temperature
``t_source`` [°C] and a supply (flow) temperature ``t_flow`` [°C]

    cop  = p1 * t_source + p2 * t_flow + p3 + p4 * t_amb
    p_el = p_el_ref * (p1' * t_source + p2' * t_flow + p3' + p4' * t_amb)
    p_th = p_el * cop

with hplib's parameter sets per model (``t_amb = t_source`` for air/water heat pumps). This
module only calls hplib; it adds a low-temperature cut-off, the choice to keep or drop
hplib's heating rod (``cop <= 1``) and the EN 14825 part-load rule of
:meth:`HeatPumpModel.electric_power` (:mod:`~homesim.devices.models.heatpump_partload`).

References
----------
Schwarz, J., Tiedemann, T., Lehmann, S. et al. hplib -- heat pump library, FZJ IEK-3,
https://github.com/FZJ-IEK3-VSA/hplib (version 1.9), fitted on the Heat Pump Keymark
database and EN 14825 test conditions.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from .heatpump_partload import CD_DEFAULT, check_cd, part_load_electric

if TYPE_CHECKING:  # pandas is imported lazily, with hplib
    import pandas as pd

__all__ = [
    "GENERIC",
    "Performance",
    "HeatPumpModel",
    "heating_curve",
    "model_names",
]

GENERIC = "Generic"
"""Model name of hplib's generic (group-average) heat pumps."""

_REFERENCE_T_SOURCE = {1: -7.0, 2: 0.0, 3: 10.0, 4: -7.0, 5: 0.0, 6: 10.0}
"""hplib's reference source temperature per group (air -7, brine 0, water 10 °C) [°C]."""
_REFERENCE_T_FLOW = 52.0
"""hplib's reference supply temperature [°C]."""
_REFERENCE_T_AMB = -7.0
"""Ambient air temperature hplib assumes for brine and water sources [°C]."""
_AIR_GROUPS = (1, 4)
_ON_OFF_GROUPS = (4, 5, 6)
_POWER_TOLERANCE = 1e-6
"""Absolute rounding tolerance when checking a thermal power against p_th_max [W]."""


@lru_cache(maxsize=1)
def model_names() -> tuple[str, ...]:
    """Names of the Keymark heat pumps in hplib's database (without ``"Generic"``).

    Returns
    -------
    tuple of str
        Exact ``Model`` strings accepted by :class:`HeatPumpModel`, in database order.
    """
    import hplib.hplib as hpl  # lazy: pandas and scipy are heavy to import

    names = hpl.load_database()["Model"].astype(str).tolist()
    return tuple(dict.fromkeys(n for n in names if n != GENERIC))


@lru_cache(maxsize=64)
def _hplib_parameters(model: str, group_id: int, p_th_ref: float) -> pd.DataFrame:
    """hplib's parameter row (cached: hplib re-reads its CSV, and fits Generic models)."""
    import hplib.hplib as hpl

    if model == GENERIC:
        return hpl.get_parameters(
            GENERIC,
            group_id=group_id,
            t_in=_REFERENCE_T_SOURCE[group_id],
            t_out=_REFERENCE_T_FLOW,
            p_th=p_th_ref,
        )
    return hpl.get_parameters(model)


@dataclass(frozen=True)
class Performance:
    """Full-load performance of a heat pump at given temperatures.

    Attributes
    ----------
    p_th_max : numpy.ndarray
        Thermal output at full load [W] (0 when cut off).
    p_el_max : numpy.ndarray
        Electrical input at full load [W] (0 when cut off).
    cop : numpy.ndarray
        Coefficient of performance ``p_th_max / p_el_max`` [-] (0 when cut off).
    rod : numpy.ndarray or None
        Where hplib runs its electric heating rod instead of the compressor (its fitted COP
        would be <= 1: ``p_th_max == p_el_max == p_th_ref``, ``cop == 1``) [bool]; None
        when not given (no rod anywhere).
    """

    p_th_max: np.ndarray
    p_el_max: np.ndarray
    cop: np.ndarray
    rod: np.ndarray | None = None


class HeatPumpModel:
    """A heat pump from hplib's database, or one of hplib's generic group averages.

    Parameters
    ----------
    model : str, default "Generic"
        Exact ``Model`` string of a Keymark heat pump in hplib's database (see
        :func:`model_names`), or ``"Generic"``.
    group_id : int, default 1
        Only for ``"Generic"``: 1 air/water, 2 brine/water, 3 water/water (regulated, i.e.
        inverter); 4, 5, 6 the same sources with on/off compressors. Ignored for named models
        (their group comes from the database, see :attr:`group_id`).
    p_th_ref : float or None, default None
        Only for ``"Generic"`` (required there): thermal output [W] at hplib's reference point,
        source -7 °C (air), 0 °C (brine) or 10 °C (water), supply 52 °C, ambient -7 °C. hplib
        fits its own reference power to match it, see :attr:`p_th_ref`.
    t_cutoff : float, default -20.0
        Source temperature [°C] below which the heat pump does not run.
    modulation_min : float, default 0.3
        Lowest continuous part load as a fraction of ``p_th_max`` [-], in ``(0, 1]``; below
        it the heat pump cycles on and off.
    delta_t : float, default 5.0
        Temperature rise across the condenser [K], > 0: the return (secondary inlet) is
        ``t_flow - delta_t``.
    cd : float, default 0.9
        EN 14825 degradation coefficient [-] in ``(0, 1]`` for cycling below
        ``modulation_min`` (1 = no cycling loss; 0.9 is the standard's default for
        water-based heat pumps), see :meth:`electric_power`.
    heating_rod : bool, default True
        hplib's behaviour where its fitted COP is <= 1: an electric heating rod gives
        ``p_th_ref`` at COP 1. False: the heat pump is off there instead.

    Raises
    ------
    ValueError
        If ``model`` is unknown (the message lists up to 5 close matches), if
        ``p_th_ref`` is missing for ``"Generic"`` or given for a named model, if
        ``group_id`` is not 1, 2, 4, 5 or 6 for ``"Generic"`` (hplib 1.9 ships no
        parameters for generic group 3), or if a parameter is out of range.

    Notes
    -----
    hplib's model for regulated heat pumps follows EN 14825 test conditions, so its thermal
    output is the declared output at those conditions, not a compressor limit: it need not
    rise with the source temperature. Where hplib's COP would be <= 1 it switches to its
    electric heating rod (``cop = 1``, ``p_el = p_th = p_th_ref``); this is kept as is
    (``heating_rod=True``, :attr:`Performance.rod` marks it) or turned off. On/off groups
    (4-6) cycle at any part load: their ``modulation_min`` is taken as 1.
    """

    def __init__(
        self,
        model: str = GENERIC,
        group_id: int = 1,
        p_th_ref: float | None = None,
        t_cutoff: float = -20.0,
        modulation_min: float = 0.3,
        delta_t: float = 5.0,
        cd: float = CD_DEFAULT,
        heating_rod: bool = True,
    ) -> None:
        if not isinstance(model, str):
            raise ValueError(f"model: must be a string, got {model!r}")
        if not math.isfinite(t_cutoff):
            raise ValueError(f"t_cutoff: must be a finite temperature [°C], got {t_cutoff}")
        if not 0.0 < modulation_min <= 1.0:
            raise ValueError(f"modulation_min: must be in (0, 1], got {modulation_min}")
        if not (math.isfinite(delta_t) and delta_t > 0.0):
            raise ValueError(f"delta_t: must be > 0 K, got {delta_t}")
        self.cd = check_cd(cd)
        self.heating_rod = bool(heating_rod)
        if model == GENERIC:
            if isinstance(group_id, bool) or group_id not in (1, 2, 4, 5, 6):
                raise ValueError(
                    f"group_id: must be 1, 2, 4, 5 or 6 for {GENERIC!r} (hplib has no "
                    f"generic parameters for group 3), got {group_id!r}"
                )
            if p_th_ref is None:
                raise ValueError(f"p_th_ref: required for {GENERIC!r} [W]")
            if not (math.isfinite(p_th_ref) and p_th_ref > 0.0):
                raise ValueError(f"p_th_ref: must be > 0 W, got {p_th_ref}")
            params = _hplib_parameters(GENERIC, int(group_id), float(p_th_ref))
        else:
            if p_th_ref is not None:
                raise ValueError(
                    f"p_th_ref: only for {GENERIC!r}; {model!r} has its rated output in the "
                    f"database"
                )
            names = model_names()
            if model not in names:
                close = difflib.get_close_matches(model, names, n=5, cutoff=0.5)
                hint = ", ".join(repr(c) for c in close) if close else "none"
                raise ValueError(f"model: unknown heat pump {model!r}; close matches: {hint}")
            params = _hplib_parameters(model, 0, 0.0)

        import hplib.hplib as hpl

        self._hp = hpl.HeatPump(params)
        # hplib evaluates its fit at t_out = t_in_secondary + delta_t: use ours, so that the
        # fit is evaluated at the requested supply temperature.
        self._hp.delta_t = float(delta_t)
        self.model = model
        self.group_id = int(self._hp.group_id)
        self.p_th_ref = float(self._hp.p_th_ref)
        self.t_cutoff = float(t_cutoff)
        # an on/off compressor has no continuous part load: it cycles below full load
        self.modulation_min = 1.0 if self.group_id in _ON_OFF_GROUPS else float(modulation_min)
        self.delta_t = float(delta_t)

    def __repr__(self) -> str:
        return (
            f"HeatPumpModel(model={self.model!r}, group_id={self.group_id}, "
            f"p_th_ref={self.p_th_ref:.1f})"
        )

    @property
    def air_source(self) -> bool:
        """Whether the source is outdoor air (groups 1 and 4)."""
        return self.group_id in _AIR_GROUPS

    def performance(
        self,
        t_source: np.ndarray,
        t_flow: np.ndarray,
        t_amb: np.ndarray | float | None = None,
    ) -> Performance:
        """Full-load performance from hplib.

        Parameters
        ----------
        t_source : array_like
            Source (primary inlet) temperature [°C]: outdoor air for air/water, brine or
            water inlet otherwise.
        t_flow : array_like
            Supply (flow, secondary outlet) temperature [°C]; the return is
            ``t_flow - delta_t``.
        t_amb : array_like or None, default None
            Outdoor air temperature [°C], used by hplib for brine and water sources only;
            ``None`` means hplib's reference -7 °C. Ignored for air sources (``t_source``).

        Returns
        -------
        Performance
            Arrays of the broadcast shape of the inputs. Where ``t_source < t_cutoff`` all
            three are 0 (compressor and rod off); where hplib's fitted COP is <= 1 they are
            hplib's heating-rod values (``rod`` True), or 0 with ``heating_rod=False``.
        """
        ts, tf = np.broadcast_arrays(
            np.asarray(t_source, dtype=float), np.asarray(t_flow, dtype=float)
        )
        shape = ts.shape
        ts = ts.ravel().copy()
        tf = tf.ravel().copy()
        if self.air_source or t_amb is None:
            ta = ts.copy() if self.air_source else np.full_like(ts, _REFERENCE_T_AMB)
        else:
            ta = np.broadcast_to(np.asarray(t_amb, dtype=float), shape).ravel().copy()
        res = self._hp.simulate(ts, tf - self.delta_t, ta, mode=1)
        cop = np.broadcast_to(np.asarray(res["COP"], dtype=float), ts.shape)
        # hplib's rod: its COP <= 1 branch sets p_el = p_th = p_th_ref, so cop == 1 exactly
        # (a compressor's fitted COP there would be <= 1, never exactly this value by chance)
        off = ts < self.t_cutoff
        rod = (cop <= 1.0) & ~off
        if not self.heating_rod:
            off = off | rod
            rod = np.zeros_like(rod)

        def pick(key: str) -> np.ndarray:
            v = np.broadcast_to(np.asarray(res[key], dtype=float), ts.shape)
            return np.where(off, 0.0, v).reshape(shape)

        return Performance(p_th_max=pick("P_th"), p_el_max=pick("P_el"), cop=pick("COP"),
                           rod=rod.reshape(shape))

    def electric_power(self, p_th: np.ndarray, perf: Performance) -> np.ndarray:
        """Electrical input for a thermal output at or below full load.

        Parameters
        ----------
        p_th : array_like
            Thermal output [W], in ``[0, perf.p_th_max]``.
        perf : Performance
            Full-load performance at the same temperatures (:meth:`performance`).

        Returns
        -------
        numpy.ndarray
            Electrical input ``p_th / cop`` [W] (0 where ``p_th`` is 0).

        Raises
        ------
        ValueError
            If ``p_th`` is not finite, negative, or above ``p_th_max`` by more than rounding.

        Notes
        -----
        Between ``modulation_min * p_th_max`` and ``p_th_max`` the compressor modulates at
        the full-load COP (modulation effects on the COP are not modelled); below it cycles
        on and off at ``modulation_min`` with EN 14825's degradation (``cd``,
        :func:`~homesim.devices.models.heatpump_partload.part_load_electric`). On the
        heating rod (``cop == 1``) electricity equals heat.
        """
        q = np.asarray(p_th, dtype=float)
        p_max = np.asarray(perf.p_th_max, dtype=float)
        cop = np.asarray(perf.cop, dtype=float)
        if not np.all(np.isfinite(q)):
            raise ValueError("p_th: must be finite [W]")
        if np.any(q < 0.0):
            raise ValueError(f"p_th: must be >= 0 W, got min {q.min()}")
        excess = q - (p_max * (1.0 + 1e-9) + _POWER_TOLERANCE)
        if np.any(excess > 0.0):
            raise ValueError(
                f"p_th: exceeds p_th_max by up to {float(np.max(excess)):.6g} W"
            )
        q, p_max, cop = np.broadcast_arrays(q, p_max, cop)
        # cop is 0 only when cut off, where p_th_max (hence p_th) is 0: no division by zero.
        return part_load_electric(q, p_max, cop, self.modulation_min, self.cd)


def heating_curve(
    temp_air: np.ndarray,
    t_flow_design: float = 55.0,
    temp_air_design: float = -10.0,
    temp_room: float = 20.0,
    exponent: float = 1.3,
    t_flow_min: float = 25.0,
) -> np.ndarray:
    """Weather-compensated supply (flow) temperature.

    The heat demand of the building falls linearly with the outdoor temperature and reaches
    its design value at ``temp_air_design``; the emitters deliver heat following the EN 442
    characteristic ``Q / Q_design = (dT / dT_design) ** exponent``, with ``dT`` the excess of
    the emitter temperature over the room. Equating both and taking the flow temperature as
    the emitter temperature gives

        x      = (temp_room - temp_air) / (temp_room - temp_air_design),  clipped to [0, 1]
        t_flow = temp_room + (t_flow_design - temp_room) * x ** (1 / exponent)

    clipped to ``[t_flow_min, t_flow_design]``. Colder than design stays at
    ``t_flow_design`` (no extrapolation).

    Parameters
    ----------
    temp_air : array_like
        Outdoor air temperature [°C] (often a daily or smoothed mean).
    t_flow_design : float, default 55.0
        Supply temperature at the design outdoor temperature [°C], > ``temp_room``.
    temp_air_design : float, default -10.0
        Design outdoor temperature [°C], < ``temp_room``.
    temp_room : float, default 20.0
        Room set temperature [°C].
    exponent : float, default 1.3
        Emitter exponent n [-], > 0 (radiators ~1.3, floor heating ~1.1).
    t_flow_min : float, default 25.0
        Lowest supply temperature [°C], <= ``t_flow_design``.

    Returns
    -------
    numpy.ndarray
        Supply temperature [°C], same shape as ``temp_air``.

    Raises
    ------
    ValueError
        If a parameter is out of range.

    References
    ----------
    EN 442-2:2014, Radiators and convectors -- Test methods and rating (characteristic
    equation, exponent n). The same heating-curve form (without oversizing) is used in
    DIN V 4701-10:2003, section 5.
    """
    if not exponent > 0.0:
        raise ValueError(f"exponent: must be > 0, got {exponent}")
    if not temp_air_design < temp_room:
        raise ValueError(
            f"temp_air_design: must be < temp_room ({temp_room} °C), got {temp_air_design}"
        )
    if not t_flow_design > temp_room:
        raise ValueError(
            f"t_flow_design: must be > temp_room ({temp_room} °C), got {t_flow_design}"
        )
    if not t_flow_min <= t_flow_design:
        raise ValueError(
            f"t_flow_min: must be <= t_flow_design ({t_flow_design} °C), got {t_flow_min}"
        )
    ta = np.asarray(temp_air, dtype=float)
    x = np.clip((temp_room - ta) / (temp_room - temp_air_design), 0.0, 1.0)
    t_flow = temp_room + (t_flow_design - temp_room) * x ** (1.0 / exponent)
    return np.clip(t_flow, t_flow_min, t_flow_design)
