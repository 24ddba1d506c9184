"""Results people can trust and read, on real runs of the three examples:

* the block's headline figures (3 days, dt = 900 s): self-sufficiency above 0, load equal
  to what its consumers received, and summary.json, the report, the ledger's Prometheus
  gauges and the bills agree on every figure;
* the report of each example renders in headless Chromium (Debian ``chromium``) and every
  figure it lists draws data;
* ``homesim compare`` on two runs of the home (battery capacity changed).

Needs Debian ``chromium`` (``.ci/run`` installs it).
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from homesim.devices.bus.figures import figures_of
from homesim.devices.bus.store import LedgerStore
from homesim.infra.analysis.report import find_chromium
from homesim.schemas.registry import REGISTRY

from .conftest import HOMESIM, ROOT, homesim_run

EXAMPLES = ROOT / "examples"
RUNS = {  # example, `homesim run` arguments
    "home": ("home.yaml", ("--until", "1d")),
    "ev-home": ("ev-home.yaml", ("--until", "2d")),
    "block": ("block.yaml", ("--until", "3d", "--dt", "900")),
}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def chromium() -> str:
    path = find_chromium()
    if path is None:
        pytest.fail("Chromium is missing: `apt-get install -y chromium` (.ci/run installs it); "
                    "the report's PNGs and this test need it")
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory, chromium) -> dict[str, tuple[Path, dict]]:
    """One real run per example (each writes its report and PNGs, as `homesim run` does)."""
    base = tmp_path_factory.mktemp("results")
    out = {}
    for name, (manifest, args) in RUNS.items():
        _, summary = homesim_run(EXAMPLES / manifest, base / name, *args, timeout=600)
        assert summary is not None and summary["complete"], name
        out[name] = (base / name, summary)
    return out


def _dump_dom(chromium: str, page: Path) -> str:
    with tempfile.TemporaryDirectory() as profile:
        res = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--no-first-run", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
             "--virtual-time-budget=20000", "--dump-dom", page.resolve().as_uri()],
            capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout


MARKS = (re.compile(r'<path class="js-line"[^>]* d="M[^"]*[LHV]'),   # a line of 2+ points
         re.compile(r'<path class="js-fill"[^>]* d="M[^"]*[LHV]'),
         re.compile(r'<path class="point"[^>]* d="M'),                 # a scatter marker
         re.compile(r'class="sankey-link"[^>]* d="M'),
         re.compile(r'<image[^>]+href="data:image/png'))            # a heatmap
BAR = re.compile(r'<g class="point"><path d="M[-\d.e]+,([-\d.e]+)V([-\d.e]+)H')


def rendered_figures(dom: str) -> dict[str, int]:
    """For every plotly figure ``id="fig-<name>"`` in the rendered DOM: how many data marks
    Chromium drew in it: lines of two points or more, markers, bars of non-zero height,
    Sankey links, heatmap images."""
    out = {}
    for chunk in re.split(r'(?=<div class="fig">)', dom):
        m = re.search(r'id="fig-([a-z_]+)"', chunk)
        if m:
            bars = sum(1 for y0, y1 in BAR.findall(chunk) if float(y0) != float(y1))
            out[m.group(1)] = bars + sum(len(p.findall(chunk)) for p in MARKS)
    return out


def _assert_png(p: Path) -> None:
    data = p.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{p} is not a PNG"
    assert len(data) > 10_000, f"{p} is only {len(data)} bytes"


def _listed(page: Path) -> dict:
    text = page.read_text()
    m = re.search(r"<script type='application/json' id='homesim-figures'>(.*?)</script>", text,
                  re.S)
    assert m, "the report lists its figures"
    return json.loads(m.group(1).replace("<\\/", "</"))


@pytest.mark.parametrize("name", list(RUNS))
def test_report_renders_every_figure(runs, chromium, name):
    """Each example's report.html is self-contained; Chromium draws data in every figure it
    lists (an empty figure fails); local time on the axes; no heat buffer called battery."""
    run_dir, _ = runs[name]
    page = run_dir / "report.html"
    text = page.read_text()
    assert "<script src=" not in text            # plotly inlined, nothing fetched
    listed = _listed(page)["figures"]
    assert {"sankey", "energy", "power", "cost"} <= set(listed), listed
    dom = _dump_dom(chromium, page)
    assert 'class="main-svg"' in dom
    drawn = rendered_figures(dom)
    assert set(drawn) == set(listed), (sorted(drawn), listed)
    empty = [f for f, n in drawn.items() if n == 0]
    assert not empty, f"figures without data in {name}: {empty}"
    assert "local time (Etc/GMT+5)" in dom
    data = text[text.index("</script>"):]      # the page after plotly.js: the figures' data
    assert not re.search(r"\d(\.\d+)?e-1\d", data), "float noise drawn as data"
    if name == "block":
        assert {"ev", "temperature", "heat", "heat_store", "bills"} <= set(listed)
        assert "soc" not in listed and "Battery state of charge" not in text
        assert "Buffer tank (heat) state of charge" in text
    if name == "ev-home":
        assert {"soc", "ev"} <= set(listed)
    for png in ("sankey", "energy", "power"):
        _assert_png(run_dir / "figures" / f"{png}.png")


def _consumers_received(db: Path) -> float:
    """Electricity into every device of a consumer kind, straight from the ledger's packets
    [kWh] (independent of homesim.devices.bus.figures)."""
    with LedgerStore.open(db) as store:
        kinds = store.kinds()
        consumers = {n for n, k in kinds.items() if k in REGISTRY
                     and REGISTRY.get(k).consumer and "electricity" in REGISTRY.get(k).carriers}
        joules = math.fsum(p.joules for p in store.packets(carrier="electricity")
                           if p.sink in consumers)
    return joules / 3.6e6


def test_block_headline_figures_agree(runs):
    """Done-when of issue 11: the block (3 days, dt = 900 s) has self-sufficiency above 0 and
    its load is what its consumers (kitchens, heat pump, chargers) received; summary.json,
    the report's cards, the ledger's Prometheus gauges and the bills agree."""
    from homesim.infra.analysis.billing import bill_run

    run_dir, s = runs["block"]
    e = s["energy_kwh"]
    assert s["self_sufficiency"] > 0
    received = _consumers_received(run_dir / "ledger.sqlite")
    assert e["load"] == pytest.approx(received, rel=1e-9)
    by_kind = s["load_by_kind_kwh"]
    assert set(by_kind) == {"load", "heat_pump", "ev_charger", "dhw_tank"}  # + top-east geyser
    assert all(v > 0 for v in by_kind.values())
    assert e["load"] == pytest.approx(math.fsum(by_kind.values()), rel=1e-12)
    # the store path (report, compare) equals the ledger's summary
    with LedgerStore.open(run_dir / "ledger.sqlite") as st:
        f = figures_of(st)
    fs = f.summary()
    for key, v in fs["energy_kwh"].items():
        assert e[key] == pytest.approx(v, rel=1e-9, abs=1e-9), key
    for key in ("self_sufficiency", "self_consumption", "peak_import_w"):
        assert s[key] == pytest.approx(fs[key], rel=1e-9), key
    assert s["cost"]["net"] == pytest.approx(f.net_cost, rel=1e-9)
    assert s["heat"]["scop"] == pytest.approx(f.heat.scop, rel=1e-9)
    # the report's cards are the same figures
    kpis = _listed(run_dir / "report.html")["kpis"]
    for k in f.kpis():
        if k.value is None:
            assert kpis[k.key] is None
        else:
            assert kpis[k.key] == pytest.approx(k.value, rel=1e-9, abs=1e-12), k.key
    # Prometheus: what the ledger's /metrics served at the end (saved with the run)
    prom = {}
    for fam in text_string_to_metric_families((run_dir / "ledger.prom").read_text()):
        for sample in fam.samples:
            if sample.name.startswith("homesim_run_"):
                prom[(sample.name, sample.labels["quantity"])] = sample.value
    assert prom[("homesim_run_energy_joules", "load")] == pytest.approx(e["load"] * 3.6e6,
                                                                        rel=1e-9)
    assert prom[("homesim_run_ratio", "self_sufficiency")] == pytest.approx(
        s["self_sufficiency"], rel=1e-9)
    assert prom[("homesim_run_power_watts", "peak_import")] == pytest.approx(
        s["peak_import_w"], rel=1e-9)
    assert prom[("homesim_run_cost", "net")] == pytest.approx(s["cost"]["net"], rel=1e-9)
    assert prom[("homesim_run_ratio", "scop")] == pytest.approx(s["heat"]["scop"], rel=1e-9)
    # the bills: every consumer metered, adding up to the net cost (grid + gas)
    bill = bill_run(run_dir)
    assert bill.load_kwh == pytest.approx(e["load"], rel=1e-9)
    assert bill.metered_cost == pytest.approx(s["cost"]["net"], rel=1e-9)
    assert bill.total.total == pytest.approx(s["cost"]["net"], rel=1e-9)


def test_compare_two_runs(runs, chromium, tmp_path):
    """`homesim compare`: the home against itself with a 2 kWh battery: a table with a Δ
    column, one HTML page whose four overlays draw data, and the JSON form."""
    data = yaml.safe_load((EXAMPLES / "home.yaml").read_text())
    bat = next(d for d in data["spec"]["devices"] if d["kind"] == "battery")
    bat["properties"]["capacity"] = 7.2e6   # 2 kWh instead of 10
    small = tmp_path / "small.yaml"
    small.write_text(yaml.safe_dump(data, sort_keys=False))
    run_b = tmp_path / "small-battery"
    homesim_run(small, run_b, "--until", "1d", "--no-report", timeout=600)
    run_a, sa = runs["home"]
    page, js = tmp_path / "compare.html", tmp_path / "compare.json"
    res = subprocess.run([*HOMESIM, "compare", str(run_a), str(run_b), "--html", str(page),
                          "--json", str(js)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Self-sufficiency" in res.stdout and "Δ" in res.stdout
    c = json.loads(js.read_text())
    assert [r["name"] for r in c["runs"]] == ["home", "small-battery"]
    rows = {k["key"]: k for k in c["kpis"]}
    ss = rows["self_sufficiency"]
    assert ss["values"][0] == pytest.approx(sa["self_sufficiency"], rel=1e-9)
    assert ss["deltas_vs_first"][0] == 0.0
    assert rows["grid_import"]["deltas_vs_first"][1] != 0.0   # the battery made a difference
    drawn = rendered_figures(_dump_dom(chromium, page))
    assert set(drawn) == {"daily", "cost", "soc", "import_duration"}, drawn
    assert all(n > 0 for n in drawn.values()), drawn
    bad = subprocess.run([*HOMESIM, "compare", str(run_a)], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 2 and "at least two" in bad.stderr


def test_an_empty_figure_is_caught(chromium, tmp_path):
    """The check above fails on an empty figure, a figure of zero bars or a one-point line."""
    import plotly.graph_objects as go
    from plotly.offline import get_plotlyjs

    figs = {"empty": go.Figure(), "zero_bars": go.Figure(go.Bar(x=["a", "b"], y=[0, 0])),
            "one_point": go.Figure(go.Scatter(x=[1], y=[1], mode="lines")),
            "good": go.Figure(go.Bar(x=["a"], y=[2]))}
    divs = "".join("<div class='fig'>" + f.to_html(full_html=False, include_plotlyjs=False,
                                                    div_id=f"fig-{k}") + "</div>"
                   for k, f in figs.items())
    page = tmp_path / "page.html"
    page.write_text(f"<html><head><script>{get_plotlyjs()}</script></head><body>{divs}"
                    "</body></html>")
    assert rendered_figures(_dump_dom(chromium, page)) == {"empty": 0, "zero_bars": 0,
                                                           "one_point": 0, "good": 1}
