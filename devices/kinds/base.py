"""What every device shell is made of, without any messaging.

A *shell* wraps a pure model (``homesim.devices.models``) for one device kind. The runtime
(``homesim.devices.bus.runtime``, the only module that knows WAMP) drives it through the two
phases of every window:

1. ``report(window, inputs)`` → per-tick signals (and, for storage, an envelope);
2. ``settle(window, flows)`` → the device's state at the end of each tick, losses, metrics.

The balancing device (the inverter) implements ``balance(window, reports)`` instead of
waiting for packets. Shells never do I/O; they are testable without a router.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ValidationError

from homesim.devices.kinds.persist import STATE_VERSION, decode, encode, persisted_types
from homesim.schemas.manifest import Home, validation_errors
from homesim.schemas.registry import REGISTRY, KindDescriptor
from homesim.schemas.reports import KindReport
from homesim.schemas.wire import pack

__all__ = [
    "Window", "Flow", "SettleResult", "DeviceShell", "HomesimError", "InvalidArgument",
    "UnknownProperty", "ReadOnly", "FlowKey", "firm_demand", "pv_ac_estimate", "KindReport",
    "MAX_ARGUMENT_BYTES", "argument_size_problem",
]

FlowKey = tuple[str, str, str]  # (source, sink, carrier)

#: Largest ``set`` argument accepted [bytes of its JSON form]; a larger one is refused with
#: homesim.error.invalid_argument before it is validated. (The router refuses messages over
#: 16 MiB on RawSocket, infra/router/config.py ``RS_MAX_MESSAGE_SIZE``: such a call never
#: reaches the device, and the caller's session is closed by the router.)
MAX_ARGUMENT_BYTES = 2**20
#: Deepest nesting of lists and mappings accepted in a ``set`` argument.
MAX_ARGUMENT_DEPTH = 32


def argument_size_problem(value: Any, limit: int = MAX_ARGUMENT_BYTES,
                          max_depth: int = MAX_ARGUMENT_DEPTH) -> str | None:
    """Why ``value`` is too large to be a property value (None if it is not).

    Estimates the size of its JSON form without building it, stopping as soon as the
    estimate exceeds ``limit`` bytes (a 1e6-item list costs at most ``limit`` steps).
    """
    size = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            return f"argument nested deeper than {max_depth} levels"
        if isinstance(node, dict):
            size += 2 + len(node)
            for k, v in node.items():
                size += len(str(k)) + 3 if isinstance(k, str) else 8
                stack.append((v, depth + 1))
                if size > limit:
                    break
        elif isinstance(node, (list, tuple)):
            size += 2 + len(node)
            if size <= limit:
                stack.extend((v, depth + 1) for v in node)
        elif isinstance(node, (str, bytes, bytearray)):
            size += len(node) + 2
        else:
            size += 8
        if size > limit:
            return (f"argument larger than {limit} bytes (JSON); "
                    "a property value is at most that")
    return None


def firm_demand(report: KindReport) -> list[tuple[str, np.ndarray]]:
    """``(device, joules per tick)`` of the firm electricity a controller's report carries
    (the heat node for its heat pumps, the load manager for the chargers) [J]."""
    return [(dev, np.asarray(arr, dtype=float))
            for dev, arr in getattr(report, "firm", {}).items()]


def pv_ac_estimate(reports: list[KindReport], eta: float, n: int,
                   cap: float = np.inf) -> np.ndarray:
    """AC energy per tick [J] estimated from PV reports before the inverter allocates:
    reported DC × ``eta``, capped at ``cap`` [J] (the inverter's AC rating × dt)."""
    pv = np.zeros(n)
    for r in reports:
        pv += np.asarray(r.dc, dtype=float) * eta  # type: ignore[attr-defined]
    return np.minimum(pv, cap)


class HomesimError(Exception):
    """Base of errors that cross the bus as WAMP errors (``uri``)."""

    uri = "homesim.error.internal"

    def __init__(self, reason: str, field: str | None = None,
                 errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field
        self.errors = errors or []

    def details(self) -> dict[str, Any]:
        """kwargs of the WAMP error (``ErrorDetails`` in the contract)."""
        out: dict[str, Any] = {"reason": self.reason}
        if self.field is not None:
            out["field"] = self.field
        if self.errors:
            out["errors"] = self.errors
        return out


class InvalidArgument(HomesimError):
    uri = "homesim.error.invalid_argument"


class UnknownProperty(HomesimError):
    uri = "homesim.error.unknown_property"


class ReadOnly(HomesimError):
    uri = "homesim.error.read_only"


class NotAuthorized(HomesimError):
    uri = "homesim.error.not_authorized"


class NotRunning(HomesimError):
    uri = "homesim.error.not_running"


@dataclass(frozen=True)
class Window:
    """One clock window: ticks ``tick0 … tick0+n-1`` of ``dt`` seconds.

    ``start`` is the start of tick 0 of the run [s since epoch, UTC].
    """

    run: str
    window: int
    tick0: int
    n: int
    dt: float
    start: float
    speed: str

    @property
    def times(self) -> np.ndarray:
        """Start of each tick of the window [s since epoch, UTC], shape (n,)."""
        return self.start + (self.tick0 + np.arange(self.n)) * self.dt

    @property
    def midpoints(self) -> np.ndarray:
        """Midpoint of each tick [s since epoch, UTC], shape (n,)."""
        return self.start + (self.tick0 + np.arange(self.n) + 0.5) * self.dt

    @property
    def end(self) -> float:
        """End of the last tick [s since epoch, UTC]."""
        return self.start + (self.tick0 + self.n) * self.dt


@dataclass
class Flow:
    """Joule packets of one (source, sink, carrier) over a window: ``joules`` [J], shape (n,)."""

    source: str
    sink: str
    carrier: str
    joules: np.ndarray

    def wire(self) -> dict[str, Any]:
        return {"source": self.source, "sink": self.sink, "carrier": self.carrier,
                "joules": pack(self.joules)}


@dataclass
class SettleResult:
    """What a device reports after applying a window (arrays of shape (n,))."""

    stored0: float | None = None
    stored: np.ndarray | None = None
    losses: np.ndarray | None = None
    metrics: dict[str, np.ndarray] = field(default_factory=dict)
    #: decisions taken in the window: ``{"tick", "kind", "value", "reason", "data"}``
    events: list[dict[str, Any]] = field(default_factory=list)


class DeviceShell:
    """Base class of a device kind's shell.

    Subclasses set ``kind`` and override ``report`` and ``settle`` (``balance`` for the
    balancing device). Everything else about the kind (its description, inputs, whose
    packets it waits for, its report schema) comes from its descriptor in the contract
    (``homesim.schemas.registry``). ``self.props`` is the validated properties model
    (generated from the contract); the runtime swaps it at window boundaries after ``set``.
    """

    kind: ClassVar[str] = ""
    #: Attributes that change during a run (saved by :meth:`dump_state`); their types are
    #: the class annotations if declared, else those of the values after ``setup()``.
    persist: ClassVar[tuple[str, ...]] = ()

    @property
    def descriptor(self) -> KindDescriptor:
        """This kind's descriptor (``x-homesim-kind`` in the contract)."""
        return REGISTRY.get(self.kind)

    @property
    def description(self) -> str:
        return self.descriptor.description

    @property
    def balancer(self) -> bool:
        """This device is a bus's balancing device (it balances the reports of its bus)."""
        return self.descriptor.balancer

    @property
    def Report(self) -> type[KindReport]:  # noqa: N802 - a class
        """The typed report class of this kind (generated from the contract)."""
        return REGISTRY.report_type(self.kind)

    def __init__(self, home: Home, name: str, seed: int = 0) -> None:
        self.home = home
        self.name = name
        self.seed = seed
        dev = home.spec.device(name)
        if dev.kind != self.kind:
            raise ValueError(f"device {name!r} is a {dev.kind}, not a {self.kind}")
        self.props: BaseModel = dev.properties
        self.setup()

    # ---------------------------------------------------------------- topology
    def devices_of(self, kind: str) -> list[str]:
        """Names of the home's enabled devices of ``kind``, in manifest order."""
        return [d.name for d in self.home.spec.enabled() if d.kind == kind]

    def device_of(self, kind: str) -> str | None:
        """The name of the home's single enabled device of ``kind`` (None if there is none).

        Raises
        ------
        ValueError
            If the kind may have several devices per home (use :meth:`devices_of`).
        """
        if REGISTRY.get(kind).limits.max_per_home != 1:
            raise ValueError(f"a home may have several {kind} devices: use devices_of")
        names = self.devices_of(kind)
        return names[0] if names else None

    def balanced_devices(self) -> list[str]:
        """(balancer) The devices whose reports this device balances: those whose kind is
        ``balanced_by`` this kind."""
        kinds = REGISTRY.balanced_by(self.kind)
        return [d.name for d in self.home.spec.enabled()
                if d.kind in kinds and d.name != self.name]

    # ---------------------------------------------------------------- hooks
    def setup(self) -> None:
        """Build model objects from ``self.props``; called at start and after ``set``."""

    def warm(self) -> None:
        """Import (and build) now what the first window would otherwise pay for: called once
        before the process joins the bus, while the router may still be starting, so that
        window 0 does not wait on it. Default: nothing (lean kinds import nothing heavy)."""

    def inputs(self) -> list[str]:
        """Device ids whose reports this device needs before it can report: every enabled
        device of the descriptor's ``inputs`` kinds."""
        return [n for k in self.descriptor.inputs for n in self.devices_of(k)]

    def packet_publishers(self) -> list[str]:
        """Devices whose packet message this device waits for before it settles a window:
        every enabled device of the descriptor's ``packets_from`` kinds (none: the device
        settles right after its report)."""
        return [n for k in self.descriptor.packets_from for n in self.devices_of(k)]

    def report(self, window: Window, inputs: dict[str, KindReport]) -> KindReport:
        """Phase 1: this kind's typed report for the window (arrays of shape (n,))."""
        return self.Report()

    def own_flows(self, window: Window) -> list[Flow]:
        """Packets this device publishes itself (from an unbounded source)."""
        return []

    def balance(self, window: Window, reports: dict[str, KindReport]) -> list[Flow]:
        """Phase 2 (balancing device only): allocate and return every flow on the bus."""
        raise NotImplementedError

    def settle(self, window: Window, flows: dict[FlowKey, np.ndarray]) -> SettleResult:
        """Apply the window's packets that concern this device; advance state."""
        return SettleResult()

    def state(self) -> dict[str, Any]:
        """Current state for people (``get``, ``snapshot``, metrics; JSON-able)."""
        return {}

    # ---------------------------------------------------------------- saved state
    def dump_state(self) -> dict[str, Any]:
        """Complete mutable state at a window boundary (after a settle, before the next
        report): JSON values only (str/int/float/bool/None/list/dict; numpy arrays as lists;
        floats as Python floats, which ``json.dumps``/``json.loads`` round-trip exactly;
        NaN/±inf as the strings ``"nan"``/``"inf"``/``"-inf"``), with ``"kind"`` and
        ``"version"``.

        The default writes the attributes named in :attr:`persist` (see
        :mod:`homesim.devices.kinds.persist`); a kind whose state lives elsewhere overrides
        this and :meth:`load_state`. Properties are not part of it (they are saved
        separately); what ``setup()`` derives from them is rebuilt.

        Raises
        ------
        TypeError
            If a persisted attribute holds something that is not plain data.
        """
        out: dict[str, Any] = {"kind": self.kind, "version": STATE_VERSION}
        for name in self.persist:
            out[name] = encode(getattr(self, name), f"{self.kind}: {name}")
        return out

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`dump_state` gave, on a freshly constructed shell of the same
        manifest (after ``setup()``). Nothing is changed unless every field fits.

        Raises
        ------
        ValueError
            Naming the field, if the state does not fit: not a mapping, another kind or
            version, a missing or unexpected field, a value of the wrong type or shape, a
            non-finite number where none is allowed.
        """
        if not isinstance(state, Mapping):
            raise ValueError(f"{self.name}: a saved state is a mapping, not "
                             f"{type(state).__name__}")
        if state.get("kind") != self.kind:
            raise ValueError(f"{self.name}: kind: the state of a {state.get('kind')!r} "
                             f"cannot be loaded into a {self.kind}")
        version = state.get("version")
        if version != STATE_VERSION or isinstance(version, bool):
            raise ValueError(f"{self.name}: version: {version!r} is not {STATE_VERSION}")
        names = tuple(self.persist)
        extra = [k for k in state if k not in ("kind", "version", *names)]
        if extra:
            raise ValueError(f"{self.name}: {extra[0]}: not part of a {self.kind}'s state "
                             f"(fields: {', '.join(names) or 'none'})")
        missing = [k for k in names if k not in state]
        if missing:
            raise ValueError(f"{self.name}: {missing[0]}: missing from the state")
        types = persisted_types(type(self))
        values = {}
        for name in names:
            try:
                values[name] = decode(state[name], types.get(name),
                                      getattr(self, name, None), name)
            except ValueError as exc:
                raise ValueError(f"{self.name}: {exc}") from None
        self.check_state(values)
        for name, value in values.items():
            setattr(self, name, value)

    def check_state(self, values: dict[str, Any]) -> None:
        """Refuse decoded state values that cannot be (e.g. a negative stored energy): raise
        ValueError naming the field. Called by :meth:`load_state` before anything is set."""

    # ---------------------------------------------------------------- properties
    @property
    def model(self) -> type[BaseModel]:
        return REGISTRY.properties_model(self.kind)

    def live(self, name: str) -> bool:
        """Whether top-level property ``name`` may be set while running."""
        extra = self.model.model_fields[name].json_schema_extra
        return bool(extra.get("x-live", False)) if isinstance(extra, dict) else False

    def describe(self) -> dict[str, Any]:
        """The ``describe`` reply: every property with schema, unit and whether it is live."""
        schema = self.model.model_json_schema()
        defs = schema.get("$defs", {})
        props = []
        for pname, pschema in schema.get("properties", {}).items():
            if defs:
                pschema = {**pschema, "$defs": defs}
            props.append({
                "name": pname,
                "description": pschema.get("description", ""),
                "unit": pschema.get("x-unit", ""),
                "live": bool(pschema.get("x-live", False)),
                "schema": pschema,
            })
        return {"device": self.name, "kind": self.kind, "label": self.descriptor.label,
                "description": self.description, "inputs": self.inputs(), "properties": props}

    def get_property(self, path: str) -> Any:
        """Value at a property path (``cloud_cover``, ``appliances.oven.state``) or of a state
        value (``soc``, ``energy``, ``cost``).

        Raises
        ------
        UnknownProperty
            If the path names nothing.
        """
        data = self.props.model_dump(mode="json")
        parts = _split(path)
        if parts[0] not in data:  # state values (soc, energy, cost…) are readable too
            data = self.state()
        node: Any = data
        for part in parts:
            node = _child(node, part, path)
        return node

    def validated_set(self, path: str, value: Any) -> BaseModel:
        """Return new properties with ``path`` set to ``value``, validated by the contract.

        Raises
        ------
        UnknownProperty, ReadOnly, InvalidArgument
            ``InvalidArgument`` also when the path or the value is too large
            (:data:`MAX_ARGUMENT_BYTES`), before anything is validated.
        """
        if len(str(path)) > 1024:
            raise InvalidArgument("property name longer than 1024 characters",
                                  field=str(path)[:64])
        problem = argument_size_problem(value)
        if problem:
            raise InvalidArgument(problem, field=str(path))
        parts = _split(path)
        if parts[0] not in self.model.model_fields:
            raise UnknownProperty(f"{self.kind} has no property {parts[0]!r}", field=path)
        if not self.live(parts[0]):
            raise ReadOnly(f"{parts[0]} cannot be changed while running", field=path)
        data = copy.deepcopy(self.props.model_dump(mode="json"))
        node: Any = data
        for part in parts[:-1]:
            node = _child(node, part, path)
        last = parts[-1]
        if isinstance(node, list):
            idx = _index(node, last, path)
            node[idx] = value
        elif isinstance(node, dict):
            node[last] = value  # an unknown nested key is refused by the model (extra=forbid)
        else:
            raise UnknownProperty(f"no property {path!r}", field=path)
        try:
            return self.model.model_validate(data)
        except ValidationError as exc:
            errs = [{"field": f"{p}" if p != "(root)" else path, "reason": r}
                    for p, r in validation_errors(exc)]
            raise InvalidArgument(errs[0]["reason"], field=path, errors=errs) from None


def _split(path: str) -> list[str]:
    parts = [p for p in str(path).split(".") if p]
    if not parts:
        raise UnknownProperty("empty property name", field=str(path))
    return parts


def _index(items: list[Any], part: str, path: str) -> int:
    """Index of a list item addressed by its ``name`` (or by a number)."""
    for i, item in enumerate(items):
        if isinstance(item, dict) and item.get("name") == part:
            return i
    if part.isdigit() and int(part) < len(items):
        return int(part)
    raise UnknownProperty(f"no item {part!r} in {path!r}", field=path)


def _child(node: Any, part: str, path: str) -> Any:
    if isinstance(node, dict):
        if part not in node:
            raise UnknownProperty(f"no property {path!r}", field=path)
        return node[part]
    if isinstance(node, list):
        return node[_index(node, part, path)]
    raise UnknownProperty(f"no property {path!r}", field=path)
