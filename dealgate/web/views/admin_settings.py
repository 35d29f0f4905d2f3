"""Settings for admins: pipelines (created from a template), their stages (add, remove, order, probability,
idle limit, exit question) and criteria, each edited with a form of its kind.

The pipeline page lists the stages; each stage has a page of its own (`?stage=<id>`) with its
criteria, so no page grows with the whole pipeline. Every write calls the services the API uses
(`dealgate.web.pipeline_settings`, `dealgate.pipelines.services`); a refusal re-renders the page it
came from with each message next to its input and what was typed kept.
"""

from __future__ import annotations

from typing import Any, Callable

from django.conf import settings
from django.contrib import messages
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.text import slugify
from django.views.decorators.http import require_POST

from dealgate.deals.models import Deal
from dealgate.errors import DealgateError, ValidationFailed
from dealgate.pipelines.models import Criterion, CriterionKind, Phase, Pipeline, Stage, StageKind
from dealgate.pipelines.services import create_pipeline_from_template
from dealgate.pipelines.templates import TEMPLATES
from dealgate.web import criterion_forms
from dealgate.web import pipeline_settings as edits
from dealgate.web.views.common import admin_required

KIND_TITLES = {"field": "A deal field", "checklist": "A checklist item", "activity": "An activity",
               "contact_role": "A contact with a role", "approval": "An approval"}
KIND_HINTS = {
    "field": "A field on the deal must be filled in, or hold a value (e.g. amount at least 10,000).",
    "checklist": "The rep ticks an item and, if you ask for it, writes what shows it is true.",
    "activity": "A call, email or meeting must be logged, e.g. a meeting that was held in this stage.",
    "contact_role": "The deal needs contacts, or a contact with a role (e.g. a decision maker).",
    "approval": "A manager or admin must confirm something, e.g. a discount.",
}


def _templates() -> list[tuple[str, str]]:
    return [(key, spec["name"]) for key, spec in TEMPLATES.items()]


@admin_required
def settings_home(request: HttpRequest, *, status: int = 200, errors: dict | None = None,
                  message: str = "") -> HttpResponse:
    return render(request, "web/settings/home.html", {
        "pipelines": Pipeline.objects.order_by("name"), "templates": _templates(), "errors": errors or {},
        "error_message": message, "posted": request.POST if errors is not None else {},
        "company_currency": settings.DEALGATE_CURRENCY}, status=status)


@admin_required
@require_POST
def pipeline_new(request: HttpRequest) -> HttpResponse:
    p = request.POST
    try:
        pipeline = create_pipeline_from_template(str(p.get("template", "")), key=p.get("key") or None,
                                                 name=p.get("name") or None, by=request.user)
    except DealgateError as exc:
        errors = exc.details if isinstance(exc, ValidationFailed) else {}
        return settings_home.__wrapped__(request, status=exc.http_status, errors=errors, message=exc.message)
    messages.success(request, f"Created {pipeline.name} from its template. Adjust its stages and criteria below.")
    return redirect("web:settings_pipeline", key=pipeline.key)


def _stage_param(request: HttpRequest, pipeline: Pipeline) -> Stage | None:
    raw = request.GET.get("stage", "")
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
        raise Http404("No such stage.")
    return get_object_or_404(Stage, pk=int(raw), pipeline=pipeline)


def _criterion_rows(stage: Stage, error_target: int | None, error_action: str, posted: Any) -> dict[str, list]:
    rows: dict[str, list] = {"entry": [], "exit": []}
    for c in stage.criteria.order_by("phase", "position", "pk"):
        refused = error_action == "criterion" and error_target == c.pk
        config = criterion_forms.config_from_form(c.kind, posted) if refused else c.config
        rows.setdefault(c.phase, []).append({
            "c": c, "values": criterion_forms.form_values(c.kind, config),
            "label": posted.get("label", c.label) if refused else c.label, "refused": refused})
    return rows


