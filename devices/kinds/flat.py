"""Flat: one thermal zone (ISO 13790 5R1C) with its envelope, gains and thermostat."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, TypedDict

import numpy as np

from homesim.devices.context import home_context
from homesim.devices.kinds.base import DeviceShell, Flow, FlowKey, KindReport, SettleResult, Window
from homesim.devices.models.comfort import (
    NO_RESPONSE,
    OccupantResponse,
    operative_temperature,
    simulate_occupied,
)
from homesim.devices.models.schedule import in_windows
from homesim.devices.models.thermal_network import simulate
from homesim.devices.models.zone import (
    Element,
    facade_irradiance,
    solar_gains,
    ventilation_conductance,
    zone_constants,
)
from homesim.schemas.generated.kinds import SunReport, WeatherReport
from homesim.schemas.generated.messages import Thermostat

#: Setpoint used when the thermostat is off [°C]: the ideal controller never heats.
SETPOINT_OFF = -100.0
#: Internal gains relative to ``internal_gains`` by thermostat period (ISO 17772-1 style
#: occupancy: at home and awake / asleep / away).
GAIN_FACTOR = {"comfort": 1.0, "eco": 0.5, "away": 0.2, "off": 0.2}
HEAT = "heat"


class FlatTotals(TypedDict):
    """What a flat has booked so far."""

    heat: float  # delivered by the heat node [J]
    degree_hours: float  # below the setpoint [K·h]
    solar: float  # solar gains [J]
    internal: float  # internal gains [J]


class FlatLast(TypedDict):
    """The end of the last settled window."""

    temp_room: float  # [°C]
    setpoint: float | None  # [°C] (None before the first window)


def zone_params(props: Any) -> tuple[Any, list[Element]]:
    """The 5R1C :class:`Zone` of a flat's properties and its envelope elements."""
    p = props
    elements = [Element(area=w.area, u_value=w.u_value, kind="opaque") for w in p.walls]
    elements += [Element(area=w.area, u_value=w.u_value, kind="window") for w in p.windows]
    for s in (p.roof, p.floor):
        if s is None:
            continue
        if s.boundary == "ground":
            elements.append(Element(area=s.area, u_value=s.u_value, boundary="ground"))
        elif s.boundary == "unheated":
            elements.append(Element(area=s.area, u_value=s.u_value, b=p.b_unheated))
        else:
            elements.append(Element(area=s.area, u_value=s.u_value))
    zone = zone_constants(p.floor_area, p.room_height, elements, p.thermal_class, p.phi_hc_max)
    return zone, elements


def occupant_params(props: Any) -> OccupantResponse:
    """The flat's :class:`OccupantResponse` (``occupants`` property; null: none react)."""
    o = props.occupants
    if o is None:
        return NO_RESPONSE
    return OccupantResponse(ach_boost=o.ach_boost, t_open=o.t_open, t_shade=o.t_shade,
                            shading_factor=o.shading_factor, band=o.band)


def setpoints(thermostat: Thermostat, times: np.ndarray, tz: str) -> tuple[np.ndarray, np.ndarray]:
    """Setpoint [°C] and period name per tick from the thermostat's schedule."""
    t = thermostat
    n = len(times)
    if t.mode == "auto":
        period = np.where(in_windows(times, tz, [w.model_dump(exclude_none=True)
                                                 for w in t.comfort_windows]),
                          "comfort", "eco").astype(object)
        away = in_windows(times, tz, [w.model_dump(exclude_none=True) for w in t.away_windows])
        period[away] = "away"
    else:
        period = np.full(n, t.mode, dtype=object)
    value = {"comfort": t.comfort, "eco": t.eco, "away": t.away, "off": SETPOINT_OFF}
    sp = np.array([value[x] for x in period], dtype=float)
    return sp, period


