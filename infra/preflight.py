"""What ``homesim validate``, ``homesim run`` and :func:`homesim.run` check before anything
starts: the manifest (with every error and its field path), every file it names, opened and
read as its device will read it (weather, price series, the ``files`` of each kind in the
registry), and the simulation overrides (``--until``, ``--dt``, ``--speed`` …).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from homesim.schemas.manifest import (
    Home,
    ManifestError,
    load_any,
    parse_duration,
    with_simulation,
)
from homesim.schemas.registry import REGISTRY

__all__ = ["check_files", "load_checked", "OPTION_LABELS"]

#: Simulation fields → the ``homesim run`` options that override them (for messages).
OPTION_LABELS = {"duration": "--until", "dt": "--dt", "speed": "--speed", "seed": "--seed",
                 "timeout": "--timeout"}
#: Bytes of a file of an unknown format read to check that it can be read.
PROBE_BYTES = 64 * 1024


#: A check's arguments: the file's path, the home's time zone, the device's properties and
#: the simulated span ``(start, end)`` [s since epoch, UTC] (None when unknown).
Span = tuple[float, float] | None


def _covers(table: Any, span: Span, what: str) -> None:
    """A table without a complete year must cover the simulated span."""
    if span is None or table.complete:
        return
    import numpy as np

    try:
        table.integral(np.array([span[0]]), np.array([span[1]]))
    except ValueError as exc:
        raise ValueError(f"{what} does not cover the simulation: {exc}") from None


def _read_weather(path: str, fmt: str, csv_json: str | None) -> Any:
    """The weather file read as the device reads it (cached while the file is unchanged)."""
    import os

    try:
        st = os.stat(path)
        stamp = (st.st_mtime_ns, st.st_size)
    except OSError:
        stamp = None
    return _read_weather_cached(path, stamp, fmt, csv_json)


@lru_cache(maxsize=8)
def _read_weather_cached(path: str, stamp: Any, fmt: str, csv_json: str | None) -> Any:
    import json

    from homesim.devices.models.weather import CsvWeather, read_weather

    return read_weather(path, fmt, CsvWeather.from_mapping(
        json.loads(csv_json) if csv_json else None))


def _weather(path: str, tz: str, props: Any, span: Span) -> None:
    """Read the weather file as the device does (columns, length of a typical year, time zone,
    gaps, plausible values) and check that it covers the simulated span."""
    from homesim.devices.models.weather import WeatherFileError

    try:
        data = _read_weather(path, props.format,
                             props.csv.model_dump_json() if props.csv else None)
        if span is not None and not data.typical:
            data.covers(*span)
    except WeatherFileError as exc:
        raise ValueError(f"{exc} (a weather file is TMY3, TMY2, EPW or PVGIS, or a CSV "
                         "with format csv and its csv layout)") from None


def _load_csv(path: str, tz: str, props: Any, span: Span) -> None:
    from homesim.devices.models.load import read_load_csv

    c = props.csv
    prof = read_load_csv(path, c.timezone or tz, time_column=c.time_column, column=c.column,
                         unit=c.unit, label=c.label, time_format=c.time_format,
                         annual_kwh=props.annual_kwh if c.scale else None)
    _covers(prof.table, span, "the load profile")


def _prices(path: str, tz: str, props: Any, span: Span) -> None:
    from homesim.devices.models.grid import read_price_series

    times, _ = read_price_series(path, tz)
    if len(times) == 0:
        raise ValueError(f"price file {path}: no rows")


def _readable(path: str, tz: str, props: Any, span: Span) -> None:
    with open(path, "rb") as fh:
        if not fh.read(PROBE_BYTES):
            raise ValueError(f"{path}: empty file")


#: ``(kind, property path)`` → the check that reads the file as the device does. Files of
#: other kinds (plugins) are opened and read (at most ``PROBE_BYTES``).
READERS: dict[tuple[str, str], Callable[[str, str, Any, Span], None]] = {
    ("weather", "file"): _weather,
    ("load", "csv.file"): _load_csv,
    ("grid", "tariff_import.file"): _prices,
    ("grid", "tariff_export.file"): _prices,
}


def _span(home: Home) -> Span:
    """The simulated span [s since epoch, UTC], or None when the home's zone is unknown."""
    sim = home.spec.simulation
    start = sim.start
    if start.tzinfo is None:
        loc = home.spec.location
        if loc is None or loc.timezone is None:
            return None
        from homesim.devices.models.schedule import resolve_tz

        start = start.replace(tzinfo=resolve_tz(loc.timezone))
    t0 = start.timestamp()
    return (t0, t0 + parse_duration(sim.duration))


