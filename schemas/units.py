"""Unit conversion constants, defined once for the whole tree.

Energies travel and are stored in joules [J]; reports and bills show kilowatt-hours [kWh].
Import the constant instead of writing the literal (``from homesim.schemas.units import
J_PER_KWH``).
"""

from __future__ import annotations

__all__ = ["J_PER_KWH", "S_PER_H", "S_PER_DAY", "W_PER_KW"]

J_PER_KWH = 3.6e6
"""Joules per kilowatt-hour [J/kWh]."""
S_PER_H = 3600.0
"""Seconds per hour [s/h]."""
S_PER_DAY = 86400.0
"""Seconds per day [s/d] (a calendar day of 24 h; local days with a DST change differ)."""
W_PER_KW = 1000.0
"""Watts per kilowatt [W/kW]."""
