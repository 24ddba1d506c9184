"""The lower bound: the example home as one hand-written, vectorised, single-process script.

    python benchmarks/lower_bound.py [--days 365] [--dt 60] [--compare SUMMARY.json] [--json OUT]

What a user would write by hand for the physics of ``examples/home.yaml``, with pvlib and
numpy, in one process: no bus, no router, no ledger, no per-window messaging. It reads the
manifest's parameters and computes, for ``days`` simulated days of ticks ``dt`` [s] from the
manifest's start (2025-01-01 00:00 local standard time, ``Etc/GMT+5``):

* **weather**: pvlib's bundled Greensboro TMY3 file, read and resampled to the ticks with
  :meth:`~homesim.devices.models.weather.WeatherData.sample` (pvlib.iotools reader; irradiance
  as the tick mean of the hourly step series, ``temp_air``/``wind_speed`` interpolated at tick
  midpoints) - the same input as the ``weather`` device;
* **sun**: :func:`pvlib.solarposition.get_solarposition` (NREL SPA, ``nrel_numpy``) at tick
  midpoints, :func:`pvlib.irradiance.get_extra_radiation`, called here directly;
* **PV** (PVWatts, 5 kWp, tilt 30°, south, Perez): Kasten-Young air mass, Perez transposition,
  physical IAM on the beam, SAPM cell temperature (open rack, glass/polymer),
  :func:`pvlib.pvsystem.pvwatts_dc`, PVWatts system losses (14.08 %), written here with pvlib
  (the chain of :func:`homesim.devices.models.pv.pv_dc`);
* **inverter**: :func:`pvlib.inverter.pvwatts` (``pdc0 = p_ac_max / 0.96``), clipped at
  ``p_ac_max``;
* **load**: BDEW H0 (demandlib) scaled to ``annual_kwh`` on local standard time
  (:class:`~homesim.devices.models.load.BdewProfile`), times the run's seeded lognormal noise
  (:func:`~homesim.devices.models.load.noise_factors`, seed and device name as ``homesim run``),
  plus the scheduled appliances (:func:`~homesim.devices.models.load.appliance_energy`);
* **grid**: availability from the outage and the load-shedding schedule
  (:func:`~homesim.devices.models.grid.availability`), limits ``p_import_max``/``p_export_max``,
  tariffs and cost (:func:`~homesim.devices.models.grid.tariff`, ``cost``);
* **battery self-consumption dispatch**: a plain Python loop over the ticks, written here:
  PV serves the load, surplus charges the battery (within its power limit, ``soc_max`` and the
  inverter rating) then is exported up to the export limit (the rest curtailed); a deficit is
  covered by the battery down to ``reserve_soc`` (``soc_min`` while islanded, the inverter's
  AC output within its rating), then by the grid, the rest is unserved. Stored energy
  ``e' = e + c * eta_charge - d / eta_discharge``.

The pure functions it calls from ``devices/models`` are the file reader, the demandlib profile,
the noise and the calendar schedules: what a hand-written script would take from pvlib,
demandlib and a few lines of numpy anyway; each is vectorised over the whole span.

Agreement with ``homesim run examples/home.yaml --dt 60`` (its ``summary.json``): the annual
solar energy incident on the array, PV DC available (homesim: ``pv_dc + curtailed_dc``), PV AC,
load demand, load served, unserved, grid import and export, battery charge and discharge
[kWh] and the net cost agree within ``TOLERANCE`` (relative, 1e-6; measured over a year at
dt = 60 s: <= 2e-15 for every figure, i.e. the same numbers up to summation order, although the
dispatch here omits homesim's ulp-exact clamping at the SoC limits). ``--compare`` prints the
differences and exits 1 if one exceeds the tolerance. Not reproduced: the ledger, the
per-device metrics, the DC drawn under curtailment (homesim's ``pv_dc`` is what the inverter
drew; here the DC available).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "home.yaml"
J_PER_KWH = 3.6e6
TOLERANCE = 1e-6  # relative, per annual figure (see the module docstring)

# Defaults of the kinds that examples/home.yaml leaves unset (schemas/asyncapi.yaml):
ALBEDO = 0.25
GAMMA_PDC = -0.004  # [1/°C]
MODULE_EFFICIENCY = 0.2  # [-], for the collecting area only
TEMPERATURE_MODEL = "open_rack_glass_polymer"
ETA_INV_NOM = 0.96
ETA_INV_REF = 0.9637

#: Figures compared with ``homesim run``'s summary: ours -> how to read it from the summary.
FIGURES = {
    "solar_incident": lambda e: e["solar_incident"],
    "pv_dc_available": lambda e: e["pv_dc"] + e["curtailed_dc"],
    "pv_ac": lambda e: e["pv_ac"],
    "load_demand": lambda e: e["load_demand"],
    "load_served": lambda e: e["load_served"],
    "unserved": lambda e: e["unserved"],
    "grid_import": lambda e: e["grid_import"],
    "grid_export": lambda e: e["grid_export"],
    "battery_charge": lambda e: e["battery_charge"],
    "battery_discharge": lambda e: e["battery_discharge"],
}


def _devices(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["kind"]: {"name": d["name"], **(d.get("properties") or {})}
            for d in manifest["spec"]["devices"]}


def _epoch(text: str, tz: str) -> float:
    from homesim.devices.models.schedule import resolve_tz

    t = datetime.fromisoformat(str(text))
    if t.tzinfo is None:
        t = t.replace(tzinfo=resolve_tz(tz))
    return t.timestamp()


def dispatch_self_consumption(
    pv_ac: np.ndarray, load: np.ndarray, import_max: np.ndarray, export_max: np.ndarray,
    islanded: np.ndarray, bat: dict[str, float], reserve_soc: float, p_ac_max: float, dt: float,
) -> dict[str, np.ndarray]:
    """Self-consumption dispatch of one DC-coupled battery, tick by tick (plain Python loop).

    Parameters
    ----------
    pv_ac, load, import_max, export_max : numpy.ndarray
        PV AC available, load demanded, grid limits per tick [J].
    islanded : numpy.ndarray of bool
        Grid unavailable in the tick.
    bat : dict
        Battery properties of the manifest: ``capacity`` [J], ``soc_initial``, ``soc_min``,
        ``soc_max`` [-], ``p_charge_max``, ``p_discharge_max`` [W], ``eta_charge``,
        ``eta_discharge`` [-].
    reserve_soc : float
        SoC kept while the grid is up [-].
    p_ac_max : float
        Inverter rating [W]: limits charge and PV + discharge AC output per tick.
    dt : float
        Tick length [s].

    Returns
    -------
    dict of numpy.ndarray
        ``pv_used`` (AC), ``to_load``, ``unserved``, ``charge``, ``discharge``,
        ``grid_import``, ``grid_export`` [J] and ``energy`` (stored at tick end) [J].
    """
    cap = bat["capacity"]
    e = bat["soc_initial"] * cap
    e_min, e_max = bat["soc_min"] * cap, bat["soc_max"] * cap
    reserve = min(max(e_min, reserve_soc * cap), e_max)
    eta_c, eta_d = bat["eta_charge"], bat["eta_discharge"]
    ac_cap = p_ac_max * dt
    c_lim = min(bat["p_charge_max"] * dt, ac_cap)
    d_lim = bat["p_discharge_max"] * dt
    n = len(load)
    out = {k: [0.0] * n for k in ("pv_used", "to_load", "unserved", "charge", "discharge",
                                  "grid_import", "grid_export", "energy")}
    o_pv, o_load, o_uns = out["pv_used"], out["to_load"], out["unserved"]
    o_c, o_d, o_imp, o_exp, o_e = (out["charge"], out["discharge"], out["grid_import"],
                                   out["grid_export"], out["energy"])
    rows = zip(pv_ac.tolist(), load.tolist(), import_max.tolist(), export_max.tolist(),
               islanded.tolist(), strict=True)
    for k, (pv, dem, im, xm, isl) in enumerate(rows):
        c = d = x = imp = uns = 0.0
        used = pv
        if pv >= dem:  # surplus: battery, then export, then curtail
            surplus = pv - dem
            if surplus > 0.0:
                c = min(surplus, c_lim, max((e_max - e) / eta_c, 0.0))
                x = min(surplus - c, xm)
                used = dem + c + x
            served = dem
        else:  # deficit: battery to its floor, then grid, then unserved
            deficit = dem - pv
            floor = e_min if isl else reserve
            if e > floor:
                d = min(deficit, d_lim, ac_cap - pv, (e - floor) * eta_d)
                deficit -= d
            imp = min(deficit, im)
            uns = deficit - imp
            served = pv + d + imp
        e = min(max(e + c * eta_c - d / eta_d, e_min), e_max)
        o_pv[k], o_load[k], o_uns[k], o_c[k], o_d[k] = used, served, uns, c, d
        o_imp[k], o_exp[k], o_e[k] = imp, x, e
    return {k: np.asarray(v) for k, v in out.items()}


def pv_chain(ghi: np.ndarray, dni: np.ndarray, dhi: np.ndarray, temp_air: np.ndarray,
             wind_speed: np.ndarray, apparent_zenith: np.ndarray, azimuth: np.ndarray,
             dni_extra: np.ndarray, pv: dict[str, Any], dt: float) -> dict[str, np.ndarray]:
    """PVWatts DC of the example's array with pvlib: ``solar`` and ``dc`` per tick [J].

    Irradiance [W/m^2], ``temp_air`` [°C], ``wind_speed`` [m/s], solar angles [deg];
    ``pv`` = the manifest's ``pdc0`` [W], ``surface_tilt``, ``surface_azimuth`` [deg],
    ``transposition``. Also returns ``p_dc`` [W] and ``poa_global`` [W/m^2].
    """
    from pvlib import atmosphere, iam, irradiance, pvsystem, temperature

    tilt, az = pv.get("surface_tilt", 30.0), pv.get("surface_azimuth", 180.0)
    airmass = atmosphere.get_relative_airmass(apparent_zenith, model="kastenyoung1989")
    with np.errstate(invalid="ignore", divide="ignore"):
        total = irradiance.get_total_irradiance(
            tilt, az, apparent_zenith, azimuth, dni, ghi, dhi, dni_extra=dni_extra,
            airmass=airmass, albedo=pv.get("albedo", ALBEDO),
            model=pv.get("transposition", "haydavies"))
        beam_iam = np.nan_to_num(iam.physical(irradiance.aoi(tilt, az, apparent_zenith,
                                                             azimuth)))
    poa = np.maximum(np.nan_to_num(np.asarray(total["poa_global"], dtype=float)), 0.0)
    effective = np.maximum(np.nan_to_num(np.asarray(total["poa_direct"], dtype=float))
                           * beam_iam
                           + np.nan_to_num(np.asarray(total["poa_diffuse"], dtype=float)), 0.0)
    params = temperature.TEMPERATURE_MODEL_PARAMETERS["sapm"][TEMPERATURE_MODEL]
    temp_cell = temperature.sapm_cell(poa, temp_air, wind_speed, **params)
    pdc0 = float(pv["pdc0"])
    p_dc = np.asarray(pvsystem.pvwatts_dc(effective, temp_cell, pdc0,
                                          pv.get("gamma_pdc", GAMMA_PDC)), dtype=float)
    p_dc = np.maximum(np.nan_to_num(p_dc) * (1.0 - pvsystem.pvwatts_losses() / 100.0), 0.0)
    area = pdc0 / (1000.0 * pv.get("module_efficiency", MODULE_EFFICIENCY))
    solar = poa * area * dt
    dc = np.minimum(p_dc * dt, solar)
    return {"poa_global": poa, "p_dc": dc / dt, "solar": solar, "dc": dc}


def simulate(days: float = 365.0, dt: float = 60.0, manifest_path: Path = EXAMPLE
             ) -> dict[str, Any]:
    """Simulate the example home for ``days`` [d] at ticks of ``dt`` [s].

    Returns ``{"figures_kwh": {...}, "cost": float, "ticks": int, "seconds": {stage: s},
    "series": {name: array}}`` (see the module docstring): per tick ``times`` (tick starts,
    epoch [s]) and energies [J] ``solar``, ``dc``, ``pv_ac_available``, ``demand``,
    ``import_max``, ``export_max`` and those of :func:`dispatch_self_consumption`.

    Raises
    ------
    ValueError
        If the manifest is not shaped like the example (one device of each kind used here).
    """
    import pandas as pd
    import yaml
    from pvlib import inverter, irradiance, solarposition

    from homesim.devices.models.grid import availability, cost, tariff
    from homesim.devices.models.load import BdewProfile, appliance_energy, noise_factors
    from homesim.devices.models.weather import read_weather

    clock: dict[str, float] = {}
    t_stage = time.perf_counter()

    def stage(name: str) -> None:
        nonlocal t_stage
        now = time.perf_counter()
        clock[name] = round(now - t_stage, 3)
        t_stage = now

    manifest = yaml.safe_load(manifest_path.read_text())
    spec = manifest["spec"]
    dev = _devices(manifest)
    missing = {"weather", "sun", "pv", "inverter", "battery", "grid", "load"} - set(dev)
    if missing:
        raise ValueError(f"spec.devices: the lower bound needs one {', '.join(sorted(missing))}")
    loc, sim = spec["location"], spec["simulation"]
    tz = loc["timezone"]
    start = _epoch(sim["start"], tz)
    n = int(round(days * 86400.0 / dt))
    t = start + np.arange(n, dtype=float) * dt
    mid = t + 0.5 * dt
    stage("setup")

    w = read_weather(dev["weather"].get("file")).sample(start, dt, 0, n)
    stage("weather")

    index = pd.DatetimeIndex(np.round(mid * 1e9).astype("int64").astype("datetime64[ns]"),
                             tz="UTC")
    pos = solarposition.get_solarposition(index, loc["latitude"], loc["longitude"],
                                          altitude=loc.get("altitude", 0.0), method="nrel_numpy")
    zen = pos["apparent_zenith"].to_numpy(dtype=float)
    azi = pos["azimuth"].to_numpy(dtype=float)
    dni_extra = np.asarray(irradiance.get_extra_radiation(index), dtype=float)
    stage("sun")

    pv = pv_chain(w["ghi"], w["dni"], w["dhi"], w["temp_air"], w["wind_speed"], zen, azi,
                  dni_extra, dev["pv"], dt)
    inv = dev["inverter"]
    p_ac_max = float(inv["p_ac_max"])
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        ac = np.nan_to_num(np.asarray(inverter.pvwatts(pv["p_dc"], p_ac_max / ETA_INV_NOM,
                                                       ETA_INV_NOM, ETA_INV_REF), dtype=float))
    pv_ac = np.minimum(np.maximum(ac, 0.0), np.minimum(pv["p_dc"], p_ac_max)) * dt
    stage("pv")

    ld = dev["load"]
    with warnings.catch_warnings():
        base = BdewProfile(float(ld["annual_kwh"]), ld.get("profile", "h0")).energy(
            start, dt, 0, n, tz)
    demand = base * noise_factors(int(sim.get("seed", 0)), ld["name"], 0, n,
                                  float(ld.get("noise_sigma", 0.0)))
    for a in ld.get("appliances", []):
        demand = demand + appliance_energy(t, dt, tz, a["power"], a["start"], a["end"],
                                           a.get("days"))
    stage("load")

    g = dev["grid"]
    outages = [(_epoch(o["start"], tz), _epoch(o["end"], tz)) for o in g.get("outages", [])]
    up = availability(t, dt, tz, outages, g.get("load_shedding", []))
    if not g.get("connected", True):
        up[:] = False
    import_max = np.where(up, g["p_import_max"] * dt, 0.0)
    export_max = np.where(up, g["p_export_max"] * dt, 0.0)
    ti, te = g.get("tariff_import") or {}, g.get("tariff_export") or {}
    price_in = tariff(t, dt, tz, ti.get("flat", 0.0), ti.get("tou", []))
    price_out = tariff(t, dt, tz, te.get("flat", 0.0), te.get("tou", []))
    stage("grid")

    d = dispatch_self_consumption(pv_ac, demand, import_max, export_max, ~up,
                                  {k: float(v) for k, v in dev["battery"].items()
                                   if k != "name"},
                                  float(inv.get("reserve_soc", 0.2)), p_ac_max, dt)
    stage("dispatch")

    money = float(cost(d["grid_import"], d["grid_export"], price_in, price_out).sum())
    series = {"times": t, "solar": pv["solar"], "dc": pv["dc"], "pv_ac_available": pv_ac,
              "demand": demand, "import_max": import_max, "export_max": export_max, **d}
    figures = {
        "solar_incident": pv["solar"].sum(), "pv_dc_available": pv["dc"].sum(),
        "pv_ac": d["pv_used"].sum(), "load_demand": demand.sum(),
        "load_served": d["to_load"].sum(), "unserved": d["unserved"].sum(),
        "grid_import": d["grid_import"].sum(), "grid_export": d["grid_export"].sum(),
        "battery_charge": d["charge"].sum(), "battery_discharge": d["discharge"].sum(),
    }
    stage("totals")
    return {"ticks": n, "dt": dt, "days": days,
            "figures_kwh": {k: float(v) / J_PER_KWH for k, v in figures.items()},
            "cost": money, "seconds": clock, "series": series}


def compare(result: dict[str, Any], summary: dict[str, Any],
            tolerance: float = TOLERANCE) -> dict[str, dict[str, float]]:
    """Differences between the lower bound and a ``homesim run`` summary, per figure.

    Returns ``{figure: {"lower_bound": kWh, "homesim": kWh, "relative": r, "ok": bool}}``;
    ``relative = |a - b| / max(|b|, 1 kWh)`` (cost: per currency unit), ``ok``: ``<= tolerance``.

    Raises
    ------
    ValueError
        If the summary covers another number of ticks or another tick length.
    """
    if summary["ticks"] != result["ticks"] or summary["dt"] != result["dt"]:
        raise ValueError(f"summary has {summary['ticks']} ticks of {summary['dt']} s, the lower "
                         f"bound {result['ticks']} of {result['dt']} s")
    e = summary["energy_kwh"]
    pairs = {k: (result["figures_kwh"][k], float(f(e))) for k, f in FIGURES.items()}
    pairs["cost"] = (result["cost"], float(summary["cost"]["grid"]))
    out = {}
    for k, (a, b) in pairs.items():
        r = abs(a - b) / max(abs(b), 1.0)
        out[k] = {"lower_bound": a, "homesim": b, "relative": r, "ok": bool(r <= tolerance)}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=float, default=365.0, help="simulated days [d] (365)")
    ap.add_argument("--dt", type=float, default=60.0, help="tick length [s] (60)")
    ap.add_argument("--manifest", type=Path, default=EXAMPLE)
    ap.add_argument("--compare", type=Path, metavar="SUMMARY",
                    help="a homesim run summary.json of the same span: print the differences")
    ap.add_argument("--json", type=Path, metavar="OUT", help="write the figures here")
    a = ap.parse_args()
    t0, c0 = time.perf_counter(), time.process_time()
    res = simulate(a.days, a.dt, a.manifest)
    res.pop("series")
    res["wall_s"] = round(time.perf_counter() - t0, 3)
    res["cpu_s"] = round(time.process_time() - c0, 3)
    code = 0
    if a.compare:
        res["comparison"] = compare(res, json.loads(a.compare.read_text()))
        print(f"{'figure':18s} {'lower bound':>14s} {'homesim':>14s} {'relative':>10s}")
        for k, v in res["comparison"].items():
            flag = "" if v["ok"] else "  > tolerance"
            print(f"{k:18s} {v['lower_bound']:14.4f} {v['homesim']:14.4f} "
                  f"{v['relative']:10.2e}{flag}")
            code |= 0 if v["ok"] else 1
    if a.json:
        a.json.write_text(json.dumps(res, indent=2) + "\n")
    else:
        print(json.dumps({k: res[k] for k in ("ticks", "figures_kwh", "cost", "seconds",
                                               "wall_s", "cpu_s")}, indent=2))
    return code


if __name__ == "__main__":
    sys.exit(main())
