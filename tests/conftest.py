"""Shared test helpers: the test tier (``./test`` sets ``HOMESIM_TEST_TIER``)."""

from __future__ import annotations

import os

import pytest

FULL = os.environ.get("HOMESIM_TEST_TIER") == "full"


def missing_tool(why: str, module_level: bool = False) -> None:
    """A tool a test needs is not installed: a failure in the full tier (``./test --full``
    installs every tool), a skip otherwise (``module_level``: skip the whole module)."""
    if FULL:
        pytest.fail(f"{why} (the full tier installs it: ./test --full)", pytrace=False)
    pytest.skip(why, allow_module_level=module_level)
