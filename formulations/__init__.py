"""Problem families. Importing this package registers every built-in family."""

from idnopt.formulations import idn, jellybean  # noqa: F401
