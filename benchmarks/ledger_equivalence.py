"""Are two homesim ledgers the same? Compares flows, node balances and device metrics.

    python benchmarks/ledger_equivalence.py A B [--rtol 1e-12] [--abs-floor 1e-9] [--json OUT]

``A`` and ``B`` are ``ledger.sqlite`` files or run folders (``homesim run --out DIR`` writes
``DIR/ledger.sqlite``; a folder holding exactly one ``<run>/ledger.sqlite`` works too). Meant
for refactorings: run the same manifest with the old and the new code, then compare.

Three tables are compared, each as a map key -> values:

* ``packet`` (flows): key (tick, source, sink, carrier), value the sum of ``joules`` over the
  rows of that key (``math.fsum``: correctly rounded, so independent of row order);
* ``node_balance``: key (window_index, node), values energy_in, energy_out, delta_stored,
  losses, residual;
* ``device_metric``: key (window_index, device, metric), values total, minimum, maximum.

For every key present in both ledgers and every value column the relative difference is

    |a - b| / max(|a|, |b|, abs_floor)

so values near zero (below ``--abs-floor``, default 1e-9, i.e. 1 nJ for energies) are judged
by their absolute difference against that floor instead of blowing up the ratio. Two NaNs,
or two equal infinities, count as equal. Keys present on one side only are counted
(``only_in_a`` / ``only_in_b``): the ledger stores only non-zero packets, so a flow that
is zero on one side and not on the other shows up as a missing key.

Exit status: 0 when every relative difference is <= ``--rtol`` (default 1e-12) and no key is
missing on either side; 1 otherwise; 2 when a ledger cannot be read. ``--json OUT`` writes
all figures (per table and column: maximum relative and absolute difference, the worst key,
counts, examples of missing keys) to OUT.

Examples:

    # old vs new code, strict (bit-for-bit up to 1e-12)
    python benchmarks/ledger_equivalence.py /work/ledgers/before/home runs/home-new
    # determinism check of two runs of the same code, figures into a file
    python benchmarks/ledger_equivalence.py before/block before2/block --json eq.json
    # tolerate reordered floating-point sums
    python benchmarks/ledger_equivalence.py a/ledger.sqlite b/ledger.sqlite --rtol 1e-9

Reads the databases read-only with :mod:`sqlite3` (standard library only), packets of either
layout (one row per tick, or one row per window and flow as homesim writes them now).
"""

from __future__ import annotations

import argparse
import array
import json
import math
import sqlite3
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_RTOL = 1e-12
DEFAULT_ABS_FLOOR = 1e-9  # [J]: below this magnitude a value counts as "zero"
EXAMPLES_SHOWN = 10  # missing keys / worst differences listed per table

Key = tuple[Any, ...]
Values = tuple[float, ...]


@dataclass(frozen=True)
class TableSpec:
    """How one ledger table is turned into a map key -> values."""

    name: str
    label: str
    key_columns: tuple[str, ...]
    value_columns: tuple[str, ...]
    aggregate: bool  # sum the value columns over rows with the same key (packets)


TABLES: dict[str, TableSpec] = {
    "packet": TableSpec("packet", "flows (joules per tick, source, sink, carrier)",
                        ("tick", "source", "sink", "carrier"), ("joules",), aggregate=True),
    "node_balance": TableSpec("node_balance", "node balances per window",
                              ("window_index", "node"),
                              ("energy_in", "energy_out", "delta_stored", "losses", "residual"),
                              aggregate=False),
    "device_metric": TableSpec("device_metric", "device metrics per window",
                               ("window_index", "device", "metric"),
                               ("total", "minimum", "maximum"), aggregate=False),
}


class LedgerError(Exception):
    """A ledger that cannot be found or read."""


@dataclass
class ColumnStats:
    """Differences of one value column over the keys present on both sides."""

    max_rel_diff: float = 0.0
    max_abs_diff: float = 0.0
    worst_key: list[Any] | None = None
    worst_a: float | None = None
    worst_b: float | None = None
    n_differing: int = 0  # values not bit-for-bit equal
    n_over_rtol: int = 0


