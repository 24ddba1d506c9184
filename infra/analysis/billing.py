"""Per-flat bills of a run: virtual meters from the ledger and an exact allocation key.

``bill_run(run_dir)`` reads ``ledger.sqlite`` (the packets and the manifest stored in its
``run`` table, through :class:`homesim.devices.bus.store.LedgerStore`) and splits the
building's metered cost of a period over its flats so that the bills add up to that cost.

Virtual meters of flat ``f`` over the period
--------------------------------------------
* electricity ``E_f`` [J]: electricity from the inverter into the consumers whose ``flat``
  is ``f`` (loads, chargers…; heat pumps are billed with the heat, see below);
* heat ``H_f`` [J]: heat packets from the heat node into the flat's ``flat``-kind device
  (a Block names that zone after the flat; in a Home a zone without ``flat`` is its own flat).

Building's metered cost ``C`` [currency]
----------------------------------------
``C = Σ_t c_t + G`` with the grid's net cost per tick
``c_t = imp_t / 3.6e6 · p_imp(t) − exp_t / 3.6e6 · p_exp(t)`` (the grid ⇄ inverter packets,
prices from the grid's tariffs in the manifest, :func:`homesim.devices.models.grid.tariff` in
the home's time zone) and the gas cost ``G = Σ_b gas_b / 3.6e6 · gas_price_b`` (``gas-grid →
boiler`` packets, gross calorific value).

Allocation key
--------------
Consumers ``i`` are the devices that receive electricity from the inverter, as the headline
figures count them (:class:`homesim.devices.bus.figures.Roles`: kinds with ``consumer: true``
in the registry — loads, chargers, heat pumps…); ``e_i,t`` [J] is what ``i`` received in
tick ``t`` and ``e_t = Σ_i e_i,t``. ``Σ_t e_t`` is the run's load
(:attr:`Bill.load_kwh`, the summary's ``energy_kwh.load``).

1. **Electricity, per tick.** The tick's import cost ``m_t = imp_t/3.6e6 · p_imp(t)`` is
   split pro rata to consumption: ``a_i = Σ_t m_t · e_i,t / e_t`` over the ticks with
   ``e_t > 0``. What the common PV and battery cover is not imported, so it costs nothing
   to whoever consumed in that tick; the revenue of exported energy
   ``r_t = exp_t/3.6e6 · p_exp(t)`` belongs to the building (step 3).
   A flat's electricity cost is ``Σ a_i`` over its consumers.
2. **Heat.** The heat pool ``P_heat = Σ_{heat pumps} a_i + G`` is split by the heat meters:
   ``heat_cost_f = P_heat · H_f / Σ_g H_g`` (heat-node, buffer and distribution losses are
   shared by heat use); the gas column is ``gas_kwh_f = G_kWh · H_f / Σ_g H_g``. A period
   without delivered heat splits the pool (and gas) by the shared key below.
3. **Shared pool.** ``P_shared = Σ_{consumers without a flat} a_i + Σ_{t: e_t = 0} m_t
   − Σ_t r_t`` (common devices; imports in ticks without consumers, e.g. grid charging of the
   battery while nothing runs; minus the export revenue of the common PV) is split by the
   flats' floor areas ``A_f / Σ_g A_g`` when every flat has a ``flat``-kind device, else
   equally.

``total_f = electricity_cost_f + heat_cost_f + shared_cost_f`` and ``Σ_f total_f = C``
(up to rounding; every sum is :func:`math.fsum`). A home without flats (no device with
``flat`` set, no ``flat`` device) gets one bill named after the home that carries it all.

Period: ``--from`` / ``--to`` are dates in the home's time zone, both inclusive; a tick
belongs to the period when its start does.

Prices are the manifest's (stored in the ledger): a price changed live during the run is
not known here; the bill notes it when the grid's booked window costs disagree. Every meter
is read in one SQL pass (:meth:`~homesim.devices.bus.store.LedgerStore.per_tick`) that
pivots the period's packets to one row per tick (a synthetic year at dt = 60 s, 4.7 million
packet rows: ~5 s).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from homesim.devices.bus.figures import Roles
from homesim.devices.bus.store import LEDGER_FILE, LedgerError, LedgerStore, Meter, run_ledger
from homesim.schemas.manifest import Home
from homesim.schemas.units import J_PER_KWH

__all__ = ["Bill", "BillingError", "FlatBill", "CSV_COLUMNS", "bill_run", "write_csv"]

CSV_COLUMNS = ("flat", "electricity_kwh", "heat_kwh", "gas_kwh", "electricity_cost",
               "heat_cost", "shared_cost", "total", "currency")


class BillingError(ValueError):
    """The run folder cannot be billed (missing, incomplete, or the period is outside it)."""


@dataclass(frozen=True)
class FlatBill:
    """One flat's bill of a period (one CSV row); ``total`` row: the column sums.

    Energies [kWh]; ``gas_kwh`` is the flat's share of the boiler gas; costs [currency].
    """

    flat: str
    electricity_kwh: float
    heat_kwh: float
    gas_kwh: float
    electricity_cost: float
    heat_cost: float
    shared_cost: float
    total: float


@dataclass(frozen=True)
class Bill:
    """The bills of a period and the building's metered cost they add up to.

    ``t_start``/``t_end`` [s since epoch] bound the billed ticks ``[tick0, tick1)``;
    ``grid_cost`` (net, import − export) and ``gas_cost`` [currency] are the metered costs;
    ``shared_key`` is ``"floor area"`` or ``"equal"``; ``notes`` are warnings for the reader;
    ``load_kwh`` is the electricity every consumer received (flats, heat pumps, common
    devices) [kWh], the headline figures' load of the period.
    """

    home: str
    currency: str
    tz: str
    tick0: int
    tick1: int
    t_start: float
    t_end: float
    flats: tuple[FlatBill, ...]
    total: FlatBill
    grid_cost: float
    gas_cost: float
    heat_pool: float
    shared_pool: float
    shared_key: str
    notes: tuple[str, ...] = ()
    load_kwh: float = 0.0

    @property
    def metered_cost(self) -> float:
        """Grid net cost + gas cost of the period [currency]."""
        return math.fsum((self.grid_cost, self.gas_cost))

    def rows(self) -> list[dict[str, object]]:
        """One dict per flat and a ``total`` row, keyed by :data:`CSV_COLUMNS`."""
        out = []
        for b in (*self.flats, self.total):
            row: dict[str, object] = {f.name: getattr(b, f.name) for f in fields(b)}
            row["currency"] = self.currency
            out.append(row)
        return out


# ---------------------------------------------------------------------------- reading


def _connect(run_dir: Path) -> LedgerStore:
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise BillingError(f"no run folder at {run_dir}")
    db = run_ledger(run_dir)
    if db is None:
        raise BillingError(f"no ledger at {run_dir / LEDGER_FILE} (not a run folder, or the "
                           "run never started)")
    try:
        return LedgerStore.open(db)
    except LedgerError as exc:
        raise BillingError(str(exc)) from None


def _run_row(store: LedgerStore) -> tuple[Home, float, float, int, int]:
    """The stored manifest, start [s], dt [s], planned ticks and the booked ticks."""
    try:
        run = store.run()
        booked = store.settled_span()
    except LedgerError as exc:
        raise BillingError(f"the ledger is incomplete: {exc}") from None
    if run is None:
        raise BillingError("the ledger has no run row (incomplete run folder)")
    try:
        home = Home.model_validate_json(run.manifest)
    except ValidationError as exc:
        raise BillingError(f"the manifest stored in the ledger is invalid: {exc}") from None
    first, end, n = booked.first_tick, booked.end_tick, booked.ticks
    if booked.windows == 0:
        end = 0
    elif first != 0 or end != n:
        raise BillingError(f"the ledger's settled windows are not contiguous from tick 0 "
                           f"(ticks {first}…{end}, {n} booked)")
    return home, run.start, run.dt, run.ticks, int(end)


def _tick_at(t: float, start: float, dt: float) -> int:
    """First tick whose start is at or after ``t`` (a float-safe ceiling)."""
    return math.ceil((t - start) / dt - 1e-9)


def _period(start: float, dt: float, ticks: int, booked: int, tz: str,
            first: date | None, last: date | None) -> tuple[int, int]:
    """Ticks ``[k0, k1)`` of the run whose start lies in the local days ``first…last``."""
    from homesim.devices.models.schedule import resolve_tz

    zone = resolve_tz(tz)
    if first is not None and last is not None and last < first:
        raise BillingError(f"--to {last} is before --from {first}")
    k0 = 0 if first is None else _tick_at(
        datetime(first.year, first.month, first.day, tzinfo=zone).timestamp(), start, dt)
    end = None if last is None else last + timedelta(days=1)
    k1 = ticks if end is None else _tick_at(
        datetime(end.year, end.month, end.day, tzinfo=zone).timestamp(), start, dt)
    k0, k1 = max(k0, 0), min(k1, ticks)

    def local(k: int) -> str:
        return datetime.fromtimestamp(start + k * dt, zone).strftime("%Y-%m-%d %H:%M")

    if k1 <= k0:
        raise BillingError(f"the period has no tick of the run (the run covers {local(0)} to "
                           f"{local(ticks)}, {tz})")
    if k1 > booked:
        raise BillingError(
            f"incomplete run: the ledger has booked {booked:,} of {ticks:,} ticks (up to "
            f"{local(booked)}, {tz}); bill an earlier period with --to, or finish the run")
    return k0, k1


# ---------------------------------------------------------------------------- meters


def _flats(home: Home) -> tuple[list[str], dict[str, list[str]]]:
    """Flat names in manifest order and each flat's ``flat``-kind devices (zones)."""
    order: dict[str, None] = {}
    zones: dict[str, list[str]] = {}
    for d in home.spec.enabled():
        f = d.flat or (d.name if d.kind == "flat" else None)
        if f is None:
            continue
        order.setdefault(f, None)
        if d.kind == "flat":
            zones.setdefault(f, []).append(d.name)
    return list(order), zones


