"""Order and quote import from an ERP export: read -> check every row -> write in bulk, all or nothing.

The file is read twice, streamed both times: the first pass checks every row and writes nothing;
only when no row is bad does the second pass write, in chunks of CHUNK rows inside one transaction.
Order lines already imported (same account, order id and line) are skipped, so importing the same
file again adds nothing and a file with new lines adds only those.
"""

from __future__ import annotations

import datetime as dt
import io
import time
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import IO, Any, Callable, Iterator

from django.conf import settings
from django.db import reset_queries, transaction
from django.db.models import Sum

from dealgate.audit.context import Surface, acting_from
from dealgate.audit.services import entry, write_entries
from dealgate.deals.models import Account
from dealgate.errors import NotAllowed, ValidationFailed
from dealgate.imports.parsers import open_table
from dealgate.inputs import unstorable_reason
from dealgate.imports.report import ImportReport, RowError
from dealgate.people.access import role_of
from dealgate.people.models import Role
from dealgate.signals.models import OrderDay, OrderLine, Quote, QuoteStatus, take_turns_with_order_writes

CHUNK = 5000
CENTS = Decimal("0.01")
MAX_ERRORS_KEPT = 1000  # a 10M-line file with a systematic error must not fill memory with messages
MAPPINGS = ("generic",)

ORDER_COLUMNS = ("account", "order_id", "ordered_at", "product", "product_line", "quantity", "revenue", "margin",
                 "line")
ORDER_REQUIRED = ("account", "order_id", "ordered_at", "product", "quantity", "revenue")
QUOTE_COLUMNS = ("account", "number", "amount", "currency", "issued", "expires", "status")
QUOTE_REQUIRED = ("account", "number", "amount", "issued", "expires", "status")
QUOTE_STATUS_WORDS = {
    "open": QuoteStatus.OPEN, "sent": QuoteStatus.OPEN, "draft": QuoteStatus.OPEN,
    "accepted": QuoteStatus.ACCEPTED, "won": QuoteStatus.ACCEPTED, "ordered": QuoteStatus.ACCEPTED,
    "declined": QuoteStatus.DECLINED, "lost": QuoteStatus.DECLINED, "rejected": QuoteStatus.DECLINED,
    "expired": QuoteStatus.EXPIRED,
}


class BadCell(ValueError):
    def __init__(self, column: str, value: str, message: str):
        super().__init__(message)
        self.column, self.value, self.message = column, value, message


@dataclass
class Accounts:
    """Account ids by external id and by lower-cased name, and the names the file adds."""

    by_key: dict[str, int]
    missing: dict[str, None]  # ordered set of names not known yet
    create: bool

    @classmethod
    def load(cls, create: bool) -> "Accounts":
        by_key: dict[str, int] = {}
        known = Account.objects.values_list("pk", "name", "external_id").iterator(chunk_size=CHUNK)
        for pk, name, external_id in known:
            by_key.setdefault(name.strip().lower(), pk)
            if external_id:
                by_key[external_id.strip().lower()] = pk  # an external id wins over a name
        return cls(by_key=by_key, missing={}, create=create)

    def check(self, text: str) -> None:
        key = text.strip().lower()
        if key in self.by_key or key in self.missing:
            return
        if not self.create:
            raise BadCell("account", text, "no account has this name or external id; create it first, or import "
                                           "with --create-accounts")
        self.missing[key] = None

    def create_missing(self, names: dict[str, str], by: Any) -> int:
        """The file's unknown accounts, each with its "created" entry in the audit log (surface: import)."""
        created = []
        for key in list(self.missing):
            account = Account.objects.create(name=names[key])
            self.by_key[key] = account.pk
            created.append(entry(account, "created", by=by))
        write_entries(created)
        return len(self.missing)

    def id_of(self, text: str) -> int:
        return self.by_key[text.strip().lower()]


def parse_day(column: str, text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip()[:10])
    except ValueError:
        raise BadCell(column, text, "is not a date; write it as YYYY-MM-DD") from None


