"""Order lines and quotes imported from an ERP export, and the signals a scan raises from them.

Nothing here writes on its own: imports go through `dealgate.signals.importing`, signal changes
through `dealgate.signals.services`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from dealgate.deals.models import Account, Deal


class OrderLine(models.Model):
    """One line of one order. (account, order_id, line_key) identifies it, so a re-import adds nothing twice.

    `line_key` is the file's line number when it has a `line` column, else the product.
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="order_lines", db_index=False)
    order_id = models.CharField(max_length=100)
    line_key = models.CharField(max_length=200)
    ordered_at = models.DateField()
    product = models.CharField(max_length=200)
    product_line = models.CharField(max_length=100, blank=True)
    quantity = models.DecimalField(max_digits=14, decimal_places=3)
    revenue = models.DecimalField(max_digits=14, decimal_places=2)
    margin = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "order_id", "line_key"], name="order_line_unique_per_order"),
        ]
        # Cadence reads each account's lines in date order, only those before `as_of`.
        indexes = [models.Index(fields=["account", "ordered_at"], name="order_line_account_date"),
                   # The incremental scan: which accounts have lines dated since the last scan.
                   models.Index(fields=["ordered_at", "account"], name="order_line_date_account")]

    def __str__(self) -> str:
        return f"{self.order_id} {self.product}"


class Rollup(models.Model):
    """The sums of some order lines (decision 037): revenue, margin (blank margins count as 0) and how many
    lines; a row goes when its last line is deleted. Kept by database triggers (`signals.rollups`), on
    every insert, update and delete of order lines, so scans read these rows, not lines.

    No foreign-key constraint: deleting an account deletes its lines, whose trigger removes these rows."""

    account = models.ForeignKey(Account, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False,
                                related_name="+")
    revenue = models.DecimalField(max_digits=18, decimal_places=2)
    margin = models.DecimalField(max_digits=18, decimal_places=2)
    lines = models.IntegerField()

    class Meta:
        abstract = True


class OrderDay(Rollup):
    """Rollup: one row per account and order day; the account cadence reads it."""

    day = models.DateField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "day"], name="order_day_unique")]


class OrderLineDay(Rollup):
    """Rollup: one row per account, product line (not blank) and order day; the line cadence and the
    cross-sell gap read it (decision 037)."""

    product_line = models.CharField(max_length=100)
    day = models.DateField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "product_line", "day"],
                                               name="order_line_day_unique")]
        indexes = [models.Index(fields=["day"], name="order_line_day_day")]


class ProductMonth(Rollup):
    """Rollup: one row per account, product and calendar month (`month` is its first day); picks the
    high-margin products before their order days are read (decision 037)."""

    product = models.CharField(max_length=200)
    month = models.DateField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "product", "month"], name="product_month_unique")]


class LinesChanged(models.Model):
    """Accounts whose order lines were deleted or changed since the last scan (written by the triggers):
    the next incremental scan recomputes them (decision 037). New lines are found by their id instead."""

    account = models.OneToOneField(Account, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+",
                                   primary_key=True)


class LineYear(models.Model):
    """Per account and product line: its revenue and number of order days in the 365 days before the last
    scan's as-of date (the line-day rollup summed over the year), which the cross-sell gap compares. Kept by
    the scan (decision 045): a full scan sums it again; an incremental one slides the year by the days
    since the last scan and sums again only the accounts whose lines changed. No foreign-key constraint,
    as the rollups: a deleted account's rows go with the next scan (its lines' deletion marks it)."""

    account = models.ForeignKey(Account, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False,
                                related_name="+")
    product_line = models.CharField(max_length=100)
    revenue = models.DecimalField(max_digits=18, decimal_places=2)
    days = models.IntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "product_line"], name="line_year_unique")]


class KeptTotal(models.Model):
    """What the cadence of one unit needs from its whole history, summed over its order days before the last
    scan's as-of date (decision 048): the number of order days, the first, revenue and margin, and
    `read_from`, the day from which its window functions must read the order days (the oldest of its last
    `recent_gaps` + 1, or its first day with fewer). Kept by the scan like `LineYear`: a full scan sums
    every unit again, an incremental one only the accounts whose lines were added, changed or deleted
    since (the others have no order day between the two scans' dates, so their totals stand). The
    incremental scan then reads only each account's days from `read_from` or the baseline's start,
    whichever is earlier, not its whole history."""

    account = models.ForeignKey(Account, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False,
                                related_name="+")
    orders = models.IntegerField()
    first_day = models.DateField()
    read_from = models.DateField()
    revenue = models.DecimalField(max_digits=18, decimal_places=2)
    margin = models.DecimalField(max_digits=18, decimal_places=2)

    class Meta:
        abstract = True


class AccountTotal(KeptTotal):
    """Kept totals per account, from the order-day rollup (decision 048)."""

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account"], name="account_total_unique")]


class LineTotal(KeptTotal):
    """Kept totals per account and product line, from the line-day rollup (decision 048)."""

    product_line = models.CharField(max_length=100)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "product_line"], name="line_total_unique")]


