"""Grid connection: availability (outages, load shedding), limits, tariffs; accumulates cost."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np

from homesim.devices.context import home_context
from homesim.devices.kinds.base import DeviceShell, FlowKey, KindReport, SettleResult, Window
from homesim.devices.models.grid import availability, cost, read_price_series, tariff
from homesim.devices.models.schedule import resolve_tz


def _epoch(text: str, tz: str) -> float:
    t = datetime.fromisoformat(str(text))
    if t.tzinfo is None:
        t = t.replace(tzinfo=resolve_tz(tz))
    return t.timestamp()


class GridShell(DeviceShell):
    """Reports per tick how much can be imported/exported [J] and the prices; books cost.

    The grid is an unbounded source and sink; ``connected`` switches it live.
    """

    kind = "grid"
    persist = ("cost_total", "import_total", "export_total")
    cost_total: float  # net cost so far [currency]
    import_total: float  # [J]
    export_total: float  # [J]

    def setup(self) -> None:
        self.ctx = home_context(self.home)
        p = self.props
        self.outages = [(_epoch(o.start, self.ctx.tz), _epoch(o.end, self.ctx.tz))
                        for o in p.outages]
        self.inverter = self.device_of("inverter")
        if not hasattr(self, "cost_total"):
            self.cost_total = 0.0
            self.import_total = 0.0
            self.export_total = 0.0
        self._win: dict[int, dict[str, np.ndarray]] = {}
        self._series: dict[str, tuple[np.ndarray, np.ndarray]] = getattr(self, "_series", {})

    def _tariff(self, which: Any, window: Window) -> np.ndarray:
        flat = which.flat if which is not None else 0.0
        tou = [b.model_dump() for b in which.tou] if which is not None else []
        series = None
        if which is not None and which.file:
            if which.file not in self._series:
                self._series[which.file] = read_price_series(which.file, self.ctx.tz)
            series = self._series[which.file]
        return tariff(window.times, window.dt, self.ctx.tz, flat, tou, series)

    def report(self, window: Window, inputs: dict[str, KindReport]) -> KindReport:
        p = self.props
        daily = [w.model_dump(exclude_none=True) for w in p.load_shedding]
        up = availability(window.times, window.dt, self.ctx.tz, self.outages, daily)
        if not p.connected:
            up = np.zeros(window.n, dtype=bool)
        price_in = self._tariff(p.tariff_import, window)
        price_out = self._tariff(p.tariff_export, window)
        self._win = {window.window: {"in": price_in, "out": price_out, "up": up}}
        return self.Report(
            available=up.astype(float),
            import_max=np.where(up, p.p_import_max * window.dt, 0.0),
            export_max=np.where(up, p.p_export_max * window.dt, 0.0),
            price_import=price_in, price_export=price_out)

    def settle(self, window: Window, flows: dict[FlowKey, np.ndarray]) -> SettleResult:
        zero = np.zeros(window.n)
        imp = flows.get((self.name, self.inverter, "electricity"), zero)
        exp = flows.get((self.inverter, self.name, "electricity"), zero)
        w = self._win[window.window]
        c = cost(imp, exp, w["in"], w["out"])
        self.cost_total += float(c.sum())
        self.import_total += float(imp.sum())
        self.export_total += float(exp.sum())
        return SettleResult(metrics={"cost": c, "available": w["up"].astype(float)})

    def state(self) -> dict[str, Any]:
        return {"cost": self.cost_total, "currency": self.props.currency,
                "import": self.import_total, "export": self.export_total}
