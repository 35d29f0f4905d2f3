"""The weekly pipeline review (domain.md section 5): what changed in a window of time, per owner
and per team, against the window just before it.

One implementation for `dealgate report review`, the /insights/review/ page and the weekly digest
(dealgate.automation.scans). Everything is read from the append-only history through the deals'
state spans, so a past week reads the same today as it did then:

- new, advanced, moved back, reopened, won, lost: the week's stage rows, each counted for the owner
  and team the deal had at that moment (amounts: the deal's amount at that moment);
- close date slipped, amount changed: the week's field changes (a slip is a later close date);
- went stale: open at the end of the window and idle past its stage's limit then (no move and no
  activity), its stale spell having begun inside the window; counted for the owner at the end;
- no next step, next step overdue: open deals today (the history keeps no next steps), so only
  for the window that ends now.

Weeks are ISO weeks, Monday 00:00 to Monday 00:00 in the configured time zone (DEALGATE_TIME_ZONE).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from django.utils import timezone

from dealgate.analytics.history import Scope, _joins, fetch, money, spans, state_cte, ts
from dealgate.errors import ValidationFailed

COUNTS = ("created", "forward", "backward", "reopened", "won", "lost", "close_date_slipped", "amount_changed",
          "went_stale")
AMOUNTS = ("created_amount", "won_amount", "lost_amount", "went_stale_amount")
TODAY = ("no_next_step", "next_step_overdue")
NO_TEAM = "(no team)"


# --- weeks ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Week:
    """An ISO week as an instant range [start, end) in the configured time zone."""

    year: int
    number: int

    @property
    def monday(self) -> dt.date:
        return dt.date.fromisocalendar(self.year, self.number, 1)

    @property
    def sunday(self) -> dt.date:
        return self.monday + dt.timedelta(days=6)

    @property
    def start(self) -> dt.datetime:
        return _local_midnight(self.monday)

    @property
    def end(self) -> dt.datetime:
        return _local_midnight(self.monday + dt.timedelta(days=7))

    @property
    def label(self) -> str:
        return f"{self.year:04d}-W{self.number:02d}"

    @property
    def title(self) -> str:
        """'Week 48, 23–29 Nov 2026' ('Week 48, Nov 23–29, 2026' for a US browser: dealgate.words.day_span)."""
        from dealgate.words import day_span

        return f"Week {self.number}, {day_span(self.monday, self.sunday)}"

    def shifted(self, weeks: int) -> "Week":
        return week_containing_day(self.monday + dt.timedelta(weeks=weeks))


def _local_midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min), timezone.get_default_timezone())


def week_containing_day(day: dt.date) -> Week:
    year, number, _ = day.isocalendar()
    return Week(year, number)


def week_containing(instant: dt.datetime) -> Week:
    """The ISO week an instant falls in, in the configured time zone."""
    return week_containing_day(timezone.localdate(instant, timezone.get_default_timezone()))


def parse_week(text: str) -> Week:
    """'2026-W48' (ISO year and week)."""
    value = (text or "").strip().upper()
    match = re.fullmatch(r"(\d{4})-?W(\d{1,2})", value)
    if not match:
        raise ValidationFailed.for_field("week", f"{text!r} is not a week; use an ISO week such as 2026-W48")
    year, number = int(match[1]), int(match[2])
    if not 1900 <= year <= 2999:
        raise ValidationFailed.for_field("week", f"{text!r} is out of range; use a year from 1900 to 2999")
    try:
        dt.date.fromisocalendar(year, number, 1)
    except ValueError:
        raise ValidationFailed.for_field("week", f"{year} has no week {number}") from None
    return Week(year, number)


# --- whose review --------------------------------------------------------------------------------

def review_scope(user: Any) -> tuple[Scope, str]:
    """Whose deals a user's weekly review covers, and how to say it: an admin everyone's, a manager
    their team's (and their own), a rep their own deals."""
    from dealgate.analytics.history import scope_for
    from dealgate.people.access import role_of, team_id_of
    from dealgate.people.models import Role, Team

    from dealgate.analytics.history import with_rates

    role = role_of(user)
    if role == Role.ADMIN:
        return with_rates(Scope()), "every team"
    if role == Role.MANAGER:
        team = Team.objects.filter(pk=team_id_of(user)).first()
        return with_rates(scope_for(user)), f"team {team.name}" if team is not None else "your deals"
    return with_rates(replace(scope_for(user), owner_id=user.pk)), "your deals"


def currency_words(scope: Scope) -> str:
    """How the review's amounts were made, for the page, the digest and the command: the currency,
    which others were converted into it and at which day's rate, and which were left out (no rate).
    Never a silent mix (decision 035)."""
    from dealgate.analytics.left_out import other_currencies
    from dealgate.words import plural

    words = f"amounts in {scope.currency}"
    if scope.converted:
        words += (f"; {', '.join(scope.converted)} converted at the exchange rate of the day each change happened "
                  "(went stale: of the week's last day)")
    left_out = other_currencies(scope)
    if left_out:
        listed = ", ".join(f"{plural(row['deals'], 'deal')} in {row['currency']}" for row in left_out)
        words += f"; left out: {listed} (no exchange rate)"
    return words