def render_pipeline(request: HttpRequest, pipeline: Pipeline, *, stage: Stage | None = None, status: int = 200,
                    errors: dict | None = None, error_action: str = "", error_target: int | None = None,
                    message: str = "") -> HttpResponse:
    stages = list(pipeline.stages.order_by("position"))
    posted = request.POST if errors is not None or message else {}
    context: dict[str, Any] = {
        "pipeline": pipeline, "stages": stages, "phases": Phase.choices, "errors": errors or {},
        "error_action": error_action, "error_target": error_target, "error_message": message, "posted": posted,
    }
    if stage is None:
        counts = {row["stage_id"]: row["n"] for row in Deal.objects.filter(pipeline=pipeline).values("stage_id")
                  .annotate(n=Count("id"))}
        criteria = {}
        for c in Criterion.objects.filter(stage__pipeline=pipeline).values("stage_id", "phase"):
            criteria.setdefault(c["stage_id"], {"entry": 0, "exit": 0})[c["phase"]] += 1
        for s in stages:
            s.deal_count = counts.get(s.pk, 0)
            s.criteria_count = criteria.get(s.pk, {"entry": 0, "exit": 0})
        context["open_stages"] = [s for s in stages if s.kind == StageKind.OPEN]
        context["live_stages"] = [s for s in stages if s.takes_deals]
        return render(request, "web/settings/pipeline.html", context, status=status)
    index = next(i for i, s in enumerate(stages) if s.pk == stage.pk)
    adding = error_action == "criterion-add" and error_target == stage.pk
    add_kind = str(posted.get("kind", "")) if adding else ""
    context.update({
        "stage": stage, "previous": stages[index - 1] if index else None,
        "next": stages[index + 1] if index + 1 < len(stages) else None, "position": index + 1,
        "criteria": _criterion_rows(stage, error_target, error_action, posted),
        "choices": criterion_forms.choices(pipeline),
        "kinds": [(v, KIND_TITLES.get(v, label), KIND_HINTS.get(v, "")) for v, label in CriterionKind.choices],
        "add_kind": add_kind, "defaults": {kind: criterion_forms.form_values(kind, {}) for kind in CriterionKind.values},
        "other_errors": _other_errors(errors or {}, _refused_kind(stage, error_action, error_target, add_kind)),
        "add_values": criterion_forms.form_values(add_kind, criterion_forms.config_from_form(add_kind, posted))
        if adding else {},
    })
    return render(request, "web/settings/stage.html", context, status=status)


def _refused_kind(stage: Stage, action: str, target: int | None, add_kind: str) -> str:
    if action == "criterion":
        return next((c.kind for c in stage.criteria.all() if c.pk == target), "")
    return add_kind


def _other_errors(errors: dict[str, list[str]], kind: str) -> list[str]:
    """Messages no input of the refused form shows next to itself (e.g. a config that names no part)."""
    shown = {"label", "key", "phase"} | {f"config.{name}" for name in criterion_forms.KIND_INPUTS.get(kind, ())}
    has_part = any(name in shown for name in errors if name.startswith("config."))
    return [msg for name, msgs in errors.items() if name not in shown and not (name == "config" and has_part)
            for msg in msgs]


@admin_required
def pipeline_settings(request: HttpRequest, key: str) -> HttpResponse:
    pipeline = get_object_or_404(Pipeline, key=key)
    return render_pipeline(request, pipeline, stage=_stage_param(request, pipeline))


# Each action answers (what was done, the stage whose page to go back to; None: the pipeline page).
Done = tuple[str, Stage | None]


def _stage_edit(request: HttpRequest, pipeline: Pipeline, target: int) -> Done:
    stage = get_object_or_404(Stage, pk=target, pipeline=pipeline)
    p = request.POST
    edits.update_stage(stage, by=request.user, name=p.get("name"), probability=p.get("probability"),
                       rot_days=p.get("rot_days"), exit_question=p.get("exit_question"), goal=p.get("goal", ""),
                       guidance=p.get("guidance", stage.guidance))
    return f"Saved stage {stage.name}.", stage


def _stage_move(request: HttpRequest, pipeline: Pipeline, target: int) -> Done:
    stage = edits.move_stage(get_object_or_404(Stage, pk=target, pipeline=pipeline), request.POST.get("direction", ""),
                             by=request.user)
    word = {"up": "earlier", "down": "later"}.get(request.POST.get("direction", ""), "")
    return f"Moved {stage.name} {word}.", None


def _stage_add(request: HttpRequest, pipeline: Pipeline, target: int) -> Done:
    p = request.POST
    stage = edits.add_stage(pipeline, by=request.user, name=p.get("name"), probability=p.get("probability"),
                            after=p.get("after") or None)
    return f"Added the stage {stage.name}. Add what a deal needs to enter or leave it below.", stage


def _stage_remove(request: HttpRequest, pipeline: Pipeline, target: int) -> Done:
    stage = get_object_or_404(Stage, pk=target, pipeline=pipeline)
    edits.remove_stage(stage, by=request.user)
    return f"Removed the stage {stage.name}.", None


def _stage_retire(request: HttpRequest, pipeline: Pipeline, target: int) -> Done:
    stage = get_object_or_404(Stage, pk=target, pipeline=pipeline)
    p = request.POST
    stage = edits.retire_stage(stage, by=request.user, move_deals_to=p.get("move_deals_to") or None,
                               override_reason=p.get("override_reason") or None)
    moved = f" Its {stage.moved_deals} open deal{'s' if stage.moved_deals != 1 else ''} moved on." \
        if stage.moved_deals else ""
    return f"Retired the stage {stage.name}: it is off the board and the move menus, and its history stays.{moved}", None


