"""Regular time series from CSV files (load profiles, generic weather): columns, time zones,
interval labels, gaps.

A file holds one row per interval: a time column and value columns. Times are ISO 8601
(``2025-01-01T00:15``, with or without an offset) or follow an explicit ``time_format``
(:func:`datetime.datetime.strptime` codes). A naive time is local time of ``tz`` (an IANA
zone with daylight saving is resolved, the autumn's repeated hour in file order); a time
with an offset is absolute. Each row's time is the start (``label='start'``) or the end
(``label='end'``) of its interval. Rows must follow each other at one step that divides a
day (1 min … 1 h … 1 day), without gaps or repeats.

Lines above the header (the metadata block of an Open-Meteo CSV, for example) are skipped:
the header is the first line that names the time column.
"""

from __future__ import annotations

import csv
import io
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ._timeseries import YearTable

__all__ = ["CsvTableError", "RegularRecords", "read_regular_csv"]

_DAY = 86400
#: Lines searched for the header row.
_HEADER_SCAN = 200


class CsvTableError(ValueError):
    """A CSV time series that cannot be used (the message names file, row and column)."""


@dataclass(frozen=True, eq=False)
class RegularRecords:
    """Rows of a CSV file at one regular step.

    Attributes
    ----------
    starts : numpy.ndarray of int64
        Start of each row's interval, seconds since the Unix epoch (UTC) [s], increasing.
    step : int
        Interval length [s]; divides a day.
    values : dict of numpy.ndarray
        One array per requested column (file units), finite.
    offset : int
        Local standard time of the file's zone minus UTC [s], moved back to a multiple of
        ``step`` from the first start if needed: the frame whose calendar years the records
        are laid on (:class:`~homesim.devices.models._timeseries.YearTable`).
    """

    starts: np.ndarray
    step: int
    values: dict[str, np.ndarray]
    offset: int

    def table(self, column: str, factor: float = 1.0) -> YearTable:
        """The records of ``column`` times ``factor`` as a :class:`YearTable`."""
        return YearTable(self.step, self.starts + self.offset, self.values[column] * factor,
                         offset=float(self.offset))

    @property
    def span(self) -> float:
        """Time the records cover [s]."""
        return float(len(self.starts) * self.step)


def _header_row(path: str, time_column: str) -> int:
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as fh:
        for i, line in enumerate(fh):
            if i >= _HEADER_SCAN:
                break
            fields = next(csv.reader(io.StringIO(line)), [])
            if time_column in (f.strip() for f in fields):
                return i
    raise CsvTableError(f"{path}: no header line with the time column {time_column!r} in the "
                        f"first {_HEADER_SCAN} lines")


