"""The lockstep protocol without a router: DeviceProtocol and ClockProtocol driven directly.

Messages go in as events, actions come out; no Twisted reactor, no Crossbar.
"""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from homesim.devices.__main__ import shell_class
from homesim.devices.bus.protocol import (
    ClockProtocol,
    ControlReceived,
    DeviceProtocol,
    Finished,
    PacketsReceived,
    Publish,
    ReportReceived,
    RunEnded,
    RunFinished,
    SettleReceived,
    T,
    WindowClosed,
    WindowOpened,
    WindowSettled,
    decode_report,
    encode_report,
    validate_packets,
    window_ticks,
)
from homesim.devices.kinds.base import (
    DeviceShell,
    InvalidArgument,
    ReadOnly,
    SettleResult,
    Window,
)
from homesim.schemas.manifest import load_manifest
from homesim.schemas.registry import REGISTRY
from homesim.schemas.reports import ReportError
from homesim.schemas.wire import pack, plain, unpack

HOME = load_manifest(Path(__file__).resolve().parent.parent / "examples" / "home.yaml")
START = 1735707600.0  # 2025-01-01T00:00 at UTC-5
N = 2
DEVICES = [d.name for d in HOME.spec.enabled()]


# ---------------------------------------------------------------------- helpers


class Probe(DeviceShell):
    """A load on the electric bus whose inputs, publishers and failures the test chooses."""

    kind = "load"

    def __init__(self, inputs: tuple[str, ...] = ("weather",),
                 publishers: tuple[str, ...] = ("inverter",), fail: str | None = None) -> None:
        self._inputs, self._publishers, self.fail = list(inputs), list(publishers), fail
        self.calls: list[tuple[Any, ...]] = []
        self.setups = 0
        super().__init__(HOME, "house")

    def setup(self) -> None:
        self.setups += 1

    def inputs(self) -> list[str]:
        return self._inputs

    def packet_publishers(self) -> list[str]:
        return self._publishers

    def report(self, window: Window, inputs: dict[str, Any]) -> Any:
        self.calls.append(("report", window.window, {k: ghi(v) for k, v in inputs.items()}))
        if self.fail == "report":
            raise RuntimeError("boom")
        return self.Report(demand=np.full(window.n, 10.0))

    def settle(self, window: Window, flows: dict[Any, np.ndarray]) -> SettleResult:
        self.calls.append(("settle", window.window, {k: v.tolist() for k, v in flows.items()}))
        if self.fail == "settle":
            raise ValueError("bad packets")
        served = sum(flows.values(), np.zeros(window.n))
        return SettleResult(losses=served)


def window_msg(win: int, n: int = N, speed: str = "max", tick0: int | None = None) -> dict:
    return {"run": "r", "window": win, "tick0": win * n if tick0 is None else tick0, "n": n,
            "dt": 60.0, "start": START, "speed": speed}


WEATHER = shell_class("weather")(HOME, "weather")


def report_msg(device: str, win: int, ghi: float = 100.0, n: int = N) -> dict:
    """A weather report (the real shell's) for window ``win``, its ``ghi`` set to ``ghi``."""
    w = Window("r", win, win * n, n, 60.0, START, "max")
    payload, _ = encode_report(w, device, "weather", WEATHER.report(w, {}))
    payload["signals"]["ghi"] = pack([ghi] * n)
    return payload


def ghi(report: Any) -> list[float]:
    """The ghi signal of a decoded weather report."""
    x = report.ghi
    return np.asarray(x).tolist()


def packets_msg(publisher: str, win: int, flows: list[tuple[str, str, list[float]]],
                n: int = N) -> dict:
    return {"run": "r", "window": win, "tick0": win * n, "n": n, "publisher": publisher,
            "flows": [{"source": s, "sink": k, "carrier": "electricity", "joules": j}
                      for s, k, j in flows]}


def to_house(publisher: str, win: int, joules: float = 5.0) -> dict:
    return packets_msg(publisher, win, [(publisher, "house", [joules] * N),
                                        (publisher, "battery", [1.0] * N)])


def topics(actions: list) -> list[str]:
    return [a.topic if isinstance(a, Publish) else type(a).__name__ for a in actions]


def settles(actions: list) -> list[dict]:
    return [a.payload for a in actions if isinstance(a, Publish) and a.topic == T.SETTLE]


# ---------------------------------------------------------------------- device: phases


