"""Pure render functions: a Home (or a Block) → the Kubernetes objects that run it.

No cluster access here: the kopf handlers (:mod:`homesim.operator.handlers`) only apply
what these functions return, so everything is testable without an API server. The home's
random key is an input (the handlers read it from the home's Secret, or make a new one).

A Home ``h`` in namespace ``ns`` becomes

* ConfigMap ``h-manifest`` with the resolved manifest (``manifest.yaml``) every process reads;
* Secret ``h-wamp``: ``home-key`` (the random key every secret is derived from),
  ``config.json`` (the router's Crossbar configuration, which holds every principal's
  secret) and one key per identity (authid) with its secret: ``manager``, ``viewer``,
  ``operator``, ``resident.<flat>``, every device, ``clock``, ``ledger``;
* Deployment and Service ``h-router``: the home's own Crossbar router (one realm, ``h``),
  which mounts only ``config.json`` of the Secret; a change of the home's principals changes
  the pod template's ``homesim.io/config-sha256`` and rolls this router only;
* one Deployment per device ``h-<device>`` (``replicas: 0`` when ``enabled: false``);
* Deployments ``h-clock`` and ``h-ledger``, and their volumes, PersistentVolumeClaims
  ``h-snapshots`` (the clock's home snapshots, every ``snapshot_every`` windows) and
  ``h-ledger`` (the ledger's file and summary), which outlive their pods.

Every process recovers in place (``HOMESIM_RECOVERY=in_place``, see
:mod:`homesim.devices.bus.inplace`): a pod that dies is restarted by its Deployment, joins
the clock's epoch (``homesim.clock.join``), and the clock rolls the whole home back to its
latest snapshot; the ledger books each window once, so the run books what an undisturbed run
books. A restarted clock continues from its latest snapshot; a run that is over stays over.

Every device, the clock and the ledger join ``rs://h-router:8081`` as their own authid with
WAMP-CRA; the Secret volume of each pod projects only that identity's key (least privilege:
a pod never sees another identity's secret, the router never sees the home key). There is no
anonymous role (see :mod:`homesim.infra.router.access` for the roles).

All carry the ``app.kubernetes.io/*`` labels and ``homesim.io/home``; devices also
``homesim.io/device-kind`` and ``homesim.io/device``. Pods run as non-root with a read-only
root file system, no privilege escalation and no capabilities; ``fsGroup`` lets the
non-root user read its Secret files (mode 0400, group-readable under ``fsGroup``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from homesim.infra.router.access import AccessPlan, access_plan, derive_secret
from homesim.infra.router.config import render_config
from homesim.operator.live import restart_hash
from homesim.schemas.manifest import API_VERSION, Block, Home

__all__ = [
    "RenderOptions",
    "render_home",
    "render_block_homes",
    "child_name",
    "labels_for",
    "router_url",
    "router_config_text",
    "HOME_KEY",
    "ROUTER_CONFIG",
]

MANIFEST_PATH = "/etc/homesim/manifest.yaml"
#: The clock's and the ledger's identities (authids) on the home's router.
CLOCK_AUTHID, LEDGER_AUTHID = "clock", "ledger"
#: Keys of the home's Secret besides one per authid.
HOME_KEY = "home-key"
ROUTER_CONFIG = "config.json"
#: Where a process finds its own secret (``HOMESIM_SECRET_FILE``), and the router its config.
SECRET_DIR = "/etc/homesim-secret"
SECRET_FILE = f"{SECRET_DIR}/secret"
ROUTER_CONFIG_DIR = "/etc/homesim-router"
ROUTER_CBDIR = "/var/lib/crossbar"
WS_PORT = 8080  # WebSocket /ws (JSON + msgpack): people and tools (kubectl port-forward)
RS_PORT = 8081  # RawSocket (msgpack): the home's processes
SECRET_MODE = 0o400  # group-readable (0440) under the pod's fsGroup, as Kubernetes applies it
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")  # what Kubernetes allows as a Secret key


@dataclass(frozen=True)
class RenderOptions:
    """Cluster-side settings of rendered objects (chart values).

    ``authenticator`` (``{"procedure": URI}``, Helm value ``auth.authenticator.procedure``)
    plugs an external authenticator into the routers' WebSocket tickets (see
    :func:`homesim.infra.router.config.render_config`); ``None``: static secrets only.
    ``router_resources`` are the router container's resources (None: the defaults below).
    """

    image: str = "localhost/homesim-device:latest"
    image_pull_policy: str = "IfNotPresent"
    router_image: str = "localhost/homesim-router:latest"
    authenticator: dict[str, Any] | None = None
    cpu_request: str = "50m"
    memory_request: str = "160Mi"
    memory_limit: str = "512Mi"
    router_resources: dict[str, Any] | None = field(default=None)
    run_as_user: int = 10001
    #: the clock's snapshot interval [windows] (what a restarted pod rolls back to)
    snapshot_every: int = 10
    #: size and class of the clock's and the ledger's volumes (None: the cluster's default)
    state_storage: str = "1Gi"
    storage_class: str | None = None
    #: ``(Secret name, key)`` of a PostgreSQL DSN in the home's namespace (Helm value
    #: ``ledger.dsnSecret``): the ledger books there (env ``HOMESIM_LEDGER_DSN``) rather than
    #: into SQLite on its volume; None: SQLite
    ledger_dsn_secret: tuple[str, str] | None = None


#: A home's router: Crossbar's controller and one router worker, ~105 MB PSS each, and the
#: entry point (7 MB), measured with Crossbar 26.10 (tests/images/test_router_entry.py).
DEFAULT_ROUTER_RESOURCES: dict[str, Any] = {"requests": {"cpu": "50m", "memory": "256Mi"},
                                            "limits": {"memory": "512Mi"}}


def router_url(home: str, namespace: str | None = None) -> str:
    """RawSocket URL of ``home``'s router: ``rs://<home>-router:8081`` as the home's pods see
    it (same namespace), ``rs://<home>-router.<namespace>:8081`` from elsewhere (the
    operator)."""
    host = child_name(home, "router")
    return f"rs://{host}.{namespace}:{RS_PORT}" if namespace else f"rs://{host}:{RS_PORT}"


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


def _security(opts: RenderOptions) -> tuple[dict[str, Any], dict[str, Any]]:
    # fsGroup: Secret volume files (root-owned, mode 0400) become group-readable by it
    pod = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"},
           "fsGroup": opts.run_as_user}
    container = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                 "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}}
    return pod, container


METRICS_PORT = 9100  # every homesim container serves Prometheus /metrics here


def _meta(home: Home, ns: str | None, part: str, component: str, kind: str | None = None,
          device: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": child_name(home.metadata.name, part),
                            "labels": labels_for(home.metadata.name, component, kind, device)}
    if ns:
        meta["namespace"] = ns
    return meta


def _short_sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _deployment(home: Home, ns: str | None, part: str, component: str, args: list[str],
                opts: RenderOptions, replicas: int, authid: str, secret: str,
                kind: str | None = None,
                device: str | None = None, extra_volumes: list[dict[str, Any]] | None = None,
                extra_mounts: list[dict[str, Any]] | None = None,
                annotations: dict[str, str] | None = None,
                extra_env: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A process of the home (device, clock, ledger) joining the home's router as ``authid``
    with ``secret`` (mounted from the home's Secret, that key only)."""
    home_name = home.metadata.name
    meta = _meta(home, ns, part, component, kind, device)
    labels = meta["labels"]
    selector = {"homesim.io/home": home_name, "app.kubernetes.io/component": component}
    if device:
        selector["homesim.io/device"] = device
    pod_sec, c_sec = _security(opts)
    c_sec = {**c_sec, "runAsUser": opts.run_as_user}
    env = [
        {"name": "HOMESIM_ROUTER_URL", "value": router_url(home_name)},
        {"name": "HOMESIM_REALM", "value": home_name},
        {"name": "HOMESIM_AUTHID", "value": authid},
        {"name": "HOMESIM_SECRET_FILE", "value": SECRET_FILE},
        {"name": "HOMESIM_RUN_ID", "value": home_name},
        {"name": "HOMESIM_MANIFEST", "value": MANIFEST_PATH},
        {"name": "HOME", "value": "/tmp"},
        # a Deployment restarts containers that exit: stay up (idle) when the run is over
        {"name": "HOMESIM_AFTER_FINISH", "value": "idle"},
        # a restarted pod joins the clock's epoch (homesim.devices.bus.inplace)
        {"name": "HOMESIM_RECOVERY", "value": "in_place"},
        # Prometheus /metrics (homesim.devices.bus.metrics) on a fixed port in the pod
        {"name": "HOMESIM_METRICS_PORT", "value": str(METRICS_PORT)},
        {"name": "HOMESIM_METRICS_HOST", "value": "0.0.0.0"},
        *(extra_env or []),
    ]
    mounts = [{"name": "manifest", "mountPath": "/etc/homesim", "readOnly": True},
              {"name": "wamp-secret", "mountPath": SECRET_DIR, "readOnly": True},
              {"name": "tmp", "mountPath": "/tmp"}, *(extra_mounts or [])]
    volumes = [{"name": "manifest",
                "configMap": {"name": child_name(home_name, "manifest")}},
               # this identity's secret only (never the home key or another identity's)
               {"name": "wamp-secret",
                "secret": {"secretName": child_name(home_name, "wamp"),
                           "items": [{"key": authid, "path": "secret"}],
                           "defaultMode": SECRET_MODE}},
               {"name": "tmp", "emptyDir": {}}, *(extra_volumes or [])]
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
                                             # a new home key (Secret re-created) rolls
                                             # the pod: the process reads it at start
                                             "homesim.io/credential-sha256":
                                                 _short_sha(f"{authid}\0{secret}"),
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


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _secret(home: Home, ns: str | None, home_key: str, config_text: str,
            secrets: dict[str, str]) -> dict[str, Any]:
    data = {HOME_KEY: _b64(home_key), ROUTER_CONFIG: _b64(config_text)}
    for authid, secret in secrets.items():
        if authid in data or not _SECRET_KEY.match(authid):
            raise ValueError(f"identity {authid!r} of Home {home.metadata.name!r} cannot be a "
                             f"key of its Secret (reserved: {HOME_KEY}, {ROUTER_CONFIG}; "
                             f"allowed: {_SECRET_KEY.pattern})")
        data[authid] = _b64(secret)
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": _meta(home, ns, "wamp", "credentials"), "data": data}


