"""Deals a figure leaves out only because of their currency (issue 15 §4).

Every figure counts the deals of one currency (the scope's: the company currency unless asked).
A pipeline whose deals are all in USD on an installation in EUR would otherwise show "0 deals"
with "in EUR" as the only hint. The metrics, bottlenecks, forecast and backtest outputs (page, API
and commands) say how many deals in other currencies were left out and how to see them.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q

from dealgate.analytics.history import Scope
from dealgate.words import plural


def other_currencies(scope: Scope) -> list[dict[str, Any]]:
    """[{"currency": "USD", "deals": 500}, ...]: the deals the scope would hold in any other currency
    it does not convert (no exchange rate), most first. Deals are matched by their current pipeline, owner, team, source, segment and
    currency, and limited to what the viewer may see, as the scope is."""
    return _counted(scope, exclude=[scope.currency, *scope.converted])


def _counted(scope: Scope, *, exclude: list[str] | None = None, include: list[str] | None = None) -> list[dict[str, Any]]:
    from dealgate.deals.models import Deal

    deals = Deal.objects.exclude(currency__in=exclude) if exclude is not None else Deal.objects.filter(currency__in=include)
    if scope.pipeline_id is not None:
        deals = deals.filter(pipeline_id=scope.pipeline_id)
    if scope.owner_id is not None:
        deals = deals.filter(owner_id=scope.owner_id)
    if scope.team_id is not None:
        deals = deals.filter(team_id=scope.team_id)
    if scope.source is not None:
        deals = deals.filter(source=scope.source)
    if scope.segment is not None:
        deals = deals.filter(account__segment=scope.segment)
    if scope.viewer_id is not None:
        deals = deals.filter(Q(owner_id=scope.viewer_id) | Q(team_id=scope.viewer_team_id or -1))
    rows = deals.order_by().values("currency").annotate(deals=Count("id")).order_by("-deals", "currency")
    return [{"currency": row["currency"], "deals": row["deals"]} for row in rows]


def left_out_sentence(rows: list[dict[str, Any]], currency: str, *, how: str = "--currency",
                      converted: bool = False) -> str:
    """"Left out: 500 deals in USD and 3 in GBP; these figures count deals in EUR only (--currency USD
    shows the USD deals)." Empty when nothing was left out."""
    if not rows:
        return ""
    parts = [f"{plural(rows[0]['deals'], 'deal')} in {rows[0]['currency']}",
             *[f"{row['deals']:,} in {row['currency']}" for row in rows[1:]]]
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    first = rows[0]["currency"]
    counted = f"deals in {currency} and the converted ones" if converted else f"deals in {currency}"
    return (f"Left out: {listed}{' (no exchange rate)' if converted else ''}; these figures count {counted} only "
            f"({how} {first} shows the {first} deals).")


def converted_currencies(scope: Scope) -> list[dict[str, Any]]:
    """[{"currency": "USD", "deals": 500}, ...]: the deals in other currencies the scope converts
    with the dated exchange rates (dealgate.analytics.rates), most first."""
    return _counted(scope, include=scope.converted) if scope.converted else []


def converted_sentence(rows: list[dict[str, Any]], currency: str) -> str:
    """"Converted into EUR at the dated exchange rates: 500 deals in USD and 3 in GBP." Empty when none."""
    if not rows:
        return ""
    parts = [f"{plural(rows[0]['deals'], 'deal')} in {rows[0]['currency']}",
             *[f"{row['deals']:,} in {row['currency']}" for row in rows[1:]]]
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return (f"Converted into {currency} at the dated exchange rates (open deals at the as-of date's rate, "
            f"closed ones at their close date's): {listed}.")