def test_reports_after_its_inputs_and_settles_after_the_packets():
    shell = Probe()
    dev = DeviceProtocol(shell)
    assert dev.sources == {"weather"} and dev.publishers == {"inverter"}
    assert dev.handle(WindowOpened(window_msg(0), at=5.0)) == []  # waits for weather
    acts = dev.handle(ReportReceived(report_msg("weather", 0)))
    assert topics(acts) == [T.report("house")]
    assert plain(acts[0].payload) == {"run": "r", "window": 0, "tick0": 0, "n": 2,
                                      "device": "house", "kind": "load",
                                      "signals": {"demand": [10.0, 10.0]}}
    acts = dev.handle(PacketsReceived(to_house("inverter", 0)))
    assert topics(acts) == [T.SETTLE, "WindowSettled"]
    assert plain(acts[0].payload) == {"run": "r", "window": 0, "tick0": 0, "n": 2,
                                      "device": "house", "packets": 0, "losses": [5.0, 5.0]}
    obs = acts[1]
    assert isinstance(obs, WindowSettled) and obs.opened_at == 5.0 and obs.window.window == 0
    assert list(obs.flows) == [("inverter", "house", "electricity")]  # not the battery's
    assert dev.clock_view["window"] == 0 and dev.clock_view["state"] == "running"


def test_window_ordering_later_window_waits_for_the_earlier_one():
    shell = Probe()
    dev = DeviceProtocol(shell)
    # weather's report of window 1 arrives before the window itself: kept until it opens
    assert dev.handle(ReportReceived(report_msg("weather", 1, ghi=1.0))) == []
    assert topics(dev.handle(WindowOpened(window_msg(1)))) == [T.report("house")]
    assert shell.calls == [("report", 1, {"weather": [1.0, 1.0]})]
    # window 2 opens before 1 settled; its input comes first: it must wait for window 1
    assert dev.handle(WindowOpened(window_msg(2))) == []
    assert dev.handle(ReportReceived(report_msg("weather", 2, ghi=2.0))) == []
    assert dev.handle(PacketsReceived(to_house("inverter", 2))) == []
    assert [c[:2] for c in shell.calls] == [("report", 1)]
    acts = dev.handle(PacketsReceived(to_house("inverter", 1)))
    # window 1 settles, then window 2 reports and settles, in that order
    assert topics(acts) == [T.SETTLE, "WindowSettled", T.report("house"), T.SETTLE,
                            "WindowSettled"]
    assert [p["window"] for p in settles(acts)] == [1, 2]
    assert [c[:2] for c in shell.calls] == [("report", 1), ("settle", 1), ("report", 2),
                                            ("settle", 2)]


def test_late_messages_are_ignored():
    shell = Probe(inputs=())
    dev = DeviceProtocol(shell)
    assert topics(dev.handle(WindowOpened(window_msg(0)))) == [T.report("house")]
    assert topics(dev.handle(PacketsReceived(to_house("inverter", 0))))[0] == T.SETTLE
    # for a window already settled: nothing, and nothing kept
    assert dev.handle(PacketsReceived(to_house("inverter", 0, joules=7.0))) == []
    assert dev.handle(WindowOpened(window_msg(0))) == []  # the clock's message again
    assert 0 not in dev.packets
    # for a window long forgotten
    for w in (1, 2, 3, 4, 5):
        dev.handle(WindowOpened(window_msg(w)))
        dev.handle(PacketsReceived(to_house("inverter", w)))
    assert dev.floor == 3
    assert min(dev.windows) >= 3 and min(dev.settled) >= 3  # old windows forgotten
    n_calls = len(shell.calls)
    assert dev.handle(PacketsReceived(to_house("inverter", 1))) == []
    assert dev.handle(PacketsReceived(to_house("inverter", 2))) == []
    assert dev.handle(WindowOpened(window_msg(4))) == []
    assert len(shell.calls) == n_calls and not {1, 2} & set(dev.packets)


def test_a_clock_starting_over_is_followed(caplog):
    shell = Probe(inputs=())
    dev = DeviceProtocol(shell)
    for w in range(6):
        dev.handle(WindowOpened(window_msg(w)))
        dev.handle(PacketsReceived(to_house("inverter", w)))
    dev.handle(PacketsReceived(to_house("inverter", 6)))  # early for window 6: kept
    assert ("packets", 6, "inverter") in dev._early
    # window 1 again, older than any window remembered: only a restarted clock sends that
    assert topics(dev.handle(WindowOpened(window_msg(1)))) == [T.report("house")]
    assert 6 not in dev.packets and not dev._early  # nothing of the old run is kept
    assert "the clock started over" in caplog.text
    assert topics(dev.handle(PacketsReceived(to_house("inverter", 1))))[0] == T.SETTLE
    assert sorted(dev.windows) == [1] and dev.last_window == 1


def test_a_message_for_a_window_not_yet_possible_is_ignored():
    dev = DeviceProtocol(Probe())
    dev.handle(WindowOpened(window_msg(0)))
    # the clock cannot have opened window 2 before this device settled window 1
    assert dev.handle(ReportReceived(report_msg("weather", 2))) == []
    assert 2 not in dev.reports and not dev._early
    assert dev.handle(ReportReceived(report_msg("weather", 1))) == []
    assert ("report", 1, "weather") in dev._early  # window 1 may open any moment: kept


