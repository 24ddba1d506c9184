"""Hypothesis strategies shared by the fuzz tests: garbage values and field-by-field mutation
of well-formed (JSON-like) documents: bus messages and manifests."""

from __future__ import annotations

import copy
import math
from typing import Any

from hypothesis import strategies as st

#: names that exist nowhere in the examples
UNKNOWN_NAMES = ["mallory", "", "ledger", "sun ", "PV-SOUTH", "a" * 300, "\x00", "ünïcødé",
                 "homesim.device.x.report", "el:house"]
HUGE_INTS = [2**31, 2**63, 2**64 + 1, -(2**63) - 1, 10**30, 10**400, -(10**400)]
SPECIAL_FLOATS = [math.nan, math.inf, -math.inf, -0.0, 1e308, -1e308, 5e-324, -1.0, -1e9]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(HUGE_INTS),
    st.integers(-(2**70), 2**70),
    st.sampled_from(SPECIAL_FLOATS),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(UNKNOWN_NAMES),
    st.sampled_from(["0", "1", "-1", "1e3", "nan", "inf", "NaN", "true", "null", "max",
                     "60x", "electricity", "heat", "Home", "Block"]),
    st.text(max_size=20),
    st.just("x" * 5000),
    st.binary(max_size=8),
)

#: arbitrary nested garbage: lists and dicts of scalars, a few levels deep
garbage = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.one_of(st.text(max_size=8),
                                                      st.sampled_from(UNKNOWN_NAMES)),
                                            inner, max_size=4)),
    max_leaves=12,
)


def deep(depth: int, leaf: Any = 1) -> Any:
    """A list nested ``depth`` levels deep."""
    out: Any = leaf
    for _ in range(depth):
        out = [out]
    return out


def paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path into ``doc`` (dict keys and list indices), the root ``()`` included; not
    deeper than 40 levels (a deeply nested value is mutated as a whole)."""
    out = [prefix]
    if len(prefix) > 40:
        return out
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += paths(v, (*prefix, i))
    return out


def _get(doc: Any, path: tuple) -> Any:
    for p in path:
        doc = doc[p]
    return doc


OPS = ["replace", "replace", "replace", "delete", "add_key", "resize", "wrap", "bool_num",
       "str_num", "special", "huge", "negate", "unknown_name", "deep"]


@st.composite
def mutated(draw: Any, doc: Any, max_mutations: int = 3) -> Any:
    """``doc`` with 1..``max_mutations`` field mutations: a value replaced by garbage (wrong
    type, bool for int, string for number, NaN/inf, negative, huge int, unknown name, deep
    nesting), a key deleted or added, an array made longer or shorter."""
    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, max_mutations))):
        path = draw(st.sampled_from(paths(doc)))
        op = draw(st.sampled_from(OPS))
        value = _get(doc, path)
        if op == "replace":
            new: Any = draw(garbage)
        elif op == "delete":
            if not path:
                new = draw(garbage)
            else:
                parent = _get(doc, path[:-1])
                del parent[path[-1]]
                continue
        elif op == "add_key":
            if isinstance(value, dict):
                value[draw(st.sampled_from(["extra", "window", "error", "flows", "signals",
                                            "spec", "x-unknown", "kind", ""]))] = draw(garbage)
                continue
            new = {"value": value, **draw(st.dictionaries(st.text(max_size=5), garbage,
                                                          max_size=2))}
        elif op == "resize":
            if isinstance(value, list):
                k = draw(st.integers(0, len(value) + 3))
                new = (value * (k // max(1, len(value)) + 1))[:k] if value else \
                    draw(st.lists(garbage, max_size=3))
            else:
                new = [value] * draw(st.integers(0, 3))
        elif op == "wrap":
            new = draw(st.sampled_from([[value], {"v": value}, [[value]]]))
        elif op == "bool_num":
            new = draw(st.booleans())
        elif op == "str_num":
            new = str(value) if not isinstance(value, (dict, list)) else repr(value)
        elif op == "special":
            new = draw(st.sampled_from(SPECIAL_FLOATS))
        elif op == "huge":
            new = draw(st.sampled_from(HUGE_INTS))
        elif op == "negate":
            new = -value if isinstance(value, (int, float)) and not isinstance(value, bool) \
                else draw(st.integers(-(10**6), -1))
        elif op == "unknown_name":
            new = draw(st.sampled_from(UNKNOWN_NAMES))
        else:  # deep
            new = deep(draw(st.sampled_from([20, 200, 600])), value)
        if not path:
            doc = new
        else:
            _get(doc, path[:-1])[path[-1]] = new
    return doc
