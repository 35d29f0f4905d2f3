"""Pipelines with their stages and criteria (everyone reads; admins create and edit).

The edits call the same services as the Settings pages (`dealgate.web.pipeline_settings`), so the
API and the app share one write path: the services check the role, validate and write; a PATCH
here only fills in the fields the client did not send from the row as it is.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch
from ninja import Router

from dealgate.api.routers import ERRORS, WRITE_ERRORS
from dealgate.api.routers.lookups import pipeline_by_key
from dealgate.api.schemas import (
    CriterionIn,
    CriterionOut,
    CriterionUpdateIn,
    Key,
    LostReasonOut,
    PhaseName,
    PipelineCreateIn,
    PipelineOut,
    PipelineUpdateIn,
    StageCreateIn,
    StageMoveIn,
    StageOrderIn,
    StageOut,
    StageRetireIn,
    StageUpdateIn,
)
from dealgate.errors import NotAllowed, NotFound, ValidationFailed
from dealgate.people.access import role_of
from dealgate.people.models import Role
from dealgate.pipelines import services as pipeline_services
from dealgate.pipelines.models import Criterion, LostReason, Pipeline, Stage
from dealgate.web import pipeline_settings as edits

router = Router(tags=["pipelines"])
lost_reasons = Router(tags=["pipelines"])

STAGE = "/{key}/stages/{stage_key}"
CRITERION = STAGE + "/criteria/{criterion_key}"


def _with_stages(queryset):
    stages = Stage.objects.order_by("position").prefetch_related(
        Prefetch("criteria", queryset=Criterion.objects.order_by("phase", "position", "id")))
    return queryset.prefetch_related(Prefetch("stages", queryset=stages))


def _pipeline_out(pipeline: Pipeline) -> Pipeline:
    return _with_stages(Pipeline.objects.filter(pk=pipeline.pk)).get()


def _stage(key: str, stage_key: str) -> Stage:
    stage = Stage.objects.select_related("pipeline").filter(pipeline=pipeline_by_key(key), key=stage_key).first()
    if stage is None:
        raise NotFound(f"Pipeline {key!r} has no stage {stage_key!r}.", details={"pipeline": key, "stage": stage_key})
    return stage


def _criterion(key: str, stage_key: str, criterion_key: str, phase: str | None) -> Criterion:
    """A criterion key is unique per stage and phase; `phase` picks one when the stage has both."""
    stage = _stage(key, stage_key)
    found = list(stage.criteria.filter(key=criterion_key, **({"phase": phase} if phase else {})))
    if not found:
        raise NotFound(f"Stage {stage.name} has no criterion {criterion_key!r}.",
                       details={"pipeline": key, "stage": stage_key, "criterion": criterion_key})
    if len(found) > 1:
        raise ValidationFailed.for_field("phase", f"{stage.name} has an entry and an exit criterion {criterion_key!r}; "
                                                  "send ?phase=entry or ?phase=exit")
    return found[0]


def _merged(row: Any, payload: Any, fields: tuple[str, ...], nullable: tuple[str, ...] = ()) -> dict[str, Any]:
    """The service takes every field: those not sent (or sent as null where null means "no change") keep their value."""
    sent = payload.dict(exclude_unset=True)
    return {name: sent[name] if name in sent and (sent[name] is not None or name in nullable) else getattr(row, name)
            for name in fields}


@router.get("", response={200: list[PipelineOut], **ERRORS}, summary="List pipelines")
def list_pipelines(request):
    return _with_stages(Pipeline.objects.order_by("name", "id"))


@router.get("/{key}", response={200: PipelineOut, **ERRORS}, summary="Get a pipeline with stages and criteria")
def get_pipeline(request, key: Key):
    return _pipeline_out(pipeline_by_key(key))


@router.post("", response={201: PipelineOut, **WRITE_ERRORS}, summary="Create a pipeline from a template (admins)")
def create_pipeline(request, payload: PipelineCreateIn):
    if role_of(request.auth) != Role.ADMIN:
        raise NotAllowed("Only an administrator may create pipelines.")
    pipeline = pipeline_services.create_pipeline_from_template(payload.template, key=payload.key, name=payload.name,
                                                                 by=request.auth)
    return 201, _pipeline_out(pipeline)


@router.patch("/{key}", response={200: PipelineOut, **WRITE_ERRORS}, summary="Change a pipeline (admins)")
def update_pipeline(request, key: Key, payload: PipelineUpdateIn):
    pipeline = pipeline_by_key(key)
    edits.update_pipeline(pipeline, by=request.auth, **_merged(
        pipeline, payload, ("name", "business_days", "single_threaded_from"), nullable=("single_threaded_from",)))
    return _pipeline_out(pipeline)


@router.patch(STAGE, response={200: StageOut, **WRITE_ERRORS}, summary="Change a stage (admins)")
def update_stage(request, key: Key, stage_key: Key, payload: StageUpdateIn):
    stage = _stage(key, stage_key)
    edits.update_stage(stage, by=request.auth, **_merged(
        stage, payload, ("name", "probability", "rot_days", "exit_question", "goal", "guidance"), nullable=("rot_days",)))
    return stage


@router.post("/{key}/stages", response={201: StageOut, **WRITE_ERRORS}, summary="Add an open stage (admins)")
def add_stage(request, key: Key, payload: StageCreateIn):
    return 201, edits.add_stage(pipeline_by_key(key), by=request.auth, **payload.dict())


@router.delete(STAGE, response={204: None, **WRITE_ERRORS}, summary="Remove a stage no deal was ever in (admins)",
               description="Refused (422) while a deal is in the stage or its history passes through it, and for "
                           "Won and Lost; the message says how many deals.")
def remove_stage(request, key: Key, stage_key: Key):
    edits.remove_stage(_stage(key, stage_key), by=request.auth)
    return 204, None


@router.post(STAGE + "/move", response={200: PipelineOut, **WRITE_ERRORS}, summary="Reorder an open stage (admins)",
             description="Swaps the stage with its open neighbour; Won and Lost stay last (422). "
                         "Answers the pipeline in its new order.")
def move_stage(request, key: Key, stage_key: Key, payload: StageMoveIn):
    stage = _stage(key, stage_key)
    edits.move_stage(stage, payload.direction, by=request.auth)
    return _pipeline_out(stage.pipeline)


@router.post(STAGE + "/retire", response={200: StageOut, **WRITE_ERRORS}, summary="Retire a stage (admins)",
             description="Takes the stage off the board and out of moves and new deals; its history and analytics "
                         "stay. Its open deals move to `move_deals_to` through the gates, all or none (422 lists "
                         "the refused deals unless `override_reason` forces them as recorded overrides).")
def retire_stage(request, key: Key, stage_key: Key, payload: StageRetireIn):
    stage = edits.retire_stage(_stage(key, stage_key), by=request.auth, **payload.dict())
    return Stage.objects.get(pk=stage.pk)


@router.post(STAGE + "/restore", response={200: StageOut, **WRITE_ERRORS}, summary="Restore a retired stage (admins)")
def restore_stage(request, key: Key, stage_key: Key):
    return edits.restore_stage(_stage(key, stage_key), by=request.auth)


@router.put("/{key}/stage-order", response={200: PipelineOut, **WRITE_ERRORS}, summary="Reorder the open stages (admins)",
            description="Every open stage's key once, in the new order; Won, Lost and post-sale stages stay last.")
def reorder_stages(request, key: Key, payload: StageOrderIn):
    pipeline = pipeline_by_key(key)
    edits.reorder_stages(pipeline, payload.stages, by=request.auth)
    return _pipeline_out(pipeline)


@router.post(STAGE + "/criteria", response={201: CriterionOut, **WRITE_ERRORS}, summary="Add a criterion (admins)")
def add_criterion(request, key: Key, stage_key: Key, payload: CriterionIn):
    return 201, edits.add_criterion(_stage(key, stage_key), by=request.auth, **payload.dict())


@router.patch(CRITERION, response={200: CriterionOut, **WRITE_ERRORS}, summary="Change a criterion (admins)")
def update_criterion(request, key: Key, stage_key: Key, criterion_key: Key, payload: CriterionUpdateIn,
                     phase: PhaseName | None = None):
    criterion = _criterion(key, stage_key, criterion_key, phase)
    return edits.update_criterion(criterion, by=request.auth, **_merged(criterion, payload, ("label", "config")))


@router.delete(CRITERION, response={204: None, **WRITE_ERRORS}, summary="Remove a criterion (admins)")
def delete_criterion(request, key: Key, stage_key: Key, criterion_key: Key, phase: PhaseName | None = None):
    edits.delete_criterion(_criterion(key, stage_key, criterion_key, phase), by=request.auth)
    return 204, None


@lost_reasons.get("", response={200: list[LostReasonOut], **ERRORS}, summary="Lost reasons to choose from")
def list_lost_reasons(request):
    return LostReason.objects.filter(active=True).order_by("label")
