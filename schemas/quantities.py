"""Quantities with units where people write them: ``10 kWh``, ``5 kW``, ``15 min``.

A manifest may give any number that has a unit in the contract (``x-unit`` of the property in
``schemas/asyncapi.yaml``) as a quantity: ``capacity: 10 kWh`` on a [J] property becomes
``36000000.0``, ``p_max: 7.4 kW`` on a [W] property ``7400.0``, ``dt: 15 min`` ``900.0``.
Validation normalises them to the property's own unit (SI for every energy, power and time),
so every process, the stored manifest and the ledger see plain numbers. A plain number is
already in the property's unit. A quantity of the wrong dimension is refused with a message
naming the expected unit (``'5 kW' is a power, not an energy: give J, e.g. 10 kWh``).

Units are parsed by `pint <https://pint.readthedocs.io>`_ (imported on first use: plain
numbers never load it).
"""

from __future__ import annotations

import math
import re
from functools import cache
from typing import Any

__all__ = ["QuantityError", "to_unit", "describe_unit", "example", "MAX_QUANTITY_CHARS"]

#: Longer texts are not parsed as quantities (user input can be huge) [characters].
MAX_QUANTITY_CHARS = 64

_NUMBER = re.compile(r"^\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*$")
# what a unit may be written with ("kWh", "W/(m^2 K)", "m2", "°C", "%", "µs", "kW·h")
_UNIT_CHARS = re.compile(r"^[A-Za-z°%µΩ/*^·(). 0-9_-]*$")
_SQUARE = re.compile(r"(?<=[A-Za-z])([23])(?![\d.])")  # m2 -> m**2, km3 -> km**3
# what a unit needs no more of: long numbers, a power of a power (m^2^2^2… never ends)
_ABUSE = re.compile(r"\d{3,}|(\^|\*\*)\s*[-+]?[\d.]*\s*(\^|\*\*|\()")
# spellings pint does not know, tried when it fails (case-insensitive)
_ALIASES = {"kwh": "kWh", "wh": "Wh", "mwh": "MWh", "gwh": "GWh", "twh": "TWh", "kw": "kW",
            "mw": "MW", "gw": "GW", "w": "W", "kj": "kJ", "mj": "MJ", "gj": "GJ", "j": "J",
            "c": "degC", "degc": "degC", "f": "degF", "degf": "degF", "mins": "min",
            "hrs": "hour", "hr": "hour"}
# the contract's x-unit spellings that pint cannot read as they are
_X_UNITS = {"%": "percent", "deg": "degree", "1/°C": "1/delta_degC", "K h": "K*hour",
            "1": "dimensionless"}
_DIMENSIONS = {  # a reference unit → what it measures (for messages)
    "J": "an energy", "W": "a power", "s": "a time", "1/s": "a rate (1/time)", "m": "a length",
    "m**2": "an area", "m**3": "a volume", "K": "a temperature", "kg": "a mass",
    "dimensionless": "a plain number", "A": "a current", "V": "a voltage", "C": "a charge",
    "W/(m**2*K)": "a heat transfer coefficient (W/(m^2 K))", "W/K": "a conductance (W/K)",
    "W/m**2": "a power per area (W/m^2)", "J/m": "an energy per length (e.g. kWh/km)",
    "m/s": "a speed", "J/K": "a heat capacity (J/K)",
}
_EXAMPLES = {"J": "10 kWh", "W": "5 kW", "s": "15 min", "kWh": "10 kWh", "°C": "21 degC",
             "K": "5 K", "m2": "70 m^2", "m3": "0.8 m^3", "m": "2.6 m", "km": "40 km",
             "deg": "30 deg", "%": "14 %", "W/K": "3 W/K", "W/m2": "4 W/m^2",
             "W/(m2 K)": "0.35 W/(m^2 K)", "kWh/km": "0.18 kWh/km", "1/h": "0.4 1/h"}


class QuantityError(ValueError):
    """A text is not a quantity of the expected dimension (the message says what to give)."""


@cache
def _registry() -> Any:
    import pint

    return pint.UnitRegistry(autoconvert_offset_to_baseunit=True)


def _pint_unit(unit: str) -> str:
    """A contract ``x-unit`` (``m2``, ``°C``, ``W/(m2 K)``) as pint reads it."""
    return _X_UNITS.get(unit, _SQUARE.sub(r"**\1", unit.replace("°C", "degC")))


def example(unit: str) -> str:
    """An example quantity of ``unit`` for messages (``J`` → ``10 kWh``)."""
    return _EXAMPLES.get(unit, f"1 {unit}")