@dataclass
class TableResult:
    """Comparison of one table."""

    table: str
    label: str
    keys_a: int = 0
    keys_b: int = 0
    common: int = 0
    only_in_a: int = 0
    only_in_b: int = 0
    only_in_a_examples: list[list[Any]] = field(default_factory=list)
    only_in_b_examples: list[list[Any]] = field(default_factory=list)
    columns: dict[str, ColumnStats] = field(default_factory=dict)
    n_over_rtol: int = 0
    worst: list[dict[str, Any]] = field(default_factory=list)  # largest differences

    @property
    def max_rel_diff(self) -> float:
        """Largest relative difference over all value columns."""
        return max((c.max_rel_diff for c in self.columns.values()), default=0.0)

    def ok(self, rtol: float) -> bool:
        """True when no key is missing and every difference is within ``rtol``."""
        return self.only_in_a == 0 and self.only_in_b == 0 and self.max_rel_diff <= rtol


# --------------------------------------------------------------------------- reading


def resolve_ledger(path: Path) -> Path:
    """The ``ledger.sqlite`` meant by ``path``: the file itself or the one in a run folder.

    A folder may hold ``ledger.sqlite`` directly (``homesim run --out DIR``) or in exactly one
    sub-folder (``DIR/<run>/ledger.sqlite``).
    """
    if path.is_file():
        return path
    if not path.is_dir():
        raise LedgerError(f"{path}: no such file or folder")
    direct = path / "ledger.sqlite"
    if direct.is_file():
        return direct
    found = sorted(path.glob("*/ledger.sqlite"))
    if len(found) == 1:
        return found[0]
    if not found:
        raise LedgerError(f"{path}: no ledger.sqlite in this folder or its sub-folders")
    raise LedgerError(f"{path}: several run folders, name one: "
                      + ", ".join(str(p.parent) for p in found))


def connect(db_path: Path) -> sqlite3.Connection:
    """Open a ledger read-only."""
    try:
        con = sqlite3.connect(f"file:{db_path.resolve()}?mode=ro", uri=True)
        con.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as exc:
        raise LedgerError(f"{db_path}: cannot open as SQLite: {exc}") from exc
    return con


def _columns(con: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in con.execute(f"PRAGMA table_info({table})")}


def _window_packets(con: sqlite3.Connection) -> Iterator[tuple[Any, ...]]:
    """``(tick, source, sink, carrier, joules)`` of every non-zero tick of a ledger that
    stores one ``packet`` row per window and flow (``joules``: ``n`` little-endian float64)."""
    for tick0, src, snk, car, raw in con.execute(
            "SELECT tick0, source, sink, carrier, joules FROM packet"):
        values = array.array("d", raw)
        if sys.byteorder != "little":
            values.byteswap()
        for k, j in enumerate(values):
            if j:
                yield tick0 + k, src, snk, car, j


def read_table(con: sqlite3.Connection, spec: TableSpec, where: str) -> dict[Key, Values]:
    """Read ``spec.name`` as a map key -> values (packets summed per key with ``fsum``).
    Packets are read from either layout: one row per tick (older ledgers) or one row per
    window and flow holding the window's per-tick joules."""
    have = _columns(con, spec.name)
    if not have:
        raise LedgerError(f"{where}: table {spec.name} missing")
    if spec.name == "packet" and "window_index" in have:
        have = (have - {"window_index", "tick0", "n"}) | {"tick"}
    missing = [c for c in spec.key_columns + spec.value_columns if c not in have]
    if missing:
        raise LedgerError(f"{where}: table {spec.name} lacks column(s) {', '.join(missing)}")
    cols = ", ".join(spec.key_columns + spec.value_columns)
    nk = len(spec.key_columns)
    rows: Iterable[Any] = (
        _window_packets(con) if spec.name == "packet" and "tick" not in _columns(con, "packet")
        else con.execute(f"SELECT {cols} FROM {spec.name}"))
    if spec.aggregate:
        parts: dict[Key, list[list[float]]] = defaultdict(
            lambda: [[] for _ in spec.value_columns])
        for row in rows:
            acc = parts[tuple(row[:nk])]
            for i, v in enumerate(row[nk:]):
                acc[i].append(float(v))
        return {k: tuple(math.fsum(vs) for vs in acc) for k, acc in parts.items()}
    out: dict[Key, Values] = {}
    for row in rows:
        key = tuple(row[:nk])
        if key in out:
            raise LedgerError(f"{where}: table {spec.name} has key {key} twice")
        out[key] = tuple(float(v) for v in row[nk:])
    return out


