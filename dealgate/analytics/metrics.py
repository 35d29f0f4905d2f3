"""The numbers of domain.md section 5 for a period, as of an instant, from the stage history.

A figure for period P "as of D" sees only events before the cutoff of D. Closed-in-P means: the
deal's state at the cutoff is won or lost and it reached that state inside P.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from dataclasses import replace
from typing import Any

from dealgate.analytics import formulas
from dealgate.analytics.cache import figure
from dealgate.analytics.history import (
    REOPENING, Scope, _scope_where, days_between, fetch, money, outcome_at_cutoff, percentiles, pipeline_by_stage,
    reopened_before_cutoff, spans, state_cte, ts,
)
from dealgate.analytics.periods import Period
from dealgate.analytics.rates import as_of_day, convert_sql, fixed_at
from dealgate.analytics.together import together
from dealgate.pipelines.models import Stage


def _known(period: Period, cutoff: dt.datetime) -> dt.datetime:
    """The end of what is known about a period: its end, or the cutoff if that comes first."""
    return min(period.end, cutoff)


def stages_of(scope: Scope) -> list[Stage]:
    qs = Stage.objects.select_related("pipeline").order_by("pipeline__name", "pipeline_id", "position")
    if scope.pipeline_id is not None:
        qs = qs.filter(pipeline_id=scope.pipeline_id)
    return list(qs)


def stage_label(stage: Stage) -> str:
    """A stage's name in a table of figures: a retired stage keeps its row, marked (decision 036)."""
    return f"{stage.name} (retired)" if stage.retired_at is not None else stage.name


@figure
def outcomes(scope: Scope, period: Period, cutoff: dt.datetime) -> dict[str, Any]:
    """Won and lost in the period; win rate, average deal size, sales cycle (mean and median days)."""
    cte, params = state_cte(scope, cutoff)
    params.update(start=ts(period.start), end=ts(period.end))
    closed_in_period = "state.kind IN ('won', 'lost') AND state.stage_at >= %(start)s AND state.stage_at < %(end)s"
    rows = fetch(cte + f"""
SELECT state.kind, COUNT(*) AS deals, COUNT(state.amount_cents) AS with_amount, SUM(state.amount_cents) AS amount_cents,
       AVG({days_between('state.created_at', 'state.stage_at')}) AS mean_cycle
FROM state WHERE {closed_in_period} GROUP BY state.kind""", params)
    by_kind = {row["kind"]: row for row in rows}
    won, lost = by_kind.get("won", {}), by_kind.get("lost", {})
    won_count, lost_count = int(won.get("deals") or 0), int(lost.get("deals") or 0)
    won_amount = money(won.get("amount_cents"))
    with_amount = int(won.get("with_amount") or 0)
    median = percentiles(
        f"SELECT 1 AS grp, {days_between('state.created_at', 'state.stage_at')} AS value FROM state "
        f"WHERE {closed_in_period} AND state.kind = 'won'", params, (500,), prefix=cte) if won_count else {}
    return {
        "won": won_count, "lost": lost_count, "won_amount": won_amount,
        "lost_amount": money(lost.get("amount_cents")),
        "win_rate": formulas.win_rate(won_count, lost_count),
        "avg_deal_size": (won_amount / with_amount).quantize(Decimal("0.01")) if with_amount else None,
        "cycle_mean_days": float(won["mean_cycle"]) if won.get("mean_cycle") is not None else None,
        "cycle_median_days": median.get(1, {}).get(500),
    }