def test_duplicate_reports_packets_and_windows_are_ignored():
    shell = Probe(inputs=("weather",), publishers=("inverter", "heat-node"))
    dev = DeviceProtocol(shell)
    dev.handle(WindowOpened(window_msg(0)))
    assert dev.handle(WindowOpened(window_msg(0))) == []
    assert len(dev.handle(ReportReceived(report_msg("weather", 0, ghi=1.0)))) == 1
    assert dev.handle(ReportReceived(report_msg("weather", 0, ghi=9.0))) == []
    # a report claiming another kind than the manifest's is ignored
    assert dev.handle(ReportReceived({**report_msg("weather", 0), "kind": "sun"})) == []
    assert shell.calls == [("report", 0, {"weather": [1.0, 1.0]})]
    assert dev.handle(PacketsReceived(to_house("inverter", 0, joules=1.0))) == []
    assert dev.handle(PacketsReceived(to_house("inverter", 0, joules=50.0))) == []
    acts = dev.handle(PacketsReceived(to_house("heat-node", 0, joules=2.0)))
    # 1 + 2, the duplicate not counted
    assert unpack(settles(acts)[0]["losses"]).tolist() == [3.0, 3.0]
    assert dev.handle(PacketsReceived(to_house("heat-node", 0))) == []


def test_settles_only_after_every_packet_publisher():
    shell = Probe(inputs=(), publishers=("inverter", "heat-node"))
    dev = DeviceProtocol(shell)
    dev.handle(PacketsReceived(to_house("heat-node", 0, joules=2.0)))  # before the window
    assert topics(dev.handle(WindowOpened(window_msg(0)))) == [T.report("house")]
    assert dev.handle(PacketsReceived(to_house("pv-south", 0))) == []  # not a publisher
    acts = dev.handle(PacketsReceived(to_house("inverter", 0, joules=1.0)))
    assert topics(acts) == [T.SETTLE, "WindowSettled"]
    assert shell.calls[-1] == ("settle", 0, {("heat-node", "house", "electricity"): [2.0, 2.0],
                                             ("inverter", "house", "electricity"): [1.0, 1.0]})


GARBAGE_REPORTS = [
    "not a dict", None, 42, [1, 2], {},
    {**report_msg("weather", 0), "window": "0"},
    {**report_msg("weather", 0), "window": 0.0},
    {**report_msg("weather", 0), "window": True},
    {**report_msg("weather", 0), "signals": {**report_msg("weather", 0)["signals"],
                                             "ghi": ["1", "2"]}},
    {**report_msg("weather", 0), "signals": [1.0, 2.0]},
    {**report_msg("weather", 0), "kind": "flux_capacitor"},
    {**report_msg("weather", 0), "device": 7},
    {**report_msg("weather", 0), "unknown": 1},
    {**report_msg("weather", 0), "window": -1},
    report_msg("sun", 0),  # not an input of this device
]
GARBAGE_PACKETS = [
    "x", None, [], {}, {"publisher": ["inverter"]},
    {**to_house("inverter", 0), "window": "0"},
    {**to_house("inverter", 0), "flows": "none"},
    {**to_house("inverter", 0), "flows": [42]},
    packets_msg("inverter", 0, [("inverter", "house", [math.nan, 1.0])]),
    packets_msg("inverter", 0, [("inverter", "house", [-1.0, 1.0])]),
    packets_msg("inverter", 0, [("inverter", "house", [1.0])]),  # n = 2
    packets_msg("inverter", 0, [("inverter", "house", ["1", "2"])]),
    packets_msg("inverter", 0, [("inverter", "house", [True, False])]),
    packets_msg("inverter", 0, [("inverter", "house", [[1.0], [1.0, 2.0]])]),
    packets_msg("inverter", 0, [("inverter", "house", [math.inf, 1.0])]),
    {**to_house("inverter", 0), "flows": [{"source": "inverter", "sink": "house",
                                           "carrier": "electricity"}]},
    {**to_house("inverter", 0), "n": 3},  # does not match the window
    {**to_house("inverter", 0), "tick0": 5},
    to_house("mallory", 0),  # unknown publisher
]
GARBAGE_OTHER = [
    WindowOpened("window"), WindowOpened({**window_msg(0), "window": "0"}),
    WindowOpened({**window_msg(0), "n": 0}), WindowOpened({**window_msg(0), "speed": "fast"}),
    WindowOpened({**window_msg(0), "dt": "60"}), WindowOpened(None),
    ControlReceived({"state": "dancing"}), ControlReceived([]),
    Finished({"ok": "yes"}), Finished(None), Finished({}),
]


@pytest.mark.parametrize("msg", GARBAGE_REPORTS)
def test_garbage_reports_produce_nothing(msg):
    shell = Probe()
    dev = DeviceProtocol(shell)
    dev.handle(WindowOpened(window_msg(0)))
    assert dev.handle(ReportReceived(msg)) == []
    assert shell.calls == []
    assert topics(dev.handle(ReportReceived(report_msg("weather", 0)))) == [T.report("house")]