def run_info(con: sqlite3.Connection) -> dict[str, Any]:
    """The ``run`` row (home, dt, ticks, ...) and window count, for the report header."""
    info: dict[str, Any] = {}
    try:
        row = con.execute("SELECT run_id, home, start_time, dt, ticks FROM run").fetchone()
        if row:
            info.update(zip(("run_id", "home", "start_time", "dt", "ticks"), row, strict=True))
        info["settled_windows"] = con.execute("SELECT count(*) FROM settled_window").fetchone()[0]
    except sqlite3.Error:
        pass
    return info


# --------------------------------------------------------------------------- comparing


def rel_diff(a: float, b: float, floor: float) -> float:
    """``|a - b| / max(|a|, |b|, floor)``; NaN vs NaN and equal infinities give 0."""
    if a == b or (math.isnan(a) and math.isnan(b)):
        return 0.0
    if not (math.isfinite(a) and math.isfinite(b)):
        return math.inf
    return abs(a - b) / max(abs(a), abs(b), floor)


def compare_maps(spec: TableSpec, a: dict[Key, Values], b: dict[Key, Values], rtol: float,
                 floor: float, n_examples: int = EXAMPLES_SHOWN) -> TableResult:
    """Compare two key -> values maps of one table."""
    res = TableResult(table=spec.name, label=spec.label, keys_a=len(a), keys_b=len(b))
    only_a = sorted((k for k in a if k not in b), key=_sort_key)
    only_b = sorted((k for k in b if k not in a), key=_sort_key)
    res.only_in_a, res.only_in_b = len(only_a), len(only_b)
    res.only_in_a_examples = [_key_out(k, a[k]) for k in only_a[:n_examples]]
    res.only_in_b_examples = [_key_out(k, b[k]) for k in only_b[:n_examples]]
    res.columns = {c: ColumnStats() for c in spec.value_columns}
    worst: list[tuple[float, Key, str, float, float]] = []
    for key, va in a.items():
        vb = b.get(key)
        if vb is None:
            continue
        res.common += 1
        for col, x, y in zip(spec.value_columns, va, vb, strict=True):
            r = rel_diff(x, y, floor)
            if r == 0.0:
                continue
            st = res.columns[col]
            st.n_differing += 1
            d = abs(x - y)
            st.max_abs_diff = max(st.max_abs_diff, d if not math.isnan(d) else math.inf)
            if r > rtol:
                st.n_over_rtol += 1
                res.n_over_rtol += 1
            if r > st.max_rel_diff:
                st.max_rel_diff, st.worst_key, st.worst_a, st.worst_b = r, list(key), x, y
            worst.append((r, key, col, x, y))
    worst.sort(key=lambda w: (-w[0], _sort_key(w[1]), w[2]))
    res.worst = [{"key": list(k), "column": c, "a": x, "b": y, "rel_diff": r}
                 for r, k, c, x, y in worst[:n_examples]]
    return res


def _sort_key(key: Key) -> tuple[str, ...]:
    return tuple(f"{v:020d}" if isinstance(v, int) else str(v) for v in key)


def _key_out(key: Key, values: Values) -> list[Any]:
    return list(key) + list(values)


def compare_ledgers(path_a: Path, path_b: Path, rtol: float = DEFAULT_RTOL,
                    floor: float = DEFAULT_ABS_FLOOR,
                    tables: Sequence[str] = tuple(TABLES)) -> dict[str, Any]:
    """Compare two ledgers; returns the figures as a JSON-ready dict (see module docstring)."""
    db_a, db_b = resolve_ledger(path_a), resolve_ledger(path_b)
    con_a, con_b = connect(db_a), connect(db_b)
    try:
        results: list[TableResult] = []
        for name in tables:
            spec = TABLES[name]
            results.append(compare_maps(spec, read_table(con_a, spec, str(db_a)),
                                        read_table(con_b, spec, str(db_b)), rtol, floor))
        info_a, info_b = run_info(con_a), run_info(con_b)
    finally:
        con_a.close()
        con_b.close()
    ok = all(r.ok(rtol) for r in results)
    return {
        "a": {"ledger": str(db_a), **info_a},
        "b": {"ledger": str(db_b), **info_b},
        "rtol": rtol,
        "abs_floor": floor,
        "equivalent": ok,
        "tables": {r.table: _table_out(r, rtol) for r in results},
    }


def _table_out(r: TableResult, rtol: float) -> dict[str, Any]:
    return {
        "label": r.label,
        "ok": r.ok(rtol),
        "keys_a": r.keys_a, "keys_b": r.keys_b, "common": r.common,
        "only_in_a": r.only_in_a, "only_in_b": r.only_in_b,
        "max_rel_diff": r.max_rel_diff,
        "n_values_over_rtol": r.n_over_rtol,
        "columns": {c: vars(s) for c, s in r.columns.items()},
        "worst": r.worst,
        "only_in_a_examples": r.only_in_a_examples,
        "only_in_b_examples": r.only_in_b_examples,
    }