def _router(home: Home, ns: str | None, opts: RenderOptions,
            config_text: str) -> list[dict[str, Any]]:
    """The home's router: Deployment (Crossbar with the Secret's ``config.json``) + Service."""
    name = home.metadata.name
    meta = _meta(home, ns, "router", "router")
    selector = {"homesim.io/home": name, "app.kubernetes.io/component": "router"}
    pod_sec, c_sec = _security(opts)
    c_sec = {**c_sec, "runAsUser": opts.run_as_user}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": 1,
            # never two routers of one home at once: the Service would split its processes
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": meta["labels"],
                             "annotations": {"homesim.io/config-sha256":
                                             hashlib.sha256(config_text.encode()).hexdigest()}},
                "spec": {
                    "securityContext": pod_sec,
                    "automountServiceAccountToken": False,
                    "terminationGracePeriodSeconds": 15,
                    "containers": [{
                        "name": "router",
                        "image": opts.router_image,
                        "imagePullPolicy": opts.image_pull_policy,
                        "env": [{"name": "HOMESIM_ROUTER_CONFIG",
                                 "value": f"{ROUTER_CONFIG_DIR}/{ROUTER_CONFIG}"},
                                {"name": "HOMESIM_CBDIR", "value": ROUTER_CBDIR},
                                {"name": "HOME", "value": "/tmp"}],
                        "ports": [{"name": "ws", "containerPort": WS_PORT, "protocol": "TCP"},
                                  {"name": "rawsocket", "containerPort": RS_PORT,
                                   "protocol": "TCP"}],
                        "readinessProbe": {"tcpSocket": {"port": RS_PORT},
                                           "periodSeconds": 5},
                        "securityContext": c_sec,
                        "resources": json.loads(json.dumps(opts.router_resources
                                                           or DEFAULT_ROUTER_RESOURCES)),
                        "volumeMounts": [
                            {"name": "config", "mountPath": ROUTER_CONFIG_DIR,
                             "readOnly": True},
                            {"name": "cbdir", "mountPath": ROUTER_CBDIR},
                            {"name": "tmp", "mountPath": "/tmp"}],
                    }],
                    "volumes": [
                        # the router's configuration only (not the home key, not one file
                        # per identity)
                        {"name": "config",
                         "secret": {"secretName": child_name(name, "wamp"),
                                    "items": [{"key": ROUTER_CONFIG, "path": ROUTER_CONFIG}],
                                    "defaultMode": SECRET_MODE}},
                        {"name": "cbdir", "emptyDir": {}},  # Crossbar's node directory
                        {"name": "tmp", "emptyDir": {}}],
                },
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(home, ns, "router", "router"),
        "spec": {"type": "ClusterIP", "selector": selector,
                 "ports": [{"name": "ws", "port": WS_PORT, "targetPort": "ws",
                            "protocol": "TCP"},
                           {"name": "rawsocket", "port": RS_PORT, "targetPort": "rawsocket",
                            "protocol": "TCP"}]},
    }
    return [deployment, service]


