"""Fuzzing the manifest validation: mutated manifests through ``parse_any`` (in-process), and
raw byte files through ``homesim validate`` (one process per batch of files).

Properties:

1. ``parse_any`` returns a Home or raises ``ManifestError``, never anything else, whatever the
   document (values replaced by random types, huge ints, NaN/inf, deep nesting, long strings;
   keys deleted or added; unknown kinds);
2. every error of a ``ManifestError`` is a ``(field path, reason)`` pair of non-empty strings
   (the reason not blank);
3. ``homesim validate f1 f2 …`` on raw bytes (random, mutated YAML of the examples, invalid
   UTF-8, NUL bytes, deep nesting, alias expansion, huge numbers) exits 0 or 1, prints a
   verdict for every file and no ``Traceback``; in-process, ``load_any`` on the same files
   raises only ``ManifestError``.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from homesim.schemas.manifest import ManifestError, load_any, parse_any
from homesim.schemas.registry import REGISTRY

from .conftest import PROFILE, cases
from .strategies import HUGE_INTS, SPECIAL_FLOATS, UNKNOWN_NAMES, deep, garbage, mutated

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
DOCS = {p.name: yaml.safe_load(p.read_text()) for p in EXAMPLES}
KINDS = list(REGISTRY.names())


def check_error(exc: ManifestError) -> None:
    assert isinstance(exc.errors, list) and exc.errors, exc
    for e in exc.errors:
        assert isinstance(e, tuple) and len(e) == 2, e
        path, reason = e
        # a key of the document may itself be blank ("\r"): the path then is that key
        assert isinstance(path, str) and path, e
        assert isinstance(reason, str) and reason.strip(), e


def parse(doc: Any) -> str:
    """``parse_any(doc)``: "valid" or "invalid" (a ManifestError with field paths); any other
    exception fails the test."""
    try:
        parse_any(doc, "fuzz")
    except ManifestError as exc:
        check_error(exc)
        return "invalid"
    return "valid"


@st.composite
def manifests(draw: Any) -> Any:
    """An example manifest, field-mutated; sometimes with an unknown kind (of the document or
    of a device) or a device copied under another kind."""
    name = draw(st.sampled_from(sorted(DOCS)))
    doc = copy.deepcopy(DOCS[name])
    tweak = draw(st.sampled_from(["none", "none", "kind", "device_kind", "swap_kind"]))
    devices = doc["spec"].get("devices") or [d for f in doc["spec"].get("flats", [])
                                             for d in f["devices"]]
    if tweak == "kind":
        doc["kind"] = draw(st.one_of(st.sampled_from(["Homes", "block", "Flat", "", "Block",
                                                      "Home"]), garbage))
    elif tweak in ("device_kind", "swap_kind") and devices:
        dev = draw(st.sampled_from(devices))
        dev["kind"] = draw(st.sampled_from(KINDS)) if tweak == "swap_kind" else \
            draw(st.one_of(st.sampled_from(["flux_capacitor", "PV", "pv ", ""]), garbage))
    return draw(mutated(doc, max_mutations=4))


@settings(PROFILE, max_examples=cases(150, 5000))
@given(doc=manifests())
def test_mutated_manifests_give_only_manifest_errors(doc, fuzz_cases):
    fuzz_cases["manifest: parse_any mutated"] += 1
    fuzz_cases[f"manifest: parse_any outcome {parse(doc)}"] += 1


@settings(PROFILE, max_examples=cases(50, 1000))
@given(doc=garbage)
def test_any_document_gives_only_manifest_errors(doc, fuzz_cases):
    fuzz_cases["manifest: parse_any garbage"] += 1
    assert parse(doc) == "invalid"


@pytest.mark.parametrize("name", sorted(DOCS))
def test_the_examples_are_valid(name):
    assert parse(copy.deepcopy(DOCS[name])) == "valid"


# ---------------------------------------------------------------------- raw files


def _dump(doc: Any) -> bytes:
    try:
        return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False).encode()
    except Exception:  # noqa: BLE001 - a value yaml cannot represent (bytes are fine)
        return repr(doc).encode()


BOMB = b"a: &a [x, x, x, x, x]\n" + b"".join(
    f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}]\n".encode()
    for p, c in zip("abcd", "bcde", strict=True)) + b"apiVersion: *e\n"
SPECIAL_FILES = [
    b"", b"\n", b"---\n...\n", b"\xef\xbb\xbf", b"\xff\xfe\x00\x00", b"\x00" * 10,
    b"[" * 5000 + b"]" * 5000, b"{a: " * 3000 + b"1" + b"}" * 3000,
    b"".join(b"  " * i + b"a:\n" for i in range(2000)), BOMB,
    b"apiVersion: !!python/object/apply:os.system [echo hi]\n",
    b"kind: Home\nspec: !!binary aGVsbG8=\n", b"a: 1\na: 2\n", b"- 1\n- 2\n", b"42\n",
    b"kind: Home\nspec: {simulation: {dt: .nan, duration: .inf}}\n",
    b"kind: Block\nspec: {flats: 1e999999}\n", b"kind: Home\nspec: {devices: " +
    b"9" * 5000 + b"}\n", b"!!set {a, b}\n", b"%YAML 1.1\n---\n!foo bar\n",
    b"\x80\x81\x82 invalid utf-8\n", "kind: Hôme\n".encode("utf-16"),
]


@st.composite
def raw_files(draw: Any) -> bytes:
    """The bytes of a file given to ``homesim validate``."""
    how = draw(st.sampled_from(["mutated", "mutated", "mutated", "bytes", "flip", "cut",
                                "special", "deep"]))
    if how == "mutated":
        return _dump(draw(manifests()))
    if how == "bytes":
        return draw(st.binary(max_size=300))
    base = EXAMPLES[draw(st.integers(0, len(EXAMPLES) - 1))].read_bytes()
    if how == "flip":
        out = bytearray(base)
        for _ in range(draw(st.integers(1, 10))):
            i = draw(st.integers(0, len(out) - 1))
            out[i] = draw(st.integers(0, 255))
        return bytes(out)
    if how == "cut":
        return base[:draw(st.integers(0, len(base)))]
    if how == "special":
        return draw(st.sampled_from(SPECIAL_FILES))
    value = draw(st.sampled_from([deep(300), {"x": deep(100)}, HUGE_INTS[-1],
                                  *SPECIAL_FLOATS[:3], "y" * 100_000, UNKNOWN_NAMES[-2]]))
    doc = copy.deepcopy(DOCS["home.yaml"])
    doc["spec"]["devices"][0]["properties"] = {"cloud_cover": value}
    return _dump(doc)


BATCH = 100
#: the ``homesim`` command of this environment
HOMESIM = [str(Path(sys.executable).with_name("homesim"))]


def _load_in_process(path: Path) -> str:
    try:
        load_any(path)
    except ManifestError as exc:
        check_error(exc)
        return "invalid"
    return "valid"


@settings(PROFILE, max_examples=cases(1, 6), phases=[Phase.explicit, Phase.generate])
@given(files=st.lists(raw_files(), min_size=BATCH, max_size=BATCH))
def test_raw_files_through_homesim_validate(files, tmp_path_factory, fuzz_cases):
    """One ``homesim validate`` process per batch of files; in-process first, so that a
    crash names its file. No shrinking (each case costs a process)."""
    folder = tmp_path_factory.mktemp("raw")
    paths = []
    for i, data in enumerate(files):
        p = folder / f"m{i:03d}.yaml"
        p.write_bytes(data)
        paths.append(p)
    crashes = []
    for p in paths:
        fuzz_cases["manifest: raw files (load_any + validate)"] += 1
        try:
            _load_in_process(p)
        except Exception as exc:  # noqa: BLE001 - collected, reported below
            crashes.append(f"{p.name}: {type(exc).__name__}: {exc!s:.200} "
                           f"({p.read_bytes()[:120]!r})")
    assert not crashes, "load_any crashed on:\n" + "\n".join(crashes)
    fuzz_cases["manifest: homesim validate processes"] += 1
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    res = subprocess.run([*HOMESIM, "validate", *map(str, paths)],
                         capture_output=True, text=True, errors="replace", timeout=300, env=env,
                         cwd=folder)
    out = res.stdout + res.stderr
    assert "Traceback" not in out, out[-3000:]
    assert res.returncode in (0, 1), out[-3000:]
    for p in paths:  # a verdict for every file
        assert p.name in out, f"no verdict for {p.name}:\n{out[-3000:]}"


def test_validate_accepts_several_files():
    res = subprocess.run([*HOMESIM, "validate", *map(str, EXAMPLES)], capture_output=True,
                         text=True, timeout=120, env={**os.environ, "COLUMNS": "200"})
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.count("✓") == len(EXAMPLES), res.stdout
