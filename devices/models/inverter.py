"""Hybrid inverter: DC→AC conversion and the home's tick-by-tick energy allocation.

The inverter is the home's balancing device. Per tick it decides where the PV energy goes
and where the load's energy comes from, given the battery's envelope and the grid's limits.
Everything is in joules per tick [J] on the AC bus of the home:

    sources: pv_ac (PV after DC→AC conversion), battery_discharge, grid_import
    sinks:   to_load, battery_charge, grid_export

so that per tick ``pv_dc_used + battery_discharge + grid_import == to_load + battery_charge +
grid_export + inverter_losses`` with ``inverter_losses = pv_dc_used - pv_ac``. Battery flows
are counted at the battery terminals (their conversion losses belong to the battery).

References
----------
Dobos, A. P. (2014). PVWatts Version 5 Manual. NREL/TP-6A20-62641. :doi:`10.2172/1158421`
(inverter efficiency curve, :func:`pvlib.inverter.pvwatts`).

King, D. L., Gonzalez, S., Galbraith, G. M. and Boyson, W. E. (2007). Performance Model for
Grid-Connected Photovoltaic Inverters. SAND2007-5036. :doi:`10.2172/920449`
(:func:`pvlib.inverter.sandia`, with CEC inverter parameters).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .battery import (
    BatteryEnvelope,
    max_charge,
    max_discharge,
    storage_step,
)
from .dispatch import dispatch
from .pv import lookup_sam
from .schedule import (
    WindowSpec,
    in_windows,
    parse_windows,
    resolve_tz,
)

__all__ = [
    "MODES",
    "Allocation",
    "InverterSettings",
    "allocate",
    "pv_ac",
    "pv_dc_for_ac",
    "reserve_energy",
]

MODES = ("self_consumption", "time_of_use", "backup")
EFFICIENCY_MODELS = ("pvwatts", "cec")

# Coefficients of the PVWatts efficiency curve (Dobos 2014, eq. 10, as in
# pvlib.inverter.pvwatts): eta = eta_nom / eta_ref * (-0.0162 z - 0.0059 / z + 0.9858).
_PVW_A, _PVW_B, _PVW_C = 0.0162, 0.0059, 0.9858


@dataclass(frozen=True)
class InverterSettings:
    """Rating, efficiency model and operating strategy of a hybrid inverter.

    Attributes
    ----------
    p_ac_max : float
        AC rating [W], > 0. For ``'cec'`` the limit is ``min(p_ac_max, Paco)``.
    efficiency_model : {'pvwatts', 'cec'}, default 'pvwatts'
        ``'pvwatts'``: :func:`pvlib.inverter.pvwatts` with ``pdc0 = p_ac_max / eta_inv_nom``;
        ``'cec'``: :func:`pvlib.inverter.sandia` with the parameters of ``inverter``.
    eta_inv_nom : float, default 0.96
        Nominal efficiency (PVWatts) [-], in ``(0, 1]``.
    eta_inv_ref : float, default 0.9637
        Reference efficiency of the PVWatts curve [-], in ``(0, 1]``.
    inverter : str or None, default None
        Inverter name in pvlib's CEC table (``retrieve_sam('cecinverter')``), required for
        ``'cec'``.
    mode : {'self_consumption', 'time_of_use', 'backup'}, default 'self_consumption'
        Operating strategy (see :func:`allocate`).
    reserve_soc : float, default 0.2
        State of charge kept for outages [-], in ``[0, 1]``: while the grid is up the battery
        is not discharged below ``max(e_min, reserve_soc * capacity)``
        (see :func:`reserve_energy`).
    charge_windows, discharge_windows : iterable of window specifications, default ()
        Local-time windows ``("HH:MM", "HH:MM")`` or mappings ``{start, end, days}``; may wrap
        midnight. Stored as tuples of :class:`~homesim.devices.models.schedule.DailyWindow`.
    grid_charge_power : float, default 0.0
        Power drawn from the grid to charge the battery inside charge windows
        (``'time_of_use'`` and ``'backup'``) [W], >= 0.
    tz : str, default 'UTC'
        Time zone of the windows.

    Raises
    ------
    ValueError
        On a value out of range (the message names the field), an unknown time zone, a
        malformed window, or an unknown CEC inverter (with close matches).
    """

    p_ac_max: float
    efficiency_model: str = "pvwatts"
    eta_inv_nom: float = 0.96
    eta_inv_ref: float = 0.9637
    inverter: str | None = None
    mode: str = "self_consumption"
    reserve_soc: float = 0.2
    charge_windows: Iterable[WindowSpec] = ()
    discharge_windows: Iterable[WindowSpec] = ()
    grid_charge_power: float = 0.0
    tz: str = "UTC"
    _cec: dict[str, float] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.p_ac_max > 0:
            raise ValueError(f"p_ac_max: must be > 0 W, got {self.p_ac_max}")
        if self.efficiency_model not in EFFICIENCY_MODELS:
            raise ValueError(
                f"efficiency_model: must be one of {EFFICIENCY_MODELS}, "
                f"got {self.efficiency_model!r}"
            )
        for name in ("eta_inv_nom", "eta_inv_ref"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ValueError(f"{name}: must be in (0, 1], got {getattr(self, name)}")
        if self.mode not in MODES:
            raise ValueError(f"mode: must be one of {MODES}, got {self.mode!r}")
        if not 0.0 <= self.reserve_soc <= 1.0:
            raise ValueError(f"reserve_soc: must be in [0, 1], got {self.reserve_soc}")
        if not self.grid_charge_power >= 0.0:
            raise ValueError(f"grid_charge_power: must be >= 0 W, got {self.grid_charge_power}")
        resolve_tz(self.tz)
        for name in ("charge_windows", "discharge_windows"):
            try:
                object.__setattr__(self, name, parse_windows(getattr(self, name)))
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
        if self.efficiency_model == "cec":
            if not self.inverter:
                raise ValueError("inverter: a CEC inverter name is required for model 'cec'")
            params = lookup_sam("cecinverter", self.inverter, "inverter")
            keys = ("Paco", "Pdco", "Vdco", "Pso", "C0", "C1", "C2", "C3", "Pnt")
            object.__setattr__(self, "_cec", {k: float(params[k]) for k in keys})

    @property
    def ac_limit(self) -> float:
        """AC output limit [W]: ``p_ac_max``, or ``min(p_ac_max, Paco)`` for ``'cec'``."""
        if self._cec is not None:
            return min(self.p_ac_max, self._cec["Paco"])
        return float(self.p_ac_max)

    @property
    def pdc0(self) -> float:
        """DC input rating of the PVWatts curve ``p_ac_max / eta_inv_nom`` [W]."""
        return self.p_ac_max / self.eta_inv_nom

    @property
    def cec_parameters(self) -> dict[str, float] | None:
        """Sandia/CEC parameters of the inverter (``'cec'`` only)."""
        return None if self._cec is None else dict(self._cec)


def pv_ac(settings: InverterSettings, p_dc: np.ndarray, v_dc: np.ndarray | None) -> np.ndarray:
    """AC power from PV DC power, with clipping at the AC limit.

    Parameters
    ----------
    settings : InverterSettings
        Inverter.
    p_dc : array_like
        DC input power [W], >= 0.
    v_dc : array_like or None
        DC input voltage [V]; used by ``'cec'`` only, where NaN (or ``None``) means the
        inverter's nominal ``Vdco``.

    Returns
    -------
    numpy.ndarray
        AC output [W], in ``[0, min(p_dc, ac_limit)]``. The night tare ``Pnt`` of the Sandia
        model is not modelled (output clipped at 0).

    Notes
    -----
    ``'pvwatts'``: :func:`pvlib.inverter.pvwatts` (Dobos 2014) with
    ``pdc0 = p_ac_max / eta_inv_nom``; ``'cec'``: :func:`pvlib.inverter.sandia`
    (King et al. 2007).
    """
    from pvlib import inverter

    p = np.atleast_1d(np.asarray(p_dc, dtype=float))
    # Tiny inputs overflow the PVWatts 1/zeta term; the result is clipped to 0 below.
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        if settings._cec is None:
            ac = inverter.pvwatts(p, settings.pdc0, settings.eta_inv_nom, settings.eta_inv_ref)
        else:
            v = _voltage(settings, v_dc, p.shape)
            ac = inverter.sandia(v, p, settings._cec)
    ac = np.nan_to_num(np.asarray(ac, dtype=float))  # as ModelChain: no output is 0
    # Guards: no negative output (Sandia night tare), no output above the rating (rounding of
    # pac0 = eta * pdc0) and an efficiency of at most 1.
    return np.minimum(np.maximum(ac, 0.0), np.minimum(np.maximum(p, 0.0), settings.ac_limit))


def _voltage(
    settings: InverterSettings, v_dc: np.ndarray | None, shape: tuple[int, ...]
) -> np.ndarray:
    vdco = settings._cec["Vdco"] if settings._cec is not None else np.nan
    if v_dc is None:
        return np.full(shape, vdco)
    v = np.broadcast_to(np.asarray(v_dc, dtype=float), shape)
    return np.where(np.isfinite(v), v, vdco)


def pv_dc_for_ac(
    settings: InverterSettings, p_ac: np.ndarray, v_dc: np.ndarray | None
) -> np.ndarray:
    """Smallest DC power that yields a given AC power (inverse of :func:`pv_ac`).

    Parameters
    ----------
    settings : InverterSettings
        Inverter.
    p_ac : array_like
        AC output [W], in ``[0, ac_limit]``.
    v_dc : array_like or None
        DC voltage [V] (``'cec'`` only; NaN or ``None`` = ``Vdco``).

    Returns
    -------
    numpy.ndarray
        DC input [W], >= ``p_ac``; 0 where ``p_ac <= 0``.

    Notes
    -----
    Both efficiency curves are quadratic in the DC power, so the inverse is closed-form
    (the root on the rising branch, written in the cancellation-free form
    ``x = 2 y / (b + sqrt(b**2 - 4 a y))``).
    """
    ac = np.atleast_1d(np.asarray(p_ac, dtype=float))
    if settings._cec is None:
        pdc0 = settings.pdc0
        # (eta_ref / eta_nom) * ac = -A p^2 / pdc0 + C p - B pdc0
        y = ac * settings.eta_inv_ref / settings.eta_inv_nom + _PVW_B * pdc0
        a = _PVW_A / pdc0
        disc = np.maximum(_PVW_C * _PVW_C - 4.0 * a * y, 0.0)
        dc = 2.0 * y / (_PVW_C + np.sqrt(disc))
    else:
        p = settings._cec
        v = _voltage(settings, v_dc, ac.shape)
        big_a = p["Pdco"] * (1.0 + p["C1"] * (v - p["Vdco"]))
        big_b = p["Pso"] * (1.0 + p["C2"] * (v - p["Vdco"]))
        big_c = p["C0"] * (1.0 + p["C3"] * (v - p["Vdco"]))
        k1 = p["Paco"] / (big_a - big_b) - big_c * (big_a - big_b)
        # ac = k1 x + C x^2 with x = p_dc - B
        disc = np.maximum(k1 * k1 + 4.0 * big_c * ac, 0.0)
        dc = big_b + 2.0 * ac / (k1 + np.sqrt(disc))
    return np.where(ac > 0.0, np.maximum(dc, ac), 0.0)


def reserve_energy(settings: InverterSettings, battery: BatteryEnvelope) -> float:
    """Energy kept for outages: ``min(max(e_min, reserve_soc * capacity), e_max)`` [J].

    ``capacity`` is :attr:`BatteryEnvelope.nominal` (``capacity``, else ``e_max``), so
    ``reserve_soc`` is a state of charge like the battery's ``soc_min`` / ``soc_max``.
    """
    return min(max(battery.e_min, settings.reserve_soc * battery.nominal), battery.e_max)


@dataclass(frozen=True)
class Allocation:
    """Result of :func:`allocate`: energy per tick [J] (arrays of length ``n``).

    Attributes
    ----------
    pv_dc_used : numpy.ndarray
        PV DC energy drawn by the inverter [J].
    pv_ac : numpy.ndarray
        AC energy from PV [J].
    inverter_losses : numpy.ndarray
        ``pv_dc_used - pv_ac`` [J], >= 0.
    to_load : numpy.ndarray
        Load energy served [J].
    unserved : numpy.ndarray
        Load energy not served (shed) [J].
    battery_charge, battery_discharge : numpy.ndarray
        Energy into / out of all batteries together [J], at their points of coupling
        (terminals of DC-coupled batteries, AC side of AC-coupled ones).
    grid_import, grid_export : numpy.ndarray
        Energy from / to the grid [J].
    curtailed_dc : numpy.ndarray
        PV DC energy not drawn, ``pv_dc - pv_dc_used`` (curtailment and inverter clipping)
        [J].
    battery_energy : numpy.ndarray
        Stored battery energy at the end of each tick [J], all batteries together (zeros
        without a battery).
    battery_charges, battery_discharges, battery_energies : numpy.ndarray
        The same per battery, shape ``(n, m)`` for ``m`` batteries in the order of the
        envelopes given (column ``i``: battery ``i``) [J].
    ac_in_used : numpy.ndarray
        AC energy taken from the AC-coupled sources (PV inverters), shape ``(n, s)`` for
        ``s`` sources in the order given (column ``j``: source ``j``) [J]; ``(n, 0)``
        without.
    """

    pv_dc_used: np.ndarray
    pv_ac: np.ndarray
    inverter_losses: np.ndarray
    to_load: np.ndarray
    unserved: np.ndarray
    battery_charge: np.ndarray
    battery_discharge: np.ndarray
    grid_import: np.ndarray
    grid_export: np.ndarray
    curtailed_dc: np.ndarray
    battery_energy: np.ndarray
    battery_charges: np.ndarray
    battery_discharges: np.ndarray
    battery_energies: np.ndarray
    ac_in_used: np.ndarray


def _per_tick(name: str, value: float | np.ndarray, n: int) -> np.ndarray:
    a = np.asarray(value, dtype=float)
    if a.ndim == 0:
        a = np.full(n, float(a))
    if a.shape != (n,):
        raise ValueError(f"{name}: expected {n} values (one per tick), got shape {a.shape}")
    if not np.all(np.isfinite(a)) or np.any(a < 0.0):
        raise ValueError(f"{name}: must be finite and >= 0 J")
    return a


def allocate(
    settings: InverterSettings,
    dt: float,
    times: np.ndarray,
    pv_dc: np.ndarray,
    v_dc: np.ndarray | None,
    load: np.ndarray,
    import_max: float | np.ndarray,
    export_max: float | np.ndarray,
    battery: BatteryEnvelope | Sequence[BatteryEnvelope] | None,
    ac_in: Sequence[np.ndarray] | np.ndarray | None = None,
) -> Allocation:
    """Allocate PV, battery and grid energy to the load, tick by tick.

    Parameters
    ----------
    settings : InverterSettings
        Inverter rating, efficiency model and mode.
    dt : float
        Tick length [s], > 0.
    times : array_like
        Tick starts, seconds since the Unix epoch (UTC) [s]; schedules use their local time.
    pv_dc : array_like
        PV DC energy available per tick [J], >= 0.
    v_dc : array_like or None
        PV DC voltage [V] (``'cec'`` only; NaN or ``None`` = the inverter's ``Vdco``).
    load : array_like
        Load energy demanded per tick [J], >= 0.
    import_max, export_max : float or array_like
        Grid import / export limits per tick [J], >= 0. A tick with both equal to 0 is
        *islanded* (grid unavailable).
    battery : BatteryEnvelope, sequence of BatteryEnvelope, or None
        Battery envelope(s) at the start of the first tick; ``None`` or ``[]`` = no battery.
        Several batteries (DC- or AC-coupled) are dispatched together by the rule of
        :mod:`homesim.devices.models.dispatch`.
    ac_in : sequence of array_like, array of shape (s, n), or None
        AC energy each AC-coupled source (a PV inverter beside this one) can deliver per tick
        [J], >= 0, already converted and clipped by its own inverter: it reaches the AC bus
        without this inverter's conversion or rating. ``None`` or ``[]`` = none.

    Returns
    -------
    Allocation

    Raises
    ------
    ValueError
        If ``dt <= 0`` or an input has the wrong length, is negative or not finite.

    Notes
    -----
    Rules, per tick:

    * PV AC serves the load first. Surplus charges the battery, then is exported up to
      ``export_max``; the rest is curtailed (``pv_dc_used`` reduced, through the inverse
      efficiency curve, to what yields the used AC energy). Inverter clipping counts as
      curtailment too.
    * A deficit is covered by the battery down to its floor, then by grid import up to
      ``import_max``; the rest is ``unserved``. The floor is ``e_min`` when islanded, and the
      reserve (:func:`reserve_energy`) when the grid is up, in these modes:

      - ``'self_consumption'``: discharge to cover load; charge windows are ignored.
      - ``'time_of_use'``: inside charge windows no discharge, and the battery also charges
        from the grid at up to ``grid_charge_power``; a tick inside both a charge and a
        discharge window counts as a discharge tick. When discharge windows are given, the
        battery discharges (to the reserve) only inside them, so it is held for the peak;
        without discharge windows it discharges everywhere outside the charge windows.
      - ``'backup'``: no discharge while the grid is up (charges from PV surplus and, inside
        charge windows, from the grid at up to ``grid_charge_power``).

    * The inverter's AC output ``pv_ac + battery_discharge`` and the battery charge are each
      limited to ``ac_limit * dt`` (DC-coupled batteries together; an AC-coupled battery has
      its own converter and rating instead); each battery also respects its own power
      limits, and each has its own reserve.
    * AC-coupled sources count as PV AC: they serve the load, charge the batteries and are
      exported like this inverter's own PV AC. Where less PV AC is used than is available
      (curtailment), every source (this inverter's PV and each AC-coupled one) gives the same
      fraction of what it could; elsewhere each gives all it can.
    * The battery state is advanced with :func:`~homesim.devices.models.battery.storage_step`,
      so it stays within ``[e_min, e_max]`` exactly and a battery device applying the same
      charge/discharge reaches bit-identical energies.

    Tick ``k`` depends only on inputs of ticks ``<= k`` and the battery energy carried in, so
    allocating a series in one call or in consecutive windows (passing the last
    ``battery_energy`` on) gives identical results.
    """
    if not dt > 0:
        raise ValueError(f"dt: must be > 0 s, got {dt}")
    t = np.atleast_1d(np.asarray(times, dtype=float))
    n = t.shape[0]
    pv_dc = _per_tick("pv_dc", pv_dc, n)
    load = _per_tick("load", load, n)
    imp_max = _per_tick("import_max", import_max, n)
    exp_max = _per_tick("export_max", export_max, n)
    v = None if v_dc is None else np.broadcast_to(np.asarray(v_dc, dtype=float), (n,))

    cap = settings.ac_limit * dt
    # --- everything that does not depend on the battery state, vectorised ------------------
    pv_ac_full = pv_ac(settings, pv_dc / dt, v) * dt
    pv_ac_full = np.minimum(pv_ac_full, cap)
    islanded = (imp_max <= 0.0) & (exp_max <= 0.0)
    sources = ([] if ac_in is None else
               [_per_tick(f"ac_in[{j}]", x, n) for j, x in enumerate(ac_in)])
    if sources:
        # the AC-coupled sources serve the load first; the rest of the load and their surplus
        # go through the allocation below as if they were this inverter's PV AC. Their surplus
        # is 0 in every deficit tick, so the battery's discharge headroom (cap − PV AC of this
        # inverter) stays right.
        ac_total = np.sum(sources, axis=0)
        ac_served = np.minimum(ac_total, load)
        load_in, pv_in = load - ac_served, pv_ac_full + (ac_total - ac_served)
    else:
        load_in, pv_in = load, pv_ac_full

    if battery is None:
        batteries: list[BatteryEnvelope] = []
    elif isinstance(battery, BatteryEnvelope):
        batteries = [battery]
    else:
        batteries = list(battery)
    if not batteries:
        served = np.minimum(pv_in, load_in)
        surplus = pv_in - served
        export = np.minimum(surplus, exp_max)
        pv_used = served + export
        deficit = load_in - served
        imp = np.minimum(deficit, imp_max)
        unserved = deficit - imp
        to_load = served + imp
        zeros = np.zeros(n)
        charge = discharge = energy = zeros
        charges = discharges = energies = np.zeros((n, 0))
    else:
        mode = settings.mode
        grid_charging = (
            mode in ("time_of_use", "backup")
            and settings.grid_charge_power > 0.0
            and bool(settings.charge_windows)
        )
        in_cw = (
            in_windows(t, settings.tz, settings.charge_windows)
            if (mode != "self_consumption" and settings.charge_windows)
            else np.zeros(n, dtype=bool)
        )
        in_dw = (
            in_windows(t, settings.tz, settings.discharge_windows)
            if (mode == "time_of_use" and settings.discharge_windows)
            else np.zeros(n, dtype=bool)
        )
        if mode == "self_consumption":
            no_discharge = np.zeros(n, dtype=bool)
        elif mode == "time_of_use":
            # with discharge windows the battery is held for them (e.g. the evening peak);
            # without, it discharges everywhere except inside charge windows
            no_discharge = ~in_dw if settings.discharge_windows else in_cw
        else:  # backup
            no_discharge = np.ones(n, dtype=bool)
        floors = [np.where(islanded, b.e_min,
                           np.where(no_discharge, np.inf, reserve_energy(settings, b)))
                  for b in batteries]
        if grid_charging:
            cw_tick = in_cw & ~islanded
            if mode == "time_of_use":
                cw_tick &= ~in_dw
            grid_charge = np.where(cw_tick, settings.grid_charge_power * dt, 0.0)
        else:
            grid_charge = np.zeros(n)
        if len(batteries) == 1 and batteries[0].coupling == "dc":  # the fast path
            (pv_used, to_load, unserved, charge, discharge, imp, export, energy) = (
                _battery_loop(pv_in, load_in, imp_max, exp_max, floors[0], grid_charge,
                              batteries[0], dt, cap))
            charges, discharges, energies = (np.asarray(x, dtype=float).reshape(n, 1)
                                             for x in (charge, discharge, energy))
        else:
            (pv_used, to_load, unserved, imp, export, c2, d2, e2) = dispatch(
                pv_in, load_in, imp_max, exp_max, floors, grid_charge, batteries, dt, cap)
            charges, discharges, energies = c2.T, d2.T, e2.T
            charge, discharge, energy = c2.sum(axis=0), d2.sum(axis=0), e2.sum(axis=0)

    if sources:
        to_load = to_load + ac_served
        pv_used, ac_in_used = _share_pv(pv_used + ac_served, pv_used < pv_in, pv_ac_full,
                                        sources)
    else:
        ac_in_used = np.zeros((n, 0))
    # --- DC drawn for the AC used (curtailment and clipping), vectorised ---------------------
    reduce = (pv_used < pv_ac_full) | (pv_used >= cap)
    if np.any(reduce):
        dc_needed = pv_dc_for_ac(settings, pv_used / dt, v) * dt
        pv_dc_used = np.where(reduce, np.minimum(dc_needed, pv_dc), pv_dc)
    else:
        pv_dc_used = pv_dc.copy()
    pv_dc_used = np.maximum(pv_dc_used, pv_used)  # losses >= 0
    return Allocation(
        pv_dc_used=pv_dc_used,
        pv_ac=pv_used,
        inverter_losses=pv_dc_used - pv_used,
        to_load=to_load,
        unserved=unserved,
        battery_charge=np.asarray(charge, dtype=float),
        battery_discharge=np.asarray(discharge, dtype=float),
        grid_import=imp,
        grid_export=export,
        curtailed_dc=pv_dc - pv_dc_used,
        battery_energy=np.asarray(energy, dtype=float),
        battery_charges=charges,
        battery_discharges=discharges,
        battery_energies=energies,
        ac_in_used=ac_in_used,
    )


def _share_pv(
    used: np.ndarray, curtailed: np.ndarray, own: np.ndarray, sources: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Split the PV AC used per tick [J] over this inverter's PV AC (``own``) and the
    AC-coupled ``sources``: all of each (exactly) where nothing is ``curtailed``, else the
    same fraction of each.

    Returns ``(own_used, sources_used)`` with ``sources_used`` of shape ``(n, s)``.
    """
    avail = np.vstack([own, *sources])  # (1 + s, n)
    whole = avail.sum(axis=0)
    frac = np.divide(used, whole, out=np.zeros_like(used), where=whole > 0)
    part = np.where(curtailed, np.minimum(avail * frac, avail), avail)
    # the rounding remainder of a curtailed tick goes to its largest source (never beyond it)
    big = np.argmax(avail, axis=0)
    cols = np.arange(avail.shape[1])
    rest = used - (part.sum(axis=0) - part[big, cols])
    part[big, cols] = np.where(curtailed, np.clip(rest, 0.0, avail[big, cols]),
                               part[big, cols])
    return part[0], part[1:].T


def _battery_loop(
    pv_ac_full: np.ndarray,
    load: np.ndarray,
    imp_max: np.ndarray,
    exp_max: np.ndarray,
    floor: np.ndarray,
    grid_charge: np.ndarray,
    battery: BatteryEnvelope,
    dt: float,
    cap: float,
) -> tuple[np.ndarray, ...]:
    """The stateful part of :func:`allocate`: one pass of plain-float arithmetic per tick."""
    n = len(load)
    out_pv = [0.0] * n
    out_load = [0.0] * n
    out_uns = [0.0] * n
    out_c = [0.0] * n
    out_d = [0.0] * n
    out_imp = [0.0] * n
    out_exp = [0.0] * n
    out_e = [0.0] * n

    e = float(battery.energy)
    e_max = battery.e_max
    eta_c = battery.eta_charge
    eta_d = battery.eta_discharge
    c_lim = min(battery.p_charge_max * dt, cap)
    d_lim = battery.p_discharge_max * dt
    step = storage_step
    mcharge = max_charge
    mdischarge = max_discharge

    columns = zip(
        pv_ac_full.tolist(),
        load.tolist(),
        imp_max.tolist(),
        exp_max.tolist(),
        floor.tolist(),
        grid_charge.tolist(),
        strict=True,
    )
    for k, (pv, dem, im, xm, fl, gc) in enumerate(columns):
        c = 0.0
        d = 0.0
        x = 0.0
        imp = 0.0
        uns = 0.0
        if pv >= dem:  # surplus (or balance): charge, export, curtail
            served = dem
            to_load = dem
            surplus = pv - dem
            used = pv
            if surplus > 0.0:
                cmax = mcharge(e, e_max, c_lim, eta_c)
                c = surplus if surplus < cmax else cmax
                rest = surplus - c
                x = rest if rest < xm else xm
                if rest > x:
                    used = pv - (rest - x)
        else:  # deficit: battery down to its floor, then grid, then unserved
            served = pv
            used = pv
            deficit = dem - pv
            if e > fl:
                head = cap - pv
                dmax = mdischarge(e, fl, d_lim if d_lim < head else head, eta_d)
                d = deficit if deficit < dmax else dmax
                deficit -= d
            imp = deficit if deficit < im else im
            uns = deficit - imp
        to_load = served + d + imp
        if gc > 0.0:  # grid charging inside a charge window
            cmax = mcharge(e, e_max, c_lim, eta_c)
            g = cmax - c
            if gc < g:
                g = gc
            head = im - imp
            if head < g:
                g = head
            if g > 0.0:
                total = c + g
                if total > cmax:  # rounding of the sum must not overshoot e_max
                    total = cmax
                imp += total - c
                c = total
        e, _ = step(e, c, d, eta_c, eta_d)
        out_pv[k] = used
        out_load[k] = to_load
        out_uns[k] = uns
        out_c[k] = c
        out_d[k] = d
        out_imp[k] = imp
        out_exp[k] = x
        out_e[k] = e
    return tuple(
        np.asarray(col, dtype=float)
        for col in (out_pv, out_load, out_uns, out_c, out_d, out_imp, out_exp, out_e)
    )
