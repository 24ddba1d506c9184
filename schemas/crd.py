"""CustomResourceDefinitions generated from the manifest's pydantic models.

``homes.homesim.io`` and ``blocks.homesim.io`` (v1alpha1) take their OpenAPI v3 schema from
the same models ``homesim validate`` uses (:mod:`homesim.schemas.manifest`), converted to a
Kubernetes *structural* schema: ``$ref`` inlined, ``anyOf [X, null]`` → ``nullable``,
numeric ``exclusiveMinimum`` → ``minimum`` + ``exclusiveMinimum: true``, ``const`` → ``enum``,
no ``additionalProperties: false`` (the API server prunes unknown fields instead), no
``x-`` extensions but ``x-kubernetes-*``. The device union (discriminated by ``kind``)
becomes one object type with every kind's properties; ``homesim validate`` (and the
operator) still check each kind exactly.

``python -m homesim.schemas.regen`` writes them to ``helm/homesim/crds/``.
"""

from __future__ import annotations

import copy
from typing import Any

from homesim.schemas.manifest import Block, HomeSpec

GROUP = "homesim.io"
VERSION = "v1alpha1"

_DROP = {"title", "discriminator"}
REASON_PATTERN = "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"  # Kubernetes API conventions


def _merge_objects(variants: list[dict[str, Any]]) -> dict[str, Any]:
    """Merge object schemas (a union) into one object with every property."""
    props: dict[str, Any] = {}
    required: set[str] | None = None
    for v in variants:
        for k, s in v.get("properties", {}).items():
            if k in props and props[k] != s:
                if props[k].get("type") == "string" and s.get("type") == "string" \
                        and "enum" in props[k] and "enum" in s:
                    props[k] = {**props[k], "enum": sorted(set(props[k]["enum"]) | set(s["enum"]))}
                elif props[k].get("type") == "object" and s.get("type") == "object":
                    props[k] = _merge_objects([props[k], s])
                elif props[k].get("type") == s.get("type") and s.get("type") != "array":
                    # same scalar type, different constraints (pv model enum vs heat-pump
                    # model name): keep what both allow; the kind's own model validates.
                    props[k] = {a: b for a, b in props[k].items() if s.get(a) == b}
                else:
                    raise ValueError(f"union members disagree on property {k!r}")
            else:
                props.setdefault(k, s)
        req = set(v.get("required", []))
        required = req if required is None else required & req
    out: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        out["required"] = sorted(required)
    return out


def structural(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> dict[str, Any]:
    """Convert a pydantic JSON Schema into a Kubernetes structural OpenAPI v3 schema."""
    defs = schema.get("$defs", {}) if defs is None else defs
    s = copy.deepcopy(schema)
    s.pop("$defs", None)
    if "$ref" in s:
        target = defs[s.pop("$ref").split("/")[-1]]
        extra = {k: v for k, v in s.items() if k in ("description",)}
        return {**structural(target, defs), **extra}
    for key in ("anyOf", "oneOf"):
        if key in s:
            options = s.pop(key)
            nullable = any(o.get("type") == "null" for o in options)
            real = [structural(o, defs) for o in options if o.get("type") != "null"]
            base = real[0] if len(real) == 1 else _merge_objects(real)
            s.pop("default", None)
            merged = {**base, **{k: v for k, v in s.items() if k not in _DROP
                                 and not (k.startswith("x-")
                                          and not k.startswith("x-kubernetes-"))}}
            if nullable:
                merged["nullable"] = True
            return merged
    out: dict[str, Any] = {}
    for k, v in s.items():
        if k in _DROP or (k.startswith("x-") and not k.startswith("x-kubernetes-")):
            continue
        if k == "additionalProperties":
            if isinstance(v, dict):
                out[k] = structural(v, defs)
            continue
        if k == "const":
            out["enum"] = [v]
            continue
        if k in ("exclusiveMinimum", "exclusiveMaximum") and not isinstance(v, bool):
            out["minimum" if k == "exclusiveMinimum" else "maximum"] = v
            out[k] = True
            continue
        if k == "properties":
            out[k] = {name: structural(p, defs) for name, p in v.items()}
            continue
        if k == "items":
            out[k] = structural(v, defs)
            continue
        if k == "format" and v == "date-time":
            continue  # Kubernetes wants an offset; a naive time is the home's local time
        if k == "default":
            continue  # defaults are the models' job: API-server defaulting of the merged
            # device union would put one kind's defaults on every other kind
        out[k] = v
    if out.get("type") == "object" and "properties" not in out \
            and "additionalProperties" not in out:
        out["x-kubernetes-preserve-unknown-fields"] = True
    return out


def _status_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "observedGeneration": {"type": "integer", "format": "int64"},
            "devices": {"type": "string", "description": "ready/total device Deployments"},
            "devicesReady": {"type": "integer"},
            "devicesTotal": {"type": "integer"},
            "simTime": {"type": "string", "description": "last simulated time reported"},
            "children": {"type": "array", "items": {"type": "string"},
                         "description": "child Homes (Block)"},
            "conditions": {
                "type": "array",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["type"],
                "items": {
                    "type": "object",
                    "required": ["type", "status", "lastTransitionTime", "reason", "message"],
                    "properties": {
                        "type": {"type": "string", "enum": ["Ready", "Reconciled"]},
                        "status": {"type": "string", "enum": ["True", "False", "Unknown"]},
                        "observedGeneration": {"type": "integer", "format": "int64"},
                        "lastTransitionTime": {"type": "string", "format": "date-time"},
                        "reason": {"type": "string", "pattern": REASON_PATTERN},
                        "message": {"type": "string", "maxLength": 32768},
                    },
                },
            },
        },
    }


def _crd(kind: str, plural: str, short: list[str], spec_schema: dict[str, Any],
         columns: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}",
                     "annotations": {"homesim.io/generated-by": "python -m homesim.schemas.regen"}},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"kind": kind, "listKind": f"{kind}List", "plural": plural,
                      "singular": kind.lower(), "shortNames": short, "categories": ["homesim"]},
            "versions": [{
                "name": VERSION, "served": True, "storage": True,
                "subresources": {"status": {}},
                "additionalPrinterColumns": columns,
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "required": ["spec"],
                    "properties": {
                        "apiVersion": {"type": "string"},
                        "kind": {"type": "string"},
                        "metadata": {"type": "object"},
                        "spec": spec_schema,
                        "status": _status_schema(),
                    },
                }},
            }],
        },
    }


def home_crd() -> dict[str, Any]:
    """The ``homes.homesim.io`` CRD."""
    cols = [
        {"name": "Devices", "type": "string", "jsonPath": ".status.devices"},
        {"name": "Speed", "type": "string", "jsonPath": ".spec.simulation.speed"},
        {"name": "Sim-Time", "type": "string", "jsonPath": ".status.simTime"},
        {"name": "Ready", "type": "string",
         "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]
    return _crd("Home", "homes", ["hm"], structural(HomeSpec.model_json_schema()), cols)


def block_crd() -> dict[str, Any]:
    """The ``blocks.homesim.io`` CRD."""
    spec = Block.model_json_schema()
    defs = spec["$defs"]
    cols = [
        {"name": "Homes", "type": "string", "jsonPath": ".status.devices"},
        {"name": "Speed", "type": "string", "jsonPath": ".spec.simulation.speed"},
        {"name": "Ready", "type": "string",
         "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]
    return _crd("Block", "blocks", ["blk"], structural(defs["BlockSpec"], defs), cols)
