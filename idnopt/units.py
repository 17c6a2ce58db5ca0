"""Explicit units in instance files, normalised at load time.

Every quantity in an instance may be a plain number (read in the field's base
unit) or a string with a unit, e.g. ``"20 ms"``, ``"1.5 GB"``, ``"100 Mbit/s"``,
``"0.09 $/GB"``, ``"3 $/h"``. After loading, all values are in the base units
of DESIGN.md: time in ms, sizes in MB, rates in requests/s, bandwidth in
Mbit/s, money in $ (prices in $/hour and $/GB).

A dedicated units library (pint) would do this too; the package needs six
dimensions with a few spellings each and a one-line error naming the field,
which a small table gives with no extra dependency.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator

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
    "price_per_gb": {"$/GB": 1.0, "$/TB": 1e-3, "$/MB": 1e3},
}
BASE_UNIT = {
    "time": "ms",
    "size": "MB",
    "rate": "req/s",
    "bandwidth": "Mbit/s",
    "price_per_hour": "$/h",
    "price_per_gb": "$/GB",
}
_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*$")


def parse_quantity(value: Any, dimension: str) -> float:
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
    return number * factors[unit]


def _quantity(dimension: str) -> BeforeValidator:
    return BeforeValidator(lambda value: parse_quantity(value, dimension))


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
