"""Device state at a window boundary: every kind's ``dump_state`` / ``load_state``.

* A restored home continues exactly: run k windows of an example home in process
  (``homesim_loop.HomeLoop``: real shells and protocols, no router), save every device's state
  (through JSON), build fresh shells from it, run m more windows: every report, packet
  message, settle and event is the same as the original's, bit for bit (MessagePack bytes),
  and so are the states after them.
* Each persisted field is needed (drop it and the continuation differs), and no attribute
  changes during a run without being persisted (or being per-window scratch).
* ``load_state(dump_state())`` gives the same dump for every kind; garbage is refused with a
  ValueError naming the field.
"""

from __future__ import annotations

import copy
import json
import math
import os
import pickle
import subprocess
import sys
import time
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pytest
from homesim_loop import HomeLoop, LoopError, Message, wire_bytes
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from homesim.devices.__main__ import shell_class
from homesim.devices.bus.protocol import T
from homesim.devices.bus.store import LedgerStore
from homesim.devices.kinds.base import DeviceShell
from homesim.devices.kinds.load import LoadShell
from homesim.devices.kinds.persist import NONFINITE, decode, encode
from homesim.infra.supervisor import RunOptions, prepare_home
from homesim.schemas.manifest import Home, load_any
from homesim.schemas.registry import REGISTRY

ROOT = Path(__file__).resolve().parents[1]
DT = 900.0
#: example -> (duration, ticks per window): 6-hour windows, so boundaries fall at midnight,
#: in the morning, at noon and in the evening (mid-night, mid-EV-session)
CASES = {"home": ("4d", 24), "ev-home": ("4d", 24), "block": ("3d", 24),
         "block-economic": ("3d", 24), "pv-inverter": ("2d", 24)}