@pytest.mark.parametrize("msg", GARBAGE_PACKETS)
def test_garbage_packets_produce_nothing(msg):
    shell = Probe(inputs=())
    dev = DeviceProtocol(shell)
    dev.handle(WindowOpened(window_msg(0)))
    assert dev.handle(PacketsReceived(msg)) == []
    assert [c[0] for c in shell.calls] == ["report"]
    assert topics(dev.handle(PacketsReceived(to_house("inverter", 0))))[0] == T.SETTLE


@pytest.mark.parametrize("event", GARBAGE_OTHER)
def test_garbage_clock_messages_produce_nothing(event):
    shell = Probe(inputs=())
    dev = DeviceProtocol(shell)
    assert dev.handle(event) == []
    assert shell.calls == [] and dev.finished is False and dev.windows == {}
    assert dev.clock_view["state"] == "starting"


def test_a_malformed_message_is_logged(caplog):
    dev = DeviceProtocol(Probe())
    dev.handle(WindowOpened(window_msg(0)))
    dev.handle(ReportReceived({**report_msg("weather", 0), "window": "0"}))
    assert "ignored invalid report" in caplog.text and "window" in caplog.text


def test_a_phase_raising_gives_an_error_settle():
    shell = Probe(fail="report")
    dev = DeviceProtocol(shell)
    dev.handle(WindowOpened(window_msg(0)))
    acts = dev.handle(ReportReceived(report_msg("weather", 0)))
    assert acts == [Publish(T.SETTLE, {"run": "r", "window": 0, "tick0": 0, "n": 2,
                                       "device": "house", "packets": 0,
                                       "error": "RuntimeError: boom"})]
    assert dev.handle(PacketsReceived(to_house("inverter", 0))) == []  # window is over
    shell = Probe(inputs=(), fail="settle")
    dev = DeviceProtocol(shell)
    assert topics(dev.handle(WindowOpened(window_msg(0)))) == [T.report("house")]
    acts = dev.handle(PacketsReceived(to_house("inverter", 0)))
    assert settles(acts) == [{"run": "r", "window": 0, "tick0": 0, "n": 2, "device": "house",
                              "packets": 0, "error": "ValueError: bad packets"}]
    assert topics(acts) == [T.SETTLE]  # no metrics for a failed window
    # the device stays up: the next window works
    shell.fail = None
    dev.handle(WindowOpened(window_msg(1)))
    assert topics(dev.handle(PacketsReceived(to_house("inverter", 1))))[0] == T.SETTLE


def test_invalid_own_packets_fail_the_window_after_what_was_already_published():
    class BadSun(Probe):
        def own_flows(self, window):
            from homesim.devices.kinds.base import Flow
            return [Flow("sun", "house", "solar", np.array([1.0, math.nan]))]

    dev = DeviceProtocol(BadSun(inputs=()))
    acts = dev.handle(WindowOpened(window_msg(0)))
    assert settles(acts)[0]["error"].startswith("ValueError: invalid packet flow sun->house")


def test_set_takes_effect_at_the_next_window():
    shell = Probe(inputs=())
    dev = DeviceProtocol(shell)
    dev.handle(WindowOpened(window_msg(0)))
    assert shell.setups == 1
    assert dev.set("annual_kwh", 5000) == {"name": "annual_kwh", "value": 5000,
                                          "effective": "next window"}
    dev.set("noise_sigma", 0.1)  # stacks on the first
    assert dev.get("annual_kwh")["value"] == 5000.0
    assert shell.props.annual_kwh == 4000.0  # this window keeps the old value
    assert dev.snapshot()["properties"]["annual_kwh"] == 5000.0
    with pytest.raises(InvalidArgument):
        dev.set("annual_kwh", -1)
    with pytest.raises(ReadOnly):
        dev.set("profile", "g0")
    dev.handle(PacketsReceived(to_house("inverter", 0)))
    dev.handle(WindowOpened(window_msg(1)))
    assert (shell.props.annual_kwh, shell.props.noise_sigma) == (5000.0, 0.1)
    assert shell.setups == 2 and dev.pending_props is None
    assert dev.describe()["device"] == "house"


def test_control_and_finished_messages():
    dev = DeviceProtocol(Probe())
    st = {"state": "paused", "speed": "60x", "window": 3, "tick": 6, "ticks_total": 10,
          "sim_time": START + 360.0}
    assert dev.handle(ControlReceived(st)) == []
    assert dev.snapshot()["clock"]["state"] == "paused"
    fin = {"ok": False, "message": "x", "missing": ["house"], "status": st}
    assert dev.handle(Finished(fin)) == [RunEnded(False)]
    assert dev.handle(Finished(fin)) == []  # once
    assert dev.finished and dev.clock_view["state"] == "failed"


# ---------------------------------------------------------------------- reports, packets