@cache
def _dimension_words() -> list[tuple[Any, str]]:
    reg = _registry()
    return [(reg.parse_units(u).dimensionality, word) for u, word in _DIMENSIONS.items()]


def _dimension_word(dim: Any) -> str:
    for d, word in _dimension_words():
        if d == dim:
            return word
    return f"of dimension {dim}"


def describe_unit(unit: str) -> str:
    """``unit`` with what it measures, for messages: ``J (an energy)``; the unit alone when
    pint does not know it (``currency/kWh``)."""
    try:
        dim = _registry().parse_units(_pint_unit(unit)).dimensionality
    except Exception:  # noqa: BLE001 - any unit pint cannot read
        return unit
    return f"{unit} ({_dimension_word(dim)})"


def _parse_unit(text: str) -> Any:
    """The pint unit of a user's unit text (``kWh``, ``kwh``, ``m2``, ``°C``)."""
    reg = _registry()
    cleaned = _SQUARE.sub(r"**\1", text.replace("·", "*").replace("^", "**"))
    try:
        return reg.parse_units(cleaned)
    except Exception as first:  # noqa: BLE001 - pint raises several kinds
        alias = _ALIASES.get(text.strip().lower())
        if alias is None:
            raise first from None
        return reg.parse_units(alias)


def to_unit(value: str, unit: str) -> float:
    """Convert a quantity written as text to a number in ``unit``.

    Parameters
    ----------
    value
        ``"10 kWh"``, ``"5kW"``, ``"15 min"``, ``"21 degC"`` or a plain number (``"3.6e7"``,
        taken to be in ``unit`` already).
    unit
        The property's unit as the contract writes it (``x-unit``: ``J``, ``W``, ``s``,
        ``kWh``, ``m2``, ``°C`` …).

    Returns
    -------
    float
        The value in ``unit``.

    Raises
    ------
    QuantityError
        If the text is not a number with a unit, the unit is unknown, its dimension differs
        from ``unit``'s, the result is not finite, or ``unit`` is one pint does not know
        (``currency/kWh``: only plain numbers are accepted there).
    """
    text = str(value)
    want = f"give {unit}, e.g. {example(unit)}"
    if len(text) > MAX_QUANTITY_CHARS:
        raise QuantityError(f"not a quantity ({len(text)} characters): {want}")
    m = _NUMBER.match(text)
    if not m:
        raise QuantityError(f"{text!r} is not a number with a unit: {want}")
    number, unit_text = float(m.group(1)), m.group(2)
    if not math.isfinite(number):
        raise QuantityError(f"{text!r} is not a finite number")
    if not unit_text:
        return number
    try:
        target = _registry().parse_units(_pint_unit(unit))
    except Exception:  # noqa: BLE001 - a unit pint does not know (currency)
        raise QuantityError(f"{text!r}: give a plain number in {unit} "
                            "(this property takes no other unit)") from None
    if not _UNIT_CHARS.match(unit_text) or _ABUSE.search(unit_text):
        raise QuantityError(f"{unit_text!r} in {text!r} is not a unit: {want}")
    temperature = str(target.dimensionality) == "[temperature]"
    try:
        if temperature and unit_text.strip() in ("C", "F", "c", "f"):  # not coulomb, farad
            unit_text = "deg" + unit_text.strip().upper()
        given = _parse_unit(unit_text)
    except Exception:  # noqa: BLE001 - UndefinedUnitError, syntax errors, …
        raise QuantityError(f"unknown unit {unit_text!r} in {text!r}: {want}") from None
    if temperature and str(target) == "kelvin" and str(given) in ("degree_Celsius",
                                                                  "degree_Fahrenheit"):
        # a [K] property is a temperature difference (delta_t): 15 °C means 15 K
        given = _registry().parse_units("delta_" + str(given))
    try:
        same = given.dimensionality == target.dimensionality
        problem = "" if same else (f"{text!r} is {_dimension_word(given.dimensionality)}, "
                                   f"not {_dimension_word(target.dimensionality)}: {want}")
    except Exception:  # noqa: BLE001 - e.g. absurd exponents
        raise QuantityError(f"{unit_text!r} in {text!r} is not a usable unit: {want}") from None
    if problem:
        raise QuantityError(problem)
    try:
        out = float(_registry().Quantity(number, given).to(target).magnitude)
    except Exception as exc:  # noqa: BLE001 - e.g. offset units in a product
        raise QuantityError(f"cannot convert {text!r} to {unit}: {exc}") from None
    if not math.isfinite(out):
        raise QuantityError(f"{text!r} is not a finite quantity")
    return out
