"""The operator's Kubernetes access: create-or-patch children, prune, readiness, the home key.

Secrets are never logged: errors name the Secret, never its data.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from kubernetes import client, config
from kubernetes.client.rest import ApiException

GROUP, VERSION = "homesim.io", "v1alpha1"


class Kube:
    """One API client for the operator (in-cluster config, else the kubeconfig)."""

    def __init__(self) -> None:
        try:
            config.load_incluster_config()
        except config.ConfigException:
            config.load_kube_config()
        api = client.ApiClient()
        self.core = client.CoreV1Api(api)
        self.apps = client.AppsV1Api(api)
        self.custom = client.CustomObjectsApi(api)

    # ------------------------------------------------------------------ apply
    def apply(self, obj: dict[str, Any]) -> str:
        """Create ``obj``, or patch it if it exists (a Secret: replace it if it differs);
        return ``created``, ``updated`` or ``unchanged`` (a Secret as it should be).

        Raises ValueError for a kind it does not handle, ``ApiException`` from the API."""
        kind, ns, name = obj["kind"], obj["metadata"]["namespace"], obj["metadata"]["name"]
        if kind == "ConfigMap":
            create, patch = self.core.create_namespaced_config_map, \
                self.core.patch_namespaced_config_map
        elif kind == "Secret":
            return self._apply_secret(obj)
        elif kind == "Service":
            create, patch = self.core.create_namespaced_service, \
                self.core.patch_namespaced_service
        elif kind == "Deployment":
            create, patch = self.apps.create_namespaced_deployment, \
                self.apps.patch_namespaced_deployment
        elif kind == "PersistentVolumeClaim":  # its spec is immutable: create it once
            try:
                self.core.create_namespaced_persistent_volume_claim(namespace=ns, body=obj)
                return "created"
            except ApiException as exc:
                if exc.status != 409:
                    raise
                return "unchanged"
        elif kind == "Home":
            def create(namespace: str, body: dict[str, Any]) -> Any:
                return self.custom.create_namespaced_custom_object(
                    GROUP, VERSION, namespace, "homes", body)

            def patch(name: str, namespace: str, body: dict[str, Any]) -> Any:
                return self.custom.patch_namespaced_custom_object(
                    GROUP, VERSION, namespace, "homes", name, body)
        else:
            raise ValueError(f"cannot apply a {kind}")
        try:
            create(namespace=ns, body=obj)
            return "created"
        except ApiException as exc:
            if exc.status != 409:
                raise
        patch(name=name, namespace=ns, body=obj)
        return "updated"

    def _apply_secret(self, obj: dict[str, Any]) -> str:
        """Create the Secret, or replace it if its data, type or labels differ (a replace,
        not a merge patch: keys of identities that are gone must go too); ``unchanged``
        when it is already so (no write, same resourceVersion)."""
        ns, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
        try:
            self.core.create_namespaced_secret(namespace=ns, body=obj)
            return "created"
        except ApiException as exc:
            if exc.status != 409:
                raise
        cur = self.core.read_namespaced_secret(name, ns)
        labels = obj["metadata"].get("labels") or {}
        if ((cur.data or {}) == obj.get("data", {}) and cur.type == obj.get("type", "Opaque")
                and all((cur.metadata.labels or {}).get(k) == v for k, v in labels.items())
                and _owners(cur.metadata.owner_references) == _owners_of(obj)):
            return "unchanged"
        body = {**obj, "metadata": {**obj["metadata"],
                                    "resourceVersion": cur.metadata.resource_version}}
        self.core.replace_namespaced_secret(name, ns, body)
        return "updated"

    def apply_all(self, objs: list[dict[str, Any]]) -> dict[str, int]:
        """Apply every object; counts of ``created``, ``updated`` and ``unchanged``.

        Raises as :meth:`apply` (the objects before the failing one stay applied)."""
        out = {"created": 0, "updated": 0, "unchanged": 0}
        for o in objs:
            out[self.apply(o)] += 1
        return out

    # ------------------------------------------------------------------ secrets
    def home_key(self, namespace: str, name: str, key: str = "home-key") -> str | None:
        """The home key stored in Secret ``namespace/name`` (key ``key``), or None if the
        Secret or the key is not there (or not valid base64 text).

        Raises ``ApiException`` for any error but 404 (e.g. 403 without RBAC for secrets).
        """
        try:
            sec = self.core.read_namespaced_secret(name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        raw = (sec.data or {}).get(key)
        if not raw:
            return None
        try:
            value = base64.b64decode(raw, validate=True).decode().strip()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return value or None

    # ------------------------------------------------------------------ prune
    def prune(self, namespace: str, labels: dict[str, str], keep: set[str]) -> list[str]:
        """Delete Deployments, ConfigMaps, Services and Secrets with ``labels`` that are not
        named in ``keep``; the names deleted. Raises ``ApiException`` from the API."""
        sel = ",".join(f"{k}={v}" for k, v in labels.items())
        gone = []
        kinds = [(self.apps.list_namespaced_deployment, self.apps.delete_namespaced_deployment),
                 (self.core.list_namespaced_config_map, self.core.delete_namespaced_config_map),
                 (self.core.list_namespaced_service, self.core.delete_namespaced_service),
                 (self.core.list_namespaced_secret, self.core.delete_namespaced_secret)]
        for list_, delete in kinds:
            for o in list_(namespace, label_selector=sel).items:
                if o.metadata.name not in keep:
                    delete(o.metadata.name, namespace)
                    gone.append(o.metadata.name)
        return gone

    def prune_homes(self, namespace: str, block: str, keep: set[str]) -> list[str]:
        items = self.custom.list_namespaced_custom_object(
            GROUP, VERSION, namespace, "homes", label_selector=f"homesim.io/block={block}")
        gone = []
        for h in items.get("items", []):
            n = h["metadata"]["name"]
            if n not in keep:
                self.custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, "homes", n)
                gone.append(n)
        return gone

    # ------------------------------------------------------------------ status
    def devices_ready(self, namespace: str, home: str) -> tuple[int, int]:
        """(ready, total) device Deployments of a Home; a scaled-to-zero device counts as
        neither."""
        sel = f"homesim.io/home={home},app.kubernetes.io/component=device"
        ready = total = 0
        for d in self.apps.list_namespaced_deployment(namespace, label_selector=sel).items:
            want = d.spec.replicas or 0
            if want == 0:
                continue
            total += 1
            if (d.status.ready_replicas or 0) >= want:
                ready += 1
        return ready, total


def _owners(refs: Any) -> list[tuple[str, str]]:
    return sorted((r.kind, r.uid) for r in refs or [])


def _owners_of(obj: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((r["kind"], r["uid"]) for r in obj["metadata"].get("ownerReferences") or [])