@figure
def won_amounts(scope: Scope, periods: tuple[Period, ...], cutoff: dt.datetime) -> tuple[Decimal, ...]:
    """What was won in each of `periods` as known at `cutoff`: `outcomes(...)["won_amount"]` of each,
    from one scan of the deals won in any of them (the forecast's calibration and the backtest judge
    6 and 4 windows; one `outcomes` each was a scan and a percentile query apiece, decision 049)."""
    if not periods:
        return ()
    cte, params = state_cte(scope, cutoff)
    sums = []
    for i, period in enumerate(periods):
        params.update({f"start{i}": ts(period.start), f"end{i}": ts(period.end)})
        sums.append(f"SUM(CASE WHEN state.stage_at >= %(start{i})s AND state.stage_at < %(end{i})s "
                    f"THEN state.amount_cents END) AS won{i}")
    params.update(first=ts(min(p.start for p in periods)), last=ts(max(p.end for p in periods)))
    row = fetch(cte + f"""
SELECT {', '.join(sums)} FROM state
WHERE state.kind = 'won' AND state.stage_at >= %(first)s AND state.stage_at < %(last)s""", params)[0]
    return tuple(money(row[f"won{i}"]) for i in range(len(periods)))


def pipeline_summary(scope: Scope, cutoff: dt.datetime, *, due_by: dt.date | None = None) -> dict[str, Any]:
    rows = pipeline_by_stage(scope, cutoff, due_by=due_by)
    return {
        "deals": sum(r["deals"] for r in rows),
        "amount": sum((r["amount"] for r in rows), Decimal("0.00")),
        "weighted": sum((r["weighted"] for r in rows), Decimal("0.00")),
        "by_stage": {r["stage_id"]: r for r in rows},
    }


def period_metrics(scope: Scope, period: Period, cutoff: dt.datetime) -> dict[str, Any]:
    """Win rate, deal size, cycle, velocity with its four inputs, pipeline and coverage."""
    from dealgate.analytics.models import quota_for

    known = _known(period, cutoff)
    result = outcomes(scope, period, cutoff)
    pipe = pipeline_summary(scope, known)
    due = pipeline_summary(scope, known, due_by=period.last_day)
    quota = quota_for(scope, period)
    result.update(
        open_deals=pipe["deals"], pipeline=pipe["amount"], weighted_pipeline=pipe["weighted"],
        pipeline_due=due["amount"], quota=quota,
        velocity_per_day=formulas.sales_velocity(pipe["deals"], result["win_rate"], result["avg_deal_size"],
                                                 result["cycle_mean_days"]),
        coverage=formulas.coverage(due["amount"], quota, result["won_amount"]),
        attainment=formulas.attainment(result["won_amount"], quota),
    )
    result["coverage_verdict"] = "no quota set" if quota is None else formulas.coverage_verdict(result["coverage"])
    return result


@figure
def time_in_stage(scope: Scope, period: Period, cutoff: dt.datetime, *,
                  open_ages: bool = True) -> dict[int, dict[str, Any]]:
    """Per open stage: finished stays that ended in the period (median, p75, p90 days) and the
    current age of the deals sitting in it at the end of what is known."""
    known = _known(period, cutoff)
    source, where, params = spans(scope)
    params.update(start=ts(period.start), cutoff=ts(known))
    # A stay ends with the deal's next stage row: that row's span knows when the stay began.
    finished = percentiles(
        f"SELECT s.prev_stage_id AS grp, {days_between('s.prev_stage_entered_at', 's.starts_at')} AS value "
        f"FROM {source} WHERE {where} AND s.starts_at >= %(start)s AND s.starts_at < %(cutoff)s "
        "AND s.history_id IS NOT NULL AND s.prev_stage_kind = 'open'", params)
    current = {}
    if open_ages:
        cte, params = state_cte(scope, known)
        current = percentiles(
            f"SELECT state.stage_id AS grp, {days_between('state.stage_at', '%(cutoff)s')} AS value "
            "FROM state WHERE state.kind = 'open'", params, (500, 900), prefix=cte)
    result: dict[int, dict[str, Any]] = {}
    for stage_id in set(finished) | set(current):
        done, now = finished.get(stage_id, {}), current.get(stage_id, {})
        result[stage_id] = {
            "stays": done.get("n", 0), "median": done.get(500), "p75": done.get(750), "p90": done.get(900),
            "open_deals": now.get("n", 0), "open_age_median": now.get(500), "open_age_p90": now.get(900),
        }
    return result


