"""The inverter splits served energy over consumers without leaving float residue on idle ones."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from homesim.devices.kinds.inverter import _split


@given(st.lists(st.lists(st.floats(0, 1e7), min_size=4, max_size=4), min_size=2, max_size=5),
       st.floats(0, 1))
def test_parts_sum_to_total_and_idle_parts_get_nothing(parts, frac):
    p = [np.array(x) for x in parts]
    total = np.sum(p, axis=0) * frac
    out = _split(total, p)
    for part, got in zip(p, out, strict=True):
        assert np.all(got[part == 0] == 0.0)  # e.g. a charger with no car: exactly 0 J
        assert np.all(got >= 0)
    np.testing.assert_allclose(np.sum(out, axis=0), total, rtol=1e-12, atol=1e-6)
