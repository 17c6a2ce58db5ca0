"""``NAME=VALUE`` options (``-O``, ``--policy-option``…) read the same way by every command."""

from __future__ import annotations

from typing import Any

import click


def read_pairs(pairs: tuple[str, ...], option: str = "--option") -> dict[str, Any]:
    """Read ``NAME=VALUE`` pairs into a dict, values as YAML scalars (text when not YAML).

    Parameters
    ----------
    pairs : tuple of str
        As click collects a repeatable option.
    option : str
        The option's name, for the usage message.

    Returns
    -------
    dict
        Names (``-`` read as ``_``) to values, in the order given.

    Raises
    ------
    click.BadParameter
        For a pair without ``=`` or without a name.
    """
    import yaml

    values: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not name:
            raise click.BadParameter(f"{pair!r} is not NAME=VALUE", param_hint=f"'{option}'")
        try:
            values[name] = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            values[name] = text
    return values
