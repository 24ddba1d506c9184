"""The Kubernetes objects rendered for examples/home.yaml really run as containers.

`podman kube play` runs what `homesim.operator.render.render_home` gives (ConfigMap + one
Deployment per device, clock and ledger) on the images of `infra/images/build.sh`, plus a router
Deployment (`localhost/homesim-router`, realm `greensboro` from a realms ConfigMap). Every device
is its own container in its own pod and talks to the router container over the pod network;
the ledger container books the packets.

What the test changes in the rendered objects, and why (podman 4.3 is not a kubelet):

* **Networking.** podman ignores Services, so ``homesim-router`` does not resolve. All pods join
  one user-defined podman network, whose DNS (aardvark-dns) resolves every pod by its pod name
  (Deployment ``X`` becomes pod ``X-pod-0``). The router is played first and the devices get
  ``router_url=rs://<router pod>:8081``. No ``hostNetwork``: pod-to-pod traffic is real.
* **emptyDir.** podman 4.3 turns ``emptyDir`` volumes into *named* volumes shared by every pod
  that uses the same volume name (``tmp`` in all pods). Each pod's emptyDir volumes are renamed
  ``<deployment>-<volume>`` (pod-local names in Kubernetes, so nothing else changes) to get
  Kubernetes' one-volume-per-pod semantics and volumes this test can remove.
* **containerPort.** podman 4.3 publishes every declared ``containerPort`` on the host, so the
  ``metrics`` port 9100 that every rendered pod declares would collide; the test drops them.
* **Seeing the run end.** Rendered pods idle when the run is over (``HOMESIM_AFTER_FINISH=idle``:
  a Deployment restarts containers that exit, which would start the run again). Here they are
  switched to ``exit`` with ``restartPolicy: OnFailure`` (failures, e.g. a router not up yet,
  are still retried), so the test can wait for every container to end with 0.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import missing_tool

pytestmark = [pytest.mark.integration, pytest.mark.podman, pytest.mark.timeout(2400)]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "home.yaml"
BUILD = ROOT / "infra" / "images" / "build.sh"
CACHE = Path(os.environ.get("HOMESIM_CACHE") or Path.home() / ".cache" / "homesim")
CONTAINERS_CONF = CACHE / "podman" / "containers.conf"  # written by build.sh

DEVICE_IMAGE = "localhost/homesim-device:latest"
ROUTER_IMAGE = "localhost/homesim-router:latest"
NETWORK = "homesim-podman-test"
REALM = "greensboro"
RS_PORT = 8081
WS_PORT = 8080
RUN_TIMEOUT = 300  # s: start of every container + a 2-day run (about 15 s here)


# --------------------------------------------------------------------------- podman helpers


def podman(*args: str, check: bool = True, timeout: float = 180,
           stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}
    res = subprocess.run(["podman", *args], capture_output=True, text=True, env=env,
                         timeout=timeout, input=stdin)
    if check and res.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} failed ({res.returncode}):\n"
                             f"{res.stdout[-2000:]}\n{res.stderr[-3000:]}")
    return res


def play(path: Path) -> list[str]:
    """`podman kube play` a file on the test network; the names of the pods it created."""
    out = podman("kube", "play", "--network", NETWORK, str(path), timeout=300).stdout
    ids = re.findall(r"^Pod:\n([0-9a-f]{64})$", out, flags=re.M)
    assert ids, f"podman kube play {path.name} created no pod:\n{out}"
    return [podman("pod", "inspect", "--format", "{{.Name}}", i).stdout.strip() for i in ids]


def containers(pods: list[str]) -> list[dict[str, Any]]:
    """The app containers (no infra containers) of `pods`, with their inspect data."""
    rows = json.loads(podman("ps", "-a", "--pod", "--format", "json").stdout or "[]")
    ids = [r["Id"] for r in rows if r.get("PodName") in pods and not r.get("IsInfra")]
    if not ids:
        return []
    return json.loads(podman("container", "inspect", *ids).stdout)


def volume_names(objs: list[dict[str, Any]]) -> set[str]:
    """Named volumes podman creates for `objs` (emptyDir and configMap volumes)."""
    names = set()
    for o in objs:
        if o["kind"] != "Deployment":
            continue
        for v in o["spec"]["template"]["spec"].get("volumes", []):
            names.add(v["configMap"]["name"] if "configMap" in v else v["name"])
    return names


def for_podman(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Adapt Kubernetes objects to podman 4.3 (see the module docstring); returns copies."""
    out = json.loads(json.dumps(objs))
    for o in out:
        if o["kind"] != "Deployment":
            continue
        spec = o["spec"]["template"]["spec"]
        spec["restartPolicy"] = "OnFailure"
        for c in spec["containers"]:
            # podman 4.3 binds every containerPort on the host (all pods declare 9100 for
            # metrics): in Kubernetes containerPort is informational, so drop it here
            c.pop("ports", None)
        for c in spec["containers"]:  # rendered: idle after the run; here: exit to see it end
            for e in c.get("env", []):
                if e["name"] == "HOMESIM_AFTER_FINISH":
                    e["value"] = "exit"
        renamed = {}
        for v in spec.get("volumes", []):
            if "emptyDir" in v:
                renamed[v["name"]] = v["name"] = f"{o['metadata']['name']}-{v['name']}"
        for c in spec["containers"]:
            for m in c.get("volumeMounts", []):
                m["name"] = renamed.get(m["name"], m["name"])
    return out


