"""Explicit units in instance files, normalised at load time.

Every quantity in an instance may be a plain number (read in the field's base
unit) or a string with a unit, e.g. ``"20 ms"``, ``"1.5 GB"``, ``"100 Mbit/s"``,
``"0.09 $/GB"``, ``"0.1 $/GiB"``, ``"3 $/h"``, ``"56.5 %"``. After loading, all
values are in the base units of DESIGN.md: time in ms, sizes in MB, rates in
requests/s, bandwidth in Mbit/s, money in $ (prices in $/hour and $/GB), and
fractions (accuracies) as plain numbers (``"56.5 %"`` is 0.565).

A dedicated units library (pint) would do this too; the package needs six
dimensions with a few spellings each and a one-line error naming the field,
which a small table gives with no extra dependency.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic_core import core_schema

# dimension -> {unit spelling: factor to the base unit}
UNITS: dict[str, dict[str, float]] = {
    "time": {"ms": 1.0, "s": 1000.0, "us": 1e-3, "µs": 1e-3, "ns": 1e-6, "min": 60000.0},
    "size": {
        "MB": 1.0,
        "B": 1e-6,
        "kB": 1e-3,
        "KB": 1e-3,
        "GB": 1e3,
        "TB": 1e6,
        "KiB": 1024 / 1e6,
        "MiB": 1024**2 / 1e6,
        "GiB": 1024**3 / 1e6,
    },
    "rate": {"req/s": 1.0, "/s": 1.0, "rps": 1.0, "req/min": 1 / 60, "req/h": 1 / 3600, "Hz": 1.0},
    "bandwidth": {
        "Mbit/s": 1.0,
        "Mbps": 1.0,
        "kbit/s": 1e-3,
        "kbps": 1e-3,
        "Gbit/s": 1e3,
        "Gbps": 1e3,
        "MB/s": 8.0,
        "GB/s": 8e3,
    },
    "price_per_hour": {"$/h": 1.0, "$/hour": 1.0, "$/month": 1 / 730.0, "$/s": 3600.0},
    "price_per_gb": {
        "$/GB": 1.0,
        "$/TB": 1e-3,
        "$/MB": 1e3,
        "$/GiB": 1e9 / 1024**3,
        "$/TiB": 1e9 / 1024**4,
        "$/MiB": 1e9 / 1024**2,
    },
    "fraction": {"%": 0.01, "percent": 0.01},
}
BASE_UNIT = {
    "time": "ms",
    "size": "MB",
    "rate": "req/s",
    "bandwidth": "Mbit/s",
    "price_per_hour": "$/h",
    "price_per_gb": "$/GB",
    "fraction": "%",
}
_PER_HUNDRED = frozenset({"%", "percent"})
"""Units read by dividing by 100 (a product with 0.01 is one ulp off for many whole numbers)."""
_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*$")
LARGEST: dict[str, float] = {
    "time": 1e10,
    "size": 1e10,
    "rate": 1e9,
    "bandwidth": 1e10,
    "price_per_hour": 1e9,
    "price_per_gb": 1e9,
}
"""Largest magnitude accepted per dimension, in its base unit (about 116 days, 10 PB,
a billion requests/s, 10 Pbit/s, a billion $/h or $/GB): anything beyond is a typo, and
would overflow or swamp the solvers' tolerances."""
DEFAULT_LARGEST = 1e12
"""Largest magnitude of a dimension :data:`LARGEST` does not list."""
_SEPARATED = re.compile(r"^\s*[-+]?\d+(?:[,'_ ]\d+)+")
"""A number written with a decimal comma or thousands separators (``2,5``, ``1,000``)."""


