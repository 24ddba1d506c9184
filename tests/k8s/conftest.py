"""A real kube-apiserver + controller-manager (built from Debian's source, cached) for tests.

The session fixture builds the binaries once (infra/k8s/build-apiserver.sh, ~8 min the first
time, then cached under ~/.cache/homesim/k8s), starts etcd, the API server and the
controller-manager on free loopback ports, and stops them at the end.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "infra" / "k8s"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/k8s" in str(item.fspath):
            item.add_marker(pytest.mark.integration)
            item.add_marker(pytest.mark.k8s)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Cluster:
    kubeconfig: Path
    state: Path

    def env(self) -> dict[str, str]:
        return dict(os.environ, KUBECONFIG=str(self.kubeconfig))

    def kubectl(self, *args: str, check: bool = True, input: str | None = None,
                timeout: float = 60) -> subprocess.CompletedProcess:
        res = subprocess.run(["kubectl", "--kubeconfig", str(self.kubeconfig), *args],
                             capture_output=True, text=True, input=input, timeout=timeout)
        if check and res.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{res.stderr}")
        return res

    def get(self, *args: str) -> Any:
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    subprocess.run(["bash", str(K8S / "build-apiserver.sh")], check=True,
                   stdout=subprocess.DEVNULL)
    state = tmp_path_factory.mktemp("k8s")
    env = dict(os.environ, API_PORT=str(_free_port()), ETCD_PORT=str(_free_port()),
               PEER_PORT=str(_free_port()))
    res = subprocess.run(["bash", str(K8S / "start-cluster.sh"), str(state)], env=env,
                         capture_output=True, text=True, timeout=300)
    if res.returncode != 0:
        subprocess.run(["bash", str(K8S / "stop-cluster.sh"), str(state)])
        raise RuntimeError(f"cluster did not start:\n{res.stdout}\n{res.stderr}")
    c = Cluster(Path(res.stdout.strip().splitlines()[-1]), state)
    try:
        yield c
    finally:
        subprocess.run(["bash", str(K8S / "stop-cluster.sh"), str(state)])


@pytest.fixture(scope="session")
def crds(cluster: Cluster) -> Cluster:
    cluster.kubectl("apply", "-f", str(ROOT / "helm" / "homesim" / "crds"))
    # kubectl 1.20's wait fails at once ("status.conditions accessor error: <nil>") when the
    # API server has not written the CRD's status yet (seen under load): ask again
    deadline = time.monotonic() + 120
    while True:
        res = cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s",
                              "crd/homes.homesim.io", "crd/blocks.homesim.io", check=False)
        if res.returncode == 0:
            return cluster
        if "accessor error" not in res.stderr or time.monotonic() > deadline:
            raise AssertionError(f"the CRDs are not established:\n{res.stderr}")
        time.sleep(1)


@pytest.fixture
def namespace(crds: Cluster) -> Iterator[str]:
    ns = f"t-{uuid.uuid4().hex[:8]}"
    crds.kubectl("create", "namespace", ns)
    yield ns
    crds.kubectl("delete", "namespace", ns, "--wait=false", check=False)


class Operator:
    """The operator as a real process (kopf run), restartable."""

    def __init__(self, cluster: Cluster, namespace: str, log: Path) -> None:
        self.cluster, self.namespace, self.log = cluster, namespace, log
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        fh = open(self.log, "ab")  # noqa: SIM115
        env = self.cluster.env()
        # no kubelet, so no router ever runs: the operator's clock-status timer finds no
        # <home>-router.<namespace> (no cluster DNS either) and leaves the status alone
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kopf", "run", "--standalone", "--namespace",
             self.namespace, "-m", "homesim.operator.handlers"],
            stdout=fh, stderr=subprocess.STDOUT, env=env, cwd="/", start_new_session=True)
        fh.close()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@pytest.fixture
def operator(cluster: Cluster, namespace: str, tmp_path: Path) -> Iterator[Operator]:
    op = Operator(cluster, namespace, tmp_path / "operator.log")
    op.start()
    try:
        yield op
    finally:
        op.stop()


def wait_for(pred: Any, timeout: float = 60, what: str = "condition",
             log: Path | None = None) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(0.5)
    extra = f"\noperator log:\n{log.read_text()[-4000:]}" if log and log.exists() else ""
    raise AssertionError(f"timed out waiting for {what} (last: {last!r}){extra}")