def router_objects() -> list[dict[str, Any]]:
    """The router as the chart runs it, plus a realms ConfigMap listing `REALM`."""
    labels = {"app.kubernetes.io/name": "homesim", "app.kubernetes.io/component": "router"}
    security = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                "runAsNonRoot": True, "runAsUser": 10001, "capabilities": {"drop": ["ALL"]}}
    cm = {"apiVersion": "v1", "kind": "ConfigMap",
          "metadata": {"name": "homesim-router-realms", "labels": labels},
          "data": {"realms": f"# one realm per line\n{REALM}\n"}}
    deploy = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "homesim-router", "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "securityContext": {"runAsNonRoot": True,
                                        "seccompProfile": {"type": "RuntimeDefault"}},
                    "automountServiceAccountToken": False,
                    "containers": [{
                        "name": "router",
                        "image": ROUTER_IMAGE,
                        "imagePullPolicy": "IfNotPresent",
                        "env": [{"name": "HOMESIM_WS_PORT", "value": str(WS_PORT)},
                                {"name": "HOMESIM_RS_PORT", "value": str(RS_PORT)}],
                        "ports": [{"name": "ws", "containerPort": WS_PORT},
                                  {"name": "rawsocket", "containerPort": RS_PORT}],
                        "securityContext": security,
                        "volumeMounts": [
                            {"name": "cbdir", "mountPath": "/var/lib/crossbar"},
                            {"name": "tmp", "mountPath": "/tmp"},
                            {"name": "realms", "mountPath": "/etc/homesim-router",
                             "readOnly": True}],
                    }],
                    "volumes": [{"name": "cbdir", "emptyDir": {}},
                                {"name": "tmp", "emptyDir": {}},
                                {"name": "realms",
                                 "configMap": {"name": "homesim-router-realms"}}],
                },
            },
        },
    }
    return [cm, deploy]


