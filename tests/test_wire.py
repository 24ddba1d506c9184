"""The contract's TickArray on the wire (schemas/wire.py) and its readers."""

from __future__ import annotations

import math

import msgpack
import numpy as np
import pytest

from homesim.devices.bus.protocol import validate_packets
from homesim.schemas.wire import pack, plain, unpack


def test_packed_arrays_survive_msgpack_bit_for_bit():
    x = np.array([0.0, -0.0, 1e-300, 3.6e9, math.pi, np.nan, np.inf, -np.inf])
    raw = msgpack.unpackb(msgpack.packb({"a": pack(x)}), raw=False)["a"]
    assert isinstance(raw, bytes) and len(raw) == 8 * x.size
    y = unpack(raw)
    assert y.dtype == np.float64 and y.flags.writeable
    assert x.view(np.uint64).tolist() == y.view(np.uint64).tolist()  # every bit, NaN and -0.0
    # little-endian whatever the machine: the first byte of 1.0 is 0x00, the last 0x3f
    assert pack([1.0]) == b"\x00\x00\x00\x00\x00\x00\xf0\x3f"


def test_lists_are_still_read_and_nothing_else_is():
    assert unpack([1, 2.5]).tolist() == [1.0, 2.5]
    assert unpack([]).shape == (0,)
    for bad, why in [(b"\x00" * 7, "not a whole number"), ([True, 1.0], "list of numbers"),
                     (["1"], "list of numbers"), ("abc", "got str"), (None, "got NoneType"),
                     ([[1.0]], "list of numbers"), ({"a": 1}, "got dict")]:
        with pytest.raises(ValueError, match=why):
            unpack(bad)


def test_plain_turns_packed_arrays_into_lists_for_json():
    msg = {"flows": [{"joules": pack([1.0, 2.0]), "source": "pv"}], "n": 2, "odd": b"\x01"}
    assert plain(msg) == {"flows": [{"joules": [1.0, 2.0], "source": "pv"}], "n": 2,
                          "odd": "01"}


def _packets(joules):
    return {"run": "r", "window": 0, "tick0": 0, "n": 2, "publisher": "inverter",
            "flows": [{"source": "grid", "sink": "house", "carrier": "electricity",
                       "joules": joules}]}


@pytest.mark.parametrize("joules, why", [
    (pack([1.0]), "2 finite values"),  # one value for two ticks
    (pack([1.0, -1.0]), "≥ 0"),
    (pack([1.0, np.nan]), "finite"),
    (b"\x00" * 15, "whole number of float64"),
    ("AAAA", "got str"),
    ([1.0, True], "list of numbers"),
])
def test_malformed_packed_joules_are_refused_with_the_flow_named(joules, why):
    with pytest.raises(ValueError, match="flow grid->house") as exc:
        validate_packets(_packets(joules))
    assert why in str(exc.value)


def test_packed_and_listed_joules_validate_to_the_same_arrays():
    _, a = validate_packets(_packets(pack([1.5, 0.0])))
    _, b = validate_packets(_packets([1.5, 0.0]))
    assert np.array_equal(a[0], b[0])