def stage_entries(scope: Scope, window: Period, cutoff: dt.datetime, reopened: bool) -> tuple[str, dict[str, Any]]:
    """WITH entry: each deal's first entry into each open stage inside `window` (before the cutoff),
    whether it reached a later stage or won before the cutoff, and the deal's outcome at the cutoff
    (won, lost, open); of the deals (not) reopened since (`reopened_before_cutoff`). Shared by stage
    conversion and the learned probabilities of the forecast.

    A first entry is a move span with no earlier entry into its stage since the window began
    (`prev_entry_at`), counted when the deal was in scope at that entry. Later re-entries add
    nothing: the first entry has the earliest next advance, win, loss and reopening of them all."""
    source, where, params = spans(scope)
    params.update(start=ts(window.start), end=ts(min(window.end, cutoff)), cutoff=ts(cutoff))
    return f"""WITH entry AS (
  SELECT s.deal_id, s.stage_id, s.starts_at AS entered_at,
         CASE WHEN s.next_advance_at < %(cutoff)s THEN 1 ELSE 0 END AS advanced,
         {outcome_at_cutoff(reopened)} AS kind
  FROM {source}
  WHERE {where} AND s.starts_at >= %(start)s AND s.starts_at < %(end)s
    AND s.history_id IS NOT NULL AND s.stage_kind = 'open'
    AND (s.prev_entry_at IS NULL OR s.prev_entry_at < %(start)s) AND {reopened_before_cutoff(reopened)}
)""", params


@figure
def conversion(scope: Scope, period: Period, cutoff: dt.datetime) -> dict[int, dict[str, Any]]:
    """Per open stage, the cohort of deals that entered it in the period: how many later reached a
    later stage (won included) before the cutoff, and of those now closed how many were won."""
    counts: dict[int, list[int]] = {}  # stage -> [entered, advanced, won, closed]
    for reopened in REOPENING:
        cte, params = stage_entries(scope, period, cutoff, reopened)
        for row in fetch(cte + """
SELECT entry.stage_id, COUNT(*) AS entered, SUM(entry.advanced) AS advanced,
  SUM(CASE WHEN entry.kind = 'won' THEN 1 ELSE 0 END) AS won_now,
  SUM(CASE WHEN entry.kind IN ('won', 'lost') THEN 1 ELSE 0 END) AS closed_now
FROM entry GROUP BY entry.stage_id""", params):
            total = counts.setdefault(row["stage_id"], [0, 0, 0, 0])
            for i, key in enumerate(("entered", "advanced", "won_now", "closed_now")):
                total[i] += int(row[key] or 0)
    return conversion_of(counts)


def conversion_of(counts: dict[int, list[int]]) -> dict[int, dict[str, Any]]:
    """The conversion figure from {stage: [entered, advanced, won, closed]}."""
    return {
        stage_id: {
            "entered": entered, "advanced": advanced, "conversion": formulas.ratio(advanced, entered),
            "closed": closed, "won": won, "stage_to_win": formulas.ratio(won, closed),
        }
        for stage_id, (entered, advanced, won, closed) in counts.items()
    }


