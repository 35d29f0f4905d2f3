"""Settings for admins: pipelines, their stages (order, probability, idle limit, exit question) and criteria."""

from __future__ import annotations

import json
from typing import Any, Callable

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from dealgate.errors import DealgateError, ValidationFailed
from dealgate.pipelines.models import Criterion, CriterionKind, Phase, Pipeline, Stage
from dealgate.web import pipeline_settings as edits
from dealgate.web.views.common import admin_required


@admin_required
def settings_home(request: HttpRequest) -> HttpResponse:
    return render(request, "web/settings/home.html", {"pipelines": Pipeline.objects.order_by("name")})


def render_pipeline(request: HttpRequest, pipeline: Pipeline, *, status: int = 200, errors: dict | None = None,
                    error_action: str = "", error_target: int | None = None, message: str = "") -> HttpResponse:
    stages = list(pipeline.stages.order_by("position").prefetch_related("criteria"))
    for stage in stages:
        stage.criteria_rows = [
            (c, json.dumps(c.config, indent=1)) for c in sorted(stage.criteria.all(), key=lambda c: (c.phase, c.position, c.pk))
        ]
    return render(request, "web/settings/pipeline.html", {
        "pipeline": pipeline, "stages": stages, "phases": Phase.choices, "kinds": CriterionKind.choices,
        "errors": errors or {}, "error_action": error_action, "error_target": error_target,
        "error_message": message,
    }, status=status)


@admin_required
def pipeline_settings(request: HttpRequest, key: str) -> HttpResponse:
    return render_pipeline(request, get_object_or_404(Pipeline, key=key))


def _stage_edit(request: HttpRequest, pipeline: Pipeline, target: int) -> str:
    stage = get_object_or_404(Stage, pk=target, pipeline=pipeline)
    p = request.POST
    edits.update_stage(stage, by=request.user, name=p.get("name"), probability=p.get("probability"),
                       rot_days=p.get("rot_days"), exit_question=p.get("exit_question"), goal=p.get("goal", ""),
                       guidance=p.get("guidance", ""))
    return f"Saved stage {stage.name}."


def _stage_move(request: HttpRequest, pipeline: Pipeline, target: int) -> str:
    stage = edits.move_stage(get_object_or_404(Stage, pk=target, pipeline=pipeline), request.POST.get("direction", ""),
                             by=request.user)
    return f"Moved {stage.name} {request.POST.get('direction', '')}."


def _criterion_add(request: HttpRequest, pipeline: Pipeline, target: int) -> str:
    stage = get_object_or_404(Stage, pk=target, pipeline=pipeline)
    p = request.POST
    criterion = edits.add_criterion(stage, by=request.user, phase=p.get("phase"), key=p.get("key"),
                                    label=p.get("label"), kind=p.get("kind"), config=p.get("config", "{}"))
    return f"Added “{criterion.label}” to {stage.name}."


def _criterion_edit(request: HttpRequest, pipeline: Pipeline, target: int) -> str:
    criterion = get_object_or_404(Criterion, pk=target, stage__pipeline=pipeline)
    edits.update_criterion(criterion, by=request.user, label=request.POST.get("label"),
                           config=request.POST.get("config", "{}"))
    return f"Saved “{criterion.label}”."


def _criterion_delete(request: HttpRequest, pipeline: Pipeline, target: int) -> str:
    criterion = get_object_or_404(Criterion, pk=target, stage__pipeline=pipeline)
    edits.delete_criterion(criterion, by=request.user)
    return f"Removed “{criterion.label}”."


def _pipeline_edit(request: HttpRequest, pipeline: Pipeline, target: int) -> str:
    p = request.POST
    edits.update_pipeline(pipeline, by=request.user, name=p.get("name"), business_days=bool(p.get("business_days")),
                          single_threaded_from=p.get("single_threaded_from"))
    return "Saved pipeline."


SETTINGS_ACTIONS: dict[str, Callable[[HttpRequest, Pipeline, str], str]] = {
    "stage": _stage_edit, "stage-move": _stage_move, "criterion-add": _criterion_add,
    "criterion": _criterion_edit, "criterion-delete": _criterion_delete, "pipeline": _pipeline_edit,
}


@admin_required
@require_POST
def pipeline_action(request: HttpRequest, key: str, action: str, target: int = 0) -> HttpResponse:
    pipeline = get_object_or_404(Pipeline, key=key)
    handler = SETTINGS_ACTIONS.get(action)
    if handler is None:
        return HttpResponse("Unknown action.", status=404)
    try:
        done = handler(request, pipeline, target)
    except DealgateError as exc:
        errors: dict[str, Any] = exc.details if isinstance(exc, ValidationFailed) else {}
        return render_pipeline(request, pipeline, status=exc.http_status, errors=errors, error_action=action,
                               error_target=target or None,
                               message=exc.message)
    messages.success(request, done)
    return redirect("web:settings_pipeline", key=pipeline.key)