def _stage_restore(request: HttpRequest, pipeline: Pipeline, target: int) -> Done:
    stage = edits.restore_stage(get_object_or_404(Stage, pk=target, pipeline=pipeline), by=request.user)
    # Restored from its own page: back to that page; from the pipeline's list of stages: back to the list.
    return f"Restored the stage {stage.name}: deals can be moved to it again.", stage if _from_stage_page(request) else None


def _from_stage_page(request: HttpRequest) -> bool:
    """The form was posted from a stage's own page (its hidden `back=stage`), so the answer returns there."""
    return request.POST.get("back") == "stage"


def _criterion_add(request: HttpRequest, pipeline: Pipeline, target: int) -> Done:
    stage = get_object_or_404(Stage, pk=target, pipeline=pipeline)
    p = request.POST
    kind = str(p.get("kind", ""))
    key = p.get("key") or slugify(str(p.get("label", "")))[:60]
    criterion = edits.add_criterion(stage, by=request.user, phase=p.get("phase"), key=key, label=p.get("label"),
                                    kind=kind, config=criterion_forms.config_from_form(kind, p))
    return f"Added “{criterion.label}” to {stage.name}.", stage


def _criterion_edit(request: HttpRequest, pipeline: Pipeline, target: int) -> Done:
    criterion = get_object_or_404(Criterion, pk=target, stage__pipeline=pipeline)
    edits.update_criterion(criterion, by=request.user, label=request.POST.get("label"),
                           config=criterion_forms.config_from_form(criterion.kind, request.POST))
    return f"Saved “{criterion.label}”.", criterion.stage


def _criterion_delete(request: HttpRequest, pipeline: Pipeline, target: int) -> Done:
    criterion = get_object_or_404(Criterion, pk=target, stage__pipeline=pipeline)
    stage = criterion.stage
    edits.delete_criterion(criterion, by=request.user)
    return f"Removed “{criterion.label}”.", stage


def _pipeline_edit(request: HttpRequest, pipeline: Pipeline, target: int) -> Done:
    p = request.POST
    edits.update_pipeline(pipeline, by=request.user, name=p.get("name"), business_days=bool(p.get("business_days")),
                          single_threaded_from=p.get("single_threaded_from"))
    return "Saved pipeline.", None


SETTINGS_ACTIONS: dict[str, Callable[[HttpRequest, Pipeline, int], Done]] = {
    "stage": _stage_edit, "stage-move": _stage_move, "stage-add": _stage_add, "stage-remove": _stage_remove,
    "stage-retire": _stage_retire, "stage-restore": _stage_restore,
    "criterion-add": _criterion_add, "criterion": _criterion_edit, "criterion-delete": _criterion_delete,
    "pipeline": _pipeline_edit,
}
# The actions whose refusal shows on the target's stage page (the others on the pipeline page).
ON_STAGE_PAGE = {"stage": "stage", "criterion-add": "stage", "criterion": "criterion", "criterion-delete": "criterion"}


def _refusal_stage(request: HttpRequest, pipeline: Pipeline, action: str, target: int) -> Stage | None:
    if ON_STAGE_PAGE.get(action) == "stage" or (action.startswith("stage-") and _from_stage_page(request)):
        return Stage.objects.filter(pk=target, pipeline=pipeline).first()
    if ON_STAGE_PAGE.get(action) == "criterion":
        criterion = Criterion.objects.filter(pk=target, stage__pipeline=pipeline).select_related("stage").first()
        return criterion.stage if criterion else None
    return None


@admin_required
@require_POST
def pipeline_action(request: HttpRequest, key: str, action: str, target: int = 0) -> HttpResponse:
    pipeline = get_object_or_404(Pipeline, key=key)
    handler = SETTINGS_ACTIONS.get(action)
    if handler is None:
        return HttpResponse("Unknown action.", status=404)
    try:
        done, stage = handler(request, pipeline, target)
    except DealgateError as exc:
        errors: dict[str, Any] = exc.details if isinstance(exc, ValidationFailed) else {}
        pipeline.refresh_from_db()
        return render_pipeline(request, pipeline, stage=_refusal_stage(request, pipeline, action, target),
                               status=exc.http_status, errors=errors, error_action=action,
                               error_target=target or None, message=exc.message)
    messages.success(request, done)
    url = reverse("web:settings_pipeline", args=[pipeline.key])
    return redirect(f"{url}?stage={stage.pk}" if stage is not None else url)