def parse_number(column: str, text: str, *, required: bool = True) -> Decimal | None:
    cleaned = text.strip().replace(",", "").replace(" ", "")
    if not cleaned:
        if required:
            raise BadCell(column, text, "is empty; a number is needed")
        return None
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise BadCell(column, text, "is not a number") from None
    if not value.is_finite() or abs(value) >= Decimal("1e11"):
        raise BadCell(column, text, "is not a number in range")
    return value


def optional_text(column: str, text: str, max_length: int) -> str:
    """The cell's text; refused, never cut, when it cannot be kept whole."""
    value = text.strip()
    reason = unstorable_reason(value)
    if reason:
        raise BadCell(column, text, reason)
    if len(value) > max_length:
        raise BadCell(column, text, f"is longer than {max_length} characters")
    return value


def required_text(column: str, text: str, max_length: int) -> str:
    value = optional_text(column, text, max_length)
    if not value:
        raise BadCell(column, text, "is empty")
    return value


def read_order_row(cell: Callable[[str], str]) -> dict[str, Any]:
    """One order line from a row's cells, or BadCell naming what is wrong."""
    quantity = parse_number("quantity", cell("quantity"))
    revenue = parse_number("revenue", cell("revenue"))
    assert quantity is not None and revenue is not None
    if quantity < 0 and revenue > 0:
        raise BadCell("quantity", cell("quantity"), "is negative but the revenue is positive; a return has negative "
                                                    "quantity and negative (or zero) revenue")
    product = required_text("product", cell("product"), 200)
    line = optional_text("line", cell("line"), 200)
    return {
        "order_id": required_text("order_id", cell("order_id"), 100),
        "line_key": line or product,
        "ordered_at": parse_day("ordered_at", cell("ordered_at")),
        "product": product,
        "product_line": optional_text("product_line", cell("product_line"), 100),
        "quantity": quantity,
        "revenue": revenue,
        "margin": parse_number("margin", cell("margin"), required=False),
    }


def read_quote_row(cell: Callable[[str], str]) -> dict[str, Any]:
    issued = parse_day("issued", cell("issued"))
    expires = parse_day("expires", cell("expires"))
    if expires < issued:
        raise BadCell("expires", cell("expires"), f"is before the issue date {issued.isoformat()}")
    status_text = cell("status").strip().lower()
    if status_text not in QUOTE_STATUS_WORDS:
        raise BadCell("status", cell("status"), "is not a quote status; use open, accepted, declined or expired")
    amount = parse_number("amount", cell("amount"))
    assert amount is not None
    amount = amount.quantize(CENTS)  # as stored: a re-import compares and logs it as the database has it
    currency = (cell("currency").strip() or settings.DEALGATE_CURRENCY).upper()
    if len(currency) != 3 or not currency.isalpha():
        raise BadCell("currency", cell("currency"), "is not a three-letter currency code")
    return {"number": required_text("number", cell("number"), 100), "amount": amount, "currency": currency,
            "issued": issued, "expires": expires, "status": QUOTE_STATUS_WORDS[status_text]}


Row = tuple[int, Callable[[str], str]]  # (row number as in the file, cell text by column name)


def rows_of(source: IO[bytes], columns: tuple[str, ...], required: tuple[str, ...]) -> Iterator[Row]:
    """(row number, cell getter by column name) for each row; refuses a header that lacks a required column."""
    source.seek(0)
    text = io.TextIOWrapper(source, encoding="utf-8-sig", newline="")
    try:
        yield from numbered_cells(open_table(text), columns, required)
    finally:
        text.detach()  # the second pass reads the same file: the wrapper must not close it


def numbered_cells(table: Any, columns: tuple[str, ...], required: tuple[str, ...]) -> Iterator[Row]:
    header = [h.strip().lower() for h in table.header]
    lacking = [c for c in required if c not in header]
    if lacking:
        raise ValidationFailed.for_field("file", f"the header lacks the column(s) {', '.join(lacking)} (the generic "
                                                 f"layout is {', '.join(columns)})")
    position = {c: header.index(c) for c in columns if c in header}
    for number, cells in table.rows:
        def cell(column: str, cells: list[str] = cells) -> str:
            index = position.get(column)
            return cells[index] if index is not None and index < len(cells) else ""
        yield number, cell


