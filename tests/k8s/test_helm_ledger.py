"""The chart's ``ledger.dsnSecret`` value, installed with a real Helm into the real API server:
the operator gets the Secret's name and key (never a DSN); a bad value is refused."""

from __future__ import annotations

import asyncio

import pytest

from .conftest import ROOT, Cluster

CHART = ROOT / "helm" / "homesim"
try:
    import helm_sdkpy as helm
except ImportError:  # ./test --full installs it
    from tests.conftest import missing_tool

    missing_tool("helm-sdkpy is not installed (pip install --ignore-requires-python "
                 "helm-sdkpy==0.1.32)", module_level=True)


def _install(cluster: Cluster, namespace: str, release: str, values: dict) -> None:
    cfg = helm.Configuration(namespace=namespace, kubeconfig=str(cluster.kubeconfig),
                             insecure_skip_tls_verify=True)
    asyncio.run(helm.Install(cfg).run(
        release, str(CHART), wait=False,
        values={"operator": {"clusterWide": False}, "grafana": {"dashboards": {"enabled": False}},
                **values}))


def test_ledger_dsn_secret_reaches_the_operator(cluster, namespace):
    _install(cluster, namespace, "pgled",
             {"ledger": {"dsnSecret": {"name": "homes-ledger", "key": "url"}}})
    c = cluster.get("deployment", "pgled-operator", "-n", namespace)["spec"]["template"][
        "spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["HOMESIM_LEDGER_DSN_SECRET"] == "homes-ledger/url"
    assert "HOMESIM_LEDGER_DSN" not in env


def test_without_the_value_the_operator_keeps_sqlite(cluster, namespace):
    _install(cluster, namespace, "sqled", {})
    c = cluster.get("deployment", "sqled-operator", "-n", namespace)["spec"]["template"][
        "spec"]["containers"][0]
    assert "HOMESIM_LEDGER_DSN_SECRET" not in {e["name"] for e in c["env"]}


def test_a_bad_secret_name_is_refused(cluster, namespace):
    with pytest.raises(Exception, match="dsnSecret"):
        _install(cluster, namespace, "badled",
                 {"ledger": {"dsnSecret": {"name": "Not A Name", "key": "dsn"}}})
