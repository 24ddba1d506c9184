"""Topic and procedure URIs of the contract (its channel addresses) and the identities the
bus rules name. Pure: imported by the protocol core, the router's access plan and tools.

``tests/test_contract.py`` checks every address against ``schemas/asyncapi.yaml``.
"""

from __future__ import annotations

__all__ = ["CLOCK_AUTHID", "RESIDENT_ROLE_PREFIX", "T"]

#: The clock's identity on the router (the only publisher of ``homesim.clock.*``).
CLOCK_AUTHID = "clock"
#: Roles (and authids) of flats' residents: ``resident.<flat>`` (a ``.`` is never in a
#: device name, so no device can take one).
RESIDENT_ROLE_PREFIX = "resident."


class T:
    """Topic and procedure URIs (the contract's channel addresses)."""

    WINDOW = "homesim.clock.window"
    CONTROL = "homesim.clock.control"
    PROGRESS = "homesim.clock.progress"
    FINISHED = "homesim.clock.finished"
    #: prefix of the packet topics ``homesim.packets.<publisher>`` (subscribe with match=prefix)
    PACKETS_PREFIX = "homesim.packets."
    SETTLE = "homesim.settle"
    ALL_REPORTS = "homesim.device..report"  # wildcard subscription
    CLOCK_PAUSE = "homesim.clock.pause"
    CLOCK_RESUME = "homesim.clock.resume"
    CLOCK_SET_SPEED = "homesim.clock.set_speed"
    CLOCK_STATUS = "homesim.clock.status"
    CLOCK_SNAPSHOT = "homesim.clock.snapshot"
    CLOCK_FORK = "homesim.clock.fork"
    CLOCK_FORKED = "homesim.clock.forked"
    CLOCK_JOIN = "homesim.clock.join"
    CLOCK_RECOVER = "homesim.clock.recover"
    LEDGER_STATUS = "homesim.ledger.status"
    LEDGER_SNAPSHOT = "homesim.ledger.snapshot"

    @staticmethod
    def report(device: str) -> str:
        return f"homesim.device.{device}.report"

    @staticmethod
    def packets(publisher: str) -> str:
        """The topic of ``publisher``'s joule packets (each device waits for its publishers')."""
        return f"homesim.packets.{publisher}"

    @staticmethod
    def packet_publisher(topic: str) -> str | None:
        """The publisher a packet topic belongs to, or None if ``topic`` is not one."""
        p = T.PACKETS_PREFIX
        return topic[len(p):] if topic.startswith(p) and len(topic) > len(p) else None

    @staticmethod
    def events(device: str) -> str:
        return f"homesim.device.{device}.events"

    @staticmethod
    def rpc(device: str, name: str) -> str:
        return f"homesim.device.{device}.{name}"

    @staticmethod
    def meter(flat: str) -> str:
        return f"homesim.ledger.meter.{flat}"