SETTINGS = settings(max_examples=6, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


@cache
def home_of(name: str, until: str) -> Home:
    """An example home, shortened and at dt = 900 s (``block-economic``: the block with the
    heat node's economic broker, whose last choices are state, gas cheap enough that the
    broker switches between the heat pump and the boiler, and the flats' tanks heated by the
    node, so that the broker prices hot water too)."""
    home = load_any(ROOT / "examples" / f"{name.removesuffix('-economic')}.yaml")
    if name.endswith("-economic"):
        data = home.model_dump(mode="json")
        for d in data["spec"]["devices"]:
            if d["kind"] == "heat_node":
                d["properties"]["strategy"] = "economic"
            if d["kind"] == "boiler":
                d["properties"]["gas_price"] = 0.06
            if d["kind"] == "dhw_tank":
                d["properties"]["heated_by"] = "heat_node"
        home = Home.model_validate(data)
    return prepare_home(home, RunOptions(until=until, dt=DT))


def _plain(messages: list[Message]) -> list[Message]:
    """The devices' and the ledger's messages, and the clock's windows (not its control and
    finished messages, which carry wall-clock status)."""
    return [m for m in messages if m.topic not in (T.CONTROL, T.FINISHED)]


class Original:
    """One undisturbed run of a home, with every device's state saved (through JSON) at every
    window boundary and the messages of every window."""

    def __init__(self, name: str, window: int | None = None) -> None:
        """``name``: a key of CASES, optionally ``@<duration>`` (e.g. ``ev-home@2d``)."""
        base, _, until = name.partition("@")
        self.home = home_of(base, until or CASES[base][0])
        self.window = window or CASES[base][1]
        loop = HomeLoop(self.home, run_id="r", window=self.window)
        self.states = [json.dumps(loop.dump(), allow_nan=False)]
        self.people = [self._people(loop)]
        self.positions = [loop.position]
        self.windows: list[list[Message]] = []
        self.seconds = 0.0
        while not loop.done:
            t0 = time.perf_counter()
            msgs = loop.run(1)
            self.seconds += time.perf_counter() - t0
            self.windows.append(_plain(msgs))
            self.states.append(json.dumps(loop.dump(), allow_nan=False))
            self.people.append(self._people(loop))
            self.positions.append(loop.position)
        self.loop = loop

    @staticmethod
    def _people(loop: HomeLoop) -> str:
        return json.dumps({n: s.state() for n, s in loop.shells.items()}, sort_keys=True)

    @property
    def count(self) -> int:
        return len(self.windows)

    def restored(self, k: int, **kw: Any) -> HomeLoop:
        return HomeLoop(self.home, run_id="r", window=self.window,
                        states=json.loads(self.states[k]), at=self.positions[k], **kw)


@cache
def original(name: str, window: int | None = None) -> Original:
    return Original(name, window)


def differences(got: list[Message], want: list[Message], ordered: bool = True) -> list[str]:
    """Human-readable differences of two message sequences (empty: bit for bit equal)."""
    if not ordered:
        got = sorted(got, key=Message.key)
        want = sorted(want, key=Message.key)
    out = []
    if len(got) != len(want):
        out.append(f"{len(got)} messages, expected {len(want)}")
    for a, b in zip(got, want, strict=False):
        if a.key() != b.key():
            fields = sorted(k for k in set(a.payload) | set(b.payload)
                            if wire_bytes(a.payload.get(k)) != wire_bytes(b.payload.get(k)))
            out.append(f"{a.sender} {a.topic} window {a.window}: differs in {fields} "
                       f"(expected {b.sender} {b.topic} window {b.window})")
            if len(out) > 5:
                break
    return out


def check_continuation(orig: Original, k: int, m: int, shuffle: int | None = None) -> None:
    """Restore the state saved after window k; the next m windows equal the original's."""
    m = min(m, orig.count - k)
    loop = orig.restored(k, shuffle=shuffle)
    got = _plain(loop.run(m))
    want = [msg for w in orig.windows[k:k + m] for msg in w]
    assert want and any(x.topic == T.SETTLE for x in want)
    diff = differences(got, want, ordered=shuffle is None)
    assert not diff, f"restored after window {k - 1}, {m} windows:\n" + "\n".join(diff)
    assert loop.position == orig.positions[k + m]
    assert json.dumps(loop.dump(), allow_nan=False) == orig.states[k + m]
    people = json.dumps({n: s.state() for n, s in loop.shells.items()}, sort_keys=True)
    assert people == orig.people[k + m]


def _first(orig: Original, pred: Any) -> int:
    """The first window boundary k > 0 whose saved states satisfy ``pred``."""
    for k in range(1, orig.count):
        if pred(json.loads(orig.states[k])):
            return k
    raise AssertionError("no such window boundary")


# ---------------------------------------------------------------------- the harness


def test_saving_state_does_not_disturb_the_run():
    """The original (saved after every window) publishes what a run that never saves does,
    and the harness' deliveries are copies: a run twice gives the same bytes."""
    orig = original("ev-home")
    plain = HomeLoop(orig.home, run_id="r", window=orig.window)
    msgs = _plain(plain.run())
    assert not differences(msgs, [m for w in orig.windows for m in w])


# ---------------------------------------------------------------------- continuation


@pytest.mark.parametrize("name", list(CASES))
def test_restore_at_the_start_the_end_at_night_and_mid_session(name):
    orig = original(name)
    ks = {0, 1, orig.count - 1}
    midnight = [k for k in range(1, orig.count) if (orig.positions[k][1] * DT) % 86400 == 0]
    ks.add(midnight[0])  # the run starts at local midnight
    chargers = [n for n, s in json.loads(orig.states[0]).items() if s["kind"] == "ev_charger"]
    if chargers:  # a car plugged in with energy still to charge
        k = _first(orig, lambda s: any(s[c]["ev_state"] and s[c]["last"]["connected"]
                                       and list(s[c]["ev_state"].values())[0] > 0
                                       for c in chargers))
        ks.add(k)
    for k in sorted(ks):
        check_continuation(orig, k, m=4)


@pytest.mark.parametrize("name", list(CASES))
@SETTINGS
@given(data=st.data())
def test_restore_anywhere_continues_bit_for_bit(name, data):
    orig = original(name)
    k = data.draw(st.integers(0, orig.count - 1), label="k")
    m = data.draw(st.integers(1, orig.count - k), label="m")
    check_continuation(orig, k, m)


@pytest.mark.parametrize("window", [96, 7, 1])
@settings(max_examples=3, deadline=None, derandomize=True, database=None)
@given(data=st.data())
@example(data=None)
def test_other_window_sizes(window, data):
    """Day-long windows, windows of 7 ticks (boundaries at odd times, a short last window),
    windows of one tick (the realtime split)."""
    orig = original("ev-home@2d" if window == 1 else "ev-home", window)
    if data is None:
        k, m = orig.count // 2, 3
    else:
        k = data.draw(st.integers(0, orig.count - 1), label="k")
        m = data.draw(st.integers(1, 4), label="m")
    check_continuation(orig, k, m)


def test_delivery_order_does_not_matter_after_a_restore():
    orig = original("block-economic")
    check_continuation(orig, 5, 3, shuffle=11)


def test_a_restored_home_books_the_same_ledger_rows(tmp_path):
    """With the real ledger (SQLite): the rows a restored home books after the restore point
    are those the original booked there (a fork with no change, in a fresh ledger file)."""

    orig = original("ev-home")
    k = orig.count // 2 + 1
    a = HomeLoop(orig.home, run_id="r", window=orig.window, ledger_db=tmp_path / "a.sqlite")
    a.run()
    a.close()
    b = orig.restored(k, ledger_db=tmp_path / "b.sqlite")
    b.run()
    b.close()
    tick = orig.positions[k][1]
    rows = []
    for db in ("a", "b"):
        with LedgerStore.open(tmp_path / f"{db}.sqlite") as store:
            rows.append(sorted(store.packets(tick)))
    assert rows[0] and rows[0] == rows[1]


CONTINUE_SCRIPT = r"""
import hashlib, json, sys
sys.path.insert(0, sys.argv[1])
from homesim_loop import HomeLoop
from homesim.schemas.manifest import Home

doc = json.loads(open(sys.argv[2]).read())
loop = HomeLoop(Home.model_validate(doc["home"]), run_id="r", window=doc["window"],
                states=doc["states"], at=tuple(doc["at"]))
for m in loop.run(doc["m"]):
    if m.topic not in ("homesim.clock.control", "homesim.clock.finished"):
        print(hashlib.sha256(m.key()).hexdigest())
"""


@pytest.mark.parametrize(("name", "k"), [("block-economic", 5), ("ev-home", 9)])
def test_a_restore_in_a_new_process_continues_bit_for_bit(tmp_path, name, k):
    """A fresh interpreter (every cache cold: weather file, profiles, hplib fits, pvlib)
    continues from the saved states as the original process did."""
    import hashlib

    orig = original(name)
    m = orig.count - k
    doc = {"home": orig.home.model_dump(mode="json"), "window": orig.window,
           "states": json.loads(orig.states[k]), "at": orig.positions[k], "m": m}
    path = tmp_path / "restore.json"
    path.write_text(json.dumps(doc, allow_nan=False))
    res = subprocess.run([sys.executable, "-c", CONTINUE_SCRIPT, str(ROOT / "tests"),
                          str(path)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    want = [hashlib.sha256(x.key()).hexdigest() for w in orig.windows[k:] for x in w]
    assert res.stdout.split() == want


# ---------------------------------------------------------------------- the tests can fail


def _mutants() -> list[tuple[str, str]]:
    """Every ``(kind, persisted field)`` of the examples' kinds."""
    out: list[tuple[str, str]] = []
    for name in CASES:
        for d in home_of(name, CASES[name][0]).spec.enabled():
            out += [(d.kind, f) for f in shell_class(d.kind).persist
                    if (d.kind, f) not in out]
    return out


def _changes(kind: str, field: str) -> tuple[str, int] | None:
    """An example and a window boundary (in the middle of those that qualify) where
    ``field`` of some ``kind`` device is no longer what it was at the start."""
    for name in CASES:
        orig = original(name)
        first = json.loads(orig.states[0])
        devs = [n for n, x in first.items() if x["kind"] == kind]
        ks = [k for k in range(1, orig.count - 1)
              if any(json.loads(orig.states[k])[d][field] != first[d][field] for d in devs)]
        if ks:
            return name, ks[len(ks) // 2]
    return None


@pytest.mark.parametrize(("kind", "field"), _mutants())
def test_every_persisted_field_matters(kind, field, monkeypatch):
    """Forget one persisted field (the fresh shells keep its initial value): the
    continuation differs (messages or states), so the comparison can fail and the field is
    needed. It is tested at a boundary where the field has changed since the start."""
    found = _changes(kind, field)
    if found is None:
        pytest.skip(f"{kind}.{field} never changes in the examples' first days")
    name, k = found
    orig = original(name)
    cls = shell_class(kind)
    states = json.loads(orig.states[k])
    for st_ in states.values():
        if st_["kind"] == kind:
            del st_[field]
    monkeypatch.setattr(cls, "persist", tuple(f for f in cls.persist if f != field))
    loop = HomeLoop(orig.home, run_id="r", window=orig.window, states=states,
                    at=orig.positions[k])
    # what people read right after the restore (``get``, the snapshot's ``state``)
    before = json.loads(orig.people[k])
    if any(json.dumps(sh.state(), sort_keys=True) != json.dumps(before[n], sort_keys=True)
           for n, sh in loop.shells.items() if sh.kind == kind):
        return
    m = orig.count - k
    try:
        got = _plain(loop.run(m))
    except LoopError:  # a device refused what it was given (e.g. a battery beyond its limits)
        return
    want = [msg for w in orig.windows[k:] for msg in w]
    final = json.loads(orig.states[k + m])
    lost = [d for d, sh in loop.shells.items() if sh.kind == kind
            and encode(getattr(sh, field), field) != final[d][field]]
    assert differences(got, want) or lost, \
        f"forgetting {kind}.{field} at window {k} of {name} changes nothing"


#: attributes that change during a window but are not state at its boundary: what a report
#: (or the balance) computes for the settle of the same window, and the sun's last position
#: (shown by ``state()`` only, recomputed by every report)
SCRATCH = {"_win", "_last"}


@pytest.mark.parametrize("name", list(CASES))
def test_nothing_changes_during_a_run_without_being_persisted(name):
    """Every attribute of every shell that differs after a run from a fresh shell is in
    ``persist`` (or per-window scratch): a kind that keeps state nobody saves fails here.
    Model objects are compared attribute by attribute, except their private attributes
    (lazily filled caches of pure functions, e.g. a profile's yearly tables)."""
    assert _unpersisted(original(name)) == []


def test_unpersisted_state_is_found(monkeypatch):
    from homesim.devices.kinds.battery import BatteryShell

    monkeypatch.setattr(BatteryShell, "persist", ())
    assert [x.split(":")[0] for x in _unpersisted(original("home"))] == ["battery.energy"]


def _unpersisted(orig: Original) -> list[str]:
    """Attributes that differ between the shells after the run and fresh ones, and are
    neither persisted nor scratch."""
    fresh = HomeLoop(orig.home, run_id="r", window=orig.window)
    out = []
    for dev, shell in orig.loop.shells.items():
        new = fresh.shells[dev]
        assert set(vars(shell)) - SCRATCH == set(vars(new)) - SCRATCH, dev
        for attr, value in vars(shell).items():
            if attr in SCRATCH or attr in type(shell).persist:
                continue
            why = _unlike(value, vars(new)[attr], f"{dev}.{attr}")
            if why is not None:
                out.append(why)
    return out


def _unlike(a: Any, b: Any, path: str, depth: int = 0) -> str | None:
    """Where ``a`` and ``b`` differ (None: alike)."""
    if a is b or depth > 12:
        return None
    if type(a) is not type(b):
        return f"{path}: {type(a).__name__} vs {type(b).__name__}"
    if isinstance(a, np.ndarray):
        return None if a.shape == b.shape and a.tobytes() == b.tobytes() else path
    if isinstance(a, (float, int, str, bytes, bool, type(None))):
        return None if pickle.dumps(a) == pickle.dumps(b) else f"{path}: {a!r} vs {b!r}"
    if isinstance(a, dict):
        if list(a) != list(b):
            return f"{path}: keys {list(a)} vs {list(b)}"
        return next((w for k in a if (w := _unlike(a[k], b[k], f"{path}.{k}", depth + 1))),
                    None)
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            return f"{path}: {len(a)} vs {len(b)} items"
        return next((w for i, (x, y) in enumerate(zip(a, b, strict=True))
                     if (w := _unlike(x, y, f"{path}[{i}]", depth + 1))), None)
    if hasattr(a, "equals"):  # pandas
        return None if a.equals(b) else path
    if callable(a) and not hasattr(a, "__dict__"):
        return None
    try:
        fields = vars(a)
    except TypeError:
        return None if pickle.dumps(a) == pickle.dumps(b) else path
    return next((w for k, x in fields.items() if not k.startswith("_")
                 if (w := _unlike(x, vars(b).get(k), f"{path}.{k}", depth + 1))), None)


# ---------------------------------------------------------------------- per kind


def _all_shells() -> list[tuple[str, str]]:
    """One device of every kind in the examples: ``(example, device)``."""
    out, kinds = [], set()
    for name in ("block-economic", "ev-home", "home", "pv-inverter"):
        for d in home_of(name, CASES[name][0]).spec.enabled():
            if d.kind not in kinds:
                kinds.add(d.kind)
                out.append((name, d.name))
    return out


SHELLS = _all_shells()


def test_every_kind_is_covered():
    assert {home_of(n, CASES[n][0]).spec.device(d).kind for n, d in SHELLS} \
        == set(REGISTRY.names()) - {"kettle"}


def _ran(name: str, device: str) -> DeviceShell:
    """The shell of ``device`` after half of the original run (non-trivial state)."""
    orig = original(name)
    shell = _fresh(name, device)
    shell.load_state(json.loads(orig.states[orig.count // 2])[device])
    return shell


def _fresh(name: str, device: str) -> DeviceShell:
    home = home_of(name, CASES[name][0])
    return shell_class(home.spec.device(device).kind)(home, device,
                                                       seed=home.spec.simulation.seed)


@pytest.mark.parametrize(("name", "device"), SHELLS)
def test_dump_load_dump_is_the_same_for_every_kind(name, device):
    shell = _ran(name, device)
    saved = shell.dump_state()
    assert saved["kind"] == shell.kind and saved["version"] == 1
    assert set(saved) == {"kind", "version", *type(shell).persist}
    text = json.dumps(saved, allow_nan=False)  # strict JSON: no NaN, no numpy values
    assert json.loads(text) == saved
    again = _fresh(name, device)
    again.load_state(json.loads(text))
    assert again.dump_state() == saved
    assert json.dumps(again.state(), sort_keys=True) == json.dumps(shell.state(), sort_keys=True)
    for f in type(shell).persist:  # exact: the same types and bits
        assert pickle.dumps(getattr(again, f)) == pickle.dumps(getattr(shell, f)), f


def _leaves(node: Any, path: tuple = ()) -> list[tuple[tuple, Any]]:
    if isinstance(node, dict):
        return [x for k, v in node.items() for x in _leaves(v, (*path, k))]
    if isinstance(node, list):
        return [x for i, v in enumerate(node) for x in _leaves(v, (*path, i))]
    return [(path, node)]


def _set(state: dict, path: tuple, value: Any) -> dict:
    out = copy.deepcopy(state)
    node = out
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value
    return out


def _refused(shell: DeviceShell, state: Any, *words: str) -> str:
    before = shell.dump_state()
    with pytest.raises(ValueError) as err:
        shell.load_state(state)
    text = str(err.value)
    for w in words:
        assert w in text, f"{text!r} does not name {w!r}"
    assert shell.dump_state() == before  # nothing changed
    return text


@pytest.mark.parametrize(("name", "device"), SHELLS)
def test_garbage_is_refused_naming_the_field(name, device):
    shell = _fresh(name, device)
    good = _ran(name, device).dump_state()
    _refused(shell, [good], "mapping")
    _refused(shell, {**good, "kind": "toaster"}, "kind")
    other = "battery" if shell.kind != "battery" else "grid"
    _refused(shell, {**good, "kind": other}, "kind", other)
    _refused(shell, {**good, "version": 2}, "version")
    _refused(shell, {k: v for k, v in good.items() if k != "version"}, "version")
    _refused(shell, {**good, "colour": "red"}, "colour")
    for f in type(shell).persist:
        _refused(shell, {k: v for k, v in good.items() if k != f}, f, "missing")
    for path, value in _leaves({k: v for k, v in good.items() if k not in ("kind", "version")}):
        where = str(path[-1])
        if isinstance(value, float):
            for bad in (math.nan, math.inf, "nan", "-inf", "1.0", True, [value], {}):
                _refused(shell, _set(good, path, bad), where)
        elif isinstance(value, bool):
            _refused(shell, _set(good, path, 1), where)
        elif isinstance(value, int):
            _refused(shell, _set(good, path, 1.5), where)
            _refused(shell, _set(good, path, True), where)
        elif isinstance(value, str):
            _refused(shell, _set(good, path, 3), where)
    fresh = shell.dump_state()
    for path, _ in _leaves(good):  # a mapping of named values: one missing
        parent = _at(fresh, path[:-1])
        if len(path) >= 2 and isinstance(parent, dict) and path[-1] in parent:
            cut = {k: v for k, v in _at(good, path[:-1]).items() if k != path[-1]}
            _refused(shell, _set(good, path[:-1], cut), str(path[-1]), "missing")


def _at(node: Any, path: tuple) -> Any:
    for p in path:
        if not isinstance(node, (dict, list)) or (isinstance(node, dict) and p not in node):
            return None
        node = node[p]
    return node


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
    | st.sampled_from(["nan", "inf", "-inf", "1e999"]),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=12) | st.sampled_from(
        ["heat", "gas", "cost", "connected", "soc", "1746476400.0", "heat_pump", "garage-1",
         "throttled", "top-east"]), inner, max_size=4),
    max_leaves=12)


@pytest.mark.parametrize(("name", "device"), SHELLS)
@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(data=st.data())
def test_any_json_in_a_field_is_loaded_or_refused_with_a_value_error(name, device, data):
    shell = _fresh(name, device)
    fields = type(shell).persist
    if not fields:
        return
    good = shell.dump_state()
    field = data.draw(st.sampled_from(fields), label="field")
    value = data.draw(json_values, label="value")
    try:
        shell.load_state({**good, field: value})
    except ValueError:
        assert shell.dump_state() == good
        return
    saved = json.loads(json.dumps(shell.dump_state(), allow_nan=False))
    again = _fresh(name, device)
    again.load_state(saved)
    assert again.dump_state() == saved


def test_negative_energies_and_charges_are_refused():
    bat = _fresh("home", "battery")
    _refused(bat, {**bat.dump_state(), "energy": -1.0}, "energy", "negative")
    _refused(bat, {**bat.dump_state(), "energy": None}, "energy")
    buf = _fresh("block", "buffer")  # an idle tank cools below t_min: negative is fine
    buf.load_state({**buf.dump_state(), "energy": -1.0})
    car = _fresh("ev-home", "car")
    _refused(car, {**car.dump_state(), "ev_state": {"1746476400.0": -5.0}}, "ev_state",
             "negative")
    _refused(car, {**car.dump_state(), "ev_state": {"noon": 5.0}}, "ev_state", "noon")


def test_per_device_mappings_must_name_the_same_devices():
    node = _fresh("block", "heat-node")
    good = node.dump_state()
    meters = dict(good["meters"])
    gone = meters.pop("top-east")
    _refused(node, {**good, "meters": meters}, "meters.top-east", "missing")
    _refused(node, {**good, "meters": {**meters, "top-east": gone, "attic": 1.0}},
             "meters.attic", "unexpected")
    lm = _fresh("block", "load-manager")
    good = lm.dump_state()
    _refused(lm, {**good, "per_charger": {**good["per_charger"], "garage-3": {
        "throttled": 0.0, "allocated": 0.0}}}, "per_charger.garage-3")
    # a per-session mapping starts empty and takes any keys of its type
    node.load_state({**node.dump_state(), "choice_ticks": {"heat_pump": 3, "boiler": 1}})
    assert node.choice_ticks == {"heat_pump": 3, "boiler": 1}


# ---------------------------------------------------------------------- the codec


class HistoryLoad(LoadShell):
    """A load that keeps arrays (a plugin-style kind with array and non-finite state)."""

    persist = ("served_total", "unserved_total", "history", "peak", "window_pair")
    peak: Annotated[float, NONFINITE]
    window_pair: tuple[int, float]

    def setup(self) -> None:
        super().setup()
        if not hasattr(self, "history"):
            self.history = np.zeros(4)
            self.peak = -math.inf
            self.window_pair = (0, 0.0)


def test_arrays_non_finite_values_and_tuples():
    home = home_of("home", "4d")
    shell = HistoryLoad(home, "house")
    shell.history = np.array([1.5, -0.0, 5e-324, 1e308])
    shell.peak = math.nan
    shell.window_pair = (3, 0.1)
    saved = json.loads(json.dumps(shell.dump_state(), allow_nan=False))
    assert saved["history"] == [1.5, -0.0, 5e-324, 1e308] and saved["peak"] == "nan"
    other = HistoryLoad(home, "house")
    other.load_state(saved)
    assert other.history.tobytes() == shell.history.tobytes() and math.isnan(other.peak)
    assert other.window_pair == (3, 0.1) and other.dump_state() == saved
    for bad, word in ((saved["history"][:3], "shape"), ([*saved["history"], 1.0], "shape"),
                      ([1.0, 2.0, "x", 3.0], "history[2]"), ([1.0, 2.0, math.nan, 1.0],
                                                              "history[2]"),
                      ([[1.0, 2.0], [3.0, 4.0]], "shape"), ("1,2,3,4", "history")):
        _refused(other, {**saved, "history": bad}, word)
    _refused(other, {**saved, "peak": math.nan}, "peak")  # raw NaN: never written
    _refused(other, {**saved, "peak": "NaN"}, "peak")
    _refused(other, {**saved, "window_pair": [3]}, "window_pair", "2 values")
    _refused(other, {**saved, "window_pair": [3.0, 0.1]}, "window_pair[0]")
    other.load_state({**saved, "peak": "-inf"})
    assert other.peak == -math.inf


finite = st.floats(allow_nan=False, allow_infinity=False)
anyfloat = st.floats(allow_nan=True, allow_infinity=True)


@settings(max_examples=200, deadline=None, database=None)
@given(st.dictionaries(finite, finite, max_size=5), anyfloat,
       st.lists(finite, min_size=3, max_size=3))
def test_floats_round_trip_exactly_through_json(mapping, x, values):
    """Any double (subnormals, -0.0, the largest) as a value or a mapping key; NaN/±inf
    where allowed: JSON and back gives the same bits."""
    doc = encode({"m": mapping, "x": x, "a": np.array(values)}, "t")
    back = json.loads(json.dumps(doc, allow_nan=False))
    m = decode(back["m"], dict[float, float], {}, "m")
    assert [(np.float64(k).tobytes(), np.float64(v).tobytes()) for k, v in m.items()] == \
        [(np.float64(k).tobytes(), np.float64(v).tobytes()) for k, v in mapping.items()]
    y = decode(back["x"], Annotated[float, NONFINITE], None, "x")
    assert np.float64(y).tobytes() == np.float64(x).tobytes() or (math.isnan(x) and math.isnan(y))
    a = decode(back["a"], np.ndarray, np.zeros(3), "a")
    assert a.tobytes() == np.array(values).tobytes()


def test_plain_data_only():
    with pytest.raises(TypeError, match="set"):
        encode({"a": {1, 2}}, "x")
    with pytest.raises(TypeError, match="key"):
        encode({(1, 2): 3.0}, "x")
    assert encode({np.int64(3): np.float32(0.5), "b": np.bool_(True)}, "x") == \
        {"3": 0.5, "b": True}


# ---------------------------------------------------------------------- a plugin kind


KETTLE_SCRIPT = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from homesim_loop import HomeLoop, wire_bytes
from homesim.schemas.manifest import load_any
from homesim.infra.supervisor import RunOptions, prepare_home

home = prepare_home(load_any(sys.argv[2]), RunOptions(until="2d", dt=900))
a = HomeLoop(home, window=16)
a.run(5)
saved = json.loads(json.dumps(a.dump(), allow_nan=False))
assert saved["kettle"] == {"kind": "kettle", "version": 1, "served": a.shells["kettle"].served}
assert saved["kettle"]["served"] > 0
b = HomeLoop(home, window=16, states=saved, at=a.position)
keep = lambda ms: [m.key() for m in ms if m.topic not in ("homesim.clock.control",)]
assert keep(a.run(4)) == keep(b.run(4))
assert a.dump() == b.dump()
try:
    b.shells["kettle"].load_state({**saved["kettle"], "served": "lots"})
except ValueError as exc:
    assert "served" in str(exc), exc
else:
    raise AssertionError("garbage accepted")
print("ok", json.dumps(saved["kettle"]))
"""


def test_a_plugin_kind_only_lists_its_attributes(tmp_path):
    """tests/toykind's kettle declares ``persist = ("served",)`` and nothing else: the
    generic dump/load saves and restores it (types from the values)."""
    import yaml

    data = yaml.safe_load((ROOT / "examples" / "home.yaml").read_text())
    data["spec"]["devices"].append({"name": "kettle", "kind": "kettle",
                                    "properties": {"power": 2200, "hours": [7, 12, 15]}})
    manifest = tmp_path / "kettle.yaml"
    manifest.write_text(yaml.safe_dump(data, sort_keys=False))
    tests = ROOT / "tests"
    env = dict(os.environ, HOMESIM_KINDS=str(tests / "toykind" / "kinds.yaml"),
               PYTHONPATH=os.pathsep.join(filter(None, [str(tests),
                                                        os.environ.get("PYTHONPATH")])))
    res = subprocess.run([sys.executable, "-c", KETTLE_SCRIPT, str(tests), str(manifest)],
                         capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0 and res.stdout.startswith("ok"), res.stdout + res.stderr


def test_a_battery_smaller_than_what_it_holds_is_refused_at_restore():
    """A fork that shrinks the battery below its stored energy fails clearly at restore
    (instead of at its first settle)."""
    from homesim.devices.__main__ import shell_class
    from homesim.schemas.manifest import load_any, parse_home

    base = load_any(Path(__file__).resolve().parents[1] / "examples" / "home.yaml")
    data = base.model_dump(mode="json")
    bat = next(d for d in data["spec"]["devices"] if d["kind"] == "battery")
    big = shell_class("battery")(base, bat["name"], seed=0)
    state = big.dump_state()
    state["energy"] = 0.9 * big.props.capacity
    bat["properties"]["capacity"] = 0.5 * big.props.capacity
    small = shell_class("battery")(parse_home(data), bat["name"], seed=0)
    with pytest.raises(ValueError, match="more than soc_max × capacity"):
        small.load_state(state)
    state["energy"] = 0.4 * big.props.capacity
    small.load_state(state)
    assert small.energy == state["energy"]
