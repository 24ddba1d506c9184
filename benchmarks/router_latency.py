"""Paced latency through the embedded Crossbar router, with and without the TCP_NODELAY fix.

    .venv/bin/python benchmarks/router_latency.py [--calls 500] [--period-ms 5] [--quick]

For each router setting (HOMESIM_ROUTER_NODELAY=1 / 0, i.e. `start_router(nodelay=...)`) and
each client transport (RawSocket/msgpack, WebSocket/JSON; client-side TCP_NODELAY set, or left
as autobahn leaves it: off), separate client *processes* (autobahn, Twisted) measure, after
`--warmup` untimed rounds:

* ``rpc``: a callee registers an echo RPC, the caller makes `--calls` calls paced every
  `--period-ms` ms (one outstanding call at a time) and records each round trip;
* ``pubsub``: a ponger re-publishes every ``homesim.bench.ping`` event as ``.pong``, the
  pinger publishes a ping every `--period-ms` ms and records ping->pong;
* ``fanin``: homesim's lockstep window: a clock publishes ``homesim.bench.window`` every
  `--period-ms` ms, 4 device processes each answer with a ``homesim.bench.report``, the clock
  records the time until it has all 4 reports. Several small messages reach one socket in
  quick succession: the pattern Nagle + delayed ACK stalls;
* ``rpc_unpaced`` / ``fanin_unpaced``: the same back to back (RawSocket, client NODELAY on),
  reported as rounds per second.

Router-side TCP_NODELAY of each client connection is read from the router's own sockets
(`Router.socket_nodelay`) and stored next to the figures. Writes
``benchmarks/results/router_latency.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "router_latency.json"
REALM = "homesim"
BENCH_SECRET = "benchmark-secret-not-for-production"  # a throwaway router of this benchmark
UNPACED_MAX_S = 15  # unpaced series stop after this many seconds
DEVICES = 4  # device processes answering each window in the fan-in pattern
PAYLOAD = {"seq": 0, "pad": "x" * 160}  # ~200 bytes on the wire, like one tick of a device


# --------------------------------------------------------------------------- client side


def _client(role: str, url: str, params: dict) -> None:
    """One autobahn (Twisted) client process; results are written to stdout as JSON lines."""
    sys.modules.setdefault("_bjdata", None)  # bjdata's NumPy 1.x/2.x notice (see infra/router.py)
    from autobahn.twisted.component import Component, run
    from autobahn.twisted.util import sleep
    from twisted.internet.defer import Deferred

    if url.startswith("rs://"):
        transport = {"type": "rawsocket", "url": url, "serializer": "msgpack"}
    else:
        transport = {"type": "websocket", "url": url, "serializers": ["json"]}
    transport["max_retries"] = 0
    comp = Component(transports=[transport], realm=REALM,
                     authentication={"wampcra": {"authid": "bench", "secret": BENCH_SECRET}})

    def emit(obj: dict) -> None:  # autobahn's run() redirects print() into its logger
        os.write(1, (json.dumps(obj) + "\n").encode())

    def tcp_transport(session):
        return session._transport.transport  # autobahn protocol -> twisted tcp.Client

    async def paced(session, once) -> list[float]:
        period = params["period_ms"] / 1000
        n, warmup = params["calls"], params["warmup"]
        lat: list[float] = []
        start = time.perf_counter()
        for i in range(warmup + n):
            if params.get("max_s") and time.perf_counter() - start > params["max_s"]:
                break  # unpaced rounds that stall: enough samples
            if period:
                delay = start + i * period - time.perf_counter()
                if delay > 0:
                    await sleep(delay)
            t = time.perf_counter()
            await once(i)
            if i >= warmup:
                lat.append(time.perf_counter() - t)
        return lat

    @comp.on_join
    async def joined(session, details):
        tcp = tcp_transport(session)
        if params["client_nodelay"]:
            tcp.setTcpNoDelay(True)
        host = tcp.getHost()
        info = {"local": [host.host, host.port], "client_nodelay": bool(tcp.getTcpNoDelay())}
        if role == "callee":
            await session.register(lambda payload: payload, "homesim.bench.echo")
            emit({"ready": True, **info})
        elif role == "ponger":
            await session.subscribe(
                lambda payload: session.publish("homesim.bench.pong", payload),
                "homesim.bench.ping",
            )
            emit({"ready": True, **info})
        elif role == "device":  # answers every window with a report (homesim's phase 1)
            me = params["device"]
            await session.subscribe(
                lambda w: session.publish(
                    "homesim.bench.report", {**PAYLOAD, "seq": w["seq"], "device": me}
                ),
                "homesim.bench.window",
            )
            emit({"ready": True, **info})
        elif role == "clock":  # publishes a window, waits for every device's report
            expected = params["devices"]
            waiting: dict[int, list] = {}

            def report(payload):
                entry = waiting.get(payload["seq"])
                if entry is not None:
                    entry[1] += 1
                    if entry[1] == expected:
                        del waiting[payload["seq"]]
                        entry[0].callback(None)

            await session.subscribe(report, "homesim.bench.report")
            emit({"connected": True, **info})

            def window(i):
                d = Deferred()
                waiting[i] = [d, 0]
                session.publish("homesim.bench.window", {"seq": i})
                return d

            t0 = time.perf_counter()
            lat = await paced(session, window)
            emit({"latencies": lat, "elapsed": time.perf_counter() - t0, **info})
            session.leave()
        elif role == "caller":
            emit({"connected": True, **info})
            t0 = time.perf_counter()
            lat = await paced(
                session, lambda i: session.call("homesim.bench.echo", {**PAYLOAD, "seq": i})
            )
            emit({"latencies": lat, "elapsed": time.perf_counter() - t0, **info})
            session.leave()
        elif role == "pinger":
            waiting: dict[int, Deferred] = {}

            def pong(payload):
                d = waiting.pop(payload["seq"], None)
                if d is not None:
                    d.callback(None)

            await session.subscribe(pong, "homesim.bench.pong")
            emit({"connected": True, **info})

            def ping(i):
                waiting[i] = d = Deferred()
                session.publish("homesim.bench.ping", {**PAYLOAD, "seq": i})
                return d

            t0 = time.perf_counter()
            lat = await paced(session, ping)
            emit({"latencies": lat, "elapsed": time.perf_counter() - t0, **info})
            session.leave()

    run([comp], log_level="error")


# --------------------------------------------------------------------------- orchestration


def _spawn(role: str, url: str, params: dict) -> subprocess.Popen:
    cmd = [sys.executable, __file__, "_client", role, url, json.dumps(params)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=tempfile.gettempdir())


def _read(proc: subprocess.Popen, key: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"client exited (code {proc.wait()}) before {key!r}")
        if not line.startswith("{"):  # autobahn/twisted log output
            sys.stderr.write(f"  [client] {line}")
            continue
        msg = json.loads(line)
        if key in msg:
            return msg
    raise TimeoutError(key)


def _stats(lat: list[float]) -> dict:
    ms = sorted(x * 1000 for x in lat)
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return {
        "n": len(ms),
        "p50_ms": round(statistics.median(ms), 3),
        "p90_ms": round(q[89], 3),
        "p99_ms": round(q[98], 3),
        "max_ms": round(ms[-1], 3),
        "mean_ms": round(statistics.fmean(ms), 3),
        "over_20ms": sum(x > 20 for x in ms),
    }


def _series(
    router, pattern: str, url: str, client_nodelay: bool, calls: int, period_ms: float, warmup: int
) -> dict:
    params = {
        "calls": calls,
        "period_ms": period_ms,
        "warmup": warmup,
        "client_nodelay": client_nodelay,
        "devices": DEVICES,
        "max_s": None if period_ms else UNPACED_MAX_S,
    }
    if pattern.startswith("rpc"):
        servers = [_spawn("callee", url, params)]
        client_role = "caller"
    elif pattern.startswith("pubsub"):
        servers = [_spawn("ponger", url, params)]
        client_role = "pinger"
    else:
        servers = [_spawn("device", url, {**params, "device": i}) for i in range(DEVICES)]
        client_role = "clock"
    try:
        readies = [_read(server, "ready") for server in servers]
        client = _spawn(client_role, url, params)
        try:
            hello = _read(client, "connected")
            nodelay = router.socket_nodelay()
            done = _read(client, "latencies")
            client.wait(timeout=30)
        finally:
            if client.poll() is None:
                client.kill()
                client.wait()
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=30)
    router_side = [nodelay.get(tuple(x["local"])) for x in (*readies, hello)]
    out = {
        "pattern": pattern,
        "transport": "rawsocket/msgpack" if url.startswith("rs://") else "websocket/json",
        "client_nodelay": hello["client_nodelay"],
        "router_socket_nodelay": router_side,
        **_stats(done["latencies"]),
    }
    if not period_ms:
        out["per_s"] = round(len(done["latencies"]) / sum(done["latencies"]), 1)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--calls", type=int, default=500)
    ap.add_argument("--period-ms", type=float, default=5.0)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--unpaced-calls", type=int, default=2000)
    ap.add_argument("--quick", action="store_true", help="100 calls per series (smoke run)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    if args.quick:
        args.calls, args.warmup, args.unpaced_calls = 100, 20, 300

    from homesim.infra.router import RealmAccess, ensure_router_env, start_router

    role = {"name": "bench", "permissions": [{
        "uri": "homesim.", "match": "prefix", "cache": True,
        "allow": {"call": True, "register": True, "publish": True, "subscribe": True},
        "disclose": {"caller": False, "publisher": False}}]}
    access = RealmAccess(REALM, [role], {"bench": ("bench", BENCH_SECRET)})

    python = ensure_router_env(progress=lambda m: print(m, file=sys.stderr))
    load_before = os.getloadavg()
    runs = []
    startup = {}
    for router_nodelay in (True, False):
        with tempfile.TemporaryDirectory(prefix="homesim-bench-") as tmp:
            t = time.perf_counter()
            router = start_router(Path(tmp), access, python=python, nodelay=router_nodelay)
            startup[str(router_nodelay)] = round(time.perf_counter() - t, 2)
            with router:
                for url in (router.rs_url, router.ws_url):
                    for client_nodelay in (True, False):
                        for pattern in ("rpc", "pubsub", "fanin"):
                            r = _series(
                                router,
                                pattern,
                                url,
                                client_nodelay,
                                args.calls,
                                args.period_ms,
                                args.warmup,
                            )
                            r["router_nodelay_patch"] = router_nodelay
                            runs.append(r)
                            print(_row(r), flush=True)
                for pattern in ("rpc_unpaced", "fanin_unpaced"):
                    r = _series(router, pattern, router.rs_url, True, args.unpaced_calls, 0, 100)
                    r["router_nodelay_patch"] = router_nodelay
                    runs.append(r)
                    print(_row(r), flush=True)

    result = {
        "benchmark": "router_latency",
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            # other work on the machine skews the figures: 1-min load average before / after
            "loadavg_1min": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        },
        "params": {
            "calls": args.calls,
            "period_ms": args.period_ms,
            "warmup": args.warmup,
            "unpaced_calls": args.unpaced_calls,
            "payload_bytes": len(json.dumps(PAYLOAD)),
        },
        "router_startup_s": startup,
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


def _row(r: dict) -> str:
    rate = f" {r['per_s']:>7.0f}/s" if "per_s" in r else ""
    return (
        f"router_patch={'on ' if r['router_nodelay_patch'] else 'off'} "
        f"{r['transport']:<18} client_nodelay={'on ' if r['client_nodelay'] else 'off'} "
        f"{r['pattern']:<13} p50={r['p50_ms']:7.2f} p90={r['p90_ms']:7.2f} "
        f"p99={r['p99_ms']:7.2f} max={r['max_ms']:7.2f} ms >20ms={r['over_20ms']:<3d}"
        f" router_sock_nodelay={r['router_socket_nodelay']}{rate}"
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_client":
        _client(sys.argv[2], sys.argv[3], json.loads(sys.argv[4]))
    else:
        sys.exit(main())