def _meter(carrier: str, source: str | None, sinks: tuple[str, ...]) -> Meter:
    """``carrier`` from ``source`` (any if None) into any of ``sinks`` (none if empty)."""
    return Meter(carrier, None if source is None else (source,), sinks)


def _window_cost_check(store: LedgerStore, k0: int, k1: int, device: str,
                       cost: np.ndarray) -> str | None:
    """Compare the per-tick cost with what ``device`` booked for the windows inside the
    period; a difference means prices changed live during the run."""
    rows = [(m.tick0, m.n, m.total)
            for m in store.device_metrics(metrics=("cost",), devices=(device,), tick0=k0,
                                          tick1=k1)]
    if not rows:
        return None
    booked = math.fsum(r[2] for r in rows)
    ours = math.fsum(math.fsum(cost[t0 - k0:t0 - k0 + n]) for t0, n, _ in rows)
    scale = max(math.fsum(abs(r[2]) for r in rows), 1e-12)
    if abs(booked - ours) > 1e-9 * scale:
        return (f"{device} booked {booked:,.4f} for whole windows of the period, the manifest's "
                f"prices give {ours:,.4f} (a price changed live during the run?)")
    return None


# ---------------------------------------------------------------------------- allocation


def split_per_tick(cost: np.ndarray, consumption: np.ndarray) -> tuple[list[float], float]:
    """Split each tick's cost over the consumer groups pro rata to their consumption.

    Parameters
    ----------
    cost : numpy.ndarray
        Cost of each tick, shape (n,) [currency].
    consumption : numpy.ndarray
        Energy each group received in each tick, shape (n, groups), ≥ 0 [J].

    Returns
    -------
    (list of float, float)
        Each group's share ``Σ_t cost_t · e_g,t / e_t`` and the cost of the ticks without
        consumption (``e_t = 0``) [currency].
    """
    total = consumption.sum(axis=1)
    used = total > 0
    # ticks without consumption have no shares (their cost is returned apart)
    share = np.divide(consumption, total[:, None], out=np.zeros_like(consumption),
                      where=used[:, None])
    share *= cost[:, None]
    per = [math.fsum(share[:, g].tolist()) for g in range(share.shape[1])]
    return per, math.fsum(cost[~used].tolist())


