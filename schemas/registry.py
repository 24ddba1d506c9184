"""The registry of device kinds: one descriptor per kind, the contract as its single source.

Every device kind is declared once, in ``schemas/asyncapi.yaml``, by an ``x-homesim-kind``
extension next to its ``<Kind>Properties`` schema: its label and description, its shell,
its role on the buses, which kinds it consumes, whose packets it waits for, whether it is a
bounded node, its carriers, how many may be enabled per home or flat, what it requires, the
schema of its report (signals and params, each with a unit) and of its settle metrics.
``python -m homesim.schemas.regen`` copies the descriptors into
``schemas/generated/kinds.py`` together with one typed report class per kind.

Everything that needs to know about a kind asks this module: manifest validation (property
models, topology), process dispatch (the shell), the devices' inputs and packet publishers,
the ledger (bounded nodes, heat kinds), the report (colours), billing (consumers), metrics
(observed quantities) and the operator.

More kinds can be added without touching the package: ``HOMESIM_KINDS`` lists YAML files
(``os.pathsep``-separated), each a mapping ``kind: descriptor`` with, in addition,
``properties_model: "module:Class"`` (a pydantic model of the kind's properties). The
variable is read at import time, so every process of a run (they inherit the environment)
sees the same kinds.
"""

from __future__ import annotations

import importlib
import os
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from homesim.schemas.reports import KindReport, ReportSpec, SignalSpec, report_type

__all__ = [
    "KindDescriptor", "SignalSpec", "ReportSpec", "SettleSpec", "Limits", "REGISTRY",
    "Registry", "load_kind_file", "PLUGIN_ENV",
]

PLUGIN_ENV = "HOMESIM_KINDS"
KIND_NAME = r"^[a-z][a-z0-9_]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SettleSpec(_Strict):
    """The schema of a kind's settle: stored energy, losses, per-tick metrics."""

    stored: bool = False
    losses: bool = False
    metrics: dict[str, SignalSpec] = {}


class Limits(_Strict):
    """How many enabled devices of a kind a home (or one flat of a block) may have."""

    max_per_home: int | None = Field(None, ge=1)
    min_per_home: int = Field(0, ge=0)
    max_per_flat: int | None = Field(None, ge=1)


Role = Literal["environment", "source", "sink", "storage", "converter", "balancer",
               "controller", "external"]
Carrier = Literal["electricity", "heat", "gas", "solar"]


class KindDescriptor(_Strict):
    """Everything homesim knows about one device kind (see the module docstring)."""

    kind: Annotated[str, Field(pattern=KIND_NAME)]
    label: str
    description: str
    shell: Annotated[str, Field(pattern=r"^[\w.]+:\w+$",
                                description="module:Class of the kind's DeviceShell")]
    role: Role
    bounded: bool = Field(True, description="a balanced node (false: sun, grid — unbounded)")
    carriers: list[Carrier] = []
    inputs: list[str] = Field([], description="kinds whose reports it needs before it reports")
    balanced_by: str | None = Field(None, description="the balancing kind that waits for its "
                                    "report and allocates its energy (the inverter)")
    packets_from: list[str] = Field([], description="kinds whose packets it waits for")
    requires: list[str] = Field([], description="kinds that must be enabled with it")
    references: dict[str, str] = Field(
        {}, description="properties naming another device of the home: property → the kind "
                        "of the device it names (a pv's ``inverter``: a pv_inverter); a device "
                        "that names one is balanced through it")
    limits: Limits = Limits()
    consumer: bool = Field(True, description="electricity it receives is consumption (billing)")
    colour: str = "#95a5a6"
    observe: list[str] = Field([], description="quantities exported as Prometheus gauges")
    files: list[str] = Field([], description="property paths (dotted) holding file paths, "
                                             "resolved against the manifest's folder")
    report: ReportSpec = ReportSpec()
    settle: SettleSpec = SettleSpec()
    properties_model: str | None = Field(
        None, description="module:Class of the properties model (plugins only; contract kinds "
                          "use the generated <Kind>Properties)")

    @property
    def balancer(self) -> bool:
        """Whether this kind is a bus's balancing device."""
        return self.role == "balancer"

    @property
    def heat(self) -> bool:
        """Whether this kind is part of the heat bus."""
        return "heat" in self.carriers


def _import(ref: str) -> Any:
    mod, _, name = ref.partition(":")
    return getattr(importlib.import_module(mod), name)