# --------------------------------------------------------------------------- output


def _json_safe(obj: Any) -> Any:
    """Replace non-finite floats (not valid JSON) by strings."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_safe(v) for v in obj]
    return obj


def print_report(fig: dict[str, Any], out: Any = sys.stdout) -> None:
    """Print the comparison as a short text report."""
    def p(*args: Any) -> None:
        print(*args, file=out)

    for side in ("a", "b"):
        i = fig[side]
        extra = ", ".join(f"{k}={i[k]}" for k in ("home", "dt", "ticks", "settled_windows")
                          if k in i)
        p(f"{side.upper()}: {i['ledger']}" + (f"  ({extra})" if extra else ""))
    p(f"rtol {fig['rtol']:g}, abs floor {fig['abs_floor']:g}")
    for name, t in fig["tables"].items():
        p("")
        p(f"[{'ok' if t['ok'] else 'DIFFERENT'}] {name}: {t['label']}")
        p(f"  keys: A {t['keys_a']:,}  B {t['keys_b']:,}  common {t['common']:,}  "
          f"only in A {t['only_in_a']:,}  only in B {t['only_in_b']:,}")
        p(f"  max relative difference {t['max_rel_diff']:.3e}  "
          f"(values over rtol: {t['n_values_over_rtol']:,})")
        for c, s in t["columns"].items():
            line = (f"    {c:<13} max rel {s['max_rel_diff']:.3e}  max abs {s['max_abs_diff']:.3e}"
                    f"  differing {s['n_differing']:,}")
            if s["worst_key"] is not None:
                line += f"  at {tuple(s['worst_key'])}: A {s['worst_a']!r} B {s['worst_b']!r}"
            p(line)
        for side, key in (("A", "only_in_a_examples"), ("B", "only_in_b_examples")):
            for ex in t[key]:
                p(f"    only in {side}: {tuple(ex)}")
    p("")
    p("EQUIVALENT" if fig["equivalent"] else "NOT EQUIVALENT")


def build_parser() -> argparse.ArgumentParser:
    """The command line (see ``--help``)."""
    doc = __doc__ or ""
    parser = argparse.ArgumentParser(
        prog="ledger_equivalence.py",
        description=doc.split("\n\n", 2)[0] + "\n\n" + doc.split("\n\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("a", type=Path, metavar="A",
                        help="first ledger: ledger.sqlite or a run folder (e.g. old code)")
    parser.add_argument("b", type=Path, metavar="B",
                        help="second ledger: ledger.sqlite or a run folder (e.g. new code)")
    parser.add_argument("--rtol", type=float, default=DEFAULT_RTOL,
                        help="largest accepted relative difference (default %(default)g)")
    parser.add_argument("--abs-floor", type=float, default=DEFAULT_ABS_FLOOR,
                        help="denominator floor for values near zero, in the values' unit "
                             "(J for energies; default %(default)g)")
    parser.add_argument("--tables", default=",".join(TABLES),
                        help="comma-separated tables to compare (default %(default)s)")
    parser.add_argument("--json", type=Path, metavar="OUT", dest="json_out",
                        help="also write the figures as JSON to OUT")
    parser.add_argument("--quiet", "-q", action="store_true",
                        help="print only the verdict line")
    return parser


def main(argv: Iterable[str] | None = None) -> int:
    """Entry point: 0 equivalent, 1 different, 2 unreadable input."""
    args = build_parser().parse_args(list(argv) if argv is not None else None)
    tables = [t.strip() for t in args.tables.split(",") if t.strip()]
    unknown = [t for t in tables if t not in TABLES]
    if unknown or not tables:
        print(f"unknown table(s) {', '.join(unknown) or '(none given)'}; "
              f"choose from {', '.join(TABLES)}", file=sys.stderr)
        return 2
    try:
        fig = compare_ledgers(args.a, args.b, args.rtol, args.abs_floor, tables)
    except LedgerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.quiet:
        print("EQUIVALENT" if fig["equivalent"] else "NOT EQUIVALENT")
    else:
        print_report(fig)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(_json_safe(fig), indent=2) + "\n")
    return 0 if fig["equivalent"] else 1


if __name__ == "__main__":
    sys.exit(main())
