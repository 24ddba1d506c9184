"""Shared by the benchmarks: run a command and sample its process tree (CPU, peak RSS).

Processes of a ``homesim run`` are named by role: ``--device NAME`` (devices, ``clock``,
``ledger``), ``router:PID`` (Crossbar controller and worker), ``supervisor`` (the
``homesim run`` process itself); anything else in the tree is ``other:PID``.
"""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "home.yaml"
RESULTS = ROOT / "benchmarks" / "results"
HOMESIM = [sys.executable, "-m", "homesim.infra.cli"]
INFRA = ("router:", "supervisor", "other:")


def role(proc: psutil.Process, root_pid: int) -> str:
    """Role of a process in a ``homesim run`` tree (see the module docstring)."""
    cmd = proc.cmdline()
    if "--device" in cmd:
        return cmd[cmd.index("--device") + 1]
    if any("crossbar" in c for c in cmd):
        return f"router:{proc.pid}"
    if proc.pid == root_pid:
        return "supervisor"
    return f"other:{proc.pid}"


@dataclass
class Sampled:
    """What :func:`run_sampled` measured."""

    returncode: int
    wall_s: float
    cpu_s: float  # user + system of the whole reaped tree (getrusage of children) [s]
    stdout: str
    stderr: str
    cpu: dict[str, float] = field(default_factory=dict)  # per role, last sample [s]
    rss_mib: dict[str, float] = field(default_factory=dict)  # per role, peak [MiB]


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_sampled(cmd: list[str], interval: float = 0.2, timeout: float | None = None,
                env: dict[str, str] | None = None) -> Sampled:
    """Run ``cmd`` to completion, sampling CPU time and RSS of its process tree.

    CPU per role is the last sample (a process that ends between samples loses at most
    ``interval`` of CPU); ``cpu_s`` is exact for every process reaped by the tree.
    """
    return run_group([cmd], interval, timeout, env)[0][0]


def run_group(cmds: list[list[str]], interval: float = 0.2, timeout: float | None = None,
              env: dict[str, str] | None = None) -> tuple[list[Sampled], float]:
    """Run ``cmds`` concurrently to completion, sampling each process tree.

    Returns one :class:`Sampled` per command (``wall_s``: until that command ended;
    ``cpu_s``: the CPU of the whole group, getrusage of children) and the peak of the summed
    RSS of every process of every tree [MiB].
    """
    c0 = _children_cpu()
    t0 = time.perf_counter()
    files = [(tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")) for _ in cmds]
    procs = [subprocess.Popen(c, stdout=fo, stderr=fe, text=True, env=env)
             for c, (fo, fe) in zip(cmds, files, strict=True)]
    cpu: list[dict[str, float]] = [{} for _ in cmds]
    rss: list[dict[str, float]] = [{} for _ in cmds]
    total = {"peak": 0.0}
    stop = threading.Event()
    names: dict[int, str] = {}

    def sample() -> None:
        roots = []
        for p in procs:
            try:
                roots.append(psutil.Process(p.pid))
            except psutil.NoSuchProcess:
                roots.append(None)
        while not stop.is_set():
            now_total = 0.0
            for i, root in enumerate(roots):
                if root is None:
                    continue
                try:
                    tree = [root, *root.children(recursive=True)]
                except psutil.NoSuchProcess:
                    continue
                for p in tree:
                    try:
                        if p.pid not in names or names[p.pid].startswith("other:"):
                            # a child caught between fork and exec still shows its
                            # parent's command line: name it again until it has its own
                            names[p.pid] = role(p, root.pid)
                        t = p.cpu_times()
                        m = p.memory_info().rss / 2**20
                    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                        continue
                    name = names[p.pid]
                    cpu[i][name] = t.user + t.system
                    rss[i][name] = max(rss[i].get(name, 0.0), m)
                    now_total += m
            total["peak"] = max(total["peak"], now_total)
            stop.wait(interval)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    ended: dict[int, float] = {}
    try:
        while len(ended) < len(procs):
            for i, p in enumerate(procs):
                if i not in ended and p.poll() is not None:
                    ended[i] = time.perf_counter() - t0
            if timeout is not None and time.perf_counter() - t0 > timeout:
                raise subprocess.TimeoutExpired(cmds[0], timeout)
            time.sleep(0.02)
    finally:
        for p in procs:
            if p.poll() is None:  # a timeout: end the whole tree this command started
                try:
                    tree = psutil.Process(p.pid).children(recursive=True)
                except psutil.NoSuchProcess:
                    tree = []
                p.kill()
                p.wait()
                for child in tree:
                    try:
                        child.kill()
                    except psutil.NoSuchProcess:
                        pass
        stop.set()
        th.join()
    cpu_all = _children_cpu() - c0
    texts = []
    for fo, fe in files:
        fo.seek(0)
        fe.seek(0)
        texts.append((fo.read(), fe.read()))
        fo.close()
        fe.close()
    return ([Sampled(p.returncode, ended.get(i, time.perf_counter() - t0), cpu_all, *texts[i],
                     {k: round(v, 2) for k, v in sorted(cpu[i].items())},
                     {k: round(v, 1) for k, v in sorted(rss[i].items())})
             for i, p in enumerate(procs)],
            round(total["peak"], 1))


def device_rss(rss: dict[str, float]) -> dict[str, float]:
    """Peak RSS of the device, clock and ledger processes only (no router, no supervisor)."""
    return {k: v for k, v in rss.items() if not k.startswith(INFRA)}


def machine() -> dict[str, Any]:
    """CPU count, memory, platform, Python and the load average now."""
    return {"cpus": psutil.cpu_count(),
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "platform": platform.platform(), "python": platform.python_version(),
            "loadavg": [round(x, 2) for x in os.getloadavg()]}


def now() -> str:
    """The date and time now, UTC, ISO 8601."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
