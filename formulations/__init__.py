"""Problem families. Importing this package registers every built-in family."""

from idnopt.formulations import idn  # noqa: F401