def test_report_encoding_keeps_the_wire_format():
    w = Window("r", 3, 6, 2, 60.0, START, "max")
    env = {"energy": 1.0, "e_min": 0.0, "e_max": 2.0, "p_charge_max": 1.0,
           "p_discharge_max": 1.0, "eta_charge": 0.9, "eta_discharge": 0.9, "capacity": 3.0}
    Battery = REGISTRY.report_type("battery")
    payload, checked = encode_report(w, "battery", "battery", Battery(envelope=env))
    assert plain(payload) == {"run": "r", "window": 3, "tick0": 6, "n": 2, "device": "battery",
                       "kind": "battery", "signals": {}, "envelope": env}
    # the checked envelope has the contract's defaults filled in (a DC-coupled battery)
    assert checked.envelope == {**env, "coupling": "dc", "eta_ac_dc": 1.0, "eta_dc_ac": 1.0,
                                "p_ac_max": None}
    Load = REGISTRY.report_type("load")
    payload, checked = encode_report(w, "house", "load", Load(demand=np.array([1, 2])))
    assert plain(payload["signals"]) == {"demand": [1.0, 2.0]} and "params" not in payload
    assert checked.demand.dtype == float


def test_a_malformed_report_is_refused_on_both_sides():
    """Producing side: encode_report raises (the phase fails, naming device and field);
    receiving side: a report of an input that breaks its schema fails the window."""
    w = Window("r", 0, 0, N, 60.0, START, "max")
    Load = REGISTRY.report_type("load")
    with pytest.raises(ReportError, match="report of house: signals.demand: shape"):
        encode_report(w, "house", "load", Load(demand=np.zeros(N + 1)))
    with pytest.raises(ReportError, match="a load reports a LoadReport"):
        encode_report(w, "house", "load", REGISTRY.report_type("pv")(
            dc=np.zeros(N), solar=np.zeros(N), v_dc=np.zeros(N)))
    pv = DeviceProtocol(shell_class("pv")(HOME, "pv-south"))
    pv.handle(WindowOpened(window_msg(0)))
    bad = report_msg("weather", 0)
    bad["signals"]["temp_air"] = [float("nan")] * N
    acts = pv.handle(ReportReceived(bad))
    (settle,) = [a.payload for a in acts if isinstance(a, Publish) and a.topic == T.SETTLE]
    assert settle["device"] == "pv-south" and settle["window"] == 0
    assert "report of weather: signals.temp_air" in settle["error"]
    # a forged report of a device that is not an input is ignored, not fatal
    other = DeviceProtocol(shell_class("pv")(HOME, "pv-south"))
    other.handle(WindowOpened(window_msg(0)))
    forged = {**bad, "device": "mars"}
    assert other.handle(ReportReceived(forged)) == []


def test_report_round_trip_and_strict_validation():
    payload = report_msg("weather", 3, ghi=7.0)
    win, device, rep = decode_report(payload)
    assert (win, device, ghi(rep)) == (3, "weather", [7.0, 7.0])
    w = Window("r", 3, 6, 2, 60.0, START, "max")
    assert encode_report(w, "weather", "weather", rep)[0] == payload
    for bad in ({**payload, "window": "3"}, {**payload, "n": 2.0}, [payload]):
        with pytest.raises(ValueError):
            decode_report(bad)
    pk, arrays = validate_packets(packets_msg("inverter", 0, [("inverter", "house", [1, 2.5])]))
    assert pk.publisher == "inverter" and arrays[0].tolist() == [1.0, 2.5]


# ---------------------------------------------------------------------- the balancer


def _shells(home=HOME) -> dict[str, DeviceShell]:
    return {d.name: shell_class(d.kind)(home, d.name, seed=home.spec.simulation.seed)
            for d in home.spec.enabled()}


def reports_of_everybody_but_the_inverter(protos: dict[str, DeviceProtocol],
                                         w: dict) -> dict[str, dict]:
    reports: dict[str, dict] = {}
    pending: list = [WindowOpened(w)]
    while pending:
        ev = pending.pop(0)
        for name, p in protos.items():
            if name == "inverter":
                continue
            for a in p.handle(ev):
                if isinstance(a, Publish) and a.topic.endswith(".report"):
                    reports[a.payload["device"]] = a.payload
                    pending.append(ReportReceived(a.payload))
    return reports


NOON = {**window_msg(0, n=60), "tick0": 720}  # the PV produces


def test_the_balancer_waits_for_every_bus_report():
    protos = {name: DeviceProtocol(s) for name, s in _shells().items()}
    inv = protos["inverter"]
    assert inv.sources == {"pv-south", "battery", "grid", "house"}
    reports = reports_of_everybody_but_the_inverter(protos, NOON)
    assert set(reports) == set(DEVICES) - {"inverter"}
    acts = inv.handle(WindowOpened(NOON))
    assert topics(acts) == [T.report("inverter")]  # it reports, but cannot balance yet
    for dev in ("weather", "sun", "pv-south", "battery", "grid"):
        assert inv.handle(ReportReceived(reports[dev])) == []
    acts = inv.handle(ReportReceived(reports["house"]))
    assert topics(acts) == [T.packets("inverter"), T.SETTLE, "WindowSettled"]
    flows = {(f["source"], f["sink"]): unpack(f["joules"]) for f in acts[0].payload["flows"]}
    assert sum(flows[("pv-south", "inverter")]) > 0
    assert settles(acts)[0]["packets"] == 1
    # the house applies the inverter's packets and settles
    acts = protos["house"].handle(PacketsReceived(acts[0].payload))
    assert topics(acts)[0] == T.SETTLE and settles(acts)[0]["device"] == "house"


