"""Lists: deals (sortable, filterable, CSV of the current view), accounts, contacts, an account, my day."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from dealgate.csv_safe import csv_lines
from dealgate.deals.board import Money, board_rates, company_total
from dealgate.deals.flags import compute_flags
from dealgate.deals.models import Account, Activity, Contact, Deal, quiet_since
from dealgate.deals.selectors import STATUSES, account_handoffs, deal_list
from dealgate.inputs import query_text
from dealgate.people.access import role_of, team_id_of, visible_deals
from dealgate.people.models import Role
from dealgate.pipelines.models import Pipeline, Stage
from dealgate.signals.risk import ranked_by_risk
from dealgate.signals.views import order_rhythm

SORTS = {
    "title": "title", "account": "account__name", "amount": "amount", "stage": "stage__position",
    "owner": "owner__username", "close": "expected_close_date", "created": "created_at", "next": "next_step_due",
}
CSV_COLUMNS = [
    ("id", "id"), ("title", "title"), ("account", "account__name"), ("pipeline", "pipeline__key"),
    ("stage", "stage__name"), ("owner", "owner__username"), ("amount", "amount"), ("currency", "currency"),
    ("expected_close_date", "expected_close_date"), ("next_step", "next_step"), ("next_step_due", "next_step_due"),
    ("forecast_category", "forecast_category"), ("created_at", "created_at"), ("closed_at", "closed_at"),
]


ACCOUNT_CSV_COLUMNS = [
    ("id", "id"), ("name", "name"), ("segment", "segment"), ("owner", "owner__username"),
    ("open_deals", "open_deals"), ("contacts", "contact_count"),
]
CONTACT_CSV_COLUMNS = [
    ("id", "id"), ("name", "name"), ("title", "title"), ("account", "account__name"), ("email", "email"),
    ("phone", "phone"),
]


def _csv_download(qs: QuerySet, columns: list[tuple[str, str]], name: str) -> StreamingHttpResponse:
    """The rows of a list's current view as a streamed CSV file, formula-safe like every CSV
    Dealgate writes (dealgate.csv_safe)."""
    rows = qs.values_list(*[field for _, field in columns]).iterator(chunk_size=2000)
    response = StreamingHttpResponse(csv_lines([header for header, _ in columns], rows),
                                     content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}-{timezone.localdate():%Y-%m-%d}.csv"'
    return response


@login_required
def deals(request: HttpRequest) -> HttpResponse:
    """The deals table; `?format=csv` downloads exactly the rows of the current filters and sort."""
    params = request.GET
    status = params.get("status") or "open"
    if status not in STATUSES:
        status = "open"
    pipeline, owner, stage, search = (query_text(params, name) for name in ("pipeline", "owner", "stage", "q"))
    qs = deal_list(request.user, pipeline=pipeline or None, owner=owner or None,
                   stage=stage or None, status=status, search=search, limit=None)
    sort = params.get("sort") or "-created"
    key = sort.lstrip("-")
    if key in SORTS:
        field = SORTS[key]
        qs = qs.order_by(f"-{field}" if sort.startswith("-") else field, "-id")
    if params.get("format") == "csv":
        return _csv_download(qs, CSV_COLUMNS, "deals")
    page = Paginator(qs, 50).get_page(params.get("page"))
    money = list(qs.order_by().values("currency").annotate(total=Sum("amount"), n=Count("id")).order_by("currency"))
    query = params.copy()
    query.pop("page", None)
    sort_query = query.copy()
    sort_query.pop("sort", None)
    return render(request, "web/deals.html", {
        "page": page, "status": status, "sort": sort, "query": query.urlencode(), "sort_query": sort_query.urlencode(),
        "pipelines": Pipeline.objects.order_by("name"), "statuses": STATUSES,
        # No deal sits in a retired stage: it is offered only if the link already names it (decision 036).
        "stages": Stage.objects.filter(Q(retired_at__isnull=True) | Q(key=stage), pipeline__key=pipeline
                                       ).order_by("position") if pipeline else [],
        "params": params, "today": timezone.localdate(), "money": money,
        # Open deals are worth today's rates (decision 035); won and lost ones their close day's, which
        # Insights converts: the list gives a company total for open deals only, never a mix of days.
        "company": _company_money(money) if status == "open" else None,
    })


def _company_money(money: list[dict[str, Any]]) -> Any:
    """One total in the company currency of per-currency sums ({"currency", "total"} rows) at today's
    rates, as a board column and the account page give it (`company_total`)."""
    return company_total([Money(m["currency"], m["total"] or Decimal(0), Decimal(0)) for m in money], board_rates())


def visible_accounts(user: Any) -> QuerySet:
    """Admins see every account; others those they own or where they can see a deal."""
    qs = Account.objects.all()
    if role_of(user) == Role.ADMIN:
        return qs
    seen = visible_deals(user, Deal.objects.filter(account_id=OuterRef("pk")))
    return qs.filter(Q(owner_id=user.pk) | Exists(seen))


@login_required
def accounts(request: HttpRequest) -> HttpResponse:
    q = query_text(request.GET, "q")
    qs = visible_accounts(request.user).select_related("owner").annotate(
        open_deals=Count("deals", filter=Q(deals__closed_at__isnull=True)),
        contact_count=Count("contacts", distinct=True),
    ).order_by("name")
    if q:
        qs = qs.filter(name__icontains=q)
    if request.GET.get("format") == "csv":
        return _csv_download(qs, ACCOUNT_CSV_COLUMNS, "accounts")
    if request.GET.get("sort") != "risk":
        page = Paginator(qs, 50).get_page(request.GET.get("page"))
        return render(request, "web/accounts.html", {"page": page, "q": q, "sort": "name"})
    # By reorder risk (dealgate.signals.risk): the ranking is computed, then only the page's rows are loaded.
    ranked, risk = ranked_by_risk(list(qs.values_list("pk", "name")), timezone.localdate())
    page = Paginator(ranked, 50).get_page(request.GET.get("page"))
    found = qs.in_bulk(list(page.object_list))
    page.object_list = [found[pk] for pk in page.object_list]
    for account in page.object_list:
        account.risk = risk.get(account.pk)
    return render(request, "web/accounts.html", {"page": page, "q": q, "sort": "risk"})


@login_required
def contacts(request: HttpRequest) -> HttpResponse:
    q = query_text(request.GET, "q")
    qs = Contact.objects.filter(account__in=visible_accounts(request.user)).select_related("account").order_by("name")
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(email__icontains=q) | Q(account__name__icontains=q))
    if request.GET.get("format") == "csv":
        return _csv_download(qs, CONTACT_CSV_COLUMNS, "contacts")
    return render(request, "web/contacts.html", {"page": Paginator(qs, 50).get_page(request.GET.get("page")), "q": q})


@login_required
def account(request: HttpRequest, pk: int) -> HttpResponse:
    acc = get_object_or_404(visible_accounts(request.user).select_related("owner"), pk=pk)
    deals_qs = visible_deals(request.user, acc.deals.all()).select_related("stage", "owner").order_by("-created_at")
    deal_ids = deals_qs.values("pk")
    activities = (
        Activity.objects.filter(Q(account=acc, deal__isnull=True) | Q(deal_id__in=deal_ids))
        .select_related("by", "deal").order_by("-occurred_at")[:100]
    )
    all_deals = list(deals_qs)
    open_money = list(deals_qs.filter(closed_at__isnull=True).values("currency").annotate(total=Sum("amount"))
                      .order_by("currency"))
    # Open deals in several currencies: one total in the company currency too, as a board column has.
    company = _company_money(open_money)
    return render(request, "web/account.html", {
        "account": acc, "contacts": acc.contacts.order_by("name"),
        "open_deals": [d for d in all_deals if d.closed_at is None],
        "closed_deals": [d for d in all_deals if d.closed_at is not None],
        "open_money": open_money, "company": company, "activities": activities, "rhythm": order_rhythm(acc.pk),
        "handoffs": account_handoffs(request.user, acc), "visible_won": {d.pk for d in all_deals},
    })


@login_required
def my_day(request: HttpRequest) -> HttpResponse:
    """A rep's day, most urgent first: overdue or missing next steps, stale deals, tasks due. A
    manager's also lists her team's quiet or slow deals (the others' deals: hers are above)."""
    today = timezone.localdate()
    mine = Deal.objects.filter(owner=request.user, closed_at__isnull=True).select_related("stage", "pipeline", "account")
    overdue = list(mine.filter(Q(next_step_due__lt=today) | Q(next_step="")).order_by("next_step_due", "id")[:100])
    stale = quiet_or_slow(mine, today)
    team_stale = None
    if role_of(request.user) == Role.MANAGER and team_id_of(request.user) is not None:
        team = (Deal.objects.filter(team_id=team_id_of(request.user), closed_at__isnull=True)
                .exclude(owner=request.user).select_related("stage", "pipeline", "account", "owner"))
        team_stale = quiet_or_slow(team, today)
    from dealgate.automation.models import Task

    tasks = list(Task.objects.filter(assignee=request.user, done=False, due__lte=today + dt.timedelta(days=1))
                 .select_related("deal", "account").order_by("due", "id")[:100])  # overdue first
    # Task activities logged (or imported from another CRM) before tasks existed, still not done.
    logged = list(
        Activity.objects.filter(deal__in=mine, kind="task", occurred_at__date__lte=today + dt.timedelta(days=1))
        .exclude(outcome__in=("done", "completed")).select_related("deal").order_by("occurred_at")[:100]
    )
    return render(request, "web/my_day.html", {"overdue": overdue, "stale": stale, "tasks": tasks, "logged": logged,
                                                "task_count": len(tasks) + len(logged), "today": today,
                                                "team_stale": team_stale})


MY_DAY_CANDIDATES = 500


def quiet_or_slow(deals: QuerySet, today: dt.date) -> list[tuple[Deal, Any]]:
    """(deal, flag) for the open deals with a "stale" flag (quiet or slow, decision 034), longest first. From
    `compute_flags`, over the deals touched least recently and those longest in their stage (the only
    ones that can carry either flag), a bounded number of each."""
    touched = deals.annotate(last_touch=quiet_since())
    candidates = {d.pk: d for d in touched.order_by("last_touch", "id")[:MY_DAY_CANDIDATES]}
    for deal in deals.exclude(pk__in=list(candidates)).order_by("stage_entered_at", "id")[:MY_DAY_CANDIDATES]:
        candidates[deal.pk] = deal
    flags = compute_flags(list(candidates.values()), today=today)
    found = [(d, f) for d in candidates.values() for f in flags.get(d.pk, []) if f.code == "stale"]
    return sorted(found, key=lambda pair: (pair[1].since or today, pair[0].pk))
