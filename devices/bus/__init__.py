"""The bus runtime: WAMP adapter, clock, ledger, metrics (the only code importing autobahn)."""

import sys

#: Serializers autobahn loads whenever they are installed, which no homesim process uses (it
#: speaks msgpack over rawsocket, JSON over WebSocket). Marked absent before autobahn is first
#: imported, autobahn skips them (~45 modules and ~2 MiB less per process); ``_bjdata`` (the
#: C part of bjdata) would also print a NumPy 1.x/2.x notice.
UNUSED_SERIALIZERS = ("cbor2", "bjdata", "_bjdata", "autobahn.flatbuffers")


def skip_unused_serializers() -> None:
    """Mark :data:`UNUSED_SERIALIZERS` absent (call before autobahn is imported)."""
    for name in UNUSED_SERIALIZERS:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]
