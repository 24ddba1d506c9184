"""Battery device: stored energy with SoC limits, power limits and efficiencies."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel

from homesim.devices.kinds.base import (
    DeviceShell,
    FlowKey,
    InvalidArgument,
    KindReport,
    SettleResult,
    Window,
)
from homesim.devices.models.battery import converter_terminal, storage_trajectory


class BatteryShell(DeviceShell):
    """Reports its envelope (what it can take or give in the window); applies packets.

    State: stored energy [J]; ``soc`` = energy / capacity. A home may have several; the
    inverter dispatches them together (:mod:`homesim.devices.models.dispatch`).
    ``coupling: ac``: the battery sits behind its own converter on the AC bus; its packets
    are AC energies, converted with ``eta_ac_dc`` / ``eta_dc_ac``, and the converter's losses
    are booked with the battery's (metric ``converter_losses``).
    """

    kind = "battery"
    persist = ("energy",)
    energy: float  # stored energy at the end of the last settled window [J]

    def setup(self) -> None:
        p = self.props
        if not hasattr(self, "energy"):
            self.energy = p.soc_initial * p.capacity
        self.inverter = self.device_of("inverter")

    def report(self, window: Window, inputs: dict[str, KindReport]) -> KindReport:
        p = self.props
        env = {"energy": self.energy, "e_min": p.soc_min * p.capacity,
               "e_max": p.soc_max * p.capacity, "p_charge_max": p.p_charge_max,
               "p_discharge_max": p.p_discharge_max, "eta_charge": p.eta_charge,
               "eta_discharge": p.eta_discharge, "capacity": p.capacity,
               "coupling": p.coupling}
        if p.coupling == "ac":
            env.update(eta_ac_dc=p.eta_ac_dc, eta_dc_ac=p.eta_dc_ac, p_ac_max=p.p_ac_max)
        return self.Report(envelope=env)

    def settle(self, window: Window, flows: dict[FlowKey, np.ndarray]) -> SettleResult:
        p = self.props
        zero = np.zeros(window.n)
        charge = flows.get((self.inverter, self.name, "electricity"), zero)
        discharge = flows.get((self.name, self.inverter, "electricity"), zero)
        conv = zero
        if p.coupling == "ac":  # the packets are AC: through the converter to the terminals
            charge, discharge, conv = converter_terminal(charge, discharge, p.eta_ac_dc,
                                                         p.eta_dc_ac)
        e0 = self.energy
        stored, losses = storage_trajectory(e0, charge, discharge, p.eta_charge,
                                            p.eta_discharge)
        tol = 1e-6 * p.capacity
        if np.any(stored < p.soc_min * p.capacity - tol) or \
                np.any(stored > p.soc_max * p.capacity + tol):
            raise ValueError("packets drive the battery outside its SoC limits")
        self.energy = float(stored[-1])
        metrics = {"soc": stored / p.capacity}
        if p.coupling == "ac":
            metrics["converter_losses"] = conv
        return SettleResult(stored0=e0, stored=stored, losses=losses + conv, metrics=metrics)

    def validated_set(self, path: str, value: Any) -> BaseModel:
        """As :meth:`DeviceShell.validated_set`; a converter rating on a DC-coupled battery is
        refused (``homesim.error.invalid_argument``), as the manifest refuses it."""
        props = super().validated_set(path, value)
        if props.coupling == "dc" and props.p_ac_max is not None:  # type: ignore[attr-defined]
            raise InvalidArgument("p_ac_max is the rating of an AC-coupled battery's own "
                                  "converter; this battery has coupling 'dc' (limited by the "
                                  "inverter's p_ac_max)", field=path)
        return props

    def check_state(self, values: dict[str, Any]) -> None:
        energy = values.get("energy", 0.0)
        if energy < 0:
            raise ValueError(f"{self.name}: energy: {values['energy']!r} J is negative")
        p = self.props
        top = p.soc_max * p.capacity
        if energy > top + 1e-6 * p.capacity:  # e.g. a fork that shrank the battery
            raise ValueError(
                f"{self.name}: energy: it holds {energy:.6g} J, more than soc_max × capacity "
                f"= {top:.6g} J allows; a restored battery cannot be smaller than what it "
                f"holds (capacity ≥ {energy / p.soc_max:.6g} J, or fork at another time)")

    def state(self) -> dict[str, Any]:
        return {"energy": self.energy, "soc": self.energy / self.props.capacity}
