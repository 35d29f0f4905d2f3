"""The board: one column per open stage, cards to drag, Won and Lost drop targets."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET

from dealgate.deals.board import CARDS_PER_COLUMN, build_board, build_column
from dealgate.pipelines.models import Pipeline, Stage, StageKind
from dealgate.web.forms import board_filters
from dealgate.web.views.common import int_or_none


@login_required
def home(request: HttpRequest) -> HttpResponse:
    pipeline = Pipeline.objects.order_by("name").first()
    if pipeline is None:
        return render(request, "web/empty.html", {"what": "pipeline"})
    return redirect("web:board", key=pipeline.key)


@login_required
@require_GET
def board(request: HttpRequest, key: str) -> HttpResponse:
    pipeline = get_object_or_404(Pipeline, key=key)
    form, filters = board_filters(request.GET, request.user)
    data = build_board(pipeline, request.user, filters)
    return render(request, "web/board.html", {
        "board": data, "form": form, "pipelines": Pipeline.objects.order_by("name"),
        "board_query": request.GET.urlencode(),
    })


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
