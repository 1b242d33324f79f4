"""Dataset snapshot statements (openGauss DB4AI syntax): the lexical part.

Builders for ``CREATE / SAMPLE / PUBLISH / ARCHIVE / PURGE SNAPSHOT``, ``SET / RESET / SHOW``
of the snapshot parameters and ``ALTER DATABASE SET / RESET``. The ``name@version`` syntax and
the pass over queries live in ``snapshot_refs``, the ``USING ( ... )`` batch of
``CREATE SNAPSHOT ... FROM`` in ``snapshot_using``; ``analysis.create_as_plan`` analyses the query
of ``CREATE SNAPSHOT ... AS``. The engine (galaxlite/snapshots/) does everything that needs
the database.

>>> from galaxlite.transpile import parse_statement
>>> plan = parse_statement("CREATE SNAPSHOT m0@2021 COMMENT IS 'raw' AS SELECT * FROM t WHERE id > 3")
>>> plan.kind, plan.detail.name.version, plan.detail.projection, plan.detail.from_clause
('create_snapshot', SnapshotVersion(parts=('2021',), literal=None), 'SELECT *', 'FROM t WHERE id > 3')
>>> plan.sql
'SELECT * FROM t WHERE id > 3'
>>> parse_statement("SAMPLE SNAPSHOT m0@1 AS _train AT RATIO .8").detail.samples
(SampleSpec(label='_train', ratio=0.8, ratio_text='.8', comment=None),)
"""

from __future__ import annotations

from galaxlite.transpile import plan as P
from galaxlite.transpile.cursor import Builder, Cursor, is_op, top_level
from galaxlite.transpile.errors import UnsupportedSyntax
from galaxlite.transpile.lexer import NUMBER, OP, QIDENT, STRING, WORD, Token
from galaxlite.transpile.snapshot_refs import BAD_VERSION, is_at, name_value, version_at
from galaxlite.transpile.snapshot_using import using_batch

PARAMETERS = frozenset(
    {
        "db4ai_snapshot_mode",
        "db4ai_snapshot_version_delimiter",
        "db4ai_snapshot_version_separator",
        "db4ai_sample_seed",
        "galaxlite.dialect",  # how statements are read: 'sqlite' (as written) or 'postgres'
    }
)
_TYPOGRAPHIC = ("\u2018", "\u2019")  # ‘ ’: quotes a word processor put around a value
NAME_HINT = "reference a snapshot using the format: snapshot_name@version"


def _version(c: Cursor) -> P.SnapshotVersion:
    """The ``@version`` at the cursor (an error when there is none or it is malformed)."""
    tok = c.peek()
    found = version_at(c.stmt, c.i) if is_at(tok) else None
    if found is None:
        raise c.error(BAD_VERSION if is_at(tok) else "expected @version")
    version, c.i = found
    if version.literal == "":
        raise c.error("a snapshot version must not be empty", tok)
    return version


def _snapshot_name(c: Cursor, *, version: str = "optional", what: str = "snapshot name") -> P.SnapshotName:
    """``[schema.]name[@version]`` at the cursor; ``version`` is "optional", "required" or
    "none" (then no ``@`` may follow)."""
    first = c.peek()
    if first is None or first.kind not in (WORD, QIDENT):
        raise c.error(f"expected {what}")
    c.i += 1
    schema, name = None, name_value(first)
    if is_op(c.peek(), "."):
        c.i += 1
        tok = c.peek()
        if tok is None or tok.kind not in (WORD, QIDENT):
            raise c.error(f"expected {what} after the schema name")
        c.i += 1
        schema, name = name, name_value(tok)
    ver = None
    if is_at(c.peek()) and version != "none":
        ver = _version(c)
    elif version == "required":
        raise c.error(f"expected @version after the snapshot name: {NAME_HINT}")
    return P.SnapshotName(schema, name, ver, first.start)


def _comment(c: Cursor) -> str | None:
    """``COMMENT IS 'text'`` (or ``COMMENT IS NULL``) if it is next."""
    if not c.accept("COMMENT"):
        return None
    c.expect("IS")
    if c.accept("NULL"):
        return None
    return c.string("comment")


# ----------------------------------------------------------------------- CREATE SNAPSHOT


def build_create_temp(c: Cursor) -> tuple[str, object]:
    raise c.error("Temporary snapshots are not supported.", c.peek(1))


