"""Signal conversion rate: of the signals raised in a period, how many reps turned into deals.

    converted / decided, where decided = converted + dismissed (new and snoozed ones are still open)

Signals are grouped by the period they were raised in (a cohort): a signal keeps no date of its
decision, and "how many of the signals we raised became deals" is the question the number answers.
Read-only; the viewer sees the signals of the accounts they may see (`signal_scope`; `user=None`
is the system, as for `dealgate report signals` without --user, and sees all), narrowed by the
insights filters that apply to accounts (owner, team, segment). The insights page, the API
(`GET /api/signal-conversion`) and `dealgate report signals` all read these rows.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, Sum

from dealgate.analytics.history import Scope
from dealgate.analytics.periods import Period
from dealgate.signals.models import Signal, SignalStatus
from dealgate.signals.services import signal_scope

PERIODS_SHOWN = 4  # the period asked for and the three before it
CENT = Decimal("0.01")


def signals_in(user: Any, scope: Scope) -> Any:
    rows = Signal.objects.all() if user is None else Signal.objects.filter(signal_scope(user))
    if scope.owner_id is not None:
        rows = rows.filter(account__owner_id=scope.owner_id)
    if scope.team_id is not None:
        rows = rows.filter(account__owner__profile__team_id=scope.team_id)
    if scope.segment:
        rows = rows.filter(account__segment=scope.segment)
    return rows


def signal_conversion(user: Any, scope: Scope, period: Period, cutoff: dt.datetime,
                      periods: int = PERIODS_SHOWN) -> list[dict[str, Any]]:
    """One row per period, oldest first, ending with `period`; only signals raised before `cutoff` count."""
    rows = []
    for step in range(periods - 1, -1, -1):
        p = period.shifted(-step)
        end = min(p.end, cutoff)
        counts = {"raised": 0, "converted": 0, "dismissed": 0, "converted_revenue": None}
        if p.start < end:
            counts = signals_in(user, scope).filter(raised_at__gte=p.start, raised_at__lt=end).aggregate(
                raised=Count("pk"),
                converted=Count("pk", filter=Q(status=SignalStatus.CONVERTED)),
                dismissed=Count("pk", filter=Q(status=SignalStatus.DISMISSED)),
                converted_revenue=Sum("revenue", filter=Q(status=SignalStatus.CONVERTED)),
            )
        decided = counts["converted"] + counts["dismissed"]
        rows.append({"period": p.label, **counts, "converted_revenue": Decimal(counts["converted_revenue"] or 0).quantize(CENT),
                     "decided": decided, "open": counts["raised"] - decided,
                     "rate": counts["converted"] / decided if decided else None})
    return rows