def write_yaml(path: Path, objs: list[dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump_all(objs, sort_keys=False))
    return path


def logs(name: str, tail: int = 40) -> str:
    res = podman("logs", "--tail", str(tail), name, check=False)
    return (res.stdout + res.stderr).strip()


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def images() -> dict[str, float]:
    """Build (or reuse, layer cache) the images with infra/images/build.sh; its timings."""
    if shutil.which("podman") is None:
        missing_tool("podman is not installed (apt-get install podman runc debootstrap)")
    t0 = time.monotonic()
    res = subprocess.run(["bash", str(BUILD), "device", "router"], capture_output=True,
                         text=True, timeout=1800)
    if res.returncode != 0:
        raise AssertionError(f"infra/images/build.sh failed ({res.returncode}):\n"
                             f"{res.stdout[-2000:]}\n{res.stderr[-4000:]}")
    return {"build_seconds": time.monotonic() - t0}


# --------------------------------------------------------------------------- the test


def test_rendered_home_runs_under_podman_kube_play(images: dict[str, float],
                                                   tmp_path: Path) -> None:
    """Each device is a container of its own; packets cross the router; the ledger fills."""
    from homesim.infra.supervisor import RunOptions, prepare_home
    from homesim.operator.render import RenderOptions, render_home
    from homesim.schemas.manifest import load_manifest

    home = prepare_home(load_manifest(EXAMPLE), RunOptions(until="2d"))  # location resolved
    assert home.metadata.name == REALM
    kinds = {d.name: d.kind for d in home.spec.enabled()}

    def home_objects(router_url: str) -> list[dict[str, Any]]:
        return for_podman(render_home(home, None, RenderOptions(image=DEVICE_IMAGE,
                                                                router_url=router_url)))

    router_objs = for_podman(router_objects())
    router_file = write_yaml(tmp_path / "router.yaml", router_objs)
    home_file = write_yaml(tmp_path / "home.yaml", home_objects("rs://placeholder:1"))
    volumes = volume_names(router_objs) | volume_names(home_objects("rs://placeholder:1"))
    t0 = time.monotonic()
    try:
        # leftovers of an interrupted earlier run would be reused by podman: start clean
        _down(router_file, home_file, volumes)
        podman("network", "create", NETWORK)

        router_pod, = play(router_file)
        home_objs = home_objects(f"rs://{router_pod}:{RS_PORT}")
        write_yaml(home_file, home_objs)
        pods = play(home_file)
        t_play = time.monotonic() - t0
        # a pod's address is its infra container's, gone once the pod has stopped: read it now
        # (the processes take seconds to import numpy/pandas/pvlib before connecting)
        pod_ips = {pod: _pod_ip(pod) for pod in pods}
        assert len(set(pod_ips.values())) == len(pods) and "" not in pod_ips.values(), pod_ips

        deployments = [o for o in home_objs if o["kind"] == "Deployment"]
        assert len(pods) == len(deployments) == len(kinds) + 2  # devices, clock, ledger

        # wait for the run to finish: every home container exited (OnFailure: exit 0 stays)
        deadline = time.monotonic() + RUN_TIMEOUT
        while True:
            ctrs = containers(pods)
            states = {c["Name"]: (c["State"]["Status"], c["State"]["ExitCode"]) for c in ctrs}
            if len(ctrs) == len(pods) and all(s == ("exited", 0) for s in states.values()):
                break
            if time.monotonic() > deadline:
                details = "\n\n".join(f"--- {n} {s}\n{logs(n)}" for n, s in states.items())
                raise AssertionError(f"the run did not finish within {RUN_TIMEOUT} s: "
                                     f"{states}\n{details}\n--- router\n"
                                     f"{logs(_router_container(router_pod))}")
            time.sleep(1)
        t_run = time.monotonic() - t0

        # each device, the clock and the ledger: one container, in a pod of its own, from the
        # one device image, started with its kind and name
        by_pod = {c["Pod"]: c for c in ctrs}
        assert len(by_pod) == len(ctrs) == len(pods)
        started = {}
        for c in ctrs:
            assert c["ImageName"] == DEVICE_IMAGE, c["ImageName"]
            args = c["Config"]["Cmd"]  # the container's `args` (the entrypoint is the image's)
            started[args[args.index("--device") + 1]] = args[0]
            assert c["Config"]["User"] == "10001"
            assert c["HostConfig"]["ReadonlyRootfs"], c["Name"]
        assert started == {**kinds, "clock": "clock", "ledger": "ledger"}

        # the clock finished the run
        clock = next(c["Name"] for c in ctrs if c["Config"]["Cmd"][0] == "clock")
        finished = [json.loads(line) for line in podman("logs", clock).stdout.splitlines()
                    if line.startswith("{") and '"finished"' in line]
        assert finished and finished[-1]["ok"], logs(clock)

        # the ledger's database and summary, copied out of its (stopped) container
        ledger = next(c["Name"] for c in ctrs if c["Config"]["Cmd"][0] == "ledger")
        (tmp_path / "ledger").mkdir()
        podman("cp", f"{ledger}:/var/lib/homesim/.", f"{tmp_path / 'ledger'}/")
        summary = json.loads((tmp_path / "ledger" / "summary.json").read_text())
        with contextlib.closing(sqlite3.connect(tmp_path / "ledger" / "ledger.sqlite")) as db:
            windows = db.execute("SELECT count(*) FROM settled_window").fetchone()[0]
            flows = dict(((s, k), (n, j)) for s, k, n, j in db.execute(
                "SELECT source, sink, count(*), sum(joules) FROM packet GROUP BY source, sink"))
        assert windows == 2  # two simulated days at speed max: one window per day
        assert summary["complete"] and summary["windows"] == 2 and summary["ticks"] == 2880
        for pair in [("sun", "pv-south"), ("pv-south", "inverter"), ("inverter", "house")]:
            count, joules = flows.get(pair, (0, 0.0))
            assert count > 0 and joules > 0, f"no energy {pair}: {sorted(flows)}"
        assert any(s == "grid" or k == "grid" for s, k in flows), sorted(flows)
        assert any(s == "battery" or k == "battery" for s, k in flows), sorted(flows)
        assert summary["conservation"]["relative_residual"] < 1e-9

        # and every one of them reached the router container over the pod network
        router = json.loads(podman("container", "inspect",
                                   _router_container(router_pod)).stdout)[0]
        assert router["Config"]["User"] == "10001" and router["HostConfig"]["ReadonlyRootfs"]
        assert router["State"]["Status"] == "running"
        res = podman("logs", _router_container(router_pod))
        router_log = res.stdout + res.stderr
        assert f"realms: {REALM} " in router_log
        peers = set(re.findall(r"'x_cb_peer': 'tcp4:([\d.]+):\d+'", router_log))
        ips = set(pod_ips.values())
        assert ips <= peers, f"pods {sorted(ips)} not all seen by the router: {sorted(peers)}"

        print(f"\npodman: build {images['build_seconds']:.1f} s, play {t_play:.1f} s, "
              f"run finished {t_run:.1f} s after start; {windows} windows, "
              f"{sum(n for n, _ in flows.values())} packets, {len(flows)} flows")
    finally:
        _down(router_file, home_file, volumes)
    leftovers = [v for v in volumes if podman("volume", "exists", v, check=False).returncode == 0]
    assert not leftovers, f"volumes left behind: {leftovers}"
    assert podman("network", "exists", NETWORK, check=False).returncode != 0


def _pod_ip(pod: str) -> str:
    infra = podman("pod", "inspect", "--format", "{{.InfraContainerID}}", pod).stdout.strip()
    net = json.loads(podman("container", "inspect", infra).stdout)[0]["NetworkSettings"]
    return net["Networks"][NETWORK]["IPAddress"]


def _router_container(pod: str) -> str:
    rows = json.loads(podman("ps", "-a", "--pod", "--format", "json").stdout or "[]")
    return next(r["Names"][0] for r in rows if r.get("PodName") == pod and not r.get("IsInfra"))


def _down(router_file: Path, home_file: Path, volumes: set[str]) -> None:
    """Remove everything the test plays (idempotent; also the leftovers of an earlier run)."""
    for path in (home_file, router_file):
        podman("kube", "down", str(path), check=False, timeout=120)
    for v in sorted(volumes):
        podman("volume", "rm", "--force", v, check=False)
    podman("network", "rm", "--force", NETWORK, check=False)
