"""PV inverter: a string inverter on the AC bus, beside the home's hybrid inverter."""

from __future__ import annotations

from typing import Any

import numpy as np

from homesim.devices.kinds.base import (
    DeviceShell,
    FlowKey,
    KindReport,
    SettleResult,
    Window,
)
from homesim.devices.models.pv_inverter import Conversion, PvInverter, convert

ELEC = "electricity"


class PvInverterShell(DeviceShell):
    """Reports the AC its arrays' DC gives (PVWatts, clipped at its rating); checks and books
    what the balancing inverter took.

    Its arrays are the enabled ``pv`` devices whose property ``inverter`` names it. The
    balancing inverter publishes ``pv → pv_inverter`` (DC drawn) and ``pv_inverter →
    inverter`` (AC taken); the settle re-computes the AC from the DC with the same curve and
    refuses packets the inverter could not have produced. Losses: DC in − AC out (conversion);
    metrics ``ac``, ``clipped`` (DC left undrawn by the rating) and ``curtailed`` (AC the
    balancing inverter did not take).
    """

    kind = "pv_inverter"
    persist = ("energy_ac",)
    energy_ac: float  # AC delivered so far [J]

    def setup(self) -> None:
        p = self.props
        self.inv = PvInverter(p_ac_max=p.p_ac_max, eta_inv_nom=p.eta_inv_nom,
                                eta_inv_ref=p.eta_inv_ref)
        self.arrays = [d.name for d in self.home.spec.enabled()
                       if d.kind == "pv" and d.properties.inverter == self.name]
        self.sink = self.device_of("inverter")  # the home's balancing device
        self._win: dict[int, Conversion] = {}
        if not hasattr(self, "energy_ac"):  # setup runs again after a live set
            self.energy_ac = 0.0

    def inputs(self) -> list[str]:
        """Only its own arrays' reports."""
        return list(self.arrays)

    def report(self, window: Window, inputs: dict[str, Any]) -> KindReport:
        dc = np.zeros(window.n)
        for name in self.arrays:
            dc = dc + np.asarray(inputs[name].dc, dtype=float)
        c = convert(self.inv, dc, window.dt)
        self._win = {window.window: c}
        m = self.inv
        return self.Report(ac=c.ac, dc_in=dc, clipped=c.clipped, p_ac_max=m.p_ac_max,
                           eta_inv_nom=m.eta_inv_nom, eta_inv_ref=m.eta_inv_ref)

    def settle(self, window: Window, flows: dict[FlowKey, np.ndarray]) -> SettleResult:
        c = self._win[window.window]
        zero = np.zeros(window.n)
        dc_in = zero.copy()
        for name in self.arrays:
            dc_in = dc_in + flows.get((name, self.name, ELEC), zero)
        ac = flows.get((self.name, self.sink or "", ELEC), zero)
        # the AC must be what the curve gives for the DC drawn (never more), within rounding
        given = convert(self.inv, dc_in, window.dt).ac
        over = ac - given
        if np.any(over > 1e-9 * np.maximum(given, 1.0)):
            k = int(np.argmax(over))
            raise ValueError(f"{self.name}: the inverter took {ac[k]:.6g} J of AC at tick "
                             f"{window.tick0 + k} from {dc_in[k]:.6g} J of DC, more than the "
                             f"PVWatts curve gives ({given[k]:.6g} J)")
        if np.any(dc_in > c.dc_used * (1 + 1e-9) + 1e-9):
            raise ValueError(f"{self.name}: more DC drawn than its arrays can deliver")
        self.energy_ac += float(ac.sum())
        clipped = np.where(ac >= c.ac * (1 - 1e-12), c.clipped, 0.0)  # all taken: rating
        return SettleResult(losses=dc_in - ac,
                            metrics={"ac": ac, "clipped": clipped,
                                     "curtailed": np.maximum(c.ac - ac, 0.0)})

    def state(self) -> dict[str, Any]:
        return {"energy_ac": self.energy_ac, "arrays": list(self.arrays)}