def funnel(scope: Scope, period: Period, cutoff: dt.datetime) -> list[dict[str, Any]]:
    """One row per open stage: conversion, stage-to-win, time in stage and what sits there now."""
    conv = conversion(scope, period, cutoff)
    times = time_in_stage(scope, period, cutoff)
    pipe = pipeline_summary(scope, _known(period, cutoff))["by_stage"]
    rows = []
    for stage in stages_of(scope):
        if stage.kind != "open":
            continue
        c, t, p = conv.get(stage.pk, {}), times.get(stage.pk, {}), pipe.get(stage.pk, {})
        rows.append({
            "stage_id": stage.pk, "stage": stage_label(stage), "retired": stage.retired_at is not None,
            "pipeline": stage.pipeline.name, "position": stage.position,
            "configured_probability": stage.probability,
            "entered": c.get("entered", 0), "advanced": c.get("advanced", 0), "conversion": c.get("conversion"),
            "closed": c.get("closed", 0), "won": c.get("won", 0), "stage_to_win": c.get("stage_to_win"),
            "stays": t.get("stays", 0), "median_days": t.get("median"), "p75_days": t.get("p75"),
            "p90_days": t.get("p90"), "open_age_median": t.get("open_age_median"),
            "open_deals": p.get("deals", 0), "open_amount": p.get("amount", Decimal("0.00")),
        })
    return rows


def waterfall(scope: Scope, period: Period, cutoff: dt.datetime) -> dict[str, Any]:
    """Open pipeline (sum of amounts of open deals in the scope) from the start of the period to its
    end (or the cutoff): opening + created + moved in (reopened) - moved out - won - lost +/- amount
    changes = closing. Each event is classified by the state before and after it, so it adds up exactly.

    Moved out counts deals that left the scope's open pipeline without being won or lost: with an
    owner, team or currency cut, a deal reassigned to someone else (moved in for them).
    """
    known = _known(period, cutoff)
    if scope.rates:  # one rate per currency (the end's), or the bridge would not add up
        scope = replace(scope, rates=fixed_at(scope.rates, as_of_day(known)))
    rows = waterfall_flows(scope, period, cutoff)
    opening = _open_pipeline_cents(scope, period.start)
    closing = _open_pipeline_cents(scope, known)
    flows = {key: int(rows[key] or 0) for key in ("created", "moved_in", "moved_out", "won", "lost", "amount_changes")}
    computed = opening + flows["created"] + flows["moved_in"] - flows["moved_out"] - flows["won"] - flows["lost"] \
        + flows["amount_changes"]
    counts = {key: int(rows[f"{key}_deals"] or 0) for key in ("created", "moved_in", "moved_out", "won", "lost")}
    counts["amount_changes"] = int(rows["amount_change_events"] or 0)
    return {
        "opening": money(opening), **{k: money(v) for k, v in flows.items()}, "closing": money(closing),
        "counts": counts, "adds_up": computed == closing, "from": period.start, "to": known,
    }


@figure
def waterfall_flows(scope: Scope, period: Period, cutoff: dt.datetime) -> dict[str, Any]:
    """The waterfall's flows: each event of the period classified by the state before and after it."""
    known = _known(period, cutoff)
    source, _, params = spans(scope)
    fixed, _ = _scope_where(scope, parts="fixed")
    after, _ = _scope_where(scope, parts="as_of")
    before, _ = _scope_where(scope, parts="as_of", before=True)
    params.update(start=ts(period.start), cutoff=ts(known))
    within = f"(s.stage_kind = 'open' AND {after})"
    was_within = f"(s.prev_stage_kind = 'open' AND {before})"
    first = "s.prev_stage_kind = ''"
    now = convert_sql(scope.rates, "s.amount_cents", "s.currency", day=dt.date.min)  # rates fixed by waterfall()
    was = convert_sql(scope.rates, "s.prev_amount_cents", "s.prev_currency", day=dt.date.min)
    rows = fetch(f"""
SELECT
  SUM(CASE WHEN {first} AND {within} THEN COALESCE({now}, 0) ELSE 0 END) AS created,
  SUM(CASE WHEN {first} AND {within} THEN 1 ELSE 0 END) AS created_deals,
  SUM(CASE WHEN NOT {first} AND NOT {was_within} AND {within} THEN COALESCE({now}, 0) ELSE 0 END) AS moved_in,
  SUM(CASE WHEN NOT {first} AND NOT {was_within} AND {within} THEN 1 ELSE 0 END) AS moved_in_deals,
  SUM(CASE WHEN {was_within} AND s.stage_kind = 'won' THEN COALESCE({was}, 0) ELSE 0 END) AS won,
  SUM(CASE WHEN {was_within} AND s.stage_kind = 'won' THEN 1 ELSE 0 END) AS won_deals,
  SUM(CASE WHEN {was_within} AND s.stage_kind = 'lost' THEN COALESCE({was}, 0) ELSE 0 END) AS lost,
  SUM(CASE WHEN {was_within} AND s.stage_kind = 'lost' THEN 1 ELSE 0 END) AS lost_deals,
  SUM(CASE WHEN {was_within} AND NOT {within} AND s.stage_kind NOT IN ('won', 'lost')
           THEN COALESCE({was}, 0) ELSE 0 END) AS moved_out,
  SUM(CASE WHEN {was_within} AND NOT {within} AND s.stage_kind NOT IN ('won', 'lost') THEN 1 ELSE 0 END)
      AS moved_out_deals,
  SUM(CASE WHEN {was_within} AND {within}
           THEN COALESCE({now}, 0) - COALESCE({was}, 0) ELSE 0 END) AS amount_changes,
  SUM(CASE WHEN {was_within} AND {within} AND s.history_id IS NULL THEN 1 ELSE 0 END) AS amount_change_events
FROM {source}
WHERE {fixed} AND s.starts_at >= %(start)s AND s.starts_at < %(cutoff)s""", params)
    return rows[0]


