"""The contract's ``TickArray`` on the wire: per-tick values as bytes (one source for both ways).

A window's per-tick arrays (report signals, packet joules, a settle's ``stored``, ``losses`` and
``metrics``) travel as ``n`` little-endian IEEE 754 float64 in one bytes value (MessagePack
``bin``; WAMP's JSON serializer sends it as ``"\\0" + base64`` and decodes it back to bytes).
The router then moves one opaque value per array instead of decoding and re-encoding ``n``
floats for every subscriber, and a receiver reads it with one ``numpy.frombuffer``. A list of
numbers is still accepted, from clients that cannot send binary (a person with wamp-cli).

Floats survive exactly (the same 8 bytes), so a ledger is the same whichever form was sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["pack", "unpack", "plain", "DTYPE"]

DTYPE = np.dtype("<f8")
"""Element type of a packed ``TickArray``: little-endian float64."""


def pack(values: Any) -> bytes:
    """``values`` (any 1-d array-like of numbers) as a packed ``TickArray`` [bytes]."""
    return np.ascontiguousarray(values, dtype=DTYPE).tobytes()


def unpack(value: Any) -> np.ndarray:
    """A ``TickArray`` as a new float64 array of shape ``(n,)``.

    Accepts the packed form (bytes, bytearray, memoryview: a multiple of 8 bytes) and a list
    of numbers (ints and floats, no booleans). The caller checks the length and the values
    (finite, ≥ 0, …) as its message's contract says.

    Raises
    ------
    ValueError
        If ``value`` is neither: the message says what it is instead.
    """
    if isinstance(value, (bytes, bytearray, memoryview)):
        if len(value) % DTYPE.itemsize:
            raise ValueError(f"{len(value)} bytes is not a whole number of float64")
        return np.frombuffer(value, dtype=DTYPE).astype(float)
    if isinstance(value, (list, tuple)):
        if not all(type(v) in (int, float) for v in value):
            raise ValueError("a list of numbers is expected")
        return np.asarray(value, dtype=float).reshape(len(value))
    raise ValueError(f"bytes of float64 or a list of numbers is expected, "
                     f"got {type(value).__name__}")


def plain(msg: Any) -> Any:
    """``msg`` with every packed array (bytes) as a list of floats, for JSON output (a tap
    file, a person's terminal). Other values are returned as they are."""
    if isinstance(msg, (bytes, bytearray, memoryview)):
        try:
            return unpack(msg).tolist()
        except ValueError:
            return bytes(msg).hex()
    if isinstance(msg, Mapping):
        return {k: plain(v) for k, v in msg.items()}
    if isinstance(msg, (list, tuple)):
        return [plain(v) for v in msg]
    return msg
