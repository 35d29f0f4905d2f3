"""Writing many new rows fast: plain tuples in, one statement per chunk (COPY on PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Callable, Iterable

from django.db import connection, models

CHUNK = 1000  # rows per INSERT and per IN (...) lookup; well under SQLite's variable limit


def chunks(items: list[Any], size: int = CHUNK) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def insert_rows(model: Any, names: list[str], rows: list[tuple], *, returning: bool = False) -> list[int]:
    """Write plain tuples as new rows, returning their ids when asked: bulk_create without one
    model instance per row, which is most of its cost at 100,000 rows. PostgreSQL gets COPY with
    ids drawn from the table's sequence first; SQLite multi-row INSERT ... RETURNING."""
    if not rows:
        return []
    meta = model._meta
    fields = [meta.get_field(name) for name in names]
    quote = connection.ops.quote_name
    table, columns = quote(meta.db_table), [quote(f.column) for f in fields]
    with connection.cursor() as wrapper:
        cursor = wrapper.cursor  # the driver's cursor: no debug log of 30,000 parameters per statement
        if connection.vendor == "postgresql":
            return _copy_rows(cursor, meta, table, columns, fields, rows, returning)
        adapters = [_sqlite_adapter(f) for f in fields]
        one = "(" + ", ".join(["%s"] * len(fields)) + ")"
        ids: list[int] = []
        for chunk in chunks(rows, max(1, min(CHUNK, 30_000 // len(fields)))):  # SQLite: <= 32,766 parameters
            params = [adapt(value) for row in chunk for adapt, value in zip(adapters, row)]
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([one] * len(chunk))}"
            if returning:
                cursor.execute(sql + f" RETURNING {quote(meta.pk.column)}", params)
                ids.extend(row[0] for row in cursor.fetchall())
            else:
                cursor.execute(sql, params)
        return ids


def _copy_rows(cursor: Any, meta: Any, table: str, columns: list[str], fields: list[Any], rows: list[tuple],
               returning: bool) -> list[int]:
    ids: list[int] = []
    if returning:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                       [meta.db_table, meta.pk.column, len(rows)])
        ids = [row[0] for row in cursor.fetchall()]
        columns = [connection.ops.quote_name(meta.pk.column), *columns]
        rows = [(pk, *row) for pk, row in zip(ids, rows)]
    json_at = [i + returning for i, f in enumerate(fields) if isinstance(f, models.JSONField)]
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            if json_at:
                row = list(row)
                for i in json_at:
                    row[i] = json.dumps(row[i])
            copy.write_row(row)
    return ids


def _sqlite_adapter(f: Any) -> Callable[[Any], Any]:
    """Values as the ORM stores them in SQLite (datetimes as naive UTC text, JSON as text)."""
    if isinstance(f, models.DateTimeField):
        return lambda v: None if v is None else str(v.astimezone(dt.timezone.utc).replace(tzinfo=None))
    if isinstance(f, models.DateField):
        return connection.ops.adapt_datefield_value
    if isinstance(f, models.DecimalField):
        return lambda v: connection.ops.adapt_decimalfield_value(v, f.max_digits, f.decimal_places)
    if isinstance(f, models.JSONField):
        return lambda v: f.get_db_prep_save(v, connection)
    return lambda v: v
