"""Consoles for the ``idnopt`` command's tables."""

from __future__ import annotations

import os

from rich.console import Console

PIPED_WIDTH = 160
"""Columns of tables written to a file or a pipe (unless ``COLUMNS`` says otherwise)."""


def table_console(stderr: bool = False) -> Console:
    """A console that keeps tables whole when the output is not a terminal.

    A terminal gets its own width. Output sent to a file or a pipe has no width,
    and rich would assume 80 columns and squeeze wide tables; it gets
    :data:`PIPED_WIDTH` columns instead, unless the ``COLUMNS`` environment
    variable sets one.

    Parameters
    ----------
    stderr : bool
        Write to standard error instead of standard output.

    Returns
    -------
    rich.console.Console
    """
    console = Console(stderr=stderr)
    if console.is_terminal or "COLUMNS" in os.environ:
        return console
    return Console(stderr=stderr, width=PIPED_WIDTH)
