"""Pure render functions: a Home (or a Block) → the Kubernetes objects that run it.

No cluster access here: the kopf handlers (:mod:`homesim.operator.handlers`) only apply
what these functions return, so everything is testable without an API server.

A Home ``h`` in namespace ``ns`` becomes

* ConfigMap ``h-manifest`` with the resolved manifest (``manifest.yaml``) every process reads;
* one Deployment per device ``h-<device>`` (``replicas: 0`` when ``enabled: false``);
* Deployments ``h-clock`` and ``h-ledger``.

All carry the ``app.kubernetes.io/*`` labels and ``homesim.io/home``; devices also
``homesim.io/device-kind`` and ``homesim.io/device``. Pods run as non-root with a read-only
root file system, no privilege escalation and no capabilities.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import yaml

from homesim.operator.live import restart_hash
from homesim.schemas.manifest import API_VERSION, Block, Home

__all__ = ["RenderOptions", "render_home", "render_block_homes", "child_name", "labels_for"]

MANIFEST_PATH = "/etc/homesim/manifest.yaml"


@dataclass(frozen=True)
class RenderOptions:
    """Cluster-side settings of rendered objects (chart values)."""

    image: str = "localhost/homesim-device:latest"
    image_pull_policy: str = "IfNotPresent"
    router_url: str = "rs://homesim-router:8081"
    cpu_request: str = "50m"
    memory_request: str = "160Mi"
    memory_limit: str = "512Mi"
    run_as_user: int = 10001


def labels_for(home: str, component: str, kind: str | None = None,
               device: str | None = None) -> dict[str, str]:
    """Standard labels of a child object of Home ``home``."""
    out = {
        "app.kubernetes.io/name": "homesim",
        "app.kubernetes.io/instance": home,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": "homesim",
        "app.kubernetes.io/managed-by": "homesim-operator",
        "homesim.io/home": home,
    }
    if kind:
        out["homesim.io/device-kind"] = kind
    if device:
        out["homesim.io/device"] = device
    return out


def child_name(home: str, part: str) -> str:
    """``<home>-<part>``, shortened with a hash to Kubernetes' 63 characters."""
    name = f"{home}-{part}"
    if len(name) <= 63:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[:54]}-{digest}"


def manifest_text(home: Home) -> str:
    """The manifest every process of the home reads (metadata reduced to the name)."""
    data = home.model_dump(mode="json")
    data["metadata"] = {"name": home.metadata.name}
    return yaml.safe_dump(data, sort_keys=False)


def _security() -> tuple[dict[str, Any], dict[str, Any]]:
    pod = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    container = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                 "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}}
    return pod, container


METRICS_PORT = 9100  # every homesim container serves Prometheus /metrics here


def _deployment(home: Home, ns: str | None, part: str, component: str, args: list[str],
                opts: RenderOptions, replicas: int, kind: str | None = None,
                device: str | None = None, extra_volumes: list[dict[str, Any]] | None = None,
                extra_mounts: list[dict[str, Any]] | None = None,
                annotations: dict[str, str] | None = None) -> dict[str, Any]:
    name = child_name(home.metadata.name, part)
    labels = labels_for(home.metadata.name, component, kind, device)
    selector = {"homesim.io/home": home.metadata.name, "app.kubernetes.io/component": component}
    if device:
        selector["homesim.io/device"] = device
    pod_sec, c_sec = _security()
    c_sec = {**c_sec, "runAsUser": opts.run_as_user}
    env = [
        {"name": "HOMESIM_ROUTER_URL", "value": opts.router_url},
        {"name": "HOMESIM_REALM", "value": home.metadata.name},
        {"name": "HOMESIM_RUN_ID", "value": home.metadata.name},
        {"name": "HOMESIM_MANIFEST", "value": MANIFEST_PATH},
        {"name": "HOME", "value": "/tmp"},
        # a Deployment restarts containers that exit: stay up (idle) when the run is over
        {"name": "HOMESIM_AFTER_FINISH", "value": "idle"},
        # Prometheus /metrics (homesim.devices.bus.metrics) on a fixed port in the pod
        {"name": "HOMESIM_METRICS_PORT", "value": str(METRICS_PORT)},
        {"name": "HOMESIM_METRICS_HOST", "value": "0.0.0.0"},
    ]
    mounts = [{"name": "manifest", "mountPath": "/etc/homesim", "readOnly": True},
              {"name": "tmp", "mountPath": "/tmp"}, *(extra_mounts or [])]
    volumes = [{"name": "manifest",
                "configMap": {"name": child_name(home.metadata.name, "manifest")}},
               {"name": "tmp", "emptyDir": {}}, *(extra_volumes or [])]
    meta: dict[str, Any] = {"name": name, "labels": labels}
    if ns:
        meta["namespace"] = ns
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": replicas,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": labels,
                             "annotations": {"prometheus.io/scrape": "true",
                                             "prometheus.io/port": str(METRICS_PORT),
                                             "prometheus.io/path": "/metrics",
                                             **(annotations or {})}},
                "spec": {
                    "securityContext": pod_sec,
                    "automountServiceAccountToken": False,
                    "terminationGracePeriodSeconds": 10,
                    "containers": [{
                        "name": component if not device else "device",
                        "image": opts.image,
                        "imagePullPolicy": opts.image_pull_policy,
                        "args": args,
                        "env": env,
                        "ports": [{"name": "metrics", "containerPort": METRICS_PORT,
                                   "protocol": "TCP"}],
                        "securityContext": c_sec,
                        "resources": {
                            "requests": {"cpu": opts.cpu_request, "memory": opts.memory_request},
                            "limits": {"memory": opts.memory_limit},
                        },
                        "volumeMounts": mounts,
                    }],
                    "volumes": volumes,
                },
            },
        },
    }