class Registry:
    """The device kinds of this process: the contract's plus those of ``HOMESIM_KINDS``."""

    def __init__(self, descriptors: dict[str, KindDescriptor]) -> None:
        self._kinds: dict[str, KindDescriptor] = dict(descriptors)
        self._check()

    # ------------------------------------------------------------------ lookups
    def __contains__(self, kind: object) -> bool:
        return kind in self._kinds

    def __iter__(self):  # noqa: ANN204 - iterator of kind names
        return iter(self._kinds)

    def names(self) -> tuple[str, ...]:
        """Every kind name, in contract order."""
        return tuple(self._kinds)

    def get(self, kind: str) -> KindDescriptor:
        """The descriptor of ``kind``.

        Raises
        ------
        KeyError
            If there is no such kind (the message lists the known kinds).
        """
        try:
            return self._kinds[kind]
        except KeyError:
            raise KeyError(f"unknown device kind {kind!r} (kinds: "
                           f"{', '.join(self._kinds)})") from None

    def where(self, **flags: Any) -> tuple[str, ...]:
        """Kinds whose descriptor attributes equal ``flags`` (e.g. ``bounded=False``)."""
        return tuple(k for k, d in self._kinds.items()
                     if all(getattr(d, f) == v for f, v in flags.items()))

    def balanced_by(self, balancer: str) -> tuple[str, ...]:
        """The kinds whose reports ``balancer`` balances (``balanced_by`` names it)."""
        return tuple(k for k, d in self._kinds.items() if d.balanced_by == balancer)

    @cached_property
    def _models(self) -> dict[str, type[BaseModel]]:
        from homesim.schemas.generated import messages

        out: dict[str, type[BaseModel]] = {}
        for k, d in self._kinds.items():
            if d.properties_model:
                out[k] = _import(d.properties_model)
            else:
                out[k] = getattr(messages, "".join(p.capitalize() for p in k.split("_"))
                                 + "Properties")
        return out

    def properties_model(self, kind: str) -> type[BaseModel]:
        """The pydantic model of a kind's properties (generated from the contract)."""
        self.get(kind)
        return self._models[kind]

    def report_type(self, kind: str) -> type[KindReport]:
        """The typed report class of a kind (generated for contract kinds)."""
        from homesim.schemas.generated.kinds import REPORTS

        cls = REPORTS.get(kind)
        if cls is None:
            cls = report_type(kind, self.get(kind).report)
            REPORTS[kind] = cls
        return cls

    def shell_class(self, kind: str) -> type:
        """The kind's shell class (imported lazily)."""
        return _import(self.get(kind).shell)

    # ------------------------------------------------------------------ changes
    def register(self, descriptor: KindDescriptor) -> None:
        """Add a kind (the ``HOMESIM_KINDS`` plugins, at import time: the manifest models are
        built from the registry when :mod:`homesim.schemas.manifest` is first imported).

        Raises
        ------
        ValueError
            If the kind exists already or names unknown kinds.
        """
        if descriptor.kind in self._kinds:
            raise ValueError(f"device kind {descriptor.kind!r} is already registered")
        self._kinds[descriptor.kind] = descriptor
        try:
            self._check()
        except ValueError:
            del self._kinds[descriptor.kind]
            raise
        self.__dict__.pop("_models", None)

    def _check(self) -> None:
        for k, d in self._kinds.items():
            refs = {"inputs": d.inputs, "packets_from": d.packets_from,
                    "requires": d.requires, "balanced_by": [d.balanced_by or ""],
                    "references": list(d.references.values())}
            for field, names in refs.items():
                bad = [x for x in names if x and x not in self._kinds]
                if bad:
                    raise ValueError(f"kind {k!r}: {field} names unknown kind(s) "
                                     f"{', '.join(bad)}")


def load_kind_file(path: str | Path) -> list[KindDescriptor]:
    """Read a YAML file of ``kind: descriptor`` mappings.

    Raises
    ------
    ValueError
        If the file is unreadable or a descriptor is invalid (with its field path).
    """
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{p}: cannot read kind descriptors: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{p}: a mapping of kind: descriptor is expected")
    out = []
    for name, body in data.items():
        try:
            out.append(KindDescriptor.model_validate({"kind": name, **(body or {})}))
        except ValidationError as exc:
            errs = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ValueError(f"{p}: kind {name!r}: {errs}") from None
    return out


def _build() -> Registry:
    from homesim.schemas.generated.kinds import KIND_DESCRIPTORS

    reg = Registry({k: KindDescriptor.model_validate(v) for k, v in KIND_DESCRIPTORS.items()})
    for f in filter(None, os.environ.get(PLUGIN_ENV, "").split(os.pathsep)):
        for d in load_kind_file(f):
            reg.register(d)
    return reg


#: The registry of this process.
REGISTRY = _build()

