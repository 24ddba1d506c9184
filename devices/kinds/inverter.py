"""Inverter: the home's balancing device (phase 2 of every tick)."""

from __future__ import annotations

from typing import Any

import numpy as np

from homesim.devices.context import home_context
from homesim.devices.kinds.base import (
    DeviceShell,
    Flow,
    FlowKey,
    KindReport,
    SettleResult,
    Window,
    firm_demand,
)
from homesim.devices.models.battery import BatteryEnvelope
from homesim.devices.models.inverter import InverterSettings, allocate
from homesim.devices.models.pv_inverter import PvInverter, dc_drawn
from homesim.schemas.generated.kinds import BatteryReport, GridReport, LoadReport, PvReport
from homesim.schemas.registry import REGISTRY

ELEC = "electricity"


def _split(total: np.ndarray, parts: list[np.ndarray]) -> list[np.ndarray]:
    """Split ``total`` over ``parts`` in proportion to each part (per tick).

    The rounding remainder goes to the largest part of each tick, so the parts add up to
    ``total`` and a part that is 0 gets exactly 0.
    """
    if not parts:
        return []
    if len(parts) == 1:
        return [total]
    p = np.stack([np.asarray(x, dtype=float) for x in parts])
    whole = p.sum(axis=0)
    out = total * np.divide(p, whole, out=np.zeros_like(p), where=whole > 0)
    big = np.argmax(p, axis=0)
    cols = np.arange(p.shape[1])
    others = out.sum(axis=0) - out[big, cols]
    out[big, cols] = np.where(whole > 0, np.maximum(total - others, 0.0), 0.0)
    return list(out)


