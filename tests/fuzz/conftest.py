"""The fuzz tier's budget: hypothesis profiles and a count of the cases each test ran.

* ``fuzz-default`` (the default tier): a few cases per test, the whole directory in well
  under 30 s on 2 cores;
* ``fuzz-full`` (``HOMESIM_TEST_TIER=full``, what ``./test --full`` and CI run): ≥ 10,000
  cases in total across the fuzz tests, ≤ 6 min of wall time on 2 cores.

The profiles are registered, not loaded: loading one (or re-registering hypothesis' own
``default``) would change the global settings, and so the budget of every other property
test of the session (``tests/models``, ``tests/test_billing.py``). The fuzz tests take
theirs explicitly: ``@settings(PROFILE, max_examples=cases(default, full))``.

Both are reproducible: ``derandomize=True`` (the examples are a function of the test, not
of the time or of a seed), no deadline (a slow shared CI box must not turn into a flaky
"deadline exceeded"), and no example database (nothing carried between runs).

Each test's budget is ``cases(default, full)``; the number of cases actually run per test
is printed at the end of the session ("fuzz cases"), so a closing note can quote it.
"""

from __future__ import annotations

import os
from collections import Counter

import pytest
from hypothesis import HealthCheck, settings

FULL = os.environ.get("HOMESIM_TEST_TIER") == "full"

_COMMON = dict(
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much, HealthCheck.large_base_example],
)
settings.register_profile("fuzz-default", max_examples=10, **_COMMON)
settings.register_profile("fuzz-full", max_examples=200, **_COMMON)
#: the fuzz tests' settings in this tier (each test sets its own ``max_examples``)
PROFILE = settings.get_profile("fuzz-full" if FULL else "fuzz-default")


def cases(default: int, full: int) -> int:
    """A test's number of cases in the current tier (for ``@settings(max_examples=...)``)."""
    return full if FULL else default


_KEY = pytest.StashKey[Counter]()


@pytest.fixture(scope="session")
def fuzz_cases(request: pytest.FixtureRequest) -> Counter:
    """``fuzz_cases[name] += 1`` once per case; reported at the end of the session. Keys
    with `` outcome `` split a test's cases by outcome (not added to the total)."""
    return request.config.stash.setdefault(_KEY, Counter())


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # noqa: ARG001
    counts = config.stash.get(_KEY, None)
    if not counts:
        return
    tier = "full" if FULL else "default"
    terminalreporter.section(f"fuzz cases ({tier} profile)")
    width = max(len(k) for k in counts)
    for name, n in sorted(counts.items()):
        terminalreporter.write_line(f"{name:<{width}}  {n:>7,}")
    total = sum(n for k, n in counts.items() if " outcome " not in k)  # outcomes: a split
    terminalreporter.write_line(f"{'total cases':<{width}}  {total:>7,}")