# --- the review ----------------------------------------------------------------------------------

def pipeline_review(scope: Scope, since: dt.datetime, until: dt.datetime, *,
                    previous: tuple[dt.datetime, dt.datetime] | None = None,
                    now: dt.datetime | None = None) -> dict[str, Any]:
    """The review of [since, until) and of `previous` (default: the window of the same length just
    before), per owner, per team and in total. Plain data: dicts, ints and Decimals.

    Each row holds the counts (COUNTS), the amounts (AMOUNTS) and, when the window reaches today,
    today's next-step figures (TODAY; None otherwise); its "previous" the counts and amounts of the
    window before. Rows are sorted by name; an owner or team appears when it has anything in either window.
    """
    now = now or timezone.now()
    before_since, before_until = previous or (since - (until - since), since)
    current, earlier = _window(scope, since, until), _window(scope, before_since, before_until)
    today = _next_steps(scope, timezone.localdate(now)) if until >= now else {}
    owners, teams = _names(current, earlier, today)

    ends_now = until >= now

    def row(pick) -> dict[str, Any]:
        result: dict[str, Any] = _totals(current, pick)
        result.update({key: _sum(today, pick, key) if ends_now else None for key in TODAY})
        result["previous"] = _totals(earlier, pick)
        return result

    owner_rows = [{"owner_id": who, "name": name, "team": owners[who][1], **row(lambda k, w=who: k[0] == w)}
                  for who, name in sorted(((w, v[0]) for w, v in owners.items()), key=lambda p: (p[1], p[0] or 0))]
    team_rows = [{"team_id": team, "name": name, **row(lambda k, t=team: k[1] == t)}
                 for team, name in sorted(teams.items(), key=lambda p: (p[1] == NO_TEAM, p[1]))]
    return {
        "since": since, "until": until, "previous_since": before_since, "previous_until": before_until,
        "owners": owner_rows, "teams": team_rows, "total": row(lambda k: True),
    }


Key = tuple[Any, Any]  # (owner id, team id)


def _totals(table: dict[Key, dict[str, Any]], pick) -> dict[str, Any]:
    """The counts and amounts of the (owner, team) keys `pick` accepts, added up."""
    values: dict[str, Any] = {key: 0 for key in COUNTS} | {key: Decimal("0.00") for key in AMOUNTS}
    for key, figures in table.items():
        if pick(key):
            for name, value in figures.items():
                values[name] += value
    return values


def _sum(table: dict[Key, dict[str, int]], pick, name: str) -> int:
    return sum(figures.get(name, 0) for key, figures in table.items() if pick(key))


def _window(scope: Scope, since: dt.datetime, until: dt.datetime) -> dict[Key, dict[str, Any]]:
    """(owner, team) -> counts and amounts of one window."""
    table: dict[Key, dict[str, Any]] = {}

    def put(row: dict[str, Any], name: str) -> None:
        figures = table.setdefault((row["owner"], row["team"]), {})
        figures[name] = figures.get(name, 0) + int(row["n"] or 0)
        if f"{name}_amount" in AMOUNTS:
            figures[f"{name}_amount"] = figures.get(f"{name}_amount", Decimal("0.00")) + money(row["cents"])

    from dealgate.analytics.rates import convert_sql

    source, where, params = spans(scope)
    params.update(since=ts(since), until=ts(until))
    # Each amount at the rate of the day it changed hands (a won deal at its close, decision 035).
    cents = convert_sql(scope.rates, "COALESCE(s.amount_cents, 0)", "s.currency", date_sql="s.starts_at")
    for row in fetch(f"""
SELECT s.owner_id AS owner, s.team_id AS team, s.move_kind AS what, COUNT(*) AS n,
       SUM({cents}) AS cents
FROM {source} WHERE {where} AND s.history_id IS NOT NULL AND s.starts_at >= %(since)s AND s.starts_at < %(until)s
GROUP BY s.owner_id, s.team_id, s.move_kind""", params):
        put(row, row["what"])
    # A field change belongs to the span that holds its instant (spans tile each deal's time).
    for row in fetch(f"""
SELECT s.owner_id AS owner, s.team_id AS team, f.field AS what, COUNT(*) AS n, 0 AS cents
FROM deals_fieldchange f JOIN deals_statespan s ON s.deal_id = f.deal_id AND s.starts_at <= f.at AND s.ends_at > f.at
{_joins(scope)}
WHERE {where} AND f.at >= %(since)s AND f.at < %(until)s AND (f.field = 'amount' OR (f.field = 'expected_close_date'
  AND f.old_value <> '' AND f.new_value > f.old_value))
GROUP BY s.owner_id, s.team_id, f.field""", params):
        put(row, "amount_changed" if row["what"] == "amount" else "close_date_slipped")
    for row in _went_stale(scope, since, until):
        put(row, "went_stale")
    return table


