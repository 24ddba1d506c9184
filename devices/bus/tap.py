"""A tap on a home's bus: counts every message under ``homesim.`` (for benchmarks, debugging).

    python -m homesim.devices tap --manifest home.yaml --router rs://… --out tap.json

Writes ``{"messages": N, "bytes_msgpack": B, "by_topic": {...}, "sim_seconds": S}`` when the
clock finishes (or on SIGTERM).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import msgpack

from homesim.devices.bus.runtime import Bus, T, after_finish

log = logging.getLogger("homesim.tap")


class Tap:
    """Counts messages per topic; learns simulated time from the clock's windows."""

    def __init__(self, out: Path | None) -> None:
        self.out = out
        self.by_topic: dict[str, int] = {}
        self.bytes = 0
        self.sim_seconds = 0.0
        self.windows = 0
        self._written = False

    def on_join(self, bus: Bus) -> Any:
        return bus.subscribe("homesim.", self._on_event, match="prefix", with_topic=True)

    def _on_event(self, msg: dict[str, Any], topic: str) -> None:
        self.by_topic[topic] = self.by_topic.get(topic, 0) + 1
        self.bytes += len(msgpack.packb(msg))  # as devices send it (RawSocket + msgpack)
        if topic == T.WINDOW:
            self.windows += 1
            self.sim_seconds += float(msg["n"]) * float(msg["dt"])
        if topic == T.FINISHED:
            self.write()
            after_finish(0.1)

    def write(self) -> None:
        if self._written or self.out is None:
            return
        self._written = True
        self.out.write_text(json.dumps({
            "messages": sum(self.by_topic.values()), "bytes_msgpack": self.bytes,
            "windows": self.windows, "sim_seconds": self.sim_seconds,
            "by_topic": dict(sorted(self.by_topic.items()))}, indent=2))
