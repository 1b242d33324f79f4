"""Running statements: the session (connection and statement state), write scopes,
rendering plans into the SQL that runs, and results.

* ``session`` — ``Session``, the engine's internal API (see its docstring);
* ``writes`` — how a write becomes (part of) one version;
* ``render`` — AT VERSION / ``name@version`` / SEMANTIC_* holes → SQL;
* ``result`` — ``Result`` and ``describe``;
* ``binding`` — errors of binding and running, located in the user's SQL.
"""
