"""Insights pages: pipeline analytics (/insights/), forecasts (/insights/forecast/) and the weekly
review (/insights/review/).

Thin: read the filters, build a scope the viewer may see, call metrics/forecast, render. The one
write (adopting a learned probability) goes through `dealgate.analytics.services`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, OuterRef, Subquery
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from dealgate.analytics import charts, forecast, metrics
from dealgate.analytics.backtest import backtest, recent_periods, recommend
from dealgate.analytics.history import Scope, scope_for, with_rates
from dealgate.analytics.left_out import converted_currencies, converted_sentence, other_currencies
from dealgate.analytics.cache import current_value
from dealgate.analytics.periods import Period, page_now, parse_as_of, parse_period, period_containing
from dealgate.analytics.together import together
from dealgate.analytics.signal_conversion import signal_conversion
from dealgate.analytics.models import ProbabilityAdoption
from dealgate.analytics.services import adopt_probability, may_manage_quotas, revert_adoption
from dealgate.deals.currencies import is_currency_code
from dealgate.deals.models import Source
from dealgate.errors import DealgateError
from dealgate.inputs import query_int, query_text
from dealgate.people.access import role_of, team_id_of, visible_deals
from dealgate.people.models import Team
from dealgate.pipelines.models import Pipeline, Stage


PLOTLY_JS = Path(__file__).parent / "static" / "analytics" / "plotly.min.js"


def plotly_js(request: HttpRequest) -> FileResponse:
    """plotly.js, served by the app: charts work offline, nothing from a CDN. The page itself links the static
    file (hashed name, gzip, cached a year); this URL stays for anything that linked it before."""
    path = PLOTLY_JS
    if not path.exists():
        raise Http404("plotly.min.js is not installed")
    response = FileResponse(path.open("rb"), content_type="text/javascript")
    response["Cache-Control"] = "public, max-age=86400"
    return response


def _filters(request: HttpRequest) -> tuple[Scope, Period, Any, dict[str, Any]]:
    user = request.user
    errors = []
    try:
        cutoff = parse_as_of(request.GET.get("as_of") or None, default=page_now())
    except DealgateError as exc:
        errors.append(exc.message)
        cutoff = page_now()
    try:
        period = parse_period(request.GET["period"]) if request.GET.get("period") else \
            period_containing(cutoff.date(), 3)
    except DealgateError as exc:
        errors.append(exc.message)
        period = period_containing(cutoff.date(), 3)

    choices = current_value("insights-choices", lambda: _choices(user), user.pk, role_of(user), team_id_of(user))
    pipeline_id, owner_id, team_id = (query_int(request.GET, name) for name in ("pipeline", "owner", "team"))
    source, segment = query_text(request.GET, "source"), query_text(request.GET, "segment")
    currency = query_text(request.GET, "currency", max_length=3).upper()
    if currency and not is_currency_code(currency):
        errors.append(f"{currency!r} is not a currency code; amounts are shown in {settings.DEALGATE_CURRENCY}.")
        currency = ""
    if pipeline_id is None and choices["pipelines"]:
        pipeline_id = choices["busiest_pipeline"]
    scope = with_rates(scope_for(user, pipeline_id=pipeline_id, owner_id=owner_id, team_id=team_id,
                                 source=source or None, segment=segment or None, currency=currency or None))
    left_out, converted = current_value(
        "insights-left-out", lambda: tuple(together(lambda: other_currencies(scope),
                                                    lambda: converted_currencies(scope))), scope)
    form = {
        "period": period.label, "as_of": request.GET.get("as_of", ""), "pipelines": choices["pipelines"],
        "pipeline": pipeline_id, "owner": owner_id, "team": team_id,
        "source": source, "segment": segment,
        "owners": choices["owners"], "teams": choices["teams"],
        "sources": Source.choices,
        "segments": choices["segments"],
        "errors": errors, "query": request.GET.urlencode(),
        "currency": scope.currency, "currencies": sorted({*choices["currencies"], scope.currency}),
        "left_out": [{**row, "query": _with(request, currency=row["currency"])} for row in left_out],
        "converted": converted_sentence(converted, scope.currency),
    }
    return scope, period, cutoff, form


def _choices(user: Any) -> dict[str, Any]:
    """The filters' choices: what the viewer's deals hold (pipelines, owners, teams, segments,
    currencies) and the pipeline shown when none is chosen (the one with the most of their deals).
    Read once a minute at most while nothing is written (`current_value`): on 100,000 deals the
    distinct segments alone took 89 ms a view."""
    deals = visible_deals(user)
    # five scans of the viewer's deals, independent of each other: side by side (a cold page waits for them)
    counts, owners, teams, segments, currencies = together(
        lambda: dict(deals.order_by().values_list("pipeline_id").annotate(n=Count("id"))),
        lambda: list(get_user_model().objects.filter(pk__in=deals.values("owner_id")).order_by("username")),
        lambda: list(Team.objects.filter(pk__in=deals.values("team_id"))),
        lambda: [s for s in deals.order_by().values_list("account__segment", flat=True).distinct() if s],
        lambda: list(deals.order_by().values_list("currency", flat=True).distinct()))
    pipelines = list(Pipeline.objects.filter(pk__in=counts))
    return {
        "pipelines": pipelines,
        "busiest_pipeline": max(pipelines, key=lambda p: counts[p.pk]).pk if pipelines else None,
        "owners": owners, "teams": teams, "segments": segments, "currencies": currencies,
    }


def _with(request: HttpRequest, **changes: str) -> str:
    """The page's query string with some parameters changed (a link to the same view in another currency)."""
    params = request.GET.copy()
    for name, value in changes.items():
        params[name] = value
    return params.urlencode()


