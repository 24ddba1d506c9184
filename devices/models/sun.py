"""Solar position and extraterrestrial irradiance at given instants (tick midpoints).

References
----------
Reda, I. and Andreas, A. (2004). Solar position algorithm for solar radiation applications.
Solar Energy 76(5), 577–589. :doi:`10.1016/j.solener.2003.12.003`

Spencer, J. W. (1971). Fourier series representation of the position of the sun.
Search 2(5), 172.
"""

from __future__ import annotations

import numpy as np

__all__ = ["solar_position", "tick_midpoints"]


def tick_midpoints(start: float, dt: float, tick0: int, n: int) -> np.ndarray:
    """Midpoints of ticks ``tick0 … tick0 + n - 1``: ``start + (k + 0.5) * dt`` [s]."""
    k = np.arange(tick0, tick0 + n, dtype=float)
    return start + (k + 0.5) * dt


def solar_position(
    times: np.ndarray, latitude: float, longitude: float, altitude: float = 0.0
) -> dict[str, np.ndarray]:
    """Solar position (NREL SPA) and extraterrestrial normal irradiance.

    Parameters
    ----------
    times : array_like
        Instants, seconds since the Unix epoch (UTC) [s]; for ticks, their midpoints.
    latitude : float
        Latitude, north positive [deg], in ``[-90, 90]``.
    longitude : float
        Longitude, east positive [deg], in ``[-180, 180]``.
    altitude : float, default 0.0
        Altitude above sea level [m]; sets the pressure used for refraction.

    Returns
    -------
    dict of numpy.ndarray
        ``apparent_zenith`` (refraction-corrected), ``zenith``, ``azimuth`` (east of north)
        [deg] and ``dni_extra`` [W/m^2].

    Raises
    ------
    ValueError
        If latitude or longitude is out of range or ``times`` is not finite.

    Notes
    -----
    Uses :func:`pvlib.solarposition.get_solarposition` (``method='nrel_numpy'``, refraction
    at the default 12 °C and the pressure of ``altitude``) and
    :func:`pvlib.irradiance.get_extra_radiation` (Spencer 1971). Both act element by element,
    so one call or many smaller calls give identical results.
    """
    import pandas as pd
    from pvlib import irradiance, solarposition

    if not -90.0 <= latitude <= 90.0:
        raise ValueError(f"latitude: must be in [-90, 90] deg, got {latitude}")
    if not -180.0 <= longitude <= 180.0:
        raise ValueError(f"longitude: must be in [-180, 180] deg, got {longitude}")
    t = np.atleast_1d(np.asarray(times, dtype=float))
    if not np.all(np.isfinite(t)):
        raise ValueError("times: must be finite epoch seconds")
    if t.size == 0:
        return {k: np.zeros(0) for k in ("apparent_zenith", "zenith", "azimuth", "dni_extra")}
    # Whole nanoseconds, so pandas' conversion is exact and independent of the batch.
    index = pd.DatetimeIndex(np.round(t * 1e9).astype("int64").astype("datetime64[ns]"), tz="UTC")
    pos = solarposition.get_solarposition(
        index, latitude, longitude, altitude=altitude, method="nrel_numpy"
    )
    return {
        "apparent_zenith": pos["apparent_zenith"].to_numpy(dtype=float),
        "zenith": pos["zenith"].to_numpy(dtype=float),
        "azimuth": pos["azimuth"].to_numpy(dtype=float),
        "dni_extra": np.asarray(irradiance.get_extra_radiation(index), dtype=float),
    }