def _open_pipeline_cents(scope: Scope, cutoff: dt.datetime) -> int:
    """The open pipeline at an instant, from the per-stage figure the page has usually computed already."""
    return sum(int(row["amount"] * 100) for row in pipeline_by_stage(scope, cutoff))


def trailing(period: Period, count: int = 4) -> Period:
    """The `count` periods just before `period`, as one span."""
    first = period.shifted(-count)
    return Period(f"{count} periods before {period.label}", first.start, period.start, period.months * count)


# Conversion is compared at the same age: within this many days of entering the stage, counting only
# the deals that entered it at least that long before the as-of instant (decision 028). A month is
# compared over a shorter window, or a month in progress would have no deal old enough.
SAME_AGE_DAYS = 30
SAME_AGE_DAYS_MONTH = 10


def same_age_days(period: Period) -> int:
    return SAME_AGE_DAYS_MONTH if period.months == 1 else SAME_AGE_DAYS


@figure
def conversion_within(scope: Scope, window: Period, cutoff: dt.datetime, days: int) -> dict[int, dict[str, Any]]:
    """Per open stage, the deals that first entered it in `window` and at least `days` days before
    the cutoff: how many reached a later stage (won included) less than `days` days after entering.

    Every deal counted has had the same `days` days to move on, all of them before the cutoff, so a
    period in progress is measured like a finished one: its recent entrants, who have not had the
    time yet, are left out instead of counted as stuck."""
    last_entry = min(window.end, cutoff - dt.timedelta(days=days))
    if last_entry <= window.start:
        return {}
    source, where, params = spans(scope)
    params.update(start=ts(window.start), end=ts(last_entry), days=days)
    rows = fetch(f"""
SELECT s.stage_id, COUNT(*) AS entered,
  SUM(CASE WHEN s.next_advance_at IS NOT NULL AND {days_between('s.starts_at', 's.next_advance_at')} < %(days)s
      THEN 1 ELSE 0 END) AS advanced
FROM {source}
WHERE {where} AND s.starts_at >= %(start)s AND s.starts_at < %(end)s
  AND s.history_id IS NOT NULL AND s.stage_kind = 'open'
  AND (s.prev_entry_at IS NULL OR s.prev_entry_at < %(start)s)
GROUP BY s.stage_id""", params)
    return {row["stage_id"]: {"entered": int(row["entered"]), "advanced": int(row["advanced"] or 0),
                              "conversion": formulas.ratio(int(row["advanced"] or 0), int(row["entered"]))}
            for row in rows}