def _chart(name: str, spec: dict | None) -> dict | None:
    """A chart spec for `json_script` (Decimals as numbers) and the id the page script looks it up by;
    None for a chart with nothing to draw (the page says so in words)."""
    if spec is None:
        return None
    return {"id": f"chart-{name}", "spec": json.loads(json.dumps(spec, default=float))}


@login_required
def insights(request: HttpRequest) -> HttpResponse:
    scope, period, cutoff, form = _filters(request)
    page = metrics.insights(scope, period, cutoff)
    numbers, funnel_rows, flow, neck = page["metrics"], page["funnel"], page["waterfall"], page["bottlenecks"]
    return render(request, "analytics/insights.html", {
        "form": form, "period": period, "cutoff": cutoff, "scope": scope, "m": numbers, "funnel": funnel_rows,
        "waterfall": flow, "bottlenecks": neck,
        "signal_conversion": signal_conversion(request.user, scope, period, cutoff),
        "charts": {
            "funnel": _chart("funnel", charts.funnel(funnel_rows)),
            "time": _chart("time", charts.time_in_stage(funnel_rows)),
            "waterfall": _chart("waterfall", charts.waterfall(flow, scope.currency)),
            # No quota (or the quota already met): no coverage to draw, the page says why instead.
            "coverage": _chart("coverage", charts.coverage(numbers["coverage"])),
        },
        "may_set_quotas": may_manage_quotas(request.user),
    })


@login_required
def review_page(request: HttpRequest) -> HttpResponse:
    """The weekly pipeline review (dealgate.analytics.review) of one ISO week, against the week before."""
    from dealgate.analytics.review import currency_words, parse_week, pipeline_review, review_scope, week_containing

    now = timezone.now()
    this_week, errors = week_containing(now), []
    week = this_week
    if request.GET.get("week"):
        try:
            week = parse_week(request.GET["week"])
        except DealgateError as exc:
            errors.append(exc.message)
    scope, whose = review_scope(request.user)
    before = week.shifted(-1)
    review = pipeline_review(scope, week.start, week.end, previous=(before.start, week.start), now=now)
    return render(request, "analytics/review.html", {
        "week": week, "before": before, "after": week.shifted(1) if week.start < this_week.start else None,
        "this_week": this_week, "whose": whose, "errors": errors, "scope": scope, "time_zone": settings.TIME_ZONE,
        "currency_words": currency_words(scope), "today": timezone.localdate(now),
        "headers": [label for _, label in REVIEW_COLUMNS],
        "summary": [_review_measure(review["total"], key, label) for key, label in REVIEW_COLUMNS],
        "owners": [(r["name"], r["team"], _review_cells(r)) for r in review["owners"]],
        "teams": [(r["name"], _review_cells(r)) for r in review["teams"]],
        "next_steps": review["total"]["no_next_step"] is not None,
    }, status=400 if errors else 200)


def _review_measure(row: dict[str, Any], key: str, label: str) -> dict[str, Any]:
    """One line of the review's summary: this week's count and amount against the week before's."""
    amount = f"{key}_amount"
    return {"label": label, "now": row[key], "before": row["previous"][key], "change": row[key] - row["previous"][key],
            "amount": row.get(amount), "amount_before": row["previous"].get(amount)}


def _review_cells(row: dict[str, Any]) -> list[dict[str, Any]]:
    """A table row's cells: each measure's count, amount (if it has one) and the week before's count;
    then today's next-step figures, when the week reaches today."""
    cells = [{"now": row[key], "amount": row.get(f"{key}_amount"), "before": row["previous"][key]}
             for key, _ in REVIEW_COLUMNS]
    if row["no_next_step"] is not None:
        cells += [{"now": row["no_next_step"]}, {"now": row["next_step_overdue"]}]
    return cells


REVIEW_COLUMNS = (("created", "New"), ("forward", "Advanced"), ("backward", "Moved back"), ("reopened", "Reopened"),
                  ("won", "Won"), ("lost", "Lost"), ("close_date_slipped", "Close date pushed"),
                  ("amount_changed", "Amount changed"), ("went_stale", "Went stale"))