def build_create(c: Cursor) -> tuple[str, object]:
    """``CREATE SNAPSHOT name[@v] [COMMENT IS 'c'] AS <query>`` or
    ``CREATE SNAPSHOT name[@v] FROM @parent [COMMENT IS 'c'] USING (cmd; ...)``."""
    c.expect("CREATE", "SNAPSHOT")
    name = _snapshot_name(c)
    distribute = _distribute_by(c)
    if c.at("TO", "GROUP") or c.at("TO", "NODE"):
        raise c.error("Clustered snapshots are not supported.")
    comment = _comment(c)  # openGauss wants it after FROM @parent; both places are accepted
    if c.at("FROM"):
        if distribute is not None:
            raise c.error(
                "illegal DISTRIBUTE BY clause in CREATE SNAPSHOT ... FROM "
                "(hint: DISTRIBUTE BY is inherited from parent snapshot.)",
                distribute,
            )
        c.i += 1
        parent = _version(c) if is_at(c.peek()) else None
        if parent is None:
            raise c.error(f"expected @version of the parent snapshot after FROM: {NAME_HINT}")
        if comment is None:
            comment = _comment(c)
        elif c.at("COMMENT"):
            raise c.error("COMMENT IS given twice")
        commands = using_batch(c)
        return P.CREATE_SNAPSHOT, P.CreateSnapshot(name, comment, parent=parent, commands=commands)
    if not c.accept("AS"):
        raise c.error("expected AS <query> or FROM @version USING (...) in CREATE SNAPSHOT")
    return P.CREATE_SNAPSHOT, _create_as(c, name, comment)


def _distribute_by(c: Cursor) -> Token | None:
    """Skip a ``DISTRIBUTE BY ...`` clause (ignored before AS, as in single-node openGauss)."""
    tok = c.peek()
    if not c.accept("DISTRIBUTE", "BY"):
        return None
    if c.peek() is None:
        raise c.error("expected REPLICATION or HASH(column, ...) after DISTRIBUTE BY")
    end = top_level(c.tokens, c.i, len(c.tokens), "COMMENT", "AS", "FROM", "TO")
    if end == c.i:
        raise c.error("expected REPLICATION or HASH(column, ...) after DISTRIBUTE BY")
    c.i = end
    return tok


def _create_as(c: Cursor, name: P.SnapshotName, comment: str | None) -> P.CreateSnapshot:
    toks, k = c.tokens, c.i
    if k >= len(toks) or not toks[k].is_word("SELECT", "WITH", "VALUES"):
        raise c.error("expected a query (SELECT, WITH or VALUES) after AS in CREATE SNAPSHOT")
    last = len(toks) - 1
    split = top_level(toks, k, len(toks), "FROM")
    projection = c.text(k, split - 1) if split > k else ""
    from_clause = c.text(split, last) if split < len(toks) else ""
    return P.CreateSnapshot(
        name,
        comment,
        query=c.text(k, last),
        query_position=toks[k].start,
        projection=projection,
        from_clause=from_clause,
    )


# ------------------------------------------------------------------ SAMPLE / PUBLISH / ...


def build_sample(c: Cursor) -> tuple[str, object]:
    """``SAMPLE SNAPSHOT name@v [STRATIFY BY col, ...] AS label AT RATIO r [COMMENT IS 'c'], ...``"""
    c.expect("SAMPLE", "SNAPSHOT")
    name = _snapshot_name(c, version="required")
    stratify: list[str] = []
    if c.accept("STRATIFY"):
        c.expect("BY")
        while True:
            tok = c.peek()
            if tok is None or tok.kind not in (WORD, QIDENT) or tok.is_word("AS"):
                raise c.error("expected a column name after STRATIFY BY")
            stratify.append(name_value(tok))
            c.i += 1
            if not is_op(c.peek(), ","):
                break
            c.i += 1
    samples: list[P.SampleSpec] = []
    while True:
        if not c.accept("AS"):
            raise c.error("expected AS label AT RATIO r in SAMPLE SNAPSHOT")
        label_tok = c.peek()
        if label_tok is None or label_tok.kind not in (WORD, QIDENT):
            raise c.error("expected a sample label (the name infix, e.g. _train) after AS")
        c.i += 1
        c.expect("AT", "RATIO")
        rtok = c.peek()
        if rtok is None or rtok.kind != NUMBER or rtok.text[:2].lower() == "0x":
            raise c.error("expected a ratio (a number such as .8) after AT RATIO")
        c.i += 1
        ratio = float(rtok.text)
        if not 0 < ratio <= 1:
            raise c.error("sample ratio must be between 0 and 1", rtok)
        samples.append(P.SampleSpec(name_value(label_tok), ratio, rtok.text, _comment(c)))
        if not is_op(c.peek(), ","):
            break
        c.i += 1
    c.end()
    return P.SAMPLE_SNAPSHOT, P.SampleSnapshot(name, tuple(stratify), tuple(samples))