def bottlenecks(scope: Scope, period: Period, cutoff: dt.datetime,
                funnel_rows: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Where the pipeline is stuck, in words with the numbers behind them.

    Three readings per open stage: conversion at the same age this period against the four periods
    before (`conversion_within`: moved on within N days of entering, of the deals that entered at
    least N days before the cutoff), median time in stage against the same trailing span (each
    measured with what was known at the end of its own window), and where open deals pile up now.
    """
    before = trailing(period)
    days = same_age_days(period)
    now_rows = {r["stage_id"]: r for r in (funnel_rows if funnel_rows is not None else funnel(scope, period, cutoff))}
    aged_now = conversion_within(scope, period, cutoff, days)
    aged_past = conversion_within(scope, before, cutoff, days)
    past_time = time_in_stage(scope, before, before.end, open_ages=False)
    total_open = sum(r["open_deals"] for r in now_rows.values()) or 0
    stages = []
    for stage_id, row in now_rows.items():
        now_c, past_c = aged_now.get(stage_id, {}), aged_past.get(stage_id, {})
        past_t = past_time.get(stage_id, {})
        aged, past = now_c.get("conversion"), past_c.get("conversion")
        stages.append({
            **row,
            "window_days": days, "aged_entered": now_c.get("entered", 0), "aged_advanced": now_c.get("advanced", 0),
            "aged_conversion": aged,
            "trailing_conversion": past, "trailing_entered": past_c.get("entered", 0),
            "trailing_median_days": past_t.get("median"),
            "conversion_change": aged - past if aged is not None and past is not None else None,
            "median_change_days": (row["median_days"] - past_t["median"])
            if row["median_days"] is not None and past_t.get("median") is not None else None,
            "open_share": formulas.ratio(row["open_deals"], total_open),
        })
    return {"stages": stages, "sentences": _bottleneck_sentences(stages, days), "trailing": before.label,
            "window_days": days}


def insights(scope: Scope, period: Period, cutoff: dt.datetime) -> dict[str, Any]:
    """Everything the insights page shows: metrics, funnel, waterfall and bottlenecks. The figures
    they are made of are computed together first (dealgate.analytics.together), largest first, so
    the composition below finds them all in the figure cache."""
    known, before = _known(period, cutoff), trailing(period)
    together(
        lambda: time_in_stage(scope, before, before.end, open_ages=False),
        lambda: time_in_stage(scope, period, cutoff),
        lambda: waterfall_flows(scope, period, cutoff),
        lambda: conversion_within(scope, before, cutoff, same_age_days(period)),
        lambda: conversion_within(scope, period, cutoff, same_age_days(period)),
        lambda: pipeline_by_stage(scope, period.start),
        lambda: outcomes(scope, period, cutoff),
        lambda: conversion(scope, period, cutoff),
        lambda: pipeline_by_stage(scope, known),
        lambda: pipeline_by_stage(scope, known, due_by=period.last_day),
    )
    funnel_rows = funnel(scope, period, cutoff)
    return {"metrics": period_metrics(scope, period, cutoff), "funnel": funnel_rows,
            "waterfall": waterfall(scope, period, cutoff),
            "bottlenecks": bottlenecks(scope, period, cutoff, funnel_rows)}


MIN_COHORT = 5
# A stage is named a bottleneck when it converts or moves at least this much worse than its own
# history; smaller moves are noise in a sentence a manager acts on.
MIN_CONVERSION_DROP = 0.02  # 2 percentage points
MIN_SLOWDOWN_DAYS = 1.0


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _bottleneck_sentences(stages: list[dict[str, Any]], days: int = SAME_AGE_DAYS) -> list[str]:
    sentences = []
    comparable = [s for s in stages if s["conversion_change"] is not None and s["aged_entered"] >= MIN_COHORT
                  and s["trailing_entered"] >= MIN_COHORT]
    if comparable:
        worst = min(comparable, key=lambda s: s["conversion_change"])
        if worst["conversion_change"] <= -MIN_CONVERSION_DROP:
            sentences.append(
                f"{worst['stage']} converts worst against its own history: {_pct(worst['aged_conversion'])} of the "
                f"{worst['aged_entered']:,} deals that entered it this period at least {days} days ago moved on "
                f"within {days} days, against {_pct(worst['trailing_conversion'])} of "
                f"{worst['trailing_entered']:,} in the four periods before (deals compared at the same age)."
            )
        else:
            sentences.append(f"No stage converts {MIN_CONVERSION_DROP * 100:.0f} points or more below its own "
                             f"history in the four periods before, comparing deals {days} days after they "
                             "entered a stage.")
    elif any(s["entered"] >= MIN_COHORT > s["aged_entered"] and s["trailing_entered"] >= MIN_COHORT for s in stages):
        sentences.append(f"Too early to compare conversion: fewer than {MIN_COHORT} deals entered any stage this "
                         f"period at least {days} days ago, and newer ones have not had the time to move on.")
    slower = [s for s in stages if s["median_change_days"] is not None and s["stays"] >= MIN_COHORT]
    if slower:
        slowest = max(slower, key=lambda s: s["median_change_days"])
        if slowest["median_change_days"] >= MIN_SLOWDOWN_DAYS:
            sentences.append(
                f"Deals spend longer in {slowest['stage']}: a median of {slowest['median_days']:.1f} days, up "
                f"{slowest['median_change_days']:.1f} days on the four periods before "
                f"({slowest['trailing_median_days']:.1f})."
            )
    piled = [s for s in stages if s["open_deals"]]
    if piled:
        pile = max(piled, key=lambda s: s["open_deals"])
        sentences.append(
            f"Open deals pile up in {pile['stage']}: {pile['open_deals']:,} deals ({_pct(pile['open_share'])} of the "
            f"open pipeline, {pile['open_amount']:,.0f}), a median of "
            f"{(pile['open_age_median'] or 0):.0f} days there so far."
        )
    if not sentences:
        sentences.append("No bottleneck: too few deals moved to compare stages yet.")
    return sentences


def distinct_cut_values(scope: Scope, cut: str) -> list[tuple[Any, str]]:
    """(value, label) of a cut among the scope's deals, e.g. every owner with deals."""
    from django.contrib.auth import get_user_model

    from dealgate.deals.models import Deal
    from dealgate.people.models import Team
    from dealgate.pipelines.models import Pipeline

    deals = Deal.objects.filter(currency__in=[scope.currency, *scope.converted])
    if scope.viewer_id is not None:
        from django.db.models import Q

        deals = deals.filter(Q(owner_id=scope.viewer_id) | Q(team_id=scope.viewer_team_id or -1))
    if cut == "owner":
        users = get_user_model().objects.filter(pk__in=deals.values("owner_id")).order_by("username")
        return [(u.pk, u.get_full_name() or u.username) for u in users]
    if cut == "team":
        return [(t.pk, t.name) for t in Team.objects.filter(pk__in=deals.values("team_id"))]
    if cut == "pipeline":
        return [(p.pk, p.name) for p in Pipeline.objects.filter(pk__in=deals.values("pipeline_id"))]
    if cut == "source":
        return [(v, v) for v in deals.order_by("source").values_list("source", flat=True).distinct()]
    if cut == "segment":
        values = deals.order_by("account__segment").values_list("account__segment", flat=True).distinct()
        return [(v, v or "(none)") for v in values]
    raise ValueError(f"unknown cut {cut!r}")


def weekly_review(scope: Scope, since: dt.datetime, until: dt.datetime) -> list[dict[str, Any]]:
    """What changed between two instants, per owner (dealgate.analytics.review, which the review
    page and the weekly digest read too)."""
    from dealgate.analytics.review import pipeline_review

    return pipeline_review(scope, since, until)["owners"]
