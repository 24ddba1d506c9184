"""The operator's Kubernetes access: create-or-patch children, prune, readiness."""

from __future__ import annotations

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
        """Create ``obj``, or patch it if it exists; return ``created`` or ``updated``."""
        kind, ns, name = obj["kind"], obj["metadata"]["namespace"], obj["metadata"]["name"]
        if kind == "ConfigMap":
            create, patch = self.core.create_namespaced_config_map, \
                self.core.patch_namespaced_config_map
        elif kind == "Deployment":
            create, patch = self.apps.create_namespaced_deployment, \
                self.apps.patch_namespaced_deployment
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

    def apply_all(self, objs: list[dict[str, Any]]) -> dict[str, int]:
        out = {"created": 0, "updated": 0}
        for o in objs:
            out[self.apply(o)] += 1
        return out

    # ------------------------------------------------------------------ prune
    def prune(self, namespace: str, labels: dict[str, str], keep: set[str]) -> list[str]:
        """Delete Deployments/ConfigMaps with ``labels`` not named in ``keep``."""
        sel = ",".join(f"{k}={v}" for k, v in labels.items())
        gone = []
        for d in self.apps.list_namespaced_deployment(namespace, label_selector=sel).items:
            if d.metadata.name not in keep:
                self.apps.delete_namespaced_deployment(d.metadata.name, namespace)
                gone.append(d.metadata.name)
        for c in self.core.list_namespaced_config_map(namespace, label_selector=sel).items:
            if c.metadata.name not in keep:
                self.core.delete_namespaced_config_map(c.metadata.name, namespace)
                gone.append(c.metadata.name)
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

    def ensure_realm(self, namespace: str, name: str, realm: str) -> bool:
        """Make sure ConfigMap ``namespace/name`` (key ``realms``, one per line) lists
        ``realm``; return True if it had to be added."""
        try:
            cm = self.core.read_namespaced_config_map(name, namespace)
        except ApiException as exc:
            if exc.status != 404:
                raise
            self.core.create_namespaced_config_map(namespace, {
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "labels": {
                    "app.kubernetes.io/part-of": "homesim",
                    "app.kubernetes.io/managed-by": "homesim-operator"}},
                "data": {"realms": realm + "\n"}})
            return True
        lines = [x.strip() for x in ((cm.data or {}).get("realms") or "").splitlines()]
        if realm in lines:
            return False
        text = "\n".join([x for x in lines if x] + [realm]) + "\n"
        self.core.patch_namespaced_config_map(name, namespace, {"data": {"realms": text}})
        return True

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