@login_required
def forecast_page(request: HttpRequest) -> HttpResponse:
    scope, period, cutoff, form = _filters(request)
    months = 1 if period.months == 1 else 3
    history = recent_periods(cutoff, months)
    result, tested, accuracy = together(  # dealgate.analytics.together
        lambda: forecast.forecast_report(scope, period, cutoff, groups=("owner", "team")),
        lambda: backtest(scope, history, cutoff), lambda: forecast.commit_accuracy(scope, period, cutoff))
    return render(request, "analytics/forecast.html", {
        "form": form, "period": period, "cutoff": cutoff, "scope": scope, "result": result,
        "methods": result["methods"], "probabilities": result["probabilities"],
        "owners": result["categories"]["owner"], "teams": result["categories"]["team"],
        "accuracy": accuracy,
        "backtest": tested, "lead": _lead(result, recommend(tested, months)), "is_admin": role_of(request.user) == "admin",
        "adoptions": latest_adoptions(result["probabilities"]) if role_of(request.user) == "admin" else {},
        "charts": {
            "range": _chart("range", charts.forecast_range(result["methods"], scope.currency)),
            "backtest": _chart("backtest", charts.backtest(tested["rows"], forecast.METHODS, scope.currency)),
        },
    })


def _lead(result: dict[str, Any], pick: dict[str, Any]) -> dict[str, Any]:
    """The one number the page opens with: the recommended method's forecast, split into its parts."""
    return {**pick, "figures": result["methods"].get(pick["method"]),
            "new": result["new_business"], "close_dates": result["close_dates"]}


def latest_adoptions(stage_ids: Any) -> dict[int, ProbabilityAdoption]:
    """Stage id -> its latest adoption, when that one can still be undone (see `undo_adoption`)."""
    latest = Stage.objects.filter(pk__in=list(stage_ids)).annotate(adoption=Subquery(
        ProbabilityAdoption.objects.filter(stage=OuterRef("pk")).order_by("-at", "-id").values("pk")[:1]))
    rows = ProbabilityAdoption.objects.filter(pk__in=latest.values("adoption"), reverts__isnull=True).select_related(
        "stage", "by")
    return {row.stage_id: row for row in rows if row.stage.probability == row.new_probability}


@login_required
@require_POST
def adopt(request: HttpRequest, stage_id: int) -> HttpResponse:
    """Write the learned probability of a stage into its configuration (admins; audited).

    `action=undo` undoes the stage's latest adoption instead (same route: the undo acts on the
    same stage's adopted probability).
    """
    if role_of(request.user) != "admin":
        raise PermissionDenied("Only an admin may adopt a learned probability.")
    if request.POST.get("action") == "undo":
        return undo_adoption(request, stage_id)
    stage = get_object_or_404(Stage, pk=stage_id)
    scope = Scope(pipeline_id=stage.pipeline_id)
    learned = forecast.historical_probabilities(scope, page_now()).get(stage.pk)
    try:
        if learned is None:
            raise DealgateError(f"{stage.name} is not an open stage.")
        audit = adopt_probability(stage, round(learned["learned"] * 100), by=request.user,
                                  sample_closed=learned["closed"], sample_won=learned["won"])
        messages.success(request, f"{stage.name}: probability {audit.old_probability}% → {audit.new_probability}% "
                                  f"(learned from {audit.sample_closed} closed deals).")
    except DealgateError as exc:
        messages.error(request, exc.message)
    return _back_to_forecast(request)


def undo_adoption(request: HttpRequest, stage_id: int) -> HttpResponse:
    """Put back the probability the stage's latest adoption replaced (admins; the undo is audited too).

    Only the latest, and only while the stage still has the adopted value: undoing an older one,
    or after someone changed the probability in settings, would silently overwrite a later decision.
    """
    if role_of(request.user) != "admin":
        raise PermissionDenied("Only an admin may undo an adopted probability.")
    stage = get_object_or_404(Stage, pk=stage_id)
    try:
        with transaction.atomic():
            Stage.objects.select_for_update().get(pk=stage.pk)  # two admins undoing at once: one undo
            adoption = latest_adoptions([stage.pk]).get(stage.pk)
            if adoption is None:
                raise DealgateError(f"{stage.name} has no adopted probability to undo: the latest change was "
                                    "already undone, or the probability was changed in settings since.")
            back = revert_adoption(adoption, by=request.user)
        messages.success(request, f"{stage.name}: probability back to {back.new_probability}% "
                                  f"(undid the adoption of {adoption.new_probability}%).")
    except DealgateError as exc:
        messages.error(request, exc.message)
    return _back_to_forecast(request)


def _back_to_forecast(request: HttpRequest) -> HttpResponse:
    return redirect(f"/insights/forecast/?{request.POST.get('query', '')}")
