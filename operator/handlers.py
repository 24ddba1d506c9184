"""kopf handlers of the homesim operator (thin: parsing, rendering and status are elsewhere).

Run with ``kopf run -m homesim.operator.handlers --all-namespaces`` (the chart does this).
Settings from the environment (the chart sets them):

* ``HOMESIM_IMAGE``: the device image (devices, clock, ledger);
* ``HOMESIM_ROUTER_IMAGE``: the router image (one router per Home);
* ``HOMESIM_AUTHENTICATOR``: optional JSON ``{"procedure": URI}``, an external authenticator
  of the routers' WebSocket tickets (empty: static secrets only);
* ``HOMESIM_ROUTER_RESOURCES``: optional JSON, the router container's ``resources``;
* ``HOMESIM_LEDGER_DSN_SECRET``: optional ``<secret>/<key>``, a Secret (in each Home's
  namespace) holding a PostgreSQL DSN: the ledgers book there (the operator never reads it).

Every Home gets its own router and its own Secret ``<home>-wamp``; the home key in it is made
once (:func:`homesim.infra.router.access.new_home_key`) and kept: reconciling again renders
the same objects, so adding, changing or deleting one Home never touches another's router.
Deleting a Home deletes its children through their ownerReferences (garbage collection).
Secrets never reach a log or an event.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import kopf

from homesim.infra.router.access import derive_secret, new_home_key
from homesim.operator.conditions import set_condition
from homesim.operator.kube import Kube
from homesim.operator.live import live_changes
from homesim.operator.render import (
    HOME_KEY,
    RenderOptions,
    child_name,
    render_block_homes,
    render_home,
    router_url,
)
from homesim.schemas.manifest import Block, HomeSpec, ManifestError, parse_home

#: The identity the operator uses on every home's router (live updates, clock status).
OPERATOR_AUTHID = "operator"

GROUP, VERSION = "homesim.io", "v1alpha1"
log = logging.getLogger("homesim.operator")
_kube: Kube | None = None


def kube() -> Kube:
    """One API client for the operator's lifetime (not one per call)."""
    global _kube
    if _kube is None:
        _kube = Kube()
    return _kube


def _json_env(name: str) -> dict[str, Any] | None:
    """A JSON object from environment variable ``name``; None if unset or empty.

    Raises ValueError if it is set but not a JSON object."""
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{name} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{name} must be a JSON object, not {type(value).__name__}")
    return value


def options() -> RenderOptions:
    """Render options from the operator's environment (see the module docstring).

    Raises ValueError for an invalid ``HOMESIM_AUTHENTICATOR`` (not ``{"procedure": URI}``)
    or ``HOMESIM_ROUTER_RESOURCES``."""
    auth = _json_env("HOMESIM_AUTHENTICATOR")
    if auth is not None and (not auth.get("procedure") or not isinstance(auth["procedure"], str)):
        raise ValueError('HOMESIM_AUTHENTICATOR must be {"procedure": "<URI>"}')
    dsn_secret = os.environ.get("HOMESIM_LEDGER_DSN_SECRET") or ""  # "name/key" (Helm)
    name, _, key = dsn_secret.partition("/")
    if dsn_secret and not (name and key):
        raise ValueError("HOMESIM_LEDGER_DSN_SECRET must be <secret name>/<key>")
    return RenderOptions(
        ledger_dsn_secret=(name, key) if dsn_secret else None,
        image=os.environ.get("HOMESIM_IMAGE") or RenderOptions.image,
        router_image=os.environ.get("HOMESIM_ROUTER_IMAGE") or RenderOptions.router_image,
        authenticator=auth or None,
        router_resources=_json_env("HOMESIM_ROUTER_RESOURCES"))


def home_key(namespace: str, name: str) -> str | None:
    """The key in Home ``name``'s Secret, or None if it has none (yet).

    Raises ``ApiException`` for an API error but 404 (e.g. 403: no RBAC for secrets)."""
    return kube().home_key(namespace, child_name(name, "wamp"), HOME_KEY)


