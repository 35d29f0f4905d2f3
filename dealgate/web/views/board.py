"""The board: one column per open stage, cards to drag, Won and Lost drop targets."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from dealgate.deals.board import CARDS_PER_COLUMN, BoardFilters, build_board, build_column
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


@login_required
@require_GET
def board(request: HttpRequest, key: str) -> HttpResponse:
    pipeline = get_object_or_404(Pipeline, key=key)
    form, filters = board_filters(request.GET, request.user)
    data = build_board(pipeline, request.user, filters)
    searched_in_vain = bool(filters.q) and not any(column.count for column in data.columns)
    return render(request, "web/board.html", {
        "board": data, "form": form, "pipelines": Pipeline.objects.order_by("name"),
        "board_query": request.GET.urlencode(), "new_deal_stages": new_deal_stage_ids(pipeline),
        "nothing_found": filters.q if searched_in_vain else "",
        "other_filters": filters != BoardFilters(q=filters.q),
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