def _utc_seconds(raw: object, path: str, column: str, tz: str, time_format: str | None
                 ) -> np.ndarray:
    import pandas as pd

    from .schedule import resolve_tz

    fmt = time_format or "ISO8601"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            t = pd.to_datetime(raw, format=fmt)
            if t.dtype == object:  # several offsets (local time with daylight saving)
                t = pd.to_datetime(raw, format=fmt, utc=True)
        except (ValueError, TypeError) as exc:
            try:
                t = pd.to_datetime(raw, format=fmt, utc=True)
            except (ValueError, TypeError):
                hint = "" if time_format else " (give time_format, e.g. '%d.%m.%Y %H:%M')"
                raise CsvTableError(f"{path}: column {column!r}: cannot read the times: "
                                    f"{' '.join(str(exc).split())[:200]}{hint}") from None
    if t.isna().any():
        row = int(np.flatnonzero(t.isna().to_numpy())[0])
        raise CsvTableError(f"{path}: column {column!r}, data row {row + 1}: no time")
    if t.dt.tz is None:
        try:
            t = t.dt.tz_localize(resolve_tz(tz), ambiguous="infer", nonexistent="raise")
        except Exception as exc:  # noqa: BLE001 - pandas raises several kinds here
            raise CsvTableError(
                f"{path}: times in {tz}: {' '.join(str(exc).split())[:200]} (give the "
                "file's time zone, or times in UTC or with an offset)") from None
    epoch = pd.Timestamp(0, tz="UTC")
    return ((t.dt.tz_convert("UTC") - epoch) // pd.Timedelta("1s")).to_numpy(dtype="int64")


def _regular(stamps: np.ndarray, path: str) -> int:
    if len(stamps) < 2:
        raise CsvTableError(f"{path}: at least 2 rows are needed, got {len(stamps)}")
    d = np.diff(stamps)
    if np.any(d <= 0):
        i = int(np.flatnonzero(d <= 0)[0])
        what = "repeats" if d[i] == 0 else "goes back in time after"
        raise CsvTableError(f"{path}: data row {i + 2} {what} the row before "
                            f"({np.datetime64(int(stamps[i + 1]), 's')} UTC)")
    values, counts = np.unique(d, return_counts=True)
    step = int(values[np.argmax(counts)])
    if _DAY % step:
        raise CsvTableError(f"{path}: time step {step} s does not divide a day (use 1 min, "
                            "5 min, 15 min, 1 h, …)")
    bad = np.flatnonzero(d != step)
    if bad.size:
        i = int(bad[0])
        a, b = (np.datetime64(int(x), "s") for x in stamps[i:i + 2])
        kind = "gap" if d[i] > step else "irregular step"
        raise CsvTableError(f"{path}: {kind} between data rows {i + 1} and {i + 2} ({a} and "
                            f"{b} UTC; the step is {step} s); {bad.size} such place(s)")
    return step


def read_regular_csv(
    path: str | os.PathLike[str],
    time_column: str,
    columns: Sequence[str],
    tz: str,
    label: str = "start",
    time_format: str | None = None,
) -> RegularRecords:
    """Read a regular time series from a CSV file.

    Parameters
    ----------
    path : str or path-like
        The CSV file (comma separated, a header row).
    time_column : str
        Name of the time column.
    columns : sequence of str
        Names of the value columns to read.
    tz : str
        Time zone of naive times (see :func:`homesim.devices.models.schedule.resolve_tz`); also
        the zone whose standard time defines the calendar years (:class:`RegularRecords`).
    label : {'start', 'end'}, default 'start'
        Whether a row's time is the start or the end of its interval.
    time_format : str, optional
        :func:`pandas.to_datetime` format of the times; default ISO 8601.

    Returns
    -------
    RegularRecords

    Raises
    ------
    CsvTableError
        If the file cannot be read, a column is missing, a value is not a finite number, or
        the rows are not at one regular step dividing a day (gaps, repeats, disorder); the
        message names the row.
    """
    import pandas as pd

    from .schedule import standard_offset

    p = os.fspath(path)
    if label not in ("start", "end"):
        raise CsvTableError(f"label: must be 'start' or 'end', got {label!r}")
    if not os.path.isfile(p):
        raise CsvTableError(f"{p}: no such file")
    header = _header_row(p, time_column)
    try:
        df = pd.read_csv(p, skiprows=header, skipinitialspace=True, encoding="utf-8-sig")
    except Exception as exc:  # noqa: BLE001 - pandas raises many kinds on malformed files
        raise CsvTableError(f"{p}: cannot read as CSV: {' '.join(str(exc).split())[:200]}"
                            ) from None
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in (time_column, *columns) if c not in df.columns]
    if missing:
        raise CsvTableError(f"{p}: missing column(s) {', '.join(map(repr, missing))} "
                            f"(columns: {', '.join(map(repr, df.columns[:20]))})")
    df = df.dropna(how="all")
    stamps = _utc_seconds(df[time_column], p, time_column, tz, time_format)
    values: dict[str, np.ndarray] = {}
    for c in columns:
        v = pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(v)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise CsvTableError(f"{p}: column {c!r}, data row {i + 1}: {df[c].iloc[i]!r} is "
                                f"not a number ({int(bad.sum())} such row(s))")
        values[c] = v
    step = _regular(stamps, p)
    starts = stamps - step if label == "end" else stamps
    std = int(standard_offset(starts[:1].astype(float), tz)[0])
    offset = std - int((starts[0] + std) % step)
    return RegularRecords(starts.astype("int64"), step, values, offset)