def operator_secret(namespace: str, name: str) -> str | None:
    """The operator's secret on Home ``name``'s router (derived from the home key), or None
    while the home has no Secret. Raises as :func:`home_key`."""
    key = home_key(namespace, name)
    return derive_secret(key, name, OPERATOR_AUTHID) if key else None


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.persistence.finalizer = "homesim.io/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="homesim.io")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix="homesim.io", key="last-handled-configuration")
    settings.posting.level = logging.INFO
    settings.watching.server_timeout = 60


def _manifest(body: kopf.Body, kind: str) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind,
            "metadata": {"name": body["metadata"]["name"]}, "spec": dict(body.get("spec", {}))}


def _invalid(body: kopf.Body, patch: kopf.Patch, exc: ManifestError) -> None:
    msg = "; ".join(f"{p}: {r}" for p, r in exc.errors)
    gen = body["metadata"].get("generation")
    conds = body.get("status", {}).get("conditions")
    conds = set_condition(conds, "Reconciled", False, "InvalidSpec", msg, gen)
    conds = set_condition(conds, "Ready", False, "InvalidSpec", "not reconciled", gen)
    patch.status["conditions"] = conds
    patch.status["observedGeneration"] = gen
    kopf.warn(body, reason="InvalidSpec", message=msg[:1000])


@kopf.on.resume(GROUP, VERSION, "homes")
@kopf.on.create(GROUP, VERSION, "homes")
@kopf.on.update(GROUP, VERSION, "homes")
def reconcile_home(body: kopf.Body, patch: kopf.Patch, name: str, namespace: str,
                   old: Any = None, new: Any = None, **_: Any) -> None:
    """Home → ConfigMap, Secret, router Deployment + Service, one Deployment per device,
    clock, ledger; all adopted (owned by the Home)."""
    try:
        home = parse_home(_manifest(body, "Home"), f"Home {namespace}/{name}")
    except ManifestError as exc:
        _invalid(body, patch, exc)
        return
    opts = options()  # a bad operator setting is an error of the operator, retried by kopf
    key = home_key(namespace, name) or new_home_key()  # kept for the Home's lifetime
    try:
        objs = render_home(home, namespace, opts, key)
    except ValueError as exc:  # e.g. a name that is no WAMP realm; never holds a secret
        _invalid(body, patch, ManifestError([("metadata.name", str(exc))],
                                            f"Home {namespace}/{name}"))
        return
    kopf.adopt(objs, owner=body)
    result = kube().apply_all(objs)
    stale = kube().prune(namespace, {"homesim.io/home": name},
                         {o["metadata"]["name"] for o in objs})
    gen = body["metadata"].get("generation")
    conds = set_condition(body.get("status", {}).get("conditions"), "Reconciled", True,
                          "Applied", f"{len(objs)} objects applied "
                          f"({result['created']} created, {result['updated']} updated, "
                          f"{len(stale)} removed)", gen)
    ready, total = kube().devices_ready(namespace, name)
    conds = set_condition(conds, "Ready", ready == total and total > 0,
                          "DevicesReady" if ready == total else "DevicesNotReady",
                          f"{ready}/{total} device Deployments ready", gen)
    patch.status.update({"conditions": conds, "observedGeneration": gen,
                         "devices": f"{ready}/{total}", "devicesReady": ready,
                         "devicesTotal": total})
    if result["created"] or result["updated"] or stale:
        kopf.info(body, reason="Reconciled",
                  message=f"created {result['created']}, updated {result['updated']}, "
                          f"removed {len(stale)}")
    if old and new and old.get("spec") and new.get("spec"):
        _push_live(body, old["spec"], new["spec"], namespace, name)