def _went_stale(scope: Scope, since: dt.datetime, until: dt.datetime) -> list[dict[str, Any]]:
    """Deals open at `until` and stale on its day, whose stale spell began inside the window: their
    last touch (entering the stage, or the latest activity before `until`) is late enough not to be
    stale the day before the window began. Stale is the flags' rule (dealgate.deals.flags), per stage."""
    from dealgate.deals.flags import idle_cutoff
    from dealgate.pipelines.models import Stage, StageKind

    stages = Stage.objects.filter(kind=StageKind.OPEN, rot_days__isnull=False).select_related("pipeline")
    if scope.pipeline_id is not None:
        stages = stages.filter(pipeline_id=scope.pipeline_id)
    last_day = timezone.localdate(until - dt.timedelta(microseconds=1))
    day_before = timezone.localdate(since) - dt.timedelta(days=1)
    cte, params = state_cte(scope, until)
    conditions = []
    for i, stage in enumerate(stages):
        business = stage.pipeline.business_days
        conditions.append(f"(t.stage_id = %(stale_stage_{i})s AND t.touched >= %(stale_from_{i})s "
                          f"AND t.touched < %(stale_to_{i})s)")
        params[f"stale_stage_{i}"] = stage.pk
        params[f"stale_from_{i}"] = ts(_local_midnight(idle_cutoff(day_before, stage.rot_days, business_days=business)))
        params[f"stale_to_{i}"] = ts(_local_midnight(idle_cutoff(last_day, stage.rot_days, business_days=business)))
    if not conditions:
        return []
    return fetch(cte + f"""
SELECT t.owner_id AS owner, t.team_id AS team, COUNT(*) AS n, SUM(COALESCE(t.amount_cents, 0)) AS cents
FROM (
  SELECT state.deal_id, state.stage_id, state.owner_id, state.team_id, state.amount_cents,
         CASE WHEN a.last_at > state.stage_at THEN a.last_at ELSE state.stage_at END AS touched
  FROM state LEFT JOIN (
    SELECT act.deal_id, MAX(act.occurred_at) AS last_at FROM deals_activity act
    WHERE act.deal_id IN (SELECT deal_id FROM state WHERE state.kind = 'open') AND act.occurred_at < %(cutoff)s
    GROUP BY act.deal_id) a ON a.deal_id = state.deal_id
  WHERE state.kind = 'open'
) t
WHERE {' OR '.join(conditions)}
GROUP BY t.owner_id, t.team_id""", params)


def _next_steps(scope: Scope, today: dt.date) -> dict[Key, dict[str, int]]:
    """(owner, team) -> open deals without a next step, and with an overdue one, today."""
    from django.db.models import Count, Q

    from dealgate.deals.models import Deal

    open_deals = Deal.objects.filter(stage__kind="open", currency__in=[scope.currency, *scope.converted])
    for column, value in (("pipeline_id", scope.pipeline_id), ("owner_id", scope.owner_id), ("team_id", scope.team_id),
                          ("source", scope.source), ("account__segment", scope.segment)):
        if value is not None:
            open_deals = open_deals.filter(**{column: value})
    if scope.viewer_id is not None:
        open_deals = open_deals.filter(Q(owner_id=scope.viewer_id) | Q(team_id=scope.viewer_team_id or -1))
    return {
        (row["owner_id"], row["team_id"]): {"no_next_step": row["missing"], "next_step_overdue": row["overdue"]}
        for row in open_deals.values("owner_id", "team_id").annotate(
            missing=Count("id", filter=Q(next_step="")),
            overdue=Count("id", filter=Q(next_step_due__lt=today) & ~Q(next_step="")))
    }


def _names(*tables: dict[Key, Any]) -> tuple[dict[Any, tuple[str, str]], dict[Any, str]]:
    """owner id -> (name, team name); team id -> name; for every key of the tables."""
    from django.contrib.auth import get_user_model

    from dealgate.people.models import Team

    keys = {key for table in tables for key in table}
    team_names = dict(Team.objects.filter(pk__in={t for _, t in keys if t is not None}).values_list("pk", "name"))
    users = get_user_model().objects.filter(pk__in={o for o, _ in keys if o is not None}).select_related(
        "profile__team")
    owners: dict[Any, tuple[str, str]] = {}
    for user in users:
        profile = getattr(user, "profile", None)
        team = profile.team.name if profile is not None and profile.team is not None else NO_TEAM
        owners[user.pk] = (user.get_full_name() or user.username, team)
    for owner, _ in keys:
        owners.setdefault(owner, (str(owner) if owner is not None else "(no owner)", NO_TEAM))
    teams = {team: team_names.get(team, NO_TEAM) for _, team in keys}
    return owners, teams