def _value(props: Any, path: str) -> Any:
    node = props
    for part in path.split("."):
        node = getattr(node, part, None)
        if node is None:
            return None
    return node


def check_files(home: Home) -> None:
    """Open and read every file an enabled device names (the registry's ``files`` of its
    kind), as the device will: a weather file must parse as TMY3/TMY2/EPW with 8760 plausible
    hours, a load profile CSV must have its columns at one regular step without gaps (and,
    without a complete year, cover the simulated span), a price file must have ``time`` and
    ``price`` columns, any other file must be readable and not empty. Paths are absolute
    here (:func:`load_any` resolves them).

    Raises
    ------
    ManifestError
        With ``spec.devices[i].properties.<path>`` and the reason, for every bad file.
    """
    tz = (home.spec.location.timezone if home.spec.location else None) or "UTC"
    try:
        span = _span(home)
    except Exception:  # noqa: BLE001 - an unknown zone is the manifest's error, not a file's
        span = None
    errors: list[tuple[str, str]] = []
    seen: dict[tuple[str, str], str | None] = {}
    for i, d in enumerate(home.spec.devices):
        if not d.enabled:
            continue
        for path in REGISTRY.get(d.kind).files:
            value = _value(d.properties, path)
            if not value:
                continue
            check = READERS.get((d.kind, path), _readable)
            key = (check.__name__, str(value), d.properties.model_dump_json())
            if key not in seen:
                try:
                    check(str(value), tz, d.properties, span)
                    seen[key] = None
                except Exception as exc:  # noqa: BLE001 - any reader failure is the file's
                    seen[key] = " ".join(str(exc).split())[:300] or type(exc).__name__
            if seen[key]:
                errors.append((f"spec.devices[{i}].properties.{path}", str(seen[key])))
    errors += _location_errors(home)
    if errors:
        raise ManifestError(errors)


def _location_errors(home: Home) -> list[tuple[str, str]]:
    """A weather file without a location (a generic CSV) needs ``spec.location``."""
    loc = home.spec.location
    if loc is not None and loc.timezone is not None:
        return []
    w = home.spec.first("weather")
    if w is None or not w.enabled or not w.properties.file:
        return []
    try:
        data = _read_weather(str(w.properties.file), w.properties.format,
                             w.properties.csv.model_dump_json() if w.properties.csv else None)
    except Exception:  # noqa: BLE001 - the file's own error is reported with its path
        return []
    if loc is None and data.latitude is None:
        return [("spec.location", "required: the weather file has no location (a CSV); give "
                 "latitude, longitude, altitude and timezone")]
    return []


def load_checked(source: str | Path, overrides: Mapping[str, Any] | None = None,
                 labels: Mapping[str, str] | None = None) -> Home:
    """Read and validate a Home or Block manifest file, check every file it names
    (:func:`check_files`) and apply simulation ``overrides`` (``until``, ``dt``, ``speed``,
    ``seed``, ``timeout``; see :func:`homesim.schemas.manifest.with_simulation`).

    Raises
    ------
    ManifestError
        With every error: field paths for the manifest and its files, ``labels`` (default
        the ``homesim run`` option names) for the overrides.
    """
    home = load_any(source, check_files=True)
    home = with_simulation(home, **dict(overrides or {}),
                           labels=OPTION_LABELS if labels is None else labels)
    try:  # with the overrides: a file must cover the simulated span
        check_files(home)
    except ManifestError as exc:
        raise ManifestError(exc.errors, str(source)) from None
    return home