class ProductTotal(models.Model):
    """Per account and product: revenue and margin of its order lines before the last scan's as-of date, kept
    by the scan like `KeptTotal` (decision 054). The high-margin pick reads them: only the products whose
    margin share reaches the threshold have their order days read, and an incremental scan need not sum
    every product month of the accounts it reads to find them."""

    account = models.ForeignKey(Account, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False,
                                related_name="+")
    product = models.CharField(max_length=200)
    revenue = models.DecimalField(max_digits=18, decimal_places=2)
    margin = models.DecimalField(max_digits=18, decimal_places=2)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "product"], name="product_total_unique")]


class QuoteStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    EXPIRED = "expired", "Expired"


class Quote(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="quotes", db_index=False)
    number = models.CharField(max_length=100)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3, default="EUR")
    issued = models.DateField()
    expires = models.DateField()
    status = models.CharField(max_length=10, choices=QuoteStatus.choices, default=QuoteStatus.OPEN)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "number"], name="quote_unique_per_account")]
        indexes = [models.Index(fields=["expires"], name="quote_expires")]

    def __str__(self) -> str:
        return self.number


class SignalKind(models.TextChoices):
    MISSED_REORDER = "missed_reorder", "Missed reorder"
    FREQUENCY_DECLINE = "frequency_decline", "Order frequency decline"
    SIZE_DECLINE = "size_decline", "Order size decline"
    DROPPED_LINE = "dropped_line", "Dropped product line"
    HIGH_MARGIN_STOPPED = "high_margin_stopped", "High-margin item stopped"
    EXPIRED_QUOTE = "expired_quote", "Expired quote without order"
    CROSS_SELL_GAP = "cross_sell_gap", "Cross-sell gap"


class SignalStatus(models.TextChoices):
    NEW = "new", "New"
    CONVERTED = "converted", "Converted"
    SNOOZED = "snoozed", "Snoozed"
    DISMISSED = "dismissed", "Dismissed"


class Signal(models.Model):
    """Something in an account's buying worth a rep's look; `cause_key` names the cause, so it is raised once."""

    kind = models.CharField(max_length=30, choices=SignalKind.choices)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="signals")
    cause_key = models.CharField(max_length=300, unique=True)
    title = models.CharField(max_length=300)
    evidence = models.JSONField(default=dict)
    revenue = models.DecimalField(max_digits=14, decimal_places=2, default=0,
                                  help_text="Revenue at risk (lapses) or on offer (quotes).")
    as_of = models.DateField(help_text="The scan's date: only orders before it were read.")
    raised_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=SignalStatus.choices, default=SignalStatus.NEW)
    snoozed_until = models.DateField(null=True, blank=True)
    dismissed_reason = models.CharField(max_length=300, blank=True)
    deal = models.ForeignKey(Deal, null=True, blank=True, on_delete=models.SET_NULL, related_name="signals")
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["-revenue", "-id"]
        indexes = [models.Index(fields=["status", "-revenue"], name="signal_status_revenue")]

    def __str__(self) -> str:
        return self.title

    def evidence_items(self) -> list[tuple[str, object]]:
        """The evidence as (words, value) pairs a rep reads: ("typical gap days", 30)."""
        return [(key.replace("_", " "), value) for key, value in self.evidence.items()]


class ScanState(models.Model):
    """What the last signal scan read (one row): the incremental scan starts from it (decision 020)."""

    as_of = models.DateField()
    last_line_id = models.BigIntegerField(help_text="The highest order line id when the scan read the lines.")
    thresholds = models.CharField(max_length=1000, help_text="The signal settings it used; others mean a full scan.")
    at = models.DateTimeField()


class AccountRecheck(models.Model):
    """The first as-of date on which an account's signals could change without a new order line: its
    next missed-reorder date, an order leaving the 90-day or baseline window, a line's or product's
    stop date. Unchanged accounts before that date are skipped by the incremental scan.
    `units_recheck_on` is the part of it that needs the account's product lines and products read again
    (a line's or product's stop date); before it, a due account is recomputed at the account grain only
    (decision 041)."""

    account = models.OneToOneField(Account, on_delete=models.CASCADE, primary_key=True, related_name="+")
    recheck_on = models.DateField(null=True, blank=True)
    units_recheck_on = models.DateField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["recheck_on"], name="account_recheck_on"),
                   models.Index(fields=["units_recheck_on"], name="account_units_recheck_on")]


# pg_advisory_xact_lock key shared by order-line writers and signal scans ("SIGN").
ORDER_WRITES_LOCK = 0x5349474E


def take_turns_with_order_writes() -> None:
    """Order-line writers and signal scans run one after the other on PostgreSQL (decision 020).

    Ids come from a sequence in insert order, not commit order: a scan that read the highest id
    while an import was still writing lower ones would skip those lines in every later incremental
    scan. SQLite has one writer at a time, so its ids already follow commit order. Held until the
    caller's transaction ends."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ORDER_WRITES_LOCK])
