"""The AsyncAPI contract, the generated models and the Home manifest."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from homesim.schemas import regen
from homesim.schemas.contract import load_contract
from homesim.schemas.manifest import ManifestError, load_manifest, parse_duration, parse_home

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "home.yaml"


def test_contract_is_valid_asyncapi_3():
    """pydantic-asyncapi accepts the document and every channel has messages."""
    doc = load_contract()
    assert doc.asyncapi == "3.0.0"
    assert "clockWindow" in doc.channels and "packets" in doc.channels
    assert {"describe", "get", "set", "snapshot", "pause", "resume", "setSpeed",
            "status"} <= set(doc.operations)


def test_generated_code_is_current():
    """Regenerating from schemas/asyncapi.yaml changes nothing (else run the regen command)."""
    assert regen.main(["--check"]) == 0


def test_example_manifest_is_valid():
    home = load_manifest(EXAMPLE)
    kinds = sorted(d.kind for d in home.spec.devices)
    assert kinds == ["battery", "grid", "inverter", "load", "pv", "sun", "weather"]
    assert home.spec.device("battery").properties.capacity == 36e6


def _example() -> dict:
    return yaml.safe_load(EXAMPLE.read_text())


def test_every_error_is_reported_with_its_field_path():
    data = _example()
    data["spec"]["devices"][4]["properties"]["capacity"] = -1
    data["spec"]["devices"][2]["properties"]["surface_tilt"] = 120
    data["spec"]["devices"][5]["properties"]["bogus"] = 1
    with pytest.raises(ManifestError) as exc:
        parse_home(data)
    paths = dict(exc.value.errors)
    assert "spec.devices[4].properties.capacity" in paths
    assert "spec.devices[2].properties.surface_tilt" in paths
    assert "spec.devices[5].properties.bogus" in paths
    assert len(exc.value.errors) == 3


def test_unknown_kind_and_topology_errors():
    data = _example()
    data["spec"]["devices"].append({"name": "x", "kind": "toaster"})
    with pytest.raises(ManifestError) as exc:
        parse_home(data)
    assert exc.value.errors[0][0] == "spec.devices[7]"
    data = _example()
    data["spec"]["devices"] = [d for d in data["spec"]["devices"] if d["kind"] != "inverter"]
    with pytest.raises(ManifestError, match="inverter"):
        parse_home(data)


def test_yaml_syntax_error_is_reported(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("apiVersion: [unclosed\n")
    with pytest.raises(ManifestError) as exc:
        load_manifest(p)
    assert exc.value.errors[0][0] == "(yaml)"


@pytest.mark.parametrize(("text", "seconds"), [("365d", 365 * 86400), ("12h", 43200),
                                               ("30m", 1800), ("90s", 90), (15, 15),
                                               ("15 min", 900), ("1.5 hours", 5400),
                                               ("2 weeks", 14 * 86400)])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


def test_parse_duration_rejects_garbage():
    with pytest.raises(ValueError):
        parse_duration("a year")
    for unitless in ("15", "7", " 7 ", "7.5"):  # ambiguous: 7 s? 7 days?
        with pytest.raises(ValueError, match="give a unit, e.g."):
            parse_duration(unitless)
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("7 kWh")


def test_every_topic_uri_is_a_channel_of_the_contract():
    """schemas/topics.py's URIs are the contract's channel addresses (device ones with the
    ``{device}`` parameter), and every address has a URI there."""
    import yaml

    from homesim.schemas.topics import T

    doc = yaml.safe_load((Path(__file__).resolve().parents[1] / "schemas" / "asyncapi.yaml")
                         .read_text())
    addresses = {c["address"] for c in doc["channels"].values()}
    ours = {v for k, v in vars(T).items()
            if k.isupper() and k not in ("ALL_REPORTS", "PACKETS_PREFIX")}
    ours |= {T.report("{device}"), T.events("{device}"), T.packets("{publisher}")}
    assert T.packets("{publisher}").startswith(T.PACKETS_PREFIX)
    ours |= {T.rpc("{device}", p) for p in ("describe", "get", "set", "snapshot")}
    ours |= {T.meter("{flat}")}
    assert ours == addresses
