"""The Helm chart, installed with a real Helm (v4 library via helm-sdkpy) into the real API
server; then the operator runs with the chart's ServiceAccount token (least-privilege RBAC)
and reconciles examples/home.yaml."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
import sys

import pytest
import yaml

from .conftest import ROOT, Cluster, wait_for

CHART = ROOT / "helm" / "homesim"
try:
    import helm_sdkpy as helm
except ImportError:  # ./test --full installs it
    from tests.conftest import missing_tool

    missing_tool("helm-sdkpy is not installed (pip install --ignore-requires-python "
                 "helm-sdkpy==0.1.32)", module_level=True)


def _install(cluster: Cluster, namespace: str) -> dict:
    cfg = helm.Configuration(namespace=namespace, kubeconfig=str(cluster.kubeconfig),
                             insecure_skip_tls_verify=True)
    return asyncio.run(helm.Install(cfg).run("hs", str(CHART), wait=False))


def test_chart_lints():
    res = asyncio.run(helm.Lint(helm.Configuration()).run(str(CHART)))
    assert not res.get("Errors"), res


def test_values_schema_rejects_bad_values(cluster, namespace):
    cfg = helm.Configuration(namespace=namespace, kubeconfig=str(cluster.kubeconfig),
                             insecure_skip_tls_verify=True)
    for bad in ({"auth": {"authenticator": {"procedure": "not a uri"}}},
                {"router": {"wsPort": 8080}}):  # one router per Home now: no chart ports
        with pytest.raises(Exception, match="(?i)schema|procedure|additional|wsPort"):
            asyncio.run(helm.Install(cfg).run("bad", str(CHART), values=bad, wait=False))


def test_authenticator_value_reaches_the_operator(cluster, namespace):
    cfg = helm.Configuration(namespace=namespace, kubeconfig=str(cluster.kubeconfig),
                             insecure_skip_tls_verify=True)
    asyncio.run(helm.Install(cfg).run(
        "authn", str(CHART), wait=False,
        values={"auth": {"authenticator": {"procedure": "com.example.authenticate"}},
                "operator": {"clusterWide": False}, "grafana": {"dashboards": {"enabled": False}}}))
    c = cluster.get("deployment", "authn-operator", "-n", namespace)["spec"]["template"][
        "spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert json.loads(env["HOMESIM_AUTHENTICATOR"]) == {"procedure": "com.example.authenticate"}


def test_chart_has_no_anonymous_role_and_no_shared_router():
    """Every file of the chart (templates, values, schema, NOTES): no anonymous access, no
    namespace-wide router or realm list (every Home has its own router, from the operator)."""
    for path in CHART.rglob("*"):
        if path.is_file() and "crds" not in path.parts:
            text = path.read_text().lower()
            assert "anonymous" not in text, path
            assert "realms" not in text and "homesim_router_url" not in text, path
    assert not (CHART / "templates" / "router.yaml").exists()


def test_helm_install_then_home_reconciles_with_chart_rbac(cluster, crds, namespace, tmp_path):
    _install(cluster, namespace)
    dep = cluster.get("deployment", "hs-operator", "-n", namespace)
    pod = dep["spec"]["template"]["spec"]
    c = pod["containers"][0]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert c["securityContext"] == {"allowPrivilegeEscalation": False,
                                    "readOnlyRootFilesystem": True, "runAsNonRoot": True,
                                    "capabilities": {"drop": ["ALL"]}}
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["HOMESIM_ROUTER_IMAGE"] == "localhost/homesim-router:latest"
    assert json.loads(env["HOMESIM_ROUTER_RESOURCES"])["limits"] == {"memory": "512Mi"}
    assert "HOMESIM_AUTHENTICATOR" not in env  # static secrets unless a procedure is given
    # no shared router: each Home gets its own from the operator
    assert cluster.kubectl("get", "service", "hs-router", "-n", namespace,
                           check=False).returncode != 0
    assert "anonymous" not in json.dumps(cluster.get("all,configmaps", "-n", namespace))
    dashboards = cluster.get("configmaps", "-n", namespace, "-l", "grafana_dashboard=1")["items"]
    assert sorted(next(iter(d["data"])) for d in dashboards) == [
        "homesim-block.json", "homesim-home.json", "homesim-system.json"]
    role = cluster.get("clusterrole", "hs-operator")
    for rule in role["rules"]:
        assert "*" not in rule["verbs"] and "*" not in rule["resources"], rule
    # secrets and services: only what a Home's Secret and router Service need
    grants = {(res, verb) for r in role["rules"] for res in r["resources"] for verb in r["verbs"]
              if res in ("secrets", "services")}
    assert grants == {(res, v) for res in ("secrets", "services") for v in
                      ("get", "list", "watch", "create", "patch", "update", "delete")}
    assert not any(r for r in role["rules"] if {"pods", "nodes", "serviceaccounts", "roles",
                                                  "rolebindings"} & set(r["resources"]))

    # the chart's ServiceAccount token (the token controller of the controller-manager)
    def token() -> str | None:
        sa = cluster.get("serviceaccount", "hs-operator", "-n", namespace)
        if not sa.get("secrets"):
            return None
        sec = cluster.get("secret", sa["secrets"][0]["name"], "-n", namespace)
        return base64.b64decode(sec["data"]["token"]).decode()

    tok = wait_for(token, 60, "service account token")
    admin = yaml.safe_load(cluster.kubeconfig.read_text())
    admin["users"][0]["user"] = {"token": tok}
    kc = tmp_path / "operator-kubeconfig"
    kc.write_text(yaml.safe_dump(admin))
    log = tmp_path / "operator.log"

    # the least-privilege role: secrets yes, pods and nodes no
    def can(*args: str) -> str:
        return subprocess.run(["kubectl", "--kubeconfig", str(kc), "auth", "can-i", *args,
                               "-n", namespace], capture_output=True, text=True,
                              timeout=60).stdout.strip()

    assert can("create", "secrets") == "yes" and can("update", "secrets") == "yes"
    assert can("delete", "services") == "yes"
    assert can("create", "pods") == "no" and can("list", "nodes") == "no"
    env = dict(os.environ, KUBECONFIG=str(kc),
               **{k: v for k, v in
                  ((e["name"], e.get("value")) for e in c["env"])
                  if k.startswith("HOMESIM_") and v is not None})
    with open(log, "wb") as fh:
        op = subprocess.Popen([sys.executable, "-m", "kopf", "run", "--standalone",
                               "--all-namespaces", "-m", "homesim.operator.handlers"],
                              stdout=fh, stderr=subprocess.STDOUT, env=env, cwd="/",
                              start_new_session=True)
    try:
        cluster.kubectl("apply", "-n", namespace, "-f", str(ROOT / "examples" / "home.yaml"))
        wait_for(lambda: len(cluster.get("deployments", "-n", namespace, "-l",
                                         "homesim.io/home=greensboro")["items"]) == 10,
                 90, "device and router deployments via chart RBAC", log)
        wait_for(lambda: cluster.kubectl("get", "secret", "greensboro-wamp", "-n", namespace,
                                         check=False).returncode == 0
                 and cluster.kubectl("get", "service", "greensboro-router", "-n", namespace,
                                     check=False).returncode == 0,
                 60, "Secret and Service via chart RBAC", log)
        home = wait_for(lambda: (h := cluster.get("home", "greensboro", "-n", namespace))
                        .get("status", {}).get("conditions") and h, 60, "status", log)
        assert any(x["type"] == "Reconciled" and x["status"] == "True"
                   for x in home["status"]["conditions"])
        assert "Forbidden" not in log.read_text()
        # the router image and resources the chart gave the operator
        router = cluster.get("deployment", "greensboro-router", "-n", namespace)
        rc = router["spec"]["template"]["spec"]["containers"][0]
        assert rc["image"] == "localhost/homesim-router:latest"
        assert rc["resources"] == {"requests": {"cpu": "50m", "memory": "256Mi"},
                                   "limits": {"memory": "512Mi"}}
    finally:
        os.killpg(op.pid, signal.SIGTERM)
        op.wait(timeout=30)
