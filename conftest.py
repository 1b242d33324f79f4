"""Collection of the doctests in the source packages (pytest --doctest-modules).

A module of an optional integration imports its framework at the top; without it installed
there is nothing to collect there (its tests in tests/ skip with the reason).
"""

import importlib.util

collect_ignore = []
if importlib.util.find_spec("datasette") is None:
    collect_ignore.append("galaxlite/datasette")