def _manage(action: str) -> Builder:
    def build(c: Cursor) -> tuple[str, object]:
        c.expect(action.upper(), "SNAPSHOT")
        name = _snapshot_name(c, version="required")
        c.end()
        return P.MANAGE_SNAPSHOT, P.ManageSnapshot(action, name)

    build.__doc__ = f"``{action.upper()} SNAPSHOT [schema.]name@version``"
    return build


build_publish = _manage("publish")
build_archive = _manage("archive")
build_purge = _manage("purge")


# --------------------------------------------------------------------------- parameters


def _parameter_name(c: Cursor, statement: str) -> tuple[str, Token]:
    """The (lower-cased) parameter name at the cursor, ``ext.name`` too, and its first token."""
    tok = c.peek()
    if tok is None or tok.kind not in (WORD, QIDENT):
        raise c.error(f"expected a parameter name after {statement}")
    if tok.is_word("ALL"):
        raise c.error(f"{statement} ALL is not supported: name the parameter", tok, UnsupportedSyntax)
    name, written = name_value(tok), tok.value
    c.i += 1
    nxt = c.peek(1)
    if is_op(c.peek(), ".") and nxt is not None and nxt.kind in (WORD, QIDENT):
        name, written = f"{name}.{name_value(nxt)}", f"{written}.{nxt.value}"
        c.i += 2
    if name not in PARAMETERS:
        raise c.error(f'unrecognized configuration parameter "{written}"', tok)
    return name, tok


def _assignment(c: Cursor, statement: str, persist: bool, local: bool = False) -> P.Parameter:
    """``p = value`` / ``p TO value`` / ``p = DEFAULT`` (value None: back to the default)."""
    name, _ = _parameter_name(c, statement)
    if not (is_op(c.peek(), "=") or c.at("TO")):
        raise c.error(f"expected = or TO after {name}")
    c.i += 1
    tok = c.peek()
    if tok is None:
        raise c.error(f"expected a value for {name}")
    if tok.is_word("DEFAULT"):
        c.i += 1
        c.end()
        return P.Parameter(name, None, persist, tok.start, local)
    sign = ""
    if tok.kind == OP and tok.text in "+-" and c.peek(1) is not None and c.peek(1).kind == NUMBER:
        sign = "-" if tok.text == "-" else ""
        c.i += 1
    val = c.next()
    if val.kind == NUMBER:
        value = sign + val.text
    elif sign or val.kind not in (WORD, QIDENT, STRING):
        raise c.error(f"expected a value (a name, 'string' or number) for {name}", val)
    elif val.kind == WORD and len(val.text) > 2 and val.text[0] in _TYPOGRAPHIC and val.text[-1] in _TYPOGRAPHIC:
        value = val.text[1:-1]  # ’_’ as a document prints '_'
    else:
        value = name_value(val) if val.kind == WORD else val.value
    c.end()
    return P.Parameter(name, value, persist, tok.start, local)


def build_set(c: Cursor) -> tuple[str, object]:
    """``SET p = v`` / ``SET p TO v``; ``SET SESSION p ...`` (the same) and ``SET LOCAL p ...``
    (until the transaction ends)."""
    c.expect("SET")
    if c.accept("LOCAL"):
        return P.SET_PARAMETER, _assignment(c, "SET LOCAL", persist=False, local=True)
    c.accept("SESSION")
    return P.SET_PARAMETER, _assignment(c, "SET", persist=False)


def build_reset(c: Cursor) -> tuple[str, object]:
    c.expect("RESET")
    name, tok = _parameter_name(c, "RESET")
    c.end()
    return P.SET_PARAMETER, P.Parameter(name, None, False, tok.start)


def build_show(c: Cursor) -> tuple[str, object]:
    c.expect("SHOW")
    name, tok = _parameter_name(c, "SHOW")
    c.end()
    return P.SHOW_PARAMETER, P.Parameter(name, None, False, tok.start)


def build_alter_database(c: Cursor) -> tuple[str, object]:
    """``ALTER DATABASE [name] SET p = v`` / ``ALTER DATABASE [name] RESET p``: stored in the
    file (the name is not checked: the database is the file)."""
    c.expect("ALTER", "DATABASE")
    nxt = c.peek(1)
    if (c.peek() is not None and c.peek().kind in (WORD, QIDENT) and not c.at("SET")
            and not c.at("RESET") and nxt is not None and nxt.is_word("SET", "RESET")):
        c.i += 1
    if c.accept("SET"):
        return P.SET_PARAMETER, _assignment(c, "ALTER DATABASE SET", persist=True)
    if c.accept("RESET"):
        name, tok = _parameter_name(c, "ALTER DATABASE RESET")
        c.end()
        return P.SET_PARAMETER, P.Parameter(name, None, True, tok.start)
    raise c.error("expected SET or RESET after ALTER DATABASE (galaxlite has one database per file)")

