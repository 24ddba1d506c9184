"""The bus adapter delivers an event only from the identity it claims (router-disclosed)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from homesim.devices.bus.runtime import Bus, claimed, topic_device


class FakeSession:
    def __init__(self) -> None:
        self.handlers: dict[str, Any] = {}

    def subscribe(self, handler: Any, topic: str, options: Any = None) -> None:
        self.handlers[topic] = handler


def deliver(session: FakeSession, topic: str, payload: dict[str, Any],
            publisher: str | None, actual_topic: str | None = None) -> None:
    details = SimpleNamespace(topic=actual_topic or topic, publisher_authid=publisher)
    session.handlers[topic](payload, details=details)


def test_claims_must_match_the_disclosed_publisher() -> None:
    s = FakeSession()
    bus = Bus(s, verify=True)
    got: list[Any] = []
    forged: list[tuple[str, Any, Any]] = []
    bus.on_forged = lambda *a: forged.append(a)
    bus.subscribe("homesim.packets", got.append, sender=claimed("publisher"))
    bus.subscribe("homesim.clock.window", got.append, sender="clock")
    bus.subscribe("homesim.device..report", got.append, match="wildcard",
                  sender=topic_device)
    deliver(s, "homesim.packets", {"publisher": "inverter"}, "inverter")
    deliver(s, "homesim.packets", {"publisher": "inverter"}, "house")  # forged
    deliver(s, "homesim.packets", {"publisher": "inverter"}, None)  # not disclosed
    deliver(s, "homesim.clock.window", {"window": 1}, "clock")
    deliver(s, "homesim.clock.window", {"window": 1}, "battery")  # forged
    deliver(s, "homesim.device..report", {"device": "pv"}, "pv", "homesim.device.pv.report")
    deliver(s, "homesim.device..report", {"device": "pv"}, "sun", "homesim.device.pv.report")
    assert got == [{"publisher": "inverter"}, {"window": 1}, {"device": "pv"}]
    assert [f[1:] for f in forged] == [("inverter", "house"), ("inverter", None),
                                       ("clock", "battery"), ("pv", "sun")]
    assert bus.forged == 4


def test_without_verification_every_event_is_delivered() -> None:
    """An unauthenticated local process (no secret) cannot verify; it still runs."""
    s = FakeSession()
    bus = Bus(s, verify=False)
    got: list[Any] = []
    bus.subscribe("homesim.packets", got.append, sender=claimed("publisher"))
    deliver(s, "homesim.packets", {"publisher": "inverter"}, None)
    assert got == [{"publisher": "inverter"}] and bus.forged == 0