def _push_live(body: kopf.Body, old: dict[str, Any], new: dict[str, Any], namespace: str,
               name: str) -> None:
    """Send changed live properties to the running devices over WAMP (best effort)."""
    from homesim.operator.wamp import push

    try:
        changes = live_changes(HomeSpec.model_validate(dict(old)),
                               HomeSpec.model_validate(dict(new)))
    except Exception:  # noqa: BLE001 - the old spec may predate a schema change
        return
    if not changes:
        return
    secret = operator_secret(namespace, name)
    if secret is None:
        return
    ok, failed = push(changes, router_url(name, namespace), name, OPERATOR_AUTHID, secret)
    if ok:
        kopf.info(body, reason="LiveUpdate",
                  message=", ".join(f"{d}.{p}" for d, p, _ in ok) + " set over WAMP")
    if failed:
        kopf.warn(body, reason="LiveUpdateFailed",
                  message="not reachable over WAMP (devices read the new ConfigMap when they "
                          "restart): " + ", ".join(f"{d}.{p}" for d, p, _ in failed))


@kopf.timer(GROUP, VERSION, "homes", interval=15, idle=5)
def refresh_ready(body: kopf.Body, patch: kopf.Patch, name: str, namespace: str,
                  **_: Any) -> None:
    """Keep the Ready condition, the devices column and the sim-time column true.

    Sim time is read from the home's clock over WAMP (a coarse progress indicator, every
    15 s); power, SoC and other telemetry stay on the bus and in Prometheus."""
    from datetime import UTC, datetime

    from homesim.operator.wamp import clock_status, reachable

    ready, total = kube().devices_ready(namespace, name)
    status = body.get("status", {})
    url = router_url(name, namespace)
    secret = operator_secret(namespace, name) if reachable(url) else None
    st = clock_status(url, name, OPERATOR_AUTHID, secret) if secret else None
    if st is not None:
        t = datetime.fromtimestamp(float(st["sim_time"]), UTC).strftime("%Y-%m-%dT%H:%MZ")
        if t != status.get("simTime"):
            patch.status["simTime"] = t
    if status.get("devicesReady") == ready and status.get("devicesTotal") == total:
        return
    gen = body["metadata"].get("generation")
    patch.status["conditions"] = set_condition(
        status.get("conditions"), "Ready", ready == total and total > 0,
        "DevicesReady" if ready == total else "DevicesNotReady",
        f"{ready}/{total} device Deployments ready", gen)
    patch.status.update({"devices": f"{ready}/{total}", "devicesReady": ready,
                         "devicesTotal": total})


@kopf.on.resume(GROUP, VERSION, "blocks")
@kopf.on.create(GROUP, VERSION, "blocks")
@kopf.on.update(GROUP, VERSION, "blocks")
def reconcile_block(body: kopf.Body, patch: kopf.Patch, name: str, namespace: str,
                    **_: Any) -> None:
    """Block → its building as one child Home (same name), adopted."""
    gen = body["metadata"].get("generation")
    try:
        block = Block.model_validate(_manifest(body, "Block"))
    except Exception as exc:  # noqa: BLE001 - pydantic ValidationError
        from pydantic import ValidationError

        from homesim.schemas.manifest import validation_errors

        errs = validation_errors(exc) if isinstance(exc, ValidationError) else [("", str(exc))]
        _invalid(body, patch, ManifestError(errs, f"Block {namespace}/{name}"))
        return
    homes = render_block_homes(block, namespace)
    kopf.adopt(homes, owner=body)
    result = kube().apply_all(homes)
    names = [h["metadata"]["name"] for h in homes]
    stale = kube().prune_homes(namespace, name, set(names))
    conds = set_condition(body.get("status", {}).get("conditions"), "Reconciled", True,
                          "Applied", f"{len(homes)} Homes applied, {len(stale)} removed", gen)
    conds = set_condition(conds, "Ready", "Unknown", "SeeHomes",
                          "readiness is reported by each child Home", gen)
    patch.status.update({"conditions": conds, "observedGeneration": gen, "children": names,
                         "devices": f"{len(names)} homes"})
    if result["created"] or result["updated"] or stale:
        kopf.info(body, reason="Reconciled",
                  message=f"homes created {result['created']}, updated {result['updated']}, "
                          f"removed {len(stale)}")


@kopf.on.probe(id="homes")
def probe(**_: Any) -> str:
    return "ok"
