"""The order-line rollups (decision 037): database triggers keep them equal to the sums of the lines.

Every write to `signals_orderline` (the order import, the bulk writer's COPY, the ORM, a cascade from a
deleted account, a hand-typed SQL statement) updates, in the same transaction:

- `signals_orderday`: per account and order day, revenue, margin (blank = 0) and the number of lines;
- `signals_orderlineday`: the same per account, product line (blank lines left out) and day;
- `signals_productmonth`: the same per account, product and calendar month;
- `signals_lineschanged`: the accounts whose lines were deleted or changed (not added: new lines have a
  higher id), which the next incremental scan recomputes.

A row whose last line is deleted goes. PostgreSQL: one statement-level trigger per operation reading its
transition table (one aggregate per COPY or INSERT batch, not per line). SQLite: row-level triggers.
"""

from __future__ import annotations

from typing import Any

ROLLUPS = {
    # table: (key columns, the same computed from a line `{t}` where `{t}` is the line's alias, filter)
    "signals_orderday": (("account_id", "day"), ("{t}.account_id", "{t}.ordered_at"), "TRUE"),
    "signals_orderlineday": (("account_id", "product_line", "day"),
                             ("{t}.account_id", "{t}.product_line", "{t}.ordered_at"), "{t}.product_line <> ''"),
    "signals_productmonth": (("account_id", "product", "month"), ("{t}.account_id", "{t}.product", "{month}"),
                             "TRUE"),
}
OPERATIONS = ("insert", "delete", "update")


def month_sql(vendor: str, column: str) -> str:
    if vendor == "postgresql":
        return f"CAST(date_trunc('month', {column}) AS date)"
    return f"strftime('%Y-%m-01', {column})"


def key_exprs(vendor: str, table: str, alias: str) -> list[str]:
    month = month_sql(vendor, f"{alias}.ordered_at")
    return [e.format(t=alias, month=month) for e in ROLLUPS[table][1]]


def where_of(vendor: str, table: str, alias: str) -> str:
    condition = ROLLUPS[table][2].format(t=alias)
    return "1 = 1" if condition == "TRUE" else condition


# PostgreSQL: statement-level triggers ---------------------------------------------------------------

def pg_apply(source: str, removes: bool) -> str:
    """The statements adding `source` (rows of signals_orderline's columns plus `sign`, +1 or -1) to
    every rollup; `removes`: also drop rows left with no line and mark the accounts changed."""
    parts = []
    for table, (keys, _, _) in ROLLUPS.items():
        exprs = key_exprs("postgresql", table, "s")
        columns = ", ".join(keys)
        selected = ", ".join(f"{e} AS {k}" for e, k in zip(exprs, keys))
        parts.append(f"""
    INSERT INTO {table} ({columns}, revenue, margin, lines)
    SELECT {columns}, SUM(revenue), SUM(margin), SUM(sign) FROM (
        SELECT {selected}, s.sign * s.revenue AS revenue, s.sign * COALESCE(s.margin, 0) AS margin, s.sign
        FROM ({source}) s WHERE {where_of("postgresql", table, "s")}) changed
    GROUP BY {columns}
    ON CONFLICT ({columns}) DO UPDATE SET revenue = {table}.revenue + EXCLUDED.revenue,
        margin = {table}.margin + EXCLUDED.margin, lines = {table}.lines + EXCLUDED.lines;""")
        if removes:
            match = " AND ".join(f"r.{k} = {e}" for k, e in zip(keys, exprs))
            parts.append(f"""
    DELETE FROM {table} r USING ({source}) s WHERE r.lines <= 0 AND {match};""")
    if removes:
        parts.append(f"""
    INSERT INTO signals_lineschanged (account_id) SELECT DISTINCT account_id FROM ({source}) s
    ON CONFLICT (account_id) DO NOTHING;""")
    return "".join(parts)


COLUMNS = "account_id, ordered_at, product_line, product, revenue, margin"


def pg_statements() -> list[str]:
    sources = {
        "insert": (f"SELECT {COLUMNS}, 1 AS sign FROM new_lines", "REFERENCING NEW TABLE AS new_lines", False),
        "delete": (f"SELECT {COLUMNS}, -1 AS sign FROM old_lines", "REFERENCING OLD TABLE AS old_lines", True),
        "update": (f"SELECT {COLUMNS}, 1 AS sign FROM new_lines UNION ALL SELECT {COLUMNS}, -1 FROM old_lines",
                   "REFERENCING OLD TABLE AS old_lines NEW TABLE AS new_lines", True),
    }
    statements = []
    for operation, (source, referencing, removes) in sources.items():
        statements.append(f"""
CREATE OR REPLACE FUNCTION signals_orderline_rollup_{operation}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN{pg_apply(source, removes)}
    RETURN NULL;
END $$""")
        statements.append(f"""
CREATE TRIGGER signals_orderline_rollup_{operation} AFTER {operation.upper()} ON signals_orderline
{referencing} FOR EACH STATEMENT EXECUTE FUNCTION signals_orderline_rollup_{operation}()""")
    return statements


# SQLite: row-level triggers -------------------------------------------------------------------------

