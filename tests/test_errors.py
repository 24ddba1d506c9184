"""Every documented mistake through the real command line (typer's CliRunner on the ``homesim``
app): the exit code and the message, never a traceback or raw pydantic text, and nothing
started or written before the error.

The table below is the error table of issue 11 (README "Bad input, hostile messages").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from homesim.devices.bus.store import Flow, LedgerStore
from homesim.infra import cli
from homesim.schemas.manifest import Home

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "home.yaml"
TEXT = EXAMPLE.read_text()
RAW = ("Traceback", "pydantic", "errors.pydantic.dev", "type=", "input_value", "Value error")


def _manifest(old: str, new: str) -> str:
    assert old in TEXT, old
    return TEXT.replace(old, new, 1)


# name → manifest text (written to <tmp>/<name>.yaml; weather.csv and prices.csv beside it)
MANIFESTS = {
    "units": _manifest("capacity: 36000000     # 10 kWh", "capacity: 10 kWh")
    .replace("p_charge_max: 5000", "p_charge_max: 5 kW").replace("dt: 60", "dt: 1 min"),
    "capacity-kw": _manifest("capacity: 36000000     # 10 kWh", "capacity: 10 kW"),
    "batery": _manifest("kind: battery", "kind: batery"),
    "capcity": _manifest("capacity: 36000000", "capcity: 36000000"),
    "mode": _manifest("mode: self_consumption", "mode: self-consumption"),
    "state-on": _manifest('{name: tv, power: 150, start: "19:00", end: "23:00"}',
                          '{name: tv, power: 150, start: "19:00", end: "23:00", state: on}'),
    "no-weather": _manifest("file: null  ", "file: missing.csv"),
    "bad-weather": _manifest("file: null  ", "file: weather.csv"),
    "bad-prices": _manifest("          flat: 0.12\n",
                            "          flat: 0.12\n          file: prices.csv\n"),
    "duration-7": _manifest("duration: 1d", "duration: 7"),
    "dt-kg": _manifest("dt: 60", "dt: 15 kg"),
    "speed-fast": _manifest("speed: max", "speed: fast"),
    "kind-hom": _manifest("kind: Home", "kind: Hom"),
}

# (command, exit code, message fragments); {m:NAME} is a manifest above, {run} a run folder
# of 2025-01-01/02 (Etc/GMT+5), {tmp} the test's folder
TABLE: list[tuple[str, int, tuple[str, ...]]] = [
    ("validate {m:units}", 0, ("✓",)),
    ("validate {m:capacity-kw}", 1, ("spec.devices[4].properties.capacity: '10 kW' is a power, "
                                     "not an energy: give J, e.g. 10 kWh",)),
    ("validate {m:batery}", 1, ("spec.devices[4]: unknown kind 'batery'; did you mean "
                                "'battery'?",)),
    ("validate {m:capcity}", 1, ("unknown property 'capcity'; did you mean 'capacity'?",)),
    ("validate {m:mode}", 1, ("did you mean 'self_consumption'?",)),
    ("validate {m:state-on}", 1, ("appliances[2].state", 'write it in quotes, e.g. "on"')),
    ("validate {m:no-weather}", 1, ("spec.devices[0].properties.file: no such file",)),
    ("validate {m:bad-weather}", 1, ("spec.devices[0].properties.file:", "weather.csv")),
    ("validate {m:bad-prices}", 1, ("spec.devices[5].properties.tariff_import.file: price "
                                    "file",)),
    ("validate {m:duration-7}", 1, ("spec.simulation.duration: 7 has no unit: give a unit, "
                                    "e.g. 7d or 7h",)),
    ("validate {m:dt-kg}", 1, ("spec.simulation.dt: '15 kg' is a mass, not a time",)),
    ("validate {m:speed-fast}", 1, ("invalid speed 'fast': use realtime, max or e.g. 60x",)),
    ("validate {m:kind-hom}", 1, ("kind: must be Home or Block, not 'Hom'; did you mean "
                                  "'Home'?",)),
    ("validate {tmp}/nothing.yaml", 1, ("no such file",)),
    ("run {m:no-weather} --out {tmp}/run", 2, ("invalid manifest", "no such file")),
    ("run {m:bad-weather} --out {tmp}/run", 2, ("spec.devices[0].properties.file:",)),
    ("run {example} --until 7 --out {tmp}/run", 2, ("--until: '7' has no unit: give a unit, "
                                                    "e.g. 7d or 7h",)),
    ("run {example} --until 7kg --out {tmp}/run", 2, ("--until: not a duration",)),
    ("run {example} --speed fast --out {tmp}/run", 2, ("--speed: invalid speed 'fast': use "
                                                       "realtime, max or e.g. 60x",)),
    ("run {example} --dt 15kg --out {tmp}/run", 2, ("--dt: '15kg' is a mass, not a time",)),
    ("run {example} --dt 0 --out {tmp}/run", 2, ("--dt: Input should be greater than 0",)),
    ("run {example} --dt 2h --out {tmp}/run", 2, ("--dt: Input should be less than or equal "
                                                  "to 3600",)),
    ("run {example} --window 0 --out {tmp}/run", 2, ("--window",)),
    ("run --help", 0, ("Tick length [s]",)),
    ("report {run} --day 2030-06-01 --no-png", 2, ("--day 2030-06-01 is outside the run: it "
                                                   "covers 2025-01-01 to 2025-01-02 "
                                                   "(Etc/GMT+5)",)),
    ("report {run} --day 01/06/2025 --no-png", 2, ("--day must be YYYY-MM-DD",)),
    ("report {tmp}/nothing --no-png", 1, ("no ledger at",)),
    ("export {run} --table bogus", 2, ("--table must be packet, node_balance",)),
    ("export {run} --format xlsx", 2, ("--format must be csv or parquet",)),
    ("export {tmp}/nothing", 2, ("no ledger at",)),
    ("export {run} --out {tmp}/no/such/dir/x.parquet", 2, ("cannot write",)),
    ("bill {tmp}/nothing", 2, ("cannot bill",)),
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("errors")
    for name, text in MANIFESTS.items():
        (d / f"{name}.yaml").write_text(text)
    (d / "weather.csv").write_text("not,a,weather,file\n1,2,3,4\n")
    (d / "prices.csv").write_text("time,price\n2025-01-01T00:00,cheap\n")
    run = d / "run-ok"
    run.mkdir()
    home = Home.model_validate(yaml.safe_load(TEXT))
    st = LedgerStore.create(run / "ledger.sqlite")
    # 2025-01-01T00:00-05:00, 30 ticks of one hour: Jan 1 and Jan 2 (local)
    st.write_run("r", "greensboro", 1735707600.0, 3600.0, 30, home.model_dump_json())
    st.write_nodes([("grid", "grid", False), ("house", "load", True)])
    st.book_window(0, 0, 30, [Flow("grid", "house", "electricity", np.ones(30))], [], [])
    st.close()
    (run / "summary.json").write_text(json.dumps({"home": "greensboro"}))
    return d


def _args(command: str, folder: Path) -> list[str]:
    out = []
    for word in command.split():
        if word.startswith("{m:"):
            word = str(folder / f"{word[3:-1]}.yaml")
        out.append(word.format(example=EXAMPLE, run=folder / "run-ok", tmp=folder))
    return out


@pytest.mark.parametrize(("command", "code", "fragments"), TABLE, ids=[t[0] for t in TABLE])
def test_every_mistake_has_a_message(folder: Path, command: str, code: int,
                                     fragments: tuple[str, ...]) -> None:
    res = CliRunner().invoke(cli.app, _args(command, folder), env={"COLUMNS": "200"})
    out = res.output
    assert res.exit_code == code, (res.exit_code, out, res.exception)
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    for fragment in fragments:
        assert fragment in out, (fragment, out)
    for raw in RAW:
        assert raw not in out, (raw, out)
    assert not (folder / "run").exists()  # a refused run starts nothing, writes nothing


def test_an_unexpected_error_is_one_line_not_a_traceback(
        folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from homesim.infra.analysis import export

    def boom(*a: Any, **k: Any) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(export, "table", boom)
    monkeypatch.setattr("sys.argv", ["homesim", "export", str(folder / "run-ok")])
    monkeypatch.delenv("HOMESIM_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exc:
        cli.main()
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: disk on fire" in err and "Traceback" not in err
