"""Shared arguments and number formats for the report, forecast and backtest commands."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.management.base import CommandError

from dealgate.analytics.history import CUTS, Scope, scope_for, with_rates
from dealgate.analytics.periods import parse_as_of, parse_period, period_containing
from dealgate.cli_support import acting_user, add_user_argument, known_pipeline
from dealgate.deals.currencies import is_currency_code
from dealgate.errors import DealgateError


def add_scope_arguments(parser: Any, *, period_required: bool = False) -> None:
    parser.add_argument("--period", required=period_required,
                        help="2026-Q3 (quarter), 2026-09 (month) or 2026 (year); default: the current quarter")
    parser.add_argument("--as-of", dest="as_of", help="YYYY-MM-DD: only what was recorded by the end of that day")
    parser.add_argument("--pipeline", help="pipeline key")
    parser.add_argument("--owner", help="owner username")
    parser.add_argument("--team", help="team name")
    parser.add_argument("--source", help="deal source (inbound, outbound, signal, referral, existing_account)")
    parser.add_argument("--segment", help="account segment")
    parser.add_argument("--currency", help="only deals in this currency (default: the company currency)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    add_user_argument(parser)


def scope_from(options: dict[str, Any]) -> Scope:
    cuts: dict[str, Any] = {}
    if options.get("pipeline"):
        cuts["pipeline_id"] = known_pipeline(options["pipeline"]).pk
    if options.get("owner"):
        cuts["owner_id"] = acting_user(options["owner"]).pk
    if options.get("team"):
        cuts["team_id"] = known_team(options["team"]).pk
    cuts.update(source=options.get("source"), segment=options.get("segment"))
    if options.get("currency"):
        currency = options["currency"].upper()
        if not is_currency_code(currency):
            shown = currency if len(currency) <= 20 else currency[:20] + "…"
            raise CommandError(f"--currency {shown!r} is not a currency code (three letters, e.g. EUR or USD).")
        cuts["currency"] = currency
    return with_rates(scope_for(acting_user(options.get("user") or ""), **cuts))


def print_left_out(stdout: Any, scope: Scope) -> list[dict[str, Any]]:
    """Say which deals the figures leave out for their currency (dealgate.analytics.left_out); returns them."""
    from dealgate.analytics.left_out import converted_currencies, converted_sentence, left_out_sentence, other_currencies

    converted = converted_sentence(converted_currencies(scope), scope.currency)
    if converted:
        stdout.write(converted + "\n")
    rows = other_currencies(scope)
    if rows:
        stdout.write(left_out_sentence(rows, scope.currency, converted=bool(scope.converted)) + "\n")
    return rows


def known_team(name: str) -> Any:
    """The team with this name, or a refusal naming the teams there are."""
    from dealgate.people.models import Team

    team = Team.objects.filter(name=name).first()
    if team is None:
        names = ", ".join(Team.objects.order_by("name").values_list("name", flat=True)) or "none yet"
        raise CommandError(f"No team {name!r} (teams: {names}).")
    return team


def period_and_cutoff(options: dict[str, Any]):
    try:
        cutoff = parse_as_of(options.get("as_of"))
        period = parse_period(options["period"]) if options.get("period") else period_containing(cutoff.date(), 3)
    except DealgateError as exc:
        raise CommandError(exc.message) from None
    return period, cutoff


def add_by_argument(parser: Any) -> None:
    parser.add_argument("--by", choices=CUTS, help="one row (or section) per pipeline, owner, team, source or segment")


def fmt_money(value: Decimal | float | None) -> str:
    """Whole units with thousands separators; "—" for a missing value (templates pass "" for one)."""
    return "—" if value is None or value == "" else f"{value:,.0f}"


def fmt_pct(value: float | None) -> str:
    return "—" if value is None or value == "" else f"{value * 100:.1f}%"


def fmt_days(value: float | None) -> str:
    return "—" if value is None or value == "" else f"{value:,.1f}"


def fmt_ratio(value: float | None) -> str:
    return "—" if value is None or value == "" else f"{value:.2f}x"
