"""Problem families, one package each (``idn``, ``jellybean``…).

Each family declares a :class:`idnopt.family.Family` object named ``FAMILY`` in
its package and registers it through the ``idnopt.families`` entry point
(pyproject.toml); importing this package imports no family.
"""