def test_a_balance_raising_gives_an_error_settle():
    shells = _shells()
    protos = {name: DeviceProtocol(s) for name, s in shells.items()}
    reports = reports_of_everybody_but_the_inverter(protos, NOON)

    def broken(window, reports):
        return 1 / 0

    shells["inverter"].balance = broken
    inv = protos["inverter"]
    inv.handle(WindowOpened(NOON))
    acts = [a for dev in ("pv-south", "battery", "grid", "house")
            for a in inv.handle(ReportReceived(reports[dev]))]
    assert settles(acts) == [{"run": "r", "window": 0, "tick0": 720, "n": 60,
                              "device": "inverter", "packets": 0,
                              "error": "ZeroDivisionError: division by zero"}]
    assert topics(acts) == [T.SETTLE]


# ---------------------------------------------------------------------- clock


def clock(ticks: int = 3 * 1440, speed: str = "max", timeout: float = 3.0,
          window: int | None = None) -> ClockProtocol:
    c = ClockProtocol(DEVICES, "r", START, 60.0, ticks, speed, timeout, window, wall0=0.0)
    for name in DEVICES:
        c.joined(name, ["weather", "sun"] if name == "pv-south" else [])
    c.begin(100.0)
    return c


def settle_all(c: ClockProtocol, win: int, but: tuple[str, ...] = ()) -> list:
    acts: list = []
    for d in [*DEVICES, "ledger"]:
        if d not in but:
            acts += c.handle(SettleReceived({"run": "r", "window": win, "tick0": 0, "n": 1,
                                             "device": d, "packets": 0}))
    return acts


def test_clock_opens_windows_and_closes_them_when_everybody_settled():
    c = clock(ticks=3000)
    assert c.next_window() == Publish(T.WINDOW, {"run": "r", "window": 0, "tick0": 0, "n": 1440,
                                                 "dt": 60.0, "start": START, "speed": "max"})
    # at max speed the next window is open while this one settles (WINDOWS_IN_FLIGHT = 2)
    second = c.next_window()
    assert (second.payload["window"], second.payload["tick0"]) == (1, 1440)
    assert c.next_window() is None  # two at a time
    assert settle_all(c, 0, but=("ledger",)) == []
    acts = c.handle(SettleReceived({"run": "r", "window": 0, "tick0": 0, "n": 1440,
                                    "device": "ledger", "packets": 0}))
    assert acts == [WindowClosed(0, 1440, 1440)]
    assert (c.window, c.tick) == (1, 1440)
    last = c.next_window()
    assert last.payload["n"] == 3000 - 2880  # the last window is cut to the run
    assert c.next_window() is None  # the open windows reach the end of the run
    settle_all(c, 1)
    assert settle_all(c, 2) == [WindowClosed(2, 120, 3000)]
    assert c.next_window() == RunFinished(True, "completed")
    assert c.state == "finished"
    msg = c.finished_message(c.result, now=110.0)
    assert msg["status"]["wall_elapsed"] == 10.0 and msg["missing"] == []


def test_windows_close_in_order_and_paced_speeds_keep_one_open():
    c = clock()
    c.next_window()
    c.next_window()
    # every participant of window 1 settles it before window 0 is complete: nothing closes
    # until window 0 does, then both close, oldest first
    assert settle_all(c, 1) == []
    assert (c.window, c.tick, list(c.open)) == (0, 0, [0, 1])
    assert settle_all(c, 0, but=("grid",)) == []
    acts = c.handle(SettleReceived({"run": "r", "window": 0, "tick0": 0, "n": 1440,
                                    "device": "grid", "packets": 0}))
    assert acts == [WindowClosed(0, 1440, 1440), WindowClosed(1, 1440, 2880)]
    assert (c.window, c.tick, c.open) == (2, 2880, {})
    # an error settle of the second open window names its own sim time
    c = clock()
    c.next_window()
    c.next_window()
    (res,) = c.handle(SettleReceived({"run": "r", "window": 1, "tick0": 1440, "n": 1440,
                                      "device": "grid", "packets": 0, "error": "boom"}))
    assert res.message == "window 1 failed at sim time 2025-01-02 05:00:00 UTC: grid: boom"
    # paced: one window at a time
    c = clock(speed="60x")
    assert c.in_flight() == 1
    assert c.next_window() is not None and c.next_window() is None