def router_config_text(plan: AccessPlan, home_key: str,
                       authenticator: dict[str, Any] | None = None) -> str:
    """The router's Crossbar configuration as stored in the Secret (``config.json``): both
    transports on 0.0.0.0 (WebSocket 8080, RawSocket 8081), no anonymous role.

    Raises ValueError if the realm name is not a valid WAMP realm or the key is empty."""
    config = render_config(plan.realm_access(home_key, authenticator=authenticator),
                           WS_PORT, RS_PORT, "0.0.0.0")
    return json.dumps(config, indent=2, sort_keys=True) + "\n"


def render_home(home: Home, namespace: str | None, opts: RenderOptions | None,
                home_key: str) -> list[dict[str, Any]]:
    """Objects that run ``home``: ConfigMap, Secret, router Deployment and Service, one
    Deployment per device, clock, ledger (see the module docstring).

    Pure: the same ``home``, options and ``home_key`` give the same objects. Devices with
    ``enabled: false`` get ``replicas: 0`` (their Deployment and identity stay, so switching
    them on again is a scale-up).

    Raises ValueError if ``home_key`` is empty, the home's name is not a valid WAMP realm
    (``^[A-Za-z][A-Za-z0-9_@.-]{2,254}$``: a letter first, three characters at least), or an
    identity cannot be a Secret key (a device named ``home-key``).
    """
    opts = opts or RenderOptions()
    plan = access_plan(home, authenticator=(opts.authenticator or {}).get("procedure"))
    secrets = {a: derive_secret(home_key, plan.realm, a) for a in plan.authids()}
    config_text = router_config_text(plan, home_key, opts.authenticator)
    cm_meta = _meta(home, namespace, "manifest", "manifest")
    text = manifest_text(home)
    cm_meta["annotations"] = {"homesim.io/manifest-sha256":
                              hashlib.sha256(text.encode()).hexdigest()}
    objs: list[dict[str, Any]] = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": cm_meta,
                                   "data": {"manifest.yaml": text}}]
    objs.append(_secret(home, namespace, home_key, config_text, secrets))
    objs.extend(_router(home, namespace, opts, config_text))
    for d in home.spec.devices:
        # a change of what the device only reads at start rolls its pods; live ones reach it
        # over WAMP (homesim.operator.live)
        objs.append(_deployment(home, namespace, d.name, "device",
                                [d.kind, "--device", d.name], opts,
                                replicas=1 if d.enabled else 0, authid=d.name,
                                secret=secrets[d.name], kind=d.kind, device=d.name,
                                annotations={"homesim.io/restart-hash":
                                             restart_hash(home.spec, d.name)}))
    objs.append(_claim(home, namespace, "snapshots", opts))
    objs.append(_deployment(
        home, namespace, "clock", "clock",
        ["clock", "--device", "clock", "--snapshot-every", str(opts.snapshot_every),
         "--snapshot-dir", f"{STATE_DIR}/snapshots"],
        opts, replicas=1, authid=CLOCK_AUTHID, secret=secrets[CLOCK_AUTHID],
        extra_volumes=[_claim_volume(home, "snapshots")],
        extra_mounts=[{"name": "snapshots", "mountPath": STATE_DIR}]))
    objs.append(_claim(home, namespace, "ledger", opts))  # its summary (and SQLite file)
    if opts.ledger_dsn_secret is None:
        db, db_env = ["--db", f"{STATE_DIR}/ledger.sqlite"], []
    else:  # PostgreSQL: the DSN (with its password) from the Secret, in the environment only
        name, key = opts.ledger_dsn_secret
        db, db_env = [], [{"name": "HOMESIM_LEDGER_DSN",
                           "valueFrom": {"secretKeyRef": {"name": name, "key": key}}}]
    objs.append(_deployment(
        home, namespace, "ledger", "ledger",
        ["ledger", "--device", "ledger", *db, "--summary", f"{STATE_DIR}/summary.json"],
        opts, replicas=1, authid=LEDGER_AUTHID, secret=secrets[LEDGER_AUTHID],
        extra_volumes=[_claim_volume(home, "ledger")],
        extra_mounts=[{"name": "ledger", "mountPath": STATE_DIR}], extra_env=db_env))
    return objs


#: Where the clock's and the ledger's volumes are mounted.
STATE_DIR = "/var/lib/homesim"


def _claim(home: Home, ns: str | None, part: str, opts: RenderOptions) -> dict[str, Any]:
    """PersistentVolumeClaim ``<home>-<part>``: state that outlives the pod using it."""
    spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": opts.state_storage}}}
    if opts.storage_class:
        spec["storageClassName"] = opts.storage_class
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": _meta(home, ns, part, part), "spec": spec}


def _claim_volume(home: Home, part: str) -> dict[str, Any]:
    return {"name": part,
            "persistentVolumeClaim": {"claimName": child_name(home.metadata.name, part)}}


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