class FlatShell(DeviceShell):
    """A flat's thermal zone. Phase 1: reports its 5R1C constants (``params``), its mass
    temperature and per-tick boundary conditions (outdoor temperature, ventilation
    conductance, solar and internal gains, setpoint); publishes the solar (``sun→flat``) and
    internal-gain (``occupancy→flat``) packets it absorbs. The heat node solves the coupled
    flats and publishes the heat packets; phase 2: the flat advances its own zone with the
    heat it was given and the heat exchanged with its neighbours, and reports its
    temperatures, comfort (degree-hours below the setpoint) and stored heat ``c_m·θ_m``.
    """

    kind = "flat"
    persist = ("theta_m", "totals", "last")
    theta_m: float  # mass node temperature at the end of the last settled window [°C]
    totals: FlatTotals
    last: FlatLast

    def setup(self) -> None:
        self.ctx = home_context(self.home)
        self.zone, _ = zone_params(self.props)
        self.thermostat = self.props.thermostat or Thermostat()
        self.weather = self.device_of("weather")
        self.sun = self.device_of("sun")
        self.node = self.device_of("heat_node")
        if not hasattr(self, "theta_m"):
            self.theta_m = float(self.props.temp_initial)
            self.totals = {"heat": 0.0, "degree_hours": 0.0, "solar": 0.0, "internal": 0.0}
            self.last = {"temp_room": float(self.props.temp_initial), "setpoint": None}
        self._win: dict[int, dict[str, np.ndarray]] = {}

    def boundary(self, window: Window, weather: WeatherReport,
                 sun: SunReport) -> dict[str, np.ndarray]:
        """Per-tick boundary conditions of the window (see class docstring)."""
        p = self.props
        phi_sol = np.zeros(window.n)
        for w in p.windows:
            poa = facade_irradiance(w.tilt, w.azimuth, sun.apparent_zenith, sun.azimuth,
                                    weather.ghi, weather.dni, weather.dhi, sun.dni_extra)
            phi_sol = phi_sol + solar_gains(poa, w.area, w.g_value, w.frame_fraction, w.shading)
        h_ve = ventilation_conductance(self.zone.volume, p.ach_vent, p.ach_inf,
                                       weather.wind_speed,
                                       p.wind_coeff)
        sp, period = setpoints(self.thermostat, window.times, self.ctx.tz)
        gain = np.array([GAIN_FACTOR[x] for x in period]) * p.internal_gains * p.floor_area
        return {"theta_e": weather.temp_air, "h_ve": h_ve,
                "phi_int": gain, "phi_sol": phi_sol, "setpoint": sp}

    def report(self, window: Window, inputs: dict[str, Any]) -> KindReport:
        b = self.boundary(window, inputs[self.weather], inputs[self.sun])
        self._win = {window.window: b}
        o = occupant_params(self.props)
        return self.Report(**b, **asdict(self.zone), theta_m0=self.theta_m,
                           theta_g=float(self.props.temp_ground),
                           ach_boost=o.ach_boost,
                           t_open=o.t_open, t_shade=o.t_shade,
                           shading_factor=o.shading_factor, band=o.band)

    def own_flows(self, window: Window) -> list[Flow]:
        b = self._win[window.window]
        return [Flow(self.sun, self.name, "solar", b["phi_sol"] * window.dt),
                Flow("occupancy", self.name, HEAT, b["phi_int"] * window.dt)]

    def settle(self, window: Window, flows: dict[FlowKey, np.ndarray]) -> SettleResult:
        b = self._win[window.window]
        n, dt = window.n, window.dt
        zero = np.zeros(n)
        heat = flows.get((self.node, self.name, HEAT), zero)
        ext = zero.copy()  # net heat from the neighbours [J]
        for (src, snk, car), j in flows.items():
            if car != HEAT or self.node in (src, snk) or "ambient" in (src, snk) \
                    or "occupancy" in (src, snk):
                continue
            if snk == self.name:
                ext = ext + j
            elif src == self.name:
                ext = ext - j

        def one(a: np.ndarray) -> np.ndarray:
            return np.asarray(a, dtype=float).reshape(n, 1)

        occ = occupant_params(self.props)
        extra: dict[str, np.ndarray] = {}
        if occ.active:  # the occupants react tick by tick (the heat node does the same)
            r = simulate_occupied(self.zone, self.theta_m, dt,
                                  b["theta_e"], float(self.props.temp_ground), b["h_ve"],
                                  b["phi_int"], b["phi_sol"], b["setpoint"], heat / dt,
                                  ext / dt, occ)
            theta_air, theta_m = r["theta_air"], r["theta_m"]
            extra = {"vent_boost": r["vent_boost"], "shading": r["shading"],
                     "temp_operative": operative_temperature(theta_air, r["theta_s"])}
        else:
            r = simulate([self.zone], np.zeros((1, 1)), np.array([self.theta_m]), dt,
                         b["theta_e"], float(self.props.temp_ground), one(b["h_ve"]),
                         one(b["phi_int"]), one(b["phi_sol"]), one(b["setpoint"]),
                         phi_hc_fixed=one(heat / dt), phi_m_ext=one(ext / dt))
            theta_air = r["theta_air"][:, 0]
            theta_m = r["theta_m"][:, 0]
            extra = {"vent_boost": np.zeros(n), "shading": np.ones(n),
                     "temp_operative": operative_temperature(theta_air, r["theta_s"][:, 0])}
        sp = b["setpoint"]
        below = np.where(sp > SETPOINT_OFF, np.maximum(sp - theta_air - 1e-6, 0.0), 0.0)
        dh = below * dt / 3600.0
        stored0 = self.zone.c_m * self.theta_m
        self.theta_m = float(theta_m[-1])
        self.totals["heat"] += float(heat.sum())
        self.totals["degree_hours"] += float(dh.sum())
        self.totals["solar"] += float(b["phi_sol"].sum() * dt)
        self.totals["internal"] += float(b["phi_int"].sum() * dt)
        self.last = {"temp_room": float(theta_air[-1]), "setpoint": float(sp[-1])}
        return SettleResult(stored0=stored0, stored=self.zone.c_m * theta_m,
                            metrics={"temp_room": theta_air, "temp_mass": theta_m,
                                     "setpoint": sp, "heat": heat, "degree_hours": dh,
                                     **extra})

    def state(self) -> dict[str, Any]:
        return {"temp_room": self.last["temp_room"], "temp_mass": self.theta_m,
                "setpoint": self.last["setpoint"], "energy_heat": self.totals["heat"],
                "degree_hours": self.totals["degree_hours"]}