class InverterShell(DeviceShell):
    """Allocates the energy of every bus device, tick by tick, and publishes the packets.

    Modes: ``self_consumption``, ``time_of_use`` (grid charging windows, reserve SoC),
    ``backup`` (battery kept for outages). Islanded (grid unavailable): load beyond
    PV + battery is shed and booked as unserved energy.

    Several batteries (storage reports with an envelope), DC- or AC-coupled, are dispatched
    together by the rule of :mod:`homesim.devices.models.dispatch` and booked separately
    (one pair of packets per battery). One grid connection.

    PV inverters beside it (a ``converter`` whose report has ``ac``: ``pv_inverter``) deliver
    their arrays' AC to its bus: it takes that AC like its own PV AC (the same fraction of
    each where PV is curtailed), publishes ``pv → pv_inverter`` (the DC drawn, by the PV
    inverter's own curve) and ``pv_inverter → inverter``; arrays wired to a PV inverter are
    not on its DC bus. Its ``pv_ac`` metric is the PV AC of all of them.
    """

    kind = "inverter"
    persist = ("totals",)
    totals: dict[str, float]  # PV AC and conversion losses so far [J]

    def setup(self) -> None:
        p = self.props
        ctx = home_context(self.home)
        self.settings = InverterSettings(
            p_ac_max=p.p_ac_max, efficiency_model=p.efficiency_model,
            eta_inv_nom=p.eta_inv_nom, inverter=p.inverter, mode=p.mode,
            reserve_soc=p.reserve_soc,
            charge_windows=[w.model_dump(exclude_none=True) for w in p.charge_windows],
            discharge_windows=[w.model_dump(exclude_none=True) for w in p.discharge_windows],
            grid_charge_power=p.grid_charge_power, tz=ctx.tz)
        self._last: Any = None
        if not hasattr(self, "totals"):
            self.totals = {"pv_ac": 0.0, "losses": 0.0}

    def warm(self) -> None:
        """With PV on its DC bus: pvlib's inverter model, imported now (~1 s)."""
        from homesim.devices.models.inverter import pv_ac

        if self.devices_of("pv"):
            pv_ac(self.settings, np.zeros(1), None)

    def balance(self, window: Window, reports: dict[str, KindReport]) -> list[Flow]:
        n = window.n
        zero = np.zeros(n)
        # manifest order, whatever order the reports arrived in (same ledger every run)
        order = {d: i for i, d in enumerate(self.balanced_devices())}
        reports = dict(sorted(reports.items(), key=lambda kv: order.get(kv[0], -1)))
        pvs: list[tuple[str, PvReport]] = []
        loads: list[tuple[str, LoadReport]] = []
        grids: list[tuple[str, GridReport]] = []
        bats: list[tuple[str, BatteryReport]] = []
        acs: list[tuple[str, Any]] = []  # AC-coupled sources (PV inverters)
        wired = self._wired()
        for name, rep in reports.items():  # by role and report schema, not by kind name
            role, spec = REGISTRY.get(rep.KIND).role, rep.SPEC
            if role == "source" and "dc" in spec.signals:
                if name not in wired:  # on a PV inverter: its DC is not on our bus
                    pvs.append((name, rep))
            elif role == "converter" and "ac" in spec.signals:
                acs.append((name, rep))
            elif role == "sink" and "demand" in spec.signals:
                loads.append((name, rep))
            elif role == "external" and "import_max" in spec.signals:
                grids.append((name, rep))
            elif role == "storage" and spec.envelope:
                bats.append((name, rep))
        if len(grids) > 1:
            raise ValueError("the inverter balances one grid connection, got "
                             f"{[n for n, _ in grids]}")
        pv_dc = [r.dc for _, r in pvs]
        demand = [r.demand for _, r in loads]
        # electricity decided by controllers (the heat node for heat pumps, the load manager
        # for EV chargers, already fitted under the connection limit): served first
        firm = [x for _, r in reports.items() for x in firm_demand(r)]
        v_dc = pvs[0][1].v_dc if pvs else np.full(n, np.nan)
        if grids:
            g = grids[0][1]
            import_max, export_max = g.import_max, g.export_max
        else:
            import_max = export_max = zero
        firm_total = np.sum([x for _, x in firm], axis=0) if firm else zero
        envs = [BatteryEnvelope(**{k: v for k, v in r.envelope.items() if v is not None})
                for _, r in bats]
        a = allocate(self.settings, window.dt, window.times,
                     np.sum(pv_dc, axis=0) if pv_dc else zero, v_dc,
                     np.sum(demand, axis=0) + firm_total if demand else firm_total,
                     import_max, export_max, envs, [r.ac for _, r in acs])
        self._last = a
        me = self.name
        flows: list[Flow] = []
        for (name, _), part in zip(pvs, _split(a.pv_dc_used, pv_dc), strict=True):
            flows.append(Flow(name, me, ELEC, part))
        firm_served = np.minimum(a.to_load, firm_total)
        for (name, _), part in zip(firm, _split(firm_served, [x for _, x in firm]), strict=True):
            flows.append(Flow(me, name, ELEC, part))
        rest = np.maximum(a.to_load - firm_served, 0.0)
        for (name, _), part in zip(loads, _split(rest, demand), strict=True):
            flows.append(Flow(me, name, ELEC, part))
        for (name, _), charge, discharge in zip(bats, a.battery_charges.T,
                                                a.battery_discharges.T, strict=True):
            flows.append(Flow(me, name, ELEC, charge))
            flows.append(Flow(name, me, ELEC, discharge))
        if grids:
            flows.append(Flow(grids[0][0], me, ELEC, a.grid_import))
            flows.append(Flow(me, grids[0][0], ELEC, a.grid_export))
        for (name, r), ac in zip(acs, a.ac_in_used.T, strict=True):
            inv = PvInverter(p_ac_max=r.p_ac_max, eta_inv_nom=r.eta_inv_nom,
                             eta_inv_ref=r.eta_inv_ref)
            arrays = [(pv, reports[pv]) for pv, to in wired.items()
                      if to == name and pv in reports]
            dc = dc_drawn(inv, r.dc_in, ac, window.dt)
            for (pv, _), part in zip(arrays, _split(dc, [x.dc for _, x in arrays]),
                                     strict=True):
                flows.append(Flow(pv, name, ELEC, part))
            flows.append(Flow(name, me, ELEC, ac))
        return flows

    def _wired(self) -> dict[str, str]:
        """``{pv array: its PV inverter}`` for the arrays not on this inverter's DC bus."""
        return {d.name: d.properties.inverter for d in self.home.spec.enabled()
                if d.kind == "pv" and d.properties.inverter}

    def settle(self, window: Window, flows: dict[FlowKey, np.ndarray]) -> SettleResult:
        a = self._last
        pv_ac = a.pv_ac + a.ac_in_used.sum(axis=1)  # ours and the PV inverters'
        self.totals["pv_ac"] += float(pv_ac.sum())
        self.totals["losses"] += float(a.inverter_losses.sum())
        return SettleResult(losses=a.inverter_losses,
                            metrics={"pv_ac": pv_ac, "unserved": a.unserved})

    def state(self) -> dict[str, Any]:
        return {"mode": self.props.mode, "energy_pv_ac": self.totals["pv_ac"],
                "losses": self.totals["losses"]}