def test_clock_ignores_garbage_duplicate_late_and_unknown_settles():
    c = clock()
    c.next_window()
    good = {"run": "r", "window": 0, "tick0": 0, "n": 1440, "device": "house", "packets": 0}
    for bad in ["x", None, {**good, "window": "0"}, {**good, "device": 3},
                {**good, "error": 5}, {**good, "device": "mallory", "error": "evil"},
                {**good, "window": 7, "error": "future"}, {**good, "packets": -1}]:
        assert c.handle(SettleReceived(bad)) == []
    assert c.state == "running"
    settle_all(c, 0)
    assert c.handle(SettleReceived({**good, "error": "late"})) == []  # window 0 is closed
    assert c.state == "running" and c.window == 1
    assert c.handle(ReportReceived({"window": "1", "device": "x"})) == []
    assert c.handle(PacketsReceived({"bad": 1})) == []
    c.handle(PacketsReceived(packets_msg("pv-south", 1, [("sun", "pv-south", [1.0, 2.0])])))
    assert c.status(0.0)["energy"] == {"sun->pv-south": 3.0}


def test_an_error_settle_fails_the_run_naming_the_device():
    c = clock()
    c.next_window()
    settle_all(c, 0, but=("battery", "house", "ledger"))
    acts = c.handle(SettleReceived({"run": "r", "window": 0, "tick0": 0, "n": 1440,
                                    "device": "battery", "packets": 0,
                                    "error": "ValueError: SoC limits"}))
    assert acts == [RunFinished(False, "window 0 failed at sim time 2025-01-01 05:00:00 UTC: "
                                       "battery: ValueError: SoC limits", ("battery",))]
    assert c.state == "failed" and c.next_window() is None
    assert settle_all(c, 0) == [] and c.timed_out(0) == []


def test_timeout_names_the_silent_device_not_those_waiting_on_it():
    c = clock()
    c.next_window()
    # weather is stopped: it does not report; pv (input weather) cannot report either
    for d in DEVICES:
        if d not in ("weather", "pv-south"):
            c.handle(ReportReceived({"window": 0, "device": d}))
    settle_all(c, 0, but=("weather", "pv-south", "inverter", "battery", "grid", "house",
                          "ledger"))
    assert c.timed_out(1) == []  # not the open window
    (res,) = c.timed_out(0)
    assert res == RunFinished(
        False, "device(s) weather did not report window 0 (sim time 2025-01-01 05:00:00 UTC) "
               "within 3 s; waiting on it: pv-south, inverter, battery, grid, house, ledger",
        ("weather",))
    assert c.state == "failed" and c.timed_out(0) == []


def test_timeout_after_every_report_names_who_did_not_settle():
    c = clock()
    c.next_window()
    for d in DEVICES:
        c.handle(ReportReceived({"window": 0, "device": d}))
    settle_all(c, 0, but=("house", "ledger"))
    (res,) = c.timed_out(0)
    assert res.missing == ("house",)  # the ledger waits on the house
    assert res.message.startswith("device(s) house did not settle window 0")
    c = clock()
    c.next_window()
    for d in DEVICES:
        c.handle(ReportReceived({"window": 0, "device": d}))
    settle_all(c, 0, but=("ledger",))
    assert c.timed_out(0)[0].missing == ("ledger",)


def test_pause_mid_window_takes_effect_at_the_boundary():
    c = clock()
    c.next_window()
    st = c.pause(now=101.0)
    assert st.topic == T.CONTROL and st.payload["state"] == "paused"
    assert settle_all(c, 0) == [WindowClosed(0, 1440, 1440)]  # the open window completes
    assert c.next_window() is None  # no new window while paused
    assert c.resume(now=200.0).payload["state"] == "running"
    assert c.next_window().payload["window"] == 1


def test_set_speed_mid_window_takes_effect_at_the_boundary():
    c = clock()
    assert c.next_window().payload["n"] == 1440
    with pytest.raises(InvalidArgument):
        c.set_speed("fast", now=100.5)
    assert c.set_speed("60x", now=101.0).payload["speed"] == "60x"
    settle_all(c, 0)  # the open day-long window is not paced at 60x afterwards
    assert c.pacing_delay(now=101.2) == 0.0
    nxt = c.next_window().payload
    assert (nxt["n"], nxt["speed"], nxt["tick0"]) == (window_ticks("60x", 60.0), "60x", 1440)
    settle_all(c, 1)  # 1 tick of 60 s at 60x lasts 1 s of wall time from the boundary
    assert c.pacing_delay(now=101.5) == pytest.approx(0.5)
    assert c.pacing_delay(now=103.0) == 0.0
    c.set_speed("max", now=103.0)
    assert c.pacing_delay(now=103.0) == 0.0 and c.next_window().payload["n"] == 1440