def check_rows(source: IO[bytes], report: ImportReport, accounts: Accounts, columns: tuple[str, ...],
               required: tuple[str, ...], read_row: Callable) -> dict[str, str]:
    """First pass: every row checked, nothing kept but the errors and the names of accounts to create."""
    new_names: dict[str, str] = {}
    for number, cell in rows_of(source, columns, required):
        report.rows += 1
        try:
            read_row(cell)
            account_text = required_text("account", cell("account"), 200)
            accounts.check(account_text)
            new_names.setdefault(account_text.lower(), account_text)
        except BadCell as bad:
            if len(report.errors) < MAX_ERRORS_KEPT:
                report.errors.append(RowError(row=number, column=bad.column, value=bad.value, message=bad.message))
            elif not report.warnings:
                report.warnings.append(f"More than {MAX_ERRORS_KEPT} bad rows; only the first are listed.")
    return new_names


def check_importer(by: Any) -> None:
    """Only managers and admins import (None: the system, as the CLI acts without --user)."""
    if by is not None and role_of(by) not in (Role.MANAGER, Role.ADMIN):
        raise NotAllowed("Only managers and admins may import data.")


def start(kind: str, mapping: str, by: Any, dry_run: bool) -> ImportReport:
    check_importer(by)
    if mapping not in MAPPINGS:
        raise ValidationFailed.for_field("mapping", f"{mapping!r} is not a mapping for {kind}; use "
                                                    f"{', '.join(MAPPINGS)}")
    return ImportReport(kind=kind, dry_run=dry_run, can_skip_bad_rows=False)


def import_orders(source: IO[bytes] | str, *, by: Any = None, mapping: str = "generic", create_accounts: bool = False,
                  dry_run: bool = False) -> ImportReport:
    """Import order lines; nothing is written when any row is bad or on a dry run."""
    if isinstance(source, str):
        with open(source, "rb") as handle:
            return import_orders(handle, by=by, mapping=mapping, create_accounts=create_accounts, dry_run=dry_run)
    started = time.perf_counter()
    report = start("order lines", mapping, by, dry_run)
    accounts = Accounts.load(create_accounts)
    names = check_rows(source, report, accounts, ORDER_COLUMNS, ORDER_REQUIRED, read_order_row)
    if not report.blocked and not dry_run:
        with transaction.atomic(), acting_from(Surface.IMPORT, actor=by):
            take_turns_with_order_writes()
            report.accounts_created = accounts.create_missing(names, by)
            in_file = sorted({accounts.id_of(name) for name in names})
            before = lines_per_account(in_file)
            batch: list[OrderLine] = []
            for _, cell in rows_of(source, ORDER_COLUMNS, ORDER_REQUIRED):
                batch.append(OrderLine(account_id=accounts.id_of(cell("account")), **read_order_row(cell)))
                if len(batch) >= CHUNK:
                    write_lines(batch)
                    batch = []
            write_lines(batch)
            report.created = record_lines_added(before, lines_per_account(in_file), by)
        report.unchanged = report.rows - report.created
        report.written = True
    elif dry_run:
        report.created = report.rows
        report.warnings.append("Dry run: lines already imported would be skipped, so fewer may be created.")
        if accounts.missing:
            report.warnings.append(f"{len(accounts.missing)} account(s) would be created: "
                                   + ", ".join(names[key] for key in list(accounts.missing)[:20]))
    report.seconds = time.perf_counter() - started
    return report


def write_lines(batch: list[OrderLine]) -> None:
    """One chunk of order lines; those already imported (account, order id, line) are skipped."""
    OrderLine.objects.bulk_create(batch, ignore_conflicts=True)
    # With DEBUG on (the default outside production) Django keeps the text of every query it ran: at
    # 12M lines, 2,400 inserts of 5,000 lines took the import's memory to 1.2 GB. Only the last chunk's.
    reset_queries()


