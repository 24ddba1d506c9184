"""Several batteries on one inverter: the tick-by-tick dispatch rule.

:func:`homesim.devices.models.inverter.allocate` decides, per tick, how much energy the
batteries together take (PV surplus, grid charging) or give (a deficit); this module splits
that energy over the batteries and advances each one.

The rule (per tick, charging and discharging alike):

1. Each battery's **room** is the most it can take (give) in this tick at its point of
   coupling, within its own limits: its terminal power limit × ``dt``, its energy headroom
   to ``e_max`` (to its floor: ``e_min``, or the reserve while the grid is up) through its own
   efficiency (:func:`~homesim.devices.models.battery.max_charge`,
   :func:`~homesim.devices.models.battery.max_discharge`), and

   * ``coupling: 'dc'`` (behind the hybrid inverter): the inverter's AC rating, which the
     DC-coupled batteries share (together at most ``ac_limit·dt`` charging and
     ``ac_limit·dt − pv_ac`` discharging; their rooms are scaled down in proportion when
     they exceed it);
   * ``coupling: 'ac'`` (behind its own converter): the converter's ``p_ac_max·dt`` and
     efficiencies, at the AC side (``ac·eta_ac_dc`` reaches the terminals when charging,
     ``ac/eta_dc_ac`` leaves them when discharging; not limited by the hybrid inverter).

2. The energy the batteries take (give) together is at most the sum of the rooms; it is
   split **in proportion to the rooms** (the last rounding remainder goes to the largest
   room, never beyond it). So every battery stays within its own limits, a full (empty) or
   reserved battery gets nothing, and batteries of equal power share equally until one nears
   its bound. No battery charges another: in a tick all batteries charge, or all discharge.

3. Each battery advances with :func:`~homesim.devices.models.battery.storage_step` on its
   terminal energies, as the battery device does with the same packets, and is booked
   separately (its own packets, losses, stored energy).

Why this rule: it needs no ranking of the batteries (no unit is favoured, the result does not
depend on their order in the manifest), it respects every unit's own power, energy and
efficiency limits by construction, and with one battery it is exactly the single-battery
allocation. The battery model itself is the energy reservoir of SAM (DiOrio, N. et al. 2015,
*Technoeconomic Modeling of Battery Energy Storage in SAM*, NREL/TP-6A20-64641,
:doi:`10.2172/1225314`), including its AC-connected option (``batt_ac_or_dc``) with
converter efficiencies ``batt_ac_dc_efficiency`` / ``batt_dc_ac_efficiency``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .battery import BatteryEnvelope, max_charge, max_discharge, storage_step

__all__ = ["share", "dispatch"]


def share(total: float, rooms: Sequence[float]) -> list[float]:
    """Split ``total`` [J] over ``rooms`` [J] in proportion to each room.

    Parameters
    ----------
    total : float
        Energy to split [J], >= 0; more than ``sum(rooms)`` is cut to the rooms.
    rooms : sequence of float
        What each part can take [J], >= 0.

    Returns
    -------
    list of float
        One share per room, each in ``[0, room]``; they add up to
        ``min(total, sum(rooms))`` up to the rounding of the sum (the remainder goes to the
        largest room, never beyond it). A room of 0 gets exactly 0.
    """
    n = len(rooms)
    if n == 1:
        r0 = rooms[0]
        return [total if total < r0 else r0]
    whole = 0.0
    for r in rooms:
        whole += r
    if total <= 0.0 or whole <= 0.0:
        return [0.0] * n
    if total >= whole:
        return list(rooms)
    f = total / whole  # <= 1, so x * f <= x for every room
    out = [r * f for r in rooms]
    big = max(range(n), key=rooms.__getitem__)
    rest = total
    for i, x in enumerate(out):
        if i != big:
            rest -= x
    out[big] = min(max(rest, 0.0), rooms[big])
    return out


def _ac_room_charge(terminal: float, eta: float, ac_lim: float) -> float:
    """Largest AC energy whose ``ac * eta`` does not exceed ``terminal`` [J], <= ``ac_lim``."""
    if terminal <= 0.0:
        return 0.0
    a = terminal / eta
    if a > ac_lim:
        a = ac_lim
    while a > 0.0 and a * eta > terminal:  # rounding: step back
        a = math.nextafter(a, 0.0)
    return a


def _ac_room_discharge(terminal: float, eta: float, ac_lim: float) -> float:
    """Largest AC energy whose ``ac / eta`` does not exceed ``terminal`` [J], <= ``ac_lim``."""
    if terminal <= 0.0:
        return 0.0
    a = terminal * eta
    if a > ac_lim:
        a = ac_lim
    while a > 0.0 and a / eta > terminal:
        a = math.nextafter(a, 0.0)
    return a


def _cap_group(rooms: list[float], members: list[int], limit: float) -> None:
    """Scale the rooms of ``members`` down in proportion so that they add up to at most
    ``limit`` [J] (in place)."""
    total = 0.0
    for i in members:
        total += rooms[i]
    if total > limit:
        f = max(limit, 0.0) / total
        for i in members:
            rooms[i] *= f


def dispatch(
    pv_ac_full: np.ndarray,
    load: np.ndarray,
    imp_max: np.ndarray,
    exp_max: np.ndarray,
    floors: Sequence[np.ndarray],
    grid_charge: np.ndarray,
    batteries: Sequence[BatteryEnvelope],
    dt: float,
    cap: float,
) -> tuple[np.ndarray, ...]:
    """The stateful part of :func:`~homesim.devices.models.inverter.allocate` for any number
    of batteries, DC- or AC-coupled (the rule in the module docstring).

    Parameters
    ----------
    pv_ac_full : numpy.ndarray
        AC energy the PV could give per tick (clipped at ``cap``) [J].
    load : numpy.ndarray
        Energy demanded per tick [J].
    imp_max, exp_max : numpy.ndarray
        Grid limits per tick [J].
    floors : sequence of numpy.ndarray
        Per battery, the energy not to discharge below per tick [J] (``inf``: no discharge).
    grid_charge : numpy.ndarray
        Grid energy wanted for charging per tick, for all batteries together [J].
    batteries : sequence of BatteryEnvelope
        The batteries at the window start.
    dt : float
        Tick length [s].
    cap : float
        The hybrid inverter's AC limit per tick [J].

    Returns
    -------
    tuple of numpy.ndarray
        ``(pv_used, to_load, unserved, grid_import, grid_export, charge, discharge,
        energy)``: the first five of shape ``(n,)``; ``charge`` and ``discharge`` (at each
        battery's point of coupling: terminals for ``'dc'``, AC side for ``'ac'``) and
        ``energy`` (stored at the end of each tick) of shape ``(m, n)`` for ``m``
        batteries [J].
    """
    n = len(load)
    m = len(batteries)
    out_pv = [0.0] * n
    out_load = [0.0] * n
    out_uns = [0.0] * n
    out_imp = [0.0] * n
    out_exp = [0.0] * n
    out_c = [[0.0] * n for _ in range(m)]
    out_d = [[0.0] * n for _ in range(m)]
    out_e = [[0.0] * n for _ in range(m)]

    e = [float(b.energy) for b in batteries]
    ac = [b.coupling == "ac" for b in batteries]
    dc_members = [i for i in range(m) if not ac[i]]
    e_max = [b.e_max for b in batteries]
    eta_c = [b.eta_charge for b in batteries]
    eta_d = [b.eta_discharge for b in batteries]
    conv_c = [b.eta_ac_dc for b in batteries]
    conv_d = [b.eta_dc_ac for b in batteries]
    c_lim = [b.p_charge_max * dt if ac[i] else min(b.p_charge_max * dt, cap)
             for i, b in enumerate(batteries)]
    d_lim = [b.p_discharge_max * dt for b in batteries]
    a_lim = [b.p_ac_max * dt if (ac[i] and b.p_ac_max is not None) else math.inf
             for i, b in enumerate(batteries)]
    fl_rows = [np.asarray(f, dtype=float).tolist() for f in floors]
    step = storage_step

    def charge_rooms() -> list[float]:
        rooms = [0.0] * m
        for i in range(m):
            t = max_charge(e[i], e_max[i], c_lim[i], eta_c[i])
            rooms[i] = _ac_room_charge(t, conv_c[i], a_lim[i]) if ac[i] else t
        _cap_group(rooms, dc_members, cap)
        return rooms

    columns = zip(pv_ac_full.tolist(), load.tolist(), imp_max.tolist(), exp_max.tolist(),
                  grid_charge.tolist(), strict=True)
    for k, (pv, dem, im, xm, gc) in enumerate(columns):
        c = [0.0] * m
        d = [0.0] * m
        x = 0.0
        imp = 0.0
        uns = 0.0
        d_sum = 0.0
        c_rooms: list[float] | None = None
        if pv >= dem:  # surplus (or balance): charge, export, curtail
            served = dem
            used = pv
            surplus = pv - dem
            if surplus > 0.0:
                c_rooms = charge_rooms()
                c = share(surplus, c_rooms)
                c_sum = 0.0
                for v in c:
                    c_sum += v
                rest = surplus - c_sum
                if rest < 0.0:  # rounding of the sum
                    rest = 0.0
                x = rest if rest < xm else xm
                if rest > x:
                    used = pv - (rest - x)
        else:  # deficit: batteries down to their floors, then grid, then unserved
            served = pv
            used = pv
            deficit = dem - pv
            head = cap - pv
            rooms = [0.0] * m
            for i in range(m):
                fl = fl_rows[i][k]
                if e[i] > fl:
                    if ac[i]:
                        t = max_discharge(e[i], fl, d_lim[i], eta_d[i])
                        rooms[i] = _ac_room_discharge(t, conv_d[i], a_lim[i])
                    else:
                        lim = d_lim[i] if d_lim[i] < head else head
                        rooms[i] = max_discharge(e[i], fl, lim, eta_d[i])
            _cap_group(rooms, dc_members, head)
            d = share(deficit, rooms)
            for v in d:
                d_sum += v
            deficit -= d_sum
            if deficit < 0.0:
                deficit = 0.0
            imp = deficit if deficit < im else im
            uns = deficit - imp
        to_load = served + d_sum + imp
        if gc > 0.0:  # grid charging inside a charge window
            if c_rooms is None:
                c_rooms = charge_rooms()
            left = [max(c_rooms[i] - c[i], 0.0) for i in range(m)]
            room = 0.0
            for v in left:
                room += v
            g = gc if gc < room else room
            head = im - imp
            if head < g:
                g = head
            if g > 0.0:
                extra = share(g, left)
                added = 0.0
                for i in range(m):
                    total = c[i] + extra[i]
                    if total > c_rooms[i]:  # rounding of the sum must not overshoot
                        total = c_rooms[i]
                    added += total - c[i]
                    c[i] = total
                imp += added
        for i in range(m):
            ci, di = c[i], d[i]
            if ac[i]:  # the converter: as battery.converter_terminal
                ci = ci * conv_c[i]
                di = di / conv_d[i]
            e[i], _ = step(e[i], ci, di, eta_c[i], eta_d[i])
            out_c[i][k] = c[i]
            out_d[i][k] = d[i]
            out_e[i][k] = e[i]
        out_pv[k] = used
        out_load[k] = to_load
        out_uns[k] = uns
        out_imp[k] = imp
        out_exp[k] = x
    flat = tuple(np.asarray(col, dtype=float)
                 for col in (out_pv, out_load, out_uns, out_imp, out_exp))
    per = tuple(np.asarray(col, dtype=float).reshape(m, n) for col in (out_c, out_d, out_e))
    return flat + per
