"""The board: one column per open stage, cards to drag, Won and Lost drop targets."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from dealgate.deals.board import CARDS_PER_COLUMN, BoardFilters, build_board, build_column, rep_summary
from dealgate.people.access import role_of
from dealgate.people.models import Role
from dealgate.deals.selectors import stages_a_new_deal_can_start_in
from dealgate.pipelines.models import Pipeline, Stage, StageKind
from dealgate.web.forms import board_filters
from dealgate.web.views.common import int_or_none


@login_required
def home(request: HttpRequest) -> HttpResponse:
    pipeline = Pipeline.objects.order_by("name").first()
    if pipeline is None:
        return render(request, "web/empty.html", {"what": "pipeline"})
    board_url = reverse("web:board", kwargs={"key": pipeline.key})
    query = request.GET.urlencode()  # a shared /?q=... link keeps its search on the board
    return redirect(f"{board_url}?{query}" if query else board_url)


SCOPE_KEY = "board_scope"  # the session remembers "mine" or "team", the last one the person chose


def with_scope(request: HttpRequest) -> QueryDict:
    """The board's query with its scope: the one asked for (then remembered for this person's session),
    else the remembered one, else the role's default: a rep opens on their own deals, a manager or an
    admin on the team's (everyone's) deals."""
    query = request.GET.copy()
    scope = query.get("scope")
    if scope in ("mine", "team"):
        request.session[SCOPE_KEY] = scope
    elif "mine" not in query:  # an older ?mine=on link says what it wants
        remembered = request.session.get(SCOPE_KEY)
        query["scope"] = remembered if remembered in ("mine", "team") else (
            "mine" if role_of(request.user) == Role.REP else "team")
    return query


@login_required
@require_GET
def board(request: HttpRequest, key: str) -> HttpResponse:
    pipeline = get_object_or_404(Pipeline, key=key)
    query = with_scope(request)
    form, filters = board_filters(query, request.user)
    data = build_board(pipeline, request.user, filters)
    summary = rep_summary(pipeline, request.user) if role_of(request.user) in (Role.MANAGER, Role.ADMIN) else None
    searched_in_vain = bool(filters.q) and not any(column.count for column in data.columns)
    return render(request, "web/board.html", {
        "board": data, "form": form, "pipelines": Pipeline.objects.order_by("name"),
        "board_query": query.urlencode(), "new_deal_stages": new_deal_stage_ids(pipeline),
        "nothing_found": filters.q if searched_in_vain else "",
        "other_filters": filters != BoardFilters(q=filters.q),
        "filtered": filters != BoardFilters(mine=filters.mine), "summary": summary,
    })


def new_deal_stage_ids(pipeline: Pipeline) -> set[int]:
    """The columns that get a "New deal" button."""
    return {stage.pk for stage in stages_a_new_deal_can_start_in(pipeline.pk)}


@login_required
@require_GET
def column(request: HttpRequest, key: str, stage_id: int) -> HttpResponse:
    """The next page of cards of one column ("load more" on scroll)."""
    pipeline = get_object_or_404(Pipeline, key=key)
    stage = get_object_or_404(Stage, pk=stage_id, pipeline=pipeline, kind=StageKind.OPEN)
    offset = int_or_none(request.GET.get("offset")) or 0
    if not 0 <= offset < 2**31:  # past any column; larger overflows the database's OFFSET
        raise Http404("No such page.")
    _, filters = board_filters(request.GET, request.user)
    col = build_column(pipeline, stage, request.user, filters, offset=offset, limit=CARDS_PER_COLUMN)
    query = request.GET.copy()
    query.pop("offset", None)
    return render(request, "web/_cards_page.html", {"column": col, "board": {"pipeline": pipeline},
                                                     "board_query": query.urlencode()})
