"""The Helm chart, installed with a real Helm (v4 library via helm-sdkpy) into the real API
server; then the operator runs with the chart's ServiceAccount token (least-privilege RBAC)
and reconciles examples/home.yaml."""

from __future__ import annotations

import asyncio
import base64
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
    with pytest.raises(Exception, match="(?i)schema|wsPort|additional"):
        asyncio.run(helm.Install(cfg).run("bad", str(CHART), values={"router": {"wsPort": 0}},
                                          wait=False))


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
    assert cluster.get("service", "hs-router", "-n", namespace)["spec"]["ports"][1]["port"] \
        == 8081
    dashboards = cluster.get("configmaps", "-n", namespace, "-l", "grafana_dashboard=1")["items"]
    assert sorted(next(iter(d["data"])) for d in dashboards) == [
        "homesim-block.json", "homesim-home.json", "homesim-system.json"]
    role = cluster.get("clusterrole", "hs-operator")
    for rule in role["rules"]:
        assert "*" not in rule["verbs"] and "*" not in rule["resources"], rule
    assert not any("secrets" in r["resources"] for r in role["rules"])

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
    env = dict(os.environ, KUBECONFIG=str(kc), HOMESIM_ROUTER_URL="rs://127.0.0.1:9",
               HOMESIM_REALMS_CONFIGMAP=next(e["value"] for e in c["env"]
                                             if e["name"] == "HOMESIM_REALMS_CONFIGMAP"))
    with open(log, "wb") as fh:
        op = subprocess.Popen([sys.executable, "-m", "kopf", "run", "--standalone",
                               "--all-namespaces", "-m", "homesim.operator.handlers"],
                              stdout=fh, stderr=subprocess.STDOUT, env=env, cwd="/",
                              start_new_session=True)
    try:
        cluster.kubectl("apply", "-n", namespace, "-f", str(ROOT / "examples" / "home.yaml"))
        wait_for(lambda: len(cluster.get("deployments", "-n", namespace, "-l",
                                         "homesim.io/home=greensboro")["items"]) == 9,
                 90, "device deployments via chart RBAC", log)
        home = wait_for(lambda: (h := cluster.get("home", "greensboro", "-n", namespace))
                        .get("status", {}).get("conditions") and h, 60, "status", log)
        assert any(x["type"] == "Reconciled" and x["status"] == "True"
                   for x in home["status"]["conditions"])
        assert "Forbidden" not in log.read_text()
        realms = cluster.get("configmap", "hs-router-realms", "-n", namespace)
        assert realms["data"]["realms"].split() == ["greensboro"]  # the router's realm list
    finally:
        os.killpg(op.pid, signal.SIGTERM)
        op.wait(timeout=30)
