"""Writing many new rows fast, for the two bulk loaders (CSV import and the demo generator).

Plain tuples in, one statement per batch: COPY on PostgreSQL, multi-row INSERT on SQLite. Measured
on SQLite, `bulk_create` spent about three quarters of the demo's time compiling SQL and building
model instances (2,000 deals: 15 s against 5 s this way). This path skips both and converts values
with the backend's own adapters (`connection.ops.adapt_*`, the JSON field's `get_db_prep_save`), as
the ORM does, so what lands in the table is the same.

    writer = BulkWriter(Deal, ["title", "account", ...])   # prepared once, used for every batch
    ids = writer.insert_returning(rows)                    # or writer.insert(rows) -> how many
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
from typing import Any, Callable, Iterable, Iterator

from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.models.expressions import RawSQL

CHUNK = 1000  # rows per IN (...) lookup and per SQLite INSERT; well under SQLite's variable limit
COPY_BATCH = 2000  # rows per COPY statement: bounds memory when rows come from a generator
SQLITE_PARAMS = 30_000  # SQLite allows 32,766 parameters per statement


def chunks(items: list[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def matching(queryset: Any, field: str, values: list[Any]) -> Iterator[Any]:
    """`queryset.filter(field__in=chunk)` for each chunk of `values`, in a form that uses the index.

    PostgreSQL plans a 1,000-item literal IN list as a sequential scan once the table is large
    (75 ms per lookup at 220,000 deals, so 100 lookups are 7.5 s of an import); the same values as
    `IN (SELECT unnest(array))` probe the unique index (1.5 ms)."""
    db = connections[queryset.db]
    for chunk in chunks(values):
        if db.vendor == "postgresql":
            kind = "bigint" if isinstance(chunk[0], int) else "text"
            yield queryset.filter(**{f"{field}__in": RawSQL(f"SELECT unnest(%s::{kind}[])", [chunk])})
        else:
            yield queryset.filter(**{f"{field}__in": chunk})


def _sqlite_utc(value: dt.datetime) -> str:
    if value.tzinfo is dt.timezone.utc:
        return str(value.replace(tzinfo=None))
    return connections[DEFAULT_DB_ALIAS].ops.adapt_datetimefield_value(value)


def _adapter(field: Any) -> Callable[[Any], Any] | None:
    """The backend's own conversion for a column's values, or None when the driver takes them as they are."""
    db = connections[DEFAULT_DB_ALIAS]  # the real wrapper, not the per-thread proxy: looked up once
    ops = db.ops
    if isinstance(field, models.DateTimeField):
        if db.vendor == "sqlite" and db.timezone == dt.timezone.utc:
            return _sqlite_utc  # what adapt_datetimefield_value returns for UTC values, three times faster
        return ops.adapt_datetimefield_value
    if isinstance(field, models.DateField):
        return ops.adapt_datefield_value
    if isinstance(field, models.DecimalField):
        return ops.adapt_decimalfield_value
    if isinstance(field, models.JSONField):
        return functools.partial(field.get_db_prep_save, connection=db)
    return None


class BulkWriter:
    """New rows for one table with a fixed column list (field names: "account" or "account_id")."""

    def __init__(self, model: Any, names: Iterable[str]):
        meta = model._meta
        self.model = model
        self.table = meta.db_table
        self.fields = [meta.get_field(name) for name in names]
        self.pk = meta.pk.column
        self.prepare = [(i, adapt) for i, adapt in enumerate(map(_adapter, self.fields)) if adapt is not None]
        self.db = connections[DEFAULT_DB_ALIAS]
        quote = self.db.ops.quote_name
        self.names = ", ".join(quote(f.column) for f in self.fields)
        self.quoted = quote(self.table)

    def insert(self, rows: Iterable[tuple]) -> int:
        """Write the rows (an iterable is consumed batch by batch); returns how many were written."""
        return self._write(rows, returning=False)[0]

    def insert_returning(self, rows: list[tuple]) -> list[int]:
        """Write the rows and return their new ids, in order."""
        if self.db.vendor == "postgresql":
            ids = self.reserve_ids(len(rows))
            BulkWriter(self.model, [self.model._meta.pk.name, *(f.name for f in self.fields)]).insert(
                (pk, *row) for pk, row in zip(ids, rows))
            return ids
        return self._write(rows, returning=True)[1]

    def _write(self, rows: Iterable[tuple], returning: bool) -> tuple[int, list[int]]:
        written, ids = 0, []
        it = iter(rows)
        postgres = self.db.vendor == "postgresql"
        per_statement = COPY_BATCH if postgres else max(1, min(CHUNK, SQLITE_PARAMS // len(self.fields)))
        # The driver's cursor: no debug log of 30,000 parameters per statement. Its errors are
        # translated to Django's, so callers catch django.db.IntegrityError as for any query.
        with self.db.cursor() as wrapper, self.db.wrap_database_errors:
            cursor = wrapper.cursor
            while batch := list(itertools.islice(it, per_statement)):
                if self.prepare:
                    batch = [self._prepared(row) for row in batch]
                if postgres:
                    # COPY streams the rows in one round trip; executemany costs one per row.
                    with cursor.copy(f"COPY {self.quoted} ({self.names}) FROM STDIN") as copy:
                        for row in batch:
                            copy.write_row(row)
                else:
                    one = "(" + ", ".join(["%s"] * len(self.fields)) + ")"
                    sql = f"INSERT INTO {self.quoted} ({self.names}) VALUES {', '.join([one] * len(batch))}"
                    params = [value for row in batch for value in row]
                    if returning:
                        cursor.execute(sql + f" RETURNING {self.db.ops.quote_name(self.pk)}", params)
                        ids.extend(row[0] for row in cursor.fetchall())
                    else:
                        cursor.execute(sql, params)
                written += len(batch)
        return written, ids

    def _prepared(self, row: tuple) -> list:
        values = list(row)
        for i, adapt in self.prepare:
            if values[i] is not None:
                values[i] = adapt(values[i])
        return values

    def reserve_ids(self, count: int) -> list[int]:
        """Ids for `count` new rows, taken before inserting so children can point at them.

        PostgreSQL hands them out from the table's sequence (safe with concurrent writers);
        SQLite continues after the highest id, which is safe only under the write lock that a
        transaction holds once it has written (the demo generator's chunks)."""
        if count == 0:
            return []
        with self.db.cursor() as cursor:
            if self.db.vendor == "postgresql":
                cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                               [self.table, self.pk, count])
                return [row[0] for row in cursor.fetchall()]
            cursor.execute(f"SELECT MAX({self.db.ops.quote_name(self.pk)}) FROM {self.quoted}")
            top = cursor.fetchone()[0] or 0
            cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [self.table])
            seq = cursor.fetchone()
            first = max(top, seq[0] if seq else 0) + 1
            return list(range(first, first + count))


def insert_rows(model: Any, names: list[str], rows: list[tuple], *, returning: bool = False) -> list[int]:
    """One-off `BulkWriter`: the new rows' ids when `returning`, else []."""
    writer = BulkWriter(model, names)
    if returning:
        return writer.insert_returning(rows)
    writer.insert(rows)
    return []