def _weights(values: list[float]) -> list[float]:
    total = math.fsum(values)
    return [v / total for v in values]


def bill_run(run_dir: Path, first: date | None = None, last: date | None = None) -> Bill:
    """Bills per flat of a run's period (see the module docstring for the key).

    Parameters
    ----------
    run_dir
        Run folder with ``ledger.sqlite``.
    first, last
        First and last day of the period (inclusive, the home's time zone); default the
        whole run.

    Raises
    ------
    BillingError
        If the folder or its ledger is missing or incomplete, or the period has no ticks.
    """
    from homesim.devices.context import home_context
    from homesim.devices.models.grid import cost as grid_cost
    from homesim.devices.models.grid import read_price_series, tariff

    store = _connect(run_dir)
    try:
        home, start, dt, ticks, booked = _run_row(store)
        try:
            tz = home_context(home).tz
        except Exception as exc:  # noqa: BLE001 - the weather file names the zone
            raise BillingError(f"cannot resolve the home's time zone: {exc}") from None
        k0, k1 = _period(start, dt, ticks, booked, tz, first, last)
        n = k1 - k0
        spec = home.spec
        devices = spec.enabled()
        notes: list[str] = []

        flats, zones = _flats(home)
        single = not flats
        if single:
            flats = [home.metadata.name]
        f_index = {f: i for i, f in enumerate(flats)}
        g_heat, g_shared = len(flats), len(flats) + 1
        group: dict[str, int] = {}
        roles = Roles.of({d.name: d.kind for d in devices})
        consumers, heat_pumps = set(roles.consumers), set(roles.heat_pumps)
        for d in devices:
            if d.name not in consumers:
                continue
            if d.name in heat_pumps:
                group[d.name] = g_heat
            elif single:
                group[d.name] = 0
            else:
                group[d.name] = f_index[d.flat] if d.flat else g_shared

        # every meter per tick, one pass over the period's packets
        grid, inverter = spec.first("grid"), spec.first("inverter")
        node = spec.first("heat_node")
        boilers = [d for d in devices if d.kind == "boiler"]
        n_groups = len(flats) + 2
        members = [tuple(d for d, g in group.items() if g == i) for i in range(n_groups)]
        exchange = ([_meter("electricity", grid.name, (inverter.name,)),
                     _meter("electricity", inverter.name, (grid.name,))]
                    if grid is not None else [])
        columns = [*exchange,
                   *(_meter("electricity", inverter.name, m) for m in members),
                   *(_meter("heat", node.name if node else "", tuple(zones.get(f, ())))
                     for f in flats),
                   *(_meter("gas", "gas-grid", (b.name,)) for b in boilers)]
        meters = store.per_tick(columns, k0, k1)
        at = len(exchange)
        consumption = meters[:, at:at + n_groups]
        heat_j = [math.fsum(meters[:, at + n_groups + i].tolist()) for i in range(len(flats))]
        gas_j = [math.fsum(meters[:, at + n_groups + len(flats) + i].tolist())
                 for i in range(len(boilers))]

        # grid: net cost per tick
        currency = grid.properties.currency if grid is not None else None
        cost = np.zeros(n)
        import_cost = np.zeros(n)
        export_revenue = np.zeros(n)
        if grid is not None:
            times = start + (k0 + np.arange(n)) * dt
            prices = []
            for t in (grid.properties.tariff_import, grid.properties.tariff_export):
                series = read_price_series(t.file, tz) if t is not None and t.file else None
                prices.append(tariff(times, dt, tz, t.flat if t is not None else 0.0,
                                     [b.model_dump() for b in t.tou] if t is not None else [],
                                     series))
            cost = grid_cost(meters[:, 0], meters[:, 1], prices[0], prices[1])
            import_cost = meters[:, 0] / J_PER_KWH * prices[0]
            export_revenue = meters[:, 1] / J_PER_KWH * prices[1]
            note = _window_cost_check(store, k0, k1, grid.name, cost)
            if note:
                notes.append(note)
    finally:
        store.close()

    # gas
    for b in boilers:
        if currency is None:
            currency = b.properties.currency
        elif b.properties.currency != currency:
            raise BillingError(f"boiler {b.name!r} is priced in {b.properties.currency}, "
                               f"the grid in {currency}: cannot add them")
    gas_cost = math.fsum(g / J_PER_KWH * b.properties.gas_price
                         for g, b in zip(gas_j, boilers, strict=True))
    gas_kwh = math.fsum(gas_j) / J_PER_KWH

    # electricity: each tick's import cost pro rata to consumption; export revenue (the
    # common PV's) to the shared pool
    per, idle = split_per_tick(import_cost, consumption)
    elec_j = [math.fsum(consumption[:, i].tolist()) for i in range(len(flats))]

    if not single and all(f in zones for f in flats):
        shared_key = "floor area"
        w_shared = _weights([math.fsum(spec.device(z).properties.floor_area for z in zones[f])
                             for f in flats])
    else:
        shared_key = "equal"
        w_shared = [1.0 / len(flats)] * len(flats)
    heat_pool = math.fsum((per[g_heat], gas_cost))
    w_heat = _weights(heat_j) if math.fsum(heat_j) > 0 else w_shared
    if math.fsum(heat_j) <= 0 and heat_pool != 0:
        how = "equally" if shared_key == "equal" else f"by {shared_key}"
        notes.append(f"no heat delivered in the period: the heat pool is split {how}")
    shared_pool = math.fsum((per[g_shared], idle, -math.fsum(export_revenue.tolist())))

    bills = []
    for i, f in enumerate(flats):
        parts = (per[i], heat_pool * w_heat[i], shared_pool * w_shared[i])
        bills.append(FlatBill(flat=f, electricity_kwh=elec_j[i] / J_PER_KWH,
                              heat_kwh=heat_j[i] / J_PER_KWH,
                              gas_kwh=gas_kwh * w_heat[i], electricity_cost=parts[0],
                              heat_cost=parts[1], shared_cost=parts[2], total=math.fsum(parts)))
    total = FlatBill("total", *(math.fsum(getattr(b, c) for b in bills)
                                for c in CSV_COLUMNS[1:-1]))
    return Bill(home=home.metadata.name, currency=currency or "USD", tz=tz, tick0=k0, tick1=k1,
                t_start=start + k0 * dt, t_end=start + k1 * dt, flats=tuple(bills), total=total,
                grid_cost=math.fsum(cost.tolist()), gas_cost=gas_cost, heat_pool=heat_pool,
                shared_pool=shared_pool, shared_key=shared_key, notes=tuple(notes),
                load_kwh=math.fsum(consumption.sum(axis=1).tolist()) / J_PER_KWH)


def write_csv(bill: Bill, path: Path) -> Path:
    """Write the bill as CSV (:data:`CSV_COLUMNS`, one row per flat and a ``total`` row)."""
    path = Path(path)
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        w.writeheader()
        for row in bill.rows():
            w.writerow({k: repr(v) if isinstance(v, float) else v for k, v in row.items()})
    return path