def sqlite_add(row: str) -> str:
    parts = []
    for table, (keys, _, _) in ROLLUPS.items():
        columns = ", ".join(keys)
        values = ", ".join(key_exprs("sqlite", table, row))
        parts.append(f"""
    INSERT INTO {table} ({columns}, revenue, margin, lines)
    SELECT {values}, {row}.revenue, COALESCE({row}.margin, 0), 1 WHERE {where_of("sqlite", table, row)}
    ON CONFLICT ({columns}) DO UPDATE SET revenue = revenue + excluded.revenue, margin = margin + excluded.margin,
        lines = lines + 1;""")
    return "".join(parts)


def sqlite_remove(row: str) -> str:
    parts = []
    for table, (keys, _, _) in ROLLUPS.items():
        match = " AND ".join(f"{k} = {e}" for k, e in zip(keys, key_exprs("sqlite", table, row)))
        parts.append(f"""
    UPDATE {table} SET revenue = revenue - {row}.revenue, margin = margin - COALESCE({row}.margin, 0),
        lines = lines - 1 WHERE {match};
    DELETE FROM {table} WHERE lines <= 0 AND {match};""")
    parts.append(f"""
    INSERT OR IGNORE INTO signals_lineschanged (account_id) VALUES ({row}.account_id);""")
    return "".join(parts)


def sqlite_statements() -> list[str]:
    bodies = {"insert": sqlite_add("NEW"), "delete": sqlite_remove("OLD"),
              "update": sqlite_remove("OLD") + sqlite_add("NEW") + """
    INSERT OR IGNORE INTO signals_lineschanged (account_id) VALUES (NEW.account_id);"""}
    return [f"""
CREATE TRIGGER signals_orderline_rollup_{operation} AFTER {operation.upper()} ON signals_orderline
FOR EACH ROW BEGIN{body}
END""" for operation, body in bodies.items()]


def backfill_statements(vendor: str) -> list[str]:
    """The rollups computed from the lines already in the table (run once, by the migration)."""
    statements = []
    for table, (keys, _, _) in ROLLUPS.items():
        exprs = key_exprs(vendor, table, "l")
        statements.append(f"""
INSERT INTO {table} ({", ".join(keys)}, revenue, margin, lines)
SELECT {", ".join(exprs)}, SUM(l.revenue), SUM(COALESCE(l.margin, 0)), COUNT(*)
FROM signals_orderline l WHERE {where_of(vendor, table, "l")} GROUP BY {", ".join(exprs)}""")
    return statements


def install(schema_editor: Any) -> None:
    vendor = schema_editor.connection.vendor
    for statement in backfill_statements(vendor):
        schema_editor.execute(statement, params=None)
    for statement in (pg_statements() if vendor == "postgresql" else sqlite_statements()):
        schema_editor.execute(statement, params=None)


def uninstall(schema_editor: Any) -> None:
    vendor = schema_editor.connection.vendor
    for operation in OPERATIONS:
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS signals_orderline_rollup_{operation} ON signals_orderline")
            schema_editor.execute(f"DROP FUNCTION IF EXISTS signals_orderline_rollup_{operation}()")
        else:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS signals_orderline_rollup_{operation}")


# A TRUNCATE fires no row or statement trigger of the three operations above: on PostgreSQL its own
# trigger empties the rollups too and forgets the last scan (a full scan next), so a bulk path that
# truncates the lines leaves nothing stale (decision 041). SQLite has no TRUNCATE: its `DELETE FROM` with
# triggers deletes row by row, through the delete trigger.
TRUNCATE_TRIGGER = "signals_orderline_truncate"


def pg_truncate_statements() -> list[str]:
    # A table the same TRUNCATE statement named (Django's test flush names them all) is empty by now and
    # may not be truncated again inside it: only the non-empty ones are.
    tables = [*ROLLUPS, "signals_lineschanged", "signals_accountrecheck"]
    empty = "".join(f"""
    IF EXISTS (SELECT 1 FROM {table}) THEN TRUNCATE {table}; END IF;""" for table in tables)
    return [f"""
CREATE OR REPLACE FUNCTION {TRUNCATE_TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN{empty}
    DELETE FROM signals_scanstate;
    RETURN NULL;
END $$""", f"""
CREATE TRIGGER {TRUNCATE_TRIGGER} AFTER TRUNCATE ON signals_orderline
FOR EACH STATEMENT EXECUTE FUNCTION {TRUNCATE_TRIGGER}()"""]


def install_truncate(schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        for statement in pg_truncate_statements():
            schema_editor.execute(statement, params=None)


def uninstall_truncate(schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {TRUNCATE_TRIGGER} ON signals_orderline")
        schema_editor.execute(f"DROP FUNCTION IF EXISTS {TRUNCATE_TRIGGER}()")


def installed() -> list[str]:
    """The rollup triggers present on signals_orderline (three when the rollups are kept)."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT tgname FROM pg_trigger WHERE tgrelid = 'signals_orderline'::regclass "
                           "AND tgname LIKE 'signals_orderline_rollup_%' ORDER BY tgname")
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'signals_orderline' "
                           "AND name LIKE 'signals_orderline_rollup_%' ORDER BY name")
        return [row[0] for row in cursor.fetchall()]
