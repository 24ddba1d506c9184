"""The Kubernetes objects rendered for two Homes really run as containers, each home with its
own router, and adding the second home leaves the first one's windows running.

`podman kube play` runs what `homesim.operator.render.render_home` gives (ConfigMap, Secret,
router Deployment + Service, one Deployment per device, clock and ledger) on the images of
`infra/images/build.sh`, for home A (``greensboro``, paced, long) and, while A runs, home B
(``greenwood``, a copy of it: 2 days at max). Every device is its own container in its own pod
and talks to its home's router container over the pod network, authenticated with its own
secret; each ledger books its home's packets. The test measures A's window intervals (from
A's ledger, ``settled_window.booked_at``) before, while and after B starts, checks that B's
arrival restarted nothing of A, then speeds A up to finish (the manager's credential, over
WAMP from the host) and checks both ledgers.

What the test changes in the rendered objects, and why (podman 4.3 is not a kubelet):

* **Secrets.** podman 4.3.1 panics on a ``secret`` volume (nil pointer in
  ``kube.VolumeFromSecret``), and its ``configMap`` volumes are *named* volumes shared by every
  pod that uses the same ConfigMap, with ``items`` honoured only for the first pod. So the
  Secret is not played; each pod's ``secret`` volume becomes a ``configMap`` volume of a
  ConfigMap of its own, ``<deployment>-<volume>``, that holds exactly the items the Secret
  volume projects (same paths, decoded values): a device still sees its own secret only, the
  router its ``config.json`` only. podman ignores ``defaultMode`` and ``fsGroup`` here (files
  are 0644 in the volume).
* **Networking.** podman ignores Services (they are not played), so ``<home>-router`` does not
  resolve. All pods join one user-defined podman network, whose DNS (aardvark-dns) resolves
  every pod by its pod name (Deployment ``X`` becomes pod ``X-pod-0``). Each home's router is
  played first and its processes get ``HOMESIM_ROUTER_URL=rs://<router pod>:8081``. No
  ``hostNetwork``: pod-to-pod traffic is real.
* **emptyDir.** podman 4.3 turns ``emptyDir`` volumes into *named* volumes shared by every pod
  that uses the same volume name (``tmp`` in all pods). Each pod's emptyDir volumes are renamed
  ``<deployment>-<volume>`` (pod-local names in Kubernetes, so nothing else changes) to get
  Kubernetes' one-volume-per-pod semantics and volumes this test can remove.
* **containerPort.** podman 4.3 publishes every declared ``containerPort`` on the host, so the
  ``metrics`` port 9100 that every rendered pod declares (and both routers' 8080/8081) would
  collide; the test drops them.
* **Seeing the run end.** Rendered pods idle when the run is over (``HOMESIM_AFTER_FINISH=idle``:
  a Deployment restarts containers that exit, which would start the run again). Here they are
  switched to ``exit`` with ``restartPolicy: OnFailure`` (failures, e.g. a router not up yet,
  are still retried), so the test can wait for every container to end with 0. The routers keep
  running until the end of the test.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from homesim.devices.bus.store import LedgerStore
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
HOME_A, HOME_B = "greensboro", "greenwood"
KEY_A = "podman-test-home-key-a-0123456789abcdefghijk"
KEY_B = "podman-test-home-key-b-0123456789abcdefghijk"
# A: paced (30-minute windows, 0.5 s of wall time each), long enough to outlast B's start and
# run; sped up to max by the manager once measured
SPEED_A, UNTIL_A = "3600x", "14d"
RS_PORT = 8081
RUN_TIMEOUT = 420  # s: start of every container + a 2-day run (about 15 s when idle)
WARMUP_WINDOWS = 20  # A's windows booked before B is played
AFTER_SECONDS = 20.0  # A measured this long after B's run ended


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
            names.add(v["configMap"]["name"] if "configMap" in v
                      else v["persistentVolumeClaim"]["claimName"]
                      if "persistentVolumeClaim" in v else v["name"])
    return names


def for_podman(objs: list[dict[str, Any]], router_url: str | None = None) -> list[dict[str, Any]]:
    """Adapt Kubernetes objects to podman 4.3 (see the module docstring); returns copies.

    ``router_url`` replaces ``HOMESIM_ROUTER_URL`` (the home's processes; None: keep it)."""
    src = json.loads(json.dumps(objs))
    secrets = {o["metadata"]["name"]: {k: base64.b64decode(v).decode()
                                       for k, v in o.get("data", {}).items()}
               for o in src if o["kind"] == "Secret"}
    out: list[dict[str, Any]] = []
    for o in src:
        if o["kind"] in ("Secret", "Service", "PersistentVolumeClaim"):
            continue  # replaced by per-pod ConfigMaps / ignored / a named volume below
        if o["kind"] != "Deployment":
            out.append(o)
            continue
        name = o["metadata"]["name"]
        spec = o["spec"]["template"]["spec"]
        spec["restartPolicy"] = "OnFailure"
        spec.get("securityContext", {}).pop("fsGroup", None)  # not applied by podman 4.3
        for c in spec["containers"]:
            # podman 4.3 binds every containerPort on the host (all pods declare 9100 for
            # metrics): in Kubernetes containerPort is informational, so drop it here
            c.pop("ports", None)
            for e in c.get("env", []):
                if e["name"] == "HOMESIM_AFTER_FINISH":  # rendered: idle; here: exit
                    e["value"] = "exit"
                if e["name"] == "HOMESIM_ROUTER_URL" and router_url:
                    e["value"] = router_url
        renamed = {}
        for v in spec.get("volumes", []):
            if "persistentVolumeClaim" in v:  # a named podman volume of this pod
                del v["persistentVolumeClaim"]
                v["emptyDir"] = {}
            if "emptyDir" in v:
                renamed[v["name"]] = v["name"] = f"{name}-{v['name']}"
            elif "secret" in v:  # a ConfigMap of this pod's own, with the projected items
                sec = v.pop("secret")
                cm = f"{name}-{v['name']}"
                data = {i["path"]: secrets[sec["secretName"]][i["key"]] for i in sec["items"]}
                out.append({"apiVersion": "v1", "kind": "ConfigMap",
                            "metadata": {"name": cm, "labels": o["metadata"]["labels"]},
                            "data": data})
                v["configMap"] = {"name": cm}
        for c in spec["containers"]:
            for m in c.get("volumeMounts", []):
                m["name"] = renamed.get(m["name"], m["name"])
        out.append(o)
    # ConfigMaps first: podman reads them when it creates a pod's volumes
    return sorted(out, key=lambda x: x["kind"] != "ConfigMap")


def split_router(objs: list[dict[str, Any]], home: str) -> tuple[list[dict[str, Any]],
                                                                 list[dict[str, Any]]]:
    """(the router's objects, the rest) of a home's adapted objects."""
    router = f"{home}-router"
    mine = {router, f"{router}-config"}
    return ([o for o in objs if o["metadata"]["name"] in mine],
            [o for o in objs if o["metadata"]["name"] not in mine])


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


class Played:
    """One home played under podman: its files, pods and volumes."""

    def __init__(self, home: Any, key: str, folder: Path) -> None:
        from homesim.operator.render import RenderOptions, render_home

        self.name = home.metadata.name
        self.home = home
        self.rendered = render_home(home, None, RenderOptions(image=DEVICE_IMAGE,
                                                              router_image=ROUTER_IMAGE), key)
        sec = next(o for o in self.rendered if o["kind"] == "Secret")
        self.secrets = {k: base64.b64decode(v).decode() for k, v in sec["data"].items()}
        router, rest = split_router(for_podman(self.rendered), self.name)
        self.router_file = write_yaml(folder / f"{self.name}-router.yaml", router)
        self.home_file = write_yaml(folder / f"{self.name}-home.yaml", rest)
        self.volumes = volume_names(router) | volume_names(rest)
        self.router_pod = ""
        self.pods: list[str] = []

    def play_router(self) -> str:
        self.router_pod, = play(self.router_file)
        return self.router_pod

    def play_home(self) -> list[str]:
        """The processes, pointed at the router pod (played first)."""
        _, rest = split_router(for_podman(self.rendered, f"rs://{self.router_pod}:{RS_PORT}"),
                               self.name)
        write_yaml(self.home_file, rest)
        self.pods = play(self.home_file)
        return self.pods

    def container(self, arg0: str) -> str:
        """The name of the home's container started with ``arg0`` (clock, ledger, a kind)."""
        return next(c["Name"] for c in containers(self.pods) if c["Config"]["Cmd"][0] == arg0)

    def windows(self) -> int:
        """Windows the home's ledger has booked so far (read in the running container)."""
        code = ("import sqlite3; db = sqlite3.connect("
                "'file:/var/lib/homesim/ledger.sqlite?mode=ro', uri=True); "
                "print(db.execute('SELECT count(*) FROM settled_window').fetchone()[0])")
        res = podman("exec", self.container("ledger"), "python", "-c", code, check=False)
        return int(res.stdout.strip()) if res.returncode == 0 and res.stdout.strip() else 0

    def wait_finished(self, timeout: float) -> list[dict[str, Any]]:
        """Every container of the home's processes exited with 0; their inspect data."""
        deadline = time.monotonic() + timeout
        while True:
            ctrs = containers(self.pods)
            states = {c["Name"]: (c["State"]["Status"], c["State"]["ExitCode"]) for c in ctrs}
            if len(ctrs) == len(self.pods) and all(s == ("exited", 0) for s in states.values()):
                return ctrs
            if time.monotonic() > deadline:
                details = "\n\n".join(f"--- {n} {s}\n{logs(n)}" for n, s in states.items())
                raise AssertionError(f"{self.name}: the run did not finish within {timeout} s: "
                                     f"{states}\n{details}\n--- router\n"
                                     f"{logs(_router_container(self.router_pod))}")
            time.sleep(1)

    def down(self) -> None:
        for path in (self.home_file, self.router_file):
            podman("kube", "down", str(path), check=False, timeout=120)
        for v in sorted(self.volumes):
            podman("volume", "rm", "--force", v, check=False)


def starts(pods: list[str]) -> dict[str, tuple[str, int]]:
    """(StartedAt, RestartCount) of every container of `pods` (routers included)."""
    return {c["Name"]: (c["State"]["StartedAt"], c.get("RestartCount", 0))
            for c in containers(pods)}


def intervals(booked: list[float], lo: float, hi: float) -> dict[str, float]:
    """Stats of the intervals between consecutive windows booked in [lo, hi) [s]."""
    gaps = [b - a for a, b in zip(booked, booked[1:], strict=False) if lo <= b < hi]
    if not gaps:
        return {"windows": 0}
    gaps.sort()
    return {"windows": len(gaps), "median": gaps[len(gaps) // 2],
            "p95": gaps[min(len(gaps) - 1, int(0.95 * len(gaps)))], "max": gaps[-1]}


def ledger(name: str, folder: Path) -> tuple[dict[str, Any], list[float],
                                             dict[tuple[str, str], tuple[int, float]]]:
    """(summary, booked_at of every window, flows) copied out of a (stopped) ledger."""
    folder.mkdir()
    podman("cp", f"{name}:/var/lib/homesim/.", f"{folder}/")
    summary = json.loads((folder / "summary.json").read_text())
    flows: dict[tuple[str, str], tuple[int, float]] = {}
    with LedgerStore.open(folder / "ledger.sqlite") as store:  # this tree's store reads it
        booked = [w.booked_at for w in store.settled_windows()]
        for p in store.packets():
            n, j = flows.get((p.source, p.sink), (0, 0.0))
            flows[(p.source, p.sink)] = (n + 1, j + p.joules)
    return summary, booked, flows


def router_memory_mb(pod: str) -> float | None:
    """The router container's memory use as podman reports it (None if it cannot)."""
    res = podman("stats", "--no-stream", "--format", "json", _router_container(pod),
                 check=False, timeout=60)
    try:
        row = json.loads(res.stdout)[0]
        used = row.get("mem_usage") or row.get("MemUsage") or ""
        value, unit = re.match(r"([\d.]+)\s*([kKMG]i?B|B)", used).groups()
    except (ValueError, IndexError, KeyError, AttributeError, TypeError):
        return None
    scale = {"B": 1 / 2**20, "kB": 1e3 / 2**20, "KiB": 1 / 2**10, "KB": 1e3 / 2**20,
             "MB": 1e6 / 2**20, "MiB": 1.0, "GB": 1e9 / 2**20, "GiB": 2**10}
    return float(value) * scale.get(unit, 1.0)


def test_two_rendered_homes_run_under_podman_kube_play(images: dict[str, float],
                                                       tmp_path: Path) -> None:
    """Each device is a container of its own; each home has its own router; packets cross
    it authenticated; both ledgers fill; B's arrival restarts nothing of A."""
    from homesim.infra.supervisor import RunOptions, prepare_home
    from homesim.schemas.manifest import load_manifest

    base = load_manifest(EXAMPLE)
    assert base.metadata.name == HOME_A
    data = base.model_dump(mode="json")
    data["metadata"]["name"] = HOME_B
    a = Played(prepare_home(base, RunOptions(until=UNTIL_A, speed=SPEED_A)), KEY_A, tmp_path)
    b = Played(prepare_home(type(base).model_validate(data), RunOptions(until="2d")), KEY_B,
               tmp_path)
    kinds = {d.name: d.kind for d in a.home.spec.enabled()}
    t0, wall0 = time.monotonic(), time.time()
    try:
        # leftovers of an interrupted earlier run would be reused by podman: start clean
        _down_all([a, b])
        podman("network", "create", NETWORK)

        a.play_router()
        a.play_home()
        t_play = time.monotonic() - t0
        # a pod's address is its infra container's, gone once the pod has stopped: read it now
        pod_ips = {pod: _pod_ip(pod) for pod in a.pods}
        assert len(set(pod_ips.values())) == len(a.pods) and "" not in pod_ips.values()
        assert len(a.pods) == len(kinds) + 2  # devices, clock, ledger (the router apart)

        # least privilege, as mounted: a device sees its own secret, the router its config
        battery = a.container("battery")
        assert podman("exec", battery, "ls", "/etc/homesim-secret").stdout.split() == ["secret"]
        assert podman("exec", battery, "cat", "/etc/homesim-secret/secret").stdout.strip() == \
            a.secrets["battery"]
        router_a = _router_container(a.router_pod)
        assert podman("exec", router_a, "ls", "/etc/homesim-router").stdout.split() == \
            ["config.json"]

        # A runs: wait for its first windows, then remember how its containers were started
        deadline = time.monotonic() + RUN_TIMEOUT
        while a.windows() < WARMUP_WINDOWS:
            assert time.monotonic() < deadline, \
                f"A booked no windows:\n{logs(a.container('clock'))}"
            time.sleep(1)
        a_started = starts([*a.pods, a.router_pod])
        mem_a = router_memory_mb(a.router_pod)

        # B arrives (its own router, its own Secret) and runs to its end while A keeps going
        t_b0 = time.time()
        b.play_router()
        b.play_home()
        ctrs_b = b.wait_finished(RUN_TIMEOUT)
        t_b1 = time.time()
        time.sleep(AFTER_SECONDS)
        t_b2 = time.time()
        assert starts([*a.pods, a.router_pod]) == a_started, "B's arrival restarted A"
        mem_b = router_memory_mb(b.router_pod)

        # A at full speed to its end: the manager's credential, over WAMP from the host
        secret_file = tmp_path / "manager.secret"
        secret_file.write_text(a.secrets["manager"])
        secret_file.chmod(0o600)
        router_ip = _pod_ip(a.router_pod)
        res = subprocess.run(
            [sys.executable, "-m", "homesim.devices", "call", "--router",
             f"rs://{router_ip}:{RS_PORT}", "--realm", HOME_A, "--authid", "manager",
             "--secret-file", str(secret_file), "homesim.clock.set_speed", '"max"'],
            capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stderr[-2000:]
        # B's manager and an anonymous client get nothing from A's router
        b_manager = _write(tmp_path / "b-manager", b.secrets["manager"])
        for cred in (["--authid", "manager", "--secret-file", str(b_manager)], []):
            refused = subprocess.run(
                [sys.executable, "-m", "homesim.devices", "call", "--router",
                 f"rs://{router_ip}:{RS_PORT}", "--realm", HOME_A, *cred,
                 "homesim.clock.status"], capture_output=True, text=True, timeout=120,
                env={k: v for k, v in os.environ.items()
                     if k not in ("HOMESIM_AUTHID", "HOMESIM_SECRET_FILE")})
            assert refused.returncode != 0 and "sim_time" not in refused.stdout, cred
        ctrs_a = a.wait_finished(RUN_TIMEOUT)
        t_run = time.monotonic() - t0

        for home, ctrs in ((a, ctrs_a), (b, ctrs_b)):
            # each device, the clock and the ledger: one container, in a pod of its own, from
            # the one device image, started with its kind and name, as its own identity
            started = {}
            for c in ctrs:
                assert c["ImageName"] == DEVICE_IMAGE, c["ImageName"]
                args = c["Config"]["Cmd"]  # the container's `args` (entrypoint: the image's)
                started[args[args.index("--device") + 1]] = args[0]
                assert c["Config"]["User"] == "10001"
                assert c["HostConfig"]["ReadonlyRootfs"], c["Name"]
                env = dict(e.split("=", 1) for e in c["Config"]["Env"])
                assert env["HOMESIM_AUTHID"] == args[args.index("--device") + 1]
                assert env["HOMESIM_ROUTER_URL"] == f"rs://{home.router_pod}:{RS_PORT}"
            assert started == {**kinds, "clock": "clock", "ledger": "ledger"}
            clock = next(c["Name"] for c in ctrs if c["Config"]["Cmd"][0] == "clock")
            finished = [json.loads(line) for line in podman("logs", clock).stdout.splitlines()
                        if line.startswith("{") and '"finished"' in line]
            assert finished and finished[-1]["ok"], logs(clock)

        sum_b, booked_b, flows_b = ledger(b.container("ledger"), tmp_path / "ledger-b")
        assert len(booked_b) == 2  # two simulated days at speed max: one window per day
        assert sum_b["complete"] and sum_b["windows"] == 2 and sum_b["ticks"] == 2880
        sum_a, booked_a, flows_a = ledger(a.container("ledger"), tmp_path / "ledger-a")
        assert sum_a["complete"] and sum_a["ticks"] == 14 * 1440
        for flows in (flows_a, flows_b):
            for pair in [("sun", "pv-south"), ("pv-south", "inverter"), ("inverter", "house")]:
                count, joules = flows.get(pair, (0, 0.0))
                assert count > 0 and joules > 0, f"no energy {pair}: {sorted(flows)}"
            assert any(s == "grid" or k == "grid" for s, k in flows), sorted(flows)
            assert any(s == "battery" or k == "battery" for s, k in flows), sorted(flows)
        for summary in (sum_a, sum_b):
            assert summary["conservation"]["relative_residual"] < 1e-9

        # A's windows kept coming while B started and ran
        before = intervals(booked_a, 0, t_b0)
        during = intervals(booked_a, t_b0, t_b1)
        after = intervals(booked_a, t_b1, t_b2)
        assert before["windows"] and during["windows"] and after["windows"], \
            (before, during, after)

        # and every process of A reached A's router container over the pod network
        router = json.loads(podman("container", "inspect", router_a).stdout)[0]
        assert router["Config"]["User"] == "10001" and router["HostConfig"]["ReadonlyRootfs"]
        assert router["State"]["Status"] == "running"
        res = podman("logs", router_a)
        router_log = res.stdout + res.stderr
        assert f"realm {HOME_A} on web 0.0.0.0:8080, rawsocket 0.0.0.0:8081" in router_log
        assert "anonymous" not in router_log.lower()
        assert not [v for k, v in a.secrets.items() if k != "config.json" and v in router_log]
        peers = set(re.findall(r"'x_cb_peer': 'tcp4:([\d.]+):\d+'", router_log))
        ips = set(pod_ips.values())
        assert ips <= peers, f"pods {sorted(ips)} not all seen by the router: {sorted(peers)}"

        def fmt(st: dict[str, float]) -> str:
            if not st["windows"]:
                return "no windows"
            return (f"{st['windows']} windows, median {st['median'] * 1000:.0f} ms, "
                    f"p95 {st['p95'] * 1000:.0f} ms, max {st['max'] * 1000:.0f} ms")

        mem = ", ".join(f"{n} {m:.0f} MiB" for n, m in ((HOME_A, mem_a), (HOME_B, mem_b))
                        if m is not None)
        print(f"\npodman: build {images['build_seconds']:.1f} s, play A {t_play:.1f} s, "
              f"both done {t_run:.1f} s after start; B played {t_b0 - wall0:.0f} s in, "
              f"finished {t_b1 - t_b0:.1f} s later\n"
              f"A ({SPEED_A}, paced 0.5 s windows) window intervals:\n"
              f"  before B      {fmt(before)}\n"
              f"  B starts+runs {fmt(during)}\n"
              f"  after B ended {fmt(after)}\n"
              f"router memory (podman stats): {mem or 'n/a'}; "
              f"A {len(booked_a)} windows, B {len(booked_b)} windows, "
              f"{sum(n for n, _ in flows_a.values())} + {sum(n for n, _ in flows_b.values())} "
              f"packets")
    finally:
        _down_all([a, b])
    leftovers = [v for v in a.volumes | b.volumes
                 if podman("volume", "exists", v, check=False).returncode == 0]
    assert not leftovers, f"volumes left behind: {leftovers}"
    assert podman("network", "exists", NETWORK, check=False).returncode != 0


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o600)
    return path


def _pod_ip(pod: str) -> str:
    infra = podman("pod", "inspect", "--format", "{{.InfraContainerID}}", pod).stdout.strip()
    net = json.loads(podman("container", "inspect", infra).stdout)[0]["NetworkSettings"]
    return net["Networks"][NETWORK]["IPAddress"]


def _router_container(pod: str) -> str:
    rows = json.loads(podman("ps", "-a", "--pod", "--format", "json").stdout or "[]")
    return next(r["Names"][0] for r in rows if r.get("PodName") == pod and not r.get("IsInfra"))


def _down_all(homes: list[Played]) -> None:
    """Remove everything the test plays (idempotent; also the leftovers of an earlier run)."""
    for home in homes:
        home.down()
    podman("network", "rm", "--force", NETWORK, check=False)
