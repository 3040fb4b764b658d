"""The test suite: a regular package, so an installed distribution that ships its own top-level
``tests`` package cannot shadow this one (``tests.integration``, ``tests.conftest`` ...).

Only this top folder has an ``__init__``: the folders below stay namespace packages, which
pytest imports with ``--import-mode=importlib`` (pyproject.toml).
"""
