"""Pipelines with their stages and criteria (everyone reads; admins create from a template)."""

from __future__ import annotations

from django.db.models import Prefetch
from ninja import Router

from dealgate.api.routers import ERRORS, WRITE_ERRORS
from dealgate.api.routers.lookups import pipeline_by_key
from dealgate.api.schemas import Key, LostReasonOut, PipelineCreateIn, PipelineOut
from dealgate.errors import NotAllowed
from dealgate.people.access import role_of
from dealgate.people.models import Role
from dealgate.pipelines import services as pipeline_services
from dealgate.pipelines.models import Criterion, LostReason, Pipeline, Stage

router = Router(tags=["pipelines"])
lost_reasons = Router(tags=["pipelines"])


def _with_stages(queryset):
    stages = Stage.objects.order_by("position").prefetch_related(
        Prefetch("criteria", queryset=Criterion.objects.order_by("phase", "position", "id")))
    return queryset.prefetch_related(Prefetch("stages", queryset=stages))


@router.get("", response={200: list[PipelineOut], **ERRORS}, summary="List pipelines")
def list_pipelines(request):
    return _with_stages(Pipeline.objects.order_by("name", "id"))


@router.get("/{key}", response={200: PipelineOut, **ERRORS}, summary="Get a pipeline with stages and criteria")
def get_pipeline(request, key: Key):
    pipeline_by_key(key)
    return _with_stages(Pipeline.objects.filter(key=key)).get()


@router.post("", response={201: PipelineOut, **WRITE_ERRORS}, summary="Create a pipeline from a template (admins)")
def create_pipeline(request, payload: PipelineCreateIn):
    if role_of(request.auth) != Role.ADMIN:
        raise NotAllowed("Only an administrator may create pipelines.")
    pipeline = pipeline_services.create_pipeline_from_template(payload.template, key=payload.key, name=payload.name)
    return 201, _with_stages(Pipeline.objects.filter(pk=pipeline.pk)).get()


@lost_reasons.get("", response={200: list[LostReasonOut], **ERRORS}, summary="Lost reasons to choose from")
def list_lost_reasons(request):
    return LostReason.objects.filter(active=True).order_by("label")