def lines_per_account(ids: list[int]) -> dict[int, int]:
    """How many order lines each account has, from the order-day rollup (decision 037), not the lines."""
    counts: dict[int, int] = {}
    for start in range(0, len(ids), CHUNK):
        counts.update(OrderDay.objects.filter(account_id__in=ids[start:start + CHUNK]).values("account_id")
                      .annotate(lines=Sum("lines")).values_list("account_id", "lines"))
    return counts


def record_lines_added(before: dict[int, int], after: dict[int, int], by: Any) -> int:
    """One audit entry per account the import added order lines to ("order lines: 120 -> 135"); the number
    of lines added in all."""
    added = {pk: count - before.get(pk, 0) for pk, count in after.items() if count > before.get(pk, 0)}
    names: dict[int, str] = {}
    ids = sorted(added)
    for start in range(0, len(ids), CHUNK):
        names.update(Account.objects.filter(pk__in=ids[start:start + CHUNK]).values_list("pk", "name"))
    write_entries([entry(None, "order lines imported", by=by, object_type="account", object_id=pk,
                         name=names.get(pk, ""), field="order lines", before=before.get(pk, 0), after=after[pk])
                   for pk in ids])
    return sum(added.values())


def import_quotes(source: IO[bytes] | str, *, by: Any = None, mapping: str = "generic", create_accounts: bool = False,
                  dry_run: bool = False) -> ImportReport:
    """Import quotes; a quote already imported (same account and number) is updated from the file."""
    if isinstance(source, str):
        with open(source, "rb") as handle:
            return import_quotes(handle, by=by, mapping=mapping, create_accounts=create_accounts, dry_run=dry_run)
    started = time.perf_counter()
    report = start("quotes", mapping, by, dry_run)
    accounts = Accounts.load(create_accounts)
    names = check_rows(source, report, accounts, QUOTE_COLUMNS, QUOTE_REQUIRED, read_quote_row)
    if not report.blocked and not dry_run:
        with transaction.atomic(), acting_from(Surface.IMPORT, actor=by):
            report.accounts_created = accounts.create_missing(names, by)
            batch: list[Quote] = []
            for _, cell in rows_of(source, QUOTE_COLUMNS, QUOTE_REQUIRED):
                batch.append(Quote(account_id=accounts.id_of(cell("account")), **read_quote_row(cell)))
                if len(batch) >= CHUNK:
                    write_quotes(batch, report, by)
                    batch = []
            write_quotes(batch, report, by)
        report.written = True
    report.seconds = time.perf_counter() - started
    return report


QUOTE_FIELDS = ("amount", "currency", "issued", "expires", "status")


def write_quotes(batch: list[Quote], report: ImportReport, by: Any) -> None:
    """New quotes are created; known ones (account + number) take the file's values when they differ. Each
    creation and each changed value has its audit entry (surface: import)."""
    if not batch:
        return
    existing = {(q.account_id, q.number): q for q in Quote.objects.filter(
        number__in={q.number for q in batch}, account_id__in={q.account_id for q in batch})}
    new, changed, entries = {}, [], []
    for quote in batch:
        known = existing.get((quote.account_id, quote.number))
        if known is None:
            new[(quote.account_id, quote.number)] = quote  # a number repeated in the file: its last row wins
        elif any(getattr(known, f) != getattr(quote, f) for f in QUOTE_FIELDS):
            for f in QUOTE_FIELDS:
                if getattr(known, f) != getattr(quote, f):
                    entries.append(entry(known, "changed", by=by, field=f, before=getattr(known, f),
                                         after=getattr(quote, f)))
                    setattr(known, f, getattr(quote, f))
            changed.append(known)
        else:
            report.unchanged += 1
    created = Quote.objects.bulk_create(list(new.values()))
    Quote.objects.bulk_update(changed, QUOTE_FIELDS)
    entries += [entry(quote, "created", by=by, after=f"{quote.amount} {quote.currency}, expires {quote.expires}")
                for quote in created]
    write_entries(entries)
    report.created += len(new)
    report.updated += len(changed)
    reset_queries()  # as write_lines


IMPORTERS = {"orders": import_orders, "quotes": import_quotes}  # the CLI, the import page and the API take these