def _convert(value: Any, dimension: str) -> float:
    """Convert a number or a ``"<number> <unit>"`` string to the base unit.

    Parameters
    ----------
    value : float, int or str
        A number (already in the base unit) or a string with a unit.
    dimension : str
        One of the keys of :data:`UNITS`.

    Returns
    -------
    float
        The value in the dimension's base unit.

    Raises
    ------
    ValueError
        With a message listing the accepted units.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a {dimension} quantity, got a boolean")
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"expected a number or a string like '10 {BASE_UNIT[dimension]}'")
    match = _QUANTITY.match(value)
    if match is None:
        raise ValueError(
            f"cannot read {value!r} as a {dimension.replace('_', ' ')}; "
            f"write e.g. '10 {BASE_UNIT[dimension]}'"
        )
    number, unit = float(match.group(1)), match.group(2)
    if not unit:
        return number
    factors = UNITS[dimension]
    if unit not in factors:
        accepted = ", ".join(factors)
        raise ValueError(
            f"unknown unit {unit!r} for a {dimension.replace('_', ' ')}; use one of {accepted}"
        )
    if unit in _PER_HUNDRED:
        return number / 100.0  # the rounded quotient: "57 %" is 0.57, not 57 * 0.01
    return number * factors[unit]


def parse_quantity(value: Any, dimension: str) -> float:
    """Convert a number or a ``"<number> <unit>"`` string to the base unit, within range.

    Parameters
    ----------
    value : float, int or str
        A number (already in the base unit) or a string with a unit.
    dimension : str
        One of the keys of :data:`UNITS`.

    Returns
    -------
    float
        The value in the dimension's base unit: finite, and at most
        :data:`LARGEST` in magnitude.

    Raises
    ------
    ValueError
        With a one-line message: the accepted units, or the accepted range.
    """
    what = _name(dimension)
    if isinstance(value, bool):
        raise ValueError(
            f"expected a {what}, got a boolean (YAML reads yes, no, on and off as booleans); "
            f"write e.g. '10 {BASE_UNIT.get(dimension, '')}'".rstrip()
        )
    if isinstance(value, str) and _SEPARATED.match(value):
        raise ValueError(
            f"cannot read {_shown(value)} as a {what}: write numbers with a decimal point "
            "and no thousands separators (e.g. '2.5', '1000')"
        )
    try:
        number = _convert(value, dimension)
    except OverflowError:  # an integer beyond the floating-point range
        number = math.inf
    if math.isnan(number):
        raise ValueError(f"NaN is not a {what}; give a number")
    largest = LARGEST.get(dimension, DEFAULT_LARGEST)
    if abs(number) > largest:
        sign = "at most " if number > 0 else "at least -"
        raise ValueError(
            f"{_shown(value)} is out of range for a {what}: "
            f"{sign}{_power(largest)}{_base_unit(dimension)} is accepted"
        )
    return number


def _name(dimension: str) -> str:
    """A dimension in words: ``price per GB`` for ``price_per_gb``."""
    return dimension.replace("_", " ").replace(" gb", " GB")


def _shown(value: Any) -> str:
    """A value as written, short enough for a one-line message."""
    if isinstance(value, int) and not isinstance(value, bool):
        if abs(value) >= 10**4000:  # str() refuses integers this long
            return "an integer of more than 4000 digits"
        digits = len(str(abs(value)))
        return str(value) if digits <= 20 else f"an integer of {digits} digits"
    if isinstance(value, float):
        return f"{value:g}"
    text = str(value).strip()
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _power(value: float) -> str:
    """``1e10`` rather than ``1e+10`` or ``10000000000.0``."""
    mantissa, exponent = f"{value:e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"


def _base_unit(dimension: str) -> str:
    """`` <unit>`` when plain numbers are read in a unit, else nothing (fractions)."""
    unit = BASE_UNIT.get(dimension)
    return f" {unit}" if unit is not None and UNITS[dimension].get(unit) == 1.0 else ""


_STANDARD = {"ge": "minimum", "gt": "exclusiveMinimum", "le": "maximum", "lt": "exclusiveMaximum"}
"""Constraint names pydantic may leave in a schema, and their JSON Schema keywords."""


def quantity_json_schema(number: dict[str, Any], dimension: str) -> dict[str, Any]:
    """JSON Schema of a quantity: a number in the base unit, or a string with a unit.

    Parameters
    ----------
    number : dict
        Schema of the value as a number (its bounds with pydantic's or JSON
        Schema's names).
    dimension : str
        One of the keys of :data:`UNITS`.

    Returns
    -------
    dict
        ``{"anyOf": [number, string], "description": …}``: the number's bounds
        with standard keywords and the dimension's range, the string matching
        ``"<number> <unit>"`` for the dimension's units, the units listed in
        the description.
    """
    largest = LARGEST.get(dimension, DEFAULT_LARGEST)
    numeric = {_STANDARD.get(key, key): value for key, value in number.items()}
    numeric["maximum"] = min(numeric.get("maximum", largest), largest)
    if "minimum" not in numeric and "exclusiveMinimum" not in numeric:
        numeric["minimum"] = -largest
    units = list(UNITS.get(dimension, {}))
    alternatives = "|".join(re.escape(unit) for unit in sorted(units, key=len, reverse=True))
    pattern = (
        r"^\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*"
        + (f"(?:{alternatives})?" if alternatives else "")
        + r"\s*$"
    )
    what = _name(dimension)
    base = _base_unit(dimension)
    plain = f"a number in{base}" if base else "a plain number"
    example = BASE_UNIT.get(dimension, "")
    text = (
        f"A {what}: {plain}, or a string '<number> <unit>' (e.g. '10 {example}') with one "
        f"of the units {', '.join(units)}; at most {_power(largest)}{base} in magnitude."
    )
    string = {"type": "string", "pattern": pattern, "description": text}
    return {"anyOf": [numeric, string], "description": text}


class _Quantity:
    """Annotation of a quantity field: units parsed before validation, documented in schemas."""

    def __init__(self, dimension: str) -> None:
        self.dimension = dimension

    def _parse(self, value: Any) -> float:
        return parse_quantity(value, self.dimension)

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_before_validator_function(self._parse, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        return quantity_json_schema(handler(schema), self.dimension)


def _quantity(dimension: str) -> _Quantity:
    return _Quantity(dimension)


Milliseconds = Annotated[float, _quantity("time")]
"""A duration, normalised to milliseconds."""
Megabytes = Annotated[float, _quantity("size")]
"""A size, normalised to megabytes (10^6 bytes)."""
RequestsPerSecond = Annotated[float, _quantity("rate")]
"""A request rate, normalised to requests per second."""
MegabitsPerSecond = Annotated[float, _quantity("bandwidth")]
"""A bandwidth, normalised to Mbit/s."""
DollarsPerHour = Annotated[float, _quantity("price_per_hour")]
"""A running cost, normalised to $/hour."""
DollarsPerGigabyte = Annotated[float, _quantity("price_per_gb")]
"""A transfer price, normalised to $/GB."""
Fraction = Annotated[float, _quantity("fraction")]
"""A fraction such as an accuracy: a plain number, or a percentage (``"56.5 %"`` is 0.565)."""
