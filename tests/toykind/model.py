"""The toy kettle's properties and physics (pure: no I/O)."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from pydantic import BaseModel, ConfigDict, Field


class KettleProperties(BaseModel):
    """Properties of a ``kettle`` device."""

    model_config = ConfigDict(extra="forbid")
    power: Annotated[float, Field(gt=0, json_schema_extra={"x-unit": "W", "x-live": True},
                                  description="Electric power while boiling [W].")] = 2000.0
    hours: Annotated[list[int], Field(json_schema_extra={"x-live": True},
                                      description="Hours of the day (UTC) it boils for 3 min.")
                     ] = [7, 12, 18]


def kettle_energy(times: np.ndarray, dt: float, power: float, hours: list[int],
                  minutes: float = 3.0) -> np.ndarray:
    """Energy per tick [J] of a kettle boiling ``minutes`` from the start of each hour in
    ``hours`` (UTC); ``times`` are tick starts [s since epoch], shape (n,)."""
    t = np.asarray(times, dtype=float)
    into_hour = np.mod(t, 3600.0)
    hour = np.floor(np.mod(t, 86400.0) / 3600.0).astype(int)
    on_s = np.clip(minutes * 60.0 - into_hour, 0.0, dt)  # seconds boiling within the tick
    return np.where(np.isin(hour, hours), on_s * power, 0.0)
