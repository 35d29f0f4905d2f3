"""Hand-made order histories for the signal tests: one helper writes the lines straight to the table."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from dealgate.deals.models import Account
from dealgate.signals.models import OrderLine


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def orders(account: Account, days: list[str], *, revenue: float = 1000, product: str = "Bolt",
           product_line: str = "Fasteners", margin: float | None = None, prefix: str = "") -> None:
    """One order line per date; order ids are unique per account, product and date."""
    OrderLine.objects.bulk_create([
        OrderLine(account=account, order_id=f"{prefix}{product}-{day}", line_key=product, ordered_at=d(day),
                  product=product, product_line=product_line, quantity=Decimal(10), revenue=Decimal(str(revenue)),
                  margin=None if margin is None else Decimal(str(margin)))
        for day in days
    ])


def every(start: str, gap_days: int, count: int) -> list[str]:
    first = d(start)
    return [(first + dt.timedelta(days=gap_days * i)).isoformat() for i in range(count)]