def render_home(home: Home, namespace: str | None = None,
                opts: RenderOptions | None = None) -> list[dict[str, Any]]:
    """Objects that run ``home``: ConfigMap, one Deployment per device, clock, ledger.

    Devices with ``enabled: false`` get ``replicas: 0`` (their Deployment stays, so switching
    them on again is a scale-up).
    """
    opts = opts or RenderOptions()
    name = home.metadata.name
    cm_meta: dict[str, Any] = {"name": child_name(name, "manifest"),
                               "labels": labels_for(name, "manifest")}
    if namespace:
        cm_meta["namespace"] = namespace
    text = manifest_text(home)
    cm_meta["annotations"] = {"homesim.io/manifest-sha256":
                              hashlib.sha256(text.encode()).hexdigest()}
    objs: list[dict[str, Any]] = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": cm_meta,
                                   "data": {"manifest.yaml": text}}]
    for d in home.spec.devices:
        # a change of what the device only reads at start rolls its pods; live ones reach it
        # over WAMP (homesim.operator.live)
        objs.append(_deployment(home, namespace, d.name, "device",
                                [d.kind, "--device", d.name], opts,
                                replicas=1 if d.enabled else 0, kind=d.kind, device=d.name,
                                annotations={"homesim.io/restart-hash":
                                             restart_hash(home.spec, d.name)}))
    objs.append(_deployment(home, namespace, "clock", "clock", ["clock", "--device", "clock"],
                            opts, replicas=1))
    objs.append(_deployment(
        home, namespace, "ledger", "ledger",
        ["ledger", "--device", "ledger", "--db", "/var/lib/homesim/ledger.sqlite",
         "--summary", "/var/lib/homesim/summary.json"], opts, replicas=1,
        extra_volumes=[{"name": "ledger", "emptyDir": {}}],
        extra_mounts=[{"name": "ledger", "mountPath": "/var/lib/homesim"}]))
    return objs


def render_block_homes(block: Block, namespace: str | None = None) -> list[dict[str, Any]]:
    """The child Home of a Block: the whole building as one Home named like the Block.

    A block is one simulation (one clock, one ledger, one realm): its flats are coupled
    through the heat node, share the grid connection and are metered from one ledger. The
    flats' devices are renamed ``<flat>-<device>`` (see ``BlockSpec``); returns a list so
    that the operator can prune what a previous version of the Block created.
    """
    meta: dict[str, Any] = {
        "name": block.metadata.name,
        "labels": {"homesim.io/block": block.metadata.name,
                   "app.kubernetes.io/part-of": "homesim",
                   "app.kubernetes.io/managed-by": "homesim-operator"},
    }
    if namespace:
        meta["namespace"] = namespace
    spec = block.spec.home_spec()
    return [{"apiVersion": API_VERSION, "kind": "Home", "metadata": meta,
             "spec": json.loads(spec.model_dump_json(exclude_none=True))}]
