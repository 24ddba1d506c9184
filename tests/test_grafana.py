"""Grafana dashboards: valid, current, and every PromQL metric is one homesim exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DASHBOARDS = sorted((ROOT / "infra" / "grafana").glob("*.json"))
PROMQL_FUNCS = {"sum", "by", "rate", "histogram_quantile", "le", "home", "device", "direction",
                "source", "sink", "currency", "job", "up"}


def exported_metric_names() -> set[str]:
    """Names of the series homesim processes export (from homesim.devices.bus.metrics)."""
    metrics = pytest.importorskip("homesim.devices.bus.metrics")
    import prometheus_client

    registry = getattr(metrics, "REGISTRY", None) or prometheus_client.REGISTRY
    names = set()
    for fam in registry.collect():
        if fam.type == "counter":
            names.add(fam.name + "_total")
        elif fam.type == "histogram":
            names.update(fam.name + s for s in ("_bucket", "_sum", "_count"))
        else:
            names.add(fam.name)
    return {n for n in names if n.startswith("homesim_")}


def test_there_are_three_dashboards():
    assert [p.stem for p in DASHBOARDS] == ["homesim-block", "homesim-home", "homesim-system"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_dashboard_is_valid_grafana_json(path):
    d = json.loads(path.read_text())
    assert d["uid"] == path.stem and d["title"] and d["panels"]
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids))
    for p in d["panels"]:
        assert p["targets"], p["title"]
        for t in p["targets"]:
            assert t["expr"] and t["refId"]
        g = p["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24
    assert path.read_text() == json.dumps(d, indent=2, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_every_metric_in_the_dashboards_is_exported(path):
    exported = exported_metric_names()
    assert exported, "homesim.devices.bus.metrics exports no metrics"
    d = json.loads(path.read_text())
    used = set()
    for p in d["panels"]:
        for t in p["targets"]:
            expr = re.sub(r'"[^"]*"', '""', t["expr"])  # drop label values
            used.update(re.findall(r"\bhomesim_[a-z_]+\b", expr))
    missing = used - exported
    assert not missing, f"{path.name} uses metrics nobody exports: {sorted(missing)}"
    assert used, "a dashboard without homesim metrics"
