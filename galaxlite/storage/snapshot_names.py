"""Dataset-snapshot names: the ``db4ai_*`` parameters in force and ``name@version``.

Each snapshot is a real SQLite view named ``<prefix><delimiter><version>`` ("m0@1.0.0"),
plain SQL that any client can read. The delimiter (``db4ai_snapshot_version_delimiter``)
and the separator of version parts (``db4ai_snapshot_version_separator``) are parameters,
like the storage model (``db4ai_snapshot_mode``) and the seed of SAMPLE
(``db4ai_sample_seed``): a session's SET wins over ALTER DATABASE SET (stored in
``galaxlite_meta``, for every session), which wins over the defaults.

A written ``name@version`` is read under the delimiter and separator in force *now*; a
snapshot keeps the characters it was made with, so one made under others is found only by
its view name (a hint then says so). A bad value stored in the file (by a plain client)
fails when a statement needs it, as a bad mode does in openGauss when it is used: reading
``name@version`` needs only the delimiter and the separator.

Reading needs this module and ``snapshot_catalog``; both take the connection and the
session's SET mapping (not a session), so they sit below the engine. The statements that
make and change snapshots are ``galaxlite.snapshots``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import apsw

from galaxlite import errors as E
from galaxlite.transpile import plan as P
from galaxlite.transpile import quote_identifier

MODE = "db4ai_snapshot_mode"
DELIMITER = "db4ai_snapshot_version_delimiter"
SEPARATOR = "db4ai_snapshot_version_separator"
SEED = "db4ai_sample_seed"
DEFAULTS: dict[str, str | None] = {MODE: "MSS", DELIMITER: "@", SEPARATOR: ".", SEED: None}
NAMING = (DELIMITER, SEPARATOR)  # what reading name@version needs
SCHEMA = "main"  # snapshots live in SQLite's main database (openGauss: a schema)


def error_at(
    cls: type[E.Error], message: str, plan: P.Plan | None, position: int | None,
    hint: str | None = None,
) -> E.Error:
    """An error about ``plan``'s SQL at ``position``; with openGauss's ``hint``, which the
    message then ends with."""
    if hint is not None:
        message = f"{message} (HINT: {hint})"
    err = E.sql_error(cls, message, plan.source if plan else None, position)
    if hint is not None:
        err.hint = hint
    return err


# ---------------------------------------------------------------------- parameters


@dataclass(frozen=True, slots=True)
class Settings:
    """The ``db4ai_*`` parameters in force: session SET over ALTER DATABASE SET over defaults."""

    mode: str
    delimiter: str
    separator: str
    seed: int | None


def persisted(conn: apsw.Connection) -> dict[str, str]:
    """The parameters ALTER DATABASE SET stored in the file."""
    return {
        k: v for k, v in conn.execute(
            "SELECT key, value FROM galaxlite_meta WHERE key IN (?, ?, ?, ?)", tuple(DEFAULTS)
        )
    }


def values_in_force(conn: apsw.Connection, local: Mapping[str, str]) -> dict[str, str | None]:
    """Every parameter's value for a session that SET ``local``, unchecked."""
    return {**DEFAULTS, **persisted(conn), **local}


def settings_in_force(
    conn: apsw.Connection, local: Mapping[str, str], plan: P.Plan | None = None,
    position: int | None = None, need: Sequence[str] = tuple(DEFAULTS),
) -> Settings:
    """The parameters in force for a session that SET ``local``; each one a statement
    ``need``s must be acceptable (SnapshotParameterError at ``position`` of ``plan`` if not)."""
    values = values_in_force(conn, local)
    for name in need:
        value = values[name]
        if value is not None and checked_value(name, str(value), values) is None:
            raise error_at(E.SnapshotParameterError, invalid_message(name, str(value)), plan,
                           position)
    seed = values[SEED] if SEED in need else None
    return Settings(str(values[MODE]).upper(), str(values[DELIMITER]), str(values[SEPARATOR]),
                    None if seed is None else int(seed))


def checked_value(name: str, value: str, values: Mapping[str, str | None]) -> str | None:
    """``value`` as stored for parameter ``name`` given the other values in force, or None
    if it is not acceptable.

    >>> checked_value(MODE, "css", DEFAULTS), checked_value(DELIMITER, ".", DEFAULTS)
    ('CSS', None)
    """
    if name == MODE:
        return value.upper() if value.upper() in ("MSS", "CSS") else None
    if name == SEED:
        try:
            return str(int(value))
        except ValueError:
            return None
    other = values[SEPARATOR if name == DELIMITER else DELIMITER]
    if len(value) != 1 or value == other or value.isdigit() or value.isspace():
        return None
    return value


def invalid_message(name: str, value: str) -> str:
    """What openGauss says of a value parameter ``name`` cannot take."""
    if name == MODE:
        return f"invalid snapshot mode: '{value.upper()}'"
    return f'invalid value for parameter "{name}": "{value}"'


# ---------------------------------------------------------------------- names


_PLAIN_IDENT = re.compile(r"[a-z_][a-z0-9_$]*")


def quote_ident(name: str) -> str:
    """PostgreSQL's quote_ident (without its keyword list): plain lower-case names stay bare.

    >>> quote_ident("main"), quote_ident("m0@1.0.0")
    ('main', '"m0@1.0.0"')
    """
    return name if _PLAIN_IDENT.fullmatch(name) else quote_identifier(name)


def qualified(schema: str, name: str) -> str:
    """``schema.name`` as openGauss's messages write it.

    >>> qualified("main", "s@1.0.0")
    'main."s@1.0.0"'
    """
    return f"{quote_ident(schema)}.{quote_ident(name)}"


PUBLIC = "public"  # openGauss's default schema: SQLite's main database


def schema_of(plan: P.Plan, name: P.SnapshotName) -> str:
    """The schema a written snapshot name is in: only ``main`` (alias ``public``) holds
    snapshots; any other schema is refused, naming that choice."""
    if name.schema is not None and name.schema.lower() not in (SCHEMA, PUBLIC):
        raise error_at(
            E.NotSupportedError,
            f'schema "{name.schema}" does not exist: galaxlite keeps every snapshot in one '
            "schema, public (SQLite's main database); write the name without a schema or as "
            f"public.{quote_ident(name.name)}",
            plan, name.position,
        )
    return SCHEMA


def written(plan: P.Plan, name: P.SnapshotName, s: Settings) -> tuple[str, str]:
    """(schema, full name) of a written ``[schema.]name@version``, under the delimiter and
    separator in force now."""
    version = name.version.render(s.separator) if name.version is not None else ""
    return schema_of(plan, name), name.name + s.delimiter + version


def made_otherwise(conn: apsw.Connection, name: P.SnapshotName) -> str | None:
    """A hint when ``name@version`` matches a snapshot made under another delimiter or
    separator (its full name keeps the characters of its creation), else None."""
    version = name.version
    if version is None:
        return None
    for stored, version_written in conn.execute(
        "SELECT name, version FROM db4ai_snapshot WHERE prefix = ? COLLATE NOCASE ORDER BY id",
        (name.name,),
    ):
        same = (
            version_written == version.literal if version.literal is not None
            else re.split(r"[^0-9]", version_written) == list(version.parts)
        )
        if same:
            return (
                f'snapshot "{stored}" was made under another db4ai_snapshot_version_delimiter '
                f"or separator: read it by its view name \"{stored}\" (quoted), or SET the "
                "parameters it was made with"
            )
    return None