def test_realtime_pacing_follows_the_wall_clock():
    c = clock(speed="realtime")
    assert c.next_window().payload["n"] == 1
    assert c.pacing_delay(now=100.0) == 0.0  # tick 0 is due at the start
    settle_all(c, 0)  # settled after 0.1 s: tick 1 is due 60 s after the start
    assert c.pacing_delay(now=100.1) == pytest.approx(59.9)
    assert c.pacing_delay(now=130.0) == 30.0 and c.pacing_delay(now=170.0) == 0.0


# ---------------------------------------------------------------------- a whole home


def run_home(window: int | None, shuffle: int | None = None, ticks: int = 24,
             dt: float = 3600.0) -> tuple[dict, list]:
    """The example home's device protocols and the clock exchanging messages in-process, as
    a router would deliver them: in order, or (``shuffle``: a seed) every pending delivery
    (message, subscriber) in a random order, so a device may get a report or packets of a
    window before the window itself. Returns the packets ``{(tick, source, sink): joules}``
    and the devices' actions on the clock's finish."""
    rng = random.Random(shuffle)
    devs = {name: DeviceProtocol(s) for name, s in _shells().items()}
    c = ClockProtocol(DEVICES, "r", START, dt, ticks, "max", 10.0, window, wall0=0.0)
    control = c.begin(0.0)
    for d in devs.values():  # the clock's control message is valid for every device
        assert d.handle(ControlReceived(control.payload)) == []
        assert d.clock_view["state"] == "running"
    packets: dict[tuple, float] = {}
    settled_by: dict[int, set[str]] = {}
    queue: list[tuple[Any, Any]] = []  # (device protocol or the clock, event)

    def publish(msg: Publish) -> None:
        """Queue one delivery per subscriber of ``msg``."""
        p = msg.payload
        if msg.topic == T.WINDOW:
            queue.extend((d, WindowOpened(p)) for d in devs.values())
        elif msg.topic.endswith(".report"):
            queue.append((c, ReportReceived(p)))
            queue.extend((d, ReportReceived(p)) for d in devs.values()
                         if p["device"] in d.sources)
        elif T.packet_publisher(msg.topic) is not None:
            assert msg.topic == T.packets(p["publisher"])
            for f in p["flows"]:
                for i, j in enumerate(unpack(f["joules"]).tolist()):
                    key = (p["tick0"] + i, f["source"], f["sink"])
                    assert key not in packets
                    packets[key] = j
            queue.append((c, PacketsReceived(p)))
            queue.extend((d, PacketsReceived(p)) for d in devs.values() if d.publishers)
        elif msg.topic == T.SETTLE:
            assert "error" not in p, p
            queue.append((c, SettleReceived(p)))
            by = settled_by.setdefault(p["window"], set())
            by.add(p["device"])
            if by == set(DEVICES):  # a minimal ledger settles after every device
                publish(Publish(T.SETTLE, {**p, "device": "ledger"}))

    while isinstance(act := c.next_window(), Publish):
        publish(act)
        closed: list = []
        while queue:
            target, event = queue.pop(rng.randrange(len(queue)) if shuffle is not None else 0)
            if target is c:
                closed += c.handle(event)
            else:
                for a in target.handle(event):
                    if isinstance(a, Publish):
                        publish(a)
        assert len(closed) == 1 and isinstance(closed[0], WindowClosed), closed
    assert act == RunFinished(True, "completed") and c.tick == ticks
    fin = c.finished_message(act, now=1.0)
    return packets, [a for d in devs.values() for a in d.handle(Finished(fin))]


def test_a_whole_home_in_process_any_window_size_any_delivery_order():
    day, ended = run_home(window=None)
    assert ended == [RunEnded(True)] * len(DEVICES)
    assert sum(v for (t, s, k), v in day.items() if s == "pv-south") > 0
    ticks, _ = run_home(window=1)
    mixed, _ = run_home(window=5, shuffle=7)
    assert ticks.keys() == day.keys() == mixed.keys()
    for key, v in day.items():
        assert ticks[key] == pytest.approx(v, rel=1e-9, abs=1e-9)
        assert mixed[key] == pytest.approx(v, rel=1e-9, abs=1e-9)


def test_a_forged_window_does_not_open():
    """The clock opens w+1 right after w at the tick where w ended: a window 10^9, a gap, a
    jump in ticks or another run is not a window (before: KeyError in the grid)."""
    shell = Probe(inputs=())
    dev = DeviceProtocol(shell)
    dev.handle(WindowOpened(window_msg(0)))
    for bad in ({**window_msg(1), "window": 10**9}, window_msg(3),
                {**window_msg(1), "tick0": 7}, {**window_msg(1), "run": "other"},
                {**window_msg(1), "n": 0}, {**window_msg(1), "window": True}):
        assert dev.handle(WindowOpened(bad)) == []
    assert sorted(dev.windows) == [0] and dev.last_window == 0
    # the real next window still opens after the settle of window 0
    dev.handle(PacketsReceived(to_house("inverter", 0)))
    assert topics(dev.handle(WindowOpened(window_msg(1)))) == [T.report("house")]
